"""Turn OTLP metrics into metric points, one per data point, each naming its series.

A series is a metric's name, the resource's service and instance, and a bounded set of the data
point's attributes (the first `max_series_attributes` by key, so the same point always makes the
same series); `series_id` is a 64-bit hash of that identity. Points travel as they came: the
writer turns cumulative ones into deltas, and caps the series of each metric.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any

import msgspec
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AggregationTemporality,
    DataPointFlags,
    Metric,
)
from pydantic import JsonValue

from aiops_core.models import MetricKind, MetricPointFields, Temporality
from aiops_core.peers import instance_of
from aiops_ingest.attributes import INSTANCE_KEYS, AttributeReader
from aiops_ingest.normalised import Limits, Normalised, clean

NormalisedPoints = Normalised[MetricPointFields]

_MAX_NAME = 256
_MAX_UNIT = 64
_MAX_DESCRIPTION = 512
_NO_RECORDED_VALUE = DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
_TEMPORALITIES = {
    AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA: Temporality.DELTA,
    AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE: Temporality.CUMULATIVE,
}
# Sorted keys, so that one identity always hashes the same.
_IDENTITY = msgspec.json.Encoder(order="sorted")


def series_id(service: str, instance: str | None, name: str, attributes: dict[str, JsonValue]) -> int:
    """A signed 64-bit hash of a series' identity (a PostgreSQL bigint)."""
    digest = blake2b(_IDENTITY.encode([service, instance, name, attributes]), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class MetricNormaliser:
    def __init__(self, limits: Limits, *, max_series_attributes: int) -> None:
        self._limits = limits
        self._reader = AttributeReader(limits)
        self._max_series_attributes = max_series_attributes

    def from_otlp(self, request: ExportMetricsServiceRequest) -> NormalisedPoints:
        result = NormalisedPoints()
        for resource_metrics in request.resource_metrics:
            service, resource = self._reader.resource(resource_metrics.resource, INSTANCE_KEYS)
            instance = instance_of(resource)
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    self._metric(metric, service, instance, result)
        return result

    def _metric(self, metric: Metric, service: str, instance: str | None, result: NormalisedPoints) -> None:
        which = metric.WhichOneof("data")
        name = clean(metric.name, _MAX_NAME)
        if which is None or not name:
            # It has no point to refuse: counted as one, so that the client hears of it.
            result.rejected["unknown_metric_type"] += 1
            return
        data = getattr(metric, which)
        kind = MetricKind(which)
        temporality: Temporality | None = None
        monotonic = kind is not MetricKind.GAUGE
        if kind is MetricKind.SUM:
            monotonic = data.is_monotonic
        if kind is MetricKind.SUMMARY:
            temporality = Temporality.CUMULATIVE  # summaries have no temporality field: always cumulative
        elif kind is not MetricKind.GAUGE:
            temporality = _TEMPORALITIES.get(data.aggregation_temporality)
            if temporality is None:
                result.rejected["no_temporality"] += len(data.data_points)
                return
        unit, description = clean(metric.unit, _MAX_UNIT), clean(metric.description, _MAX_DESCRIPTION)
        oldest, newest = self._limits.time_window_ns()
        for point in data.data_points:
            if point.flags & _NO_RECORDED_VALUE:
                continue  # a staleness marker: the series stopped, there is no value to store
            values = _time_refusal(point.time_unix_nano, oldest, newest) or _values(kind, point)
            if isinstance(values, str):
                result.rejected[values] += 1
                continue
            attributes = self._series_attributes(point.attributes)
            result.items.append(
                {
                    "series_id": series_id(service, instance, name, attributes),
                    "service": service,
                    "instance": instance,
                    "name": name,
                    "kind": kind.value,
                    "temporality": temporality.value if temporality else None,
                    "monotonic": monotonic,
                    "unit": unit,
                    "description": description,
                    "attributes": attributes,
                    "start_time_unix_nano": point.start_time_unix_nano,
                    "time_unix_nano": point.time_unix_nano,
                    "value": values.value,
                    "count": values.count,
                    "sum": values.sum,
                    "bounds": values.bounds,
                    "bucket_counts": values.bucket_counts,
                }
            )

    def _series_attributes(self, kvs: Iterable[Any]) -> dict[str, JsonValue]:
        attributes = self._reader.attributes(kvs)
        if len(attributes) <= self._max_series_attributes:
            return attributes
        kept = sorted(attributes)[: self._max_series_attributes]
        return {key: attributes[key] for key in kept}


def _time_refusal(time_ns: int, oldest_ns: int, newest_ns: int) -> str | None:
    if time_ns == 0:
        return "missing_time"
    if time_ns < oldest_ns:
        return "too_old"
    if time_ns > newest_ns:
        return "in_future"
    return None


@dataclass(frozen=True, slots=True)
class _Values:
    value: float | None = None
    count: float | None = None
    sum: float | None = None
    bounds: list[float] | None = None
    bucket_counts: list[float] | None = None


def _values(kind: MetricKind, point: Any) -> _Values | str:
    """The point's values, or the reason it is refused."""
    if kind in (MetricKind.GAUGE, MetricKind.SUM):
        which = point.WhichOneof("value")
        if which is None:
            return "missing_value"
        value = float(getattr(point, which))
        return _Values(value=value) if math.isfinite(value) else "not_finite"
    total = point.sum if kind is MetricKind.SUMMARY or point.HasField("sum") else None
    if total is not None and not math.isfinite(total):
        return "not_finite"
    if kind is not MetricKind.HISTOGRAM:
        return _Values(count=float(point.count), sum=total)
    bounds: Sequence[float] = point.explicit_bounds
    counts: Sequence[int] = point.bucket_counts
    if counts and len(counts) != len(bounds) + 1:
        return "bucket_counts_mismatch"
    if not all(math.isfinite(bound) for bound in bounds):
        return "not_finite"
    return _Values(
        count=float(point.count), sum=total, bounds=list(bounds), bucket_counts=[float(c) for c in counts]
    )

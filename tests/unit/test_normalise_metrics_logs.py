import time

import pytest
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric, Sum, Summary, SummaryDataPoint

from aiops_ingest.normalise_logs import LogNormaliser
from aiops_ingest.normalise_metrics import MetricNormaliser, series_id
from aiops_ingest.normalised import Limits
from tests.support.otlp import (
    counter,
    gauge,
    histogram,
    log_record,
    logs_request,
    metrics_request,
    number_point,
)

NOW = time.time_ns()
metrics = MetricNormaliser(Limits(), max_series_attributes=2)
logs = LogNormaliser(Limits(), max_body_length=64)


def test_a_gauge_point_names_its_series_and_keeps_its_value() -> None:
    request = metrics_request(
        [gauge("pool.in_use", [number_point(7, NOW, attributes={"pool": "main"})], unit="{connection}")],
        service="payment",
        instance="payment-2",
    )
    [point] = metrics.from_otlp(request).items
    assert (point["service"], point["instance"], point["name"]) == ("payment", "payment-2", "pool.in_use")
    assert (point["kind"], point["temporality"], point["value"], point["unit"]) == (
        "gauge",
        None,
        7.0,
        "{connection}",
    )
    assert point["series_id"] == series_id("payment", "payment-2", "pool.in_use", {"pool": "main"})


def test_series_identity_keeps_a_bounded_set_of_attributes_in_key_order() -> None:
    attributes: dict[str, str | int | float | bool] = {
        "zone": "b",
        "method": "GET",
        "route": "/pay",
        "status": 200,
    }
    request = metrics_request([gauge("g", [number_point(1.0, NOW, attributes=attributes)])])
    [point] = metrics.from_otlp(request).items
    assert point["attributes"] == {"method": "GET", "route": "/pay"}
    reordered = dict(reversed(attributes.items()))
    [again] = metrics.from_otlp(
        metrics_request([gauge("g", [number_point(1.0, NOW, attributes=reordered)])])
    ).items
    assert again["series_id"] == point["series_id"]


def test_series_differ_by_instance_and_by_attribute_value() -> None:
    ids = {
        series_id("shop", "a", "m", {"k": "1"}),
        series_id("shop", "b", "m", {"k": "1"}),
        series_id("shop", "a", "m", {"k": "2"}),
        series_id("other", "a", "m", {"k": "1"}),
    }
    assert len(ids) == 4
    assert all(-(2**63) <= i < 2**63 for i in ids)


def test_sums_and_histograms_carry_their_temporality() -> None:
    request = metrics_request(
        [
            counter("requests", [number_point(10, NOW, start_ns=NOW - 10**9)]),
            counter("queued", [number_point(3, NOW)], cumulative=False, monotonic=False),
            histogram("latency", NOW, NOW - 10**9, [1, 2, 3], [0.1, 0.5], 1.7),
        ]
    )
    requests, queued, latency = metrics.from_otlp(request).items
    assert (requests["kind"], requests["temporality"], requests["monotonic"]) == ("sum", "cumulative", True)
    assert requests["start_time_unix_nano"] == NOW - 10**9
    assert (queued["temporality"], queued["monotonic"]) == ("delta", False)
    assert (latency["kind"], latency["count"], latency["sum"]) == ("histogram", 6.0, 1.7)
    assert (latency["bounds"], latency["bucket_counts"]) == ([0.1, 0.5], [1.0, 2.0, 3.0])


def test_a_summary_is_cumulative_count_and_sum() -> None:
    point = SummaryDataPoint(time_unix_nano=NOW, start_time_unix_nano=NOW - 1, count=4, sum=2.5)
    [summary] = metrics.from_otlp(
        metrics_request([Metric(name="s", summary=Summary(data_points=[point]))])
    ).items
    assert (summary["kind"], summary["temporality"], summary["count"], summary["sum"]) == (
        "summary",
        "cumulative",
        4.0,
        2.5,
    )


def test_bad_points_are_refused_with_reasons_and_the_rest_kept() -> None:
    request = metrics_request(
        [
            gauge("g", [number_point(1.0, NOW), number_point(float("nan"), NOW), number_point(2.0, 0)]),
            gauge("old", [number_point(1.0, NOW - 30 * 86_400 * 10**9)]),
            Metric(name="no-data"),
            Metric(name="no-temporality", sum=Sum(data_points=[number_point(1, NOW)])),
            histogram("broken", NOW, NOW - 1, [1, 2], [0.1, 0.5, 1.0], 1.0),
        ]
    )
    result = metrics.from_otlp(request)
    assert [p["value"] for p in result.items] == [1.0]
    assert result.rejected == {
        "not_finite": 1,
        "missing_time": 1,
        "too_old": 1,
        "unknown_metric_type": 1,
        "no_temporality": 1,
        "bucket_counts_mismatch": 1,
    }
    assert "not a finite number" in result.rejection_message()


def test_a_point_with_no_recorded_value_is_skipped_not_refused() -> None:
    stale = number_point(0.0, NOW)
    stale.flags = 1
    result = metrics.from_otlp(metrics_request([gauge("g", [stale])]))
    assert (result.items, result.rejected_count) == ([], 0)


def test_a_log_record_keeps_its_trace_context_and_severity() -> None:
    trace_id, span_id = bytes(range(1, 17)), bytes(range(1, 9))
    request = logs_request(
        [log_record("card declined", trace_id=trace_id, span_id=span_id, attributes={"code": 51})],
        service="payment",
        instance="payment-1",
    )
    [record] = logs.from_otlp(request).items
    assert (record["service"], record["instance"], record["body"]) == (
        "payment",
        "payment-1",
        "card declined",
    )
    assert (record["trace_id"], record["span_id"]) == (trace_id.hex(), span_id.hex())
    assert (record["severity_number"], record["severity_text"]) == (17, "ERROR")
    assert record["attributes"] == {"code": 51}


def test_a_log_record_without_time_takes_when_it_was_observed_and_zero_ids_are_none() -> None:
    record = log_record("hello", time_ns=0, trace_id=bytes(16), span_id=bytes(8))
    record.observed_time_unix_nano = NOW
    [stored] = logs.from_otlp(logs_request([record])).items
    assert stored["time_unix_nano"] == NOW
    assert (stored["trace_id"], stored["span_id"]) == (None, None)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (log_record("x", time_ns=0), "missing_time"),
        (log_record("x", trace_id=b"short"), "invalid_trace_id"),
        (log_record("x", span_id=b"short"), "invalid_span_id"),
        (log_record("x", time_ns=NOW + 7200 * 10**9), "in_future"),
    ],
)
def test_bad_log_records_are_refused_with_a_reason(record: object, reason: str) -> None:
    result = logs.from_otlp(logs_request([log_record("kept"), record]))  # type: ignore[list-item]
    assert [r["body"] for r in result.items] == ["kept"]
    assert result.rejected == {reason: 1}


def test_long_bodies_are_cut_and_structured_bodies_become_json() -> None:
    long = log_record("x" * 100)
    structured = log_record("")
    structured.body.int_value = 42
    first, second = logs.from_otlp(logs_request([long, structured])).items
    assert first["body"] == "x" * 64
    assert second["body"] == "42"

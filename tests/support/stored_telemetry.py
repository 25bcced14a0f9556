"""Log records and metric points written to the store as ingest and the writer would: built from
OTLP requests by ingest's normalisers, then written by the writers' repositories."""

from __future__ import annotations

from uuid import uuid4

import asyncpg
import msgspec
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from aiops_core.models import encode_batch
from aiops_detector.writer.batch import StoredLogBatch, StoredPointBatch
from aiops_detector.writer.log_repository import LogRecordRepository
from aiops_detector.writer.metric_repository import MetricPointRepository
from aiops_ingest.normalise_logs import LogNormaliser
from aiops_ingest.normalise_metrics import MetricNormaliser
from aiops_ingest.normalised import Limits


async def store_logs(pool: asyncpg.Pool, request: ExportLogsServiceRequest) -> None:
    records = LogNormaliser(Limits(), max_body_length=8192).from_otlp(request).items
    batch = msgspec.json.decode(encode_batch(uuid4(), 1, records=records), type=StoredLogBatch)
    assert await LogRecordRepository(pool, partitioned=True).write_batch(batch)


async def store_metrics(pool: asyncpg.Pool, request: ExportMetricsServiceRequest) -> None:
    points = (
        MetricNormaliser(Limits(max_age_s=3650 * 86_400), max_series_attributes=8).from_otlp(request).items
    )
    batch = msgspec.json.decode(encode_batch(uuid4(), 1, points=points), type=StoredPointBatch)
    assert await MetricPointRepository(pool, partitioned=True, series_limit=1000).write_batch(batch)

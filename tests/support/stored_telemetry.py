"""Log records and metric points written to the store as ingest and the writer would: built from
OTLP requests by ingest's normalisers, then written by the writers' repositories."""

from __future__ import annotations

from uuid import uuid4

import asyncpg
import msgspec
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from aiops_core.models import encode_batch
from aiops_detector.writer.batch import StoredLogBatch
from aiops_detector.writer.log_repository import LogRecordRepository
from aiops_ingest.normalise_logs import LogNormaliser
from aiops_ingest.normalised import Limits


async def store_logs(pool: asyncpg.Pool, request: ExportLogsServiceRequest) -> None:
    records = LogNormaliser(Limits(), max_body_length=8192).from_otlp(request).items
    batch = msgspec.json.decode(encode_batch(uuid4(), 1, records=records), type=StoredLogBatch)
    assert await LogRecordRepository(pool, partitioned=True).write_batch(batch)

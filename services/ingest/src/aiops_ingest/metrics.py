"""Ingest's own metrics: what it accepted and refused of each signal, and its publishing."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.spans = Counter(
            "aiops_ingest_spans", "Spans accepted and confirmed by the broker.", registry=registry
        )
        self.metric_points = Counter(
            "aiops_ingest_metric_points",
            "Metric data points accepted and confirmed by the broker.",
            registry=registry,
        )
        self.log_records = Counter(
            "aiops_ingest_log_records", "Log records accepted and confirmed by the broker.", registry=registry
        )
        self.rejected = Counter(
            "aiops_ingest_rejected",
            "Spans, metric points, log records or requests refused, by signal and reason.",
            ["signal", "reason"],
            registry=registry,
        )
        self.batches = Counter(
            "aiops_ingest_batches_published",
            "Batches published to the bus, by signal.",
            ["signal"],
            registry=registry,
        )
        self.batch_spans = Histogram(
            "aiops_ingest_batch_spans",
            "Spans per published batch.",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
            registry=registry,
        )
        self.grpc_requests = Counter(
            "aiops_ingest_grpc_requests",
            "OTLP/gRPC export calls, by signal and status code.",
            ["signal", "code"],
            registry=registry,
        )
        self.publish_seconds = Histogram(
            "aiops_ingest_publish_seconds",
            "Time from publish to broker confirm.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=registry,
        )

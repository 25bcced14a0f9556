"""The span writer's own metrics: batches by outcome, rows, commit time and lag."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class WriterMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.rows = Counter("aiops_writer_rows", "Span rows committed to the store.", registry=registry)
        self.batches = Counter(
            "aiops_writer_batches",
            "Span batches handled, by outcome: stored, duplicate (already stored, skipped), "
            "dead_lettered, retried.",
            ["outcome"],
            registry=registry,
        )
        self.commit_seconds = Histogram(
            "aiops_writer_commit_seconds",
            "Time to write and commit one batch.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.lag_seconds = Histogram(
            "aiops_writer_lag_seconds",
            "Time from ingest publishing a batch to its commit in the store.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=registry,
        )

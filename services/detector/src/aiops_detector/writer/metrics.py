"""The writers' own metrics: batches by outcome, rows, commit time and lag, per table."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class WriterMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.rows = Counter(
            "aiops_writer_rows",
            "Rows committed to the store, by table (spans, metric_points, log_records).",
            ["table"],
            registry=registry,
        )
        self.batches = Counter(
            "aiops_writer_batches",
            "Batches handled, by table and outcome: stored, duplicate (already stored, skipped), "
            "dead_lettered, retried.",
            ["table", "outcome"],
            registry=registry,
        )
        self.commit_seconds = Histogram(
            "aiops_writer_commit_seconds",
            "Time to write and commit one batch.",
            ["table"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.lag_seconds = Histogram(
            "aiops_writer_lag_seconds",
            "Time from ingest publishing a batch to its commit in the store.",
            ["table"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=registry,
        )
        self.metric_points_dropped = Counter(
            "aiops_writer_metric_points_dropped",
            "Metric points not stored, by reason: over_cardinality_cap (a new series of a metric at "
            "AIOPS_METRIC_SERIES_LIMIT), superseded (a cumulative point no later than the one before), "
            "no_reference (the first cumulative point of a series without a start time).",
            ["reason"],
            registry=registry,
        )

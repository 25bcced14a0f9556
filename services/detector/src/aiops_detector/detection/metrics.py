from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class DetectionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.batches = Counter(
            "aiops_detector_window_batches",
            "Span batches merged into the windows, by outcome: merged, duplicate (merged before), "
            "dead_lettered, retried.",
            ["outcome"],
            registry=registry,
        )
        self.series = Gauge(
            "aiops_detector_series", "Series with a request in the last 15 minutes.", registry=registry
        )
        self.anomalies = Counter(
            "aiops_detector_anomalies",
            "Anomalies opened (detected) and closed (cleared), by kind.",
            ["kind", "event"],
            registry=registry,
        )
        self.evaluation_seconds = Histogram(
            "aiops_detector_evaluation_seconds",
            "Time one evaluation of every claimed series took.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.lag_seconds = Histogram(
            "aiops_detector_window_lag_seconds",
            "Time from ingest publishing a batch to its merge into the windows.",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=registry,
        )

"""The incidents service's own Prometheus metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class IncidentMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.incidents_active = Gauge(
            "aiops_incidents_active",
            "Unresolved incidents, by severity (every replica reports the same count: use max).",
            ["severity"],
            registry=registry,
        )
        self.anomalies_detected = Counter(
            "aiops_anomalies_detected_total",
            "Anomalies received from the detectors (each once), by kind.",
            ["kind"],
            registry=registry,
        )
        self.detect_seconds = Histogram(
            "aiops_incident_detect_seconds",
            "From the start of the fault (the window its first anomaly was seen in) to the incident opening.",
            buckets=(1, 2, 5, 10, 15, 20, 30, 60, 120, 300),
            registry=registry,
        )

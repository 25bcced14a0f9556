"""Self-observability: JSON logs, Prometheus metrics, health checks."""

"""Ingest: receives OTLP/HTTP traces and simple JSON telemetry, publishes span batches."""

"""Anomaly detection: per-series windows, baselines, detectors and anomaly events."""

from __future__ import annotations

from pydantic import Field

from aiops_core.settings import CoreSettings


class DetectorSettings(CoreSettings):
    partition_ahead_days: int = Field(
        default=2, ge=1, le=60, description="Days of span partitions created ahead of time."
    )
    maintenance_interval_s: float = Field(
        default=300.0,
        ge=1,
        description="Seconds between runs of the job that creates and drops span partitions.",
    )
    compress_after_hours: int = Field(
        default=24,
        ge=1,
        description="On TimescaleDB, span chunks older than this are compressed.",
    )
    detection_enabled: bool = Field(
        default=True, description="Run the per-series windows, baselines and detectors."
    )
    multivariate_enabled: bool = Field(
        default=False,
        description="Also judge each service as a whole with an IsolationForest on rate, error ratio, "
        "p50 and p95 (off: it did not improve the live benchmark).",
    )
    evaluate_interval_s: float = Field(
        default=2.0, gt=0, le=5, description="Seconds between evaluations of every active series."
    )
    window_s: int = Field(
        default=10,
        ge=2,
        le=300,
        description="Seconds of recent requests the error and latency detectors judge.",
    )
    traffic_window_s: int = Field(
        default=5, ge=2, le=300, description="Seconds of requests the traffic drop and surge detector counts."
    )
    settle_s: int = Field(
        default=2,
        ge=0,
        le=60,
        description="Newest seconds the traffic detector leaves out at least, for spans still on their "
        "way; more for a series whose spans have been arriving later (up to 30).",
    )
    clear_after_s: float = Field(
        default=10.0, ge=0, description="Seconds a series must look normal before its anomaly clears."
    )
    min_history_s: float = Field(
        default=90.0,
        ge=0,
        le=120,
        description="Seconds of a new series' traffic, rolled up, before it can alarm (it learns first).",
    )
    baseline_history_minutes: int = Field(
        default=60, ge=2, le=1440, description="Minutes of recent rollups a baseline is learned from."
    )
    baseline_cache_s: int = Field(
        default=30, ge=1, le=3600, description="Seconds a learned baseline is cached in Redis."
    )
    rollup_interval_s: float = Field(
        default=10.0, gt=0, le=60, description="Seconds between runs of the per-minute rollup job."
    )
    rollup_retention_days: int = Field(
        default=15, ge=1, le=400, description="Days of per-minute rollups kept for seasonal baselines."
    )

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from aiops_core.settings import CoreSettings
from aiops_detector.detection.detectors import Floors
from aiops_detector.detection.floors import FloorTable, floors, parse_overrides


class DetectorSettings(CoreSettings):
    partition_ahead_days: int = Field(
        default=2,
        ge=1,
        le=60,
        description="Days of partitions (spans, metric points, log records) created ahead of time.",
    )
    maintenance_interval_s: float = Field(
        default=300.0,
        ge=1,
        description="Seconds between runs of the job that creates and drops partitions and forgets "
        "metric series no longer seen.",
    )
    compress_after_hours: int = Field(
        default=24,
        ge=1,
        description="On TimescaleDB, chunks (of spans, metric points, log records) older than this are "
        "compressed.",
    )
    detection_enabled: bool = Field(
        default=True,
        description="Run the per-series windows, baselines and detectors (false: only write telemetry).",
    )
    span_writer_enabled: bool = Field(
        default=True,
        description="Write spans, metric points and log records to the store and keep its partitions "
        "(false: only detect, so that the writer and detection run, and scale, as processes of their own).",
    )
    metric_series_limit: int = Field(
        default=2000,
        ge=1,
        le=1_000_000,
        description="Most series one metric (a service's metric name) may have; the points of any further "
        "series are dropped and counted in aiops_writer_metric_points_dropped_total.",
    )
    multivariate_enabled: bool = Field(
        default=False,
        description="Also judge each service as a whole with an IsolationForest on rate, error ratio, "
        "p50 and p95 (off: it did not improve the live benchmark).",
    )
    redis_shards: int = Field(
        default=1,
        ge=1,
        le=1024,
        description="How many hash tags the per-series windows are spread over. 1 suits a single Redis "
        "(a batch is one script call); on Redis Cluster use a few per primary, e.g. 16 for three. "
        "Changing it starts the windows afresh (about two minutes of history).",
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
        description="Seconds of healthy history (rolled up) each measure of a series learns from before "
        "it is judged against its baseline; the floors judge from the first request.",
    )
    baseline_history_minutes: int = Field(
        default=60,
        ge=1,
        le=1440,
        description="Minutes of healthy history a baseline is learned from: the latest minutes in which "
        "the series had no anomaly, reaching further back for as long as faults lasted.",
    )
    error_ratio_floor: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Share of failed requests a series may never exceed, whatever its history or the lack "
        "of one (significantly beyond it, by a binomial test: 1 failure in 3 requests is not enough); "
        "0: no floor.",
    )
    latency_floor_ms: float = Field(
        default=0.0,
        ge=0,
        description="p95 latency (ms) a series may never exceed, whatever its history: more than 5% of its "
        "requests slower than this is an anomaly; 0: no floor.",
    )
    traffic_floor_per_s: float = Field(
        default=0.0,
        ge=0,
        description="Requests a second a series may never fall below, whatever its history; 0: no floor.",
    )
    floors_by_service: str = Field(
        default="",
        description="Floors of particular services, comma-separated service:name=value entries with name "
        "error_ratio, latency_ms or traffic_per_s, e.g. payment:error_ratio=0.01,search:latency_ms=800; "
        "0 removes that floor for the service.",
    )
    saturation_horizon_s: float = Field(
        default=900.0,
        ge=10,
        le=86_400,
        description="A gauge with a known limit (a pool's size, a memory limit) forecast to reach it within "
        "this many seconds opens an anomaly of kind saturation.",
    )
    saturation_window_s: float = Field(
        default=600.0,
        ge=30,
        le=86_400,
        description="Seconds of a gauge's recent points its saturation forecast is made from.",
    )
    metric_anomalies: bool = Field(
        default=True,
        description="Judge every metric series live with the streaming scorer (anomalies of kind metric).",
    )
    metric_step_s: float = Field(
        default=10.0,
        ge=1,
        le=3600,
        description="Seconds of one step of a metric series as the live scorer judges it: a gauge's mean, "
        "a counter's rate, a histogram's mean observation over the step.",
    )
    metric_sustain_steps: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Anomalous steps in a row a metric series needs before it opens an anomaly of kind "
        "metric.",
    )
    metric_series_watched: int = Field(
        default=2000,
        ge=0,
        le=100_000,
        description="The most metric series one detector judges live (each keeps about 50 kB of history).",
    )
    watch_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="Seconds between the watches of metrics and logs: the saturation forecasts of every "
        "gauge with a known limit, the live judging of metric series and the counts of every "
        "service's error logs.",
    )
    baseline_cache_s: int = Field(
        default=30, ge=1, le=3600, description="Seconds a learned baseline is cached in Redis."
    )
    rollup_interval_s: float = Field(
        default=10.0, gt=0, le=60, description="Seconds between runs of the per-minute rollup job."
    )
    rollup_retention_days: int = Field(
        default=15,
        ge=1,
        le=400,
        description="Days of per-minute rollups kept (seasonal baselines look up to two weeks back).",
    )

    @field_validator("floors_by_service")
    @classmethod
    def _check_floors(cls, value: str) -> str:
        parse_overrides(value, Floors())
        return value

    @model_validator(mode="after")
    def _does_something(self) -> DetectorSettings:
        if not (self.span_writer_enabled or self.detection_enabled):
            raise ValueError("span_writer_enabled and detection_enabled are both false: nothing would run")
        return self

    @model_validator(mode="after")
    def _history_covers_learning(self) -> DetectorSettings:
        if self.min_history_s > self.baseline_history_minutes * 60:
            raise ValueError(
                f"min_history_s ({self.min_history_s:g}) is more than the baseline's history "
                f"(baseline_history_minutes = {self.baseline_history_minutes}): no series would ever learn"
            )
        return self

    def floor_table(self) -> FloorTable:
        default = floors(self.error_ratio_floor, self.latency_floor_ms, self.traffic_floor_per_s)
        return FloorTable(default, parse_overrides(self.floors_by_service, default))

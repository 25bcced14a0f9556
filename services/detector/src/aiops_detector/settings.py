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

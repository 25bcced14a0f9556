from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Where the shop sends its traces is OpenTelemetry's own OTEL_EXPORTER_OTLP_ENDPOINT (default
# http://localhost:4318), read by the exporter, so any collector works too.


class ShopSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIOPS_", extra="ignore", frozen=True)

    shop_payment_url: str = Field(
        default="http://127.0.0.1:8081", description="Where the frontend finds the payment service."
    )
    shop_inventory_url: str = Field(
        default="http://127.0.0.1:8082", description="Where the frontend finds the inventory service."
    )
    shop_natural_error_rate: float = Field(
        default=0.005,
        ge=0,
        le=1,
        description="Share of requests a shop service fails on its own, faults aside (realism).",
    )
    shop_downstream_timeout_s: float = Field(
        default=5.0, gt=0, le=120, description="Frontend's timeout for payment and inventory calls."
    )


class LoadGenSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIOPS_", extra="ignore", frozen=True)

    loadgen_rps: float = Field(
        default=5.0,
        gt=0,
        le=10_000,
        description="Checkouts per second the load generator (and aiops up's) sends.",
    )
    loadgen_concurrency: int = Field(
        default=64, ge=1, le=10_000, description="Most checkouts the load generator has in flight."
    )

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from aiops_core.urls import check_url

# Where the shop sends its traces, metrics and logs is OpenTelemetry's own
# OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318), read by the exporters, so any
# collector works too.


def split_urls(text: str) -> list[str]:
    """Comma-separated URLs as a list: " a/ , b ,," is ["a", "b"]."""
    return [url.strip().rstrip("/") for url in text.split(",") if url.strip()]


def _check_urls(text: str) -> str:
    urls = split_urls(text)
    if not urls:
        raise ValueError("needs at least one URL")
    for url in urls:
        check_url(url, ("http", "https"))
    return text


# One URL, or several comma-separated: the instances of one service.
Urls = Annotated[str, AfterValidator(_check_urls)]
URLS_PATTERN = r"^(\s*https?://[^,\s]+\s*(,|$))+$"


class ShopSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIOPS_", extra="ignore", frozen=True)

    shop_payment_url: Urls = Field(
        default="http://127.0.0.1:8081",
        description="Where the frontend finds the payment service: a URL, or several "
        "comma-separated (payment's instances, which the frontend calls in turn).",
        json_schema_extra={"pattern": URLS_PATTERN},
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

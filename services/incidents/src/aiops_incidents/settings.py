from __future__ import annotations

from pydantic import Field, field_validator

from aiops_core.settings import SECRET, CommaList, CoreSettings
from aiops_incidents.demo_faults.urls import parse_shop_urls


class IncidentSettings(CoreSettings):
    api_tokens: CommaList = Field(
        default_factory=list,
        description="Comma-separated API tokens, each name:secret:scope with scope read or write "
        "(write can also read); empty leaves the API open.",
        json_schema_extra=SECRET,
    )
    api_read_requires_token: bool = Field(
        default=False, description="Reads need a token too (with tokens set, writes always do)."
    )
    api_rate_limit_per_s: float = Field(
        default=50.0,
        ge=0,
        description="Requests a second each API client (token or address) may make; 0: no limit.",
    )
    api_rate_limit_burst: int = Field(
        default=200, ge=1, description="Requests an API client may make at once."
    )
    resolve_cooldown_s: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="Seconds every member anomaly must stay cleared before an incident resolves itself.",
    )
    reopen_window_s: float = Field(
        default=600.0,
        ge=0,
        le=86_400,
        description="An incident whose root cause fires again within this many seconds of resolving reopens.",
    )
    rank_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Seconds between re-rankings of the root cause of open incidents.",
    )
    graph_interval_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds between updates of the service graph from the stored spans.",
    )
    graph_window_s: float = Field(
        default=120.0,
        ge=10,
        le=3600,
        description="Seconds of recent spans the service graph's call rates cover.",
    )
    webhook_urls: CommaList = Field(
        default_factory=list,
        description="Comma-separated URLs that receive incident notifications (POST, JSON).",
        json_schema_extra=SECRET,
    )
    webhook_max_attempts: int = Field(
        default=6,
        ge=1,
        le=50,
        description="Attempts of one webhook delivery before it goes to the dead-letter queue.",
    )
    webhook_backoff_s: float = Field(
        default=1.0,
        gt=0,
        le=600,
        description="Wait before the first retry of a webhook; doubles on each retry.",
    )
    webhook_timeout_s: float = Field(
        default=5.0, gt=0, le=60, description="Seconds a webhook receiver has to answer."
    )

    demo_shop_urls: str = Field(
        default="",
        description="Where the demo shop's apps are, for the fault panel: comma-separated "
        "name=URL entries, a service or one instance of it, e.g. frontend=http://127.0.0.1:8080,"
        "payment-1=http://127.0.0.1:8081,payment-2=http://127.0.0.1:8083; inventory= also brings "
        "its database stock-db; empty: the shop apps running in the same process (aiops up), if any.",
        # The form parse_shop_urls reads, for the chart's values schema.
        json_schema_extra={"pattern": r"^(\s*[A-Za-z0-9][A-Za-z0-9_.-]*\s*=\s*https?://[^,\s]+\s*(,|$))*$"},
    )

    @field_validator("demo_shop_urls")
    @classmethod
    def _check_shop_urls(cls, value: str) -> str:
        parse_shop_urls(value)
        return value

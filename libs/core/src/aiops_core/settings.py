"""Settings shared by every service, read from `AIOPS_*` environment variables.

Each service extends `CoreSettings` with its own fields. Settings objects are built inside
the app factory (never at import), so tests and the all-in-one mode can pass their own.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, JsonValue
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from aiops_core.urls import check_url


class QueueType(StrEnum):
    QUORUM = "quorum"
    CLASSIC = "classic"


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


DatabaseUrl = Annotated[str, AfterValidator(lambda v: check_url(v, ("postgresql", "postgres")))]
BrokerUrl = Annotated[str, AfterValidator(lambda v: check_url(v, ("amqp", "amqps")))]
RedisUrl = Annotated[str, AfterValidator(lambda v: check_url(v, ("redis", "rediss", "unix")))]


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


# A field's json_schema_extra for a setting that holds a password or token: the chart and compose
# keep it in a Secret, never in plain config (see aiops_core.settings_reference).
SECRET: dict[str, JsonValue] = {"secret": True}

# A list written as one comma-separated variable: " a, b ,," is ["a", "b"]; empty is [].
# NoDecode keeps pydantic-settings from reading the variable as JSON first.
CommaList = Annotated[list[str], NoDecode, BeforeValidator(_split_commas)]


class CoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIOPS_", extra="ignore", frozen=True)

    database_url: DatabaseUrl = Field(
        default="postgresql://postgres@127.0.0.1:5432/aiops",
        description="PostgreSQL (or TimescaleDB) connection URL, libpq style: "
        "postgresql://user:password@host:port/database.",
        json_schema_extra=SECRET,
    )
    broker_url: BrokerUrl = Field(
        default="amqp://guest:guest@127.0.0.1:5672/",
        description="RabbitMQ connection URL: amqp://user:password@host:port/vhost.",
        json_schema_extra=SECRET,
    )
    redis_url: RedisUrl = Field(
        default="redis://127.0.0.1:6379/0",
        description="Redis connection URL: redis://host:port/db.",
        json_schema_extra=SECRET,
    )
    redis_cluster: bool = Field(
        default=False,
        description="The Redis URL names one node of a Redis Cluster: the platform learns the others "
        "from it and spreads its keys over the cluster (see AIOPS_REDIS_SHARDS).",
    )
    redis_key_prefix: str = Field(
        default="aiops:",
        min_length=1,
        max_length=64,
        # No braces: the platform puts hash tags of its own after the prefix (Redis Cluster).
        pattern=r"^[^{}]+$",
        description="Prefix of every Redis key the platform writes, so that several can share one Redis "
        "(no braces).",
    )
    queue_type: QueueType = Field(
        default=QueueType.QUORUM,
        description="Type of the durable work queues: quorum (replicated on a broker cluster, "
        "poison messages dead-lettered after delivery_limit attempts) or classic. Changing it for an "
        "existing queue needs the queue deleted first.",
    )
    delivery_limit: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Deliveries of one message on a quorum queue before the broker dead-letters it.",
    )
    broker_prefetch: int = Field(
        default=8,
        ge=1,
        le=1000,
        description="Unacknowledged messages a consumer holds at once (bounds memory and concurrency).",
    )
    publish_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Seconds to wait for the broker to confirm a publish before giving up.",
    )
    startup_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a service keeps retrying to reach the database at start-up before it exits.",
    )
    spans_retention_days: int = Field(
        default=7,
        ge=1,
        le=3650,
        description="Days spans are kept. Ingest refuses older spans; older partitions are dropped.",
    )
    metrics_retention_days: int = Field(
        default=15,
        ge=1,
        le=3650,
        description="Days metric points are kept. Ingest refuses older points; older partitions are dropped.",
    )
    logs_retention_days: int = Field(
        default=7,
        ge=1,
        le=3650,
        description="Days log records are kept. Ingest refuses older records; older partitions are dropped.",
    )
    migrate_on_start: bool = Field(
        default=True,
        description="Apply pending migrations when a service that uses the store starts "
        "(safe with many replicas). Turn off when a separate job migrates.",
    )
    db_pool_max_size: int = Field(default=10, ge=1, le=200, description="Most connections in the pool.")
    log_level: str = Field(
        default="INFO",
        description="Python logging level name.",
        json_schema_extra={"enum": ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]},
    )
    log_format: LogFormat = Field(default=LogFormat.JSON, description="json (one object a line) or text.")

"""The demo shop as a child process on a free block of ports: what the end-to-end tests and the
live benchmarks share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.support.processes import AiopsProcess, free_port_offset

SHOP_PORTS = (8080, 8081, 8082, 8083)  # frontend, payment, inventory, payment's second instance


@dataclass(frozen=True)
class ShopUrls:
    frontend: str
    payment: str  # payment's first instance
    inventory: str
    payment_2: str | None = None  # its second, when the shop runs one

    @property
    def payments(self) -> str:
        """Every payment instance's URL, comma-separated (as `aiops chaos --payment-url` takes)."""
        return ",".join(url for url in (self.payment, self.payment_2) if url)


def shop_process(
    env: dict[str, str], ingest_url: str, *, two_payments: bool = False, log_name: str = "shop"
) -> tuple[AiopsProcess, ShopUrls]:
    """`aiops serve shop` (the shop's apps in one process), sending its traces to `ingest_url`;
    with `two_payments`, payment runs as two instances, payment-1 and payment-2, as in `aiops up`.
    Started, not yet ready."""
    offset = free_port_offset(SHOP_PORTS)
    frontend, payment, inventory, payment_2 = (f"http://127.0.0.1:{port + offset}" for port in SHOP_PORTS)
    apps = ["shop", "shop-payment-2"] if two_payments else ["shop"]
    process = AiopsProcess(
        ["serve", *apps, "--host", "127.0.0.1", "--port-offset", str(offset)],
        env | {"OTEL_EXPORTER_OTLP_ENDPOINT": ingest_url},
        ready_url=frontend,
        log_name=f"{log_name}-{offset}",
    ).start()
    return process, ShopUrls(frontend, payment, inventory, payment_2 if two_payments else None)


def in_memory_telemetry(span_exporter: SpanExporter | None = None) -> dict[str, Any]:
    """The arguments of a shop app's `create_app` that keep every signal in memory (spans in
    `span_exporter` when given), so that an app in a test sends nothing over the network, and its
    shutdown does not wait out exports to a receiver that is not there."""
    return {
        "span_exporter": span_exporter or InMemorySpanExporter(),
        "metric_reader": InMemoryMetricReader(),
        "log_exporter": InMemoryLogRecordExporter(),
    }

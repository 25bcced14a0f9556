"""Each shop app traces itself with the real OpenTelemetry SDK under its own service name and
exports OTLP/HTTP (to ingest, by default). Its own provider, not the global one, so that the
three apps can share a process and still be three services.

Each app is also an instance (`service.instance.id`): the one its caller names (`aiops up` runs
payment twice, as payment-1 and payment-2), else the one `OTEL_RESOURCE_ATTRIBUTES` names, else
its host name and port (a pod's name, in Kubernetes).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence

import httpx
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Status, StatusCode
from prometheus_client import CollectorRegistry, Counter

log = logging.getLogger(__name__)

# Health, metrics and fault controls are not shop traffic.
_UNTRACED_URLS = "livez,readyz,health,metrics,simulate,docs,openapi.json"


class CountingExporter(SpanExporter):
    """Counts what the exporter reports as sent or failed, so a test or an operator can check
    that every exported span arrived."""

    def __init__(self, inner: SpanExporter, counter: Counter) -> None:
        self._inner = inner
        self._counter = counter
        self.sent = 0
        self.failed = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self._inner.export(spans)
        if result is SpanExportResult.SUCCESS:
            self.sent += len(spans)
            self._counter.labels("sent").inc(len(spans))
        else:
            self.failed += len(spans)
            self._counter.labels("failed").inc(len(spans))
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)


DEMO_EXPORT_DELAY_MS = 1000
SERVICE_NAMESPACE = "demo-shop"
INSTANCE_ID = "service.instance.id"


def shop_resource(service_name: str, *, instance_id: str | None = None, port: int | None = None) -> Resource:
    """The app's resource: its service name in the shop's namespace, and the instance it is:
    `instance_id` when given, else the `service.instance.id` of `OTEL_RESOURCE_ATTRIBUTES`, else
    the host name and `port` ("shop-7d9f:8081"). Never the SDK's own default, a random id per
    process, which the apps of one process would share."""
    if not instance_id:
        named = OTELResourceDetector().detect().attributes.get(INSTANCE_ID)
        host = socket.gethostname()
        instance_id = str(named) if named else (f"{host}:{port}" if port else host)
    return Resource.create(
        {"service.name": service_name, "service.namespace": SERVICE_NAMESPACE, INSTANCE_ID: instance_id}
    )


def record_failure(error: Exception) -> Exception:
    """Mark the request's span as failed with the error's message (as an instrumented app
    would), so that the trace says why, not only which status code; returns the error."""
    span = trace.get_current_span()
    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, str(error)))
    return error


class ShopTelemetry:
    def __init__(
        self,
        resource: Resource,
        registry: CollectorRegistry,
        otlp_endpoint: str | None = None,
        *,
        exporter: SpanExporter | None = None,
    ) -> None:
        """Spans go to `exporter` when given (a test's), else over OTLP/HTTP to `otlp_endpoint`."""
        self.resource = resource
        self.service_name = str(resource.attributes["service.name"])
        self.instance_id = str(resource.attributes[INSTANCE_ID])
        counter = Counter(
            "aiops_shop_spans_exported",
            "Spans this app exported over OTLP, by outcome (sent or failed).",
            ["outcome"],
            registry=registry,
        )
        # None lets the exporter read OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT itself.
        endpoint = f"{otlp_endpoint.rstrip('/')}/v1/traces" if otlp_endpoint else None
        self.exporter = CountingExporter(exporter or OTLPSpanExporter(endpoint=endpoint), counter)
        self.provider = TracerProvider(resource=resource)
        # The SDK's default is to export every 5 s; the demo exports every second so that a fault
        # shows within seconds. OpenTelemetry's own OTEL_BSP_SCHEDULE_DELAY still wins when set.
        delay_ms = None if "OTEL_BSP_SCHEDULE_DELAY" in os.environ else DEMO_EXPORT_DELAY_MS
        self.provider.add_span_processor(BatchSpanProcessor(self.exporter, schedule_delay_millis=delay_ms))

    def instrument(self, app: FastAPI) -> None:
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.provider,
            excluded_urls=_UNTRACED_URLS,
            exclude_spans=["receive", "send"],
        )

    def instrument_client(self, client: httpx.AsyncClient) -> None:
        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=self.provider)

    def shutdown(self) -> None:
        """Export what is buffered, then say how much was exported over the app's life."""
        self.provider.shutdown()
        log.info(
            "span export finished",
            extra={
                "service_name": self.service_name,
                "service_instance_id": self.instance_id,
                "spans_exported": self.exporter.sent,
                "spans_failed": self.exporter.failed,
            },
        )

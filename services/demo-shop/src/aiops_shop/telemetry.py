"""Each shop app sends the three OpenTelemetry signals with the real SDK, under its own service
name, over OTLP/HTTP (to ingest, by default): traces; metrics (its HTTP requests, its process, and
what the app adds, such as inventory's connection pool); and logs (the requests it fails, its
start-up). Its own providers, not the global ones, and its own Python logger, so that the three
apps can share a process and still be three services.

Each app is also an instance (`service.instance.id`): the one its caller names (`aiops up` runs
payment twice, as payment-1 and payment-2), else the one `OTEL_RESOURCE_ATTRIBUTES` names, else
its host name and port (a pod's name, in Kubernetes).
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler, ReadableLogRecord
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricReader,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Status, StatusCode
from prometheus_client import CollectorRegistry, Counter

from aiops_shop.process_metrics import observe_process

log = logging.getLogger(__name__)

# Health, metrics and fault controls are not shop traffic.
_UNTRACED_URLS = "livez,readyz,health,metrics,simulate,docs,openapi.json"


class ExportCount:
    """What an exporter reported as sent or failed over the app's life, also on the app's
    Prometheus counter `name`, so that a test or an operator can check that everything exported
    arrived."""

    def __init__(self, name: str, what: str, registry: CollectorRegistry) -> None:
        self._counter = Counter(
            name,
            f"{what} this app exported over OTLP, by outcome (sent or failed).",
            ["outcome"],
            registry=registry,
        )
        self.sent = 0
        self.failed = 0

    def add(self, succeeded: bool, items: int = 1) -> None:
        if succeeded:
            self.sent += items
        else:
            self.failed += items
        self._counter.labels("sent" if succeeded else "failed").inc(items)


class CountingSpanExporter(SpanExporter):
    """Counts the spans `inner` sent or failed."""

    def __init__(self, inner: SpanExporter, count: ExportCount) -> None:
        self._inner = inner
        self._count = count

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self._inner.export(spans)
        self._count.add(result is SpanExportResult.SUCCESS, len(spans))
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)


class CountingMetricExporter(MetricExporter):
    """Counts the exports `inner` sent or failed: one a collection, whatever it holds."""

    def __init__(self, inner: MetricExporter, count: ExportCount) -> None:
        # The reader asks its exporter which temporality and aggregation it wants: inner's.
        super().__init__(inner._preferred_temporality, inner._preferred_aggregation)
        self._inner = inner
        self._count = count

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        result = self._inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        self._count.add(result is MetricExportResult.SUCCESS)
        return result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._inner.shutdown(timeout_millis=timeout_millis, **kwargs)


class CountingLogExporter(LogRecordExporter):
    """Counts the log records `inner` sent or failed."""

    def __init__(self, inner: LogRecordExporter, count: ExportCount) -> None:
        self._inner = inner
        self._count = count

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        result = self._inner.export(batch)
        self._count.add(result is LogRecordExportResult.SUCCESS, len(batch))
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()  # type: ignore[no-untyped-call]  # the SDK leaves it unannotated

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)


DEMO_EXPORT_DELAY_MS = 1000
DEMO_METRIC_EXPORT_INTERVAL_MS = 5000
SERVICE_NAMESPACE = "demo-shop"
# The version every app of the shop starts as; a deploy (`POST /simulate/deploy`) replaces it.
SHOP_VERSION = "1.0.0"
VERSION = "service.version"
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
        {
            "service.name": service_name,
            "service.namespace": SERVICE_NAMESPACE,
            INSTANCE_ID: instance_id,
            VERSION: SHOP_VERSION,
        }
    )


class VersionStamp(SpanProcessor):
    """Stamps each span with the version the app runs now, when a deploy changed it: a span's own
    `service.version` wins over its resource's. A deploy of the demo changes the version of the
    running app rather than restarting it (its providers' resource cannot change)."""

    def __init__(self, version: Callable[[], str | None]) -> None:
        self._version = version

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        version = self._version()
        if version:
            span.set_attribute(VERSION, version)


def record_failure(error: Exception, log: logging.Logger) -> Exception:
    """Mark the request's span as failed with the error's message (as an instrumented app
    would), so that the trace says why, not only which status code; and log the failure on `log`,
    the app's logger, while the span is current, so that the record carries the request's trace.
    Returns the error."""
    span = trace.get_current_span()
    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, str(error)))
    # exc_info gives the exported record the error's exception.type and exception.message.
    log.error("request failed: %s", error, exc_info=error)
    return error


def demo_default(variable: str, value: float) -> float | None:
    """The demo's own `value` for one of OpenTelemetry's settings, unless its environment
    `variable` is set: None lets the SDK read the variable itself."""
    return None if variable in os.environ else value


def signal_url(otlp_endpoint: str | None, signal: str) -> str | None:
    """`{otlp_endpoint}/v1/{signal}`; None when no endpoint is given, which lets the exporter read
    OTEL_EXPORTER_OTLP_[{SIGNAL}_]ENDPOINT itself."""
    return f"{otlp_endpoint.rstrip('/')}/v1/{signal}" if otlp_endpoint else None


def app_logger_name(service_name: str, instance_id: str) -> str:
    """The name of the app's own logger, "aiops_shop.payment[payment-1]": one per instance, and in
    brackets so that no instance's logger is the parent of another's (a host name has dots)."""
    return f"aiops_shop.{service_name}[{instance_id}]"


def _tracer_provider(resource: Resource, exporter: SpanExporter) -> TracerProvider:
    provider = TracerProvider(resource=resource)
    # The SDK's default is to export every 5 s; the demo exports every second so that a fault
    # shows within seconds. OpenTelemetry's own OTEL_BSP_SCHEDULE_DELAY still wins when set.
    delay_ms = demo_default("OTEL_BSP_SCHEDULE_DELAY", DEMO_EXPORT_DELAY_MS)
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=delay_ms))
    return provider


def _otlp_metric_reader(otlp_endpoint: str | None, count: ExportCount) -> PeriodicExportingMetricReader:
    exporter = OTLPMetricExporter(endpoint=signal_url(otlp_endpoint, "metrics"))
    # The SDK's default is a collection a minute; the demo's every 5 s shows a full pool or a
    # growing process within seconds. OpenTelemetry's own OTEL_METRIC_EXPORT_INTERVAL still wins.
    interval_ms = demo_default("OTEL_METRIC_EXPORT_INTERVAL", DEMO_METRIC_EXPORT_INTERVAL_MS)
    return PeriodicExportingMetricReader(
        CountingMetricExporter(exporter, count), export_interval_millis=interval_ms
    )


def _logger_provider(resource: Resource, exporter: LogRecordExporter) -> LoggerProvider:
    provider = LoggerProvider(resource=resource)
    # The SDK's batch delay (OTEL_BLRP_SCHEDULE_DELAY, 1 s) is already the demo's.
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    return provider


def _logging_bridge(provider: LoggerProvider) -> LoggingHandler:
    """The SDK's handler from Python's logging to `provider`. The SDK deprecates it in favour of
    opentelemetry-instrumentation-logging's, which the shop does not depend on; it works, and its
    warning is nothing an operator could act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*LoggingHandler.*deprecated", category=DeprecationWarning)
        return LoggingHandler(logger_provider=provider)


class ShopTelemetry:
    def __init__(
        self,
        resource: Resource,
        registry: CollectorRegistry,
        otlp_endpoint: str | None = None,
        *,
        span_exporter: SpanExporter | None = None,
        metric_reader: MetricReader | None = None,
        log_exporter: LogRecordExporter | None = None,
    ) -> None:
        """Each signal goes where the caller says (a test's exporter or reader), else over
        OTLP/HTTP to `otlp_endpoint`."""
        self.resource = resource
        self.service_name = str(resource.attributes["service.name"])
        self.instance_id = str(resource.attributes[INSTANCE_ID])
        self.spans = ExportCount("aiops_shop_spans_exported", "Spans", registry)
        self.metric_exports = ExportCount(
            "aiops_shop_metric_exports", "Metric exports (one a collection)", registry
        )
        self.log_records = ExportCount("aiops_shop_log_records_exported", "Log records", registry)

        spans_to = span_exporter or OTLPSpanExporter(endpoint=signal_url(otlp_endpoint, "traces"))
        self.tracer_provider = _tracer_provider(resource, CountingSpanExporter(spans_to, self.spans))

        reader = metric_reader or _otlp_metric_reader(otlp_endpoint, self.metric_exports)
        self.meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        observe_process(self.meter_provider.get_meter("aiops_shop.process"))

        logs_to = log_exporter or OTLPLogExporter(endpoint=signal_url(otlp_endpoint, "logs"))
        self.logger_provider = _logger_provider(resource, CountingLogExporter(logs_to, self.log_records))
        # The app logs on its own logger, and only that logger's records are exported: not
        # another app's of the same process, nor the platform's own.
        self.log = logging.getLogger(app_logger_name(self.service_name, self.instance_id))
        self._log_handler = _logging_bridge(self.logger_provider)
        self.log.addHandler(self._log_handler)
        # Its records are the shop's telemetry, not the platform's log: under a fault they come
        # several a second, with tracebacks, and would drown the console of `aiops up`.
        self.log.propagate = False

    def instrument(self, app: FastAPI) -> None:
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            excluded_urls=_UNTRACED_URLS,
            exclude_spans=["receive", "send"],
        )

    def instrument_client(self, client: httpx.AsyncClient) -> None:
        HTTPXClientInstrumentor.instrument_client(
            client, tracer_provider=self.tracer_provider, meter_provider=self.meter_provider
        )

    def shutdown(self) -> None:
        """Export what is buffered, then say how much was exported over the app's life."""
        self.log.removeHandler(self._log_handler)
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
        self.logger_provider.shutdown()
        log.info(
            "span export finished",
            extra={
                "service_name": self.service_name,
                "service_instance_id": self.instance_id,
                "spans_exported": self.spans.sent,
                "spans_failed": self.spans.failed,
                "metric_exports_sent": self.metric_exports.sent,
                "metric_exports_failed": self.metric_exports.failed,
                "log_records_exported": self.log_records.sent,
                "log_records_failed": self.log_records.failed,
            },
        )

"""Clients that send traces and logs through the real OpenTelemetry SDK and its OTLP exporters,
remembering exactly which spans and log records the exporter reported as sent."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode


class RecordingExporter(SpanExporter):
    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.sent: list[str] = []
        self.failed = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self._inner.export(spans)
        with self._lock:
            if result is SpanExportResult.SUCCESS:
                self.sent.extend(format(span.context.span_id, "016x") for span in spans)
            else:
                self.failed += len(spans)
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class TracedClient:
    """Emits shop-like traces: frontend server span -> client span -> payment server span."""

    def __init__(self, ingest_url: str, headers: dict[str, str] | None = None) -> None:
        self.exporter = RecordingExporter(
            OTLPSpanExporter(endpoint=f"{ingest_url}/v1/traces", headers=headers)
        )
        self.provider = TracerProvider(resource=Resource.create({"service.name": "e2e-frontend"}))
        self.provider.add_span_processor(
            BatchSpanProcessor(
                self.exporter, max_queue_size=200_000, max_export_batch_size=512, schedule_delay_millis=200
            )
        )
        self.tracer = self.provider.get_tracer("e2e")

    def emit(self, traces: int, fail_every: int = 10) -> None:
        for i in range(traces):
            with (
                self.tracer.start_as_current_span(
                    "POST /checkout",
                    kind=SpanKind.SERVER,
                    attributes={
                        "http.request.method": "POST",
                        "http.route": "/checkout",
                        "http.response.status_code": 200,
                    },
                ),
                self.tracer.start_as_current_span(
                    "POST",
                    kind=SpanKind.CLIENT,
                    attributes={"http.request.method": "POST", "url.full": f"http://payment/payment/{i}"},
                ) as client,
            ):
                if i % fail_every == 0:
                    client.set_status(Status(StatusCode.ERROR, "payment declined"))

    def close(self) -> None:
        self.provider.force_flush(60_000)
        self.provider.shutdown()


class RecordingLogExporter(LogRecordExporter):
    """Remembers the body of every log record the inner exporter reported as sent."""

    def __init__(self, inner: LogRecordExporter) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.sent: list[str] = []
        self.failed = 0

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        result = self._inner.export(batch)
        with self._lock:
            if result is LogRecordExportResult.SUCCESS:
                self.sent.extend(str(record.log_record.body) for record in batch)
            else:
                self.failed += len(batch)
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class LoggingClient:
    """Emits numbered error log records through the SDK's batching processor."""

    def __init__(self, exporter: LogRecordExporter, service: str = "e2e-payment") -> None:
        self.exporter = RecordingLogExporter(exporter)
        self.provider = LoggerProvider(resource=Resource.create({"service.name": service}))
        self.provider.add_log_record_processor(
            BatchLogRecordProcessor(
                self.exporter, max_queue_size=200_000, max_export_batch_size=512, schedule_delay_millis=200
            )
        )
        self.logger = self.provider.get_logger("e2e")

    def emit(self, records: int) -> None:
        for i in range(records):
            self.logger.emit(
                severity_number=SeverityNumber.ERROR, severity_text="ERROR", body=f"payment failed #{i}"
            )

    def close(self) -> None:
        self.provider.force_flush(60_000)
        self.provider.shutdown()

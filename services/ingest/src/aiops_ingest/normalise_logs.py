"""Turn OTLP log records into the platform's log records.

A record keeps its trace and span ids, so that the logs of a failing request can be found from
its trace. Its time is when it happened or, if the sender did not say, when it was observed.
"""

from __future__ import annotations

import json

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from aiops_core.models import LogRecordFields
from aiops_core.peers import instance_of
from aiops_ingest.attributes import INSTANCE_KEYS, AttributeReader
from aiops_ingest.normalised import Limits, Normalised, clean

NormalisedLogs = Normalised[LogRecordFields]

# All-zero ids mean "none" (the OTLP specification), as do empty ones.
_NO_TRACE_ID = bytes(16)
_NO_SPAN_ID = bytes(8)
_MAX_SEVERITY_TEXT = 32
_MAX_SEVERITY = 24  # FATAL4, the highest SeverityNumber


class LogNormaliser:
    def __init__(self, limits: Limits, *, max_body_length: int) -> None:
        self._limits = limits
        self._reader = AttributeReader(limits)
        self._max_body_length = max_body_length

    def from_otlp(self, request: ExportLogsServiceRequest) -> NormalisedLogs:
        result = NormalisedLogs()
        oldest, newest = self._limits.time_window_ns()
        for resource_logs in request.resource_logs:
            service, resource = self._reader.resource(resource_logs.resource, INSTANCE_KEYS)
            instance = instance_of(resource)
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    fields = self._record(record, service, instance, oldest, newest)
                    if isinstance(fields, str):
                        result.rejected[fields] += 1
                    else:
                        result.items.append(fields)
        return result

    def _record(
        self, record: LogRecord, service: str, instance: str | None, oldest_ns: int, newest_ns: int
    ) -> LogRecordFields | str:
        """The record, or the reason it is refused."""
        time_ns = record.time_unix_nano or record.observed_time_unix_nano
        trace_id, span_id = record.trace_id, record.span_id
        if time_ns == 0:
            return "missing_time"
        if time_ns < oldest_ns:
            return "too_old"
        if time_ns > newest_ns:
            return "in_future"
        if trace_id and len(trace_id) != 16:
            return "invalid_trace_id"
        if span_id and len(span_id) != 8:
            return "invalid_span_id"
        return {
            "service": service,
            "instance": instance,
            "time_unix_nano": time_ns,
            "severity_number": min(max(record.severity_number, 0), _MAX_SEVERITY),
            "severity_text": clean(record.severity_text, _MAX_SEVERITY_TEXT),
            "body": self._body(record),
            "trace_id": trace_id.hex() if trace_id and trace_id != _NO_TRACE_ID else None,
            "span_id": span_id.hex() if span_id and span_id != _NO_SPAN_ID else None,
            "attributes": self._reader.attributes(record.attributes),
        }

    def _body(self, record: LogRecord) -> str:
        """The body as text: a string as it is, anything else (a map, a list) as JSON."""
        body = record.body
        if body.WhichOneof("value") == "string_value":
            return clean(body.string_value, self._max_body_length)
        value = self._reader.value(body)
        text = "" if value is None else value if isinstance(value, str) else json.dumps(value)
        return clean(text, self._max_body_length)

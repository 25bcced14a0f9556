"""The ingest API's own request and response bodies (OTLP's are protobuf messages)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import from_json

from aiops_core.errors import BadRequestError, validation_error
from aiops_core.validation import IsoDatetimeUtcByDefault

MAX_RECORDS_PER_REQUEST = 10_000
_HEX32 = "[0-9a-fA-F]{32}"
_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# What the validator below accepts, for the schema (pydantic's own regexes have no look-ahead):
# an all-zero trace id is no trace id.
TRACE_ID_PATTERN = rf"^(?!0{{32}}$)(?!0{{8}}-0{{4}}-0{{4}}-0{{4}}-0{{12}}$)(?:{_HEX32}|{_UUID})$"


def _a_number(value: object) -> object:
    # What the schema calls a number: `true` or "502" is refused rather than converted (pydantic
    # would), while 502.0 is the integer JSON Schema says it is.
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number")
    return value


JsonInteger = Annotated[int, BeforeValidator(_a_number)]
JsonNumber = Annotated[float, BeforeValidator(_a_number)]


def _now() -> datetime:
    return datetime.now(UTC)


class TelemetryRecord(BaseModel):
    """One HTTP request as a service saw it; stored as a server span."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "service_name": "payment",
                    "endpoint": "/payment/42",
                    "method": "POST",
                    "status_code": 502,
                    "latency_ms": 812.5,
                    "error_message": "card processor timed out",
                    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                    "timestamp": "2026-11-27T12:00:00Z",
                }
            ]
        },
    )

    service_name: str = Field(min_length=1, max_length=256)
    endpoint: str = Field(min_length=1, max_length=2048, description="Path; ids are templated.")
    method: str = Field(default="GET", min_length=1, max_length=16, pattern=r"^[A-Za-z]+$")
    status_code: JsonInteger = Field(ge=100, le=599)
    latency_ms: JsonNumber = Field(ge=0, le=86_400_000)
    error_message: str | None = Field(
        default=None, max_length=4096, description="Set for a failed request; marks it an error."
    )
    trace_id: Annotated[str, WithJsonSchema({"type": "string", "pattern": TRACE_ID_PATTERN})] | None = Field(
        default=None,
        description="32 hex digits (a UUID is accepted too), not all zero; a new trace id when absent.",
    )
    timestamp: IsoDatetimeUtcByDefault = Field(
        default_factory=_now, description="When the request started; UTC when no offset is given."
    )

    @field_validator("trace_id")
    @classmethod
    def _normalise_trace_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = value.replace("-", "").lower()
        if len(digits) != 32 or any(c not in "0123456789abcdef" for c in digits) or set(digits) == {"0"}:
            raise ValueError("must be 32 hex digits (or a UUID), not all zero")
        return digits


class TelemetryAccepted(BaseModel):
    accepted: int = Field(description="Records stored (confirmed by the broker).")
    rejected: int = Field(default=0, description="Records refused, with the reasons in `message`.")
    message: str | None = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"accepted": 2, "rejected": 0}]})


TelemetryRecords = Annotated[list[TelemetryRecord], Field(min_length=1, max_length=MAX_RECORDS_PER_REQUEST)]
_ONE = TypeAdapter(TelemetryRecord)
_MANY: TypeAdapter[list[TelemetryRecord]] = TypeAdapter(TelemetryRecords)

# The request body's schema for the OpenAPI document: one record or a list of them. The
# record's schema is written out in both places: a `$ref` here would point into a document
# FastAPI does not know about.
_RECORD_SCHEMA = _ONE.json_schema()
TELEMETRY_BODY_SCHEMA = {
    "anyOf": [
        _RECORD_SCHEMA,
        {"type": "array", "items": _RECORD_SCHEMA, "minItems": 1, "maxItems": MAX_RECORDS_PER_REQUEST},
    ]
}


def parse_telemetry_body(raw: bytes) -> list[TelemetryRecord]:
    """One record or a list of them. Parsed by hand rather than as a union so that an error
    names the field as the client wrote it (`body.0.status_code`)."""
    try:
        document = from_json(raw)
    except ValueError as exc:
        raise BadRequestError(f"body is not valid JSON: {exc}") from exc
    try:
        if isinstance(document, list):
            return _MANY.validate_python(document)
        return [_ONE.validate_python(document)]
    except ValidationError as exc:
        raise validation_error(
            [{**err, "loc": ("body", *err["loc"])} for err in exc.errors(include_url=False)]
        ) from exc

"""The pydantic models of the fault panel's API."""

from __future__ import annotations

from pydantic import BaseModel, Field

MAX_LATENCY_MS = 60_000


class ServiceFaults(BaseModel):
    """The faults one of the demo shop's apps injects now."""

    service: str = Field(description="The service name its spans carry, e.g. payment.")
    error_rate: float | None = Field(
        ge=0, le=1, description="Share of requests it fails on purpose, 0 to 1; null when unreachable."
    )
    latency_ms: float | None = Field(
        ge=0, description="Delay it adds to every request, in milliseconds; null when unreachable."
    )
    reachable: bool = Field(description="Whether it answered.")

    model_config = {
        "json_schema_extra": {
            "examples": [{"service": "payment", "error_rate": 0.5, "latency_ms": 0.0, "reachable": True}]
        }
    }


class FaultPanel(BaseModel):
    services: list[ServiceFaults] = Field(description="Every configured app, by service name.")


class FaultsIn(BaseModel):
    """The faults an app is to inject from now on (both are set; 0 turns one off)."""

    error_rate: float = Field(ge=0, le=1, description="Share of requests to fail, 0 to 1.", examples=[0.5])
    latency_ms: float = Field(
        ge=0, le=MAX_LATENCY_MS, description="Delay to add to every request, in milliseconds.", examples=[0]
    )

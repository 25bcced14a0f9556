"""The pydantic models of the fault panel's API."""

from __future__ import annotations

from pydantic import BaseModel, Field

MAX_LATENCY_MS = 60_000


class ServiceFaults(BaseModel):
    """The faults one entry of the fault panel injects now: an app of the demo shop, or inventory's
    database stock-db."""

    service: str = Field(
        description="The entry's name: a service (payment), one instance of a service that runs "
        "several (payment-2, its service.instance.id) or a database a service calls (stock-db)."
    )
    node: str = Field(
        description="What the platform shows for it: the service, for an instance its service, for "
        "stock-db the name the platform gives it from its callers' spans (postgresql stock-db). "
        "Its series are at /aiops/services/{node}/series.",
        examples=["payment", "postgresql stock-db"],
    )
    error_rate: float | None = Field(
        ge=0, le=1, description="Share of requests it fails on purpose, 0 to 1; null when unreachable."
    )
    latency_ms: float | None = Field(
        ge=0, description="Delay it adds to every request, in milliseconds; null when unreachable."
    )
    reachable: bool = Field(description="Whether it answered.")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "service": "payment-2",
                    "node": "payment",
                    "error_rate": 0.5,
                    "latency_ms": 0.0,
                    "reachable": True,
                },
                {
                    "service": "stock-db",
                    "node": "postgresql stock-db",
                    "error_rate": 0.0,
                    "latency_ms": 300.0,
                    "reachable": True,
                },
            ]
        }
    }


class FaultPanel(BaseModel):
    services: list[ServiceFaults] = Field(
        description="Every entry, by name: each configured app (by its service, or by its instance "
        "when a service runs several), and stock-db when inventory is configured."
    )


class FaultsIn(BaseModel):
    """The faults an entry is to inject from now on (both are set; 0 turns one off)."""

    error_rate: float = Field(ge=0, le=1, description="Share of requests to fail, 0 to 1.", examples=[0.5])
    latency_ms: float = Field(
        ge=0, le=MAX_LATENCY_MS, description="Delay to add to every request, in milliseconds.", examples=[0]
    )

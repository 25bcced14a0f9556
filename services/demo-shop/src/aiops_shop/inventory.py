"""Inventory: how many of a product are in stock, read from its PostgreSQL database, stock-db.
Fast and reliable, usually.

stock-db is simulated: no database runs, but inventory traces each query as an instrumented
PostgreSQL client would (a CLIENT span with the database conventions: `db.system`,
`server.address`, ...) and takes the database's time inside it. Nothing answers those spans with a
server span of its own, as with any database: the platform has to infer the node
("postgresql stock-db") from the calls. The database has its own fault controls, under
`/simulate/stock-db`; inventory's `/simulate/reset` resets them too.

Inventory reaches stock-db through a bounded pool of connections, as a real client does: when
stock-db is slow enough, queries wait for a connection (for 2 s at most, then fail), and the
pool's metrics (`db.client.connection.*`) show it full. `/simulate/leak` makes the pool leak
connections: its in-use gauge climbs toward its size while requests still succeed, then they fail.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from pydantic import BaseModel, Field

from aiops_core.app import ServiceSpec, Shared
from aiops_shop.common import CONTROLS, ShopBehaviour, ShopLog, create_shop_app, fault_router
from aiops_shop.faults import Behaviour, InjectedFailureError
from aiops_shop.pool import ConnectionPool, PoolExhaustedError, observe_pool
from aiops_shop.settings import ShopSettings
from aiops_shop.telemetry import ShopTelemetry, record_failure

NAME = "shop-inventory"
SKU_PATTERN = r"^[A-Za-z0-9-]{1,32}$"

STOCK_DB = "stock-db"
STOCK_DB_CONTROLS = f"{CONTROLS}/{STOCK_DB}"  # the database's fault controls, on inventory's app
STOCK_DB_PORT = 5432
STOCK_QUERY = "SELECT available FROM stock WHERE sku = $1"
# The attributes of every stock query's span, by OpenTelemetry's database conventions.
STOCK_QUERY_ATTRIBUTES: Mapping[str, str | int] = {
    "db.system": "postgresql",
    "db.namespace": "stock",
    "db.operation.name": "SELECT",
    "db.collection.name": "stock",
    "db.query.text": STOCK_QUERY,
    "server.address": STOCK_DB,
    "server.port": STOCK_DB_PORT,
}
STOCK_QUERY_SPAN = "SELECT stock"
# The conventions' name for a pool that has none: server.address:server.port/db.namespace.
STOCK_DB_POOL = f"{STOCK_DB}:{STOCK_DB_PORT}/stock"
# Never full at the load generator's default rate (5 checkouts a second, a query of about 2 ms:
# about 0.01 connection in use on average), nor with chaos's slow database (300 ms more: about
# 1.5, and about 6 at the 20 a second of the end-to-end tests); a heavier load or a far slower
# stock-db fills it, and then queries wait, as behind a real pool.
STOCK_DB_POOL_SIZE = 10


class Stock(BaseModel):
    sku: str
    available: int


class LeakState(BaseModel):
    per_minute: float = Field(description="Connections leaked a minute; 0: no leak.")
    leaked: int = Field(description="Connections leaked and not given back.")
    used: int = Field(description="Connections in use, the leaked ones included.")
    size: int = Field(description="The pool's size.")
    first_exhausted_at: datetime | None = Field(
        description="When a query first found no connection since the leak began: its first failure."
    )

    @classmethod
    def of(cls, pool: ConnectionPool) -> LeakState:
        return cls(
            per_minute=pool.leak_per_minute,
            leaked=pool.leaked,
            used=pool.used,
            size=pool.size,
            first_exhausted_at=pool.first_exhausted_at,
        )


class StockDatabase:
    """stock-db as inventory sees it: a query holds one of the pool's connections, takes the
    database's time inside a CLIENT span, and fails (the span, then the request, logged on `log`)
    when the database's behaviour says so."""

    def __init__(
        self, behaviour: Behaviour, tracer: Tracer, pool: ConnectionPool, log: logging.Logger
    ) -> None:
        self.behaviour = behaviour
        self.pool = pool
        self._tracer = tracer
        self._log = log

    async def available(self, sku: str) -> int:
        # Waiting for a connection is not the query's time: a traced client's span starts once it
        # holds one.
        try:
            async with self.pool.connection():
                failed = await self._query()
        except PoolExhaustedError as exc:
            raise record_failure(InjectedFailureError(str(exc)), self._log) from exc
        if failed:
            # Outside the query's span: the request's own span says why it failed.
            raise record_failure(InjectedFailureError(self.behaviour.failure_message), self._log)
        # Stable per product, so the same SKU always reports the same stock.
        return 10 + zlib.crc32(sku.encode()) % 90

    async def _query(self) -> bool:
        """Run the stock query in its span; whether it failed."""
        with self._tracer.start_as_current_span(
            STOCK_QUERY_SPAN,
            kind=SpanKind.CLIENT,
            attributes=STOCK_QUERY_ATTRIBUTES,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            await asyncio.sleep(self.behaviour.latency_s())
            if not self.behaviour.fails():
                return False
            lost = ConnectionResetError(self.behaviour.failure_message)
            span.record_exception(lost)
            span.set_attribute("error.type", type(lost).__name__)
            span.set_status(Status(StatusCode.ERROR, self.behaviour.failure_message))
            return True


def get_stock_db(request: Request) -> StockDatabase:
    stock_db: StockDatabase = request.state.stock_db
    return stock_db


def get_stock_db_behaviour(request: Request) -> Behaviour:
    return get_stock_db(request).behaviour


StockDb = Annotated[StockDatabase, Depends(get_stock_db)]


def create_app(
    settings: ShopSettings | None = None,
    shared: Shared | None = None,
    *,
    instance_id: str | None = None,
    span_exporter: SpanExporter | None = None,
    metric_reader: MetricReader | None = None,
    log_exporter: LogRecordExporter | None = None,
) -> FastAPI:
    settings = settings or ShopSettings()
    router = APIRouter(tags=["inventory"])
    database = Behaviour(
        median_latency_ms=2,
        failure_message=f"{STOCK_DB}: connection reset",
        natural_error_rate=settings.shop_natural_error_rate / 50,
    )

    @router.get("/inventory/{sku}", summary="Units of a product in stock")
    async def stock(
        sku: Annotated[str, Path(pattern=SKU_PATTERN)],
        behaviour: ShopBehaviour,
        stock_db: StockDb,
        log: ShopLog,
    ) -> Stock:
        await behaviour.perform(log)
        return Stock(sku=sku, available=await stock_db.available(sku))

    leak = APIRouter(prefix=f"{CONTROLS}/leak", tags=["fault injection"])

    @leak.get("", summary="The pool of stock-db connections, and what leaks from it")
    async def leaking(stock_db: StockDb) -> LeakState:
        return LeakState.of(stock_db.pool)

    @leak.post(
        "",
        summary="Leak connections from the stock-db pool: a few a minute, never given back",
        description="Until the pool runs dry, requests are served as usual while its in-use gauge "
        "climbs toward its size; then every query times out and fails. 0, or /simulate/reset, "
        "stops the leak and gives the connections back.",
    )
    async def start_leaking(
        stock_db: StockDb, per_minute: Annotated[float, Query(ge=0, le=600)]
    ) -> LeakState:
        stock_db.pool.leak(per_minute)
        return LeakState.of(stock_db.pool)

    behaviour = Behaviour(
        # With stock-db's 2 ms, about the 8 ms inventory took before it had a database.
        median_latency_ms=6,
        failure_message="inventory stock lookup failed",
        natural_error_rate=settings.shop_natural_error_rate / 2,
        owned=(database,),
    )

    @asynccontextmanager
    async def lifespan(telemetry: ShopTelemetry) -> AsyncIterator[dict[str, StockDatabase]]:
        pool = ConnectionPool(STOCK_DB_POOL, STOCK_DB_POOL_SIZE)
        behaviour.also_reset.append(pool.mend)
        observe_pool(telemetry.meter_provider.get_meter(__name__), pool)
        telemetry.log.info("%s reached through a pool of %d connections", STOCK_DB, pool.size)
        tracer = telemetry.tracer_provider.get_tracer(__name__)
        try:
            yield {"stock_db": StockDatabase(database, tracer, pool, telemetry.log)}
        finally:
            pool.mend()

    return create_shop_app(
        service_name="inventory",
        spec_name=NAME,
        title="Demo shop: inventory",
        description="Stock levels for the demo shop, read from its database stock-db. Fault "
        "injection under /simulate, and the database's under /simulate/stock-db.",
        behaviour=behaviour,
        routers=[router, leak, fault_router(STOCK_DB_CONTROLS, get_stock_db_behaviour, of=STOCK_DB)],
        shared=shared or Shared(),
        lifespan=lifespan,
        instance_id=instance_id,
        span_exporter=span_exporter,
        metric_reader=metric_reader,
        log_exporter=log_exporter,
    )


SERVICE = ServiceSpec(
    name=NAME,
    default_port=8082,
    summary="demo shop: inventory (GET /inventory/{sku}), with its database stock-db",
    build=lambda shared: create_app(shared=shared),
    order=40,
)

"""The shop's metrics and logs, beside its traces: each app sends its HTTP request metrics,
inventory's connection pool beside its limit, and its process's CPU, memory and memory limit,
under its own resource; it logs every request it fails, with the request's trace, on a logger of
its own that no other app of the process shares. The apps in process, their telemetry caught in
memory."""

from __future__ import annotations

import asyncio
import logging
import math
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    HistogramDataPoint,
    InMemoryMetricReader,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from aiops_shop import frontend, inventory, payment
from aiops_shop.pool import ConnectionPool, observe_pool
from aiops_shop.process_metrics import memory_limit_bytes, resident_bytes
from aiops_shop.settings import ShopSettings
from aiops_shop.telemetry import CountingMetricExporter, ExportCount, demo_default, signal_url
from tests.support.apps import running, started

CALM = ShopSettings(
    shop_natural_error_rate=0, shop_payment_url="http://payment", shop_inventory_url="http://inventory"
)
POOL = "stock-db:5432/stock"


@dataclass
class Caught:
    """What one app sent, caught in memory."""

    spans: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    metrics: InMemoryMetricReader = field(default_factory=InMemoryMetricReader)
    logs: InMemoryLogRecordExporter = field(default_factory=InMemoryLogRecordExporter)

    def sinks(self) -> dict[str, Any]:
        return {"span_exporter": self.spans, "metric_reader": self.metrics, "log_exporter": self.logs}

    def collect(self) -> tuple[dict[str, Any], dict[str, Metric]]:
        """The one resource every metric of the app carries, and the metrics, by name."""
        data = self.metrics.get_metrics_data()
        assert isinstance(data, MetricsData)
        [resource_metrics] = data.resource_metrics
        metrics = {
            metric.name: metric for scope in resource_metrics.scope_metrics for metric in scope.metrics
        }
        return dict(resource_metrics.resource.attributes), metrics

    def errors(self) -> list[ReadableLogRecord]:
        return [
            record for record in self.logs.get_finished_logs() if record.log_record.severity_text == "ERROR"
        ]

    def server_span(self, name: str) -> ReadableSpan:
        [span] = [span for span in self.spans.get_finished_spans() if span.name == name]
        return span


def values(metric: Metric) -> dict[frozenset[tuple[str, Any]], Any]:
    """A metric's points, by their attributes: a histogram's count of measurements, else the value."""
    return {frozenset((point.attributes or {}).items()): measured(point) for point in metric.data.data_points}


def measured(point: Any) -> Any:
    return point.count if isinstance(point, HistogramDataPoint) else point.value


def requests_by_target(metric: Metric) -> dict[tuple[str, int], int]:
    """An HTTP server duration histogram's request counts by (route, status code)."""
    return {
        (str(dict(attributes)["http.target"]), int(str(dict(attributes)["http.status_code"]))): count
        for attributes, count in values(metric).items()
    }


class ByHost(httpx.AsyncBaseTransport):
    """Each request to the app of its host, in process."""

    def __init__(self, apps: dict[str, Any]) -> None:
        self._transports = {host: httpx.ASGITransport(app=app) for host, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._transports[request.url.host].handle_async_request(request)


@dataclass
class Shop:
    client: httpx.AsyncClient  # the frontend's
    payment: httpx.AsyncClient  # payment's own, for its fault controls
    caught: dict[str, Caught]


@asynccontextmanager
async def shop() -> AsyncIterator[Shop]:
    """frontend, payment and inventory in one process, each sending to its own `Caught`; when it
    stops, every app has flushed its spans and logs."""
    caught = {name: Caught() for name in ("frontend", "payment", "inventory")}
    async with AsyncExitStack() as stack:
        apps = {
            "payment": await stack.enter_async_context(
                started(payment.create_app(CALM, instance_id="payment-1", **caught["payment"].sinks()))
            ),
            "inventory": await stack.enter_async_context(
                started(inventory.create_app(CALM, instance_id="inventory-1", **caught["inventory"].sinks()))
            ),
        }
        transport = ByHost(apps)
        shop_app = frontend.create_app(
            CALM, instance_id="frontend-1", transport=transport, **caught["frontend"].sinks()
        )
        client = await stack.enter_async_context(running(shop_app))
        payment_client = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://payment")
        )
        yield Shop(client, payment_client, caught)


async def checkout(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/checkout", json={"sku": "SKU-7", "quantity": 1})


# --- metrics ----------------------------------------------------------------------------------


async def test_each_app_sends_its_request_metrics_under_its_own_resource() -> None:
    async with shop() as running_shop:
        for _ in range(3):
            assert (await checkout(running_shop.client)).status_code == 200
        collected = {name: caught.collect() for name, caught in running_shop.caught.items()}
    resources = {name: resource for name, (resource, _) in collected.items()}
    metrics = {name: app_metrics for name, (_, app_metrics) in collected.items()}

    assert {name: (r["service.name"], r["service.instance.id"]) for name, r in resources.items()} == {
        "frontend": ("frontend", "frontend-1"),
        "payment": ("payment", "payment-1"),
        "inventory": ("inventory", "inventory-1"),
    }
    assert requests_by_target(metrics["frontend"]["http.server.duration"]) == {("/checkout", 200): 3}
    assert requests_by_target(metrics["payment"]["http.server.duration"]) == {("/payment", 200): 3}
    assert requests_by_target(metrics["inventory"]["http.server.duration"]) == {("/inventory/{sku}", 200): 3}
    # The frontend's calls, from its instrumented client: GET inventory, POST payment.
    client_calls = {
        (dict(attributes)["http.method"], dict(attributes)["http.status_code"]): count
        for attributes, count in values(metrics["frontend"]["http.client.duration"]).items()
    }
    assert client_calls == {("GET", 200): 3, ("POST", 200): 3}
    # Only inventory has a database.
    assert "db.client.connection.count" not in metrics["payment"]


async def test_inventory_reports_its_pool_beside_its_limit_and_every_app_its_process() -> None:
    async with shop() as running_shop:
        assert (await checkout(running_shop.client)).status_code == 200
        metrics = {name: caught.collect()[1] for name, caught in running_shop.caught.items()}

    pool = metrics["inventory"]
    assert values(pool["db.client.connection.count"]) == {
        frozenset({("db.client.connection.pool.name", POOL), ("db.client.connection.state", "used")}): 0,
        frozenset({("db.client.connection.pool.name", POOL), ("db.client.connection.state", "idle")}): 10,
    }
    assert values(pool["db.client.connection.max"]) == {
        frozenset({("db.client.connection.pool.name", POOL)}): 10
    }
    assert (pool["db.client.connection.max"].unit, pool["db.client.connection.count"].unit) == (
        "{connection}",
        "{connection}",
    )
    for name, app_metrics in metrics.items():
        cpu = values(app_metrics["process.cpu.time"])
        assert set(cpu) == {frozenset({("cpu.mode", "user")}), frozenset({("cpu.mode", "system")})}, name
        assert cpu[frozenset({("cpu.mode", "user")})] > 0
        [memory] = values(app_metrics["process.memory.usage"]).values()
        [limit] = values(app_metrics["process.memory.limit"]).values()
        assert 0 < memory < limit, name
        assert limit == memory_limit_bytes()
        assert (app_metrics["process.memory.usage"].unit, app_metrics["process.cpu.time"].unit) == ("By", "s")


def pool_state(reader: InMemoryMetricReader) -> tuple[int, int, int, int]:
    """(used, idle, max, waiting) as the pool's metrics say."""
    data = reader.get_metrics_data()
    assert data is not None
    metrics = {m.name: values(m) for rm in data.resource_metrics for s in rm.scope_metrics for m in s.metrics}
    named = ("db.client.connection.pool.name", POOL)
    count = metrics["db.client.connection.count"]
    return (
        count[frozenset({named, ("db.client.connection.state", "used")})],
        count[frozenset({named, ("db.client.connection.state", "idle")})],
        metrics["db.client.connection.max"][frozenset({named})],
        metrics["db.client.connection.pending_requests"][frozenset({named})],
    )


async def test_a_full_pool_makes_queries_wait_and_says_so() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    pool = ConnectionPool(POOL, size=1)
    observe_pool(provider.get_meter("test"), pool)
    release = asyncio.Event()
    order: list[str] = []

    async def query(name: str) -> None:
        async with pool.connection():
            order.append(name)
            await release.wait()

    first = asyncio.create_task(query("first"))
    second = asyncio.create_task(query("second"))
    # One turn of the loop: the first takes the one connection, the second waits for it.
    await asyncio.sleep(0)
    assert order == ["first"]
    assert pool_state(reader) == (1, 0, 1, 1)
    release.set()
    await asyncio.gather(first, second)
    assert order == ["first", "second"]
    assert pool_state(reader) == (0, 1, 1, 0)
    provider.shutdown()


# --- logs -------------------------------------------------------------------------------------


async def test_a_failed_request_is_logged_with_its_trace_by_the_app_that_failed_it_and_its_caller() -> None:
    async with shop() as running_shop:
        injected = await running_shop.payment.post("/simulate/error", params={"rate": 1})
        assert injected.status_code == 200
        assert (await checkout(running_shop.client)).status_code == 502
    caught = running_shop.caught

    [payment_error] = caught["payment"].errors()
    charge = caught["payment"].server_span("POST /payment")
    assert payment_error.log_record.body == "request failed: card processor timed out"
    assert (payment_error.log_record.trace_id, payment_error.log_record.span_id) == (
        charge.context.trace_id,
        charge.context.span_id,
    )
    assert dict(payment_error.log_record.attributes or {})["exception.type"] == "InjectedFailureError"
    assert payment_error.resource.attributes["service.name"] == "payment"

    # The frontend logs the same failure, as it saw it, in the same trace.
    [frontend_error] = caught["frontend"].errors()
    order = caught["frontend"].server_span("POST /checkout")
    assert frontend_error.log_record.body == "request failed: payment answered 500"
    assert (frontend_error.log_record.trace_id, frontend_error.log_record.span_id) == (
        order.context.trace_id,
        order.context.span_id,
    )
    assert order.context.trace_id == charge.context.trace_id
    assert caught["inventory"].errors() == []


async def test_apps_sharing_a_process_do_not_receive_each_other_s_log_records(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    first, second = Caught(), Caught()
    async with (
        running(payment.create_app(CALM, instance_id="payment-1", **first.sinks())) as payment_1,
        running(payment.create_app(CALM, instance_id="payment-2", **second.sinks())) as payment_2,
    ):
        for client, failures in ((payment_1, 2), (payment_2, 1)):
            await client.post("/simulate/error", params={"rate": 1})
            for _ in range(failures):
                charged = await client.post("/payment", json={"amount": 10, "card": "4111111111111111"})
                assert charged.status_code == 500
        # The platform's own loggers are not the apps'.
        logging.getLogger("aiops_shop.telemetry").error("not an app's record")

    def bodies(caught: Caught) -> list[tuple[str, object]]:
        return [
            (str(record.resource.attributes["service.instance.id"]), record.log_record.body)
            for record in caught.logs.get_finished_logs()
        ]

    failed = "request failed: card processor timed out"
    assert bodies(first) == [
        ("payment-1", "payment started as instance payment-1"),
        ("payment-1", failed),
        ("payment-1", failed),
    ]
    assert bodies(second) == [("payment-2", "payment started as instance payment-2"), ("payment-2", failed)]


async def test_stopping_an_app_says_what_it_exported_of_each_signal(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    caught = Caught()
    async with running(inventory.create_app(CALM, instance_id="inventory-1", **caught.sinks())) as client:
        await client.post("/simulate/stock-db/error", params={"rate": 1})
        assert (await client.get("/inventory/SKU-7")).status_code == 500
        assert (await client.get("/inventory/SKU-8")).status_code == 500

    [finished] = [r for r in caplog.records if r.getMessage() == "span export finished"]
    exported = caught.logs.get_finished_logs()
    # Start-up (two records: the app's, the pool's) and the two failures.
    assert [record.log_record.severity_text for record in exported] == ["INFO", "INFO", "ERROR", "ERROR"]
    assert (finished.spans_exported, finished.spans_failed) == (len(caught.spans.get_finished_spans()), 0)
    assert (finished.log_records_exported, finished.log_records_failed) == (4, 0)
    # Its metrics went to the test's reader, not through an exporter.
    assert (finished.metric_exports_sent, finished.metric_exports_failed) == (0, 0)


class AnswersWith(MetricExporter):
    """A metric exporter whose every export has the result it is given."""

    def __init__(self, result: MetricExportResult) -> None:
        super().__init__()
        self.result = result

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        return self.result

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


def test_metric_exports_are_counted_by_outcome() -> None:
    registry = CollectorRegistry()
    count = ExportCount("aiops_shop_metric_exports", "Metric exports", registry)
    inner = AnswersWith(MetricExportResult.SUCCESS)
    # Collections only when asked: math.inf turns the reader's own schedule off.
    reader = PeriodicExportingMetricReader(
        CountingMetricExporter(inner, count), export_interval_millis=math.inf
    )
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("test").create_counter("orders").add(1)
    provider.force_flush()
    provider.force_flush()
    inner.result = MetricExportResult.FAILURE
    provider.force_flush()
    assert (count.sent, count.failed) == (2, 1)
    assert registry.get_sample_value("aiops_shop_metric_exports_total", {"outcome": "sent"}) == 2
    assert registry.get_sample_value("aiops_shop_metric_exports_total", {"outcome": "failed"}) == 1
    provider.shutdown()


# --- where and how often ----------------------------------------------------------------------


def test_the_demo_s_own_schedule_gives_way_to_opentelemetry_s_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_METRIC_EXPORT_INTERVAL", raising=False)
    assert demo_default("OTEL_METRIC_EXPORT_INTERVAL", 5000) == 5000
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "60000")
    assert demo_default("OTEL_METRIC_EXPORT_INTERVAL", 5000) is None
    assert signal_url("http://127.0.0.1:4318/", "metrics") == "http://127.0.0.1:4318/v1/metrics"
    assert signal_url("http://127.0.0.1:4318", "logs") == "http://127.0.0.1:4318/v1/logs"
    assert signal_url(None, "logs") is None


# --- process memory ---------------------------------------------------------------------------


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


MACHINE = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.parametrize(
    ("cgroup", "files", "expected"),
    [
        # cgroup v2 in a container: its own cgroup is the root of the hierarchy.
        ("0::/\n", {"sys/memory.max": "536870912\n"}, 536870912),
        # v2 on a host, in a systemd unit with MemoryMax; no limit above it ("max").
        (
            "0::/system.slice/shop.service\n",
            {"sys/memory.max": "max\n", "sys/system.slice/shop.service/memory.max": "268435456\n"},
            268435456,
        ),
        # v1 in a container, where /proc names the host's path for it.
        (
            "4:memory:/docker/0af3\n1:cpu:/docker/0af3\n",
            {"sys/memory/memory.limit_in_bytes": "134217728\n"},
            134217728,
        ),
        # v1 without a limit writes a number no machine has.
        ("4:memory:/\n", {"sys/memory/memory.limit_in_bytes": "9223372036854771712\n"}, MACHINE),
        # No cgroup at all.
        ("", {}, MACHINE),
    ],
)
def test_the_memory_limit_is_the_cgroup_s_else_the_machine_s(
    tmp_path: Path, cgroup: str, files: dict[str, str], expected: int
) -> None:
    write(tmp_path, {"cgroup": cgroup, **files})
    assert memory_limit_bytes(tmp_path / "cgroup", tmp_path / "sys") == expected


def test_memory_in_use_is_the_resident_set_from_proc_else_getrusage_s_peak(tmp_path: Path) -> None:
    write(tmp_path, {"statm": "765 403 375 5 0 123 0\n"})
    assert resident_bytes(tmp_path / "statm") == 403 * os.sysconf("SC_PAGE_SIZE")
    assert 0 < resident_bytes(tmp_path / "missing") < MACHINE


# --- deploys ----------------------------------------------------------------------------------


async def test_a_deploy_stamps_the_new_version_on_the_app_s_spans_until_the_reset_rolls_it_back() -> None:
    async with shop() as running_shop:
        assert (await checkout(running_shop.client)).status_code == 200
        deployed = await running_shop.payment.post("/simulate/deploy", params={"version": "2.0.0", "rate": 1})
        assert deployed.json() == {"error_rate": 1.0, "latency_ms": 0.0, "version": "2.0.0"}
        assert (await checkout(running_shop.client)).status_code == 502
        assert (await running_shop.payment.post("/simulate/reset")).status_code == 200
        assert (await checkout(running_shop.client)).status_code == 200
        refused = await running_shop.payment.post("/simulate/deploy", params={"version": ""})
        assert refused.status_code == 422
    charges = [
        s for s in running_shop.caught["payment"].spans.get_finished_spans() if s.name == "POST /payment"
    ]
    assert [span.resource.attributes["service.version"] for span in charges] == ["1.0.0"] * 3
    assert [(span.attributes or {}).get("service.version") for span in charges] == [None, "2.0.0", None]
    frontend_spans = running_shop.caught["frontend"].spans.get_finished_spans()
    assert all("service.version" not in (span.attributes or {}) for span in frontend_spans)

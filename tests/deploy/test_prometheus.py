"""A real Prometheus scrapes the running services with the scrape configuration the chart
documents (charts/aiops/files/prometheus-scrape-config.yaml), and the dashboards and alerts read
only metrics the platform exports.

Prometheus here cannot discover pods from a Kubernetes API, so the test gives each target the
labels Kubernetes' pod discovery would give it: those of the chart's rendered pods, at the
address of the local process. The documented relabelling does the rest."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy.chart import CHART_DIR, NAMESPACE, manifests, render
from tests.deploy.promql import all_dashboard_queries, as_sent_by_grafana, metric_names
from tests.deploy.test_alert_rules import alert_rules
from tests.support.otlp import SpanSpec, build_request, http_server_span
from tests.support.processes import AiopsProcess, ServiceProcess, free_port
from tests.support.tools import require_tool
from tests.support.waiting import eventually

SCRAPE_CONFIG = CHART_DIR / "files" / "prometheus-scrape-config.yaml"
# Series Prometheus makes itself for every target.
SYNTHETIC_METRICS = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


def sanitized(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def pod_target(deployment: dict[str, Any], address: str, port: int | None) -> dict[str, Any]:
    """A static target labelled as Kubernetes' pod discovery labels a pod of `deployment`, with the
    scrape port annotation pointing at `port` (None: without the scrape annotations)."""
    template = deployment["spec"]["template"]["metadata"]
    annotations = dict(template["annotations"])
    if port is None:
        annotations = {k: v for k, v in annotations.items() if not k.startswith("prometheus.io/")}
    else:
        # The chart annotates the port the container listens on; the local process listens elsewhere.
        container_port = deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
        assert annotations["prometheus.io/port"] == str(container_port)
        annotations["prometheus.io/port"] = str(port)
    labels = {
        "__meta_kubernetes_namespace": NAMESPACE,
        "__meta_kubernetes_pod_name": f"{deployment['metadata']['name']}-0",
        **{f"__meta_kubernetes_pod_label_{sanitized(k)}": v for k, v in template["labels"].items()},
        **{f"__meta_kubernetes_pod_annotation_{sanitized(k)}": v for k, v in annotations.items()},
    }
    return {"targets": [address], "labels": labels}


def scrape_config_for(targets: list[dict[str, Any]]) -> dict[str, Any]:
    """The documented configuration, with discovered pods replaced by `targets` and a scrape a second."""
    config: dict[str, Any] = yaml.safe_load(SCRAPE_CONFIG.read_text())
    (job,) = config["scrape_configs"]
    assert job["kubernetes_sd_configs"] == [{"role": "pod"}]
    del job["kubernetes_sd_configs"]
    job |= {"static_configs": targets, "scrape_interval": "1s", "scrape_timeout": "1s"}
    return config


class Prometheus:
    def __init__(self, workdir: Path, config: dict[str, Any]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config_file = workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config))
        self.log = workdir / "prometheus.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    require_tool("prometheus", "prometheus"),
                    f"--config.file={config_file}",
                    f"--storage.tsdb.path={workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.client = httpx.AsyncClient(base_url=self.url, timeout=5)

    async def wait_ready(self) -> None:
        async def ready() -> int:
            if self.process.poll() is not None:
                raise AssertionError(f"prometheus exited:\n{self.log.read_text()[-3000:]}")
            try:
                return (await self.client.get("/-/ready")).status_code
            except httpx.TransportError:
                return 0

        await eventually(ready, lambda code: code == 200, timeout_s=30, what="prometheus ready")

    async def query(self, expr: str) -> list[dict[str, Any]]:
        response = await self.client.get("/api/v1/query", params={"query": expr})
        body = response.json()
        assert body["status"] == "success", f"{expr}: {body}"
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def stop(self) -> None:
        await self.client.aclose()
        self.process.terminate()
        self.process.wait(15)


@pytest.fixture
async def platform(processes: list[AiopsProcess], platform_env: dict[str, str]) -> dict[str, ServiceProcess]:
    started = {
        name: ServiceProcess(name, platform_env).start() for name in ("ingest", "detector", "incidents")
    }
    processes += started.values()
    await asyncio.gather(*(service.wait_ready() for service in started.values()))
    return started


@pytest.fixture
def deployments() -> dict[str, dict[str, Any]]:
    return {
        obj["metadata"]["labels"]["app.kubernetes.io/component"]: obj
        for obj in manifests(render({}))
        if obj["kind"] == "Deployment"
    }


@pytest.fixture
async def prometheus(
    tmp_path: Path, platform: dict[str, ServiceProcess], deployments: dict[str, dict[str, Any]]
) -> AsyncIterator[Prometheus]:
    targets = [
        pod_target(deployments[name], f"127.0.0.1:{service.port}", service.port)
        for name, service in platform.items()
    ]
    # A pod without the scrape annotations, at a port where nothing listens: it must be dropped.
    targets.append(pod_target(deployments["detector"], f"127.0.0.1:{free_port()}", None))
    server = Prometheus(tmp_path, scrape_config_for(targets))
    try:
        await server.wait_ready()
        yield server
    finally:
        await server.stop()


async def send_spans(ingest: ServiceProcess) -> None:
    """One span ingest accepts and one it refuses, so that every labelled series exists."""
    good = build_request([http_server_span()]).SerializeToString()
    bad = build_request([SpanSpec(trace_id=bytes(16))]).SerializeToString()
    async with httpx.AsyncClient(base_url=ingest.url, timeout=10) as client:
        for body in (good, bad):
            response = await client.post(
                "/v1/traces", content=body, headers={"content-type": "application/x-protobuf"}
            )
            assert response.status_code == 200, response.text


def value(result: list[dict[str, Any]]) -> float:
    return sum(float(series["value"][1]) for series in result)


async def test_prometheus_scrapes_every_service_with_the_documented_configuration(
    platform: dict[str, ServiceProcess], prometheus: Prometheus
) -> None:
    up = await eventually(
        lambda: prometheus.query('up{job="aiops"}'),
        lambda result: len(result) == 3 and value(result) == 3,
        timeout_s=30,
        interval_s=0.5,
        what="every service scraped and up",
    )
    assert {s["metric"]["app_kubernetes_io_component"] for s in up} == {"ingest", "detector", "incidents"}
    assert {s["metric"]["namespace"] for s in up} == {NAMESPACE}
    assert {s["metric"]["pod"] for s in up} == {"aiops-ingest-0", "aiops-detector-0", "aiops-incidents-0"}
    targets = (await prometheus.client.get("/api/v1/targets")).json()["data"]
    assert len(targets["activeTargets"]) == 3
    assert len(targets["droppedTargets"]) == 1

    await send_spans(platform["ingest"])
    for expr, minimum in [
        ('aiops_ingest_spans_total{app_kubernetes_io_component="ingest"}', 1),
        ('aiops_ingest_rejected_total{reason="invalid_trace_id"}', 1),
        ('aiops_writer_rows_total{app_kubernetes_io_component="detector"}', 1),
        ('aiops_writer_batches_total{outcome="stored"}', 1),
        ('aiops_queue_messages{queue="telemetry.store"}', 0),
        ('aiops_queue_messages{queue="incidents.anomalies", app_kubernetes_io_component="incidents"}', 0),
        ('http_requests_total{handler="/v1/traces", status="2xx"}', 2),
    ]:
        await eventually(
            lambda expr=expr: prometheus.query(expr),
            lambda result, minimum=minimum: bool(result) and value(result) >= minimum,
            timeout_s=30,
            interval_s=0.5,
            what=f"{expr} >= {minimum}",
        )

    # Prometheus parses every query of the dashboards and alerts (a syntax error is a 400).
    for expr in [*all_dashboard_queries(), *alert_expressions()]:
        await prometheus.query(as_sent_by_grafana(expr))


def alert_expressions() -> Iterator[str]:
    for group in alert_rules()["groups"]:
        for rule in group["rules"]:
            yield rule["expr"]


def exported_metrics(exposition: str) -> set[str]:
    """Every series name a /metrics page can carry, from its TYPE lines (a labelled metric has
    them before its first sample)."""
    suffixes = {"histogram": ["_bucket", "_sum", "_count"], "summary": ["", "_sum", "_count"]}
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names |= {name + suffix for suffix in suffixes.get(kind, [""])}
    return names


async def test_dashboards_and_alerts_read_only_metrics_the_services_export(
    platform: dict[str, ServiceProcess],
) -> None:
    exported = set(SYNTHETIC_METRICS)
    async with httpx.AsyncClient(timeout=10) as client:
        for service in platform.values():
            exported |= exported_metrics((await client.get(f"{service.url}/metrics")).text)
    read = {name for expr in [*all_dashboard_queries(), *alert_expressions()] for name in metric_names(expr)}
    assert len(read) >= 15, f"the dashboards and alerts read suspiciously few metrics: {sorted(read)}"
    assert read - exported == set(), f"not exported by any service: {sorted(read - exported)}"


def test_the_readme_shows_the_scrape_configuration_tested_here() -> None:
    readme = (CHART_DIR.parents[1] / "README.md").read_text()
    assert f"```yaml\n{SCRAPE_CONFIG.read_text()}```" in readme

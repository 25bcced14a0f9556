"""The Helm chart, rendered and linted by Helm's own engine for its default values and every
charts/aiops/ci/*-values.yaml, validated against the Kubernetes API schemas, and held to the
platform's rules: probes, resources, a confined security context, autoscaling where enabled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest

from tests.deploy.chart import CHART_DIR, VARIANTS, load_values, manifests, render

# The oldest Kubernetes release still widely run, and the newest whose schemas are bundled.
KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
# Kinds of the Prometheus Operator's CRDs: no schema is bundled for them (promtool checks the rules).
CUSTOM_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}
# Where each component's values live.
COMPONENT_VALUES = {
    "ingest": ("ingest",),
    "detector": ("detector",),
    "incidents": ("incidents",),
    "shop-frontend": ("demoShop", "frontend"),
    "shop-payment": ("demoShop", "payment"),
    "shop-inventory": ("demoShop", "inventory"),
    "shop-loadgen": ("demoShop", "loadgen"),
}
# The load generator only sends requests: it has no port, so nothing to probe or to route to.
SERVES_NOTHING = {"shop-loadgen"}

variants = pytest.mark.parametrize(("variant", "values_file"), VARIANTS, ids=[v for v, _ in VARIANTS])


def rendered_objects(values_file: Path | None) -> list[dict[str, Any]]:
    return manifests(render(load_values(values_file)))


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def component(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["labels"]["app.kubernetes.io/component"])


def component_values(values_file: Path | None, name: str) -> dict[str, Any]:
    chart = helm_python.Chart.load(CHART_DIR)
    try:
        merged = chart.merge_values(load_values(values_file))
    finally:
        chart.close()
    for key in COMPONENT_VALUES[name]:
        merged = merged[key]
    return merged


@variants
def test_chart_lints_clean(variant: str, values_file: Path | None) -> None:
    report = helm_python.lint(CHART_DIR, load_values(values_file), strict=True, quiet=True)
    problems = [m for m in report["messages"] if m["severity"] >= 2]  # 2 warning, 3 error
    assert report["errors"] == []
    assert problems == []


@variants
@pytest.mark.parametrize("kubernetes_version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_for_kubernetes(
    variant: str, values_file: Path | None, kubernetes_version: str
) -> None:
    objects = rendered_objects(values_file)
    assert objects
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(obj, kubernetes_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} at {path}: {exc.message}")


@variants
def test_every_deployment_is_probed_limited_and_confined(variant: str, values_file: Path | None) -> None:
    objects = rendered_objects(values_file)
    deployments = of_kind(objects, "Deployment")
    assert {"aiops-ingest", "aiops-detector"} <= set(deployments)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        pod_security = pod["securityContext"]
        assert pod["automountServiceAccountToken"] is False, name
        assert "checksum/config" in deployment["spec"]["template"]["metadata"]["annotations"], name
        tmp_volumes = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in pod["containers"]:
            where = f"{name}/{container['name']}"
            security = {**pod_security, **container["securityContext"]}
            assert security["runAsNonRoot"] is True, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert "add" not in security["capabilities"], where
            assert security["seccompProfile"]["type"] == "RuntimeDefault", where
            assert {"/tmp"} == {m["mountPath"] for m in container["volumeMounts"] if m["name"] in tmp_volumes}
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), where
            assert "memory" in resources["limits"], where
            if component(deployment) in SERVES_NOTHING:
                assert "ports" not in container, where
                continue
            assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}, where
            assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}, where
            assert container["startupProbe"]["httpGet"]["path"] == "/livez", where


@variants
def test_services_autoscale_and_keep_replicas_through_disruptions_where_enabled(
    variant: str, values_file: Path | None
) -> None:
    objects = rendered_objects(values_file)
    hpas = of_kind(objects, "HorizontalPodAutoscaler")
    pdbs = of_kind(objects, "PodDisruptionBudget")
    for name, deployment in of_kind(objects, "Deployment").items():
        values = component_values(values_file, component(deployment))
        if component(deployment) in SERVES_NOTHING:
            assert name not in hpas
            assert name not in pdbs
            continue
        if values["autoscaling"]["enabled"]:
            hpa = hpas[name]
            assert hpa["spec"]["scaleTargetRef"] == {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": name,
            }
            assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
            # The autoscaler owns the replica count; a rendered one would reset it on every upgrade.
            assert "replicas" not in deployment["spec"], name
        else:
            assert name not in hpas
            assert deployment["spec"]["replicas"] == values["replicas"]
        assert (name in pdbs) == values["pdb"]["enabled"], name


def test_the_detector_can_scale_on_its_queue_depth() -> None:
    values = {"detector": {"autoscaling": {"queueDepth": {"enabled": True, "averageValue": "300"}}}}
    hpa = of_kind(manifests(render(values)), "HorizontalPodAutoscaler")["aiops-detector"]
    external = [m["external"] for m in hpa["spec"]["metrics"] if m["type"] == "External"]
    assert external == [
        {
            "metric": {
                "name": "aiops_queue_messages",
                "selector": {"matchLabels": {"queue": "telemetry.store"}},
            },
            "target": {"type": "AverageValue", "averageValue": "300"},
        }
    ]


def env_of(deployment: dict[str, Any]) -> dict[str, Any]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def test_with_the_migrations_job_the_services_leave_migrating_to_it() -> None:
    objects = manifests(render({"migrations": {"job": {"enabled": True}}}))
    job = of_kind(objects, "Job")["aiops-migrate"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    # The job runs before the release's Secret exists: it reads a hook Secret made just before it.
    hook_secret = of_kind(objects, "Secret")["aiops-migrate"]
    assert int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < 0
    for name, deployment in of_kind(objects, "Deployment").items():
        env = env_of(deployment)
        if "AIOPS_DATABASE_URL" in env:
            assert env["AIOPS_MIGRATE_ON_START"] == "false", name

    default = manifests(render({}))
    assert of_kind(default, "Job") == {}
    assert all("AIOPS_MIGRATE_ON_START" not in env_of(d) for d in of_kind(default, "Deployment").values())


def test_an_existing_secret_replaces_the_charts_own() -> None:
    objects = manifests(render({"secrets": {"existingSecret": "aiops-connections"}}))
    assert of_kind(objects, "Secret") == {}
    referenced = {
        ref["secretKeyRef"]["name"]
        for deployment in of_kind(objects, "Deployment").values()
        for ref in env_of(deployment).values()
        if isinstance(ref, dict)
    }
    assert referenced == {"aiops-connections"}


def test_each_service_gets_only_the_secrets_it_uses() -> None:
    objects = manifests(render({"demoShop": {"enabled": True}, "secrets": {"ingestTokens": "t0ken"}}))
    secret_keys = {
        component(d): {k for k, v in env_of(d).items() if isinstance(v, dict)}
        for d in of_kind(objects, "Deployment").values()
    }
    assert secret_keys["ingest"] == {"AIOPS_BROKER_URL", "AIOPS_INGEST_TOKENS"}
    assert secret_keys["shop-frontend"] == {"OTEL_EXPORTER_OTLP_HEADERS"}
    assert secret_keys["shop-loadgen"] == set()
    secret = of_kind(objects, "Secret")["aiops-secrets"]
    assert "OTEL_EXPORTER_OTLP_HEADERS" in secret["data"]


def pod_annotations(values: dict[str, Any], name: str) -> dict[str, str]:
    deployment = of_kind(manifests(render(values)), "Deployment")[name]
    annotations: dict[str, str] = deployment["spec"]["template"]["metadata"]["annotations"]
    return annotations


def test_pods_roll_when_settings_or_secrets_change() -> None:
    before = pod_annotations({}, "aiops-detector")
    config = pod_annotations({"config": {"AIOPS_LOG_LEVEL": "DEBUG"}}, "aiops-detector")
    secret = pod_annotations({"secrets": {"brokerUrl": "amqp://aiops:new@rabbitmq:5672/"}}, "aiops-detector")
    assert config["checksum/config"] != before["checksum/config"]
    assert secret["checksum/secret"] != before["checksum/secret"]
    assert secret["checksum/config"] == before["checksum/config"]


@pytest.mark.parametrize(
    "values",
    [
        {"ingest": {"replcas": 3}},
        {"config": {"AIOPS_DATABASE_URL": "postgresql://aiops:s3cret@db/aiops"}},
        {"config": {"AIOPS_QUEUE_TYPE": "lazy"}},
        {"secrets": {"brokerUrl": "http://rabbitmq:5672"}},
        {
            "detector": {
                "resources": {"requests": {"cpu": "lots", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}
            }
        },
    ],
    ids=["misspelt key", "url in plain config", "unknown queue type", "wrong url scheme", "bad quantity"],
)
def test_the_values_schema_refuses_mistakes(values: dict[str, Any]) -> None:
    with pytest.raises(helm_python.HelmValuesError):
        render(values)


def test_dashboards_ship_as_configmaps_for_grafanas_sidecar() -> None:
    objects = manifests(render({"grafanaDashboards": {"enabled": True}}))
    dashboards = {name: obj for name, obj in of_kind(objects, "ConfigMap").items() if "-dashboard-" in name}
    files = sorted((CHART_DIR / "dashboards").glob("*.json"))
    assert len(dashboards) == len(files) >= 3
    for path in files:
        config_map = dashboards[f"aiops-dashboard-{path.stem}"]
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert json.loads(config_map["data"][path.name]) == json.loads(path.read_text())
    assert not any("-dashboard-" in name for name in of_kind(manifests(render({})), "ConfigMap"))

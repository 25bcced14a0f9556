"""The Helm chart, rendered and linted by Helm's own engine for its default values and every
charts/aiops/ci/*-values.yaml, validated against the Kubernetes API schemas, and held to the
platform's rules: probes, resources, a confined security context, autoscaling where enabled."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Annotated, Any

import helm_python
import jsonschema
import kubernetes_validate
import pytest
from pydantic import TypeAdapter, ValidationError

from aiops_core import settings_reference
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
    assert {"aiops-ingest", "aiops-detector", "aiops-incidents"} <= set(deployments)
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


def test_the_change_hook_records_each_upgrade_as_a_deploy_with_the_first_write_token() -> None:
    values = {
        "changeHook": {"enabled": True, "service": "shop", "version": "2.1.0"},
        "secrets": {"apiTokens": "grafana:t0ken:read, ci:w4ite:write, oncall:s3cret:write"},
    }
    objects = manifests(render(values))
    [job] = of_kind(objects, "Job").values()
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["args"][:4] == ["change", "shop", "--kind=deploy", "--new-version=2.1.0"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
    assert env["AIOPS_API_URL"] == "http://aiops-incidents:8000"
    assert env["AIOPS_API_TOKEN"]["secretKeyRef"] == {
        "name": "aiops-secrets",
        "key": "AIOPS_CHANGE_TOKEN",
        "optional": True,
    }
    secret = of_kind(objects, "Secret")["aiops-secrets"]
    assert base64.b64decode(secret["data"]["AIOPS_CHANGE_TOKEN"]) == b"w4ite"
    # Off by default, and then no token is put in the Secret.
    default = manifests(render({"secrets": {"apiTokens": "ci:w4ite:write"}}))
    assert of_kind(default, "Job") == {}
    assert "AIOPS_CHANGE_TOKEN" not in of_kind(default, "Secret")["aiops-secrets"]["data"]


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
    urls = {"AIOPS_DATABASE_URL", "AIOPS_BROKER_URL", "AIOPS_REDIS_URL"}
    # Ingest's rate limits live in Redis.
    assert secret_keys["ingest"] == {"AIOPS_BROKER_URL", "AIOPS_REDIS_URL", "AIOPS_INGEST_TOKENS"}
    assert secret_keys["detector"] == urls
    assert secret_keys["incidents"] == urls | {"AIOPS_API_TOKENS", "AIOPS_WEBHOOK_URLS"}
    assert secret_keys["shop-frontend"] == {"OTEL_EXPORTER_OTLP_HEADERS"}
    assert secret_keys["shop-loadgen"] == set()
    secret = of_kind(objects, "Secret")["aiops-secrets"]
    assert "OTEL_EXPORTER_OTLP_HEADERS" in secret["data"]


def secret_refs(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["secretKeyRef"] for k, v in env_of(deployment).items() if isinstance(v, dict)}


def test_incidents_is_deployed_by_default_like_the_other_services() -> None:
    objects = manifests(render({}))
    name = "aiops-incidents"
    deployment = of_kind(objects, "Deployment")[name]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "aiops-incidents:0.1.0"
    assert container["args"] == ["serve", "incidents", "--port", "8000"]
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == "8000"
    service = of_kind(objects, "Service")[name]
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}
    ]
    hpa = of_kind(objects, "HorizontalPodAutoscaler")[name]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert of_kind(objects, "PodDisruptionBudget")[name]["spec"]["maxUnavailable"] == 1
    # The URLs are required; the API tokens and webhook URLs may be absent from an existing Secret.
    refs = secret_refs(deployment)
    assert {key: ref.get("optional", False) for key, ref in refs.items()} == {
        "AIOPS_DATABASE_URL": False,
        "AIOPS_BROKER_URL": False,
        "AIOPS_REDIS_URL": False,
        "AIOPS_API_TOKENS": True,
        "AIOPS_WEBHOOK_URLS": True,
    }
    assert {ref["name"] for ref in refs.values()} == {"aiops-secrets"}
    # The chart's Secret has every key, empty unless set.
    data = of_kind(objects, "Secret")["aiops-secrets"]["data"]
    assert data["AIOPS_API_TOKENS"] == data["AIOPS_WEBHOOK_URLS"] == ""


def test_the_incidents_secrets_come_from_the_values() -> None:
    tokens = "oncall:s3cret:write,grafana:t0ken:read"
    hooks = "https://user:pass@hooks.example.com/aiops"
    objects = manifests(render({"secrets": {"apiTokens": tokens, "webhookUrls": hooks}}))
    data = of_kind(objects, "Secret")["aiops-secrets"]["data"]
    assert base64.b64decode(data["AIOPS_API_TOKENS"]).decode() == tokens
    assert base64.b64decode(data["AIOPS_WEBHOOK_URLS"]).decode() == hooks
    # Nowhere in plain text: not in the ConfigMap, not in any pod's env.
    plain = json.dumps([o for o in objects if o["kind"] != "Secret"])
    assert "s3cret" not in plain
    assert "hooks.example.com" not in plain


def test_incidents_settings_reach_its_pods_and_only_its_pods() -> None:
    env = {
        "AIOPS_API_READ_REQUIRES_TOKEN": True,
        "AIOPS_API_RATE_LIMIT_BURST": 1000000,
        "AIOPS_WEBHOOK_BACKOFF_S": 0.5,
        "AIOPS_RESOLVE_COOLDOWN_S": "45",
    }
    deployments = of_kind(manifests(render({"incidents": {"env": env}})), "Deployment")
    assert {k: v for k, v in env_of(deployments["aiops-incidents"]).items() if k in env} == {
        "AIOPS_API_READ_REQUIRES_TOKEN": "true",
        # Not "1e+06", which an integer setting refuses.
        "AIOPS_API_RATE_LIMIT_BURST": "1000000",
        "AIOPS_WEBHOOK_BACKOFF_S": "0.5",
        "AIOPS_RESOLVE_COOLDOWN_S": "45",
    }
    assert not set(env) & set(env_of(deployments["aiops-detector"]))


def test_with_the_demo_shop_the_fault_panel_reaches_the_releases_own_shop() -> None:
    deployments = of_kind(manifests(render({"demoShop": {"enabled": True}})), "Deployment")
    assert env_of(deployments["aiops-incidents"])["AIOPS_DEMO_SHOP_URLS"] == (
        "frontend=http://aiops-shop-frontend:8080,payment=http://aiops-shop-payment:8081,"
        "inventory=http://aiops-shop-inventory:8082"
    )
    assert "AIOPS_DEMO_SHOP_URLS" not in env_of(
        of_kind(manifests(render({})), "Deployment")["aiops-incidents"]
    )
    # The service's own env wins, like every computed variable.
    elsewhere = "payment=http://payment.shop:8081"
    values = {"demoShop": {"enabled": True}, "incidents": {"env": {"AIOPS_DEMO_SHOP_URLS": elsewhere}}}
    deployments = of_kind(manifests(render(values)), "Deployment")
    assert env_of(deployments["aiops-incidents"])["AIOPS_DEMO_SHOP_URLS"] == elsewhere


def test_incidents_can_be_left_out() -> None:
    rendered = render({"incidents": {"enabled": False}, "prometheusRule": {"enabled": True}})
    objects = manifests(rendered)
    assert not [
        o for o in objects if o["metadata"]["labels"].get("app.kubernetes.io/component") == "incidents"
    ]
    (rule,) = of_kind(objects, "PrometheusRule").values()
    assert [group["name"] for group in rule["spec"]["groups"]] == ["aiops.platform"]
    assert "incidents" not in rendered["aiops/templates/NOTES.txt"]


def test_the_notes_say_how_to_reach_the_incidents_api() -> None:
    notes = render({})["aiops/templates/NOTES.txt"]
    assert "kubectl -n aiops port-forward svc/aiops-incidents 8000:8000" in notes
    assert "http://127.0.0.1:8000/docs" in notes
    assert "http://aiops-incidents.aiops.svc:8000/aiops/incidents" in notes
    assert "set secrets.apiTokens" in " ".join(notes.split())
    with_tokens = render({"secrets": {"apiTokens": "oncall:s3cret:write"}})["aiops/templates/NOTES.txt"]
    assert "secrets.apiTokens" not in with_tokens
    assert "s3cret" not in with_tokens
    assert "Authorization: Bearer <secret of a write token>" in with_tokens
    fenced = {"networkPolicy": {"enabled": True, "incidentsFrom": [{"podSelector": {}}]}}
    assert "secrets.apiTokens" not in render(fenced)["aiops/templates/NOTES.txt"]


def network_policies(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return of_kind(manifests(render({"networkPolicy": {"enabled": True}} | values)), "NetworkPolicy")


def test_only_the_named_clients_reach_the_incidents_api() -> None:
    clients = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "grafana"}}}]
    policy = network_policies({"networkPolicy": {"enabled": True, "incidentsFrom": clients}})[
        "aiops-incidents"
    ]
    assert policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "incidents"
    release_rule, client_rule = policy["spec"]["ingress"]
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "aiops"}}} in release_rule["from"]
    assert client_rule == {"ports": [{"port": "http", "protocol": "TCP"}], "from": clients}
    # Ingest's clients are its own.
    ingest = network_policies({"networkPolicy": {"enabled": True, "incidentsFrom": clients}})["aiops-ingest"]
    assert "from" not in ingest["spec"]["ingress"][1]
    # Without incidentsFrom, anyone may call the API (it has tokens for that).
    (_, open_rule) = network_policies({})["aiops-incidents"]["spec"]["ingress"]
    assert "from" not in open_rule


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
        {"incidents": {"enabled": "yes"}},
        {"config": {"AIOPS_API_TOKENS": "oncall:s3cret:write"}},
        {"incidents": {"env": {"AIOPS_WEBHOOK_URLS": "https://hooks.example.com/x"}}},
        {"ingest": {"env": {"AIOPS_REDIS_URL": "redis://:s3cret@redis:6379/0"}}},
        {"secrets": {"apiTokens": "oncall:s3cret"}},
        {"secrets": {"apiTokens": "oncall:s3cret:admin"}},
        {"secrets": {"apiTokens": "s3cret"}},
        {"secrets": {"webhookUrls": "hooks.example.com/aiops"}},
        {"incidents": {"env": {"AIOPS_API_READ_REQUIRES_TOKEN": "maybe"}}},
        {"incidents": {"env": {"AIOPS_API_RATE_LIMIT_PER_S": -1}}},
        {"incidents": {"env": {"AIOPS_API_RATE_LIMIT_PER_S": "fast"}}},
        {"incidents": {"env": {"AIOPS_API_RATE_LIMIT_BURST": "0"}}},
        {"incidents": {"env": {"AIOPS_RANK_INTERVAL_S": 0}}},
        {"incidents": {"env": {"AIOPS_RANK_INTERVAL_S": "0"}}},
        {"incidents": {"env": {"AIOPS_GRAPH_WINDOW_S": 5}}},
        {"incidents": {"env": {"AIOPS_WEBHOOK_MAX_ATTEMPTS": 51}}},
        {"incidents": {"env": {"AIOPS_WEBHOOK_MAX_ATTEMPTS": 2.5}}},
        {"incidents": {"env": {"AIOPS_WEBHOOK_TIMEOUT_S": "5s"}}},
        {"incidents": {"env": {"AIOPS_DEMO_SHOP_URLS": "payment:8081"}}},
        {"prometheusRule": {"incidentsLagMessages": 0}},
    ],
    ids=[
        "misspelt key",
        "url in plain config",
        "unknown queue type",
        "wrong url scheme",
        "bad quantity",
        "incidents enabled not a boolean",
        "api tokens in plain config",
        "webhook urls in plain env",
        "redis url in plain env",
        "api token without scope",
        "api token of unknown scope",
        "api token without name",
        "webhook url without scheme",
        "read-requires-token not a boolean",
        "negative rate limit",
        "rate limit not a number",
        "zero burst",
        "zero rank interval",
        "zero rank interval as text",
        "graph window below its minimum",
        "webhook attempts above their maximum",
        "webhook attempts not whole",
        "webhook timeout with a unit",
        "demo shop url without its service",
        "zero incidents lag threshold",
    ],
)
def test_the_values_schema_refuses_mistakes(values: dict[str, Any]) -> None:
    with pytest.raises(helm_python.HelmValuesError):
        render(values)


def test_the_values_schema_accepts_settings_written_as_numbers_booleans_or_text() -> None:
    render(
        {
            "secrets": {
                "apiTokens": " oncall:s3cret:write , grafana:t0ken:read",
                "webhookUrls": "https://user:pass@hooks.example.com/aiops?x=1, http://receiver:9000/",
            },
            "incidents": {
                "env": {
                    "AIOPS_API_READ_REQUIRES_TOKEN": "true",
                    "AIOPS_API_RATE_LIMIT_PER_S": 0,
                    "AIOPS_API_RATE_LIMIT_BURST": "500",
                    "AIOPS_RANK_INTERVAL_S": "0.5",
                    "AIOPS_GRAPH_WINDOW_S": 600,
                    "AIOPS_WEBHOOK_MAX_ATTEMPTS": 10,
                    "AIOPS_BROKER_PREFETCH": "16",
                }
            },
        }
    )


# The chart's values that fill each Secret key (keys of secretKeys).
SECRET_VALUES = {
    "AIOPS_DATABASE_URL": "databaseUrl",
    "AIOPS_BROKER_URL": "brokerUrl",
    "AIOPS_REDIS_URL": "redisUrl",
    "AIOPS_INGEST_TOKENS": "ingestTokens",
    "AIOPS_API_TOKENS": "apiTokens",
    "AIOPS_WEBHOOK_URLS": "webhookUrls",
}


def values_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((CHART_DIR / "values.schema.json").read_text())
    return schema


def test_every_setting_is_checked_and_every_secret_one_has_its_place_in_the_secret() -> None:
    schema = values_schema()
    found = settings_reference.settings()
    secret = {s.env for s in found if s.secret}
    assert set(schema["definitions"]["settings"]["properties"]) == {s.env for s in found} - secret
    assert set(schema["definitions"]["secretKeys"]["enum"]) == secret == set(SECRET_VALUES)
    # Each comes from its own value into the chart's Secret, and is a documented key of an existing one.
    values_text = (CHART_DIR / "values.yaml").read_text()
    data = of_kind(manifests(render({})), "Secret")["aiops-secrets"]["data"]
    for key, value_name in SECRET_VALUES.items():
        assert value_name in schema["properties"]["secrets"]["properties"], key
        assert key in data, key
        assert key in values_text, f"secrets.existingSecret does not document {key}"


def service_takes(field: TypeAdapter[Any], value: object) -> bool:
    try:
        field.validate_python(value)
    except ValidationError:
        return False
    return True


def chart_takes(schema: jsonschema.Draft7Validator, env: str, value: object) -> bool:
    return bool(schema.is_valid({env: value}))


def probes(setting: settings_reference.Setting) -> list[object]:
    """Values around the default and the bounds, as numbers and as text."""
    numbers: list[float] = [0, 1, -1, 0.5, 2.5]
    limits = settings_reference.bounds(setting.field)
    for bound in limits.values():
        numbers += [bound - 1, bound - 0.5, bound, bound + 0.5, bound + 1]
    default = settings_reference.default_of(setting.field)
    if isinstance(default, int | float) and not isinstance(default, bool):
        numbers.append(default)
    texts = [settings_reference.shown(n) for n in numbers] + ["", "abc", "1e3x", "true", "no", "maybe"]
    return [*numbers, True, False, *texts]


def test_the_values_schema_takes_what_the_services_take() -> None:
    """For numbers and booleans the schema and the settings agree; a number written as text is
    checked for its form only, so the schema never refuses text a service would take."""
    schema = values_schema()
    settings_schema = jsonschema.Draft7Validator({"$ref": "#/definitions/settings", **schema})
    checked = 0
    for setting in settings_reference.settings():
        if setting.secret or setting.field.annotation not in (bool, int, float):
            continue
        metadata = setting.field.metadata
        field = TypeAdapter(
            Annotated[setting.field.annotation, *metadata] if metadata else setting.field.annotation
        )
        for value in probes(setting):
            service = service_takes(field, value)
            chart = chart_takes(settings_schema, setting.env, value)
            if isinstance(value, str):
                assert chart or not service, (setting.env, value)
            elif isinstance(value, bool) == (setting.field.annotation is bool):
                assert chart == service, (setting.env, value)
            else:
                assert not chart, (setting.env, value)
            checked += 1
    assert checked > 500


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

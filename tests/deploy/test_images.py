"""The Dockerfiles, the chart and skaffold.yaml agree: every image the chart deploys is built by
skaffold from a Dockerfile that installs from the lock file and runs as the chart's user."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.deploy.chart import CHART_DIR, ROOT, manifests, render

SERVICES = ["ingest", "detector", "incidents", "demo-shop"]


def skaffold() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    return config


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_is_multi_stage_locked_and_unprivileged(service: str) -> None:
    dockerfile = (ROOT / "services" / service / "Dockerfile").read_text()
    chart_user = yaml.safe_load((CHART_DIR / "values.yaml").read_text())["podSecurityContext"]["runAsUser"]
    assert len(re.findall(r"^FROM ", dockerfile, flags=re.MULTILINE)) == 2
    assert re.search(r"pip install .*-c constraints\.txt", dockerfile)
    assert re.search(rf"^USER {chart_user}:{chart_user}$", dockerfile, flags=re.MULTILINE)
    assert 'ENTRYPOINT ["aiops"]' in dockerfile
    assert re.search(r'^CMD \["serve", "', dockerfile, flags=re.MULTILINE)


def test_skaffold_builds_every_image_the_chart_deploys() -> None:
    config = skaffold()
    artifacts = {a["image"]: a["docker"]["dockerfile"] for a in config["build"]["artifacts"]}
    assert sorted(artifacts.values()) == sorted(f"services/{s}/Dockerfile" for s in SERVICES)
    values = {"demoShop": {"enabled": True}}
    deployed = {
        container["image"].split(":")[0]
        for obj in manifests(render(values))
        if obj["kind"] == "Deployment"
        for container in obj["spec"]["template"]["spec"]["containers"]
    }
    assert deployed == set(artifacts)


def test_skaffold_forwards_every_service_meant_for_people() -> None:
    forwarded = {(f["resourceName"], f["port"], f["localPort"]) for f in skaffold()["portForward"]}
    assert forwarded == {
        ("aiops-ingest", 4318, 4318),
        ("aiops-incidents", 8000, 8000),
        ("aiops-shop-frontend", 8080, 8080),
    }
    (release,) = skaffold()["deploy"]["helm"]["releases"]
    services = of_kind_services(render(release_values(release)))
    for name, port, _ in forwarded:
        assert services[name]["spec"]["ports"][0]["port"] == port, name


def of_kind_services(rendered: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in manifests(rendered) if o["kind"] == "Service"}


def release_values(release: dict[str, Any]) -> dict[str, Any]:
    """The values skaffold gives the chart, with its image templates filled in with "example"."""
    values: dict[str, Any] = {}
    set_values = {**release["setValues"], **release["setValueTemplates"]}
    for dotted, value in set_values.items():
        *parents, leaf = dotted.split(".")
        node = values
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = "example" if "{{" in str(value) else value
    return values


def test_skaffolds_values_fit_the_chart() -> None:
    (release,) = skaffold()["deploy"]["helm"]["releases"]
    assert (ROOT / release["chartPath"]) == CHART_DIR
    objects = manifests(render(release_values(release)))
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    images = {c["image"] for d in deployments.values() for c in d["spec"]["template"]["spec"]["containers"]}
    assert images == {"example:example"}
    assert "aiops-incidents" in deployments
    # A development loop: one replica of each service, no autoscaler fighting it.
    assert not [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]
    assert {d["spec"]["replicas"] for d in deployments.values()} == {1}

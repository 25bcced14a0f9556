"""The Dockerfile, the chart and skaffold.yaml agree: every image the chart deploys is built by
skaffold from the one Dockerfile, which installs from the lock file, runs as the chart's user and
has a stage for each service with that service's default command."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.deploy.chart import CHART_DIR, ROOT, manifests, render

# Folder under services/ -> what its image serves by default and the ports the chart gives it.
SERVICES = {
    "ingest": ("ingest", {4318}),
    "detector": ("detector", {8001}),
    "incidents": ("incidents", {8000}),
    "demo-shop": ("shop", {8080, 8081, 8082}),
}
DOCKERFILE = ROOT / "Dockerfile"


def skaffold() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "skaffold.yaml").read_text())
    return config


def stages(dockerfile: str) -> dict[str, str]:
    """Stage name -> its instructions (the last, unnamed stage under "")."""
    found: dict[str, str] = {}
    for block in re.split(r"^(?=FROM )", dockerfile, flags=re.MULTILINE)[1:]:
        name = re.match(r"FROM \S+(?: AS (\S+))?", block)
        assert name is not None
        found[name[1] or ""] = block
    return found


def test_the_dockerfile_is_multi_stage_locked_and_unprivileged() -> None:
    dockerfile = DOCKERFILE.read_text()
    chart_user = yaml.safe_load((CHART_DIR / "values.yaml").read_text())["podSecurityContext"]["runAsUser"]
    by_name = stages(dockerfile)
    build, runtime = by_name["build"], by_name["runtime"]
    assert re.search(r"pip install .*-c constraints\.txt \./libs/core \./services/\$\{SERVICE\}", build)
    assert "COPY services/${SERVICE}/ services/${SERVICE}/" in build
    assert "COPY --from=build /opt/aiops /opt/aiops" in runtime
    assert re.search(rf"^USER {chart_user}:{chart_user}$", runtime, flags=re.MULTILINE)
    assert 'ENTRYPOINT ["aiops"]' in runtime
    # The image made is the stage SERVICE names.
    assert by_name[""].strip() == "FROM ${SERVICE}"
    # No other Dockerfile to drift from this one.
    assert list(ROOT.glob("services/*/Dockerfile")) == []


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_its_stage_with_its_command_and_ports(service: str) -> None:
    assert (ROOT / "services" / service / "pyproject.toml").is_file()
    command, ports = SERVICES[service]
    stage = stages(DOCKERFILE.read_text())[service]
    assert stage.startswith(f"FROM runtime AS {service}\n")
    assert re.search(rf'^CMD \["serve", "{command}"\]$', stage, flags=re.MULTILINE)
    (exposed,) = re.findall(r"^EXPOSE (.+)$", stage, flags=re.MULTILINE)
    assert {int(port) for port in exposed.split()} == ports


def test_skaffold_builds_every_image_the_chart_deploys() -> None:
    config = skaffold()
    artifacts = {a["image"]: a["docker"] for a in config["build"]["artifacts"]}
    assert {docker["dockerfile"] for docker in artifacts.values()} == {"Dockerfile"}
    assert sorted(docker["buildArgs"]["SERVICE"] for docker in artifacts.values()) == sorted(SERVICES)
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

"""k8s/ is the chart rendered with its default values, and valid for `kubectl apply`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.chart import K8S_DIR, plain_manifest_files
from tests.deploy.test_chart import KUBERNETES_VERSIONS

KUBERNETES_VALIDATE = str(Path(sys.executable).parent / "kubernetes-validate")


def test_k8s_is_the_chart_rendered_with_its_defaults() -> None:
    expected = plain_manifest_files()
    actual = {path.name: path.read_text() for path in sorted(K8S_DIR.glob("*.yaml"))}
    assert sorted(actual) == sorted(expected), "k8s/ is out of date: run `make k8s`"
    for name, text in expected.items():
        assert actual[name] == text, f"k8s/{name} differs from the chart's rendering: run `make k8s`"


@pytest.mark.parametrize("kubernetes_version", KUBERNETES_VERSIONS)
def test_k8s_passes_kubernetes_validate_strict(kubernetes_version: str) -> None:
    files = sorted(str(path) for path in K8S_DIR.glob("*.yaml"))
    result = subprocess.run(
        [KUBERNETES_VALIDATE, "--strict", "--quiet", "-k", kubernetes_version, *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # A kind without a schema is only a warning to the command: there must be none.
    assert "WARN" not in result.stdout, result.stdout

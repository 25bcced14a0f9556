"""Command-line tools that tests run (promtool, prometheus, docker-compose). A missing tool skips
the test with the reason, except with CI=true, where it fails: .ci/run installs them."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import IN_CI


def require_tool(name: str, debian_package: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian package {debian_package})"
        if IN_CI:
            pytest.fail(f"{message} (CI=true: a test that needs a tool must not be skipped)", pytrace=False)
        pytest.skip(message)
    return path

import json
import logging

import pytest
from click.testing import CliRunner

from aiops_core.cli import main
from aiops_core.observability.logging import configure_logging
from aiops_core.settings import LogFormat


def test_services_lists_what_is_installed() -> None:
    result = CliRunner().invoke(main, ["services"])
    assert result.exit_code == 0
    assert "ingest       :4318" in result.output
    assert "detector     :8001" in result.output


def test_serving_an_unknown_service_names_the_known_ones() -> None:
    result = CliRunner().invoke(main, ["serve", "nope"])
    assert result.exit_code == 2
    assert "unknown service 'nope'" in result.output
    assert "detector, incidents, ingest" in result.output


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "migrate", "services"):
        assert command in result.output


def test_json_logs_carry_extra_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", LogFormat.JSON)
    logging.getLogger("aiops.test").info("batch stored", extra={"batch_id": "b-1"})
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "batch stored"
    assert line["level"] == "INFO"
    assert line["batch_id"] == "b-1"


def test_a_bad_setting_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIOPS_QUEUE_TYPE", "stream")
    result = CliRunner().invoke(main, ["services"])
    assert result.exit_code == 1
    assert "invalid configuration: AIOPS_QUEUE_TYPE: Input should be 'quorum' or 'classic'" in result.output
    assert "Traceback" not in result.output


def test_a_group_takes_no_single_port() -> None:
    result = CliRunner().invoke(main, ["serve", "shop", "--port", "9000"])
    assert result.exit_code == 2
    assert "--port is for one service; shop-frontend, shop-payment, shop-inventory each" in result.output


def test_several_names_are_served_together_and_each_must_exist() -> None:
    result = CliRunner().invoke(main, ["serve", "shop", "shop-payment-2", "--port", "9000"])
    assert result.exit_code == 2
    assert "shop-inventory, shop-payment-2 each have their own" in result.output
    unknown = CliRunner().invoke(main, ["serve", "shop", "billing"])
    assert unknown.exit_code == 2
    assert "unknown service 'billing'" in unknown.output

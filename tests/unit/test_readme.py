"""The README's configuration table lists exactly the settings the code reads, and every file the
settings reference renders (README.md, the chart's values.schema.json and values.yaml) is what
the settings models give: `make settings` rewrites them."""

import re
from pathlib import Path

import pytest

from aiops_core import settings_reference
from aiops_core.settings import CoreSettings
from aiops_detector.settings import DetectorSettings
from aiops_incidents.settings import IncidentSettings
from aiops_ingest.settings import IngestSettings
from aiops_shop.settings import LoadGenSettings, ShopSettings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def test_every_setting_is_documented_and_nothing_else() -> None:
    documented = set(re.findall(r"^\| `(AIOPS_[A-Z0-9_]+)` \|", README.read_text(), flags=re.MULTILINE))
    fields = {
        name
        for settings in (
            CoreSettings,
            IngestSettings,
            DetectorSettings,
            IncidentSettings,
            ShopSettings,
            LoadGenSettings,
        )
        for name in settings.model_fields
    }
    assert documented == {f"AIOPS_{name.upper()}" for name in fields}


def test_the_settings_reference_is_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    status = settings_reference.main(["--check", "--root", str(ROOT)])
    assert status == 0, capsys.readouterr().err + "run `make settings`"


def test_the_check_names_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for path in settings_reference.RENDERERS:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text((ROOT / path).read_text())
    values = tmp_path / settings_reference.VALUES
    edited = values.read_text().replace('AIOPS_WEBHOOK_TIMEOUT_S: "5"', 'AIOPS_WEBHOOK_TIMEOUT_S: "9"')
    values.write_text(edited)
    assert settings_reference.main(["--check", "--root", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"{settings_reference.VALUES} is stale: run `make settings`\n"
    # Without --check it rewrites the file, and the check passes again.
    assert settings_reference.main(["--root", str(tmp_path)]) == 0
    assert values.read_text() == (ROOT / settings_reference.VALUES).read_text()
    assert settings_reference.main(["--check", "--root", str(tmp_path)]) == 0

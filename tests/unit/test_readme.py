"""The README's configuration table lists exactly the settings the code reads."""

import re
from pathlib import Path

from aiops_core.settings import CoreSettings
from aiops_detector.settings import DetectorSettings
from aiops_incidents.settings import IncidentSettings
from aiops_ingest.settings import IngestSettings
from aiops_shop.settings import LoadGenSettings, ShopSettings

README = Path(__file__).resolve().parents[2] / "README.md"


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

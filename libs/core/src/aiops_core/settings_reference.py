"""The settings reference, rendered from the settings models.

Every `AIOPS_*` setting is declared once, as a field of a pydantic-settings model (name, type,
default, bounds, description). This module writes what documents and checks them elsewhere:

- README.md: the configuration table, between `<!-- settings:start -->` and `<!-- settings:end -->`;
- charts/aiops/values.schema.json: `definitions.settings`, the type and bounds of every plain
  setting (used by `config` and every service's `env`), and `definitions.secretKeys`, the settings
  that belong in the Secret;
- charts/aiops/values.yaml: the list of settings, with their defaults, above `config` and each
  service's `env`, between `# settings:NAME:start` and `# settings:NAME:end`.

`python -m aiops_core.settings_reference` (`make settings`) rewrites them; with `--check` it
changes nothing and fails, naming the files, when one differs from what the models give.

A field's `json_schema_extra` may hold `secret: true` (the value holds a password or token: the
chart and compose keep it in a Secret), `pattern` (the form of a text value) or `enum` (the chart
accepts only these values).
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import annotated_types
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

PREFIX = "AIOPS_"
README = Path("README.md")
SCHEMA = Path("charts/aiops/values.schema.json")
VALUES = Path("charts/aiops/values.yaml")
README_START = "<!-- settings:start -->"
README_END = "<!-- settings:end -->"


@dataclass(frozen=True)
class Section:
    """One settings model: `key` names its block in values.yaml, `scope` prefixes its rows in
    the README's table (empty for the settings every service reads)."""

    key: str
    model: str  # module:class; core imports no service package, so they are named here
    scope: str


SECTIONS = (
    Section("core", "aiops_core.settings:CoreSettings", ""),
    Section("ingest", "aiops_ingest.settings:IngestSettings", "ingest"),
    Section("detector", "aiops_detector.settings:DetectorSettings", "detector"),
    Section("incidents", "aiops_incidents.settings:IncidentSettings", "incidents"),
    Section("shop", "aiops_shop.settings:ShopSettings", "shop"),
    Section("loadgen", "aiops_shop.settings:LoadGenSettings", "load generator"),
)


@dataclass(frozen=True)
class Setting:
    env: str
    field: FieldInfo
    section: Section

    @property
    def extra(self) -> dict[str, Any]:
        extra = self.field.json_schema_extra
        return dict(extra) if isinstance(extra, dict) else {}

    @property
    def secret(self) -> bool:
        return bool(self.extra.get("secret"))

    @property
    def description(self) -> str:
        return self.field.description or ""


def load_model(path: str) -> type[BaseSettings]:
    module, _, name = path.partition(":")
    model = getattr(importlib.import_module(module), name)
    if not (isinstance(model, type) and issubclass(model, BaseSettings)):
        raise TypeError(f"{path} is not a settings model")
    return model


def settings() -> list[Setting]:
    """Every setting, each once, in the order of the sections and of the fields in their model
    (a service's model repeats the core fields it inherits: they belong to core)."""
    seen: set[str] = set()
    found: list[Setting] = []
    for section in SECTIONS:
        for name, field in load_model(section.model).model_fields.items():
            env = f"{PREFIX}{name.upper()}"
            if env not in seen:
                seen.add(env)
                found.append(Setting(env, field, section))
    return found


def default_of(field: FieldInfo) -> Any:
    return field.get_default(call_default_factory=True)


def shown(value: Any) -> str:
    """A default as it is written in an environment variable."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return str(value)


# The text forms of numbers that the schema lets through (the bounds are checked on numbers
# only: a pattern cannot compare).
_WHOLE = r"^[0-9]+$"
_WHOLE_POSITIVE = r"^0*[1-9][0-9]*$"
_WHOLE_SIGNED = r"^-?[0-9]+$"
_DECIMAL = r"^[0-9]+(\.[0-9]+)?$"
_DECIMAL_POSITIVE = r"^([0-9]*[1-9][0-9]*(\.[0-9]+)?|0*\.[0-9]*[1-9][0-9]*)$"
_DECIMAL_SIGNED = r"^-?[0-9]+(\.[0-9]+)?$"
# What pydantic reads as a boolean, in any case.
_BOOLEAN = r"^(?i:true|false|t|f|yes|no|y|n|on|off|1|0)$"


def bounds(field: FieldInfo) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for constraint in field.metadata:
        for attribute, keyword in [
            ("ge", "minimum"),
            ("gt", "exclusiveMinimum"),
            ("le", "maximum"),
            ("lt", "exclusiveMaximum"),
            ("min_length", "minLength"),
            ("max_length", "maxLength"),
        ]:
            value = getattr(constraint, attribute, None)
            if isinstance(constraint, annotated_types.BaseMetadata) and value is not None:
                found[keyword] = value
    return found


def _number_schema(kind: str, limits: dict[str, Any]) -> dict[str, Any]:
    lowest = limits.get("minimum", limits.get("exclusiveMinimum"))
    positive = lowest is not None and (lowest > 0 or "exclusiveMinimum" in limits)
    if lowest is None:
        pattern = _WHOLE_SIGNED if kind == "integer" else _DECIMAL_SIGNED
    elif kind == "integer":
        pattern = _WHOLE_POSITIVE if positive else _WHOLE
    else:
        pattern = _DECIMAL_POSITIVE if positive else _DECIMAL
    return {"anyOf": [{"type": kind, **limits}, {"type": "string", "pattern": pattern}]}


def value_schema(setting: Setting) -> dict[str, Any]:
    """What the chart accepts for a setting: Helm values may be numbers, booleans or text, and
    become text in the environment."""
    field, extra = setting.field, setting.extra
    annotation = field.annotation
    schema: dict[str, Any] = {"description": setting.description}
    if "enum" in extra:
        schema["enum"] = list(extra["enum"])
    elif isinstance(annotation, type) and issubclass(annotation, Enum):
        schema["enum"] = [member.value for member in annotation]
    elif annotation is bool:
        schema["anyOf"] = [{"type": "boolean"}, {"type": "string", "pattern": _BOOLEAN}]
    elif annotation is int:
        schema |= _number_schema("integer", bounds(field))
    elif annotation is float:
        schema |= _number_schema("number", bounds(field))
    elif annotation is str:
        schema["type"] = "string"
        schema |= bounds(field)
        if "pattern" in extra:
            schema["pattern"] = extra["pattern"]
    else:
        raise TypeError(f"{setting.env}: no schema for {annotation!r}; give it an enum or a pattern")
    return schema


# README.md


def readme_table(found: list[Setting]) -> str:
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for setting in found:
        default = shown(default_of(setting.field))
        default_cell = f"`{default}`" if default else "(empty)"
        meaning = setting.description.replace("|", "\\|")
        if setting.section.scope:
            meaning = f"{setting.section.scope}: {meaning[:1].lower()}{meaning[1:]}"
        rows.append(f"| `{setting.env}` | {default_cell} | {meaning} |")
    return "\n".join(rows)


def render_readme(text: str, found: list[Setting]) -> str:
    return _between(text, README_START, README_END, readme_table(found), README)


# charts/aiops/values.schema.json


def render_schema(text: str, found: list[Setting]) -> str:
    schema = json.loads(text)
    definitions = schema["definitions"]
    definitions["secretKeys"]["enum"] = [s.env for s in found if s.secret]
    definitions["settings"] = {
        "description": "The AIOPS_* settings, generated from the settings models by `make settings`: "
        "their type and bounds (a number written as text is checked for its form only).",
        "type": "object",
        "properties": {s.env: value_schema(s) for s in found if not s.secret},
    }
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


# charts/aiops/values.yaml

# Settings the chart derives from other values, and refuses in `config`.
CHART_MANAGED = {"AIOPS_MIGRATE_ON_START": "migrations.job.enabled"}


def values_block(found: list[Setting], key: str, indent: str) -> list[str]:
    lines = []
    for setting in found:
        if setting.section.key != key or setting.secret:
            continue
        if setting.env in CHART_MANAGED:
            lines.append(f"{indent}#   ({setting.env} is set by the chart from {CHART_MANAGED[setting.env]})")
            continue
        lines += textwrap.wrap(
            setting.description,
            width=100,
            initial_indent=f"{indent}#   # ",
            subsequent_indent=f"{indent}#   # ",
            break_on_hyphens=False,
        )
        lines.append(f'{indent}#   {setting.env}: "{shown(default_of(setting.field))}"')
    return lines


_VALUES_BLOCK = re.compile(
    r"(?P<start>^(?P<indent>[ ]*)# settings:(?P<key>[a-z-]+):start[^\n]*)\n"
    r".*?^(?P=indent)# settings:(?P=key):end",
    flags=re.MULTILINE | re.DOTALL,
)


def render_values(text: str, found: list[Setting]) -> str:
    def block(match: re.Match[str]) -> str:
        indent, key = match["indent"], match["key"]
        if key not in {section.key for section in SECTIONS}:
            raise ValueError(f"{VALUES}: no settings model for the block {key!r}")
        body = "\n".join(values_block(found, key, indent))
        return f"{match['start']}\n{body}\n{indent}# settings:{key}:end"

    return _VALUES_BLOCK.sub(block, text)


def _between(text: str, start: str, end: str, body: str, path: Path) -> str:
    head, found_start, rest = text.partition(start)
    _, found_end, tail = rest.partition(end)
    if not (found_start and found_end):
        raise ValueError(f"{path}: {start} ... {end} not found")
    return f"{head}{start}\n{body}\n{end}{tail}"


RENDERERS: dict[Path, Callable[[str, list[Setting]], str]] = {
    README: render_readme,
    SCHEMA: render_schema,
    VALUES: render_values,
}


def stale(root: Path) -> dict[Path, str]:
    """The files under `root` that differ from what the models give: path -> expected text."""
    found = settings()
    expected = {}
    for path, render in RENDERERS.items():
        text = (root / path).read_text()
        rendered = render(text, found)
        if rendered != text:
            expected[path] = rendered
    return expected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aiops_core.settings_reference", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="change nothing; fail if a file is stale")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the repository (default: here)")
    args = parser.parse_args(argv)
    outdated = stale(args.root)
    for path, text in outdated.items():
        if args.check:
            print(f"{path} is stale: run `make settings`", file=sys.stderr)
        else:
            (args.root / path).write_text(text)
            print(f"wrote {path}")
    return 1 if args.check and outdated else 0


if __name__ == "__main__":
    sys.exit(main())

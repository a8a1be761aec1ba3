"""findings/schema.json: up to date with the models, and it validates what the models do."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from policy_briefs.models import json_schema_text
from support.mini import MINI

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "findings" / "schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA.read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def as_json(path: Path):
    # Editors read YAML 1.2, where an unquoted 2026-01-15 is text, not a date.
    return json.loads(json.dumps(yaml.safe_load(path.read_text("utf-8")), default=str))


def test_schema_file_is_up_to_date(cli):
    result = cli("schema", "--check", "--project", ROOT)
    assert result.exit_code == 0, result.output + " (run `briefs schema`)"
    assert SCHEMA.read_text("utf-8") == json_schema_text()


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "findings").glob("*.yaml")) + sorted((MINI / "findings").glob("*.yaml")),
    ids=lambda p: f"{p.parent.parent.name}/{p.name}",
)
def test_schema_accepts_real_findings_files(validator, path):
    errors = [e.message for e in validator.iter_errors(as_json(path))]
    assert errors == []


def test_schema_rejects_an_unknown_key(validator):
    data = as_json(MINI / "findings" / "networks.yaml")
    data["findings"][0]["confidance"] = data["findings"][0].pop("confidence")
    assert not validator.is_valid(data)
    assert any("confidance" in str(e) for e in validator.iter_errors(data))


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["findings"][0].pop("headline"),
        lambda d: d["findings"][0]["evidence"].clear(),
        lambda d: d["findings"][0]["evidence"][0].update(locator="2"),
        lambda d: d["theme"].update(order="first"),
        lambda d: d["findings"][0].update(id="Not An Id"),
    ],
    ids=["missing", "empty-evidence", "locator-form", "wrong-type", "id-form"],
)
def test_schema_rejects_what_the_models_reject(validator, change):
    data = as_json(MINI / "findings" / "networks.yaml")
    change(data)
    assert not validator.is_valid(data)


def test_every_field_is_documented():
    schema = json.loads(json_schema_text())
    undocumented = [
        f"{name}.{field}"
        for name, definition in schema["$defs"].items()
        for field, spec in definition.get("properties", {}).items()
        if not spec.get("description")
    ]
    assert undocumented == []


def test_schema_command_writes_and_checks(cli, mini_project):
    target = mini_project / "findings" / "schema.json"
    stale = cli("schema", "--check", "--project", mini_project)
    assert stale.exit_code == 1
    assert "out of date: run `briefs schema`" in stale.stderr
    assert not target.exists()

    assert cli("schema", "--project", mini_project).exit_code == 0
    assert target.read_text("utf-8") == json_schema_text()
    assert cli("schema", "--check", "--project", mini_project).exit_code == 0

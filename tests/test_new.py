"""`briefs new`: a starter project that is valid at once, and never over anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policy_briefs.models import SCHEMA_FILE, json_schema_text

SCHEMA_HEADER = "# yaml-language-server: $schema=schema.json"


def test_new_makes_a_documented_project(cli, tmp_path: Path):
    target = tmp_path / "briefs" / "mine"  # missing parents are made
    result = cli("new", target)
    assert result.exit_code == 0, result.output
    for name in (
        "README.md",
        "briefs.toml",
        ".gitignore",
        "findings/sources.yaml",
        "findings/tool-library.yaml",
        "findings/audiences.yaml",
        "findings/publication.yaml",
        "findings/glossary.yaml",
        "sources/millbrook-tool-library-2025.txt",
    ):
        assert (target / name).is_file(), name
        assert f"  {name}\n" in result.stdout
    for path in (target / "findings").glob("*.yaml"):
        assert path.read_text("utf-8").startswith(SCHEMA_HEADER + "\n"), path.name
    assert (target / "findings" / SCHEMA_FILE).read_text("utf-8") == json_schema_text()
    assert 'sources_dir = "sources"' in (target / "briefs.toml").read_text("utf-8")
    assert "briefs serve --open" in result.stderr  # says what to do next
    assert not list(tmp_path.joinpath("briefs").glob(".mine.new-*"))  # no staging left


def test_the_new_project_passes_strict_check_at_once(cli, tmp_path: Path):
    target = tmp_path / "mine"
    assert cli("new", target).exit_code == 0
    result = cli("check", "--strict", "--json", "--project", target)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["problems"] == [] and report["verified"]
    assert set(report["briefs"]) == {"council", "owners"}
    for brief in report["briefs"].values():
        assert len(brief["findings"]) == 2
    listing = json.loads(cli("list", "--json", "--project", target).stdout)
    stances = [e["stance"] for f in listing["findings"] for e in f["evidence"]]
    assert stances and all(stances)
    (source,) = listing["sources"]
    assert source["snapshot"] == "millbrook-tool-library-2025.txt"


@pytest.mark.slow
def test_the_new_project_builds(cli, tmp_path: Path):
    target = tmp_path / "mine"
    assert cli("new", target).exit_code == 0
    result = cli("build", "--project", target)
    assert result.exit_code == 0, result.output
    for name in ("council.pdf", "council.html", "owners.pdf", "owners.html"):
        assert (target / "output" / name).stat().st_size > 1000


def test_new_into_an_empty_folder(cli, tmp_path: Path):
    target = tmp_path / "empty"
    target.mkdir()
    assert cli("new", target).exit_code == 0
    assert (target / "findings" / "sources.yaml").is_file()


@pytest.mark.parametrize("occupant", ["notes.txt", ".git"])
def test_new_refuses_a_folder_that_is_not_empty(cli, tmp_path: Path, occupant: str):
    target = tmp_path / "taken"
    target.mkdir()
    (target / occupant).write_text("keep me", "utf-8")
    result = cli("new", target)
    assert result.exit_code == 1
    assert "is not empty" in result.stderr and occupant in result.stderr
    assert [p.name for p in target.iterdir()] == [occupant]
    assert (target / occupant).read_text("utf-8") == "keep me"
    assert not list(tmp_path.glob(".taken.new-*"))


def test_new_refuses_a_file(cli, tmp_path: Path):
    target = tmp_path / "file"
    target.write_text("x", "utf-8")
    result = cli("new", target)
    assert result.exit_code == 1 and "is a file" in result.stderr

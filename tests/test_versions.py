"""Each brief's own version, MAJOR.MINOR: a new minor only when what a reader sees
changes, dated when that content was first built, and the same on every rebuild and in
a sharded build merged."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import policy_briefs.fingerprint as fingerprint_module
from policy_briefs.build import BuildOptions, build
from policy_briefs.merge import merge
from policy_briefs.project import Project
from policy_briefs.versions import Version, content_hash, next_version
from support.mini import MINI

pytestmark = pytest.mark.usefixtures("frozen_templates")

HTML = ("html",)
EDITION = "sme-supplier-networks"
# 2026-03-02 and 2026-04-10, 12:00 UTC
MARCH = "1772452800"
APRIL = "1775822400"
SHA = "a" * 64


# --- the rule --------------------------------------------------------------------------


def _next(previous, content=SHA, version="1.0"):
    return next_version(
        previous,
        content,
        publication_version=version,
        publication_date="2026-01-15",
        today="2026-03-02",
    )


def test_a_new_brief_starts_at_major_0_on_the_publication_date():
    assert _next(None) == Version("1.0", "2026-01-15", SHA)
    assert _next(None, version="3") == Version("3.0", "2026-01-15", SHA)


def test_same_content_keeps_the_version_and_its_date():
    before = Version("1.4", "2026-02-01", SHA)
    assert _next(before) is before


def test_new_content_is_the_next_minor_dated_today():
    assert _next(Version("1.4", "2026-02-01", "b" * 64)) == Version("1.5", "2026-03-02", SHA)


def test_a_new_major_starts_again_on_the_publication_date():
    assert _next(Version("1.4", "2026-02-01", SHA), version="2.0") == Version(
        "2.0", "2026-01-15", SHA
    )


@pytest.mark.parametrize(
    "raw",
    [
        "1.0",
        {"number": "1", "date": "2026-01-15", "content": SHA},
        {"number": "1.01", "date": "2026-01-15", "content": SHA},
        {"number": "1.0", "date": "15/01/2026", "content": SHA},
        {"number": "1.0", "date": "2026-01-15", "content": "short"},
    ],
)
def test_a_malformed_version_record_is_refused(raw):
    with pytest.raises(ValueError):
        Version.parse(raw)


def test_the_environment_is_not_content():
    assert content_hash("s", "d") == content_hash("s", "d")
    assert content_hash("s", "d") != content_hash("s", "e")


# --- in a build --------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return Path(shutil.copytree(MINI, tmp_path / "mini"))


def _build(root: Path, monkeypatch, epoch: str = MARCH, out: Path | None = None, **options):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    options.setdefault("formats", HTML)
    return build(Project.at(root), BuildOptions(out_dir=out, **options))


def _versions(root: Path, out: str = "output") -> dict[str, tuple[str, str]]:
    data = json.loads((root / out / "manifest.json").read_text("utf-8"))["briefs"]
    return {slug: (e["version"]["number"], e["version"]["date"]) for slug, e in data.items()}


def _cover(root: Path, slug: str) -> tuple[str, str]:
    html = (root / "output" / f"{slug}.html").read_text("utf-8")
    date = re.search(r'fact-date">.*?datetime="([^"]+)"', html, re.S)
    number = re.search(r'fact-version">.*?fact-value">([^<]+)<', html, re.S)
    assert date and number
    return number.group(1), date.group(1)


def _edit(root: Path, name: str, old: str, new: str) -> None:
    path = root / "findings" / name
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")


def test_versions_follow_content_not_rebuilds(project, monkeypatch):
    _build(project, monkeypatch)
    first = {slug: ("1.0", "2026-01-15") for slug in ("federal", "sme", EDITION)}
    assert _versions(project) == first
    assert _cover(project, "federal") == ("1.0", "2026-01-15")
    html = (project / "output" / "federal.html").read_text("utf-8")
    assert "This is version 1.0 of this brief, of January 15, 2026." in html
    assert '<meta name="version" content="1.0">' in html
    files = {p.name: p.read_bytes() for p in (project / "output").glob("*.html")}

    # A forced rebuild on another day: same content, same version, same bytes.
    report = _build(project, monkeypatch, APRIL, force=True)
    assert len(report.briefs) == 3
    assert _versions(project) == first
    assert {p.name: p.read_bytes() for p in (project / "output").glob("*.html")} == files

    # What federal and sme readers see changes: their next minor, dated this build.
    _edit(project, "strategy.yaml", "did not deliver.", "did not deliver jobs.")
    _build(project, monkeypatch, MARCH)
    second = {**first, "federal": ("1.1", "2026-03-02"), "sme": ("1.1", "2026-03-02")}
    assert _versions(project) == second
    assert _cover(project, "sme") == ("1.1", "2026-03-02")
    changes = (project / "output" / "CHANGES.md").read_text("utf-8")
    assert "(`federal`), version 1.1\n" in changes and "(`sme`), version 1.1\n" in changes

    # Rebuilt a month later, it still says the date its content was first built.
    files = {p.name: p.read_bytes() for p in (project / "output").glob("*.html")}
    _build(project, monkeypatch, APRIL, force=True)
    assert _versions(project) == second
    assert {p.name: p.read_bytes() for p in (project / "output").glob("*.html")} == files

    # Another audience's entry in a finding sme readers see is not sme content.
    _edit(
        project,
        "networks.yaml",
        "Support for networks reaches many small firms at once.",
        "Support for networks reaches many small firms at the same time.",
    )
    _build(project, monkeypatch, APRIL)
    assert _versions(project) == {**second, "federal": ("1.2", "2026-04-10")}

    # A no-op build keeps the history: one section per version that changed.
    _build(project, monkeypatch, APRIL)
    history = json.loads((project / "output" / "changes.json").read_text("utf-8"))["history"]
    assert [
        [(b["slug"], b["version"]) for b in section["briefs"] if b["status"] != "unchanged"]
        for section in history
    ] == [
        [("federal", "1.2")],
        [("federal", "1.1"), ("sme", "1.1")],
        [("federal", "1.0"), ("sme", "1.0"), (EDITION, "1.0")],
    ]


def test_a_software_change_alone_keeps_every_version(project, monkeypatch):
    _build(project, monkeypatch)
    before = _versions(project)
    # As if a font had been upgraded.
    monkeypatch.setattr(fingerprint_module, "_fonts_hash", lambda: "0" * 64)
    fingerprint_module.software_environment.cache_clear()
    try:
        report = _build(project, monkeypatch, APRIL)
    finally:
        fingerprint_module.software_environment.cache_clear()
    assert len(report.briefs) == 3  # rendered again: the bytes may differ
    assert _versions(project) == before


def test_a_new_publication_major_starts_every_brief_at_0(project, monkeypatch):
    _build(project, monkeypatch)
    _edit(project, "strategy.yaml", "did not deliver.", "did not deliver jobs.")
    _build(project, monkeypatch)
    assert _versions(project)["federal"] == ("1.1", "2026-03-02")
    _edit(project, "publication.yaml", 'version: "1.0"', 'version: "2.0"')
    _edit(project, "publication.yaml", 'date: "2026-01-15"', 'date: "2026-03-20"')
    _build(project, monkeypatch, APRIL)
    assert set(_versions(project).values()) == {("2.0", "2026-03-20")}


def test_a_publication_version_that_is_no_number_is_refused(cli, project):
    _edit(project, "publication.yaml", 'version: "1.0"', 'version: "first"')
    result = cli("check", "--project", project)
    assert result.exit_code == 1
    assert "findings/publication.yaml:9:12: error: publication.version: 'first'" in result.stderr


def test_a_damaged_version_record_starts_again_with_a_warning(project, monkeypatch):
    _build(project, monkeypatch)
    _edit(project, "strategy.yaml", "did not deliver.", "did not deliver jobs.")
    _build(project, monkeypatch)
    path = project / "output" / "manifest.json"
    data = json.loads(path.read_text("utf-8"))
    data["briefs"]["federal"]["version"] = {"number": "one", "date": "x", "content": "y"}
    path.write_text(json.dumps(data), "utf-8")
    report = _build(project, monkeypatch, APRIL)
    assert [b.brief.slug for b in report.briefs] == ["federal"]
    assert [str(w) for w in report.warnings] == [
        "output/manifest.json:1:1: warning: the entry for brief 'federal' has a version "
        "number that is not MAJOR.MINOR, so its version history is lost: it starts again at 1.0"
    ]
    assert _versions(project)["federal"] == ("1.0", "2026-01-15")
    assert _versions(project)["sme"] == ("1.1", "2026-03-02")


def test_a_sharded_build_merged_equals_one_build_with_versions(project, monkeypatch, tmp_path):
    _build(project, monkeypatch)  # the previous build every machine starts from
    previous = project / "output"
    _edit(project, "strategy.yaml", "did not deliver.", "did not deliver jobs.")
    whole = Path(shutil.copytree(previous, tmp_path / "whole"))
    shards = [Path(shutil.copytree(previous, tmp_path / f"shard{k}")) for k in (1, 2)]
    _build(project, monkeypatch, APRIL, out=whole)
    for k, folder in enumerate(shards, 1):
        _build(project, monkeypatch, APRIL, out=folder, shard=(k, 2))
    merged = tmp_path / "merged"
    shutil.copytree(previous, merged)
    merge(shards, merged)
    assert _versions(tmp_path, "merged") == _versions(tmp_path, "whole")
    assert _versions(tmp_path, "merged")["federal"] == ("1.1", "2026-04-10")
    assert _versions(tmp_path, "merged")[EDITION] == ("1.0", "2026-01-15")
    names = sorted(p.name for p in whole.iterdir() if not p.name.startswith("."))
    assert sorted(p.name for p in merged.iterdir() if not p.name.startswith(".")) == names
    for name in names:
        assert (merged / name).read_bytes() == (whole / name).read_bytes(), name


def test_the_pdf_states_its_version(mini_build):
    import pikepdf

    with pikepdf.open(mini_build.out / "federal.pdf") as pdf:
        assert str(pdf.docinfo["/Version"]) == "1.0"
        assert str(pdf.docinfo["/ModDate"]).startswith("D:20260115")


def test_the_content_hash_ignores_the_tools_own_working_and_defaults():
    import dataclasses

    from policy_briefs.fingerprint import shown_hash
    from policy_briefs.selection import select
    from policy_briefs.validate import load_valid_corpus

    corpus, _ = load_valid_corpus(Project.at(MINI))
    brief = select(corpus, "sme")
    before = shown_hash(brief)
    # How the tool words an attribution is its own working, not the analysts' content.
    assert shown_hash(dataclasses.replace(brief, attributions={})) == before
    # A field written out at its default value says nothing new.
    audience = brief.audience.model_copy(update={"takeaways": 4})
    assert "takeaways" in audience.model_fields_set
    assert shown_hash(dataclasses.replace(brief, audience=audience)) == before
    # What the reader sees does count.
    audience = brief.audience.model_copy(update={"reader": "Owners of small workshops."})
    assert shown_hash(dataclasses.replace(brief, audience=audience)) != before
    assert shown_hash(dataclasses.replace(brief, title="Another title")) != before

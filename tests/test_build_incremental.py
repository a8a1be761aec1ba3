"""Incremental builds: unchanged briefs are not rendered again, changed ones are, and a
build with nothing to do neither validates again nor imports the heavy modules."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import policy_briefs.build as build_module
import policy_briefs.validate as validate_module
from policy_briefs.build import BuildOptions, build, parse_shard
from policy_briefs.errors import BriefsError, ValidationFailed
from policy_briefs.project import Project
from support import frozen_tool
from support.mini import MINI

pytestmark = pytest.mark.usefixtures("frozen_templates")

HTML = ("html",)
EDITION = "sme-supplier-networks"  # the mini project's declared edition (networks, sme)
ALL = ["federal", "sme", EDITION]

# A finding only the sme briefs show (no contrasts): the audience's brief and its
# edition of the networks theme, so editing it leaves the federal brief alone.
SME_ONLY = """
  - id: sme-only-finding
    headline: Small plants share tooling with their neighbours
    summary: Owners described lending tools to nearby plants.
    confidence: low
    evidence:
      - source: alpha-2020
        locator: paragraph 1
        quote: "shared supplier networks"
        stance: reports
        speaker: regional toolmakers
    audiences:
      sme:
        priority: low
        implication: A neighbour may lend you a tool.
"""


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), "utf-8")


def _manifest(project: Path) -> dict:
    return json.loads((project / "output" / "manifest.json").read_text("utf-8"))


def _build(project: Path, **options) -> build_module.BuildReport:
    options.setdefault("formats", HTML)
    return build(Project.at(project), BuildOptions(**options))


def _rendered(report) -> list[str]:
    return [item.brief.slug for item in report.briefs]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = Path(shutil.copytree(MINI, tmp_path / "mini"))
    with (root / "findings" / "networks.yaml").open("a", encoding="utf-8") as handle:
        handle.write(SME_ONLY)
    return root


@pytest.fixture
def built_with_pdf(tool, tmp_path: Path) -> Path:
    """The mini project built with PDFs by another process."""
    root = Path(shutil.copytree(MINI, tmp_path / "built" / "mini"))
    subprocess.run(
        [sys.executable, "-m", "policy_briefs", "build", "--project", str(root)],
        check=True,
        capture_output=True,
        timeout=600,
        env=frozen_tool.environ(tool),
    )
    return root


def test_second_build_renders_nothing_and_skips_validation(project, monkeypatch):
    first = _build(project)
    assert _rendered(first) == ALL
    before = _manifest(project)
    history = (project / "output" / "CHANGES.md").read_bytes()

    def must_not_validate(*_args, **_kwargs):
        raise AssertionError("a build with nothing to do validated again")

    monkeypatch.setattr(validate_module, "load_valid_corpus", must_not_validate)
    second = _build(project)
    assert second.up_to_date and second.kept == ALL
    assert _manifest(project) == before  # not even rewritten
    # The history is kept as it was; only the latest verdict says "nothing changed".
    assert (project / "output" / "CHANGES.md").read_bytes() == history
    changes = json.loads((project / "output" / "changes.json").read_text("utf-8"))
    assert changes["changed"] is False and len(changes["history"]) == 1


def test_editing_one_finding_renders_only_the_briefs_that_show_it(project):
    _build(project)
    federal_before = _manifest(project)["briefs"]["federal"]
    _edit(
        project / "findings" / "networks.yaml",
        "Small plants share tooling with their neighbours",
        "Small plants often share tooling with their neighbours",
    )
    report = _build(project)
    assert _rendered(report) == ["sme", EDITION]
    assert report.kept == ["federal"]
    after = _manifest(project)["briefs"]
    assert after["federal"] == federal_before  # untouched, built_at included
    assert "often share tooling" in (project / "output" / "sme.html").read_text("utf-8")
    changes = (project / "output" / "CHANGES.md").read_text("utf-8")
    assert f"2 of 3 briefs changed: `sme` (changed), `{EDITION}` (changed)." in changes
    assert "- Findings edited:\n  - `sme-only-finding`: Small plants often share" in changes


def test_an_edit_no_brief_shows_validates_but_renders_nothing(project):
    _build(project)
    _edit(
        project / "findings" / "publication.yaml",
        "# yaml-language-server",
        "# a comment only\n# yaml-language-server",
    )
    report = _build(project)
    assert report.briefs == [] and report.kept == ALL


@pytest.mark.parametrize(
    "change, words",
    [
        (
            ("sources.yaml", "Notes on Regional Making", "Notes on Regional Manufacturing"),
            "- Sources edited:\n  - `alpha-2020`",
        ),
        (
            (
                "audiences.yaml",
                "Staff who design national programmes.",
                "Staff who design national programs.",
            ),
            "Audience settings changed",
        ),
        (
            ("glossary.yaml", "Firms with fewer than", "Companies with fewer than"),
            "Glossary changed.",
        ),
    ],
)
def test_every_input_of_a_brief_is_in_its_hash(project, change, words):
    _build(project)
    name, old, new = change
    _edit(project / "findings" / name, old, new)
    report = _build(project)
    assert "federal" in _rendered(report)
    assert words in (project / "output" / "CHANGES.md").read_text("utf-8")


def test_publication_date_rebuilds_everything(project):
    _build(project)
    publication = project / "findings" / "publication.yaml"
    text = publication.read_text("utf-8")
    date = next(line for line in text.splitlines() if line.strip().startswith("date:"))
    _edit(publication, date, "  date: 2027-02-03")
    report = _build(project)
    assert _rendered(report) == ALL
    assert "Publication details changed" in (project / "output" / "CHANGES.md").read_text("utf-8")


def test_a_project_template_rebuilds_every_brief_and_says_design(project):
    _build(project)
    templates = project / "templates"
    templates.mkdir()
    (templates / "federal.html").write_text('{% extends "default:federal.html" %}\n', "utf-8")
    report = _build(project)
    assert _rendered(report) == ALL
    changes = (project / "output" / "CHANGES.md").read_text("utf-8")
    assert changes.count("- Design changed") == 3


def test_site_and_mail_templates_do_not_feed_briefs(project):
    (project / "templates" / "site").mkdir(parents=True)
    _build(project)
    (project / "templates" / "site" / "index.html").write_text("<p>site</p>\n", "utf-8")
    report = _build(project)
    assert report.briefs == [] and report.kept == ALL


def test_force_renders_everything(project):
    _build(project)
    report = _build(project, force=True)
    assert _rendered(report) == ALL
    changes = json.loads((project / "output" / "changes.json").read_text("utf-8"))
    assert changes["changed"] is False  # same bytes as before: nothing to publish


@pytest.mark.parametrize("damage", ["delete", "alter"])
def test_a_damaged_output_file_is_rendered_again(project, damage):
    _build(project)
    path = project / "output" / "sme.html"
    if damage == "delete":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes().replace(b"<", b"[", 1))
    report = _build(project)
    assert _rendered(report) == ["sme"]
    assert report.kept == ["federal", EDITION]
    assert path.read_bytes().startswith(b"<")


def test_a_new_format_renders_only_that_and_keeps_the_other_record(built_with_pdf, tmp_path):
    project = Path(shutil.copytree(built_with_pdf, tmp_path / "mini"))
    before = _manifest(project)["briefs"]["federal"]["files"]
    report = _build(project, formats=("pdf", "html"))
    assert report.up_to_date  # a copy elsewhere is still up to date: nothing is path-bound
    (project / "output" / "federal.html").unlink()
    report = _build(project)  # html only
    assert _rendered(report) == ["federal"]
    after = _manifest(project)["briefs"]["federal"]
    assert after["files"]["pdf"] == before["pdf"]
    assert after["pages"] >= 1


def test_invalid_input_writes_nothing_even_after_a_good_build(project):
    _build(project)
    out = project / "output"
    snapshot = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    _edit(project / "findings" / "networks.yaml", "confidence: low", "confidence: maybe")
    with pytest.raises(ValidationFailed):
        _build(project)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == snapshot


def test_warnings_come_back_on_a_build_with_nothing_to_do(project):
    with (project / "findings" / "sources.yaml").open("a", encoding="utf-8") as handle:
        handle.write("  - id: gamma-2022\n    type: report\n    title: Uncited\n")
    first = _build(project)
    assert sorted(w.message for w in first.warnings) == [
        "source 'gamma-2022' has no snapshot, so its quotes cannot be verified",
        "source 'gamma-2022' is cited by no finding",
    ]
    second = _build(project)
    assert second.up_to_date
    assert second.warnings == first.warnings
    with pytest.raises(ValidationFailed):  # --strict asks a new question: validate again
        _build(project, strict=True)


def test_a_removed_audience_drops_its_brief(project):
    audiences = project / "findings" / "audiences.yaml"
    networks = project / "findings" / "networks.yaml"
    plain_audiences, plain_networks = audiences.read_text("utf-8"), networks.read_text("utf-8")
    audiences.write_text(
        plain_audiences
        + (
            "  - id: extra\n    title: Extra readers\n    reader: Anyone.\n    template: sme.html\n"
        ),
        "utf-8",
    )
    networks.write_text(
        plain_networks
        + ("      extra:\n        priority: low\n        implication: Worth a look.\n"),
        "utf-8",
    )
    assert _rendered(_build(project)) == ["federal", "sme", "extra", EDITION]
    audiences.write_text(plain_audiences, "utf-8")
    networks.write_text(plain_networks, "utf-8")
    report = _build(project)
    # Their finding lost the extra relevance.
    assert _rendered(report) == ["sme", EDITION]
    assert "extra" not in _manifest(project)["briefs"]
    assert not (project / "output" / "extra.html").exists()
    assert [(c.slug, c.status) for c in report.changes.briefs] == [
        ("federal", "unchanged"),
        ("sme", "unchanged"),
        (EDITION, "unchanged"),
        ("extra", "removed"),
    ]
    assert "Extra readers (`extra`)\n\nRemoved" in (project / "output" / "CHANGES.md").read_text(
        "utf-8"
    )


def test_shards_split_the_briefs_between_them(project):
    from policy_briefs.validate import load_valid_corpus

    corpus, _ = load_valid_corpus(Project.at(project))
    first = [b.slug for b in BuildOptions(shard=(1, 2)).plan(corpus)]
    second = [b.slug for b in BuildOptions(shard=(2, 2)).plan(corpus)]
    # Sorted by slug, every second one: federal and the edition, then sme.
    assert first == ["federal", EDITION] and second == ["sme"]
    assert [b.slug for b in BuildOptions(shard=(1, 1)).plan(corpus)] == ALL
    assert BuildOptions(shard=(4, 4)).plan(corpus) == []
    report = _build(project, shard=(2, 2))
    assert _rendered(report) == ["sme"]
    assert list(_manifest(project)["briefs"]) == ["sme"]


@pytest.mark.parametrize("text", ["0/2", "3/2", "2", "a/b", "1/0", ""])
def test_bad_shard_is_refused(text):
    with pytest.raises(BriefsError, match="--shard"):
        parse_shard(text)


def test_shard_on_the_command_line(cli, project):
    result = cli("build", "--shard", "4/3", "--project", project)
    assert result.exit_code == 1
    assert "error: --shard 4/3: K must be between 1 and N" in result.stderr
    assert not (project / "output").exists()
    result = cli("build", "--shard", "1/2", "--format", "html", "--project", project)
    assert result.exit_code == 0, result.output
    assert "output/federal.html" in result.stdout.replace("\\", "/")


_NOOP = """
import sys
from policy_briefs.cli import app
try:
    app(["build", "--project", sys.argv[1]], prog_name="briefs")
except SystemExit as exc:
    assert not exc.code, exc.code
heavy = ("weasyprint", "jinja2", "babel", "markdown_it", "yaml", "policy_briefs.corpus",
         "policy_briefs.templating", "policy_briefs.pdf")
print("heavy:", " ".join(m for m in heavy if m in sys.modules) or "-")
"""


def test_a_build_with_nothing_to_do_imports_no_heavy_module(tool, built_with_pdf, tmp_path):
    project = Path(shutil.copytree(built_with_pdf, tmp_path / "mini"))

    def loaded() -> str:
        result = subprocess.run(
            [sys.executable, "-c", _NOOP, str(project)],
            capture_output=True,
            text=True,
            timeout=600,
            env=frozen_tool.environ(tool),
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()[-1].removeprefix("heavy:").strip()

    assert loaded() == "-"
    # The same probe sees WeasyPrint once there is something to render.
    _edit(
        project / "findings" / "networks.yaml",
        "Join a supplier network near you.",
        "Join a supplier network close to you.",
    )
    assert "weasyprint" in loaded().split()
    assert loaded() == "-"

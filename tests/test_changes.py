"""The change report: in words, per brief, against the last build, an older manifest or a
git revision; written by every build as CHANGES.md and changes.json."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from policy_briefs.changes import ChangeReport, compare
from support.mini import MINI

pytestmark = pytest.mark.usefixtures("frozen_templates")

NEW_FINDING = """
  - id: shared-test-beds
    headline: Shared test beds cut the cost of trying new processes
    summary: Firms said shared test beds let them try processes they could not afford alone.
    evidence:
      - source: alpha-2020
        locator: paragraph 2
        quote: 'argues that "a shared industrial commons"'
        stance: argues
    audiences:
      federal:
        priority: medium
        implication: Test beds are a lever for programmes.
"""


def _inputs(**changes) -> dict:
    inputs = {
        "brief": "b0",
        "findings": {"a": "1", "b": "2"},
        "themes": {"t": "1"},
        "sources": {"s1": "1", "s2": "2"},
        "settings": {"title": "1", "audience": "1", "publication": "1", "glossary": "1"},
        "design": "d0",
        "environment": {"code": "c", "fonts": "f"},
    }
    for key, value in changes.items():
        inputs[key] = value
    return inputs


def test_compare_names_each_kind_of_change():
    old = {"inputs": _inputs()}
    new = _inputs(
        brief="b1",
        findings={"a": "1", "b": "22", "c": "3"},
        sources={"s2": "22", "s3": "3"},
        settings={"title": "1", "audience": "2", "publication": "1", "glossary": "2"},
        design="d1",
        environment={"code": "c", "fonts": "f2"},
    )
    change = compare("federal", "Federal", old, new)
    assert change.status == "changed"
    assert (change.findings_added, change.findings_removed, change.findings_edited) == (
        ["c"],
        [],
        ["b"],
    )
    assert (change.sources_added, change.sources_removed, change.sources_edited) == (
        ["s3"],
        ["s1"],
        ["s2"],
    )
    assert change.settings == ["audience", "glossary"]
    assert change.design and change.environment == ["fonts"]
    assert not change.reordered  # explained by the changes above

    report = ChangeReport(
        "the previous build", [change], {"finding:c": "C happens"}, by_output=False
    )
    text = report.markdown("What would change")
    assert text.startswith("# What would change\n\nCompared with the previous build.\n")
    assert "1 of 1 brief would change: `federal` (changed)." in text
    for words in (
        "- Findings added:\n  - `c`: C happens",
        "- Findings edited:\n  - `b`",
        "- Sources added:\n  - `s3`",
        "- Sources removed:\n  - `s1`",
        "- Sources edited:\n  - `s2`",
        "Audience settings changed",
        "Glossary changed",
        "- Design changed",
        "- Software or fonts changed: the installed fonts.",
    ):
        assert words in text
    assert "Publication details" not in text and "Title changed" not in text


def test_compare_new_unchanged_reordered_and_unknown():
    assert compare("x", "X", None, _inputs()).status == "new"
    same = compare("x", "X", {"inputs": _inputs()}, _inputs())
    assert same.status == "unchanged" and not same.has_reasons
    moved = compare("x", "X", {"inputs": _inputs()}, _inputs(brief="other"))
    assert moved.status == "changed" and moved.reordered
    legacy = compare("x", "X", {"input_hash": "abc"}, _inputs())
    assert legacy.status == "changed" and legacy.untracked


def test_compare_by_output_files():
    old = {"inputs": _inputs(), "files": {"pdf": {"sha256": "p"}, "html": {"sha256": "h"}}}
    edited = _inputs(findings={"a": "1", "b": "9"})
    same_bytes = compare(
        "x", "X", old, edited, old_files=old["files"], new_files={"pdf": "p", "html": "h"}
    )
    assert same_bytes.status == "unchanged" and same_bytes.findings_edited == ["b"]
    report = ChangeReport("the previous build", [same_bytes])
    assert not report.changed
    assert "byte-identical" in report.markdown()
    other_bytes = compare(
        "x", "X", old, edited, old_files=old["files"], new_files={"pdf": "p2", "html": "h"}
    )
    assert other_bytes.status == "changed"
    assert (
        compare(
            "x", "X", {"inputs": _inputs()}, _inputs(), old_files={}, new_files={"html": "h"}
        ).status
        == "new"
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return Path(shutil.copytree(MINI, tmp_path / "mini"))


def _add_finding(project: Path) -> None:
    with (project / "findings" / "networks.yaml").open("a", encoding="utf-8") as handle:
        handle.write(NEW_FINDING)


def _retitle_source(project: Path) -> None:
    path = project / "findings" / "sources.yaml"
    path.write_text(
        path.read_text("utf-8").replace(
            "Notes on Regional Making", "Notes on Regional Manufacturing"
        ),
        "utf-8",
    )


def test_build_writes_what_changed(cli, project):
    assert cli("build", "--format", "html", "--project", project).exit_code == 0
    first = (project / "output" / "CHANGES.md").read_text("utf-8")
    assert (
        "3 of 3 briefs changed: `federal` (new), `sme` (new), `sme-supplier-networks` (new)."
    ) in first
    _add_finding(project)
    _retitle_source(project)
    assert cli("build", "--format", "html", "--project", project).exit_code == 0
    text = (project / "output" / "CHANGES.md").read_text("utf-8")
    assert (
        "3 of 3 briefs changed: `federal` (changed), `sme` (changed), "
        "`sme-supplier-networks` (changed)."
    ) in text
    federal = text[text.index("(`federal`)") : text.index("(`sme`)")]
    assert (
        "- Findings added:\n  - `shared-test-beds`: Shared test beds cut the cost of "
        "trying new processes"
    ) in federal
    assert "- Sources edited:\n  - `alpha-2020`" in federal
    sme = text[text.index("(`sme`)") :]
    assert "Findings added" not in sme and "- Sources edited:\n  - `alpha-2020`" in sme
    data = json.loads((project / "output" / "changes.json").read_text("utf-8"))
    assert data["changed"] is True
    assert [(b["slug"], b["status"], b["rebuilt"]) for b in data["briefs"]] == [
        ("federal", "changed", True),
        ("sme", "changed", True),
        ("sme-supplier-networks", "changed", True),
    ]
    assert data["briefs"][0]["findings_added"] == ["shared-test-beds"]

    # Removing it again is reported in the same words.
    networks = project / "findings" / "networks.yaml"
    networks.write_text(networks.read_text("utf-8").replace(NEW_FINDING, ""), "utf-8")
    assert cli("build", "--format", "html", "--project", project).exit_code == 0
    text = (project / "output" / "CHANGES.md").read_text("utf-8")
    assert "1 of 3 briefs changed: `federal` (changed)." in text
    assert "- Findings removed:\n  - `shared-test-beds`\n" in text


def test_diff_against_the_last_build(cli, project):
    result = cli("diff", "--project", project)
    assert result.exit_code == 0
    assert "Compared with no earlier build (manifest.json not found" in result.stdout
    assert (
        "3 of 3 briefs would change: `federal` (new), `sme` (new), `sme-supplier-networks` (new)."
    ) in result.stdout

    assert cli("build", "--format", "html", "--project", project).exit_code == 0
    result = cli("diff", "--exit-code", "--project", project)
    assert result.exit_code == 0, result.output
    assert "No changes: 3 briefs as before" in result.stdout

    _add_finding(project)
    result = cli("diff", "--exit-code", "--project", project)
    assert result.exit_code == 1
    assert "1 of 3 briefs would change: `federal` (changed)." in result.stdout
    assert "- Findings added:\n  - `shared-test-beds`: Shared test beds" in result.stdout
    assert not (project / "output" / "federal.html").read_text("utf-8").count("test beds")

    data = json.loads(cli("diff", "--json", "federal", "--project", project).stdout)
    assert [b["slug"] for b in data["briefs"]] == ["federal"]
    assert data["changed"] is True


def test_diff_since_an_older_manifest(cli, project, tmp_path):
    assert cli("build", "--format", "html", "--project", project).exit_code == 0
    kept = tmp_path / "published-manifest.json"
    shutil.copy(project / "output" / "manifest.json", kept)
    _retitle_source(project)
    assert cli("build", "--format", "html", "--project", project).exit_code == 0
    assert "No changes" in cli("diff", "--project", project).stdout
    result = cli("diff", "--since", kept, "--project", project)
    assert result.exit_code == 0
    assert f"Compared with the build recorded in {kept}." in result.stdout
    assert result.stdout.count("- Sources edited:\n  - `alpha-2020`") == 3


def _git(project: Path, *args: str) -> None:
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.org",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=project,
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_diff_since_a_git_revision(cli, project):
    _git(project, "init", "-q")
    _git(project, "add", "findings")
    _git(project, "commit", "-q", "-m", "findings")
    _git(project, "tag", "v1")
    _add_finding(project)
    _retitle_source(project)
    result = cli("diff", "--since", "v1", "--project", project)
    assert result.exit_code == 0, result.output
    assert "Compared with the findings and templates at git revision v1 (" in result.stdout
    assert "- Findings added:\n  - `shared-test-beds`" in result.stdout
    assert result.stdout.count("- Sources edited:\n  - `alpha-2020`") == 3
    assert "Design changed" not in result.stdout  # same templates at v1 and now
    assert not (project / "output").exists()  # diff writes nothing

    _git(project, "add", "findings")
    _git(project, "commit", "-q", "-m", "more")
    result = cli("diff", "--since", "HEAD", "--exit-code", "--project", project)
    assert result.exit_code == 0 and "No changes" in result.stdout

    audiences = project / "findings" / "audiences.yaml"
    audiences.write_text(
        audiences.read_text("utf-8").replace("Staff who design", "People who design"), "utf-8"
    )
    result = cli("diff", "--since", "HEAD", "--project", project)
    assert "Audience settings changed" in result.stdout


def test_diff_since_something_unknown(cli, project, tmp_path):
    result = cli("diff", "--since", "no-such-ref", "--project", project)
    assert result.exit_code == 1
    assert "is not a manifest file, and" in result.stderr
    _git(project, "init", "-q")
    _git(project, "commit", "-q", "--allow-empty", "-m", "empty")
    result = cli("diff", "--since", "no-such-ref", "--project", project)
    assert (
        result.stderr.strip()
        == "error: 'no-such-ref' is neither a manifest file nor a git revision"
    )
    result = cli("diff", "--since", "HEAD", "--project", project)
    assert result.exit_code == 1
    assert "there is no findings/ folder at HEAD" in result.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{}", "utf-8")
    result = cli("diff", "--since", bad, "--project", project)
    assert result.exit_code == 1 and "not a briefs manifest" in result.stderr

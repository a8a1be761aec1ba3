"""The `briefs` command: options, help, JSON interfaces, errors; once as a real process."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest

from policy_briefs import __version__
from support.mini import MINI

BIN = Path(sys.executable).parent


def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"briefs (policy-briefs) {__version__}\n"


def test_python_dash_m_version():
    result = subprocess.run(
        [sys.executable, "-m", "policy_briefs", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"briefs (policy-briefs) {__version__}\n"


def test_help_lists_the_commands(cli):
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("check", "build", "list", "schema"):
        assert f" {command} " in result.stdout
    assert "briefs check, then briefs build" in result.stdout


@pytest.mark.parametrize("command", ["check", "build", "list", "schema"])
def test_every_command_takes_project_and_explains_itself(cli, command):
    result = cli(command, "--help")
    assert result.exit_code == 0
    assert "--project" in result.stdout and "DIR" in result.stdout
    assert "<bool>  Treat" not in result.stdout  # flags take no value; help must not suggest one


def test_build_help_teaches(cli):
    text = cli("build", "--help").stdout
    for words in (
        "AUDIENCE",
        "--theme",
        "THEME",
        "--finding",
        "--format",
        "pdf|html|all",
        "--out",
        "--title",
        "briefs build federal --format pdf",
    ):
        assert words in text


def test_project_defaults_to_the_working_directory(cli, mini_project, monkeypatch):
    monkeypatch.chdir(mini_project)
    result = cli("check")
    assert result.exit_code == 0, result.output
    assert "no problems" in result.stderr


def test_project_from_the_environment(cli, mini_project, monkeypatch):
    monkeypatch.setenv("BRIEFS_PROJECT", str(mini_project))
    assert cli("list").exit_code == 0


def test_missing_project_folder(cli, tmp_path):
    result = cli("check", "--project", tmp_path / "nowhere")
    assert result.exit_code == 1
    assert result.stderr == f"error: project folder '{tmp_path / 'nowhere'}' does not exist\n"


def test_bad_option_value_is_a_usage_error(cli, mini_project):
    result = cli("build", "--format", "docx", "--project", mini_project)
    assert result.exit_code == 2
    words = " ".join(result.output.replace("│", " ").split())
    assert "Invalid value for '--format': 'docx' is not a format; choose pdf, html or all" in words


def test_check_json_clean(cli):
    result = cli("check", "--json", "--project", MINI)
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "ok": True,
        "summary": "no problems",
        "problems": [],
        "verified": True,
        "reading_grades": {"federal": 6.4, "sme": 5.7},
        "briefs": {
            "federal": {
                "findings": [
                    "orders-through-networks",
                    "commons-keeps-firms-competitive",
                    "clusters-often-fail",
                ],
                "left_out": [],
            },
            "sme": {"findings": ["orders-through-networks", "clusters-often-fail"], "left_out": []},
            "sme-supplier-networks": {"findings": ["orders-through-networks"], "left_out": []},
        },
    }


def test_check_json_with_problems(cli, mini_project):
    path = mini_project / "findings" / "networks.yaml"
    path.write_text(
        path.read_text("utf-8").replace("    confidence: high", "    confidance: high"), "utf-8"
    )
    result = cli("check", "--json", "--project", mini_project)
    assert result.exit_code == 1
    report = json.loads(result.stdout)  # nothing but JSON on stdout
    assert report["ok"] is False
    assert report["summary"] == "1 error"
    assert report["problems"] == [
        {
            "path": "findings/networks.yaml",
            "line": 11,
            "column": 5,
            "severity": "error",
            "message": "findings[0].confidance: unknown field 'confidance' "
            "(a typo? did you mean 'confidence'?)",
        }
    ]


def test_check_strict_turns_warnings_into_errors(cli, mini_project):
    path = mini_project / "findings" / "sources.yaml"
    path.write_text(
        path.read_text("utf-8") + ("  - id: gamma-2022\n    type: webpage\n    title: Gamma\n"),
        "utf-8",
    )
    relaxed = cli("check", "--project", mini_project)
    assert relaxed.exit_code == 0
    assert "warning: source 'gamma-2022' is cited by no finding" in relaxed.stderr
    # Cited by nothing, and with no snapshot to verify quotes against: two warnings.
    assert "2 warnings" in relaxed.stderr
    strict = cli("check", "--strict", "--project", mini_project)
    assert strict.exit_code == 1
    assert "error: source 'gamma-2022' is cited by no finding" in strict.stderr


def test_check_sources_dir(cli, tmp_path):
    ok = cli("check", "--sources-dir", MINI / "sources", "--project", MINI)
    assert ok.exit_code == 0, ok.output
    assert "quotes not verified" not in ok.stderr
    empty = tmp_path / "sources"
    empty.mkdir()
    missing = cli("check", "--sources-dir", empty, "--project", MINI)
    assert missing.exit_code == 1
    assert f"error: snapshot 'alpha.txt' not found in {empty}" in missing.stderr


def test_list_text(cli):
    result = cli("list", "--project", MINI)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "Audiences (2)"
    assert "Findings (3)" in lines and "Sources (2)" in lines
    assert any(line.split()[:3] == ["strategy", "1", "finding"] for line in lines)


def test_list_json_is_the_documented_shape(cli):
    result = cli("list", "--json", "--project", MINI)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["format_version"] == 1
    assert set(data) == {"format_version", "audiences", "editions", "themes", "findings", "sources"}
    assert data["editions"] == [
        {
            "slug": "sme-supplier-networks",
            "audience": "sme",
            "title": "Supplier networks bring small plants orders",
            "themes": ["networks"],
            "findings": [],
            "in_brief": ["orders-through-networks"],
            "left_out": [],
        }
    ]
    assert data["audiences"][0] == {
        "id": "federal",
        "title": "Federal policymakers",
        "template": "federal.html",
        "citation_style": "chicago-notes-bibliography",
        "findings": 3,
        "in_brief": [
            "orders-through-networks",
            "commons-keeps-firms-competitive",
            "clusters-often-fail",
        ],
        "left_out": [],
    }
    assert data["themes"][1] == {
        "id": "strategy",
        "title": "Regional strategy",
        "order": 2,
        "findings": 1,
    }
    first = data["findings"][0]
    assert first["id"] == "orders-through-networks"
    assert first["theme"] == "networks"
    assert first["audiences"] == {
        "federal": {"priority": "high", "actions": 1},
        "sme": {"priority": "high", "actions": 1},
    }
    assert first["evidence"] == [
        {
            "source": "alpha-2020",
            "locator": "paragraph 1",
            "quote": "42 percent of orders now arrive through shared supplier networks",
            "stance": "reports",
            "speaker": "regional toolmakers",
            "as_of": None,
        },
        {
            "source": "alpha-2020",
            "locator": "paragraph 1",
            "quote": "That share was 12 percent in 2011, 18 percent in 2014 and 27 percent in 2017",
            "stance": "reports",
            "speaker": None,
            "as_of": None,
        },
    ]
    [figure] = first["figures"]
    assert figure["value"] == "42%" and figure["locator"] == "paragraph 1"
    assert figure["chart"]["kind"] == "bar" and figure["chart"]["unit"] == "%"
    assert figure["chart"]["points"][0] == {"label": "2011", "value": 12.0}
    assert data["findings"][1]["contrasts"] == ["clusters-often-fail"]
    beta = data["sources"][1]
    assert beta["id"] == "beta-2021"
    assert beta["snapshot"] == "beta.txt"
    assert beta["findings"] == 1
    assert beta["csl"] == {
        "id": "beta-2021",
        "type": "article-magazine",
        "title": "Review of Cluster Policy",
        "author": [{"family": "Beta", "given": "Ann"}],
        "container-title": "Policy Review",
        "issued": {"date-parts": [[2021, 6, 1]]},
        "DOI": "10.1234/beta.2021",
    }


def test_list_refuses_an_invalid_project(cli, mini_project):
    (mini_project / "findings" / "audiences.yaml").write_text("audiences: []\n", "utf-8")
    result = cli("list", "--project", mini_project)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "findings/audiences.yaml:1:12: error:" in result.stderr


def test_custom_brief_from_a_theme(cli, mini_project):
    result = cli(
        "build",
        "federal",
        "--theme",
        "strategy",
        "--format",
        "html",
        "--title",
        "Cluster policy",
        "--project",
        mini_project,
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((mini_project / "output" / "manifest.json").read_text("utf-8"))
    entry = manifest["briefs"]["federal-strategy"]
    assert entry["custom"] is True
    assert entry["title"] == "Cluster policy"
    assert entry["findings"] == ["clusters-often-fail"]
    html = (mini_project / "output" / "federal-strategy.html").read_text("utf-8")
    assert "Cluster programmes have often failed" in html
    assert "Many orders now come through shared supplier networks" not in html


def test_a_bug_is_reported_without_a_traceback(cli, mini_project, monkeypatch):
    import policy_briefs.build as build_module

    def broken(*_args, **_kwargs):
        raise RuntimeError("simulated defect")

    monkeypatch.setattr(build_module.BuildOptions, "plan", broken)
    result = cli("build", "--project", mini_project)
    assert result.exit_code == 70
    assert "Traceback" not in result.output
    assert "\ninternal error: RuntimeError: simulated defect\n" in f"\n{result.stderr}"
    assert "BRIEFS_DEBUG=1" in result.stderr


def test_real_build_as_a_subprocess(mini_project):
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1768435200", "CI": "1"}
    result = subprocess.run(
        [str(BIN / "briefs"), "build", "--project", str(mini_project)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=mini_project,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "weasyprint" not in result.stderr
    out = mini_project / "output"
    written = result.stdout.split()
    for name in ("federal.pdf", "federal.html", "sme.pdf", "sme.html", "manifest.json"):
        assert f"output/{name}" in written

    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["tool"]["name"] == "policy-briefs"
    assert manifest["tool"]["version"] == __version__
    federal = manifest["briefs"]["federal"]
    assert federal["audience"] == "federal"
    assert federal["findings"] == [
        "orders-through-networks",
        "commons-keeps-firms-competitive",
        "clusters-often-fail",
    ]
    assert federal["sources"] == ["alpha-2020", "beta-2021"]
    assert federal["built_at"] == "2026-01-15T00:00:00Z"
    assert len(federal["input_hash"]) == 64 and int(federal["input_hash"], 16) >= 0
    assert federal["input_hash"] != manifest["briefs"]["sme"]["input_hash"]
    for slug, entry in manifest["briefs"].items():
        for fmt, meta in entry["files"].items():
            data = (out / meta["path"]).read_bytes()
            assert meta["path"] == f"{slug}.{fmt}"
            assert meta["sha256"] == hashlib.sha256(data).hexdigest()
            assert meta["bytes"] == len(data)
        with pikepdf.open(out / entry["files"]["pdf"]["path"]) as pdf:
            assert entry["pages"] == len(pdf.pages)
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))

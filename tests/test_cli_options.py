"""The command line as an analyst meets it: global options anywhere, the project found
from any subfolder, completion, readable help, plain-word errors, exit codes, JSON."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from policy_briefs.changes import compare
from policy_briefs.cli import app
from policy_briefs.loader import load_yaml
from support.mini import FEDERAL_FINDING, MINI

BRIEFS = [sys.executable, "-m", "policy_briefs"]


def run(*args: str | Path, cwd: Path | None = None, env: dict | None = None):
    return subprocess.run(
        [*BRIEFS, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


# --- where options go, where the project is ----------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("--project", MINI, "list"),
        ("list", "--project", MINI),
        ("-p", MINI, "list"),
        ("-q", "list", "-p", MINI),
        ("list", "-p", MINI, "-v"),
    ],
)
def test_global_options_before_or_after_the_command(cli, args):
    result = cli(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Audiences (2)\n  federal")


def test_the_option_after_the_command_wins(cli, mini_project: Path, tmp_path: Path):
    result = cli("--project", tmp_path / "nowhere", "list", "--project", mini_project)
    assert result.exit_code == 0, result.output


def test_the_option_before_the_command_beats_the_environment(cli, monkeypatch):
    monkeypatch.setenv("BRIEFS_PROJECT", "/nowhere/at/all")
    assert cli("--project", MINI, "list").exit_code == 0
    result = cli("list")
    assert result.exit_code == 1 and "'/nowhere/at/all' does not exist" in result.stderr


def test_verbose_and_quiet_before_or_after(cli, mini_project: Path):
    loud = cli("-v", "check", "-p", mini_project)
    assert loud.exit_code == 0
    assert re.search(r"^\[ *\d+\.\ds\] validating", loud.stderr, re.M)
    after = cli("check", "-p", mini_project, "--verbose")
    assert re.search(r"^\[ *\d+\.\ds\] validating", after.stderr, re.M)
    plain = cli("check", "-p", mini_project)
    assert "federal brief: 3 findings" in plain.stderr and "[" not in plain.stderr
    for quiet in (("-q", "check", "-p", mini_project), ("check", "-p", mini_project, "--quiet")):
        result = cli(*quiet)
        assert result.exit_code == 0
        assert result.stderr == "no problems\n"  # the verdict only: no notes, no progress


def test_the_project_is_found_from_a_subfolder(mini_project: Path):
    (mini_project / "findings" / "drafts").mkdir()
    for where in (mini_project / "findings", mini_project / "findings" / "drafts"):
        result = run("list", "--json", cwd=where, env={"BRIEFS_PROJECT": ""})
        assert result.returncode == 0, result.stderr
        assert {a["id"] for a in json.loads(result.stdout)["audiences"]} == {"federal", "sme"}


def test_a_folder_with_findings_only_is_a_project(cli, mini_project: Path, monkeypatch):
    (mini_project / "briefs.toml").unlink()
    monkeypatch.delenv("BRIEFS_PROJECT", raising=False)
    monkeypatch.chdir(mini_project / "findings")
    assert cli("list").exit_code == 0


def test_no_project_anywhere_above(cli, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("BRIEFS_PROJECT", raising=False)
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path / "empty")
    result = cli("check")
    assert result.exit_code == 1
    assert "no project in" in result.stderr and "briefs new DIR" in result.stderr


# --- exit codes and plain words ----------------------------------------------------


def test_bare_briefs_gives_an_overview_and_exits_0(tmp_path: Path):
    result = run(cwd=tmp_path, env={"BRIEFS_PROJECT": ""})
    assert result.returncode == 0, result.stderr
    for words in (
        "briefs new DIR",
        "briefs serve --open",
        "briefs check",
        "briefs build",
        "No project in this folder",
    ):
        assert words in result.stdout
    inside = run(cwd=MINI / "findings", env={"BRIEFS_PROJECT": ""})
    assert inside.returncode == 0 and "Project: " in inside.stdout


def test_exit_codes(cli):
    assert cli("sources").exit_code == 0
    assert cli("--help").exit_code == 0
    assert cli("nonsense").exit_code == 2
    assert cli("build", "--jobs", "-1", "-p", MINI).exit_code == 2


def test_a_bad_choice_in_plain_words(cli):
    result = cli("build", "--format", "docx", "-p", MINI)
    assert result.exit_code == 2
    words = " ".join(result.output.replace("│", " ").split())
    assert "'docx' is not a format; choose pdf, html or all" in words
    assert "Value error" not in words


def test_yaml_syntax_in_plain_words_with_the_parser_hint(tmp_path: Path):
    path = tmp_path / "theme.yaml"
    path.write_text("findings:\n  - id: a\n   headline: b\n", "utf-8")
    _doc, problems = load_yaml(path, tmp_path)
    (problem,) = problems
    assert str(problem) == (
        "theme.yaml:3:4: error: YAML syntax: this line is indented differently from the "
        "lines before it; keys of one mapping, and items of one list, must line up "
        "(parser: while parsing a block collection started at line 2: expected <block end>, "
        "but found '<block mapping start>')"
    )


# --- help and completion ------------------------------------------------------------


def _commands(group, prefix=()):
    ctx = typer.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield (*prefix, name)
        if hasattr(command, "list_commands"):
            yield from _commands(command, (*prefix, name))


TYPE_NAMES = re.compile(
    r"<(bool|str|int|float|path|list\[[^\]]*\])>|\[x[<>]=|<=x|\b(INTEGER|BOOLEAN|FLOAT)\b"
)


def test_help_names_values_not_types(cli):
    commands = [(), *_commands(typer.main.get_command(app))]
    assert ("serve",) in commands and ("new",) in commands and ("sources", "check") in commands
    for command in commands:
        result = cli(*command, "--help")
        assert result.exit_code == 0, command
        found = TYPE_NAMES.search(result.stdout)
        assert found is None, f"briefs {' '.join(command)} --help shows {found[0]!r}"
        if command not in ((), ("sources",), ("new",)):
            assert "--verbose" in result.stdout and "--quiet" in result.stdout, command


def test_completion_script_and_answers():
    # The installed command: completion is keyed on the program's name.
    script = subprocess.run(
        [Path(sys.executable).parent / "briefs", "--show-completion", "bash"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert script.returncode == 0
    assert "_BRIEFS_COMPLETE=complete_bash" in script.stdout
    assert "complete -o default -F _briefs_completion briefs" in script.stdout

    def complete(words: str) -> list[str]:
        env = {
            "_BRIEFS_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split(" ")) - 1),
        }
        return subprocess.run(
            [Path(sys.executable).parent / "briefs"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **env},
        ).stdout.split()

    assert complete("briefs se") == ["send", "serve"]
    assert complete("briefs build --format ") == ["pdf", "html", "all"]


# --- list, diff, send ------------------------------------------------------------------


def test_list_columns_line_up_for_long_ids(cli, mini_project: Path):
    long_id = "networks-need-brokers-who-know-every-firm-and-every-order-in-the-region"
    networks = mini_project / "findings" / "networks.yaml"
    networks.write_text(
        networks.read_text("utf-8") + FEDERAL_FINDING.replace("networks-need-brokers", long_id),
        "utf-8",
    )
    result = cli("list", "-p", mini_project)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = lines.index("Findings (4)") + 1
    rows = lines[start : start + 4]
    assert any(long_id in row for row in rows)
    columns = {len(row) - len(row.split()[-1]) for row in rows}
    assert len(columns) == 1, rows  # every theme starts in the same column
    assert all(re.match(r"  \S+ {2,}\S+$", row) for row in rows)


def _inputs(fields: dict[str, dict[str, str]] | None) -> dict:
    inputs = {
        "brief": "b",
        "findings": {f: "".join(v.values()) for f, v in (fields or {}).items()},
        "themes": {},
        "sources": {},
        "settings": {},
        "design": "d",
        "environment": {},
    }
    if fields is not None:
        inputs["finding_fields"] = fields
    return inputs


def test_diff_names_the_fields_of_an_edited_finding():
    old = _inputs({"a": {"headline": "1", "evidence": "2", "audiences.sme": "3"}})
    new = _inputs(
        {"a": {"headline": "1", "evidence": "9", "audiences.sme": "3", "audiences.federal": "4"}}
    )
    change = compare("sme", "SME", {"inputs": old}, new)
    assert change.findings_edited == ["a"]
    assert change.fields_edited == {"a": ["evidence", "audiences.federal"]}
    # A baseline recorded before fields were: the finding is edited, fields unknown.
    older = {k: v for k, v in old.items() if k != "finding_fields"}
    change = compare("sme", "SME", {"inputs": older}, new)
    assert change.findings_edited == ["a"] and change.fields_edited == {}


def test_diff_names_edited_fields_end_to_end(cli, mini_build, tmp_path: Path):
    root = mini_build.copy(tmp_path)
    networks = root / "findings" / "networks.yaml"
    text = networks.read_text("utf-8")
    text = text.replace("Many orders now come", "Most orders now come").replace(
        "Joining a network can bring you orders.", "Joining a network can bring you work."
    )
    networks.write_text(text, "utf-8")
    result = cli("diff", "--json", "-p", root)
    assert result.exit_code == 0, result.output
    briefs = {b["slug"]: b for b in json.loads(result.stdout)["briefs"]}
    assert briefs["sme"]["fields_edited"] == {
        "orders-through-networks": ["headline", "audiences.sme"]
    }
    words = cli("diff", "-p", root).stdout
    assert "`orders-through-networks`: Most orders now come" in words
    assert "(changed: headline, audiences.sme)" in words


def test_send_json(cli, mini_build, tmp_path: Path, monkeypatch):
    for name in ("BRIEFS_SMTP_HOST", "BRIEFS_FROM"):
        monkeypatch.delenv(name, raising=False)
    root = mini_build.copy(tmp_path)
    (root / "stakeholders.yaml").write_text(
        "stakeholders:\n  - name: Ada Lovelace\n    email: ada@example.gov\n"
        "    audiences: [federal, sme]\n",
        "utf-8",
    )
    result = cli("send", "--dry-run", "--json", "-p", root)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["dry_run"]
    assert report["counts"]["would send"] == 3
    assert [(d["recipient"], d["brief"], d["status"]) for d in report["deliveries"]] == [
        ("ada@example.gov", "federal", "would send"),
        ("ada@example.gov", "sme", "would send"),
        ("ada@example.gov", "sme-supplier-networks", "would send"),
    ]
    assert not (root / ".briefs").exists()


# --- options converted without pydantic ----------------------------------------------


def test_plain_options_convert_as_typer_itself_does(tmp_path):
    # The CLI converts text, path, flag and number options itself (no pydantic import on a
    # no-op build); every value must come out, or be refused, exactly as Typer would.
    from typer._coercion import build_runtime_param
    from typer.main import get_command

    (tmp_path / "file.txt").write_text("x", "utf-8")
    values = [None, "", "3", "0", "-1", " 2", "x", "٣", "65536", 2, True, False, (), ("a", "b")]
    values += [str(tmp_path), str(tmp_path / "file.txt"), str(tmp_path / "missing"), "-"]
    group = get_command(app)
    ctx = typer.Context(group)
    checked = 0
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        for param in getattr(command, "params", []):
            plain = getattr(param, "_runtime_param", None)
            if plain is None or type(plain).__name__ != "_PlainParam":
                continue
            typer_own = build_runtime_param(param.type_descriptor)
            for value in values:
                answers = []
                for runtime in (plain, typer_own):
                    try:
                        answers.append(("ok", runtime.coerce(value, param=param, ctx=ctx)))
                    except Exception as exc:  # noqa: BLE001 - compared, not handled
                        answers.append((type(exc).__name__, str(exc)))
                assert answers[0] == answers[1], (name, param.name, value)
                checked += 1
    assert checked > 200

"""The scheduled-regeneration workflow: valid for GitHub, clean for zizmor (offline), and
wired the way the README describes (set-up, check, build, artifacts, publish on change)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
import yaml

from policy_briefs.cli import app

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "briefs.yml"
BIN = Path(sys.executable).parent


def _tool(name: str, *args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / name), *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd
    )


@pytest.fixture(scope="module")
def workflow() -> dict:
    data = yaml.safe_load(WORKFLOW.read_text("utf-8"))
    data["on"] = data.pop(True)  # YAML 1.1 reads the key `on` as true
    return data


def _steps(workflow: dict):
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, step


def test_valid_against_the_github_workflow_schema():
    result = _tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing():
    result = _tool("zizmor", "--offline", "--no-progress", WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_zizmor_would_catch_the_mistakes_this_workflow_avoids(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: issues\n"
        "jobs:\n"
        "  x:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - uses: actions/checkout@v4\n"
        '      - run: echo "${{ github.event.issue.title }}"\n',
        "utf-8",
    )
    result = _tool("zizmor", "--offline", "--no-progress", "--format", "json", bad)
    assert result.returncode != 0
    found = {finding["ident"] for finding in json.loads(result.stdout)}
    assert {"unpinned-uses", "template-injection", "artipacked", "excessive-permissions"} <= found


def test_triggers(workflow):
    on = workflow["on"]
    assert [entry["cron"] for entry in on["schedule"]]
    assert {"findings/**", "templates/**", "src/**", "tests/**"} <= set(on["push"]["paths"])
    assert on["pull_request"]["paths"] == on["push"]["paths"]
    assert "workflow_dispatch" in on


def test_every_action_is_pinned_to_a_commit_with_its_version():
    uses = [
        line.strip()
        for line in WORKFLOW.read_text("utf-8").splitlines()
        if line.strip().startswith(("uses:", "- uses:"))
    ]
    assert len(uses) >= 7
    for line in uses:
        assert re.fullmatch(r"(- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40}  # v\d+\.\d+\.\d+", line), (
            line
        )


def test_least_privilege(workflow):
    assert workflow["permissions"] == {}
    for job_id, job in workflow["jobs"].items():
        granted = job["permissions"]
        if job_id == "deploy":
            assert granted == {"pages": "write", "id-token": "write"}
        elif job_id == "send":
            assert granted == {"contents": "write"}, "it pushes the ledger to briefs-state"
        elif job_id == "shards":
            assert granted == {}, "it reads a variable and checks nothing out"
        elif job_id == "verapdf":
            assert granted == {}  # it checks out nothing: this run's artifact needs no scope
        else:
            assert granted == {"contents": "read"}
    checkouts = [
        s for _, s in _steps(workflow) if s.get("uses", "").startswith("actions/checkout@")
    ]
    assert checkouts and all(s["with"]["persist-credentials"] is False for s in checkouts)


def test_no_expression_is_expanded_inside_a_shell_script(workflow):
    scripts = [step["run"] for _, step in _steps(workflow) if "run" in step]
    assert scripts
    assert not [s for s in scripts if "${{" in s]


def _in_order(steps: list[dict], order: list[str]) -> None:
    text = [step.get("run", step.get("uses", "")) for step in steps]
    positions = [next(i for i, t in enumerate(text) if key in t) for key in order]
    assert positions == sorted(positions)


def test_the_steps_in_order(workflow):
    render = workflow["jobs"]["render"]
    _in_order(
        render["steps"],
        [
            "actions/checkout@",
            "actions/cache/restore@",
            "make setup",
            "briefs check --strict",
            "make briefs",
            "actions/upload-artifact@",
        ],
    )
    build = workflow["jobs"]["build"]["steps"]
    _in_order(
        build,
        [
            "actions/checkout@",
            "actions/cache/restore@",
            "make setup",
            "actions/download-artifact@",
            "briefs merge",
            "changes.json",
            "actions/upload-artifact@",
            "briefs publish",
            "actions/upload-pages-artifact@",
            "actions/cache/save@",
        ],
    )
    by_name = {step["name"]: step for step in build}
    assert "if" not in by_name["Make the site"], "the site is compared, so it is always made"
    assert by_name["Hand the site to Pages"]["if"] == "steps.deployed.outputs.deploy == 'true'"
    assert by_name["Hand the site to Pages"]["with"]["path"] == "output/site"
    assert "output/*.pdf" in by_name["Keep the briefs as artifacts"]["with"]["path"]
    assert "output/manifest.json" in by_name["Keep the briefs as artifacts"]["with"]["path"]
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == ["test", "build"]
    assert deploy["if"].startswith("needs.build.outputs.deploy == 'true'")


def test_a_matrix_renders_the_shards_and_one_job_merges_them(workflow):
    jobs = workflow["jobs"]
    render, build = jobs["render"], jobs["build"]
    assert render["needs"] == ["test", "shards"] and build["needs"] == ["test", "render"]
    assert render["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.shards.outputs.list) }}"
    step = next(s for s in render["steps"] if "make briefs" in s.get("run", ""))
    assert step["env"]["SHARD"] == "${{ matrix.shard }}"
    assert step["env"]["SHARDS"] == "${{ needs.shards.outputs.count }}"
    assert "--shard $SHARD/$SHARDS" in step["run"]
    upload = next(s for s in render["steps"] if "upload-artifact" in s.get("uses", ""))
    fetch = next(s for s in build["steps"] if "download-artifact" in s.get("uses", ""))
    assert upload["with"]["name"] == "shard-${{ matrix.shard }}"
    assert fetch["with"] == {"pattern": "shard-*", "path": "shards"}
    assert any(s.get("run") == ".venv/bin/briefs merge shards/shard-*" for s in build["steps"])
    plan = jobs["shards"]["steps"][0]
    assert plan["env"] == {"BRIEFS_SHARDS": "${{ vars.BRIEFS_SHARDS }}"}


@pytest.mark.parametrize(
    ("variable", "outputs"),
    [
        (None, "count=1\nlist=[1]\n"),
        ("", "count=1\nlist=[1]\n"),
        ("3", "count=3\nlist=[1,2,3]\n"),
        ("0", None),
        ("65", None),
        ("two", None),
        ("1; rm -rf /", None),
    ],
)
def test_the_shard_count_comes_from_the_repository_variable(workflow, tmp_path, variable, outputs):
    step = workflow["jobs"]["shards"]["steps"][0]
    env = {"GITHUB_OUTPUT": str(tmp_path / "outputs"), "PATH": "/usr/bin:/bin"}
    if variable is not None:
        env["BRIEFS_SHARDS"] = variable
    result = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=tmp_path,
        timeout=60,
        capture_output=True,
        text=True,
        env=env,
    )
    if outputs is None:
        assert result.returncode != 0 and "::error::BRIEFS_SHARDS" in result.stdout
    else:
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "outputs").read_text("utf-8") == outputs


def test_the_commands_it_runs_exist(workflow):
    commands = set(typer.main.get_command(app).commands)
    makefile = (ROOT / "Makefile").read_text("utf-8")
    for _, step in _steps(workflow):
        for name in re.findall(r"\.venv/bin/briefs (\w+)", step.get("run", "")):
            assert name in commands, name
        for target in re.findall(r"\bmake (\w+)", step.get("run", "")):
            assert re.search(rf"^{target}:", makefile, re.M), target
    assert "$(BIN)/briefs build $(BRIEFS_ARGS)" in makefile


@pytest.mark.parametrize("changed", [True, False])
def test_the_change_step_reads_the_build_report(workflow, tmp_path, changed):
    step = next(s for _, s in _steps(workflow) if s.get("id") == "changes")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)
    (tmp_path / "output").mkdir()
    (tmp_path / "output" / "changes.json").write_text(json.dumps({"changed": changed}), "utf-8")
    (tmp_path / "output" / "CHANGES.md").write_text("# What changed in this build\n", "utf-8")
    outputs, summary = tmp_path / "outputs", tmp_path / "summary"
    result = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=tmp_path,
        timeout=60,
        capture_output=True,
        text=True,
        env={
            "GITHUB_OUTPUT": str(outputs),
            "GITHUB_STEP_SUMMARY": str(summary),
            "PATH": "/usr/bin:/bin",
        },
    )
    assert result.returncode == 0, result.stderr
    assert outputs.read_text("utf-8") == f"changed={'true' if changed else 'false'}\n"
    assert summary.read_text("utf-8") == "# What changed in this build\n"


def test_the_source_watch_runs_on_schedule_apart_from_the_build(workflow):
    job = workflow["jobs"]["sources"]
    assert "schedule" in job["if"] and "push" not in job["if"]
    assert "needs" not in job, "a site being down must not hold up the briefs"
    runs = [step.get("run", "") for step in job["steps"]]
    assert any(".venv/bin/briefs sources check" in run for run in runs)
    keep = next(step for step in job["steps"] if step.get("name") == "Keep the report")
    assert keep["if"] == "always()" and keep["with"]["path"] == "output/sources-report.json"


def test_verapdf_validates_the_built_pdfs_as_pdf_ua_1(workflow):
    job = workflow["jobs"]["verapdf"]
    assert job["needs"] == "build"
    fetch = job["steps"][0]
    assert fetch["uses"].startswith("actions/download-artifact@")
    uploaded = next(
        s for _, s in _steps(workflow) if s.get("name") == "Keep the briefs as artifacts"
    )
    assert fetch["with"]["name"] == uploaded["with"]["name"]
    validate = next(s["run"] for s in job["steps"] if "--flavour ua1" in s.get("run", ""))
    assert "briefs/*.pdf" in validate and "exit 1" in validate

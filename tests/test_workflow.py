"""The scheduled-regeneration workflow: valid for GitHub, clean for zizmor (offline), and
wired the way the README describes (set-up, check, build, artifacts, publish on change)."""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
import yaml

from policy_briefs.cli import app
from policy_briefs.deliver.ledger import Ledger

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
    assert on["push"]["branches-ignore"] == ["briefs-state"]
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


# --- which jobs and steps run, event by event ----------------------------------------
# The `if` expressions are evaluated, not pattern-matched: a small evaluator for the
# subset of GitHub's expression language this workflow uses (anything else is refused,
# so a new construct cannot slip through unevaluated).

_TOKEN = re.compile(
    r"\s+|(?P<str>'(?:[^']|'')*')|(?P<op>&&|\|\||==|!=|!|\(|\)|,)"
    r"|(?P<name>[A-Za-z_][\w.-]*)|(?P<bad>.)"
)
_FUNCTIONS = {"always", "cancelled", "success", "failure", "format", "hashFiles"}


def _evaluate(expression: str, context: dict) -> object:
    text = expression.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    python = []
    for match in _TOKEN.finditer(text):
        kind, value = match.lastgroup, match.group()
        if kind is None:
            continue
        if kind == "bad":
            raise AssertionError(f"unexpected {value!r} in {expression!r}")
        if kind == "str":
            python.append(repr(value[1:-1].replace("''", "'")))
        elif kind == "op":
            python.append({"&&": " and ", "||": " or ", "!": " not "}.get(value, value))
        elif text[match.end() :].lstrip().startswith("("):
            assert value in _FUNCTIONS, f"unknown function {value} in {expression!r}"
            python.append(f"_{value}")
        else:
            python.append(f"_get({value!r})")

    def get(path: str) -> object:
        value: object = context
        for part in path.split("."):
            value = value.get(part, "") if isinstance(value, dict) else ""
        return value

    results = [job["result"] for job in context.get("needs", {}).values()]
    functions = {
        "_get": get,
        "_always": lambda: True,
        "_cancelled": lambda: False,
        "_success": lambda: all(r == "success" for r in results),
        "_failure": lambda: any(r == "failure" for r in results),
        "_format": lambda pattern, *args: pattern.format(*args),
        "_hashFiles": lambda *patterns: context.get("files", ""),
    }
    # Every token was translated above: names become lookups, so eval sees no free name.
    return eval("".join(python), {"__builtins__": {}}, functions)


def _runs(condition: str | None, context: dict) -> bool:
    """Whether a job or step with this `if` runs: without a status function, GitHub adds
    success() (every needed job succeeded)."""
    results = [job["result"] for job in context.get("needs", {}).values()]
    if condition is None:
        return all(r == "success" for r in results)
    implicit = not re.search(r"\b(always|cancelled|success|failure)\(", condition)
    ok = all(r == "success" for r in results) if implicit else True
    return ok and bool(_evaluate(condition, context))


EVENTS = {
    "pull_request": {"event_name": "pull_request", "ref": "refs/pull/7/merge"},
    "push to main": {"event_name": "push", "ref": "refs/heads/main"},
    "push to a branch": {"event_name": "push", "ref": "refs/heads/topic"},
    "dispatch on main": {"event_name": "workflow_dispatch", "ref": "refs/heads/main"},
    # A scheduled event carries no repository details.
    "schedule": {"event_name": "schedule", "ref": "refs/heads/main", "event": {}},
}


def _github(event: str) -> dict:
    github = {"event": {"repository": {"default_branch": "main"}}, **EVENTS[event]}
    return github


def _simulate(
    workflow: dict, event: str, *, site_deployed: bool = False, fail: tuple[str, ...] = ()
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Each job's result, and the steps each job that ran would run (all succeeding
    except the jobs in ``fail``); the build says the site needs deploying unless
    ``site_deployed``."""
    github = _github(event)
    results: dict[str, str] = {}
    outputs: dict[str, dict[str, str]] = {}
    ran_steps: dict[str, list[str]] = {}
    jobs = workflow["jobs"]
    while len(results) < len(jobs):
        for job_id, job in jobs.items():
            needs = job.get("needs", [])
            needs = [needs] if isinstance(needs, str) else needs
            if job_id in results or any(n not in results for n in needs):
                continue
            context = {
                "github": github,
                "needs": {n: {"result": results[n], "outputs": outputs.get(n, {})} for n in needs},
                "vars": {},
            }
            if not _runs(job.get("if"), context):
                results[job_id] = "skipped"
                continue
            results[job_id] = "failure" if job_id in fail else "success"
            steps: dict[str, dict] = {}
            ran_steps[job_id] = []
            for step in job.get("steps", []):  # every step succeeds, hashFiles finds files
                condition = step.get("if")
                if condition and not _evaluate(
                    condition, {**context, "steps": steps, "files": "f"}
                ):
                    continue
                ran_steps[job_id].append(step["name"])
                if step.get("id") == "deployed":
                    deploy = "false" if site_deployed else "true"
                    steps["deployed"] = {"outputs": {"deploy": deploy, "site": "f00d"}}
                elif "id" in step:
                    steps[step["id"]] = {"outputs": {}, "outcome": "success"}
            outputs[job_id] = {
                name: str(_evaluate(value, {"steps": steps}))
                for name, value in job.get("outputs", {}).items()
            }
    return results, ran_steps


def test_the_evaluator_follows_github_rules():
    context = {"github": _github("push to main"), "needs": {"a": {"result": "success"}}}
    assert _evaluate("github.event_name == 'push' && !(github.ref == 'x')", context) is True
    assert _evaluate("format('refs/heads/{0}', github.event.repository.default_branch)", context)
    assert _evaluate("needs.a.outputs.missing", context) == ""
    assert _runs("github.event_name == 'push'", context)
    assert not _runs(
        "github.event_name == 'push'", {**context, "needs": {"a": {"result": "skipped"}}}
    )
    assert _runs(
        "always() && needs.a.result == 'skipped'",
        {**context, "needs": {"a": {"result": "skipped"}}},
    )
    with pytest.raises(AssertionError, match="unknown function"):
        _evaluate("contains(github.ref, 'x')", context)


def test_a_pull_request_tests_and_builds_and_nothing_more(workflow):
    results, steps = _simulate(workflow, "pull_request")
    ran = {job for job, result in results.items() if result != "skipped"}
    assert ran == {"test", "shards", "render", "build", "verapdf"}
    assert "Make the site" in steps["build"], "the site is built, to see that it builds"
    for name in ("Is this site deployed already?", "Hand the site to Pages"):
        assert name not in steps["build"]
    assert "Save this build for the next run" not in steps["build"], "no cache save"
    for job_id in ran:
        job = workflow["jobs"][job_id]
        assert "secrets." not in json.dumps(job), job_id
        assert "write" not in job["permissions"].values(), job_id
        assert "environment" not in job, job_id


@pytest.mark.parametrize("event", ["push to main", "schedule", "dispatch on main"])
def test_the_default_branch_deploys_a_new_site_then_mails(workflow, event):
    results, steps = _simulate(workflow, event)
    assert results["test"] == results["build"] == results["deploy"] == results["send"] == "success"
    assert "Hand the site to Pages" in steps["build"]
    assert "Save this build for the next run" in steps["build"]
    assert "Record the deployed site" in steps["send"]
    assert results["sources"] == ("skipped" if event == "push to main" else "success")


def test_a_deployed_site_is_not_deployed_again_but_mail_still_goes(workflow):
    """A run with nothing new to deploy still retries the mail left pending."""
    results, steps = _simulate(workflow, "schedule", site_deployed=True)
    assert results["deploy"] == "skipped"
    assert results["send"] == "success"
    assert "Hand the site to Pages" not in steps["build"]
    assert "Record the deployed site" not in steps["send"]


def test_a_failed_deploy_sends_nothing_and_is_retried(workflow):
    results, _ = _simulate(workflow, "schedule", fail=("deploy",))
    assert results["send"] == "skipped", "mail would link to a site that is not there"
    # Nothing recorded it as deployed, so the next run's build finds a different site
    # and deploys it again, even though no brief changed.
    step = next(s for s in workflow["jobs"]["build"]["steps"] if s.get("id") == "deployed")
    assert "should-deploy output/site" in step["run"]


def test_failing_tests_stop_every_build_deploy_and_send(workflow):
    results, _ = _simulate(workflow, "schedule", fail=("test",))
    assert {job for job, r in results.items() if r not in ("skipped", "failure")} == {"sources"}
    for job_id in ("render", "build", "deploy", "send"):
        assert "test" in workflow["jobs"][job_id]["needs"], job_id


def test_another_branch_builds_but_neither_deploys_nor_mails(workflow):
    results, steps = _simulate(workflow, "push to a branch")
    assert results["build"] == "success"
    assert results["deploy"] == results["send"] == "skipped"
    assert "Is this site deployed already?" not in steps["build"]


def test_the_test_job_runs_the_readme_test_command(workflow):
    job = workflow["jobs"]["test"]
    assert [s["run"] for s in job["steps"] if "run" in s] == ["make test"]
    # .ci/system-deps installs Debian's packages (chromium, fonts-sil-charis, ...).
    assert job["container"] == "python:3.11-bookworm"
    assert "make test" in (ROOT / "README.md").read_text("utf-8")
    assert "needs" not in job and "if" not in job


# --- the send job: secrets, least privilege, the durable ledger -----------------------


def _send_job(workflow: dict) -> dict:
    return workflow["jobs"]["send"]


def _step(job: dict, name: str) -> dict:
    return next(s for s in job["steps"] if s["name"] == name)


def test_send_follows_deploy_in_a_protected_environment_one_run_at_a_time(workflow):
    job = _send_job(workflow)
    assert set(job["needs"]) >= {"test", "build", "deploy"}
    assert job["environment"] == {"name": "stakeholders"}
    assert job["concurrency"] == {"group": "briefs-state", "cancel-in-progress": False}
    assert "${{" not in job["concurrency"]["group"], "one group across branches and runs"


def test_only_the_send_job_may_write_contents(workflow):
    writers = {
        (job_id, scope)
        for job_id, job in workflow["jobs"].items()
        for scope, access in job["permissions"].items()
        if access == "write"
    }
    assert writers == {("send", "contents"), ("deploy", "pages"), ("deploy", "id-token")}


def test_secret_values_reach_only_the_send_step(workflow):
    job = _send_job(workflow)
    for job_id, step in _steps(workflow):
        for name, value in step.get("env", {}).items():
            if "secrets." not in str(value):
                continue
            assert job_id == "send", (job_id, name)
            if step["name"] != "Send the new briefs":
                # Elsewhere only whether a secret is set, never its value.
                assert re.fullmatch(r"\$\{\{ secrets\.\w+ != '' \}\}", value), value
    send = _step(job, "Send the new briefs")
    assert send["if"] == "steps.mail.outputs.send == 'true'"
    assert {
        "BRIEFS_SMTP_HOST", "BRIEFS_SMTP_PORT", "BRIEFS_SMTP_USER", "BRIEFS_SMTP_PASSWORD",
        "BRIEFS_SMTP_STARTTLS", "BRIEFS_FROM", "BRIEFS_STAKEHOLDERS_YAML",
    } <= {k for k, v in send["env"].items() if v == f"${{{{ secrets.{k} }}}}"}  # fmt: skip
    assert "secrets" not in json.dumps({k: v for k, v in workflow.items() if k != "jobs"})


def test_the_token_goes_only_to_the_steps_that_need_it(workflow):
    for _, step in _steps(workflow):
        if "GH_TOKEN" in step.get("env", {}):
            assert step["env"]["GH_TOKEN"] == "${{ github.token }}"
            assert "state_branch.py" in step["run"] or "gh api" in step["run"], step["name"]


def test_the_ledger_is_never_cached_and_always_committed(workflow):
    for job_id, step in _steps(workflow):
        if step.get("uses", "").startswith("actions/cache"):
            assert not re.search(r"ledger|\.briefs|state", str(step["with"]["path"]))
            assert job_id != "send"
    job = _send_job(workflow)
    names = [s["name"] for s in job["steps"]]
    send = _step(job, "Send the new briefs")
    assert '--ledger "$RUNNER_TEMP/briefs-state/ledger.sqlite"' in send["run"]
    commit = _step(job, "Commit the state")
    assert names[-1] == "Commit the state" and names.index("Send the new briefs") < len(names) - 1
    assert commit["if"] == "always() && steps.state.outcome == 'success'"
    assert "state_branch.py commit" in commit["run"]
    fetch = _step(job, "Fetch the state branch")
    assert fetch["id"] == "state" and "state_branch.py fetch" in fetch["run"]
    assert names.index("Fetch the state branch") < names.index("Send the new briefs")


def test_a_new_ledger_only_when_the_state_branch_has_none(workflow):
    send = _step(_send_job(workflow), "Send the new briefs")
    assert send["env"]["NEW_LEDGER"] == "${{ steps.state.outputs.ledger == 'absent' }}"
    assert 'if [ "$NEW_LEDGER" = true ]' in send["run"]
    assert send["run"].count("--new-ledger") == 1


# --- the steps' scripts, run ------------------------------------------------------------


def _workspace(tmp_path: Path) -> Path:
    """A stand-in for the runner's checkout: the venv's commands and the workflow's
    scripts where the steps look for them, `python` on PATH."""
    work = tmp_path / "work"
    (work / ".venv" / "bin").mkdir(parents=True)
    for name in ("python", "briefs"):
        (work / ".venv" / "bin" / name).symlink_to(BIN / name)
    (work / ".github").mkdir()
    (work / ".github" / "scripts").symlink_to(ROOT / ".github" / "scripts")
    (tmp_path / "path").mkdir()
    (tmp_path / "path" / "python").symlink_to(sys.executable)
    return work


def _run(step: dict, cwd: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir(exist_ok=True)
    base = {
        "PATH": f"{tmp_path / 'path'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_OUTPUT": str(tmp_path / "outputs"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "GITHUB_REPOSITORY": "example/briefs",
    }
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(("status", "passes"), [(0, True), (1, True), (2, False), (70, False)])
def test_the_source_watch_reports_vanished_quotes_without_failing(
    workflow, tmp_path, status, passes
):
    work = _workspace(tmp_path)
    fake = work / ".venv" / "bin" / "briefs"
    fake.unlink()
    fake.write_text(f'#!/bin/sh\necho "checked: $*"\nexit {status}\n', "utf-8")
    fake.chmod(0o755)
    step = next(s for s in workflow["jobs"]["sources"]["steps"] if s.get("id") == "watch")
    result = _run(step, work, tmp_path)
    assert "checked: sources check" in result.stdout
    assert (result.returncode == 0) is passes, result.stdout
    assert ("::warning::quotes vanished" in result.stdout) is (status == 1)
    summary = _step(workflow["jobs"]["sources"], "Summarise the report")
    assert summary["if"].startswith("always()") and "$GITHUB_STEP_SUMMARY" in summary["run"]


def test_the_sources_summary_escapes_what_came_from_the_web(tmp_path):
    report = {
        "checked": "2026-01-05T05:23:00Z",
        "summary": {"reachable": 1, "gone": 1, "quotes": 2, "quotes_vanished": 1},
        "vanished": [
            {"finding": "f-1", "source": "s-1", "quote": "a | b", "url": "https://x.org/<script>"}
        ],
        "sources": [
            {"id": "s-1", "status": "reachable"},
            {"id": "s-2", "status": "gone", "http_status": 404, "error": "`pwned` <img src=x>"},
        ],
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report), "utf-8")
    script = ROOT / ".github" / "scripts" / "sources_summary.py"
    result = subprocess.run(
        [sys.executable, script, path], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    out = result.stdout
    assert "1 reachable, 1 gone; 1 of 2 quotes vanished" in out
    assert "| f-1 | s-1 | a &#124; b | https://x.org/&lt;script&gt; |" in out
    assert "| s-2 | gone | &#96;pwned&#96; &lt;img src=x&gt; |" in out
    assert "<script>" not in out and "<img" not in out
    path.write_text("{not json", "utf-8")
    result = subprocess.run(
        [sys.executable, script, path], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "::warning::" in result.stdout


@pytest.fixture
def fake_gh(tmp_path):
    """`gh api repos/...` answering with the repository's visibility."""

    def install(visibility: str) -> None:
        gh = tmp_path / "path" / "gh"
        gh.write_text(f'#!/bin/sh\n[ "$1 $2" = "api repos/example/briefs" ] && echo {visibility}\n')
        gh.chmod(0o755)

    return install


@pytest.mark.parametrize(
    ("configured", "visibility", "passes", "send", "says"),
    [
        ((), "private", True, "false", "::notice::no mail"),
        (("HOST", "FROM", "STAKEHOLDERS"), "private", True, "true", ""),
        (("HOST", "FROM", "STAKEHOLDERS"), "internal", True, "true", ""),
        (("HOST", "FROM", "STAKEHOLDERS"), "public", False, None, "would publish the recipients"),
        (("HOST",), "private", False, None, "set the secrets BRIEFS_FROM BRIEFS_STAKEHOLDERS_YAML"),
    ],
)
def test_mail_is_skipped_with_a_notice_refused_when_half_set_or_public(
    workflow, tmp_path, fake_gh, configured, visibility, passes, send, says
):
    work = _workspace(tmp_path)
    fake_gh(visibility)
    step = _step(_send_job(workflow), "Is mail configured?")
    flags = {f"HAS_{n}": str(n in configured).lower() for n in ("HOST", "FROM", "STAKEHOLDERS")}
    result = _run(step, work, tmp_path, GH_TOKEN="t", **flags)
    assert (result.returncode == 0) is passes, result.stdout + result.stderr
    assert says in result.stdout
    outputs = tmp_path / "outputs"
    assert (outputs.read_text("utf-8") if outputs.exists() else "") == (
        f"send={send}\n" if send else ""
    )


# --- the state branch ---------------------------------------------------------------------


def _state_module():
    spec = importlib.util.spec_from_file_location(
        "state_branch", ROOT / ".github" / "scripts" / "state_branch.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def remote(tmp_path, monkeypatch) -> Path:
    """An empty bare repository standing in for the GitHub repository."""
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--quiet", "--bare", bare], check=True, timeout=60)
    monkeypatch.setenv("STATE_REMOTE", bare.as_uri())
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    return bare


def _branch_files(bare: Path) -> dict[str, bytes]:
    names = subprocess.run(
        ["git", "-C", bare, "ls-tree", "--name-only", "briefs-state"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split()  # fmt: skip
    return {
        n: subprocess.run(
            ["git", "-C", bare, "show", f"briefs-state:{n}"], capture_output=True, check=True
        ).stdout
        for n in names
    }


def _log(bare: Path) -> list[str]:
    return subprocess.run(
        ["git", "-C", bare, "log", "--format=%s", "briefs-state"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.splitlines()  # fmt: skip


def test_the_state_branch_is_started_once_then_carried_on(remote, tmp_path, capsys):
    state = _state_module()
    assert state.main(["fetch", str(tmp_path / "a")]) == 0
    assert "exists=false\nledger=absent" in capsys.readouterr().out
    state.record_deploy(tmp_path / "a", "d1")
    assert state.main(["commit", str(tmp_path / "a"), "--briefs", str(BIN / "briefs")]) == 0
    assert _log(remote) == ["no mail sent; site deployed"]
    files = _branch_files(remote)
    assert set(files) == {".gitignore", ".gitattributes", "deployed.json"}
    assert json.loads(files["deployed.json"])["site_sha256"] == "d1"

    assert state.main(["fetch", str(tmp_path / "b")]) == 0
    assert "exists=true\nledger=absent" in capsys.readouterr().out
    assert state.main(["commit", str(tmp_path / "b")]) == 0
    assert "nothing to commit" in capsys.readouterr().out
    assert len(_log(remote)) == 1


def test_an_unreachable_state_branch_is_never_taken_for_a_missing_one(
    remote, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("STATE_REMOTE", (tmp_path / "no-such-repository.git").as_uri())
    state = _state_module()
    assert state.main(["fetch", str(tmp_path / "a")]) == 1
    assert "::error::state branch: cannot read the branch briefs-state" in capsys.readouterr().out


def test_a_symlink_on_the_state_branch_is_refused(remote, tmp_path, capsys):
    state = _state_module()
    state.main(["fetch", str(tmp_path / "a")])
    (tmp_path / "a" / "ledger.sqlite").symlink_to(tmp_path / "elsewhere.sqlite")
    assert state.main(["commit", str(tmp_path / "a")]) == 0
    capsys.readouterr()
    assert state.main(["fetch", str(tmp_path / "b")]) == 1
    assert (
        "ledger.sqlite on the branch briefs-state is not a regular file" in capsys.readouterr().out
    )


def test_the_site_is_deployed_unless_this_very_site_was(remote, tmp_path, capsys):
    state = _state_module()
    site = tmp_path / "site"
    (site / "briefs").mkdir(parents=True)
    (site / "index.html").write_text("<h1>Briefs</h1>", "utf-8")
    (site / "briefs" / "a.html").write_text("A", "utf-8")
    digest = state.site_digest(site)

    def should_deploy(scratch: str) -> str:
        assert state.main(["should-deploy", str(site), "--scratch", str(tmp_path / scratch)]) == 0
        return capsys.readouterr().out

    assert f"site={digest}\ndeploy=true" in should_deploy("s1")  # no branch yet
    state.main(["fetch", str(tmp_path / "st")])
    state.record_deploy(tmp_path / "st", digest)
    state.main(["commit", str(tmp_path / "st")])
    assert "deploy=false" in should_deploy("s2")
    (site / "briefs" / "a.html").write_text("A, revised", "utf-8")
    assert "deploy=true" in should_deploy("s3")
    (site / "briefs" / "a.html").write_text("A", "utf-8")
    (site / "briefs" / "a.html").rename(site / "briefs" / "b.html")  # same bytes, new name
    assert "deploy=true" in should_deploy("s4")


def test_an_unreadable_state_means_deploy_again(remote, tmp_path, monkeypatch, capsys):
    state = _state_module()
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("x", "utf-8")
    monkeypatch.setenv("STATE_REMOTE", (tmp_path / "gone.git").as_uri())
    assert (
        state.main(["should-deploy", str(tmp_path / "site"), "--scratch", str(tmp_path / "s")]) == 0
    )
    out = capsys.readouterr().out
    assert "::warning::the state branch could not be read" in out and "deploy=true" in out


def test_the_commit_message_counts_the_mail(tmp_path):
    state = _state_module()
    report = tmp_path / "send.json"
    report.write_text(
        json.dumps({"counts": {"sent": 3, "pending": 1, "failed": 0}, "up_to_date": 12}), "utf-8"
    )
    assert state._send_counts(report) == "mail: 3 sent, 1 pending, 12 up to date"
    report.write_text("", "utf-8")  # send stopped before it reported
    assert state._send_counts(report) == "no mail sent"
    report.write_text("[1]", "utf-8")
    assert state._send_counts(report) == "mail: the send report is unreadable"


# --- `briefs ledger export`: the text twin of the ledger on the state branch -----------


@pytest.fixture
def ledger(tmp_path) -> Path:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as book:
        first = book.start("federal", "a" * 64, "ada@example.gov", "smtp", "<m1@x>", {})
        book.mark_sending(first.id)
        book.mark_sent(first.id)
        findings = {"f-1": ["Headline, with a comma", "sha"]}
        second = book.start("sme", "b" * 64, "lin@example.net", "smtp", "<m2@x>", findings)
        book.mark_pending(second.id, '451 try "later"')
        book.set_unsubscribed("gone@example.org", True)
    return path


def test_the_ledger_exports_as_json_one_line_per_delivery(cli, ledger):
    result = cli("ledger", "export", "--ledger", ledger)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["schema_version"] == 2
    assert [(d["id"], d["recipient"], d["status"]) for d in data["deliveries"]] == [
        (1, "ada@example.gov", "sent"),
        (2, "lin@example.net", "pending"),
    ]
    assert data["deliveries"][1]["findings"] == {"f-1": ["Headline, with a comma", "sha"]}
    assert data["deliveries"][1]["error"] == '451 try "later"'
    assert [u["recipient"] for u in data["unsubscribed"]] == ["gone@example.org"]
    lines = result.stdout.splitlines()
    assert sum('"recipient": "' in line for line in lines) == 3, "one line per record"
    assert cli("ledger", "export", "--ledger", ledger).stdout == result.stdout


def test_a_status_change_is_a_one_line_diff(cli, ledger):
    before = cli("ledger", "export", "--ledger", ledger).stdout.splitlines()
    with Ledger(ledger) as book:
        book.mark_sent(2)
    after = cli("ledger", "export", "--ledger", ledger).stdout.splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1 and '"status": "sent"' in changed[0][1]


def test_the_ledger_exports_as_csv(cli, ledger, tmp_path):
    out = tmp_path / "ledger.csv"
    result = cli("ledger", "export", "--ledger", ledger, "--format", "csv", "--out", out)
    assert result.exit_code == 0 and result.stdout == ""
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert [r["recipient"] for r in rows] == ["ada@example.gov", "lin@example.net"]
    assert rows[0]["sent_at"] and rows[1]["sent_at"] == ""
    assert json.loads(rows[1]["findings"]) == {"f-1": ["Headline, with a comma", "sha"]}


def test_the_export_changes_nothing_and_refuses_what_is_not_a_ledger(cli, ledger, tmp_path):
    before, files = ledger.read_bytes(), sorted(tmp_path.iterdir())
    cli("ledger", "export", "--ledger", ledger)
    assert ledger.read_bytes() == before and sorted(tmp_path.iterdir()) == files

    missing = cli("ledger", "export", "--ledger", tmp_path / "none.sqlite")
    assert missing.exit_code == 1 and "error: no ledger at" in missing.stderr
    assert not (tmp_path / "none.sqlite").exists()
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(before[:4096] + b"\xff" * (len(before) - 4096))
    result = cli("ledger", "export", "--ledger", damaged)
    assert result.exit_code == 1 and result.stderr.startswith(f"error: ledger {damaged}")
    assert "Traceback" not in result.stderr
    foreign = tmp_path / "notes.txt"
    foreign.write_text("not a ledger\n", "utf-8")
    result = cli("ledger", "export", "--ledger", foreign)
    assert result.exit_code == 1 and "not a SQLite file" in result.stderr
    bad = cli("ledger", "export", "--ledger", ledger, "--format", "xml")
    assert bad.exit_code == 2 and "'xml' is not a format; choose json or csv" in bad.stderr


# --- the send job's steps end to end: real SMTP, a real git remote ------------------------

STAKEHOLDERS_YAML = """\
stakeholders:
  - name: Ada Lovelace
    email: ada@example.gov
    audiences: [federal]
  - name: Grace Hopper
    email: grace@example.com
    audiences: [sme, federal]
  - name: Lin Wei
    email: lin@example.net
    audiences: [sme]
"""


class _Server:
    """aiosmtpd handler: records messages, refuses the addresses in ``refuse``."""

    def __init__(self):
        self.received: list[list[str]] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(list(envelope.rcpt_tos))
        return "250 2.0.0 Accepted"


def test_the_send_job_mails_once_and_commits_the_ledger_even_after_a_failure(
    workflow, mini_build, tmp_path, remote
):
    from aiosmtpd.controller import Controller

    job = _send_job(workflow)
    project = mini_build.copy(tmp_path)
    for name in ("python", "briefs"):
        (project / ".venv" / "bin").mkdir(parents=True, exist_ok=True)
        (project / ".venv" / "bin" / name).symlink_to(BIN / name)
    (project / ".github").mkdir(exist_ok=True)
    (project / ".github" / "scripts").symlink_to(ROOT / ".github" / "scripts")
    (tmp_path / "path").mkdir()
    (tmp_path / "path" / "python").symlink_to(sys.executable)
    server = _Server()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    controller = Controller(server, hostname="127.0.0.1", port=int(port))
    controller.start()
    try:
        secrets = {
            "BRIEFS_SMTP_HOST": "127.0.0.1",
            "BRIEFS_SMTP_PORT": port,
            "BRIEFS_SMTP_STARTTLS": "0",
            "BRIEFS_SMTP_USER": "",  # an unset secret is an empty string
            "BRIEFS_SMTP_PASSWORD": "",
            "BRIEFS_FROM": "Policy Unit <briefs@example.org>",
            "BRIEFS_STAKEHOLDERS_YAML": STAKEHOLDERS_YAML,
            "BRIEFS_SITE_URL": "",
            "BRIEFS_SMTP_RETRY_WAIT": "0.01",
        }

        def run_job(n: int, **inputs: str) -> dict[str, subprocess.CompletedProcess]:
            """One run of the job's steps, on a fresh runner (its own RUNNER_TEMP)."""
            temp = tmp_path / f"run-{n}"
            (temp / "runner-temp").mkdir(parents=True)
            (tmp_path / "outputs").unlink(missing_ok=True)
            env = {
                "STATE_REMOTE": remote.as_uri(),
                "GITHUB_RUN_ID": str(n),
                "RUNNER_TEMP": str(temp / "runner-temp"),
            }
            done = {"fetch": _run(_step(job, "Fetch the state branch"), project, tmp_path, **env)}
            assert done["fetch"].returncode == 0, done["fetch"].stdout
            ledger = "absent" if "ledger=absent" in done["fetch"].stdout else "present"
            send_step = _step(job, "Send the new briefs")
            new_ledger = str(ledger == "absent").lower()
            done["send"] = _run(
                send_step, project, tmp_path, **env, **secrets, **inputs, NEW_LEDGER=new_ledger
            )
            done["commit"] = _run(_step(job, "Commit the state"), project, tmp_path, **env)
            leftovers = sorted(p.name for p in (temp / "runner-temp").iterdir())
            assert "stakeholders.yaml" not in leftovers, "the secret file outlives the step"
            report = temp / "runner-temp" / "send.json"
            assert report.stat().st_mode & 0o077 == 0, "made under umask 077"
            for result in done.values():  # the log shows no recipient
                assert "@example." not in result.stdout + result.stderr, result
            return done

        # First run: no state branch; the server refuses one address for good. Readers
        # of sme get its brief and the mini project's edition for them.
        server.refuse.add("lin@example.net")
        first = run_job(1)
        assert first["send"].returncode == 1
        assert "::notice::briefs-state holds no ledger: starting a new one" in first["send"].stdout
        assert "mail: 4 sent, 2 failed, 0 up to date" in first["send"].stdout
        assert first["commit"].returncode == 0, first["commit"].stdout
        assert _log(remote) == ["Run 1: mail: 4 sent, 2 failed, 0 up to date"]
        files = _branch_files(remote)
        assert files["ledger.sqlite"].startswith(b"SQLite format 3\x00")
        exported = json.loads(files["ledger.json"])["deliveries"]
        assert sorted((d["recipient"], d["brief"], d["status"]) for d in exported) == [
            ("ada@example.gov", "federal", "sent"),
            ("grace@example.com", "federal", "sent"),
            ("grace@example.com", "sme", "sent"),
            ("grace@example.com", "sme-supplier-networks", "sent"),
            ("lin@example.net", "sme", "failed"),
            ("lin@example.net", "sme-supplier-networks", "failed"),
        ]
        assert len(server.received) == 4

        # Second run: the ledger comes back from the branch, nothing is sent twice; the
        # refusal still fails the run, until someone fixes it and retries.
        second = run_job(2)
        assert second["send"].returncode == 1, second["send"].stderr
        assert "::notice::briefs-state holds no ledger" not in second["send"].stdout
        assert "mail: 2 failed, 4 up to date" in second["send"].stdout
        assert "nothing to commit" in second["commit"].stdout
        assert len(server.received) == 4 and len(_log(remote)) == 1

        server.refuse.clear()
        retried = run_job(3, RETRY_FAILED="true")
        assert retried["send"].returncode == 0, retried["send"].stderr
        assert "mail: 2 sent, 4 up to date" in retried["send"].stdout
        assert _log(remote)[0] == "Run 3: mail: 2 sent, 4 up to date"
        assert len(server.received) == 6

        # A damaged ledger on the branch: refused, never replaced, nothing sent.
        work = tmp_path / "damage"
        subprocess.run(
            ["git", "clone", "--quiet", "--branch", "briefs-state", remote.as_uri(), work],
            check=True, timeout=60,
        )  # fmt: skip
        (work / "ledger.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
        git = ["git", "-C", work, "-c", "user.name=t", "-c", "user.email=t@t"]
        subprocess.run([*git, "commit", "-qam", "damage"], check=True, timeout=60)
        subprocess.run([*git, "push", "-q", "origin", "briefs-state"], check=True, timeout=60)
        third = run_job(4)
        assert third["send"].returncode == 1
        assert "error: ledger" in third["send"].stderr and "--new-ledger" in third["send"].stderr
        assert "::notice::briefs-state holds no ledger" not in third["send"].stdout
        assert third["commit"].returncode == 1
        assert "::error::the ledger could not be exported" in third["commit"].stdout
        assert len(server.received) == 6
        assert _branch_files(remote)["ledger.sqlite"].startswith(b"SQLite format 3\x00\x00\x00")
    finally:
        controller.stop()

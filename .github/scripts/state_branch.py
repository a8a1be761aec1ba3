"""The state branch of the scheduled workflow: what one run leaves for the next, in git.

The branch (briefs-state, an orphan: it shares no history with the code) holds

    deployed.json   the site last deployed to GitHub Pages: its digest, run and commit
    ledger.sqlite   the delivery ledger of `briefs send`, the authority on what was sent
    ledger.json     its text export (`briefs ledger export`), so each message sent and
                    each status change shows in `git log -p` as a one-line diff

Git, not the Actions cache: a cache entry can be evicted, and a lost ledger would mail
every brief again; a branch keeps every version, with who changed it and when.

Commands (each prints what it did; outputs go to $GITHUB_OUTPUT when it is set):

    should-deploy SITE_DIR     site=<digest>, deploy=true unless the last deployed site
                               is this very site (an unreadable state means deploy: a
                               deploy too many is harmless, a missed one is not)
    fetch DIR                  the branch checked out in DIR, or a new orphan branch
                               when the repository has none; exists=, ledger=present|absent
    record-deploy DIR DIGEST   write deployed.json for the site just deployed
    commit DIR                 export the ledger, commit what changed, push
    counts REPORT              one line of counts from `briefs send --json` (no addresses)

Environment: STATE_REMOTE (default: this repository on $GITHUB_SERVER_URL), STATE_BRANCH
(default briefs-state), GH_TOKEN (a token for HTTPS, sent as a header by the git commands
of this process only, never written to a git config or a file).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from base64 import b64encode
from pathlib import Path

DEPLOYED = "deployed.json"
LEDGER = "ledger.sqlite"
LEDGER_EXPORT = "ledger.json"
# The ledger's lock file and a replaced ledger stay on the runner; a hot journal is kept,
# since the database without it may be inconsistent.
IGNORED = "*.lock\n*.replaced-*\n"
BOT = ("github-actions[bot]", "41898282+github-actions[bot]@users.noreply.github.com")
# deployed.json is a few lines; anything much larger is not one.
MAX_RECORD = 64 * 1024
# `git ls-remote --exit-code` exits 2 when the remote answered and has no such ref.
NO_SUCH_REF = 2


class StateError(Exception):
    pass


def _branch() -> str:
    return os.environ.get("STATE_BRANCH") or "briefs-state"


def _remote() -> str:
    if os.environ.get("STATE_REMOTE"):
        return os.environ["STATE_REMOTE"]
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    repository = os.environ.get("GITHUB_REPOSITORY")
    if not repository:
        raise StateError("set STATE_REMOTE or GITHUB_REPOSITORY to say which repository")
    return f"{server}/{repository}.git"


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    token = env.pop("GH_TOKEN", "")
    if token:
        basic = b64encode(f"x-access-token:{token}".encode()).decode()
        # Configuration through the environment: it lives and dies with this process.
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="http.extraheader",
            GIT_CONFIG_VALUE_0=f"AUTHORIZATION: basic {basic}",
        )
    env["GIT_TERMINAL_PROMPT"] = "0"  # fail, never wait for a password
    return env


def _git(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=_git_env(), capture_output=True, text=True, timeout=300
    )
    if check and result.returncode != 0:
        raise StateError(f"git {args[0]} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def _output(**values: str) -> None:
    for key, value in values.items():
        print(f"{key}={value}")
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.writelines(f"{key}={value}\n" for key, value in values.items())


def site_digest(site: Path) -> str:
    """One sha256 for a whole folder: its files' paths and contents, in a fixed order."""
    if not site.is_dir():
        raise StateError(f"no site at {site}: run `briefs publish` first")
    lines = []
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        content = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{content}  {path.relative_to(site).as_posix()}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def fetch(directory: Path) -> bool:
    """The state branch in ``directory``; False when the repository has none yet."""
    directory.mkdir(parents=True, exist_ok=True)
    if any(directory.iterdir()):
        raise StateError(f"{directory} is not empty")
    branch = _branch()
    _git("init", "--quiet", cwd=directory)
    _git("remote", "add", "origin", _remote(), cwd=directory)
    found = _git(
        "ls-remote", "--exit-code", "origin", f"refs/heads/{branch}", cwd=directory, check=False
    )
    if found.returncode == 0:
        _git(
            "fetch",
            "--quiet",
            "--depth",
            "1",
            "origin",
            f"+refs/heads/{branch}:refs/remotes/origin/{branch}",
            cwd=directory,
        )
        _git("checkout", "--quiet", "-B", branch, f"origin/{branch}", cwd=directory)
        # The files this script and `briefs send` read and write must be files: a symlink
        # committed in their place would lead the writes out of the checkout.
        for name in (DEPLOYED, LEDGER, LEDGER_EXPORT, f"{LEDGER}-journal"):
            path = directory / name
            if path.is_symlink() or (path.exists() and not path.is_file()):
                raise StateError(f"{name} on the branch {branch} is not a regular file")
        return True
    if found.returncode != NO_SUCH_REF:
        # Never taken for "no branch": that would start a new ledger and mail everything again.
        raise StateError(
            f"cannot read the branch {branch}: {found.stderr.strip() or 'git ls-remote failed'}"
        )
    _git("checkout", "--quiet", "--orphan", branch, cwd=directory)
    (directory / ".gitignore").write_text(IGNORED, "utf-8")
    (directory / ".gitattributes").write_text(
        f"{LEDGER} binary\n{LEDGER}-journal binary\n", "utf-8"
    )
    return False


def last_deployed(directory: Path) -> str | None:
    path = directory / DEPLOYED
    if not path.is_file():
        return None
    if path.stat().st_size > MAX_RECORD:
        raise StateError(f"{DEPLOYED} on the state branch is larger than {MAX_RECORD} bytes")
    try:
        digest = json.loads(path.read_text("utf-8"))["site_sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError(f"{DEPLOYED} on the state branch is not readable: {exc}") from None
    return digest if isinstance(digest, str) else None


def should_deploy(site: Path, scratch: Path) -> None:
    digest = site_digest(site)
    try:
        fetch(scratch)
        deployed = last_deployed(scratch)
    except StateError as exc:
        print(
            f"::warning::the state branch could not be read, so the site is deployed again: {exc}"
        )
        deployed = None
    if deployed == digest:
        print(f"the site {digest[:12]} is deployed already")
    else:
        was = (deployed or "none")[:12]
        print(f"the site {digest[:12]} differs from the deployed one ({was}): deploy")
    _output(site=digest, deploy="false" if deployed == digest else "true")


def record_deploy(directory: Path, digest: str) -> None:
    env = os.environ
    run_id = env.get("GITHUB_RUN_ID")
    repository = f"{env.get('GITHUB_SERVER_URL')}/{env.get('GITHUB_REPOSITORY')}"
    record = {
        "site_sha256": digest,
        "deployed_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": env.get("GITHUB_SHA"),
        "run": f"{repository}/actions/runs/{run_id}" if run_id else None,
        "page_url": env.get("PAGE_URL") or None,
    }
    (directory / DEPLOYED).write_text(json.dumps(record, indent=2) + "\n", "utf-8")


def _send_counts(report: Path | None) -> str:
    """'3 sent, 1 pending, 12 up to date' from `briefs send --json`, or why there is none."""
    if report is None or not report.is_file() or report.stat().st_size == 0:
        return "no mail sent"
    try:
        data = json.loads(report.read_text("utf-8"))
        counts = {k: int(v) for k, v in data["counts"].items()}
        up_to_date = int(data["up_to_date"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return "mail: the send report is unreadable"
    parts = [f"{n} {status}" for status, n in counts.items() if n]
    parts.append(f"{up_to_date} up to date")
    return "mail: " + ", ".join(parts)


def commit(directory: Path, briefs: str, report: Path | None) -> None:
    """Export the ledger, then commit and push whatever changed in ``directory``."""
    problem = None
    if (directory / LEDGER).is_file():
        export = subprocess.run(
            [
                briefs,
                "ledger",
                "export",
                "--ledger",
                str(directory / LEDGER),
                "--out",
                str(directory / LEDGER_EXPORT),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={k: v for k, v in os.environ.items() if k != "GH_TOKEN"},
        )
        if export.returncode != 0:
            # The ledger is committed all the same: what it records was sent.
            problem = f"the ledger could not be exported: {export.stderr.strip()}"
            print(f"::error::{problem}")
    _git("add", "--all", cwd=directory)
    if _git("diff", "--cached", "--quiet", cwd=directory, check=False).returncode == 0:
        print("the state is unchanged: nothing to commit")
    else:
        parts = [_send_counts(report)]
        if _git(
            "diff", "--cached", "--quiet", "--", DEPLOYED, cwd=directory, check=False
        ).returncode:
            parts.append("site deployed")
        run = os.environ.get("GITHUB_RUN_ID")
        subject = f"Run {run}: " if run else ""
        message = subject + "; ".join(parts)
        name, email = BOT
        _git(
            "-c",
            f"user.name={name}",
            "-c",
            f"user.email={email}",
            "commit",
            "--quiet",
            "-m",
            message,
            cwd=directory,
        )
        _git("push", "--quiet", "origin", f"HEAD:refs/heads/{_branch()}", cwd=directory)
        print(f"committed and pushed to {_branch()}: {message}")
    if problem:
        raise StateError(problem)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("should-deploy")
    p.add_argument("site", type=Path)
    p.add_argument("--scratch", type=Path, required=True, help="an empty folder to fetch into")
    p = commands.add_parser("fetch")
    p.add_argument("directory", type=Path)
    p = commands.add_parser("record-deploy")
    p.add_argument("directory", type=Path)
    p.add_argument("digest")
    p = commands.add_parser("counts")
    p.add_argument("report", type=Path)
    p = commands.add_parser("commit")
    p.add_argument("directory", type=Path)
    p.add_argument("--briefs", default="briefs", help="the briefs command")
    p.add_argument("--send-report", type=Path, help="the output of `briefs send --json`")
    args = parser.parse_args(argv)
    try:
        if args.command == "should-deploy":
            should_deploy(args.site, args.scratch)
        elif args.command == "fetch":
            exists = fetch(args.directory)
            ledger = "present" if (args.directory / LEDGER).exists() else "absent"
            if not exists:
                print(f"::notice::no branch {_branch()} yet: this run starts it")
            _output(exists=str(exists).lower(), ledger=ledger)
        elif args.command == "counts":
            print(_send_counts(args.report))
        elif args.command == "record-deploy":
            record_deploy(args.directory, args.digest)
        else:
            commit(args.directory, args.briefs, args.send_report)
    except (StateError, OSError) as exc:
        print(f"::error::state branch: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

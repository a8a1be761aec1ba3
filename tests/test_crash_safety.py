"""Crash-safe output: a build killed, or failing on a full disk, at any rename or fsync of
its write phase leaves the previous build or the new one, never a mix, and the next
command of any kind (build, diff, publish, send) finishes what was cut short and
removes stray temporary files. The build lock is held across the whole build."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from policy_briefs import api
from policy_briefs.build import BuildOptions, build
from policy_briefs.built import read_build
from policy_briefs.errors import BriefsError
from policy_briefs.files import JOURNAL, Commit, recover
from policy_briefs.project import Project

EPOCH = {"SOURCE_DATE_EPOCH": "1768435200"}  # the same section times in every run
HTML = ("html",)


def _state(out: Path) -> dict[str, str]:
    """What a reader of output/ sees: each file's name and sha256 (the lock aside)."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.iterdir())
        if p.is_file() and p.name != ".briefs.lock"
    }


def _same_build(out: Path, new: Path) -> bool:
    """``out`` holds the new build with its history; after a no-op build on top of it,
    changes.json's latest verdict says "nothing changed" (the history is the same)."""
    a, b = _state(out), _state(new)
    a.pop("changes.json"), b.pop("changes.json")
    history = [json.loads((d / "changes.json").read_text("utf-8"))["history"] for d in (out, new)]
    return a == b and history[0] == history[1]


def _strays(out: Path) -> list[str]:
    return [p.name for p in out.iterdir() if p.name.endswith(".tmp") or p.name == JOURNAL]


def _edit(project: Path) -> None:
    path = project / "findings" / "networks.yaml"
    text = path.read_text("utf-8")
    assert "Many orders now come through" in text
    path.write_text(text.replace("Many orders now come through", "Many orders now arrive through"))


@pytest.fixture
def states(mini_project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The project with its old build in output/, the inputs edited since, and copies of
    output/ before (old) and after (new) a clean second build."""
    for key, value in EPOCH.items():
        monkeypatch.setenv(key, value)
    project = Project.at(mini_project)
    out = mini_project / "output"
    build(project, BuildOptions(formats=HTML))
    old = Path(shutil.copytree(out, tmp_path / "old"))
    _edit(mini_project)
    build(project, BuildOptions(formats=HTML))
    new = Path(shutil.copytree(out, tmp_path / "new"))
    assert _state(old) != _state(new)
    return project, out, old, new


def _restore(out: Path, source: Path) -> None:
    shutil.rmtree(out)
    shutil.copytree(source, out)


class _Faults:
    """Counts calls of os.replace and os.fsync; at call number ``at`` of ``which`` it
    either kills the process on the spot (os._exit, as kill -9 would) or raises ENOSPC."""

    def __init__(self, which: str = "", at: int = 0, how: str = "exit"):
        self.which, self.at, self.how = which, at, how
        self.calls = {"replace": 0, "fsync": 0}

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in self.calls:
            monkeypatch.setattr(os, name, self._wrap(name, getattr(os, name)))

    def _wrap(self, name: str, real: Callable) -> Callable:
        def call(*args, **kwargs):
            self.calls[name] += 1
            if name == self.which and self.calls[name] == self.at:
                if self.how == "exit":
                    os._exit(137)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(*args, **kwargs)

        return call


def _count_calls(project, out, old, monkeypatch) -> dict[str, int]:
    _restore(out, old)
    with monkeypatch.context() as patch:
        faults = _Faults()
        faults.install(patch)
        build(project, BuildOptions(formats=HTML))
    return faults.calls


def _killed_build(project: Project, which: str, at: int) -> int:
    """A build in a child process killed at call ``at`` of os.``which``; its exit code."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            patch = pytest.MonkeyPatch()
            _Faults(which, at, "exit").install(patch)
            build(project, BuildOptions(formats=HTML))
            os._exit(0)
        except BaseException:
            os._exit(1)
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


NEXT = ["diff", "publish", "send", "build"]


def _next_command(kind: str, project: Project, out: Path, tmp_path: Path) -> None:
    if kind == "diff":
        api.diff(project, BuildOptions(formats=HTML))
    elif kind == "publish":
        api.publish(project, tmp_path / "site")
    elif kind == "send":
        read_build(out)  # where send starts: it reads the build before any stakeholder
    else:
        build(project, BuildOptions(formats=HTML))


def test_a_kill_at_every_rename_and_fsync_leaves_old_or_new(states, monkeypatch, tmp_path):
    project, out, old, new = states
    calls = _count_calls(project, out, old, monkeypatch)
    assert calls["replace"] >= 6 and calls["fsync"] >= 9  # 5 files, journal, directory
    outcomes: dict[str, int] = {"old": 0, "new": 0, "build": 0}
    points = [(which, at) for which in ("replace", "fsync") for at in range(1, calls[which] + 1)]
    for number, (which, at) in enumerate(points):
        _restore(out, old)
        assert _killed_build(project, which, at) == 137, (which, at)
        kind = NEXT[number % len(NEXT)]
        _next_command(kind, project, out, tmp_path)
        assert _strays(out) == [], (which, at, kind)
        if kind == "build":  # rolled forward (a no-op build then) or built again
            assert _same_build(out, new), (which, at)
            outcomes["build"] += 1
            continue
        state = _state(out)
        assert state in (_state(old), _state(new)), (which, at, kind)
        outcomes["old" if state == _state(old) else "new"] += 1
        build(project, BuildOptions(formats=HTML))  # and the build after it completes
        assert _same_build(out, new) and _strays(out) == []
    # Kills before the journal is down leave the old build, after it the new one.
    assert outcomes["old"] and outcomes["new"]
    assert sum(outcomes.values()) == len(points)


def test_a_failing_fsync_or_rename_leaves_old_or_new(states, monkeypatch, tmp_path):
    """ENOSPC or EIO at any point: a clear error; before the journal nothing is replaced
    and nothing stray is left at once; after it the next command rolls forward."""
    project, out, old, new = states
    calls = _count_calls(project, out, old, monkeypatch)
    for which in ("replace", "fsync"):
        for at in range(1, calls[which] + 1):
            _restore(out, old)
            with monkeypatch.context() as patch:
                _Faults(which, at, "raise").install(patch)
                try:
                    build(project, BuildOptions(formats=HTML))
                    message = ""  # the journal was down: a failed folder fsync is no loss
                except OSError as exc:  # the CLI's exit 74, with what it means
                    message = str(exc)
            if "previous build is as it was" in message:
                assert _state(out) == _state(old) and _strays(out) == [], (which, at)
                continue
            assert message == "" or "the next briefs command" in message, message
            api.diff(project, BuildOptions(formats=HTML))
            assert _state(out) == _state(new) and _strays(out) == [], (which, at)


def test_a_full_disk_says_so_and_replaces_nothing(states, monkeypatch):
    project, out, old, _new = states
    _restore(out, old)
    real_fsync = os.fsync
    seen = []

    def full(fd):
        seen.append(fd)
        if len(seen) == 2:  # the second staged file
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left on device.*previous build is as it"):
        build(project, BuildOptions(formats=HTML))
    assert _state(out) == _state(old) and _strays(out) == []


def test_recover_removes_stray_temporaries_and_refuses_a_foreign_journal(tmp_path):
    (tmp_path / ".sme.html.abc_12.tmp").write_text("half")
    (tmp_path / "keep.tmp").write_text("not ours")
    assert recover(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.tmp"]
    (tmp_path / JOURNAL).write_text(json.dumps({"renames": [["x", "../../etc/passwd"]]}))
    with pytest.raises(BriefsError, match="not the record of an unfinished build"):
        recover(tmp_path)


def test_a_journal_rolls_forward_idempotently(tmp_path):
    (tmp_path / "a.txt").write_text("old a")
    (tmp_path / "gone.txt").write_text("old")
    commit = Commit(tmp_path)
    commit.stage(tmp_path / "a.txt", "new a")
    commit.stage(tmp_path / "b.txt", "new b")
    commit.remove(tmp_path / "gone.txt")
    journal = {
        "renames": [[tmp.name, final.name] for tmp, final in commit.renames],
        "removals": ["gone.txt"],
    }
    (tmp_path / JOURNAL).write_text(json.dumps(journal))
    os.replace(*commit.renames[0])  # the crash came after the first rename
    assert recover(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["a.txt", "b.txt"]
    assert (tmp_path / "a.txt").read_text() == "new a" and (tmp_path / "b.txt").read_text()


def test_a_second_build_waits_for_the_first_or_refuses(states):
    project, out, old, _new = states
    _restore(out, old)  # so there is something to build
    # Another process holds the output lock for a moment, as a running build does.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, filelock\n"
            "with filelock.FileLock(sys.argv[1]):\n"
            "    print('held', flush=True); time.sleep(1.5)\n",
            str(out / ".briefs.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(BriefsError, match="busy in another process"):
        build(project, BuildOptions(formats=HTML, wait=False))
    said: list[str] = []
    report = build(project, BuildOptions(formats=HTML), progress=said.append)
    assert holder.wait(timeout=30) == 0
    assert [b.brief.slug for b in report.briefs] == ["federal", "sme", "sme-supplier-networks"]
    assert any("waiting for another process" in m for m in said), said


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_kill_by_strace_at_each_rename_of_a_cli_build(states, tmp_path):
    """The real CLI in its own process, SIGKILLed by strace at the N-th rename."""
    project, out, old, new = states
    env = {**os.environ, **EPOCH}
    briefs = [sys.executable, "-m", "policy_briefs"]
    args = ["build", "--format", "html", "--project", str(project.root)]
    probe = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=none", "true"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here: {probe.stderr.decode()[:200]}")
    killed = 0
    for when in range(1, 8):
        _restore(out, old)
        run = subprocess.run(
            [
                "strace",
                "-f",
                "-qq",
                "-o",
                os.devnull,
                "-e",
                "trace=rename,renameat,renameat2",
                "-e",
                f"inject=rename,renameat,renameat2:signal=KILL:when={when}",
                *briefs,
                *args,
            ],
            env=env,
            capture_output=True,
            check=False,
            timeout=300,
        )
        if run.returncode == 0:
            break  # fewer renames than ``when``: the build completed
        killed += 1
        nxt = subprocess.run(
            [*briefs, "diff", "--project", str(project.root)],
            env=env,
            capture_output=True,
            check=False,
        )
        assert nxt.returncode == 0, nxt.stderr
        assert _state(out) in (_state(old), _state(new)), when
        assert _strays(out) == [], when
    assert killed >= 5


@pytest.fixture
def small_tmpfs(tmp_path: Path):
    """Mount a tmpfs of a chosen size (in bytes); skipped where mounting is not allowed."""
    mounted: list[Path] = []

    def mount(size: int) -> Path:
        point = tmp_path / f"tmpfs{len(mounted)}"
        point.mkdir()
        run = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
            capture_output=True,
            check=False,
        )
        if run.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {run.stderr.decode().strip()[:200]}")
        mounted.append(point)
        return point

    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=False)


def test_a_full_tmpfs_leaves_the_old_build(states, small_tmpfs, tmp_path):
    """A real full disk: room for one build but not for the next one's staged files."""
    project, _out, old, new = states
    total = sum(p.stat().st_size for p in new.iterdir() if p.is_file())
    pages = -(-total * 3 // 2 // 4096) + 2  # one build and a half, in 4 KiB pages
    disk = small_tmpfs(pages * 4096)
    out = disk / "out"
    shutil.copytree(old, out)
    before = _state(out)
    with pytest.raises(OSError, match="No space left on device.*previous build is as it"):
        build(project, BuildOptions(formats=HTML, out_dir=out))
    assert _state(out) == before and _strays(out) == []
    api.diff(project, BuildOptions(formats=HTML, out_dir=out))  # the next command: still old
    assert _state(out) == before and _strays(out) == []

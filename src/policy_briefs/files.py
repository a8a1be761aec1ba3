"""The file-system primitives every writer shares: atomic writes, content hashes, the
output lock, the crash-safe commit of a build's files and the UTC time stamp. Nothing
here imports a heavy module: the no-op build uses it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from .errors import BriefsError

# How long a second writer waits for the first before giving up with a message.
LOCK_TIMEOUT = 60
# A build holds the output lock while it renders, which can take minutes.
BUILD_LOCK_TIMEOUT = 30 * 60

# The list of renames a commit is making; present only while one is under way (or
# was cut short by a crash, which the next command finishes).
JOURNAL = ".briefs-journal.json"
# What write_atomic and a staged commit name their temporary files: ".NAME.xxxx.tmp".
_TEMPORARY = re.compile(r"^\..+\.[A-Za-z0-9_]+\.tmp$")


def write_atomic(path: Path, data: bytes | str, *, durable: bool = True) -> None:
    """Write to a temporary file beside ``path``, flush it to disk, then rename over.

    Without ``durable`` nothing is flushed: readers still see the old file or the new
    one, never a part, but a crash may lose the write (or leave an empty file), which is
    fine for a cache and saves two fsyncs per file."""
    tmp = _write_temporary(path, data, durable=durable)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def _write_temporary(path: Path, data: bytes | str, *, durable: bool = True) -> Path:
    """``data`` in a new ".NAME.xxxx.tmp" beside ``path``, on disk (fsync) before it
    returns, so a full disk or an I/O error fails here, before anything is replaced."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def fsync_dir(directory: Path) -> None:
    """Make the renames and removals in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Commit:
    """A set of files written to one folder all or nothing, as far as a crash goes.

    ``stage`` writes each new file to a temporary name and fsyncs it; ``commit`` then
    writes a journal listing the renames (and removals), fsyncs the folder, renames,
    fsyncs the folder again and removes the journal. A crash before the journal leaves
    the previous files (the temporaries are strays the next command removes); a crash
    after it leaves a journal the next command rolls forward (``recover``). Call it with
    the output lock held.
    """

    def __init__(self, directory: Path):
        self.directory = directory
        self.renames: list[tuple[Path, Path]] = []  # (temporary, final)
        self.removals: list[Path] = []

    def stage(self, path: Path, data: bytes | str) -> None:
        if path.parent != self.directory:
            raise ValueError(f"{path} is not in {self.directory}")
        try:
            self.renames.append((_write_temporary(path, data), path))
        except OSError as exc:
            self.abort()
            raise _failed(exc, NOTHING_REPLACED, path) from None

    def remove(self, path: Path) -> None:
        self.removals.append(path)

    def abort(self) -> None:
        for tmp, _final in self.renames:
            tmp.unlink(missing_ok=True)
        self.renames.clear()

    def commit(self) -> None:
        if not (self.renames or self.removals):
            return
        journal: dict[str, list] = {
            "renames": [[tmp.name, final.name] for tmp, final in self.renames],
            "removals": [path.name for path in self.removals],
        }
        path = self.directory / JOURNAL
        try:
            write_atomic(path, json.dumps(journal, indent=1))
        except OSError as exc:
            # Once the journal is in place the commit stands (the next command would
            # roll it forward), so only a missing journal means "nothing replaced".
            if not path.exists():
                self.abort()
                raise _failed(exc, NOTHING_REPLACED, path) from None
        except BaseException:
            if not path.exists():
                self.abort()
            raise
        try:
            _roll_forward(self.directory, journal)
        except OSError as exc:
            raise _failed(exc, NEXT_FINISHES, self.directory) from None


NOTHING_REPLACED = "nothing was replaced, the previous build is as it was"
NEXT_FINISHES = "the next briefs command (build, diff, publish or send) finishes the build"


def _failed(exc: OSError, note: str, where: Path) -> OSError:
    """The OSError (the CLI's exit 74) with what it means for the output folder."""
    return OSError(
        exc.errno,
        f"{exc.strerror or exc}; {note}",
        str(exc.filename or where),
        None,
        exc.filename2,
    )


def _roll_forward(directory: Path, journal: dict[str, list]) -> None:
    """Finish the renames and removals the journal lists, then drop the journal. Each
    step is idempotent: a rename already made has no temporary left."""
    for tmp_name, final_name in journal["renames"]:
        tmp = directory / tmp_name
        if tmp.exists():
            os.replace(tmp, directory / final_name)
    for name in journal["removals"]:
        path = directory / name
        if path.is_file() and not path.is_symlink():
            path.unlink()
    fsync_dir(directory)
    (directory / JOURNAL).unlink()
    fsync_dir(directory)


def _journal(directory: Path) -> dict[str, list] | None:
    """The journal of an unfinished commit, or None. One that cannot be a commit's
    journal (a name with a slash, not our shape) is refused rather than followed."""
    path = directory / JOURNAL
    try:
        journal = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise BriefsError(
            f"{path}: the record of an unfinished build cannot be read ({exc}); "
            "delete it and run `briefs build --force`"
        ) from None

    def plain(name: object) -> bool:
        return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name

    if not (
        isinstance(journal, dict)
        and all(
            isinstance(pair, list) and len(pair) == 2 and all(map(plain, pair))
            for pair in journal.get("renames", [])
        )
        and all(map(plain, journal.get("removals", [])))
    ):
        raise BriefsError(
            f"{path} is not the record of an unfinished build; "
            "delete it and run `briefs build --force`"
        )
    journal.setdefault("renames", [])
    journal.setdefault("removals", [])
    return journal


def recover(directory: Path) -> bool:
    """Finish a commit a crash cut short (roll its journal forward) and remove stray
    temporary files. Call it with the output lock held. True when anything was done."""
    if not directory.is_dir():
        return False
    journal = _journal(directory)
    if journal is not None:
        _roll_forward(directory, journal)
    strays = [p for p in directory.iterdir() if _TEMPORARY.match(p.name) and p.is_file()]
    for path in strays:
        path.unlink(missing_ok=True)
    return journal is not None or bool(strays)


def recover_output(out_dir: Path) -> None:
    """Before reading a build: finish one a crash cut short. A build running now holds
    the lock and is left alone, unless it is committing (a journal exists), which takes
    moments, so then this waits for it."""
    if not out_dir.is_dir():
        return
    lock = output_lock(out_dir)
    if (out_dir / JOURNAL).exists():
        with lock:
            recover(out_dir)
        return
    if lock.try_acquire():
        try:
            recover(out_dir)
        finally:
            lock.lock.release()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def utc_stamp(moment: dt.datetime | None = None) -> str:
    """An RFC 3339 UTC time to the second: ``moment``, else now, or SOURCE_DATE_EPOCH
    when set (reproducible builds)."""
    if moment is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        if epoch and epoch.isdigit():
            moment = dt.datetime.fromtimestamp(int(epoch), dt.UTC)
        else:
            moment = dt.datetime.now(dt.UTC)
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class Locked:
    """An exclusive lock on ``path`` (a lock file beside what it guards), or a message
    naming ``what`` is busy when another process holds it longer than LOCK_TIMEOUT."""

    def __init__(
        self,
        path: Path,
        what: str,
        *,
        timeout: float = LOCK_TIMEOUT,
        waiting: Callable[[str], None] | None = None,
    ):
        from filelock import FileLock

        path.parent.mkdir(parents=True, exist_ok=True)
        self.what = what
        self.timeout = timeout
        self.waiting = waiting
        self.lock = FileLock(str(path))

    def try_acquire(self) -> bool:
        """Take the lock if it is free now; False when another process holds it."""
        from filelock import Timeout

        try:
            self.lock.acquire(timeout=0)
        except Timeout:
            return False
        return True

    def __enter__(self) -> Locked:
        from filelock import Timeout

        if self.try_acquire():
            return self
        if self.timeout <= 0:
            raise BriefsError(
                f"{self.what} is busy in another process ({self.lock.lock_file}); "
                "try again when it ends"
            )
        if self.waiting is not None:
            self.waiting(f"waiting for another process using {self.what}")
        try:
            self.lock.acquire(timeout=self.timeout)
        except Timeout:
            raise BriefsError(
                f"{self.what} is busy in another process "
                f"({self.lock.lock_file}); try again when it ends"
            ) from None
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.lock.release()


def output_lock(
    out_dir: Path, *, timeout: float = LOCK_TIMEOUT, waiting: Callable[[str], None] | None = None
) -> Locked:
    """The output folder's build lock: one writer at a time. ``timeout`` 0 refuses at
    once when it is taken; ``waiting`` hears that it is."""
    return Locked(
        out_dir / ".briefs.lock", f"the output folder {out_dir}", timeout=timeout, waiting=waiting
    )

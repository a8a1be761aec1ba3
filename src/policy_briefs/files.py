"""The file-system primitives every writer shares: atomic writes, content hashes, the
output lock and the UTC time stamp. Nothing here imports a heavy module: the no-op
build uses it."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from pathlib import Path
from types import TracebackType

from .errors import BriefsError

# How long a second writer waits for the first before giving up with a message.
LOCK_TIMEOUT = 60


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write to a temporary file beside ``path``, flush it to disk, then rename over."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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

    def __init__(self, path: Path, what: str):
        from filelock import FileLock

        path.parent.mkdir(parents=True, exist_ok=True)
        self.what = what
        self.lock = FileLock(str(path))

    def __enter__(self) -> Locked:
        from filelock import Timeout

        try:
            self.lock.acquire(timeout=LOCK_TIMEOUT)
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


def output_lock(out_dir: Path) -> Locked:
    """The output folder's build lock: one writer at a time."""
    return Locked(out_dir / ".briefs.lock", f"the output folder {out_dir}")

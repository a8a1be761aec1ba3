"""Paths that come from inputs or state files, kept inside the folder they belong to.

Every path an input names (a snapshot, a citation style, a template, an output slug, a
site archive path) is joined to its root here and nowhere else: resolved with symlinks
followed, it must still lie inside the resolved root, or the caller gets a located
problem. The problem names the path as written and never the target's content, so a
refusal cannot be used to read a file either.

Kept free of heavy imports: the no-op build imports it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath

from .errors import Problem, ValidationFailed

# Where a refusal is reported: (display path, line, column), or a function that turns the
# message into a located problem (e.g. ``Located.problem`` of the item that named the path).
Where = tuple[str, int, int] | Callable[[str], Problem]


class OutsideRoot(ValidationFailed):
    """A path from an input or state file would leave its root; nothing was read."""

    def __init__(self, problem: Problem):
        self.problem = problem
        super().__init__([problem])

    def __reduce__(self):  # render workers send exceptions back by pickling
        return (type(self), (self.problem,))


def confinement_problem(
    root: Path, relative: str | os.PathLike, *, what: str, where: Where
) -> tuple[Path | None, Problem | None]:
    """``root / relative`` resolved, or the problem that keeps it from being used.

    Refused: empty names, NUL bytes, absolute paths (``/x``, ``C:\\x``, ``\\\\host\\x``),
    and anything that resolves outside ``root``, through ``..`` or through a symlink
    anywhere on the way. A path that does not exist yet is fine if it would land inside.
    """
    text = os.fspath(relative)
    folder = f"{Path(root).name or root}/"
    if not text:
        why = "is empty"
    elif "\0" in text:
        why = "contains a NUL byte"
    elif PurePosixPath(text).is_absolute() or PureWindowsPath(text).anchor:
        why = "is an absolute path"
    else:
        try:
            base = Path(root).resolve(strict=True)
            target = (base / text).resolve()
        except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a missing root
            why = f"cannot be resolved ({type(exc).__name__})"
        else:
            if target != base and target.is_relative_to(base):
                return target, None
            why = "leads outside it (through '..' or a symbolic link)"
    return None, _locate(where, f"{what} '{text}' {why}; it must stay inside {folder}")


def confined(root: Path, relative: str | os.PathLike, *, what: str, where: Where) -> Path:
    """``root / relative`` resolved and inside ``root``; else raise :class:`OutsideRoot`."""
    path, problem = confinement_problem(root, relative, what=what, where=where)
    if problem is not None:
        raise OutsideRoot(problem)
    assert path is not None  # confinement_problem gives a path or a problem
    return path


def is_inside(path: Path, roots: list[Path]) -> bool:
    """Whether an absolute ``path``, symlinks followed, lies inside one of ``roots``."""
    try:
        target = Path(path).resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    for root in roots:
        try:
            base = Path(root).resolve()
        except (OSError, RuntimeError, ValueError):
            continue
        if target.is_relative_to(base):
            return True
    return False


def regular_file_problem(path: Path) -> str | None:
    """Why ``path`` is not a regular file to read (a folder, a FIFO, a device), or None.

    Uses stat only, so a FIFO is never opened: opening one blocks until a writer comes.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "does not exist" if not os.path.islink(path) else "is a broken symbolic link"
    except (OSError, ValueError) as exc:
        return f"cannot be read ({exc.strerror if isinstance(exc, OSError) else exc})"
    if stat.S_ISREG(mode):
        return None
    kind = (
        "a folder"
        if stat.S_ISDIR(mode)
        else "a named pipe (FIFO)"
        if stat.S_ISFIFO(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "not a regular file"
    )
    return f"is {kind}, not a file"


class TooLarge(Exception):
    def __init__(self, size: int):
        self.size = size


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes, read without blocking.

    Raises ``IsADirectoryError``-like ``OSError`` for anything else and :class:`TooLarge`
    past the limit. The file is opened non-blocking and checked on the open descriptor,
    so swapping it for a FIFO after a stat cannot make the read hang.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{path} is not a regular file")
        if st.st_size > limit:
            raise TooLarge(st.st_size)
        chunks = []
        total = 0
        while chunk := os.read(fd, 1 << 20):
            total += len(chunk)
            if total > limit:  # grew while we read
                raise TooLarge(total)
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _locate(where: Where, message: str) -> Problem:
    if callable(where):
        return where(message)
    display, line, column = where
    return Problem(display, line, column, "error", message)

"""``briefs new``: a small, valid, documented project to start from.

The files are package data (``project/``), copied as they are, so the scaffold works
from a wheel; ``findings/schema.json`` is written from the models at the same time, so
it always matches the installed version. Files whose names cannot ship as such (a
leading dot) are renamed on the way (``_RENAMED``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from ..errors import BriefsError

# A dotfile in the package could be dropped by packaging tools; it ships without its dot.
_RENAMED = {"gitignore": ".gitignore"}


@dataclass
class NewProjectReport:
    root: Path
    files: list[Path]  # relative to root


def new_project(target: Path) -> NewProjectReport:
    """Create the starter project in ``target``, a new or empty folder.

    The project is assembled in a hidden folder beside ``target`` and renamed into place,
    so an error half-way leaves nothing behind.
    """
    from ..models import SCHEMA_FILE, json_schema_text

    target = Path(target).absolute()
    if target.exists() and not target.is_dir():
        raise BriefsError(f"'{target}' is a file; `briefs new` needs a new or empty folder")
    if target.is_dir() and any(target.iterdir()):
        held = sorted(p.name for p in target.iterdir())
        shown = ", ".join(held[:3]) + (", ..." if len(held) > 3 else "")
        raise BriefsError(
            f"'{target}' is not empty (it holds {shown}); `briefs new` starts a project only "
            "in a new or empty folder, so nothing is overwritten"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        written = _copy(files(__name__) / "project", stage, Path())
        schema = Path("findings") / SCHEMA_FILE
        (stage / schema).write_text(json_schema_text(), "utf-8")
        written.append(schema)
        os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes it private; a project is not
        # Renaming a folder over an empty one is allowed; over a non-empty one it fails,
        # so a folder filled meanwhile is never overwritten.
        os.replace(stage, target)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return NewProjectReport(target, sorted(written))


def _copy(source: Traversable, into: Path, relative: Path) -> list[Path]:
    written = []
    for entry in sorted(source.iterdir(), key=lambda e: e.name):
        name = _RENAMED.get(entry.name, entry.name)
        if entry.is_dir():
            if entry.name == "__pycache__":
                continue
            (into / relative / name).mkdir()
            written += _copy(entry, into, relative / name)
        else:
            (into / relative / name).write_bytes(entry.read_bytes())
            written.append(relative / name)
    return written


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

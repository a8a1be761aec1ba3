"""A per-user cache of pure results: the syllable table, formatted citations, readings.

Every entry is a function of its key alone (the key hashes every input, this tool's code
included), so an entry is either right or never looked up again; the folder can be
deleted at any time. A cache that cannot be read or written only costs time: nothing
here raises.

Where: ``$BRIEFS_CACHE_DIR``, else ``$XDG_CACHE_HOME/policy-briefs``, else
``~/.cache/policy-briefs``. ``BRIEFS_CACHE_DIR=off`` turns it off (everything is then
computed afresh in memory). No heavy imports.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .files import write_atomic

CACHE_ENV = "BRIEFS_CACHE_DIR"
# Entries per kind before the oldest half is dropped: bounds the folder on a long edit loop.
MAX_ENTRIES = 2000


def cache_dir() -> Path | None:
    """The cache folder (created), or None when caching is off or impossible."""
    configured = os.environ.get(CACHE_ENV)
    if configured is not None and configured.strip().lower() in ("", "0", "off", "no"):
        return None
    if configured:
        folder = Path(configured)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        folder = Path(base) / "policy-briefs"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


def _entry(kind: str, key: str) -> Path | None:
    folder = cache_dir()
    if folder is None or not key.isalnum():
        return None
    return folder / kind / f"{key}.json"


def load(kind: str, key: str) -> Any | None:
    """The JSON value stored under ``key``, or None."""
    path = _entry(kind, key)
    if path is None:
        return None
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        # RecursionError: JSON nested past the interpreter's limit (a damaged entry).
        return None


# Entries per cache folder as last counted, plus those stored since: one folder listing
# per kind and process instead of one per entry stored (a first check of a large project
# stores about a hundred).
_counts: dict[Path, int] = {}


def store(kind: str, key: str, value: Any) -> None:
    """Store ``value`` (JSON data) under ``key``; failures are ignored.

    Entries are written atomically but not flushed to disk: one lost in a crash (or left
    empty) is only a miss, and two fsyncs per entry cost more than most entries save."""
    path = _entry(kind, key)
    if path is None:
        return
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        write_atomic(path, text, durable=False)
        folder = path.parent
        count = _counts.get(folder)
        _counts[folder] = count = _count(folder) if count is None else count + 1
        if count >= MAX_ENTRIES:
            _trim(folder, keep=path.name)
    except OSError:
        pass


def _count(folder: Path) -> int:
    with os.scandir(folder) as it:
        return sum(1 for e in it if e.name.endswith(".json"))


def _trim(folder: Path, keep: str) -> None:
    with os.scandir(folder) as it:
        entries = [e for e in it if e.name.endswith(".json") and e.name != keep]
    _counts[folder] = len(entries) + 1
    if len(entries) < MAX_ENTRIES:
        return
    entries.sort(key=lambda e: e.stat().st_mtime)
    _counts[folder] -= len(entries) // 2
    for entry in entries[: len(entries) // 2]:
        try:
            os.unlink(entry.path)
        except OSError:
            pass

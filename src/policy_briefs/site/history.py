"""versions.json: the brief versions the feed lists, carried from one publish to the next.

The file lives in the published site, which a restored cache or a web host may have
altered, so it is read as untrusted data: every slug, hash and path is checked, and a
file that is not as this tool writes it is refused rather than trusted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BriefsError
from ..manifest import valid_slug

HISTORY = "versions.json"
# Old versions stay in the feed (and their files in archive/) up to this many per brief,
# so a site that is published every week does not grow without bound.
VERSIONS_PER_BRIEF = 10
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Version:
    """One version of one brief, as the feed lists it."""

    slug: str
    sha256: str
    title: str
    audience: str
    audience_title: str
    summary: str
    date: str
    first_seen: str
    files: dict[str, dict] = field(default_factory=dict)  # fmt -> {path, bytes}
    number: str = ""  # the brief's version, MAJOR.MINOR (absent in older files)

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def read_history(out: Path) -> list[Version]:
    """The versions the previous site listed; none when there is no previous site."""
    path = out / HISTORY
    if not path.is_file():
        return []
    try:
        items = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BriefsError(
            f"{path} cannot be read ({exc}); remove the site folder {out} to start the feed afresh"
        ) from None
    if not isinstance(items, list):
        raise BriefsError(f"{path} is not a list of versions; remove {out} to start afresh")
    versions = []
    for n, item in enumerate(items):
        why = _invalid(item)
        if why:
            raise BriefsError(
                f"{path}: entry {n + 1} {why}; this file was not written by "
                f"`briefs publish` as it is; remove {out} to start afresh"
            )
        versions.append(Version(**item))
    return versions


_TEXT_FIELDS = ("title", "audience", "audience_title", "summary", "date", "first_seen")


def _invalid(item: object) -> str | None:
    """Why a versions.json entry cannot be used, or None."""
    every = set(Version.__dataclass_fields__)
    if not isinstance(item, dict) or set(item) not in (every, every - {"number"}):
        return "does not have the fields of a version"
    if not isinstance(item.get("number", ""), str):
        return "has a version number that is not text"
    slug, sha = item["slug"], item["sha256"]
    if not valid_slug(slug):
        return "has a slug that is not one"
    if not (isinstance(sha, str) and _SHA256.match(sha)):
        return "has no valid sha256"
    if not all(isinstance(item[k], str) for k in _TEXT_FIELDS):
        return "has a field of the wrong type"
    files = item["files"]
    if not isinstance(files, dict) or not files:
        return "lists no files"
    for fmt, info in files.items():
        if fmt not in ("pdf", "html") or not isinstance(info, dict):
            return "lists a file of an unknown kind"
        # Only the two places this tool puts a brief's files; nothing else is copied.
        allowed = (f"briefs/{slug}.{fmt}", f"archive/{slug}/{sha[:16]}.{fmt}")
        if info.get("path") not in allowed:
            return f"names a file outside the site's brief folders ({info.get('path')!r})"
        size = info.get("bytes")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            return "has a file size that is not a number"
    return None


# How an earlier version's file is carried into the archive: (version, format, its new
# path in the site, its bytes) -> the bytes to write there.
Restyle = Callable[[Version, str, str, bytes], bytes]


def carry_history(
    out: Path,
    staging: Path,
    current: list[Version],
    restyle: Restyle | None = None,
    hidden: Collection[str] = (),
) -> list[Version]:
    """This publish's versions plus the earlier ones the previous site listed, except
    those of the ``hidden`` slugs (drafts: never on the site, whatever an older site
    listed)."""
    previous = [v for v in read_history(out) if v.slug not in hidden]
    known = {(v.slug, v.sha256): v for v in previous}
    result = []
    for version in current:
        before = known.pop((version.slug, version.sha256), None)
        if before is not None:
            # The same bytes were published before: keep the date readers first saw them.
            version.first_seen = before.first_seen
        result.append(version)
    kept: dict[str, int] = {v.slug: 1 for v in current}
    for old in sorted(known.values(), key=lambda v: v.first_seen, reverse=True):
        if kept.get(old.slug, 0) >= VERSIONS_PER_BRIEF:
            continue
        files = {}
        for fmt, info in old.files.items():
            source = out / info["path"]
            name = f"archive/{old.slug}/{old.sha256[:16]}.{fmt}"
            if source.is_symlink() or not source.is_file():
                continue
            data = source.read_bytes()
            if restyle is not None:
                data = restyle(old, fmt, name, data)
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(data)
            files[fmt] = {"path": name, "bytes": len(data)}
        if files:
            old.files = files
            result.append(old)
            kept[old.slug] = kept.get(old.slug, 0) + 1
    return result

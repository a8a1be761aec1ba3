"""output/manifest.json: the contract between build, diff, site and deliver.

The build writes it last (after every file it lists), so it always describes files that
exist. It records, per brief, the files with their sha256, the input map that
``changes`` compares, and what the site and the mail need to show around a brief
(title, standfirst, audience title, finding headlines), plus the publication's details. Publishing
and sending therefore work from the build alone and never re-read findings/.

This module is the only one that knows the file's name and shape. It reads the file as
untrusted data: a restored CI cache or a hand edit may hold anything, so every slug,
path and hash is checked before use. ``build`` reads leniently (a damaged manifest only
means rendering again); ``site`` and ``deliver`` read strictly (a damaged one is refused
with a message). No heavy imports: the no-op build reads it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BriefsError
from .files import sha256_bytes, sha256_file, write_atomic
from .versions import Version

MANIFEST_FILE = "manifest.json"
FORMATS = ("pdf", "html")

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,199}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(BriefsError):
    """The manifest is missing, unreadable or not one this tool wrote."""


def valid_slug(value: object) -> bool:
    return isinstance(value, str) and bool(_SLUG.match(value))


@dataclass(frozen=True)
class FileRecord:
    """One built file: a plain name inside the output folder, its sha256 and size."""

    path: str
    sha256: str
    size: int

    def location(self, out_dir: Path) -> Path:
        return out_dir / self.path

    def intact(self, out_dir: Path) -> bool:
        """True when the file on disk is the one the build recorded."""
        path = self.location(out_dir)
        if path.is_symlink() or not path.is_file():
            return False
        return path.stat().st_size == self.size and sha256_file(path) == self.sha256

    def read(self, out_dir: Path) -> bytes:
        """The file's bytes, refused if they are not the ones the build recorded."""
        path = self.location(out_dir)
        if path.is_symlink():
            raise ManifestError(
                f"{path} is a symbolic link, not a file the build wrote; run `briefs build` again"
            )
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ManifestError(f"cannot read {path}: {exc.strerror}; run `briefs build`") from None
        if sha256_bytes(data) != self.sha256:
            raise ManifestError(
                f"{path} changed since it was built (its sha256 differs from "
                f"{MANIFEST_FILE}); run `briefs build` again"
            )
        return data

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "bytes": self.size}


@dataclass
class BriefEntry:
    """What the manifest says about one brief."""

    slug: str
    audience: str
    title: str
    custom: bool
    files: dict[str, FileRecord]
    pages: int | None
    findings: list[str]
    sources: list[str]
    input_hash: str
    inputs: dict[str, Any]
    built_at: str
    audience_title: str = ""
    headlines: dict[str, str] = field(default_factory=dict)
    standfirst: str = ""  # the argued brief's argument, plain text ("" if not argued)
    edition: bool = False  # declared in editions.yaml
    # Made ad hoc (--theme/--finding): never published or sent. An entry written before
    # drafts were marked counts as one when it is custom and not an edition.
    draft: bool = False
    version: Version | None = None  # the brief's own MAJOR.MINOR (versions.py)

    @property
    def sha256(self) -> str:
        """The sha256 that names these bytes: the PDF's, or the HTML's if there is no PDF."""
        return (self.files.get("pdf") or self.files["html"]).sha256

    @property
    def version_number(self) -> str:
        return self.version.number if self.version else ""

    @property
    def finding_hashes(self) -> dict[str, str]:
        """Finding id -> hash of the finding as this build used it."""
        found = self.inputs.get("findings")
        if not isinstance(found, dict):
            return {}
        return {str(k): str(v) for k, v in found.items() if isinstance(v, str)}

    def headline(self, finding_id: str) -> str:
        return self.headlines.get(finding_id, finding_id)

    def as_json(self) -> dict[str, Any]:
        return {
            "audience": self.audience,
            "audience_title": self.audience_title,
            "title": self.title,
            "custom": self.custom,
            "files": {fmt: record.as_json() for fmt, record in self.files.items()},
            "pages": self.pages,
            "findings": self.findings,
            "headlines": self.headlines,
            "standfirst": self.standfirst,
            "sources": self.sources,
            "input_hash": self.input_hash,
            "inputs": self.inputs,
            "built_at": self.built_at,
            "edition": self.edition,
            "draft": self.draft,
            **({"version": self.version.as_json()} if self.version else {}),
        }


def request_id(request: dict[str, Any]) -> str:
    """The key of a build request in the manifest's "requests" table."""
    return sha256_bytes(json.dumps(request, sort_keys=True).encode())[:16]


@dataclass
class Whole:
    """What a sharded build (``--shard K/N``) is a share of: the same request without
    its shard, that request's tree hash, and every brief it makes, in plan order; and
    which share (k, n) this is. Equal but for ``shard`` in every shard of one build;
    ``briefs merge`` checks that and writes the whole."""

    request: dict[str, Any]
    tree: str
    briefs: list[str]
    shard: tuple[int, int]

    def as_json(self) -> dict[str, Any]:
        return {
            "request": self.request,
            "tree": self.tree,
            "briefs": self.briefs,
            "shard": list(self.shard),
        }


@dataclass
class RequestRecord:
    """A build request that validated and wrote its briefs: the no-op shortcut's key."""

    tree: str
    briefs: list[str]
    warnings: list[dict[str, Any]]
    whole: Whole | None = None  # only for a sharded build

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "tree": self.tree,
            "briefs": self.briefs,
            "warnings": self.warnings,
        }
        if self.whole is not None:
            data["whole"] = self.whole.as_json()
        return data


@dataclass
class Manifest:
    briefs: dict[str, BriefEntry] = field(default_factory=dict)
    requests: dict[str, RequestRecord] = field(default_factory=dict)
    tool: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    publication: dict[str, Any] = field(default_factory=dict)
    audiences: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None  # where it was read from
    # Slug -> why its entry could not be used (lenient reading only): the build renders
    # such a brief again and says its version starts again.
    damaged: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "briefs": {slug: entry.as_json() for slug, entry in self.briefs.items()},
            "requests": {key: record.as_json() for key, record in self.requests.items()},
            "tool": self.tool,
            "environment": self.environment,
            "publication": self.publication,
            "audiences": self.audiences,
        }

    def text(self) -> str:
        return json.dumps(self.as_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def audience_title(self, audience_id: str) -> str:
        info = self.audiences.get(audience_id) or {}
        return str(info.get("title") or audience_id)


def path_in(out_dir: Path) -> Path:
    return out_dir / MANIFEST_FILE


def read(out_dir: Path, *, strict: bool = False) -> Manifest:
    """The manifest in ``out_dir``.

    Lenient (the build): a missing or damaged file, or a damaged entry, reads as absent,
    so those briefs are rendered again. Strict (site, deliver): anything missing or out
    of shape is a ManifestError telling the user to build again.
    """
    path = path_in(out_dir)
    if not path.is_file() or path.is_symlink():
        if strict:
            raise ManifestError(f"no {MANIFEST_FILE} in {out_dir}: run `briefs build` first")
        return Manifest(path=path)
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        if strict:
            raise ManifestError(
                f"{path} cannot be read ({exc}); run `briefs build` again"
            ) from None
        return Manifest(path=path)
    return parse(data, path, strict=strict)


def parse(data: object, path: Path, *, strict: bool = False) -> Manifest:
    """A manifest from its JSON data, every field checked (see ``read``)."""

    def refuse(why: str) -> None:
        if strict:
            raise ManifestError(f"{path}: {why}; run `briefs build` again")

    manifest = Manifest(path=path)
    if not isinstance(data, dict) or not isinstance(data.get("briefs"), dict):
        refuse('not a briefs manifest (no "briefs" table)')
        return manifest
    for slug, raw in data["briefs"].items():
        try:
            manifest.briefs[slug] = _entry(slug, raw)
        except ValueError as exc:
            refuse(f"the entry for brief {json.dumps(slug)} {exc}")
            if valid_slug(slug):
                manifest.damaged[slug] = str(exc)
    for key, raw in (data.get("requests") or {}).items():
        if (
            isinstance(raw, dict)
            and isinstance(raw.get("tree"), str)
            and isinstance(raw.get("briefs"), list)
            and all(valid_slug(s) for s in raw["briefs"])
            and isinstance(raw.get("warnings", []), list)
        ):
            manifest.requests[str(key)] = RequestRecord(
                raw["tree"],
                list(raw["briefs"]),
                list(raw.get("warnings", [])),
                _whole(raw.get("whole")),
            )
    for name in ("tool", "environment", "publication", "audiences"):
        value = data.get(name)
        if isinstance(value, dict):
            setattr(manifest, name, value)
    return manifest


def _whole(raw: object) -> Whole | None:
    if (
        isinstance(raw, dict)
        and isinstance(raw.get("request"), dict)
        and isinstance(raw.get("tree"), str)
        and isinstance(raw.get("briefs"), list)
        and all(valid_slug(s) for s in raw["briefs"])
        and isinstance(raw.get("shard"), list)
        and len(raw["shard"]) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in raw["shard"])
        and 1 <= raw["shard"][0] <= raw["shard"][1]
    ):
        shard = (raw["shard"][0], raw["shard"][1])
        return Whole(dict(raw["request"]), raw["tree"], list(raw["briefs"]), shard)
    return None


def _entry(slug: object, raw: object) -> BriefEntry:
    if not valid_slug(slug):
        raise ValueError(
            "has a name that is not a brief slug (lower-case letters, digits and hyphens)"
        )
    assert isinstance(slug, str)
    if not isinstance(raw, dict):
        raise ValueError("is not a table")
    files = {}
    raw_files = raw.get("files")
    if not isinstance(raw_files, dict):
        raise ValueError("has no files table")
    for fmt, info in raw_files.items():
        if fmt not in FORMATS:
            raise ValueError(f"lists a file of unknown format {json.dumps(fmt)}")
        if not isinstance(info, dict):
            raise ValueError(f"has a malformed {fmt} record")
        name, sha, size = info.get("path"), info.get("sha256"), info.get("bytes")
        # Only the name the build itself gives: no folder, no way out of output/.
        if name != f"{slug}.{fmt}":
            raise ValueError(f"names its {fmt} file {json.dumps(name)}, not {slug}.{fmt}")
        if not (isinstance(sha, str) and _SHA256.match(sha)):
            raise ValueError(f"has no valid sha256 for its {fmt} file")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(f"has no valid size for its {fmt} file")
        files[fmt] = FileRecord(name, sha, size)
    pages = raw.get("pages")
    findings = raw.get("findings") or []
    headlines = raw.get("headlines") or {}
    inputs = raw.get("inputs") or {}
    if not (pages is None or (isinstance(pages, int) and not isinstance(pages, bool))):
        raise ValueError("has a page count that is not a number")
    if not (isinstance(findings, list) and all(isinstance(f, str) for f in findings)):
        raise ValueError("has a malformed findings list")
    if not (isinstance(headlines, dict) and all(isinstance(v, str) for v in headlines.values())):
        raise ValueError("has malformed headlines")
    if not isinstance(inputs, dict):
        raise ValueError("has a malformed inputs table")
    version = Version.parse(raw["version"]) if "version" in raw else None
    custom = bool(raw.get("custom", False))
    edition = raw.get("edition", False) is True
    return BriefEntry(
        slug=slug,
        audience=str(raw.get("audience", "")),
        title=str(raw.get("title", slug)),
        custom=custom,
        files=files,
        pages=pages,
        findings=list(findings),
        sources=[str(s) for s in raw.get("sources") or []],
        input_hash=str(raw.get("input_hash", "")),
        inputs=inputs,
        built_at=str(raw.get("built_at") or ""),
        audience_title=str(raw.get("audience_title") or ""),
        headlines=dict(headlines),
        standfirst=str(raw.get("standfirst") or ""),
        edition=edition,
        draft=raw.get("draft", custom and not edition) is not False,
        version=version,
    )


def write(out_dir: Path, manifest: Manifest) -> Path:
    path = path_in(out_dir)
    write_atomic(path, manifest.text())
    return path

"""What the last build made, read from output/manifest.json and checked against the files.

Publishing and sending work from the build's outputs, never from the findings: what
readers get is exactly what was built, byte for byte, and the manifest's sha256 says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from ..errors import BriefsError
from ..files import sha256_bytes

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class BuiltFile:
    path: Path
    sha256: str
    size: int

    def read(self) -> bytes:
        """The file's bytes, refused if they are not the ones the build recorded."""
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise BriefsError(f"cannot read {self.path}: {exc.strerror}; run `briefs build`")
        if sha256_bytes(data) != self.sha256:
            raise BriefsError(f"{self.path} changed since it was built (its sha256 differs "
                              "from manifest.json); run `briefs build` again")
        return data


@dataclass(frozen=True)
class BuiltBrief:
    slug: str
    audience: str
    title: str
    custom: bool
    files: dict[str, BuiltFile]
    findings: tuple[str, ...]
    pages: int | None
    built_at: str
    # finding id -> hash of its inputs, when the build records them (manifest "inputs")
    finding_hashes: dict[str, str] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """The sha256 that names this version: the PDF's, or the HTML's if there is no PDF."""
        return (self.files.get("pdf") or self.files["html"]).sha256


@dataclass
class Build:
    out_dir: Path
    manifest_path: Path
    manifest: dict
    briefs: list[BuiltBrief] = field(default_factory=list)

    def get(self, slug: str) -> BuiltBrief | None:
        return next((b for b in self.briefs if b.slug == slug), None)


def read_build(out_dir: Path) -> Build:
    """The last build in ``out_dir``, or a BriefsError telling the user to build first."""
    path = out_dir / MANIFEST
    if not path.is_file():
        raise BriefsError(f"no {MANIFEST} in {out_dir}: run `briefs build` first")
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BriefsError(f"{path} cannot be read ({exc}); run `briefs build` again")
    build = Build(out_dir, path, data)
    entries = data.get("briefs") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise BriefsError(f"{path} has no 'briefs' table; run `briefs build` again")
    for slug, entry in entries.items():
        try:
            files = {
                fmt: BuiltFile(out_dir / info["path"], str(info["sha256"]), int(info["bytes"]))
                for fmt, info in entry["files"].items() if fmt in ("pdf", "html")
            }
            brief = BuiltBrief(
                slug=slug, audience=str(entry["audience"]), title=str(entry["title"]),
                custom=bool(entry.get("custom", False)), files=files,
                findings=tuple(entry.get("findings") or ()), pages=entry.get("pages"),
                built_at=str(entry.get("built_at") or ""),
                finding_hashes=_finding_hashes(entry))
        except (KeyError, TypeError, ValueError, AttributeError):
            raise BriefsError(f"{path}: the entry for '{slug}' is incomplete; "
                              "run `briefs build` again")
        if not files:
            continue
        for built in files.values():
            if built.path.parent != out_dir or not built.path.is_file():
                raise BriefsError(f"{built.path} is listed in {MANIFEST} but missing; "
                                  "run `briefs build` again")
        build.briefs.append(brief)
    if not build.briefs:
        raise BriefsError(f"{path} lists no briefs: run `briefs build` first")
    return build


def _finding_hashes(entry: dict) -> dict[str, str]:
    inputs = entry.get("inputs")
    findings = inputs.get("findings") if isinstance(inputs, dict) else None
    if not isinstance(findings, dict):
        return {}
    return {str(k): str(v) for k, v in findings.items() if isinstance(v, str)}


@dataclass
class PageFacts:
    """What a built HTML twin says about itself, for listings and messages."""

    title: str = ""
    language: str = ""
    description: str = ""
    date: str = ""


def page_facts(html: bytes) -> PageFacts:
    parser = _FactsParser()
    parser.feed(html.decode("utf-8", errors="replace"))
    parser.close()
    return parser.facts


class _FactsParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.facts = PageFacts()
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.facts.language = attributes.get("lang", "")
        elif tag == "title":
            self._in_title = True
        elif tag == "meta":
            name = attributes.get("name", "").lower()
            if name == "description":
                self.facts.description = attributes.get("content", "").strip()
            elif name in ("dcterms.modified", "dcterms.created") and not (
                    name == "dcterms.created" and self.facts.date):
                self.facts.date = attributes.get("content", "").strip()

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.facts.title += data

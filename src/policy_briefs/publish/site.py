"""The published site: an index of the briefs, a page per brief, an Atom feed, the manifest.

Layout (every link relative, so the folder can be served from any address):

    index.html            the briefs, with summary, date, sizes and links
    briefs/<slug>.html    the HTML twin, as built
    briefs/<slug>.pdf     the PDF, as built
    archive/<slug>/<sha>  earlier versions still listed in the feed
    feed.xml              Atom, one entry per brief version
    manifest.json         the build's manifest
    versions.json         the versions the feed lists (carried from one publish to the next)

The site is assembled in a temporary folder beside the target and swapped in at the end,
so a failed publish leaves the previous site as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from .. import __version__
from ..errors import BriefsError
from ..files import write_atomic
from ..html import long_date, make_environment, render_template
from ..project import Project
from .built import Build, BuiltBrief, page_facts
from .series import Series

INDEX_TEMPLATE = "site/index.html"
FEED = "feed.xml"
HISTORY = "versions.json"
# Old versions stay in the feed (and their files in archive/) up to this many per brief,
# so a site that is published every week does not grow without bound.
VERSIONS_PER_BRIEF = 10
HIGHLIGHTS = 3
ATOM = "http://www.w3.org/2005/Atom"
_NAMESPACE = uuid.UUID("5b0c3d2e-6f1a-4f55-9a57-2f0d3c1e8b71")  # this tool's ids


def page_path(slug: str, fmt: str) -> str:
    """Where a brief's current file lives in the site (also used in messages' links)."""
    return f"briefs/{slug}.{fmt}"


def entry_id(slug: str, sha256: str) -> str:
    """The Atom id of one brief version: the same brief bytes always get the same id."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'brief:{slug}:{sha256}')}"


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

    def as_dict(self) -> dict:
        return self.__dict__.copy()


@dataclass
class SiteReport:
    out: Path
    briefs: list[str]
    versions: int
    base_url: str | None


def publish_site(project: Project, build: Build, series: Series, out: Path,
                 base_url: str | None = None) -> SiteReport:
    """Write the site to ``out``, replacing the previous one only once all of it is ready."""
    out = out.resolve()
    _refuse_unsafe_target(project, build, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(out.parent / f".{out.name}.lock"))
    try:
        lock.acquire(timeout=60)
    except Timeout:
        raise BriefsError(f"another publish is writing {out}; try again when it ends")
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        try:
            report = _assemble(staging, project, build, series, out, base_url)
            _swap(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return report
    finally:
        lock.release()


def _refuse_unsafe_target(project: Project, build: Build, out: Path) -> None:
    # Publishing replaces the whole folder: never let that folder be one holding inputs
    # or the build itself, and never overwrite a folder this tool did not write.
    for precious in (project.root, build.out_dir.resolve(), project.findings_dir,
                     project.templates_dir):
        if out == precious or precious.is_relative_to(out):
            raise BriefsError(f"--out {out} would replace {precious}; choose a folder of "
                              "its own, such as output/site")
    if out.exists():
        if not out.is_dir():
            raise BriefsError(f"--out {out} is a file, not a folder")
        if any(out.iterdir()) and not (out / HISTORY).is_file():
            raise BriefsError(f"{out} is not empty and was not written by `briefs publish`; "
                              "choose another folder or empty it")


def _assemble(staging: Path, project: Project, build: Build, series: Series, out: Path,
              base_url: str | None) -> SiteReport:
    env = make_environment(project)
    env.filters["size"] = human_size
    env.filters["display_date"] = display_date
    now = build.manifest_path.stat().st_mtime
    fallback_time = _rfc3339(dt.datetime.fromtimestamp(now, dt.timezone.utc))

    current: list[Version] = []
    for brief in build.briefs:
        for fmt, built in brief.files.items():
            target = staging / page_path(brief.slug, fmt)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(built.read())
        current.append(_version(brief, series, fallback_time))

    history = _carry_history(out, staging, current)
    (staging / "manifest.json").write_bytes(build.manifest_path.read_bytes())
    (staging / HISTORY).write_text(
        json.dumps([v.as_dict() for v in history], indent=2, ensure_ascii=False) + "\n", "utf-8")
    (staging / FEED).write_bytes(_feed(series, history, base_url))

    earlier: dict[str, list[Version]] = {v.slug: [] for v in current}
    for version in history[len(current):]:  # _carry_history puts the current ones first
        if version.slug in earlier:
            earlier[version.slug].append(version)
    pub = series.publication
    html = render_template(
        env, INDEX_TEMPLATE,
        publication=pub,
        briefs=[(v, build.get(v.slug), earlier[v.slug]) for v in current],
        feed=FEED,
        highlights={b.slug: _highlights(b, series) for b in build.briefs},
    )
    (staging / "index.html").write_text(html, "utf-8")
    # mkdtemp makes a private folder; a published site must be readable by a web server.
    for path in [staging, *staging.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return SiteReport(out, [v.slug for v in current], len(history), base_url)


def _version(brief: BuiltBrief, series: Series, fallback_time: str) -> Version:
    facts = page_facts(brief.files["html"].read()) if "html" in brief.files else None
    audience = series.audiences.get(brief.audience)
    summary = (facts.description if facts and facts.description
               else (audience.reader if audience else ""))
    return Version(
        slug=brief.slug,
        sha256=brief.version,
        title=brief.title,
        audience=brief.audience,
        audience_title=series.audience_title(brief.audience),
        summary=summary,
        date=(facts.date if facts and facts.date else series.publication.date),
        first_seen=brief.built_at or fallback_time,
        files={fmt: {"path": page_path(brief.slug, fmt), "bytes": built.size}
               for fmt, built in brief.files.items()},
    )


def _highlights(brief: BuiltBrief, series: Series) -> list[str]:
    """The first findings' headlines, a glimpse of what the brief says."""
    headlines = [series.headline(fid) for fid in brief.findings]
    return [h for h, fid in zip(headlines, brief.findings) if h != fid][:HIGHLIGHTS]


def _carry_history(out: Path, staging: Path, current: list[Version]) -> list[Version]:
    """This publish's versions plus the earlier ones the previous site listed."""
    previous: list[Version] = []
    try:
        previous = [Version(**item) for item in
                    json.loads((out / HISTORY).read_text("utf-8"))]
    except (OSError, ValueError, TypeError):
        pass  # no previous site, or not one we can read: the feed starts afresh
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
            if not source.is_file():
                continue
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, staging / name)
            files[fmt] = {"path": name, "bytes": info["bytes"]}
        if files:
            old.files = files
            result.append(old)
            kept[old.slug] = kept.get(old.slug, 0) + 1
    return result


def _feed(series: Series, versions: list[Version], base_url: str | None) -> bytes:
    ET.register_namespace("", ATOM)
    pub = series.publication

    def sub(parent, tag, text=None, **attrs):
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k.rstrip("_"): v
                                                             for k, v in attrs.items()})
        if text is not None:
            element.text = text
        return element

    def href(path: str) -> str:
        return (base_url + path) if base_url else path

    feed = ET.Element(f"{{{ATOM}}}feed")
    feed.set("{http://www.w3.org/XML/1998/namespace}lang", pub.language)
    sub(feed, "id", f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'feed:{pub.series}')}")
    sub(feed, "title", pub.series)
    sub(feed, "subtitle", f"Policy briefs published by {pub.publisher}")
    ordered = sorted(versions, key=lambda v: (v.first_seen, v.slug), reverse=True)
    sub(feed, "updated", ordered[0].first_seen)
    author = sub(feed, "author")
    sub(author, "name", pub.publisher)
    if pub.contact and "@" in pub.contact:
        sub(author, "email", pub.contact)
    sub(feed, "link", rel="alternate", type="text/html", href=href("index.html"))
    if base_url:
        sub(feed, "link", rel="self", type="application/atom+xml", href=href(FEED))
    sub(feed, "generator", "policy-briefs", version=__version__)
    if pub.licence:
        sub(feed, "rights", pub.licence)
    for version in ordered:
        entry = sub(feed, "entry")
        sub(entry, "id", entry_id(version.slug, version.sha256))
        sub(entry, "title", version.title)
        sub(entry, "updated", version.first_seen)
        sub(entry, "published", version.first_seen)
        main = version.files.get("html") or version.files["pdf"]
        sub(entry, "link", rel="alternate",
            type="text/html" if "html" in version.files else "application/pdf",
            href=href(main["path"]))
        if "pdf" in version.files:
            pdf = version.files["pdf"]
            sub(entry, "link", rel="enclosure", type="application/pdf",
                length=str(pdf["bytes"]), href=href(pdf["path"]))
        sub(entry, "category", term=version.audience, label=version.audience_title)
        sub(entry, "summary", f"{version.summary} ({display_date(version.date)}; version "
                              f"{version.sha256[:12]})".strip())
    ET.indent(feed)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True) + b"\n"


def _swap(staging: Path, out: Path) -> None:
    """Put the new site in place. Two renames: the old site is gone only after the new
    one is complete, and a failed second rename puts the old one back."""
    retired = None
    if out.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.replace(out, retired / out.name)
    try:
        os.replace(staging, out)
    except OSError:
        if retired is not None:
            os.replace(retired / out.name, out)
        raise
    finally:
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)


def _rfc3339(moment: dt.datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def display_date(value: str) -> str:
    """A date for readers; text that is not an ISO date is shown as written."""
    try:
        return long_date(value[:10])
    except (ValueError, TypeError):
        return value


def human_size(size: int) -> str:
    """File sizes as readers expect them on a download link: '71 KB', '1.2 MB'."""
    if size < 1000:
        return f"{size} bytes"
    if size < 1000 * 1000:
        return f"{round(size / 1000)} KB"
    return f"{size / 1000 / 1000:.1f} MB"

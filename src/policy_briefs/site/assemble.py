"""The published site, assembled from the last build: an index of the briefs, a page per
brief, an Atom feed (feed.py), the manifest.

Layout (every link relative, so the folder can be served from any address):

    index.html            the briefs: title, argument, audience, date, links, a picture
    briefs/<slug>.html    the HTML twin with a site bar (back to the index, the PDF)
    briefs/<slug>.pdf     the PDF, as built
    thumbnails/<slug>.webp  the PDF's first page, for the index
    archive/<slug>/<sha>  earlier versions still listed in the feed (pages with a bar too)
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
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from ..built import Build
from ..errors import BriefsError
from ..files import Locked, utc_stamp
from ..manifest import MANIFEST_FILE, BriefEntry
from ..project import Project
from ..templating import jinja_environment, render_template
from ..webfonts import SITE_FACES, embed_fonts
from .facts import display_date, human_size, page_facts, page_path
from .feed import FEED, atom_feed
from .history import HISTORY, Version, carry_history
from .pages import Bar, brief_page
from .thumbnails import first_page

INDEX_TEMPLATE = "site/index.html"
HIGHLIGHTS = 3
THUMBNAILS = "thumbnails"


@dataclass
class SiteReport:
    out: Path
    briefs: list[str]
    versions: int
    base_url: str | None
    warnings: list[str] = field(default_factory=list)


def publish_site(
    project: Project, build: Build, out: Path, base_url: str | None = None
) -> SiteReport:
    """Write the site to ``out``, replacing the previous one only once all of it is ready."""
    out = out.resolve()
    _refuse_unsafe_target(project, build, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with Locked(out.parent / f".{out.name}.lock", f"the site folder {out}"):
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        try:
            report = _assemble(staging, project, build, out, base_url)
            _swap(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return report


def _refuse_unsafe_target(project: Project, build: Build, out: Path) -> None:
    # Publishing replaces the whole folder: never let that folder be one holding inputs
    # or the build itself, and never overwrite a folder this tool did not write.
    for precious in (
        project.root,
        build.out_dir.resolve(),
        project.findings_dir,
        project.templates_dir,
    ):
        if out == precious or precious.is_relative_to(out):
            raise BriefsError(
                f"--out {out} would replace {precious}; choose a folder of "
                "its own, such as output/site"
            )
    if out.exists():
        if not out.is_dir():
            raise BriefsError(f"--out {out} is a file, not a folder")
        if any(out.iterdir()) and not (out / HISTORY).is_file():
            raise BriefsError(
                f"{out} is not empty and was not written by `briefs publish`; "
                "choose another folder or empty it"
            )


def _assemble(
    staging: Path, project: Project, build: Build, out: Path, base_url: str | None
) -> SiteReport:
    env = jinja_environment(project)
    env.filters["size"] = human_size
    env.filters["display_date"] = display_date
    env.filters["without_series"] = partial(without_series, build.publication.series)
    now = build.manifest_path.stat().st_mtime
    fallback_time = utc_stamp(dt.datetime.fromtimestamp(now, dt.UTC))
    series = build.publication.series

    # Drafts (--theme/--finding) are for review, never for readers.
    published = [b for b in build.briefs if not b.draft]
    if not published:
        raise BriefsError(
            f"{build.manifest_path} lists only drafts (briefs made with --theme/--finding), "
            "which are never published; run `briefs build` for the audiences' briefs "
            "and declared editions"
        )
    current: list[Version] = []
    thumbnails: dict[str, dict] = {}
    for brief in published:
        version = _version(build, brief, fallback_time)
        for fmt in brief.files:
            path = page_path(brief.slug, fmt)
            data = build.read(brief, fmt)
            if fmt == "html":
                pdf = version.files.get("pdf") or {}
                data = brief_page(data, Bar(series, path, pdf.get("path"), pdf.get("bytes", 0)))
                version.files[fmt]["bytes"] = len(data)
            else:
                thumbnail = first_page(data, str(brief.files[fmt].location(build.out_dir)))
                name = f"{THUMBNAILS}/{brief.slug}.webp"
                _write(staging / name, thumbnail.data)
                thumbnails[brief.slug] = {
                    "path": name,
                    "width": thumbnail.width,
                    "height": thumbnail.height,
                }
            _write(staging / path, data)
        current.append(version)

    slugs = {v.slug for v in current}

    def archived(old: Version, fmt: str, name: str, data: bytes) -> bytes:
        # Archived pages get a bar whose links work from the archive folder.
        if fmt != "html":
            return data
        pdf = f"archive/{old.slug}/{old.sha256[:16]}.pdf" if "pdf" in old.files else None
        note = f"An earlier version of this brief, published {display_date(old.first_seen)}."
        return brief_page(
            data,
            Bar(
                series,
                name,
                pdf,
                old.files["pdf"]["bytes"] if pdf else 0,
                note,
                page_path(old.slug, "html") if old.slug in slugs else None,
            ),
        )

    drafts = {b.slug for b in build.briefs if b.draft}
    history = carry_history(out, staging, current, archived, hidden=drafts)
    (staging / MANIFEST_FILE).write_bytes(build.manifest_path.read_bytes())
    (staging / HISTORY).write_text(
        json.dumps([v.as_dict() for v in history], indent=2, ensure_ascii=False) + "\n", "utf-8"
    )
    (staging / FEED).write_bytes(atom_feed(build.publication, history, base_url))

    earlier: dict[str, list[Version]] = {v.slug: [] for v in current}
    for version in history[len(current) :]:  # carry_history puts the current ones first
        if version.slug in earlier:
            earlier[version.slug].append(version)
    pub = build.publication
    html = render_template(
        env,
        INDEX_TEMPLATE,
        publication=pub,
        briefs=[(v, build.get(v.slug), earlier[v.slug]) for v in current],
        feed=FEED,
        highlights={b.slug: _highlights(b) for b in published},
        thumbnails=thumbnails,
    )
    html, warnings = embed_fonts(html, SITE_FACES)
    (staging / "index.html").write_text(html, "utf-8")
    # mkdtemp makes a private folder; a published site must be readable by a web server.
    for item in [staging, *staging.rglob("*")]:
        os.chmod(item, 0o755 if item.is_dir() else 0o644)
    if not base_url:
        warnings.append(
            "no site address (--base-url, BRIEFS_SITE_URL or publication.url): the feed's "
            'links are relative and it has no rel="self" link, which many feed readers '
            "cannot resolve"
        )
    return SiteReport(out, [v.slug for v in current], len(history), base_url, warnings)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def without_series(series: str, title: str) -> str:
    """A title without the series name in front: the index already shows it once."""
    lead = f"{series}: "
    return title[len(lead) :] if title.startswith(lead) and len(title) > len(lead) else title


def _version(build: Build, brief: BriefEntry, fallback_time: str) -> Version:
    facts = page_facts(build.read(brief, "html")) if "html" in brief.files else None
    audience = build.manifest.audiences.get(brief.audience) or {}
    # The argued brief's argument (its cover's standfirst), else who the brief is for.
    summary = brief.standfirst or str(audience.get("reader") or "")
    return Version(
        slug=brief.slug,
        sha256=brief.sha256,
        title=brief.title,
        audience=brief.audience,
        audience_title=build.audience_title(brief.audience),
        summary=summary,
        date=(
            brief.version.date
            if brief.version
            else facts.date
            if facts and facts.date
            else build.publication.date
        ),
        number=brief.version_number,
        first_seen=brief.built_at or fallback_time,
        files={
            fmt: {"path": page_path(brief.slug, fmt), "bytes": built.size}
            for fmt, built in brief.files.items()
        },
    )


def _highlights(brief: BriefEntry) -> list[str]:
    """The first findings' headlines, a glimpse of what the brief says."""
    headlines = [brief.headline(fid) for fid in brief.findings]
    return [h for h, fid in zip(headlines, brief.findings, strict=False) if h != fid][:HIGHLIGHTS]


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

"""The published site, assembled from the last build: an index of the briefs, a page per
brief, an Atom feed (feed.py), the manifest.

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
from dataclasses import dataclass, field
from pathlib import Path

from ..built import Build
from ..errors import BriefsError
from ..files import Locked, utc_stamp
from ..manifest import MANIFEST_FILE, BriefEntry
from ..project import Project
from ..templating import jinja_environment, render_template
from .facts import display_date, human_size, page_facts, page_path
from .feed import FEED, atom_feed
from .history import HISTORY, Version, carry_history

INDEX_TEMPLATE = "site/index.html"
HIGHLIGHTS = 3


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
    now = build.manifest_path.stat().st_mtime
    fallback_time = utc_stamp(dt.datetime.fromtimestamp(now, dt.UTC))

    # Drafts (--theme/--finding) are for review, never for readers.
    published = [b for b in build.briefs if not b.draft]
    if not published:
        raise BriefsError(
            f"{build.manifest_path} lists only drafts (briefs made with --theme/--finding), "
            "which are never published; run `briefs build` for the audiences' briefs "
            "and declared editions"
        )
    current: list[Version] = []
    for brief in published:
        for fmt, built in brief.files.items():
            target = staging / page_path(brief.slug, fmt)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(built.read(build.out_dir))
        current.append(_version(build, brief, fallback_time))

    drafts = {b.slug for b in build.briefs if b.draft}
    history = carry_history(out, staging, current, hidden=drafts)
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
    )
    (staging / "index.html").write_text(html, "utf-8")
    # mkdtemp makes a private folder; a published site must be readable by a web server.
    for path in [staging, *staging.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    warnings = []
    if not base_url:
        warnings.append(
            "no site address (--base-url, BRIEFS_SITE_URL or publication.url): the feed's "
            'links are relative and it has no rel="self" link, which many feed readers '
            "cannot resolve"
        )
    return SiteReport(out, [v.slug for v in current], len(history), base_url, warnings)


def _version(build: Build, brief: BriefEntry, fallback_time: str) -> Version:
    facts = page_facts(build.read(brief, "html")) if "html" in brief.files else None
    audience = build.manifest.audiences.get(brief.audience) or {}
    summary = (
        facts.description if facts and facts.description else str(audience.get("reader") or "")
    )
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

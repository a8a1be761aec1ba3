"""Orchestration: validate everything, render every brief in memory, then write atomically.

The order matters: nothing touches output/ until all briefs have rendered, so a failed
run leaves the previous outputs exactly as they were.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from . import __version__
from .citations import find_style
from .corpus import Corpus
from .errors import BriefsError, Problem, ValidationFailed, has_errors
from .files import sha256_bytes, write_atomic
from .html import citations_for, make_environment, render_html, template_exists
from .project import Project
from .select import Brief, select
from .validate import check_project

FORMATS = ("pdf", "html")
MANIFEST = "manifest.json"


@dataclass
class BuildOptions:
    audiences: list[str] = field(default_factory=list)
    themes: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    formats: tuple[str, ...] = FORMATS
    out_dir: Path | None = None
    title: str | None = None
    strict: bool = False


@dataclass
class RenderedBrief:
    brief: Brief
    input_hash: str
    files: dict[str, bytes]  # format -> content
    pages: int | None
    sources_cited: list[str]
    messages: list[str] = field(default_factory=list)


@dataclass
class BuildReport:
    out_dir: Path
    written: list[Path]
    briefs: list[RenderedBrief]
    warnings: list[Problem]


Progress = Callable[[str], None]


def load_valid_corpus(project: Project, *, strict: bool = False,
                      sources_dir: Path | None = None) -> tuple[Corpus, list[Problem]]:
    """The corpus, or ValidationFailed with every problem. Also returns the warnings."""
    env = make_environment(project)
    corpus, problems = check_project(
        project,
        sources_dir=sources_dir,
        strict=strict,
        template_exists=lambda name: template_exists(env, name),
        style_exists=lambda name: find_style(name, project.template_dirs) is not None,
    )
    if has_errors(problems):
        raise ValidationFailed(problems)
    return corpus, problems


def plan(corpus: Corpus, options: BuildOptions) -> list[Brief]:
    """The briefs this build makes, in audience order."""
    wanted = options.audiences or list(corpus.audiences)
    return [
        select(corpus, audience_id, themes=options.themes or None,
               finding_ids=options.findings or None, title=options.title)
        for audience_id in wanted
    ]


def input_hash(project: Project, corpus: Corpus, brief: Brief) -> str:
    """A hash of everything that feeds one brief; equal hashes mean equal outputs."""
    digest = hashlib.sha256()

    def feed(label: str, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        digest.update(f"{label}:{len(data)}:".encode())
        digest.update(data)

    feed("tool", __version__)
    feed("brief", json.dumps({"slug": brief.slug, "title": brief.title, "custom": brief.custom}))
    feed("audience", brief.audience.model_dump_json())
    feed("publication", brief.publication.model_dump_json())
    for item in brief.items:
        feed("finding", item.finding.model_dump_json())
        feed("theme", item.theme.model_dump_json())
    for d in brief.disagreements:
        feed("contrast", d.first.model_dump_json() + d.second.model_dump_json())
    for source in brief.sources.values():
        feed("source", source.model_dump_json())
    for entry in brief.glossary:
        feed("term", entry.model_dump_json())
    for folder in project.template_dirs:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            feed(f"template:{path.relative_to(folder).as_posix()}", path.read_bytes())
    style = find_style(brief.audience.citation_style, project.template_dirs)
    if style is not None:
        feed("style", style.read_bytes())
    return digest.hexdigest()


def render_brief(project: Project, corpus: Corpus, brief: Brief,
                 formats: tuple[str, ...]) -> RenderedBrief:
    """Render one brief in memory: the HTML twin and/or the PDF."""
    env = make_environment(project)
    files: dict[str, bytes] = {}
    pages = None
    messages: list[str] = []
    citations = citations_for(brief, project)
    if "html" in formats:
        files["html"] = render_html(env, brief, citations, medium="screen").encode()
    if "pdf" in formats:
        from .pdf import render_pdf  # WeasyPrint is slow to import; only when needed

        citations = citations_for(brief, project)
        html = render_html(env, brief, citations, medium="print")
        identifier = input_hash(project, corpus, brief)
        rendered = render_pdf(html, base_dir=project.template_dirs[0],
                              allowed=project.template_dirs, identifier=identifier)
        files["pdf"] = rendered.data
        pages = rendered.pages
        messages = rendered.messages
    return RenderedBrief(brief, input_hash(project, corpus, brief), files, pages,
                         citations.cited_sources, messages)


def build(project: Project, options: BuildOptions, progress: Progress | None = None) -> BuildReport:
    """Validate, render every requested brief, then write them all and the manifest."""
    say = progress or (lambda _msg: None)
    corpus, warnings = load_valid_corpus(project, strict=options.strict)
    briefs = plan(corpus, options)
    out_dir = (options.out_dir or project.output_dir).resolve()

    rendered = []
    for brief in briefs:
        say(f"rendering {brief.slug}")
        rendered.append(render_brief(project, corpus, brief, options.formats))

    say("writing")
    written = write_outputs(out_dir, rendered)
    return BuildReport(out_dir, written, rendered, warnings)


def write_outputs(out_dir: Path, rendered: list[RenderedBrief]) -> list[Path]:
    """Write every file atomically under a lock, then the manifest that describes them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(out_dir / ".briefs.lock"))
    try:
        lock.acquire(timeout=60)
    except Timeout:
        raise BriefsError(f"another build is writing to {out_dir}; try again when it ends")
    try:
        written = []
        manifest = read_manifest(out_dir)
        now = build_time()
        for item in rendered:
            entry = {
                "audience": item.brief.audience.id,
                "title": item.brief.title,
                "custom": item.brief.custom,
                "files": {},
                "pages": item.pages,
                "findings": item.brief.finding_ids,
                "sources": item.sources_cited,
                "input_hash": item.input_hash,
                "built_at": now,
            }
            for fmt, data in item.files.items():
                path = out_dir / f"{item.brief.slug}.{fmt}"
                write_atomic(path, data)
                written.append(path)
                entry["files"][fmt] = {"path": path.name, "sha256": sha256_bytes(data),
                                       "bytes": len(data)}
            manifest["briefs"][item.brief.slug] = entry
        manifest["tool"] = {"name": "policy-briefs", "version": __version__,
                            "weasyprint": _weasyprint_version()}
        path = out_dir / MANIFEST
        write_atomic(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        written.append(path)
        return written
    finally:
        lock.release()


def read_manifest(out_dir: Path) -> dict:
    path = out_dir / MANIFEST
    if path.is_file():
        try:
            data = json.loads(path.read_text("utf-8"))
            if isinstance(data, dict) and isinstance(data.get("briefs"), dict):
                return data
        except (OSError, ValueError):
            pass  # a damaged manifest is rebuilt from this run's briefs
    return {"briefs": {}}


def build_time() -> str:
    """Now, or SOURCE_DATE_EPOCH when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        moment = dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc)
    else:
        moment = dt.datetime.now(dt.timezone.utc)
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _weasyprint_version() -> str:
    from importlib.metadata import version

    return version("weasyprint")

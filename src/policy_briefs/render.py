"""One brief to bytes (the HTML twin and the PDF), and the worker pool that renders many.

Rendering is pure: a brief and the project's templates in, bytes out. Nothing here
writes a file; the build decides what to keep and writes it (see build.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import BriefsError
from .project import Project

if TYPE_CHECKING:
    from .selection import Brief

Progress = Callable[[str], None]


@dataclass
class RenderedBrief:
    brief: Brief
    input_hash: str
    files: dict[str, bytes]  # format -> content
    pages: int | None
    sources_cited: list[str]
    messages: list[str] = field(
        default_factory=list
    )  # what WeasyPrint (or font embedding) reported
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    """A brief to render, with its input map and the hash that seeds the PDF's /ID."""

    brief: Brief
    inputs: dict[str, Any]
    key: str


def render_brief(
    project: Project, brief: Brief, formats: tuple[str, ...], *, identifier: str
) -> RenderedBrief:
    """Render one brief in memory: the HTML twin and/or the PDF.

    ``identifier`` (the input hash) seeds the PDF's /ID, so equal inputs give equal bytes.
    """
    from .templating import citations_for, render_html, shared_jinja_environment

    env = shared_jinja_environment(project)
    files: dict[str, bytes] = {}
    pages = None
    messages: list[str] = []
    citations = citations_for(brief, project)
    if "html" in formats:
        from .webfonts import BRIEF_FACES, embed_fonts

        twin, messages = embed_fonts(
            render_html(env, brief, citations, medium="screen"), BRIEF_FACES
        )
        files["html"] = twin.encode()
    if "pdf" in formats:
        from .pdf import render_pdf  # WeasyPrint is slow to import; only when needed

        # The same Citations: print cites the points screen cited, so pandoc runs once.
        html = render_html(env, brief, citations, medium="print")
        rendered = render_pdf(
            html,
            base_dir=project.template_dirs[0],
            allowed=project.template_dirs,
            identifier=identifier,
            tighter=lambda: render_html(env, brief, citations, medium="print", fit="tight"),
        )
        files["pdf"] = rendered.data
        pages = rendered.pages
        messages = [*messages, *rendered.messages]
    return RenderedBrief(brief, identifier, files, pages, citations.cited_sources, messages)


def render_all(
    project: Project, jobs: list[Job], formats: tuple[str, ...], workers: int, say: Progress
) -> list[RenderedBrief]:
    """Render ``jobs`` in plan order; in up to ``workers`` processes when > 1."""
    workers = min(workers if workers > 0 else (os.cpu_count() or 1), len(jobs))
    if workers <= 1:
        out = []
        for job in jobs:
            say(f"rendering {job.brief.slug}")
            rendered = render_brief(project, job.brief, formats, identifier=job.key)
            rendered.inputs = job.inputs
            out.append(rendered)
        return out
    return _render_parallel(project, jobs, formats, workers, say)


def _render_parallel(
    project: Project, jobs: list[Job], formats: tuple[str, ...], workers: int, say: Progress
) -> list[RenderedBrief]:
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    results: list[RenderedBrief | None] = [None] * len(jobs)
    root = str(project.root)
    with ProcessPoolExecutor(max_workers=workers, mp_context=_worker_context()) as pool:
        futures = {
            pool.submit(_render_job, root, job.brief, formats, job.key): n
            for n, job in enumerate(jobs)
        }
        try:
            for done, future in enumerate(as_completed(futures), 1):
                job = jobs[futures[future]]
                try:
                    outcome, error = future.result()
                except BrokenProcessPool:
                    raise BriefsError(
                        "a rendering worker process stopped unexpectedly; try again with --jobs 1"
                    ) from None
                if error is not None:
                    raise BriefsError(error)
                files, pages, cited, messages = outcome
                results[futures[future]] = RenderedBrief(
                    job.brief, job.key, files, pages, cited, messages, job.inputs
                )
                say(f"rendered {job.brief.slug} ({done}/{len(jobs)})")
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return [r for r in results if r is not None]


def _worker_context():
    """Fresh interpreters, not fork(): the parent may hold locks or threads (a progress
    spinner) that a forked child would inherit half-taken. A fork server pays for
    importing WeasyPrint once and hands each worker a copy."""
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["policy_briefs.pdf", "policy_briefs.templating"])
    return context


def start_worker_server() -> None:
    """Start the fork server now, so it imports WeasyPrint while the build validates."""
    context = _worker_context()
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def _render_job(root: str, brief: Brief, formats: tuple[str, ...], key: str):
    """In a worker: render and return plain data; the parent writes the files."""
    try:
        r = render_brief(Project.at(root), brief, formats, identifier=key)
    except BriefsError as exc:  # user errors travel as text; the parent raises them
        return None, str(exc)
    return (r.files, r.pages, r.sources_cited, r.messages), None

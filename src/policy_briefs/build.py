"""Orchestration: validate everything, render the briefs whose inputs changed, then write
atomically and record what was built and what changed.

The order matters: nothing touches output/ until every brief that needs rendering has
rendered, so a failed run leaves the previous outputs exactly as they were.

Two shortcuts keep rebuilds cheap (``--force`` takes neither):

- When every input byte, the environment and the request are those of an earlier build
  that validated them and wrote this request (recorded in the manifest under
  "requests"), and every file still has its recorded sha256, the build ends there. It
  imports no heavy module (pydantic, Jinja2, WeasyPrint): validation is a pure function
  of those bytes, so its earlier verdict stands. Any changed byte runs it again in full.
- Otherwise everything is validated and each brief whose input hash and files match its
  manifest entry is kept; only the others are rendered, in worker processes with --jobs.

This module imports the heavy modules only inside the functions that need them, so the
first shortcut stays fast.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .changes import CHANGES_JSON, CHANGES_MD, BriefChange, ChangeReport, compare, labels_of
from .errors import BriefsError, Problem, ValidationFailed, has_errors
from .files import sha256_bytes, sha256_file, write_atomic
from .fingerprint import BriefInputs, digest, environment, input_hash, tree_hash
from .project import Project

if TYPE_CHECKING:
    from .corpus import Corpus
    from .select import Brief

FORMATS = ("pdf", "html")
MANIFEST = "manifest.json"
PREVIOUS = "the previous build (manifest.json before this build)"


@dataclass
class BuildOptions:
    audiences: list[str] = field(default_factory=list)
    themes: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    formats: tuple[str, ...] = FORMATS
    out_dir: Path | None = None
    title: str | None = None
    strict: bool = False
    force: bool = False
    jobs: int = 1
    shard: tuple[int, int] | None = None  # (k, n): the k-th of n shares, 1-based

    def request(self) -> dict:
        """What this build asks for; two builds with equal requests make the same briefs."""
        return {"audiences": self.audiences, "themes": self.themes,
                "findings": self.findings, "formats": list(self.formats),
                "title": self.title, "strict": self.strict,
                "shard": list(self.shard) if self.shard else None}


@dataclass
class RenderedBrief:
    brief: Brief
    input_hash: str
    files: dict[str, bytes]  # format -> content
    pages: int | None
    sources_cited: list[str]
    messages: list[str] = field(default_factory=list)
    inputs: dict = field(default_factory=dict)


@dataclass
class BuildReport:
    out_dir: Path
    written: list[Path]
    briefs: list[RenderedBrief]  # rendered by this build
    warnings: list[Problem]
    kept: list[str] = field(default_factory=list)  # slugs already up to date
    changes: ChangeReport | None = None

    @property
    def up_to_date(self) -> bool:
        return not self.briefs


Progress = Callable[[str], None]


def load_valid_corpus(project: Project, *, strict: bool = False,
                      sources_dir: Path | None = None) -> tuple[Corpus, list[Problem]]:
    """The corpus, or ValidationFailed with every problem. Also returns the warnings."""
    from .citations import find_style
    from .html import make_environment, template_exists
    from .validate import check_project

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
    from .select import select

    wanted = options.audiences or list(corpus.audiences)
    return [
        select(corpus, audience_id, themes=options.themes or None,
               finding_ids=options.findings or None, title=options.title)
        for audience_id in wanted
    ]


def planned(corpus: Corpus, options: BuildOptions) -> list[Brief]:
    """The briefs of ``plan``, narrowed to this build's shard."""
    briefs = plan(corpus, options)
    return shard(briefs, options.shard) if options.shard else briefs


def shard(briefs: list[Brief], which: tuple[int, int]) -> list[Brief]:
    """The k-th of n shares: briefs sorted by slug, every n-th from the k-th on.

    Depends only on the set of slugs, so every machine of a CI matrix agrees on the split,
    and shares differ in size by at most one brief. Kept in plan order.
    """
    k, n = which
    order = sorted(b.slug for b in briefs)
    mine = {slug for i, slug in enumerate(order) if i % n == k - 1}
    return [b for b in briefs if b.slug in mine]


def parse_shard(text: str) -> tuple[int, int]:
    """'2/3' -> (2, 3)."""
    k, sep, n = text.partition("/")
    if not (sep and k.strip().isdigit() and n.strip().isdigit()):
        raise BriefsError(f"--shard must look like K/N, e.g. 1/3, not '{text}'")
    k_, n_ = int(k), int(n)
    if not 1 <= k_ <= n_:
        raise BriefsError(f"--shard {text}: K must be between 1 and N")
    return k_, n_


def render_brief(project: Project, brief: Brief, formats: tuple[str, ...], *,
                 identifier: str) -> RenderedBrief:
    """Render one brief in memory: the HTML twin and/or the PDF.

    ``identifier`` (the input hash) seeds the PDF's /ID, so equal inputs give equal bytes.
    """
    from .html import citations_for, make_environment, render_html

    env = make_environment(project)
    files: dict[str, bytes] = {}
    pages = None
    messages: list[str] = []
    citations = citations_for(brief, project)
    if "html" in formats:
        files["html"] = render_html(env, brief, citations, medium="screen").encode()
    if "pdf" in formats:
        from .pdf import render_pdf  # WeasyPrint is slow to import; only when needed

        html = render_html(env, brief, citations, medium="print")  # reuses the formatting
        rendered = render_pdf(html, base_dir=project.template_dirs[0],
                              allowed=project.template_dirs, identifier=identifier)
        files["pdf"] = rendered.data
        pages = rendered.pages
        messages = rendered.messages
    return RenderedBrief(brief, identifier, files, pages, citations.cited_sources, messages)


def build(project: Project, options: BuildOptions, progress: Progress | None = None) -> BuildReport:
    """Validate, render the briefs whose inputs changed, then write them and the manifest."""
    say = progress or (lambda _msg: None)
    out_dir = (options.out_dir or project.output_dir).resolve()
    request = options.request()
    tree = tree_hash(project, request)

    if not options.force:
        quick = _unchanged_build(out_dir, request, tree)
        if quick is not None:
            return quick

    if options.jobs != 1 and "pdf" in options.formats:
        _start_worker_server()  # imports WeasyPrint in the background while we validate
    say("validating")
    corpus, warnings = load_valid_corpus(project, strict=options.strict)
    briefs = planned(corpus, options)
    previous = read_manifest(out_dir)
    hasher = BriefInputs(project)
    todo: list[tuple[Brief, dict, str]] = []
    kept: list[Brief] = []
    for brief in briefs:
        inputs = hasher.of(brief)
        key = input_hash(inputs)
        entry = previous["briefs"].get(brief.slug)
        if not options.force and _still_built(out_dir, entry, key, options.formats):
            kept.append(brief)
        else:
            todo.append((brief, inputs, key))

    rendered = render_all(project, todo, options.formats, options.jobs, say)
    if options.strict:
        # A blocked fetch or a CSS rule WeasyPrint dropped changes what readers get;
        # under --strict that stops the build before anything is written.
        complaints = [f"{r.brief.slug}: {m}" for r in rendered for m in r.messages]
        if complaints:
            raise BriefsError("rendering reported problems (--strict):\n  "
                              + "\n  ".join(complaints) + "\nnothing was written")
    if rendered:
        say("writing")
    record = {"tree": tree, "briefs": [b.slug for b in briefs],
              "warnings": [p.as_dict() for p in warnings]}
    written, changes = write_outputs(
        out_dir, rendered, kept=[b.slug for b in kept], request=request, record=record,
        labels=labels_of(corpus),
        dropped=_dropped_audiences(previous, corpus, options),
    )
    return BuildReport(out_dir, written, rendered, warnings, [b.slug for b in kept], changes)


def render_all(project: Project, todo: list[tuple[Brief, dict, str]],
               formats: tuple[str, ...], jobs: int, say: Progress) -> list[RenderedBrief]:
    """Render ``todo`` in plan order; in up to ``jobs`` worker processes when > 1."""
    jobs = min(jobs if jobs > 0 else (os.cpu_count() or 1), len(todo))
    if jobs <= 1:
        out = []
        for brief, inputs, key in todo:
            say(f"rendering {brief.slug}")
            out.append(_with_inputs(render_brief(project, brief, formats, identifier=key), inputs))
        return out
    return _render_parallel(project, todo, formats, jobs, say)


def _with_inputs(rendered: RenderedBrief, inputs: dict) -> RenderedBrief:
    rendered.inputs = inputs
    return rendered


def _render_parallel(project: Project, todo: list[tuple[Brief, dict, str]],
                     formats: tuple[str, ...], jobs: int, say: Progress) -> list[RenderedBrief]:
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    context = _worker_context()
    results: list[RenderedBrief | None] = [None] * len(todo)
    root = str(project.root)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {
            pool.submit(_render_job, root, brief, formats, key): n
            for n, (brief, _inputs, key) in enumerate(todo)
        }
        try:
            for done, future in enumerate(as_completed(futures), 1):
                n = futures[future]
                brief, inputs, key = todo[n]
                try:
                    outcome, error = future.result()
                except BrokenProcessPool:
                    raise BriefsError("a rendering worker process stopped unexpectedly; "
                                      "try again with --jobs 1") from None
                if error is not None:
                    raise BriefsError(error)
                files, pages, cited, messages = outcome
                results[n] = RenderedBrief(brief, key, files, pages, cited, messages, inputs)
                say(f"rendered {brief.slug} ({done}/{len(todo)})")
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
    context.set_forkserver_preload(["policy_briefs.pdf", "policy_briefs.html"])
    return context


def _start_worker_server() -> None:
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


def _still_built(out_dir: Path, entry: dict | None, key: str, formats: tuple[str, ...]) -> bool:
    """True when the manifest entry has this input hash and every file is as recorded."""
    if not entry or entry.get("input_hash") != key:
        return False
    return _files_intact(out_dir, entry, formats)


def _files_intact(out_dir: Path, entry: dict, formats: tuple[str, ...]) -> bool:
    files = entry.get("files") or {}
    for fmt in formats:
        record = files.get(fmt)
        if not isinstance(record, dict):
            return False
        path = out_dir / str(record.get("path", ""))
        if path.parent != out_dir or not path.is_file():
            return False
        if path.stat().st_size != record.get("bytes") or sha256_file(path) != record.get("sha256"):
            return False
    return True


def _request_id(request: dict) -> str:
    return digest(json.dumps(request, sort_keys=True))[:16]


def _unchanged_build(out_dir: Path, request: dict, tree: str) -> BuildReport | None:
    """The report of a build with nothing to do, or None when there is work."""
    manifest = read_manifest(out_dir)
    record = manifest.get("requests", {}).get(_request_id(request))
    if not isinstance(record, dict) or record.get("tree") != tree:
        return None
    slugs = record.get("briefs")
    if not isinstance(slugs, list):
        return None
    formats = tuple(request["formats"])
    for slug in slugs:
        entry = manifest["briefs"].get(slug)
        if not isinstance(entry, dict) or not _files_intact(out_dir, entry, formats):
            return None
    try:
        warnings = [Problem(**w) for w in record.get("warnings", [])]
    except TypeError:
        return None
    changes = ChangeReport(PREVIOUS, [
        BriefChange(slug, manifest["briefs"][slug].get("title", slug), "unchanged")
        for slug in slugs
    ])
    written = _write_changes(out_dir, changes)
    return BuildReport(out_dir, written, [], warnings, list(slugs), changes)


def _write_changes(out_dir: Path, changes: ChangeReport) -> list[Path]:
    """Write CHANGES.md and changes.json unless they already say exactly this."""
    written = []
    for name, text in ((CHANGES_MD, changes.markdown()), (CHANGES_JSON, changes.as_json())):
        path = out_dir / name
        try:
            if path.read_text("utf-8") == text:
                continue
        except (OSError, UnicodeDecodeError):
            pass
        with _locked(out_dir):
            write_atomic(path, text)
        written.append(path)
    return written


def _dropped_audiences(previous: dict, corpus: Corpus, options: BuildOptions) -> list[str]:
    """Slugs of audience briefs whose audience is gone; only a full build may say so."""
    if options.audiences or options.themes or options.findings or options.shard:
        return []
    return [slug for slug, entry in previous["briefs"].items()
            if isinstance(entry, dict) and not entry.get("custom")
            and entry.get("audience") not in corpus.audiences]


class _locked:
    """The output folder's build lock: one writer at a time."""

    def __init__(self, out_dir: Path):
        from filelock import FileLock

        out_dir.mkdir(parents=True, exist_ok=True)
        self.lock = FileLock(str(out_dir / ".briefs.lock"))

    def __enter__(self):
        from filelock import Timeout

        try:
            self.lock.acquire(timeout=60)
        except Timeout:
            raise BriefsError(f"another build is writing to {self.lock.lock_file}'s folder; "
                              "try again when it ends") from None
        return self

    def __exit__(self, *exc):
        self.lock.release()


def write_outputs(out_dir: Path, rendered: list[RenderedBrief], *, kept: list[str] = (),
                  request: dict | None = None, record: dict | None = None,
                  labels: dict[str, str] | None = None,
                  dropped: list[str] = ()) -> tuple[list[Path], ChangeReport]:
    """Write every file atomically under the lock, the change report, then the manifest.

    The manifest comes last: if anything fails before it, the next build sees hashes
    that do not match and renders those briefs again.
    """
    with _locked(out_dir):
        written = []
        manifest = read_manifest(out_dir)
        previous = {k: v for k, v in manifest["briefs"].items() if isinstance(v, dict)}
        now = build_time()
        changes: dict[str, object] = {}
        for item in rendered:
            slug = item.brief.slug
            old = previous.get(slug)
            entry = {
                "audience": item.brief.audience.id,
                "title": item.brief.title,
                "custom": item.brief.custom,
                "files": {},
                "pages": item.pages,
                "findings": item.brief.finding_ids,
                "sources": item.sources_cited,
                "input_hash": item.input_hash,
                "inputs": item.inputs,
                "built_at": now,
            }
            if old and old.get("input_hash") == item.input_hash:
                # Same inputs, other formats: keep the record of the ones not rebuilt.
                entry["files"].update({f: r for f, r in (old.get("files") or {}).items()
                                       if f not in item.files})
                if item.pages is None:
                    entry["pages"] = old.get("pages")
            for fmt, data in item.files.items():
                path = out_dir / f"{slug}.{fmt}"
                write_atomic(path, data)
                written.append(path)
                entry["files"][fmt] = {"path": path.name, "sha256": sha256_bytes(data),
                                       "bytes": len(data)}
            manifest["briefs"][slug] = entry
            changes[slug] = compare(
                slug, item.brief.title, old, item.inputs,
                old_files=(old or {}).get("files"),
                new_files={f: entry["files"][f]["sha256"] for f in item.files},
                rebuilt=True)
        for slug in dropped:
            entry = manifest["briefs"].pop(slug)
            for record_ in (entry.get("files") or {}).values():
                path = out_dir / str(record_.get("path", ""))
                if path.parent == out_dir and path.is_file():
                    path.unlink()
        order = (record or {}).get("briefs") or [r.brief.slug for r in rendered] + list(kept)
        report = ChangeReport(PREVIOUS, [
            changes.get(slug) or BriefChange(slug, manifest["briefs"][slug].get("title", slug),
                                             "unchanged")
            for slug in order
        ] + [BriefChange(slug, previous[slug].get("title", slug), "removed") for slug in dropped],
            labels or {})
        for name, text in ((CHANGES_MD, report.markdown()), (CHANGES_JSON, report.as_json())):
            path = out_dir / name
            write_atomic(path, text)
            written.append(path)

        from . import __version__

        manifest["tool"] = {"name": "policy-briefs", "version": __version__,
                            "weasyprint": _weasyprint_version()}
        manifest["environment"] = environment()
        if request is not None and record is not None:
            # Earlier records for other inputs can never match again; keep the file small.
            fresh = {k: v for k, v in manifest.get("requests", {}).items()
                     if isinstance(v, dict) and v.get("tree") == record["tree"]}
            fresh[_request_id(request)] = record
            manifest["requests"] = fresh
        path = out_dir / MANIFEST
        write_atomic(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        written.append(path)
        return written, report


def read_manifest(out_dir: Path) -> dict:
    path = out_dir / MANIFEST
    if path.is_file():
        try:
            data = json.loads(path.read_text("utf-8"))
            if isinstance(data, dict) and isinstance(data.get("briefs"), dict):
                if not isinstance(data.get("requests"), dict):
                    data["requests"] = {}
                return data
        except (OSError, ValueError):
            pass  # a damaged manifest is rebuilt from this run's briefs
    return {"briefs": {}, "requests": {}}


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

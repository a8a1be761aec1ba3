"""Orchestration of ``briefs build``: no-op shortcut -> validate -> plan -> render -> write.

The order matters: nothing touches output/ until every brief that needs rendering has
rendered, so a failed run leaves the previous outputs exactly as they were. The write
itself is one crash-safe commit (files.Commit): every new file is written and fsynced
under a temporary name, then renamed into place under a journal, so a crash, a kill or
a full disk leaves the previous build or the new one, and the next command finishes or
discards what was cut short. The output lock is held for the whole build: a second
build waits (saying so) or, with ``wait=False``, refuses.

CHANGES.md and changes.json are a history, newest first, one section per build that
changed something; a build that changes nothing adds no section.

Two shortcuts keep rebuilds cheap (``--force`` takes neither):

- When every input byte, the environment and the request are those of an earlier build
  that validated them and wrote this request (recorded in the manifest under
  "requests"), and every file still has its recorded sha256, the build ends there. It
  imports no heavy module (pydantic, Jinja2, WeasyPrint): validation is a pure function
  of those bytes, so its earlier verdict stands. Any changed byte runs it again in full.
- Otherwise everything is validated and each brief whose input hash and files match its
  manifest entry is kept; only the others are rendered (render.py), in worker processes
  with --jobs.

Each planned brief gets its version (versions.py) before rendering, since the cover
prints it: from its record in the previous manifest and the hash of what its reader
sees. The version is part of the brief's cache key and is recorded with its entry.

This module imports the heavy modules only inside the functions that need them, so the
first shortcut stays fast.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import manifest
from .changes import (
    CHANGES_JSON,
    CHANGES_MD,
    BriefChange,
    ChangeReport,
    compare,
    history_texts,
    labels_of,
)
from .errors import BriefsError, Problem
from .files import (
    BUILD_LOCK_TIMEOUT,
    JOURNAL,
    Commit,
    Locked,
    output_lock,
    recover,
    sha256_bytes,
    utc_stamp,
)
from .fingerprint import BriefInputs, input_hash, shown_hash, software_environment, tree_hash
from .manifest import FORMATS, BriefEntry, FileRecord, Manifest, RequestRecord
from .project import Project
from .versions import Version, content_hash, next_version

if TYPE_CHECKING:
    from .corpus import Corpus
    from .render import Job, Progress, RenderedBrief
    from .selection import Brief

PREVIOUS = "the previous build (manifest.json before this build)"


@dataclass
class BuildOptions:
    audiences: list[str] = field(default_factory=list)  # audience ids or edition slugs
    themes: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    formats: tuple[str, ...] = FORMATS
    out_dir: Path | None = None
    title: str | None = None
    strict: bool = False
    force: bool = False
    jobs: int = 1
    shard: tuple[int, int] | None = None  # (k, n): the k-th of n shares, 1-based
    sources_dir: Path | None = None  # default: the project's (briefs.toml)
    require_verified: bool = False  # no snapshots to verify quotes against is an error
    wait: bool = True  # when another build holds the output folder: wait, or refuse

    def request(self) -> dict[str, Any]:
        """What this build asks for; two builds with equal requests make the same briefs."""
        return {
            "audiences": self.audiences,
            "themes": self.themes,
            "findings": self.findings,
            "formats": list(self.formats),
            "title": self.title,
            "strict": self.strict,
            "shard": list(self.shard) if self.shard else None,
            "sources_dir": str(self.sources_dir) if self.sources_dir else None,
            "require_verified": self.require_verified,
        }

    def plan(self, corpus: Corpus) -> list[Brief]:
        """The briefs this request makes, in audience order, narrowed to its shard."""
        from .selection import plan_briefs

        return plan_briefs(
            corpus,
            names=self.audiences,
            themes=self.themes,
            findings=self.findings,
            title=self.title,
            shard=self.shard,
        )

    @property
    def partial(self) -> bool:
        """A request for less than every audience's standard brief."""
        return bool(self.audiences or self.themes or self.findings or self.shard)


def parse_shard(text: str) -> tuple[int, int]:
    """'2/3' -> (2, 3)."""
    k, sep, n = text.partition("/")
    if not (sep and k.strip().isdigit() and n.strip().isdigit()):
        raise BriefsError(f"--shard must look like K/N, e.g. 1/3, not '{text}'")
    k_, n_ = int(k), int(n)
    if not 1 <= k_ <= n_:
        raise BriefsError(f"--shard {text}: K must be between 1 and N")
    return k_, n_


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


def build(project: Project, options: BuildOptions, progress: Progress | None = None) -> BuildReport:
    """Validate, render the briefs whose inputs changed, then write them and the manifest."""
    say = progress or (lambda _msg: None)
    out_dir = (options.out_dir or project.output_dir).resolve()
    request = options.request()
    tree = tree_hash(project, request, project.sources_dir(options.sources_dir))

    def locked() -> Locked:
        # Taken only once there is something to write: a build that fails validation
        # leaves no trace, not even a lock file. Held from then to the end, so a second
        # build waits (and then finds the briefs built) or, without wait, refuses.
        timeout = BUILD_LOCK_TIMEOUT if options.wait else 0
        return output_lock(out_dir, timeout=timeout, waiting=say)

    if not options.force and not (out_dir / JOURNAL).exists():
        quick = _unchanged_build(out_dir, request, tree)
        if quick is not None and not changes_texts(out_dir, quick.changes, ""):
            return quick  # nothing to render, nothing to write: no lock needed
        if quick is not None:
            with locked():
                recover(out_dir)
                quick = _unchanged_build(out_dir, request, tree)
                if quick is not None:
                    commit = Commit(out_dir)
                    quick.written = _stage_changes(commit, quick.changes, utc_stamp())
                    commit.commit()
                    return quick

    from .render import start_worker_server
    from .validate import load_valid_corpus

    if options.jobs != 1 and "pdf" in options.formats:
        start_worker_server()  # imports WeasyPrint in the background while we validate
    say("validating")
    corpus, warnings = load_valid_corpus(
        project,
        strict=options.strict,
        sources_dir=options.sources_dir,
        require_verified=options.require_verified,
    )
    briefs = options.plan(corpus)
    with locked():
        recover(out_dir)  # finish (or discard) a build a crash cut short
        return _render_and_write(
            project, options, out_dir, say, request, tree, corpus, warnings, briefs
        )


def _render_and_write(
    project: Project,
    options: BuildOptions,
    out_dir: Path,
    say: Progress,
    request: dict[str, Any],
    tree: str,
    corpus: Corpus,
    warnings: list[Problem],
    briefs: list[Brief],
) -> BuildReport:
    """With the output lock held: render what the manifest does not show as built, then
    commit it."""
    from .render import Job, render_all

    previous = manifest.read(out_dir)
    hasher = BriefInputs(project)
    todo: list[Job] = []
    kept: list[Brief] = []
    today = utc_stamp()[:10]
    notes: list[Problem] = []  # about this build's output folder, not the inputs
    versions: dict[str, Version] = {}
    for n, brief in enumerate(briefs):
        inputs = hasher.of(brief)
        version = versions[brief.slug] = _version(project, brief, inputs, previous, today, notes)
        brief = briefs[n] = dataclasses.replace(
            brief, version=version.number, version_date=version.date
        )
        # The version is printed, so it is part of the cache key; the input map stays
        # without it, so ``diff`` and the change report compare inputs only.
        key = input_hash({**inputs, "version": version.as_json()})
        entry = previous.briefs.get(brief.slug)
        if not options.force and _still_built(out_dir, entry, key, options.formats):
            kept.append(brief)
        else:
            todo.append(Job(brief, inputs, key))

    rendered = render_all(project, todo, options.formats, options.jobs, say)
    if options.strict:
        # A blocked fetch or a CSS rule WeasyPrint dropped changes what readers get;
        # under --strict that stops the build before anything is written.
        complaints = [f"{r.brief.slug}: {m}" for r in rendered for m in r.messages]
        if complaints:
            raise BriefsError(
                "rendering reported problems (--strict):\n  "
                + "\n  ".join(complaints)
                + "\nnothing was written"
            )
    if rendered:
        say("writing")
    record = RequestRecord(
        tree,
        [b.slug for b in briefs],
        [p.as_dict() for p in warnings],
        _whole(project, options, corpus),
    )
    written, changes = write_outputs(
        out_dir,
        rendered,
        kept=kept,
        request=request,
        record=record,
        corpus=corpus,
        dropped=[] if options.partial else _dropped(previous, briefs),
        versions=versions,
    )
    return BuildReport(
        out_dir, written, rendered, warnings + notes, [b.slug for b in kept], changes
    )


def _still_built(
    out_dir: Path, entry: BriefEntry | None, key: str, formats: tuple[str, ...]
) -> bool:
    """True when the manifest entry has this input hash and every file is as recorded."""
    return entry is not None and entry.input_hash == key and _files_intact(out_dir, entry, formats)


def _files_intact(out_dir: Path, entry: BriefEntry, formats: tuple[str, ...]) -> bool:
    return all(fmt in entry.files and entry.files[fmt].intact(out_dir) for fmt in formats)


def _request_id(request: dict[str, Any]) -> str:
    return manifest.request_id(request)


def _whole(project: Project, options: BuildOptions, corpus: Corpus) -> manifest.Whole | None:
    """For a sharded build, what it is a share of (see manifest.Whole); else None."""
    if options.shard is None:
        return None
    whole = dataclasses.replace(options, shard=None)
    request = whole.request()
    tree = tree_hash(project, request, project.sources_dir(options.sources_dir))
    slugs = [b.slug for b in whole.plan(corpus)]
    return manifest.Whole(request, tree, slugs, options.shard)


def _unchanged_build(out_dir: Path, request: dict[str, Any], tree: str) -> BuildReport | None:
    """The report of a build with nothing to do, or None when there is work."""
    recorded = manifest.read(out_dir)
    record = recorded.requests.get(_request_id(request))
    if record is None or record.tree != tree:
        return None
    formats = tuple(request["formats"])
    for slug in record.briefs:
        entry = recorded.briefs.get(slug)
        if entry is None or not _files_intact(out_dir, entry, formats):
            return None
    try:
        warnings = [Problem(**w) for w in record.warnings]
    except TypeError:
        return None
    changes = ChangeReport(PREVIOUS, [unchanged(recorded.briefs[slug]) for slug in record.briefs])
    return BuildReport(out_dir, [], [], warnings, list(record.briefs), changes)


def unchanged(entry: BriefEntry) -> BriefChange:
    """The change report's line for a brief this build left as it was."""
    return BriefChange(entry.slug, entry.title, "unchanged", version=entry.version_number)


def _stage_changes(commit: Commit, report: ChangeReport | None, now: str) -> list[Path]:
    staged = []
    for path, text in changes_texts(commit.directory, report, now).items():
        commit.stage(path, text)
        staged.append(path)
    return staged


def changes_texts(out_dir: Path, report: ChangeReport | None, now: str) -> dict[Path, str]:
    """CHANGES.md and changes.json in ``out_dir`` as they must become with ``report``
    (see changes.history_texts); files already saying that are left out."""
    assert report is not None
    md_path, json_path = out_dir / CHANGES_MD, out_dir / CHANGES_JSON
    md, data = history_texts(_read_text(md_path), _read_text(json_path), report, now)
    return {path: text for path, text in ((md_path, md), (json_path, data)) if text is not None}


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _dropped(previous: Manifest, planned: list[Brief]) -> list[str]:
    """Slugs of briefs no longer declared (their audience or edition is gone); only a
    full build may say so. Drafts are left as they are: never published or sent."""
    slugs = {b.slug for b in planned}
    return [
        slug for slug, entry in previous.briefs.items() if not entry.draft and slug not in slugs
    ]


def _version(
    project: Project,
    brief: Brief,
    inputs: dict[str, Any],
    previous: Manifest,
    today: str,
    notes: list[Problem],
) -> Version:
    """The brief's version (versions.py), from its record in the previous manifest."""
    publication = brief.publication
    entry = previous.briefs.get(brief.slug)
    damaged = previous.damaged.get(brief.slug)
    version = next_version(
        entry.version if entry else None,
        content_hash(shown_hash(brief), inputs["design"]),
        publication_version=publication.version,
        publication_date=publication.date,
        today=today,
    )
    if damaged and previous.path is not None:
        path = previous.path
        shown = path.relative_to(project.root) if path.is_relative_to(project.root) else path
        notes.append(
            Problem(
                shown.as_posix(),
                1,
                1,
                "warning",
                f"the entry for brief '{brief.slug}' {damaged}, so its version history is "
                f"lost: it starts again at {version.number}",
            )
        )
    return version


def _headlines(brief: Brief) -> dict[str, str]:
    found = {item.id: item.finding.headline for item in brief.items}
    for pair in brief.disagreements:
        for finding in (pair.first, pair.second):
            found.setdefault(finding.id, finding.headline)
    return found


def _standfirst(brief: Brief) -> str:
    """The argument under an argued title (the cover's standfirst), as plain text."""
    from .templating import plain_markdown

    # Set for an argued audience brief and a declared edition, never for a draft.
    return plain_markdown(brief.argument) if brief.argument else ""


def write_outputs(
    out_dir: Path,
    rendered: list[RenderedBrief],
    *,
    kept: list[Brief],
    request: dict[str, Any],
    record: RequestRecord,
    corpus: Corpus,
    dropped: list[str],
    versions: dict[str, Version],
) -> tuple[list[Path], ChangeReport]:
    """Write every file, the change report and the manifest as one crash-safe commit.

    The caller holds the output lock. Every file is staged (written and fsynced under a
    temporary name) before any is renamed into place; see files.Commit.
    """
    commit = Commit(out_dir)
    try:
        written = []
        recorded = manifest.read(out_dir)
        previous = dict(recorded.briefs)
        now = utc_stamp()
        changes: dict[str, BriefChange] = {}
        for item in rendered:
            brief = item.brief
            old = previous.get(brief.slug)
            entry = BriefEntry(
                slug=brief.slug,
                audience=brief.audience.id,
                title=brief.title,
                custom=brief.custom,
                files={},
                pages=item.pages,
                findings=brief.finding_ids,
                sources=item.sources_cited,
                input_hash=item.input_hash,
                inputs=item.inputs,
                built_at=now,
                audience_title=brief.audience.title,
                headlines=_headlines(brief),
                standfirst=_standfirst(brief),
                edition=brief.edition,
                draft=brief.draft,
                version=versions[brief.slug],
            )
            if old and old.input_hash == item.input_hash:
                # Same inputs, other formats: keep the record of the ones not rebuilt.
                entry.files.update({f: r for f, r in old.files.items() if f not in item.files})
                if item.pages is None:
                    entry.pages = old.pages
            for fmt, data in item.files.items():
                path = out_dir / f"{brief.slug}.{fmt}"
                commit.stage(path, data)
                written.append(path)
                entry.files[fmt] = FileRecord(path.name, sha256_bytes(data), len(data))
            if old and old.built_at and old.files == entry.files:
                # Byte-identical files (a forced rebuild): the version's date stays the
                # one its content first had; the feed and site show it.
                entry.built_at = old.built_at
            recorded.briefs[brief.slug] = entry
            changes[brief.slug] = compare(
                brief.slug,
                brief.title,
                old.as_json() if old else None,
                item.inputs,
                old_files={f: r.as_json() for f, r in old.files.items()} if old else None,
                new_files={f: entry.files[f].sha256 for f in item.files},
                rebuilt=True,
                version=brief.version,
            )
        for brief in kept:
            # Unchanged inputs, so unchanged files; refresh what the site and mail show.
            entry = recorded.briefs[brief.slug]
            entry.audience_title = brief.audience.title
            entry.headlines = _headlines(brief)
            entry.standfirst = _standfirst(brief)
        for slug in dropped:
            gone = recorded.briefs.pop(slug)
            for file in gone.files.values():
                path = file.location(out_dir)
                if path.parent == out_dir:
                    commit.remove(path)
        report = ChangeReport(
            PREVIOUS,
            [changes.get(slug) or unchanged(recorded.briefs[slug]) for slug in record.briefs]
            + [BriefChange(slug, previous[slug].title, "removed") for slug in dropped],
            labels_of(corpus),
        )
        written += _stage_changes(commit, report, now)

        from importlib.metadata import version

        from . import __version__

        recorded.tool = {
            "name": "policy-briefs",
            "version": __version__,
            "weasyprint": version("weasyprint"),
        }
        recorded.environment = software_environment()
        assert corpus.publication is not None  # validation requires it
        recorded.publication = corpus.publication.model_dump(mode="json")
        recorded.audiences = {
            a.id: {"title": a.title, "reader": a.reader} for a in corpus.audiences.values()
        }
        # Earlier records for other inputs can never match again; keep the file small.
        fresh = {k: v for k, v in recorded.requests.items() if v.tree == record.tree}
        fresh[_request_id(request)] = record
        recorded.requests = fresh
        path = manifest.path_in(out_dir)
        commit.stage(path, recorded.text())
        written.append(path)
    except BaseException:
        commit.abort()
        raise
    commit.commit()
    return written, report

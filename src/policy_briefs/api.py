"""The use cases, one function each: check, build, diff, inventory, write_schema,
publish, send, serve, new_project. Each takes a Project and options and returns a
report; none prints.
Errors are BriefsError (ValidationFailed for located problems); the CLI maps them to
exit codes.

Every module behind a use case is imported inside it: a no-op ``build`` must not pay
for pydantic, Jinja2 or WeasyPrint, and ``check`` must not pay for WeasyPrint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import Problem, ValidationFailed, has_errors, in_reading_order
from .project import Project

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .archive.fetch import FetchSettings
    from .archive.store import ArchiveReport
    from .archive.watch import WatchReport
    from .build import BuildOptions, BuildReport
    from .changes import ChangeReport
    from .deliver import SendOptions, SendReport
    from .merge import MergeReport
    from .scaffold import NewProjectReport
    from .serve import ServeOptions
    from .site import SiteReport


@dataclass
class CheckReport:
    problems: list[Problem]
    grades: dict[str, float] = field(default_factory=dict)  # audience -> reading grade
    verified: bool = False  # quotes were checked against the source snapshots
    # brief (audience id or edition slug) -> (findings in it, left out by max_findings)
    coverage: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not has_errors(self.problems)


@dataclass
class SchemaReport:
    path: Path
    up_to_date: bool
    written: bool


def check(
    project: Project,
    *,
    strict: bool = False,
    sources_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> CheckReport:
    """Validate every input and measure each brief's reading grade; write nothing."""
    import gc

    # The corpus is kept out of the cyclic collector's sight while it is checked (see
    # load_corpus), unless a caller froze objects of its own, which stay as they are.
    frozen = gc.get_freeze_count() == 0
    try:
        return _check(project, strict, sources_dir, progress, frozen)
    finally:
        if frozen:
            gc.unfreeze()


def _check(
    project: Project,
    strict: bool,
    sources_dir: Path | None,
    progress: Callable[[str], None] | None,
    freeze: bool,
) -> CheckReport:
    from .validate import load_valid_corpus

    say = progress or (lambda _message: None)
    say("validating the findings and verifying quotes")
    try:
        corpus, problems = load_valid_corpus(
            project, strict=strict, sources_dir=sources_dir, freeze=freeze
        )
    except ValidationFailed as exc:
        return CheckReport(exc.problems)
    # Only valid inputs render; the reading check measures each brief's prose.
    from .readability import check_reading
    from .selection import select

    say("rendering each brief to measure its reading grade")
    received = {a for f in corpus.findings.values() for a in f.audiences}
    briefs = {a: select(corpus, a) for a in corpus.audiences if a in received}
    readings, found = check_reading(project, corpus, strict=strict, briefs=briefs)
    # Editions show a part of their audience's findings, whose prose the reading grade
    # of the audience's full brief measures; here they are listed with what they hold.
    editions = {
        slug: select(corpus, edition.audience, edition=edition)
        for slug, edition in corpus.editions.items()
    }
    coverage = {
        slug: ([i.id for i in brief.items], [i.id for i in brief.left_out])
        for slug, brief in {**briefs, **editions}.items()
    }
    return CheckReport(
        in_reading_order(problems + found),
        {aud: round(r.grade, 1) for aud, r in readings.items()},
        verified=bool(corpus.verified_sources),
        coverage=coverage,
    )


def build(
    project: Project, options: BuildOptions, progress: Callable[[str], None] | None = None
) -> BuildReport:
    """Render the briefs whose inputs changed and write them with the manifest."""
    from .build import build as run

    return run(project, options, progress)


def merge(project: Project, shard_dirs: Sequence[Path], out: Path | None = None) -> MergeReport:
    """Combine the output folders of ``briefs build --shard K/N`` into one (default:
    the project's output/), the same as one build of the whole request would write."""
    from .merge import merge as run

    return run(shard_dirs, (out or project.output_dir).resolve())


def diff(project: Project, options: BuildOptions, since: str | None = None) -> ChangeReport:
    """What the next build would change, against the last build, a manifest or a git rev."""
    from .diff import diff as run

    return run(project, options, since)


def inventory(project: Project) -> dict[str, Any]:
    """What the project holds, as the documented JSON of ``briefs list --json``."""
    from .inventory import inventory as run
    from .validate import load_valid_corpus

    corpus, _warnings = load_valid_corpus(project)
    return run(corpus)


def write_schema(project: Project, *, check_only: bool = False) -> SchemaReport:
    """Write findings/schema.json (or only say whether it is up to date)."""
    from .files import write_atomic
    from .models import SCHEMA_FILE, json_schema_text

    path = project.findings_dir / SCHEMA_FILE
    text = json_schema_text()
    current = path.read_text("utf-8") if path.is_file() else None
    if check_only or current == text:
        return SchemaReport(path, current == text, written=False)
    write_atomic(path, text)
    return SchemaReport(path, True, written=True)


def publish(project: Project, out: Path | None = None, base_url: str | None = None) -> SiteReport:
    """Publish the last build as a static site with an Atom feed."""
    from .site import publish as run

    return run(project, out, base_url)


def send(
    project: Project, options: SendOptions, progress: Callable[[str], None] | None = None
) -> SendReport:
    """Send each stakeholder the brief versions they have not yet received."""
    from .deliver import send_briefs

    return send_briefs(project, options, progress=progress)


def archive_source(
    project: Project,
    source_id: str,
    url: str | None = None,
    *,
    sources_dir: Path | None = None,
    replace: bool = False,
    settings: FetchSettings | None = None,
) -> ArchiveReport:
    """Fetch a source's page, store its main text as a snapshot, record the provenance."""
    from .archive.store import archive_source as run
    from .archive.store import default_sources_dir

    return run(
        project,
        source_id,
        sources_dir or default_sources_dir(project),
        url,
        replace=replace,
        settings=settings,
    )


def watch_sources(
    project: Project,
    *,
    settings: FetchSettings | None = None,
    only: Sequence[str] | None = None,
    report_file: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[WatchReport, Path]:
    """Fetch every source again and say what became of each page and each quote; the
    JSON report is written to ``report_file`` (default output/sources-report.json)."""
    from .archive.watch import check_sources
    from .files import write_atomic

    report = check_sources(project, settings=settings, only=only, progress=progress)
    path = report_file or project.output_dir / "sources-report.json"
    write_atomic(path, report.as_json())
    return report, path


def serve(
    project: Project,
    options: ServeOptions,
    say: Callable[[str], None],
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the briefs as HTML (PDF on request), re-rendered as their inputs are saved;
    returns when interrupted. ``ready`` is called with the address once it listens."""
    from .serve import serve as run

    run(project, options, say, ready)


def new_project(target: Path) -> NewProjectReport:
    """A small, valid, documented project in ``target`` (a new or empty folder)."""
    from .scaffold import new_project as run

    return run(target)

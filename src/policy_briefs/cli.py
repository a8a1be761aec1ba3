"""The ``briefs`` command: parse options, call one core function, report. No logic here."""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from .errors import BriefsError, Problem, ValidationFailed, summarise
from .project import shown_path as _shown

# Where the global options leave their values for the command that runs: ctx.meta, one
# dict shared by a command's context and its parents', is held here while a command runs.
_PROJECT, _VERBOSE, _QUIET = "briefs.project", "briefs.verbose", "briefs.quiet"
_settings: ContextVar[dict[str, Any] | None] = ContextVar("briefs_settings", default=None)


def _set_verbose(ctx: typer.Context, value: int) -> None:
    if value:
        ctx.meta[_VERBOSE] = ctx.meta.get(_VERBOSE, 0) + value


def _set_quiet(ctx: typer.Context, value: bool) -> None:
    if value:
        ctx.meta[_QUIET] = True


VerboseOpt = Annotated[
    int,
    typer.Option(
        "--verbose",
        "-v",
        count=True,
        callback=_set_verbose,
        expose_value=False,
        show_default=False,
        help="Say more: each step with its time as a plain line, the request log of "
        "`serve`, the traceback of an internal error.",
    ),
]
QuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        callback=_set_quiet,
        expose_value=False,
        help="Say less: no progress and no notes; problems, errors and results only.",
    ),
]

# The global options as Typer makes them, to be added to every command (see _Group).
_globals = typer.Typer(add_completion=False)


@_globals.command()
def _global_options(verbose: VerboseOpt = 0, quiet: QuietOpt = False) -> None:
    """A template: its parameters are copied onto every command."""


def _readable(params: list[Any]) -> list[Any]:
    """Help that names values, not Python types: no `<bool>` after a flag, no `<list[str]>`
    after an argument already named by its metavar, no `[x>=0]` beside `N` (a value out
    of range is still refused, with the range in the message)."""
    for param in params:
        if getattr(param, "_briefs_readable", False):
            continue
        if (
            param.param_type_name == "argument"
            or getattr(param, "is_flag", False)
            or getattr(param, "count", False)
        ):
            param.display_type_rich = lambda ctx=None: None
        param._get_number_range_help_str = lambda: None
        param._briefs_readable = True
    return params


def _plain_coercion(params: list[Any]) -> list[Any]:
    """Convert plain text, path, flag and whole-number options without pydantic.

    Typer turns every option value through a pydantic TypeAdapter that it builds on first
    use, even for an option left unset: importing pydantic and building the adapters is
    a third of a no-op build. Values these options take the same way (text as given, a
    path through Typer's own path check, digits within the option's range) are converted
    here; any other value goes to Typer's adapter, which words the error."""
    try:
        from typer._coercion import build_runtime_param
        from typer._param_types import coerce_cli_path
    except ImportError:  # another Typer: it coerces as it does
        return params
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if getattr(param, "_runtime_param", False) is not None or descriptor is None:
            continue
        annotation = descriptor.annotation
        if descriptor.file_annotation is None and (
            annotation in (str, int, bool, Path) or annotation == list[str]
        ):
            param._runtime_param = _PlainParam(
                descriptor.parameter_info, annotation, build_runtime_param, coerce_cli_path
            )
    return params


class _PlainParam:
    """A Typer runtime parameter (see _plain_coercion) for str, int, bool, Path, list[str]."""

    def __init__(self, info: Any, annotation: Any, typer_param: Any, coerce_path: Any):
        self.parameter_info, self.annotation = info, annotation
        self._typer_param, self._coerce_path = typer_param, coerce_path

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        if value is None:  # unset: as Typer's RuntimeParam.coerce answers
            return () if param.multiple or param.nargs == -1 else None
        info, annotation = self.parameter_info, self.annotation
        if (annotation is str and type(value) is str) or (
            annotation is bool and type(value) is bool
        ):
            return value
        if (
            annotation == list[str]
            and isinstance(value, (list, tuple))
            and all(type(v) is str for v in value)
        ):
            return list(value)
        if annotation is Path and info.path_type in (None, Path) and type(value) is str and value:
            # Path(value) is what Typer's pydantic conversion gives for a non-empty text.
            return self._coerce_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
        if annotation is int and not info.clamp:
            number = value if type(value) is int else None
            if type(value) is str and value.isascii() and value.isdigit():
                number = int(value)
            if (
                number is not None
                and (info.min is None or number >= info.min)
                and (info.max is None or number <= info.max)
            ):
                return number
        return self._typer_param(param.type_descriptor).coerce(value, param=param, ctx=ctx)


class _Group(TyperGroup):
    """Commands in the order they are declared, each with the global options (-v, -q),
    so they can stand before or after the command's name; help without type names."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_coercion(_readable(super().get_params(ctx)))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None and not hasattr(command, "list_commands"):  # not a group
            if not any(p.name == "verbose" for p in command.params):
                command.params += typer.main.get_command(_globals).params
            _plain_coercion(_readable(command.get_params(ctx)))
        return command

    def invoke(self, ctx: Any) -> Any:
        if ctx.parent is not None:  # a group within: the outermost one holds the settings
            return super().invoke(ctx)
        token = _settings.set(ctx.meta)
        try:
            return super().invoke(ctx)
        finally:
            _settings.reset(token)


app = typer.Typer(
    name="briefs",
    cls=_Group,
    help="Turn structured findings (YAML) into cited policy briefs for each audience, "
    "as PDF and HTML.\n\nTypical use: `briefs new DIR` to start; `briefs serve --open` "
    "while you edit; `briefs check`, then `briefs build`.",
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)

ProjectOpt = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        help="Project folder (holds findings/ and templates/). Default: BRIEFS_PROJECT, "
        "else the nearest folder, from here upward, with briefs.toml or findings/.",
        file_okay=False,
        metavar="DIR",
        show_default=False,
    ),
]


SourcesDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--sources-dir",
        help="Folder of archived source texts that quotes, "
        "locators, numbers and stances are verified against (default: sources_dir "
        "in briefs.toml).",
        envvar="BRIEFS_SOURCES_DIR",
        file_okay=False,
        metavar="DIR",
    ),
]


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"briefs (policy-briefs) {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool | None,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            metavar="",
            help="Show the version and exit.",
        ),
    ] = None,
    project: Annotated[
        Path | None,
        typer.Option(
            "--project",
            "-p",
            help="Project folder for the command that follows (default: the nearest "
            "folder, from here upward, with briefs.toml or findings/).",
            file_okay=False,
            envvar="BRIEFS_PROJECT",
            metavar="DIR",
            show_default=False,
        ),
    ] = None,
    verbose: VerboseOpt = 0,
    quiet: QuietOpt = False,
) -> None:
    """Cited policy briefs from structured findings."""
    if project is not None:
        ctx.meta[_PROJECT] = project
    if ctx.invoked_subcommand is None:
        _overview()


def _overview() -> None:
    """What bare `briefs` says: the few commands of the edit loop and where the project is."""
    from . import __version__
    from .project import find_root

    root = find_root(Path.cwd())
    where = (
        f"Project: {_shown(root)} (found from the current folder)"
        if root
        else "No project in this folder or above it: start one with `briefs new DIR`."
    )
    typer.echo(
        f"briefs {__version__}: cited policy briefs from structured findings (YAML).\n\n"
        "  briefs new DIR        start a project from a small, valid example\n"
        "  briefs serve --open   preview the briefs in a browser as you edit\n"
        "  briefs check          validate every input and quote, problems located\n"
        "  briefs build          write the PDFs and HTML twins to output/\n"
        "  briefs diff | list | publish | send | ledger | schema | sources\n\n"
        f"{where}\n"
        "Run `briefs --help` for every command and option, `briefs COMMAND --help` for one."
    )


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _loudness() -> int:
    """-1 with --quiet, else the number of --verbose (0 by default)."""
    settings = _settings.get() or {}
    return -1 if settings.get(_QUIET) else int(settings.get(_VERBOSE, 0))


def _note(message: str) -> None:
    """A line that helps but is not a result or a problem: --quiet leaves it out."""
    if _loudness() >= 0:
        _err(message)


def _print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        _err(str(problem))


@contextmanager
def user_errors():
    """Turn core errors into messages and exit codes; never show a traceback."""
    try:
        yield
    except ValidationFailed as exc:
        _print_problems(exc.problems)
        _err(f"{summarise(exc.problems)}; nothing was written")
        raise typer.Exit(1) from None
    except BriefsError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        _err("interrupted; nothing more was written")
        raise typer.Exit(130) from None
    except (typer.Exit, typer.Abort):
        raise
    except BrokenPipeError:  # the reader left (`briefs list | head`): nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
        raise typer.Exit(1) from None
    except OSError as exc:  # the machine, not the program: disk full, no permission, ...
        target = exc.filename2 or exc.filename
        _err(f"error: {exc.strerror or exc}" + (f": {target}" if target else ""))
        raise typer.Exit(74) from None
    except Exception as exc:  # a bug: say so plainly, keep the details for a report
        if os.environ.get("BRIEFS_DEBUG") or _loudness() > 0:
            traceback.print_exc()
        _err(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in policy-briefs; rerun with BRIEFS_DEBUG=1 for details."
        )
        raise typer.Exit(70) from None


def _project(path: Path | None):
    """The project: --project after the command, else before it, else BRIEFS_PROJECT (read
    by the option before the command), else the nearest folder upward from here that holds
    briefs.toml or findings/."""
    from .project import Project, find_root

    if path is None:
        path = (_settings.get() or {}).get(_PROJECT)
    if path is None:
        found = find_root(Path.cwd())
        if found is None:
            raise BriefsError(
                f"no project in {Path.cwd()} or any folder above it (a project folder holds "
                "briefs.toml or findings/); pass --project DIR, or start one with "
                "`briefs new DIR`"
            )
        return Project.at(found)
    if not path.is_dir():
        raise BriefsError(f"project folder '{path}' does not exist")
    return Project.at(path)


@app.command()
def check(
    project: ProjectOpt = None,
    sources_dir: SourcesDirOpt = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Treat warnings as errors.", metavar="")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the problems as JSON on stdout.", metavar="")
    ] = False,
) -> None:
    """Load and validate every input; print problems as `path:line:col: severity: message`.

    Exits 0 when there are no errors, 1 otherwise. Writes nothing.
    """
    with user_errors():
        from . import api

        proj = _project(project)
        with _progress() as say:
            report = api.check(proj, strict=strict, sources_dir=sources_dir, progress=say)
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "ok": report.ok,
                        "summary": summarise(report.problems),
                        "verified": report.verified,
                        "problems": [p.as_dict() for p in report.problems],
                        "reading_grades": report.grades,
                        "briefs": {
                            aud: {"findings": shown, "left_out": out}
                            for aud, (shown, out) in report.coverage.items()
                        },
                    },
                    indent=2,
                )
            )
        else:
            _print_problems(report.problems)
            for aud, (shown, out) in report.coverage.items():
                _note(
                    f"{aud} brief: {_count(len(shown), 'finding')}"
                    + (f"; left out by max_findings: {', '.join(out)}" if out else "")
                )
            if report.grades:
                _note(
                    "reading grade (Flesch-Kincaid): "
                    + ", ".join(f"{aud} {grade:.1f}" for aud, grade in report.grades.items())
                )
            note = "" if report.verified else " (quotes not verified against the sources)"
            _err(f"{summarise(report.problems)}{note}")
        if not report.ok:
            raise typer.Exit(1)


@app.command()
def build(
    audiences: Annotated[
        list[str] | None,
        typer.Argument(
            help="Audiences and declared editions to build, as listed by `briefs list` "
            "(default: every audience's brief and every edition).",
            show_default=False,
            metavar="AUDIENCE|EDITION",
        ),
    ] = None,
    project: ProjectOpt = None,
    theme: Annotated[
        list[str] | None,
        typer.Option(
            "--theme",
            "-t",
            help="Only findings of this theme (repeatable): a draft, never published or sent.",
            metavar="THEME",
        ),
    ] = None,
    finding: Annotated[
        list[str] | None,
        typer.Option(
            "--finding",
            "-f",
            help="Only this finding (repeatable): a draft, never published or sent.",
            metavar="ID",
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="What to write: the PDF, the HTML twin, or both.",
            callback=_choice("format", FORMAT_CHOICES),
            autocompletion=lambda: list(FORMAT_CHOICES),
            metavar="pdf|html|all",
        ),
    ] = "all",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Output folder (default: output/ in the project).",
            file_okay=False,
            metavar="DIR",
        ),
    ] = None,
    title: Annotated[
        str | None,
        typer.Option(
            "--title",
            help="Title of an audience brief or draft (default: the audience's "
            "brief_title, else series and audience); an edition's is declared.",
            metavar="TEXT",
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Treat warnings as errors.", metavar="")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Validate and render every brief, even those up to date.", metavar=""
        ),
    ] = False,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            help="Render in N worker processes (0: one per CPU).",
            min=0,
            metavar="N",
        ),
    ] = 1,
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard",
            help="Build only share K of N (e.g. 2/3): briefs sorted by slug, every "
            "N-th from the K-th, so a CI matrix can split the work.",
            metavar="K/N",
        ),
    ] = None,
    sources_dir: SourcesDirOpt = None,
    require_verified: Annotated[
        bool,
        typer.Option(
            "--require-verified",
            help="Fail when the source snapshots are missing, instead of "
            "building briefs that say their quotes were not verified.",
            metavar="",
        ),
    ] = False,
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait",
            help="Fail at once when another build is using the output folder "
            "(default: wait for it, saying so).",
            metavar="",
        ),
    ] = False,
) -> None:
    """Build briefs: a PDF and an HTML twin per audience and per edition declared in
    findings/editions.yaml, output/manifest.json and output/CHANGES.md (what changed
    since the previous build).

    Inputs are validated first; on any error nothing is written. Only briefs whose inputs
    (findings, sources, audience, publication, templates, citation style, fonts, software)
    changed are rendered again. Examples:

    * `briefs build`: every audience.
    * `briefs build federal --format pdf`: one audience, PDF only.
    * `briefs build sme-workforce`: one declared edition.
    * `briefs build sme --theme workforce --title "Skills"`: a draft from one theme, for
      review (never published or sent; declare an edition to publish it).
    * `briefs build --jobs 2`: render in two worker processes.
    """
    with user_errors():
        from . import api
        from .build import BuildOptions, parse_shard

        formats = FORMAT_CHOICES[fmt]
        options = BuildOptions(
            audiences=audiences or [],
            themes=theme or [],
            findings=finding or [],
            formats=formats,
            out_dir=out,
            title=title,
            strict=strict,
            force=force,
            jobs=jobs,
            shard=parse_shard(shard) if shard else None,
            sources_dir=sources_dir,
            require_verified=require_verified,
            wait=not no_wait,
        )
        proj = _project(project)
        with _progress(lines=True) as say:
            report = api.build(proj, options, progress=say)
        _print_problems(report.warnings)
        for item in report.briefs:
            for message in item.messages:
                _err(f"{item.brief.slug}: weasyprint {message}")
        for path in report.written:
            typer.echo(_shown(path))
        if report.kept:
            _note(
                f"{len(report.kept)} of {len(report.kept) + len(report.briefs)} briefs "
                "up to date (not rendered again)"
            )


@app.command()
def diff(
    audiences: Annotated[
        list[str] | None,
        typer.Argument(
            help="Audiences and editions to compare (default: all).",
            show_default=False,
            metavar="AUDIENCE|EDITION",
        ),
    ] = None,
    project: ProjectOpt = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Compare with this manifest.json (file or output folder) or git "
            "revision (branch, tag, commit). Default: the last build in the output folder.",
            metavar="MANIFEST|REF",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Output folder whose manifest.json is the default baseline.",
            file_okay=False,
            metavar="DIR",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON.", metavar="")
    ] = False,
    exit_code: Annotated[
        bool,
        typer.Option(
            "--exit-code", help="Exit 1 when some brief would change (like git diff).", metavar=""
        ),
    ] = False,
) -> None:
    """Say, per brief, what changed in words: findings added, removed or edited, sources
    changed, design changed. Renders nothing and writes nothing.

    Examples:

    * `briefs diff`: what the next `briefs build` would change.
    * `briefs diff --since v1.0`: changes since the findings at a git tag.
    * `briefs diff --since published/manifest.json`: changes since a published build.
    """
    with user_errors():
        from . import api
        from .build import BuildOptions

        options = BuildOptions(audiences=audiences or [], out_dir=out)
        proj = _project(project)
        with _progress() as say:
            say("comparing the inputs with the baseline")
            report = api.diff(proj, options, since)
        if as_json:
            typer.echo(report.as_json(), nl=False)
        else:
            typer.echo(report.markdown("What would change"), nl=False)
        if exit_code and report.changed:
            raise typer.Exit(1)


@app.command("list")
def list_(
    project: ProjectOpt = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the inventory as JSON (a stable interface, see README).",
            metavar="",
        ),
    ] = False,
) -> None:
    """List audiences, declared editions, themes, findings and sources with counts."""
    with user_errors():
        from . import api

        proj = _project(project)
        with _progress() as say:
            say("loading and validating the project")
            data = api.inventory(proj)
        if as_json:
            typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
            return
        sections: list[tuple[str, list[tuple[str, ...]]]] = [
            (
                "Audiences",
                [
                    (a["id"], _count(a["findings"], "finding"), a["title"])
                    for a in data["audiences"]
                ],
            ),
            (
                "Editions",
                [
                    (e["slug"], e["audience"], _count(len(e["in_brief"]), "finding"), e["title"])
                    for e in data["editions"]
                ],
            ),
            (
                "Themes",
                [(t["id"], _count(t["findings"], "finding"), t["title"]) for t in data["themes"]],
            ),
            ("Findings", [(f["id"], f["theme"]) for f in data["findings"]]),
            (
                "Sources",
                [
                    (s["id"], f"cited by {_count(s['findings'], 'finding')}")
                    for s in data["sources"]
                ],
            ),
        ]
        for heading, rows in sections:
            typer.echo(f"{heading} ({len(rows)})")
            _columns(rows)


def _columns(rows: list[tuple[str, ...]]) -> None:
    """Rows as columns as wide as their longest cell, however long the ids grow."""
    if not rows:
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        typer.echo("  " + "  ".join([*cells, row[-1]]).rstrip())


@app.command()
def schema(
    project: ProjectOpt = None,
    check_only: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Exit 1 if findings/schema.json is out of date; write nothing.",
            metavar="",
        ),
    ] = False,
) -> None:
    """Write findings/schema.json, the JSON Schema editors validate findings against."""
    with user_errors():
        from . import api

        report = api.write_schema(_project(project), check_only=check_only)
        if check_only:
            if not report.up_to_date:
                _err(f"{_shown(report.path)} is out of date: run `briefs schema`")
                raise typer.Exit(1)
            typer.echo(f"{_shown(report.path)} is up to date")
            return
        typer.echo(_shown(report.path))


@app.command()
def merge(
    shards: Annotated[
        list[Path],
        typer.Argument(
            help="The --out folder of each `briefs build --shard K/N`, all N of them.",
            show_default=False,
            metavar="DIR...",
            file_okay=False,
        ),
    ],
    project: ProjectOpt = Path("."),
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Merged output folder (default: output/ in the project).",
            file_okay=False,
            metavar="DIR",
        ),
    ] = None,
) -> None:
    """Merge the outputs of a sharded build into one output folder: every brief, one
    manifest.json and CHANGES.md, as one `briefs build` of the whole would write them,
    ready for `briefs publish` and `briefs send`.

    Shards built from different inputs, options or software, a missing shard, and files
    that changed since their shard built them are refused; then nothing is written.
    Example: `briefs build --shard 1/2 --out s1` and `--shard 2/2 --out s2` on two
    machines, then `briefs merge s1 s2`.
    """
    with user_errors():
        from . import api

        report = api.merge(_project(project), shards, out)
        for path in report.written:
            typer.echo(_shown(path))
        _err(f"merged {_count(len(report.briefs), 'brief')} from {_count(report.shards, 'shard')}")


@app.command()
def publish(
    project: ProjectOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Site folder (default: output/site). It is replaced as a whole, "
            "and only once the new site is complete.",
            file_okay=False,
            metavar="DIR",
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="Public address of the site, for absolute links in the Atom feed "
            "(default: BRIEFS_SITE_URL, then publication.url). Pages always link relatively.",
            metavar="URL",
        ),
    ] = None,
) -> None:
    """Publish the built briefs as a static site: an index, a page per brief, an Atom feed.

    Works from the last `briefs build` (output/manifest.json). The folder can be copied
    to any static host (GitHub Pages, a bucket, a web server) and served from any path.
    Examples:

    * `briefs build && briefs publish`
    * `briefs publish --base-url https://example.org/briefs/`
    """
    with user_errors():
        from . import api

        proj = _project(project)
        with _progress() as say:
            say("publishing the last build")
            report = api.publish(proj, out, base_url)
        for warning in report.warnings:
            _err(f"warning: {warning}")
        typer.echo(
            f"{_shown(report.out)}: {len(report.briefs)} brief"
            f"{'s' if len(report.briefs) != 1 else ''}, {report.versions} version"
            f"{'s' if report.versions != 1 else ''} in the feed"
        )


# Exit status of `briefs send` when deliveries are left for a later run (sysexits EX_TEMPFAIL).
EXIT_PENDING = 75


@app.command()
def send(
    audiences: Annotated[
        list[str] | None,
        typer.Argument(
            help="Only briefs for these audiences (default: all).",
            show_default=False,
            metavar="AUDIENCE",
        ),
    ] = None,
    project: ProjectOpt = None,
    stakeholders: Annotated[
        Path | None,
        typer.Option(
            "--stakeholders",
            help="Who receives which briefs (default: stakeholders.yaml in "
            "the project; see stakeholders.example.yaml).",
            dir_okay=False,
            metavar="FILE",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Show what would be sent; send and record nothing.", metavar=""
        ),
    ] = False,
    ledger: Annotated[
        Path | None,
        typer.Option(
            "--ledger",
            help="Delivery ledger, a SQLite file (default: .briefs/ledger.sqlite in the project).",
            dir_okay=False,
            metavar="PATH",
        ),
    ] = None,
    outbox: Annotated[
        Path | None,
        typer.Option(
            "--outbox",
            help="Where messages are written as .eml files when no SMTP server is "
            "set (default: output/outbox).",
            file_okay=False,
            metavar="DIR",
        ),
    ] = None,
    brief: Annotated[
        list[str] | None,
        typer.Option(
            "--brief",
            help="Send only this brief (repeatable): an audience's brief or a declared "
            "edition (drafts are never sent).",
            metavar="SLUG",
        ),
    ] = None,
    retry_failed: Annotated[
        bool,
        typer.Option(
            "--retry-failed",
            help="Try again deliveries a server refused in an earlier run.",
            metavar="",
        ),
    ] = False,
    new_ledger: Annotated[
        bool,
        typer.Option(
            "--new-ledger",
            help="Start a new ledger in place of an empty, damaged or foreign one (kept "
            "beside it, renamed): every brief is then sent again.",
            metavar="",
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Print the outcome of every delivery as JSON on stdout.", metavar=""
        ),
    ] = False,
) -> None:
    """Send each stakeholder the briefs for their audiences, each new version once.

    One message per recipient and brief, with the PDF attached and a note saying what
    changed since the version they last received. A ledger records every delivery, so
    a second run sends nothing, and after a rebuild only recipients of changed briefs
    get the new version.

    Without SMTP settings, messages are written to the outbox for review. To send, set
    BRIEFS_SMTP_HOST, BRIEFS_FROM and, as needed, BRIEFS_SMTP_PORT, BRIEFS_SMTP_USER,
    BRIEFS_SMTP_PASSWORD; STARTTLS is used unless BRIEFS_SMTP_STARTTLS=0 (a local relay).

    Exit status: 0 when everything is delivered or up to date; 1 when a delivery was
    refused or the inputs have errors; 75 when some deliveries are pending after
    temporary failures (run again later).
    """
    with user_errors():
        from . import api
        from .deliver import SendOptions

        options = SendOptions(
            audiences=audiences or [],
            briefs=brief or [],
            stakeholders=stakeholders,
            ledger=ledger,
            outbox=outbox,
            dry_run=dry_run,
            retry_failed=retry_failed,
            new_ledger=new_ledger,
        )
        proj = _project(project)
        with _progress(lines=True) as say:
            report = api.send(proj, options, progress=say)
        if as_json:
            typer.echo(_send_json(report))
        else:
            _send_summary(report)
        if report.count("failed"):
            raise typer.Exit(1)
        if report.count("pending"):
            raise typer.Exit(EXIT_PENDING)


@app.command()
def new(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Folder for the new project; it must not exist yet or be empty.",
            metavar="DIR",
        ),
    ],
) -> None:
    """Start a project: a small, valid, documented example to make your own.

    One source with its archived text, a theme with two findings, two audiences,
    publication details, a glossary, briefs.toml and a README; every YAML file is checked
    by editors against findings/schema.json. It builds and passes `briefs check --strict`
    as it is. Refuses a folder that is not empty. Example: `briefs new my-briefs`.
    """
    with user_errors():
        from . import api

        report = api.new_project(directory)
        typer.echo(f"Created a project in {_shown(report.root)}:")
        for path in report.files:
            typer.echo(f"  {path.as_posix()}")
        _note(
            "Next:\n"
            f"  cd {_shown(report.root)}\n"
            "  briefs serve --open     # preview while you edit the YAML\n"
            "  briefs check --strict   # every input and quote checked\n"
            "  briefs build            # output/<audience>.pdf and .html"
        )


@app.command()
def serve(
    project: ProjectOpt = None,
    port: Annotated[
        int,
        typer.Option(
            "--port", help="Port to listen on (0: any free port).", min=0, max=65535, metavar="N"
        ),
    ] = 8000,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on. Anything but loopback needs --allow-remote.",
            metavar="ADDRESS",
        ),
    ] = "127.0.0.1",
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Allow a --host other machines can reach (the drafts are then public to "
            "them: no login, no encryption).",
            metavar="",
        ),
    ] = False,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the index in a web browser.", metavar="")
    ] = False,
    write: Annotated[
        bool,
        typer.Option(
            "--write",
            help="Also build into output/ after each good save (default: write nothing).",
            metavar="",
        ),
    ] = False,
    sources_dir: SourcesDirOpt = None,
) -> None:
    """Preview the briefs in a browser while you edit: each save re-renders what changed
    and reloads the page.

    Serves every audience's brief as HTML (the PDF is rendered when you open its link) on
    127.0.0.1, and watches findings/, templates/, the sources folder and briefs.toml. On
    invalid input the page lists the problems (`file:line:col: message`) until the next
    good save. Writes nothing to output/ unless `--write`. Ctrl-C stops it. Examples:

    * `briefs serve --open`
    * `briefs serve --port 0`: any free port (the address is printed).
    """
    with user_errors():
        from . import api
        from .serve import ServeOptions

        options = ServeOptions(
            host=host,
            port=port,
            open_browser=open_browser,
            allow_remote=allow_remote,
            sources_dir=sources_dir,
            write=write,
            log_requests=_loudness() > 0,
        )

        def ready(url: str) -> None:
            typer.echo(f"Serving the briefs at {url} (Ctrl-C to stop)")
            sys.stdout.flush()

        api.serve(_project(project), options, _note, ready)


def _send_json(report) -> str:
    return json.dumps(
        {
            "ok": report.ok,
            "dry_run": report.dry_run,
            "transport": report.transport,
            "destination": report.destination,
            "ledger": str(report.ledger),
            "counts": {
                status: report.count(status)
                for status in ("sent", "written", "would send", "pending", "failed", "unsubscribed")
            },
            "up_to_date": report.up_to_date,
            "retries": report.retries,
            "replaced_ledger": str(report.replaced_ledger) if report.replaced_ledger else None,
            "deliveries": [
                {
                    "recipient": o.stakeholder.email,
                    "name": o.stakeholder.name,
                    "brief": o.brief.slug,
                    "status": o.status,
                    "detail": o.detail,
                    "retries": o.retries,
                }
                for o in report.outcomes
            ],
        },
        indent=2,
        ensure_ascii=False,
    )


def _send_summary(report) -> None:
    """A table on a terminal, plain aligned lines otherwise (CI logs, pipes)."""
    rows = [(o.stakeholder.email, o.brief.slug, o.status, o.detail) for o in report.outcomes]
    counts = {
        status: report.count(status)
        for status in ("sent", "written", "would send", "pending", "failed", "unsubscribed")
    }
    parts = [f"{n} {status}" for status, n in counts.items() if n]
    parts.append(f"{report.up_to_date} up to date")
    if report.retries:
        parts.append(f"{report.retries} {'retry' if report.retries == 1 else 'retries'}")
    closing = f"{', '.join(parts)} ({report.destination}; ledger {_shown(report.ledger)})"
    if report.replaced_ledger:
        closing += f"; new ledger, the old one kept as {_shown(report.replaced_ledger)}"
    if report.dry_run:
        closing += "; dry run: nothing was sent or recorded"
    if sys.stdout.isatty() and rows:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table("Recipient", "Brief", "Status", "Detail", title="briefs send")
        styles = {"failed": "red", "pending": "yellow", "sent": "green", "written": "green"}
        for email, slug, status, detail in rows:
            # Text, not markup: server replies may contain brackets.
            table.add_row(
                Text(email), Text(slug), Text(status, style=styles.get(status, "")), Text(detail)
            )
        console = Console()
        console.print(table)
        console.print(closing, highlight=False, markup=False)
        return
    if rows:
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for email, slug, status, detail in rows:
            typer.echo(
                f"{email:<{widths[0]}}  {slug:<{widths[1]}}  {status:<{widths[2]}}  {detail}"
            )
    typer.echo(closing)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@contextmanager
def _progress(*, lines: bool = False) -> Iterator[Any]:
    """What a step that may take a while says: a live line on a terminal (rich), nothing
    elsewhere unless ``lines`` (build and send log their steps in CI), each step with
    its time under --verbose, nothing at all under --quiet."""
    loudness = _loudness()
    if loudness < 0:
        yield lambda message: None
    elif loudness > 0:
        started = time.monotonic()
        yield lambda message: _err(f"[{time.monotonic() - started:5.1f}s] {message}")
    elif sys.stderr.isatty() and not os.environ.get("CI"):
        from rich.console import Console

        console = Console(stderr=True)
        with console.status("starting") as status:
            yield lambda message: status.update(message)
    elif lines:
        yield lambda message: _err(message)
    else:
        yield lambda message: None


FORMAT_CHOICES = {"pdf": ("pdf",), "html": ("html",), "all": ("pdf", "html")}


def _choice(noun: str, choices: dict[str, Any]):
    """A callback that refuses a value not in ``choices``, in plain words."""

    def check(value: str) -> str:
        if value not in choices:
            names = list(choices)
            listed = ", ".join(names[:-1]) + f" or {names[-1]}"
            raise typer.BadParameter(f"'{value}' is not a {noun}; choose {listed}")
        return value

    return check


# --- briefs sources: archive source pages with provenance, watch them change ---------
# A self-contained block: the sub-app, its two commands and their helpers.

sources_app = typer.Typer(
    name="sources",
    cls=_Group,
    help="Archive source pages with their provenance, and watch them for change.",
    rich_markup_mode="markdown",
)
app.add_typer(sources_app, name="sources")


@sources_app.callback(invoke_without_command=True)
def _sources(ctx: typer.Context) -> None:
    """Archive source pages with their provenance, and watch them for change."""
    if ctx.invoked_subcommand is None:  # `briefs sources` alone: its help, and no error
        typer.echo(ctx.get_help())


TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout",
        help="Seconds to wait for a server to connect or answer.",
        min=0.1,
        metavar="SECONDS",
    ),
]
RetriesOpt = Annotated[
    int,
    typer.Option(
        "--retries",
        help="Tries again after a timeout or a 5xx/429 answer, waiting 2 s, "
        "then 4 s, ... (or the server's Retry-After, up to 10 s).",
        min=0,
        max=10,
        metavar="N",
    ),
]
IntervalOpt = Annotated[
    float,
    typer.Option(
        "--interval",
        help="Least seconds between two requests to one host (robots.txt "
        "Crawl-delay, when longer, wins).",
        min=0,
        metavar="SECONDS",
    ),
]


@sources_app.command("archive")
def sources_archive(
    source_id: Annotated[
        str, typer.Argument(help="Id of the source in sources.yaml.", metavar="ID")
    ],
    url: Annotated[
        str | None,
        typer.Argument(
            help="Address to fetch (default: the source's URL).", show_default=False, metavar="URL"
        ),
    ] = None,
    project: ProjectOpt = None,
    sources_dir: Annotated[
        Path | None,
        typer.Option(
            "--sources-dir",
            help="Folder of archived source texts (default: sources/ in the project).",
            envvar="BRIEFS_SOURCES_DIR",
            file_okay=False,
            metavar="DIR",
        ),
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Overwrite the source's snapshot file when the text changed "
            "(default: archive to a new, dated file).",
            metavar="",
        ),
    ] = False,
    timeout: TimeoutOpt = 20.0,
    retries: RetriesOpt = 2,
) -> None:
    """Fetch a source's page, store its main text as a snapshot, record the provenance.

    The snapshot goes into the sources folder; the source's entry in
    findings/sources.yaml gets `snapshot`, `provenance` (address, final address after
    redirects, HTTP status, retrieval time, sha256, extractor) and `accessed`, edited in
    place so comments and layout stay. Prints the snapshot's path. Examples:

    * `briefs sources archive brookings-2012-regions`
    * `briefs sources archive mit-ipc-production https://ipc.mit.edu/research/production`
    """
    with user_errors():
        from . import api
        from .archive.fetch import FetchSettings

        _note(f"archiving {source_id}" + (f" from {url}" if url else ""))
        # One page that a person asked for, not a crawl: no pause between its requests.
        settings = FetchSettings(timeout=timeout, attempts=retries + 1, host_interval=0.0)
        report = api.archive_source(
            _project(project),
            source_id,
            url,
            sources_dir=sources_dir,
            replace=replace,
            settings=settings,
        )
        for hop in report.hops:
            _err(f"  {hop.url}: HTTP {hop.status} -> {hop.location}")
        stored = report.provenance
        _err(
            f"HTTP {stored.status} from {stored.final_url} at {stored.retrieved} "
            f"({stored.extractor}, sha256 {stored.sha256[:12]})"
        )
        if not report.written:
            _err("the same text is already archived; provenance updated")
        if report.replaced:
            _err(f"replaced {report.replaced} (--replace)")
        elif report.previous:
            _err(
                f"the text differs from {report.previous}, which is kept; the source now "
                f"names {report.snapshot.name}"
            )
        if report.layout_reset:
            _err(
                "the source's body and sections named lines of the old text and were "
                "removed; set them again for the new snapshot if it holds page furniture"
            )
        sources_file = report.sources_file or Path("findings/sources.yaml")
        if report.reformatted:
            _err(f"note: {_shown(sources_file)} was rewritten in a normalised layout")
        _err(f"updated source '{source_id}' in {_shown(sources_file)}")
        for quote in report.missing_quotes:
            _err(
                f"warning: {quote.finding}: evidence[{quote.index}].quote is not in the new "
                f'snapshot: "{quote.quote}"'
            )
        typer.echo(_shown(report.snapshot))


@sources_app.command("check")
def sources_check(
    project: ProjectOpt = None,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", "-s", help="Only this source (repeatable).", metavar="ID"),
    ] = None,
    json_report: Annotated[
        Path | None,
        typer.Option(
            "--json-report",
            help="Where to write the JSON report (default: "
            "output/sources-report.json in the project).",
            dir_okay=False,
            metavar="FILE",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Also print the JSON report on stdout.", metavar="")
    ] = False,
    timeout: TimeoutOpt = 20.0,
    retries: RetriesOpt = 2,
    interval: IntervalOpt = 1.0,
) -> None:
    """Fetch every source's URL again; report what became of each page and each quote.

    Per source: reachable, redirected (to where), gone (404, 410), failing (5xx,
    timeout, refused), or disallowed by robots.txt; per quote: whether the live page
    still holds it. Exits 1 only when a quote vanished from a page that answered (the
    source changed since it was quoted); a site being down is reported, not failed.
    """
    with user_errors():
        from . import api
        from .archive.fetch import FetchSettings

        settings = FetchSettings(timeout=timeout, attempts=retries + 1, host_interval=interval)
        proj = _project(project)
        with _progress(lines=True) as say:
            report, path = api.watch_sources(
                proj,
                settings=settings,
                only=source,
                report_file=json_report,
                progress=say,
            )
        for item in report.sources:
            _err(f"{item.id}: {item.describe()}")
        _print_problems(report.problems)
        if as_json:
            typer.echo(report.as_json(), nl=False)
        counts = report.counts()
        parts = [
            f"{counts[s]} {s}"
            for s in ("reachable", "redirected", "gone", "failing", "disallowed", "no-url")
            if counts[s]
        ]
        _err(
            f"{_count(len(report.sources), 'source')}: {', '.join(parts) or 'none'}; "
            f"{counts['quotes_vanished']} of {_count(counts['quotes'], 'quote')} vanished "
            f"(report: {_shown(path)})"
        )
        if report.failed:
            findings = sorted({q.finding for _s, q in report.vanished})
            _err(f"quotes vanished from their sources in: {', '.join(findings)}")
            raise typer.Exit(1)


# --- briefs ledger: read what `briefs send` recorded -------------------------------

ledger_app = typer.Typer(
    name="ledger",
    cls=_Group,
    help="Read the delivery ledger that `briefs send` keeps.",
    rich_markup_mode="markdown",
)
app.add_typer(ledger_app, name="ledger")


@ledger_app.callback(invoke_without_command=True)
def _ledger(ctx: typer.Context, verbose: VerboseOpt = 0, quiet: QuietOpt = False) -> None:
    """Read the delivery ledger that `briefs send` keeps."""
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())


@ledger_app.command("export")
def ledger_export(
    project: ProjectOpt = None,
    ledger: Annotated[
        Path | None,
        typer.Option(
            "--ledger",
            help="Delivery ledger, a SQLite file (default: .briefs/ledger.sqlite in the project).",
            dir_okay=False,
            metavar="PATH",
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="json (one delivery per line) or csv (a header, then one delivery per row).",
            callback=_choice("format", {"json": None, "csv": None}),
            metavar="FORMAT",
        ),
    ] = "json",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write the export to this file (replaced whole) instead of stdout.",
            dir_okay=False,
            metavar="FILE",
        ),
    ] = None,
) -> None:
    """Export every delivery and unsubscription in the ledger as text, for audit.

    The output is stable and has one line per delivery, so a copy kept in version
    control shows each message sent and each status change as a one-line diff. Reads
    the ledger without changing it; an empty, damaged or foreign file is refused.
    Examples:

    * `briefs ledger export --format csv > deliveries.csv`
    * `briefs ledger export --ledger state/ledger.sqlite --out state/ledger.json`
    """
    with user_errors():
        from .deliver.ledger import DEFAULT_LEDGER, export_ledger
        from .files import write_atomic

        path = ledger if ledger is not None else _project(project).root / DEFAULT_LEDGER
        text = export_ledger(path, fmt)
        if out is None:
            typer.echo(text, nl=False)
        else:
            write_atomic(out, text)
            _note(f"{_shown(out)}: the ledger {_shown(path)} as {fmt}")


def main() -> None:
    app()

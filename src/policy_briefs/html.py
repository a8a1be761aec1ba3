"""Brief to HTML through Jinja2: project templates first, packaged defaults behind them.

Everything that comes from YAML is escaped (autoescape) or goes through inline markdown
with raw HTML disabled; undefined variables are errors, not blank text.
"""

from __future__ import annotations

import datetime as dt
import traceback
from pathlib import Path

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

from . import __version__, glossary
from .citations import Citations, find_style
from .confine import confined
from .errors import BriefsError, Problem, ValidationFailed
from .levers import by_lever
from .project import Project, default_templates_dir
from .select import Brief

# Inline markdown only: emphasis, strong, code, links; no raw HTML, no images.
_markdown = MarkdownIt("zero", {"html": False, "linkify": False, "typographer": True}).enable(
    ["emphasis", "backticks", "link", "escape", "entity", "newline", "replacements", "smartquotes"]
)


def inline_markdown(text: str) -> Markup:
    tokens = _markdown.parseInline(str(text))
    terms = glossary.active()
    if terms is not None:
        # Only prose runs: code spans and link targets keep their acronyms as written.
        for token in tokens[0].children or []:
            if token.type == "text":
                token.content = terms.expand(token.content)
    return Markup(_markdown.renderer.render(tokens, _markdown.options, {}))


def plain_markdown(text: str) -> str:
    """The words of inline markdown without its markup (for PDF metadata, feeds, mail)."""
    tokens = _markdown.parseInline(str(text))
    return "".join(c.content for t in tokens for c in (t.children or []) if c.type == "text")


def long_date(value: str) -> str:
    """'2026-11-22' as '22 November 2026'; partial dates as far as they go."""
    parts = [int(p) for p in str(value).split("-")]
    if len(parts) == 3:
        d = dt.date(*parts)
        return f"{d.day} {d:%B %Y}"
    if len(parts) == 2:
        return f"{dt.date(parts[0], parts[1], 1):%B %Y}"
    return str(parts[0])


class TemplateProblem(ValidationFailed):
    """A template failed to load or render, located at its file and line."""

    def __init__(self, path: str, line: int, message: str):
        super().__init__([Problem(path, line, 1, "error", message)])


class ConfinedLoader(jinja2.FileSystemLoader):
    """A FileSystemLoader that refuses a template resolving outside its folder.

    Jinja already refuses '..' in template names; this also refuses symlinks that lead
    out, so a project's templates cannot read other files on the machine into a brief.
    """

    def get_source(self, environment, template):
        pieces = jinja2.loaders.split_template_path(template)
        for searchpath in self.searchpath:
            candidate = Path(searchpath, *pieces)
            if candidate.is_file():
                confined(Path(searchpath), Path(*pieces), what="template",
                         where=(_relative(str(candidate)), 1, 1))
                break
        return super().get_source(environment, template)


def make_environment(project: Project) -> jinja2.Environment:
    dirs = project.template_dirs
    default = ConfinedLoader(str(default_templates_dir()))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([
            # "default:base.html" always means the packaged one, so a project's base.html
            # can extend it instead of copying it.
            jinja2.PrefixLoader({"default": default}, delimiter=":"),
            ConfinedLoader([str(d) for d in dirs]),
        ]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = inline_markdown
    env.filters["plain"] = plain_markdown
    env.filters["long_date"] = long_date
    env.filters["by_lever"] = by_lever
    env.globals["tool_version"] = __version__
    return env


def template_exists(env: jinja2.Environment, name: str) -> bool:
    try:
        env.get_template(name)
    except jinja2.TemplateNotFound:
        return False
    except jinja2.TemplateError:
        return True  # present but broken: rendering reports where
    return True


def render_html(
    env: jinja2.Environment,
    brief: Brief,
    citations: Citations,
    *,
    medium: str,
    extra: dict | None = None,
) -> str:
    """Render one brief. ``medium`` is 'print' (the PDF's source) or 'screen' (the twin)."""
    # Each render spells acronyms out afresh: first use is per document, PDF and twin alike.
    with glossary.rendering(glossary.Glossary(brief.glossary)) as terms:
        return render_template(
            env,
            brief.audience.template,
            brief=brief,
            audience=brief.audience,
            publication=brief.publication,
            citations=citations,
            cite=lambda evidence: _note_ref(citations, evidence),
            terms=terms,
            medium=medium,
            **(extra or {}),
        )


def render_template(env: jinja2.Environment, name: str, **context) -> str:
    """Render any template; failures become problems located in the template file."""
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        where = _template_path(exc.filename, exc.name)
        raise TemplateProblem(where, exc.lineno, f"template syntax: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        message = (f"template '{exc.name}' not found (looked in "
                   f"{', '.join(str(d) for d in env.loader.loaders[1].searchpath)})")
        where, line = _template_frame(exc)
        if where is None:
            raise BriefsError(message) from None
        raise TemplateProblem(where, line, message) from None
    except (jinja2.UndefinedError, jinja2.TemplateError, TypeError, AttributeError) as exc:
        where, line = _template_frame(exc)
        if where is None:
            raise
        raise TemplateProblem(where, line, f"template: {exc}") from None


def _note_ref(citations: Citations, evidence) -> Markup:
    number = citations.cite_evidence(evidence)
    return Markup(
        f'<a class="note-ref" href="#note-{number}" role="doc-noteref" '
        f'aria-label="Note {number}">{number}</a>'
    )


def _template_path(filename: str | None, name: str | None) -> str:
    if filename:
        return _relative(filename)
    return name or "<template>"


def _relative(filename: str) -> str:
    path = Path(filename)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def _template_frame(exc: BaseException) -> tuple[str | None, int]:
    # Jinja rewrites tracebacks so template frames carry the template's file and line.
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename.endswith((".html", ".jinja", ".j2", ".css", ".xml", ".txt"))]
    if not frames:
        return None, 0
    frame = frames[-1]
    return _relative(frame.filename), frame.lineno or 0


def citations_for(brief: Brief, project: Project) -> Citations:
    path = find_style(brief.audience.citation_style, project.template_dirs)
    if path is None:
        raise BriefsError(f"citation style '{brief.audience.citation_style}' not found")
    return Citations(brief.sources, path)

"""Brief to HTML through Jinja2: project templates first, packaged defaults behind them.

Everything that comes from YAML is escaped (autoescape) or goes through inline markdown
with raw HTML disabled; undefined variables are errors, not blank text.
"""

from __future__ import annotations

import functools
import re
import traceback
from html import unescape
from pathlib import Path

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

from . import __version__, glossary
from .charts import Palette, RenderedChart, render_chart
from .citations import Citations, brief_reference, find_style
from .csl import load_style
from .errors import BriefsError, Problem, ValidationFailed
from .levers import by_lever
from .localization import format_numbers, long_date
from .models import Chart
from .project import Project, default_templates_dir, find_template, shown_path
from .selection import Brief

# Inline markdown only: emphasis, strong, code, links; no raw HTML, no images.
_markdown = MarkdownIt("zero", {"html": False, "linkify": False, "typographer": True}).enable(
    ["emphasis", "backticks", "link", "escape", "entity", "newline", "replacements", "smartquotes"]
)


def inline_markdown(text: str, locale: str | None = None) -> Markup:
    """Inline markdown as HTML; with a locale, grouped numbers are written its way."""
    tokens = _markdown.parseInline(str(text))
    terms = glossary.active()
    # Only prose runs: code spans and link targets keep their acronyms and digits as written.
    for token in tokens[0].children or []:
        if token.type == "text":
            if terms is not None:
                token.content = terms.expand(token.content)
            if locale:
                token.content = format_numbers(token.content, locale)
    return Markup(_markdown.renderer.render(tokens, _markdown.options, {}))


def plain_markdown(text: str) -> str:
    """The words of inline markdown without its markup (for PDF metadata, feeds, mail)."""
    tokens = _markdown.parseInline(str(text))
    return "".join(c.content for t in tokens for c in (t.children or []) if c.type == "text")


class TemplateProblem(ValidationFailed):
    """A template failed to load or render, located at its file and line."""

    def __init__(self, path: str, line: int, message: str, *, column: int = 1):
        super().__init__([Problem(path, line, column, "error", message)])


def _not_utf8(path: Path | None, exc: UnicodeDecodeError) -> TemplateProblem:
    """Where a template stops being UTF-8, as a line and column of the file."""
    before = exc.object[: exc.start]
    line = before.count(b"\n") + 1
    column = len(before) - (before.rfind(b"\n") + 1) + 1
    return TemplateProblem(
        shown_path(path) if path else "template",
        line,
        f"the template is not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
        "save it as UTF-8 in your editor and try again",
        column=column,
    )


class ConfinedLoader(jinja2.FileSystemLoader):
    """A FileSystemLoader that refuses a template resolving outside its folder.

    Jinja already refuses '..' in template names; this also refuses symlinks that lead
    out, so a project's templates cannot read other files on the machine into a brief.
    """

    def get_source(self, environment, template):
        # The same lookup as validation's (Project.template_file), which raises when the
        # file found leads outside its folder.
        found = find_template([Path(p) for p in self.searchpath], template)
        try:
            return super().get_source(environment, template)
        except UnicodeDecodeError as exc:  # a file saved in another encoding
            raise _not_utf8(found, exc) from None


def jinja_environment(project: Project) -> jinja2.Environment:
    """The template environment: the project's folders first, packaged defaults behind."""
    dirs = project.template_dirs
    default = ConfinedLoader(str(default_templates_dir()))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [
                # "default:base.html" always means the packaged one, so a project's base.html
                # can extend it instead of copying it.
                jinja2.PrefixLoader({"default": default}, delimiter=":"),
                ConfinedLoader([str(d) for d in dirs]),
            ]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        bytecode_cache=_bytecode_cache(),
    )
    env.filters["md"] = _md
    env.filters["plain"] = plain_markdown
    env.filters["long_date"] = _long_date
    env.filters["numbers"] = _numbers
    env.filters["by_lever"] = by_lever
    env.filters["custom_properties_inlined"] = custom_properties_inlined
    env.globals["tool_version"] = __version__
    env.globals["chart_view"] = _chart_view
    return env


@functools.lru_cache(maxsize=8)
def _shared(project: Project, dirs: tuple[Path, ...]) -> jinja2.Environment:
    return jinja_environment(project)


def shared_jinja_environment(project: Project) -> jinja2.Environment:
    """One environment per project for every brief a process renders: a new one per brief
    loads its templates again. Jinja still checks each template file for edits before
    using it (auto_reload), so an edited template shows. Callers must not add filters or
    globals to it (take ``jinja_environment`` for that)."""
    return _shared(project, tuple(project.template_dirs))


_CUSTOM_PROPERTY = re.compile(r"(--[A-Za-z0-9_-]+)\s*:\s*([^;{}]*?)\s*(?=[;}]|$)")
_VAR = re.compile(r"var\(\s*(--[A-Za-z0-9_-]+)\s*\)")
_COMMENT = re.compile(r"/\*.*?\*/", re.S)


def _root_blocks(css: str) -> list[str]:
    """The bodies of the stylesheet's top-level ``:root`` rules (not those inside @media
    or any other block)."""
    bodies, depth, prelude_start, body_start = [], 0, 0, 0
    prelude = ""
    for brace in re.finditer(r"[{};]", css):
        mark, at = brace.group(), brace.start()
        if mark == "{":
            if depth == 0:
                prelude, body_start = css[prelude_start:at].strip(), at + 1
            depth += 1
        elif mark == "}":
            depth = max(depth - 1, 0)
            if depth == 0:
                if prelude == ":root":
                    bodies.append(css[body_start:at])
                prelude, prelude_start = "", at + 1
        elif depth == 0:  # the end of an @import or @charset
            prelude_start = at + 1
    return bodies


def _plain_value(value: str) -> bool:
    """A value that means the same written in place of its var(): no var() or !important
    of its own, nothing escaped, no quote or bracket left open."""
    return (
        bool(value)
        and "var(" not in value
        and "!" not in value
        and "\\" not in value
        and value.count('"') % 2 == 0
        and value.count("'") % 2 == 0
        and value.count("(") == value.count(")")
    )


def custom_properties_inlined(css: str) -> Markup:
    """The stylesheet with each ``var(--name)`` replaced by the value its top-level
    ``:root`` rule gives ``--name``, where that is certain: the stylesheet sets the
    property there and nowhere else, to a plain value. The print HTML carries its
    stylesheet so: WeasyPrint resolves a var() again for every element it applies to
    (some 10 ms of the SME brief's 0.37 s render). Same values, so the same PDF."""
    text = _COMMENT.sub("", str(css))
    settings: dict[str, int] = {}
    for name, _value in _CUSTOM_PROPERTY.findall(text):
        settings[name] = settings.get(name, 0) + 1
    values = {
        name: value
        for body in _root_blocks(text)
        for name, value in _CUSTOM_PROPERTY.findall(body)
        if settings[name] == 1 and _plain_value(value)
    }
    inlined = _VAR.sub(lambda m: values.get(m.group(1), m.group(0)), str(css))
    return Markup(inlined)  # the stylesheet as written, but for its var()s


_STYLE = re.compile(r"(<style>)(.*?)(</style>)", re.S)
_ATTRIBUTE = re.compile(r"""\s(class|id)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.I)
# What the rule scanner steps over whole, so braces in them do not count.
_CSS_TOKEN = re.compile(r"""/\*.*?\*/|"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[{}]""", re.S)


def _names_in(html: str) -> tuple[set[str], set[str]]:
    """The class names and ids on the page's elements (and perhaps a few more: what
    reads like an attribute in the text only keeps more rules)."""
    classes: set[str] = set()
    ids: set[str] = set()
    for found in _ATTRIBUTE.finditer(html):
        value = unescape(next(v for v in found.groups()[1:] if v is not None))
        if found.group(1).lower() == "class":
            classes.update(value.split())
        else:
            ids.add(value)
    return classes, ids


def _may_match(selector: str, classes: set[str], ids: set[str]) -> bool:
    """False only for a selector that names a class or id the page does not have. One
    with brackets, parentheses or escapes (attribute selectors, :not(), :is()) is kept."""
    if any(c in selector for c in "[(\\"):
        return True
    return all(c in classes for c in re.findall(r"\.([\w-]+)", selector)) and all(
        i in ids for i in re.findall(r"#([\w-]+)", selector)
    )


def print_stylesheet_pruned(html: str) -> str:
    """The print HTML without the top-level style rules of its stylesheet that cannot
    match any of its elements: a brief uses about half of brief.css (the rest is the
    other audiences'), and WeasyPrint parses and compiles every rule on each layout, a
    tenth of the SME brief's styling cost. At-rules (@page, @media) are kept whole, and
    a stylesheet the scan cannot follow is left as it is."""
    found = _STYLE.search(html)
    if not found:
        return html
    classes, ids = _names_in(html[: found.start()] + html[found.end() :])
    css = found.group(2)
    kept, depth, start, prelude = [], 0, 0, ""
    for token in _CSS_TOKEN.finditer(css):
        brace = token.group()
        if brace == "{":
            if depth == 0:
                prelude = _COMMENT.sub("", css[start : token.start()]).strip()
            depth += 1
        elif brace == "}":
            depth -= 1
            if depth < 0:
                return html
            if depth == 0:
                if prelude.startswith("@") or any(
                    _may_match(selector, classes, ids) for selector in prelude.split(",")
                ):
                    kept.append(css[start : token.end()])
                start = token.end()
    if depth != 0 or _COMMENT.sub("", css[start:]).strip():
        return html  # unclosed, or a statement after the last rule: not ours to guess
    return html[: found.start(2)] + "".join(kept) + "\n" + html[found.end(2) :]


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates in the user cache: compiling them costs more than rendering a
    brief. Jinja keys each entry by the template's source and its own and Python's
    versions, so an edited template is compiled again."""
    from .usercache import cache_dir

    folder = cache_dir()
    if folder is None:
        return None
    try:
        (folder / "jinja").mkdir(exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder / "jinja"))


# Dates and numbers follow the brief's language (publication.language) when rendering one.
def _language(context) -> str | None:
    publication = context.get("publication")
    return getattr(publication, "language", None)


@jinja2.pass_context
def _md(context, text) -> Markup:
    return inline_markdown(text, _language(context))


@jinja2.pass_context
def _long_date(context, value) -> str:
    return long_date(value, _language(context) or "en-US")


@jinja2.pass_context
def _numbers(context, text) -> str:
    return format_numbers(str(text), _language(context) or "en-US")


@jinja2.pass_context
def _chart_view(context, chart: Chart, ident: str) -> RenderedChart:
    """A figure's chart, in the colours of the stylesheet the brief includes (a project's
    own brief.css first) and the numbers of the brief's language."""
    env = context.environment
    assert env.loader is not None
    css, _, _ = env.loader.get_source(env, "brief.css")
    return render_chart(chart, ident, palette=Palette.from_css(css), locale=_language(context))


def render_html(
    env: jinja2.Environment,
    brief: Brief,
    citations: Citations,
    *,
    medium: str,
    fit: str | None = None,
) -> str:
    """Render one brief. ``medium`` is 'print' (the PDF's source) or 'screen' (the twin).

    ``fit`` 'tight' asks the design to set the page more tightly (a class on the body):
    the PDF step's second try when the last page would be nearly empty."""
    # Each render spells acronyms out afresh: first use is per document, PDF and twin alike.
    # Citation points are collected as the template cites, then formatted together.
    citations.start()
    with glossary.rendering(glossary.Glossary(brief.glossary)) as terms:
        page = render_template(
            env,
            brief.audience.template,
            brief=brief,
            audience=brief.audience,
            publication=brief.publication,
            citations=citations,
            terms=terms,
            medium=medium,
            fit=fit,
        )
    page = citations.fill(page)
    return print_stylesheet_pruned(page) if medium == "print" else page


def render_template(env: jinja2.Environment, name: str, **context) -> str:
    """Render any template; failures become problems located in the template file."""
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateProblem(
            _template_path(exc.filename, exc.name), exc.lineno, f"template syntax: {exc.message}"
        ) from None
    except jinja2.TemplateNotFound as exc:
        folders = (
            ", ".join(str(d) for d in getattr(env.loader, "loaders", [None, None])[1].searchpath)
            if isinstance(env.loader, jinja2.ChoiceLoader)
            else ""
        )
        message = f"template '{exc.name}' not found (looked in {folders})"
        where, line = _template_frame(exc)
        if where is None:
            raise BriefsError(message) from None
        raise TemplateProblem(where, line, message) from None
    except (jinja2.UndefinedError, jinja2.TemplateError, TypeError, AttributeError) as exc:
        where, line = _template_frame(exc)
        if where is None:
            raise
        raise TemplateProblem(where, line, f"template: {exc}") from None


def _template_path(filename: str | None, name: str | None) -> str:
    if filename:
        return shown_path(Path(filename))
    return name or "<template>"


def _template_frame(exc: BaseException) -> tuple[str | None, int]:
    # Jinja rewrites tracebacks so template frames carry the template's file and line.
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename.endswith((".html", ".jinja", ".j2", ".css", ".xml", ".txt"))
    ]
    if not frames:
        return None, 0
    frame = frames[-1]
    return shown_path(Path(frame.filename)), frame.lineno or 0


def citations_for(brief: Brief, project: Project) -> Citations:
    """The brief's citations; one object serves its print and screen renders alike."""
    path = find_style(brief.audience.citation_style, project.template_dirs)
    if path is None:
        raise BriefsError(f"citation style '{brief.audience.citation_style}' not found")
    return Citations(
        brief.sources,
        load_style(path),
        language=brief.publication.language,
        self_reference=brief_reference(brief),
    )

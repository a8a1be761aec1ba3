"""One brief's citations, notes and bibliography, formatted by the reference CSL processor.

The template decides where citations go; the style decides what they look like. Each call
to ``cite`` while a brief renders is one citation point, in reading order:

- note styles (class="note", e.g. Chicago notes-bibliography): every point is a new note,
  numbered 1..N as the reader meets them, never reused; the sources cited at one point
  share one note; later citations of a source take the style's short form (and "ibid."
  only where the style asks for it).
- in-text styles (APA, author-date): every point is a citation in the running text,
  and there is no list of notes.

A placeholder stands in the text until the whole brief has rendered; then every point is
formatted in one processor run (see ``csl``) and filled in. The print and screen renders
cite the same points, so the second render reuses the first one's formatting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from . import csl
from .confine import confined
from .csl import Item, Mode, Point, Style
from .models import Source

_STYLES_DIR = "styles"


def find_style(name: str, template_dirs: list[Path]) -> Path | None:
    """A .csl file under templates/styles/: the project's first, then the packaged ones
    (chicago-notes-bibliography and apa ship with the tool)."""
    file_name = name if name.endswith(".csl") else f"{name}.csl"
    if "/" in file_name or "\\" in file_name or file_name.startswith("."):
        return None  # a name, not a path: styles stay inside the template folders
    for folder in template_dirs:
        candidate = folder / _STYLES_DIR / file_name
        if candidate.is_file():
            # The name comes from audiences.yaml: no symlink out of the styles folder.
            return confined(
                folder / _STYLES_DIR,
                file_name,
                what="citation style",
                where=("findings/audiences.yaml", 1, 1),
            )
    return None


@dataclass(frozen=True)
class Note:
    number: int
    text: Markup
    items: tuple[Item, ...]


@dataclass(frozen=True)
class CitePoint:
    """What a template places where it cites: a note number, or the in-text citation."""

    number: int
    """The note number (note styles) or the point's place in reading order (in-text)."""
    note: bool
    text: Markup
    """In-text styles: the citation (filled in once the brief has rendered)."""


class Citations:
    """One brief's citation points in reading order, and their formatting."""

    def __init__(
        self,
        sources: dict[str, Source],
        style: Style,
        *,
        language: str | None = None,
        self_reference: dict | None = None,
    ):
        self.sources = sources
        self.style = style
        self.language = language
        # The brief itself as a CSL item, for its "Cite as" line.
        self.self_reference = self_reference
        self._points: list[Point] = []
        self._formatted: dict[tuple[Point, ...], csl.Result] = {}
        self._sealed = False
        self.processor_runs = 0

    @property
    def note_style(self) -> bool:
        return self.style.note

    # --- while rendering -------------------------------------------------------------

    def start(self) -> None:
        """A new render of the brief begins: its citation points are counted afresh."""
        self._points = []
        self._sealed = False

    def cite(self, evidence, mode: Mode = "normal") -> CitePoint:
        """One citation point for a piece of evidence, a figure, or a list of them
        (anything with ``source`` and ``locator``)."""
        # Jinja is imported here, where it runs: checking styles must not pay for it.
        import jinja2

        if self._sealed:
            # The notes or bibliography are already on the page: a later note would be lost.
            raise jinja2.TemplateRuntimeError(
                "a citation after the notes or bibliography: cite before the end matter"
            )
        many = evidence if isinstance(evidence, (list, tuple)) else [evidence]
        items = _combined([Item.at(e.source, getattr(e, "locator", None), mode) for e in many])
        if not items:
            raise jinja2.TemplateRuntimeError("cite() needs at least one source")
        self._points.append(items)
        number = len(self._points)
        return CitePoint(number, self.style.note, Markup(_placeholder(number)))

    @property
    def points(self) -> list[Point]:
        return list(self._points)

    @property
    def cited_sources(self) -> list[str]:
        """Sources in order of first citation."""
        return list(dict.fromkeys(item.id for point in self._points for item in point))

    # --- formatted -------------------------------------------------------------------

    def notes(self) -> list[Note]:
        """The notes, 1..N in reading order; none for an in-text style."""
        result = self._result()
        if not self.style.note:
            return []
        return [
            Note(n, text, point)
            for n, (point, text) in enumerate(zip(self._points, result.citations, strict=False), 1)
        ]

    def bibliography(self, source_ids: Iterable[str] | None = None) -> list[tuple[str, Markup]]:
        """Entries for the given sources (default: those cited), in the style's order."""
        wanted = set(source_ids) if source_ids is not None else set(self.cited_sources)
        return [(key, entry) for key, entry in self._result().bibliography if key in wanted]

    def cite_as(self) -> Markup | None:
        """The brief's own bibliography entry, in the brief's style."""
        if self.self_reference is None:
            return None
        entries = dict(self._result().bibliography)
        return entries.get(self.self_reference["id"])

    def fill(self, html: str) -> str:
        """The rendered brief with every in-text citation filled in."""
        if not self._points:
            return html
        citations = self._result().citations
        return _PLACEHOLDER.sub(lambda m: str(citations[int(m.group(1)) - 1]), html)

    def _result(self) -> csl.Result:
        self._sealed = True
        key = tuple(self._points)
        if key not in self._formatted:
            references = [source.to_csl() for source in self.sources.values()]
            if self.self_reference is not None:
                references.append(self.self_reference)
            self._formatted[key] = csl.process(self.style, references, key, lang=self.language)
            self.processor_runs += 1
        return self._formatted[key]


def _combined(items: list[Item]) -> Point:
    """Passages of one source cited together become one item with both locators, so the
    style says "paras. 9, 11" once instead of repeating the source."""
    groups: dict[tuple[str, str | None], list[str]] = {}
    for item in items:
        values = groups.setdefault((item.id, item.label), [])
        if item.locator and item.locator not in values:
            values.append(item.locator)
    mode = items[0].mode if items else "normal"
    return tuple(
        Item(source, label, ", ".join(_in_order(values)) or None, mode=mode)
        for (source, label), values in groups.items()
    )


def _in_order(values: list[str]) -> list[str]:
    # Paragraph and page numbers ascending, as a reader looks them up; others as cited.
    return sorted(values, key=int) if all(v.isdigit() for v in values) else values


# Private-use characters, which no brief's text uses; they survive Jinja's escaping.
_OPEN, _CLOSE = "\ue000", "\ue001"


def _placeholder(number: int) -> str:
    return f"{_OPEN}cite:{number}{_CLOSE}"


_PLACEHOLDER = re.compile(f"{_OPEN}cite:(\\d+){_CLOSE}")


# Source ids are lowercase letters, digits and hyphens, so this one cannot collide.
SELF_ID = "_this-brief"


def brief_reference(brief) -> dict:
    """The brief itself as a CSL report, so its "Cite as" line is set in its own style."""
    publication = brief.publication
    item = {
        "id": SELF_ID,
        "type": "report",
        "title": brief.title,
        "author": [{"literal": publication.publisher}],
        "publisher": publication.publisher,
        "genre": "Policy brief",
        "version": brief.version or publication.version,
        "issued": {
            "date-parts": [[int(p) for p in (brief.version_date or publication.date).split("-")]]
        },
    }
    if publication.url:
        item["URL"] = publication.url
    return item

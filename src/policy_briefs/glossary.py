"""Acronyms spelled out on first use, and the terms of art a brief actually uses.

One ``Glossary`` lives for one render of one brief. Text passes through it in document
order (the ``md`` filter feeds it every run of prose), so "first use" means first in
the brief as a reader meets it, and the PDF and its HTML twin each start afresh.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from .models import GlossaryEntry

_POSSESSIVE = re.compile(r"^['’]s\b")


@dataclass(frozen=True)
class _Form:
    """One written form of an entry: an acronym as written, or its singular."""

    entry: GlossaryEntry
    text: str
    expansion: str


class Glossary:
    """Expands each acronym the first time it appears and records every term met."""

    def __init__(self, entries: list[GlossaryEntry]):
        self.entries = list(entries)
        self._introduced: set[str] = set()
        self._used: dict[str, GlossaryEntry] = {}
        self._acronyms: dict[str, _Form] = {}
        for entry in self.entries:
            if not entry.acronym:
                continue
            self._acronyms[entry.term] = _Form(entry, entry.term, entry.expansion)
            # "SMEs" also covers "SME": a plural acronym's singular is the same term.
            if re.fullmatch(r"[A-Z&]{2,}s", entry.term) and entry.expansion.endswith("s"):
                singular = entry.term[:-1]
                self._acronyms.setdefault(singular, _Form(entry, singular, entry.expansion[:-1]))
        self._acronym_re = _alternation(self._acronyms, flags=0)
        self._terms = {e.term.lower(): e for e in self.entries if not e.acronym}
        self._term_re = _alternation(self._terms, flags=re.IGNORECASE, plural=True)

    def expand(self, text: str) -> str:
        """``text`` with acronyms not yet introduced spelled out; records terms used."""
        self._record_terms(text)
        if self._acronym_re is None:
            return text
        out: list[str] = []
        pos = 0
        for match in self._acronym_re.finditer(text):
            form = self._acronyms[match.group(0)]
            entry = form.entry
            self._used.setdefault(entry.term, entry)
            if entry.term in self._introduced:
                continue
            self._introduced.add(entry.term)
            before = text[pos : match.start()]
            out.append(before)
            pos = match.end()
            if _spelled_out_before(text[: match.start()], form.expansion):
                out.append(match.group(0))  # the author already wrote "expansion (ACR)"
                continue
            possessive = _POSSESSIVE.match(text[pos:])
            if possessive:
                mark = possessive.group(0)
                pos += len(mark)
                out.append(f"{form.expansion}{mark} ({form.text}{mark})")
            else:
                out.append(f"{form.expansion} ({form.text})")
        out.append(text[pos:])
        return "".join(out)

    def _record_terms(self, text: str) -> None:
        if self._term_re is None:
            return
        for match in self._term_re.finditer(text):
            key = match.group("term").lower()
            entry = self._terms[key]
            self._used.setdefault(entry.term, entry)

    def used(self) -> list[GlossaryEntry]:
        """Every entry met so far, alphabetically by term (the order a glossary lists)."""
        return sorted(self._used.values(), key=lambda e: e.term.casefold())

    def introduced(self) -> set[str]:
        return set(self._introduced)


def _alternation(forms: Mapping[str, object], *, flags: int, plural: bool = False):
    if not forms:
        return None
    # Longest first so "SMEs" wins over "SME" and "supply chain" over "supply".
    words = sorted(forms, key=len, reverse=True)
    body = "|".join(re.escape(w) for w in words)
    if plural:
        return re.compile(rf"(?<![\w-])(?P<term>{body})(?:e?s)?(?![\w-])", flags)
    return re.compile(rf"(?<![\w&-])(?:{body})(?![\w&])", flags)


def _spelled_out_before(before: str, expansion: str) -> bool:
    return re.search(re.escape(expansion) + r"(?:['’]s)?\s*\($", before, re.IGNORECASE) is not None


_active: ContextVar[Glossary | None] = ContextVar("policy_briefs_glossary", default=None)


def active() -> Glossary | None:
    """The glossary of the render in progress, if any."""
    return _active.get()


@contextmanager
def rendering(glossary: Glossary) -> Iterator[Glossary]:
    """Make ``glossary`` the one prose filters use while a brief renders."""
    token = _active.set(glossary)
    try:
        yield glossary
    finally:
        _active.reset(token)

"""Pure selection: a corpus and an audience (plus optional filters) to a Brief."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from .corpus import Corpus
from .errors import BriefsError
from .models import PRIORITY_RANK, Audience, Finding, Figure, Publication, Relevance, Source, Theme
from .models import one_line


@dataclass(frozen=True)
class Item:
    """A finding as one audience's brief shows it."""

    finding: Finding
    theme: Theme
    relevance: Relevance

    @property
    def id(self) -> str:
        return self.finding.id


@dataclass(frozen=True)
class Section:
    theme: Theme
    items: list[Item]


@dataclass(frozen=True)
class Disagreement:
    """Two findings whose evidence points different ways, shown side by side."""

    first: Finding
    second: Finding
    note: str


@dataclass
class Brief:
    """Everything one brief shows, in reading order."""

    slug: str
    title: str
    audience: Audience
    publication: Publication
    sections: list[Section]
    takeaways: list[Item]
    disagreements: list[Disagreement]
    sources: dict[str, Source]
    glossary: list = field(default_factory=list)
    custom: bool = False

    @property
    def items(self) -> list[Item]:
        return [item for section in self.sections for item in section.items]

    @property
    def finding_ids(self) -> list[str]:
        return [item.id for item in self.items]

    @property
    def figures(self) -> list[tuple[Item, Figure]]:
        return [(item, fig) for item in self.items for fig in item.finding.figures]

    @property
    def recommendations(self) -> list[tuple[Item, str]]:
        ranked = sorted(self.items, key=lambda i: PRIORITY_RANK[i.relevance.priority])
        return [(item, action) for item in ranked for action in item.relevance.actions]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def select(
    corpus: Corpus,
    audience_id: str,
    *,
    themes: list[str] | None = None,
    finding_ids: list[str] | None = None,
    title: str | None = None,
) -> Brief:
    """The brief for one audience; ``themes``/``finding_ids`` narrow it to a custom brief."""
    audience = corpus.audiences.get(audience_id)
    if audience is None:
        raise BriefsError(_unknown("audience", audience_id, corpus.audiences))
    for theme_id in themes or []:
        if theme_id not in corpus.themes:
            raise BriefsError(_unknown("theme", theme_id, corpus.themes))
    for finding_id in finding_ids or []:
        if finding_id not in corpus.findings:
            raise BriefsError(_unknown("finding", finding_id, corpus.findings))
    assert corpus.publication is not None
    if title is not None:
        try:
            one_line(title)
        except ValueError as exc:
            raise BriefsError(f"--title {exc}") from None

    order = {fid: n for n, fid in enumerate(corpus.findings)}
    chosen: list[Item] = []
    for finding_id, finding in corpus.findings.items():
        relevance = finding.audiences.get(audience_id)
        theme_id = corpus.finding_theme[finding_id]
        if relevance is None:
            continue
        if themes and theme_id not in themes:
            continue
        if finding_ids and finding_id not in finding_ids:
            continue
        chosen.append(Item(finding, corpus.themes[theme_id], relevance))
    custom = bool(themes or finding_ids)
    if not chosen:
        raise BriefsError(
            f"no finding goes to audience '{audience_id}'"
            + (" with the given --theme/--finding filters" if custom else "")
        )

    by_priority = sorted(chosen, key=lambda i: (PRIORITY_RANK[i.relevance.priority], order[i.id]))
    if audience.max_findings and not finding_ids:
        by_priority = by_priority[: audience.max_findings]
    kept = {i.id for i in by_priority}

    sections = []
    for theme in corpus.themes_in_order():
        items = [i for i in by_priority if i.theme.id == theme.id]
        items.sort(key=lambda i: (PRIORITY_RANK[i.relevance.priority], order[i.id]))
        if items:
            sections.append(Section(theme, items))

    disagreements, seen = [], set()
    for item in (i for s in sections for i in s.items):
        for contrast in item.finding.contrasts:
            pair = frozenset((item.id, contrast.finding))
            other = corpus.findings.get(contrast.finding)
            if other is None or pair in seen:
                continue
            seen.add(pair)
            disagreements.append(Disagreement(item.finding, other, contrast.note))

    cited = {ev.source for i in by_priority for ev in i.finding.evidence}
    cited |= {ev.source for d in disagreements for ev in (*d.first.evidence, *d.second.evidence)}
    slug = audience_id
    if custom:
        slug = f"{audience_id}-" + _slug("-".join((themes or []) + (finding_ids or [])))
    return Brief(
        slug=slug,
        title=title or f"{corpus.publication.series}: {audience.title}",
        audience=audience,
        publication=corpus.publication,
        sections=sections,
        takeaways=[i for i in by_priority if i.id in kept][: audience.takeaways],
        disagreements=disagreements,
        sources={k: v for k, v in corpus.sources.items() if k in cited},
        glossary=list(corpus.glossary),
        custom=custom,
    )


def _unknown(kind: str, value: str, choices) -> str:
    match = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.5)
    hint = f"; did you mean '{match[0]}'?" if match else ""
    known = ", ".join(sorted(choices)) or "none"
    return f"unknown {kind} '{value}'{hint} (known: {known})"

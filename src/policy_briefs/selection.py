"""Pure selection: a corpus and a request (audiences, filters, shard) to the Briefs to make."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .attribution import Attribution, attribute
from .corpus import Corpus
from .errors import BriefsError, did_you_mean
from .models import (
    PRIORITY_RANK,
    Audience,
    Edition,
    Figure,
    Finding,
    Publication,
    Relevance,
    Source,
    Theme,
    one_line,
)


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


@dataclass(frozen=True)
class Verification:
    """What was checked of the quotations a brief shows, for its colophon."""

    quotes: int  # quotations shown
    verified: int  # of those, checked against an archived copy of their source
    sources: int  # sources those checked quotations come from
    accessed: str | None  # the latest date a checked source was archived or consulted

    @property
    def complete(self) -> bool:
        return self.quotes > 0 and self.verified == self.quotes


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
    # A narrowed selection (an edition or a draft), not the audience's standard brief.
    custom: bool = False
    # Argued: the title is a claim (an audience's brief_title, an edition's title) and
    # ``argument`` its takeaway; the cover leads with them.
    argued: bool = False
    argument: str | None = None
    edition: bool = False  # declared in editions.yaml
    # Made ad hoc with --theme/--finding: marked "not for distribution" on the brief,
    # never published or sent.
    draft: bool = False
    # This brief's own version (MAJOR.MINOR) and the date of its content; set by the
    # build from the previous manifest (versions.py). Empty in a preview: the templates
    # then show the publication's version and date.
    version: str = ""
    version_date: str = ""
    verification: Verification | None = None
    # Findings for this audience that did not fit (max_findings), best first.
    left_out: list[Item] = field(default_factory=list)
    # finding id -> who says it and when, for every finding the brief shows
    attributions: dict[str, Attribution] = field(default_factory=dict)

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
    edition: Edition | None = None,
) -> Brief:
    """The brief for one audience; ``themes``/``finding_ids`` narrow it to a draft, and
    ``edition`` makes the declared edition (its own selection, title and argument)."""
    if edition is not None:
        themes, finding_ids, title = edition.themes, edition.findings, edition.title
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
            + (
                f" in edition '{edition.slug}'"
                if edition
                else " with the given --theme/--finding filters"
                if custom
                else ""
            )
        )

    ranked = rank_items(chosen, corpus)
    left_out: list[Item] = []
    by_priority = ranked
    limit = audience.max_findings if not finding_ids else None
    if edition is not None and edition.max_findings:
        limit = edition.max_findings
    if limit:
        by_priority, left_out = ranked[:limit], ranked[limit:]
    kept = {i.id for i in by_priority}

    # Grouped in one pass: a large project has a hundred themes and thousands of findings.
    by_theme: dict[str, list[Item]] = {}
    for item in by_priority:
        by_theme.setdefault(item.theme.id, []).append(item)
    sections = []
    for theme in corpus.themes_in_order():
        items = by_theme.get(theme.id, [])
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

    shown = [i.finding for i in by_priority]
    shown += [f for d in disagreements for f in (d.first, d.second) if f.id not in kept]
    evidence = [ev for f in shown for ev in f.evidence]
    cited = {ev.source for ev in evidence}
    checked = [ev for ev in evidence if ev.source in corpus.verified_sources]
    accessed = [d for d in (corpus.sources[ev.source].accessed for ev in checked) if d]
    verification = Verification(
        len(evidence),
        len(checked),
        len({e.source for e in checked}),
        max(accessed) if accessed else None,
    )
    slug = audience_id
    if edition is not None:
        slug = edition.slug
    elif custom:
        slug = f"{audience_id}-" + _slug("-".join((themes or []) + (finding_ids or [])))
    # A draft shows part of the evidence: the audience's argued title may not hold.
    brief_title = (
        title
        or (None if custom else audience.brief_title)
        or f"{corpus.publication.series}: {audience.title}"
    )
    argued = edition is not None or bool(
        audience.brief_title and brief_title == audience.brief_title
    )
    return Brief(
        slug=slug,
        title=brief_title,
        argued=argued,
        argument=edition.argument if edition else audience.argument if argued else None,
        edition=edition is not None,
        draft=custom and edition is None,
        audience=audience,
        publication=corpus.publication,
        sections=sections,
        takeaways=[i for i in by_priority if i.id in kept][: audience.takeaways],
        disagreements=disagreements,
        sources={k: v for k, v in corpus.sources.items() if k in cited},
        glossary=list(corpus.glossary),
        custom=custom,
        verification=verification,
        left_out=left_out,
        attributions={
            f.id: attribute(f, corpus.sources, corpus.publication, audience.current_within_years)
            for f in shown
        },
    )


def rank_items(items: list[Item], corpus: Corpus) -> list[Item]:
    """Best first: by priority, then taking turns across themes (in theme order), so a
    limit keeps the spread of the evidence rather than whichever file comes first."""
    order = {fid: n for n, fid in enumerate(corpus.findings)}
    theme_rank = {t.id: n for n, t in enumerate(corpus.themes_in_order())}
    ranked: list[Item] = []
    for priority in sorted({i.relevance.priority for i in items}, key=PRIORITY_RANK.__getitem__):
        tier = sorted(
            (i for i in items if i.relevance.priority == priority),
            key=lambda i: (theme_rank[i.theme.id], order[i.id]),
        )
        queues: dict[str, list[Item]] = {}
        for item in tier:
            queues.setdefault(item.theme.id, []).append(item)
        while any(queues.values()):
            for theme_id in list(queues):
                if queues[theme_id]:
                    ranked.append(queues[theme_id].pop(0))
    return ranked


def _unknown(kind: str, value: str, choices) -> str:
    match = did_you_mean(value, choices, cutoff=0.5)
    hint = f"; did you mean '{match}'?" if match else ""
    known = ", ".join(sorted(choices)) or "none"
    return f"unknown {kind} '{value}'{hint} (known: {known})"


def plan_briefs(
    corpus: Corpus,
    *,
    names: Sequence[str] = (),
    themes: Sequence[str] = (),
    findings: Sequence[str] = (),
    title: str | None = None,
    shard: tuple[int, int] | None = None,
) -> list[Brief]:
    """The briefs a request makes, narrowed to its shard.

    Without filters: the brief of each named audience and each named edition, by default
    every audience's (in audience order) then every edition (in declared order). With
    ``themes``/``findings``: a draft per named audience (default: every audience).
    ``title`` retitles audience briefs and drafts; an edition's title is declared.
    """
    if themes or findings:
        for name in names:
            if name in corpus.editions and name not in corpus.audiences:
                raise BriefsError(
                    f"'{name}' is a declared edition (editions.yaml), which selects its own "
                    "findings; --theme/--finding make drafts from an audience's findings"
                )
        briefs = [
            select(
                corpus,
                _audience_name(corpus, name),
                themes=list(themes) or None,
                finding_ids=list(findings) or None,
                title=title,
            )
            for name in (names or list(corpus.audiences))
        ]
        for brief in briefs:
            if brief.slug in corpus.editions:
                raise BriefsError(
                    f"this draft would be named '{brief.slug}', the slug of a declared "
                    f"edition, and replace its files; build the edition with `briefs build "
                    f"{brief.slug}`, or choose other --theme/--finding filters"
                )
    else:
        briefs = []
        for name in names or [*corpus.audiences, *corpus.editions]:
            if name in corpus.audiences:
                briefs.append(select(corpus, name, title=title))
            elif name in corpus.editions:
                edition = corpus.editions[name]
                briefs.append(select(corpus, edition.audience, edition=edition))
            else:
                _audience_name(corpus, name)  # raises, naming what there is
    return take_shard(briefs, shard) if shard else briefs


def _audience_name(corpus: Corpus, name: str) -> str:
    if name in corpus.audiences:
        return name
    choices = {**corpus.audiences, **corpus.editions}
    match = did_you_mean(name, choices, cutoff=0.5)
    hint = f"; did you mean '{match}'?" if match else ""
    raise BriefsError(
        f"unknown audience or edition '{name}'{hint} (audiences: "
        f"{', '.join(corpus.audiences) or 'none'}; editions: "
        f"{', '.join(corpus.editions) or 'none'})"
    )


def take_shard(briefs: list[Brief], which: tuple[int, int]) -> list[Brief]:
    """The k-th of n shares: briefs sorted by slug, every n-th from the k-th on.

    Depends only on the set of slugs, so every machine of a CI matrix agrees on the split,
    and shares differ in size by at most one brief. Kept in plan order.
    """
    k, n = which
    order = sorted(b.slug for b in briefs)
    mine = {slug for i, slug in enumerate(order) if i % n == k - 1}
    return [b for b in briefs if b.slug in mine]

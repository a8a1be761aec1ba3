"""Who says so, and when: the words a brief prints beside a claim that is not the
source's own established fact (an opinion, a plan, an agenda item, a second-hand
report), and the year of evidence too old to read as current.

Pure functions of the models: selection.py attaches the result to each brief, the
templates print it, validate.py uses the same dating rule to ask for the year in text.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import Evidence, Finding, Publication, Source

# How each stance is introduced; {who} is the speaker, with the source when they differ.
_LEADS = {
    "reports": "Reported by {who}",
    "finds": "Found by {who}",
    "argues": "Argued by {who}",
    "contends": "Contended by {who}",
    "proposes": "Proposed by {who}",
    "plans": "A plan set out by {who}",
    "lists": "Listed as a topic by {who}, not a finding",
}


@dataclass(frozen=True)
class Attribution:
    """What a brief prints under a finding's headline."""

    text: str  # e.g. "Argued by Muro (2012)"; empty for a source's own plain result
    as_of: int | None = None  # the year of evidence older than the audience's horizon


def author_words(source: Source) -> str:
    """'Muro', 'Bonvillian', 'Smith and Jones', 'Smith et al.', or the organisation."""
    names = [a.family or a.literal or "" for a in source.author]
    if not names:
        return source.publisher or source.title
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} et al."


def source_year(source: Source) -> str:
    return source.issued[:4] if source.issued else "n.d."


def evidence_year(ev: Evidence, source: Source | None) -> int | None:
    """The year a piece of evidence speaks for: its as_of, else its source's date."""
    date = ev.as_of or (source.issued if source else None)
    return int(date[:4]) if date else None


def dated_year(
    finding: Finding,
    sources: dict[str, Source],
    publication: Publication | None,
    horizon: int | None,
) -> int | None:
    """The newest year of a finding's evidence when all of it is older than ``horizon``
    years before the publication date; None when it is current, undated or unbounded."""
    if horizon is None or publication is None:
        return None
    years = [evidence_year(ev, sources.get(ev.source)) for ev in finding.evidence]
    known = [y for y in years if y is not None]
    if not known or len(known) < len(years):
        return None
    newest = max(known)
    return newest if int(publication.date[:4]) - newest > horizon else None


def speaker_words(ev: Evidence, source: Source) -> str:
    """Who holds the claim: 'Muro (2012)', or 'the NSTC, as cited by Muro (2012)'."""
    cited = f"{author_words(source)} ({source_year(source)})"
    who = f"{ev.speaker}, as cited by {cited}" if ev.speaker else cited
    if ev.as_of and ev.as_of[:4] != source_year(source) and ev.stance in ("plans", "reports"):
        who += f", dating from {ev.as_of[:4]}"
    return who


def phrase(ev: Evidence, source: Source) -> str:
    """One piece of evidence introduced in words: 'Argued by Muro (2012)'."""
    return _LEADS[ev.stance].format(who=speaker_words(ev, source))


def attribute(
    finding: Finding,
    sources: dict[str, Source],
    publication: Publication | None,
    horizon: int | None,
) -> Attribution:
    """The attribution line of a finding: each speaker once, speakers of one stance
    together, in the order the evidence gives them.

    A source's own plain result (finds or reports, no other speaker) needs none: its note
    says where it comes from. Everything else names who says it and when.
    """
    by_stance: dict[str, list[str]] = {}
    speakers: set[tuple[str | None, str]] = set()
    for ev in finding.evidence:
        source = sources.get(ev.source)
        if source is None or (ev.stance in ("finds", "reports") and not ev.speaker):
            continue
        # One phrase per speaker: the first stance they take is the claim's; repeating
        # "Argued by Muro; contended by Muro" would only add words.
        if (ev.speaker, ev.source) in speakers:
            continue
        speakers.add((ev.speaker, ev.source))
        by_stance.setdefault(ev.stance, []).append(speaker_words(ev, source))
    parts = [_LEADS[stance].format(who=" and by ".join(whos)) for stance, whos in by_stance.items()]
    # One sentence: later phrases continue it ("Argued by A (2012); proposed by B (2013)").
    text = "; ".join([*parts[:1], *(p[:1].lower() + p[1:] for p in parts[1:])])
    return Attribution(text, dated_year(finding, sources, publication, horizon))

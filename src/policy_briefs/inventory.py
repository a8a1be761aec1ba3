"""What a project holds, as plain data: the documented JSON of ``briefs list --json``.

This shape is a stable interface (``format_version`` changes if it ever must break).
"""

from __future__ import annotations

from typing import Any

from .corpus import Corpus

FORMAT_VERSION = 1


def inventory(corpus: Corpus) -> dict[str, Any]:
    findings = []
    for finding_id, finding in corpus.findings.items():
        findings.append(
            {
                "id": finding_id,
                "theme": corpus.finding_theme[finding_id],
                "headline": finding.headline,
                "confidence": finding.confidence,
                "audiences": {
                    audience: {"priority": rel.priority, "actions": len(rel.actions)}
                    for audience, rel in finding.audiences.items()
                },
                "evidence": [
                    {
                        "source": ev.source,
                        "locator": ev.locator,
                        "quote": ev.quote,
                        "stance": ev.stance,
                        "speaker": ev.speaker,
                        "as_of": ev.as_of,
                    }
                    for ev in finding.evidence
                ],
                "figures": [fig.model_dump(exclude_none=True) for fig in finding.figures],
                "contrasts": [c.finding for c in finding.contrasts],
            }
        )
    return {
        "format_version": FORMAT_VERSION,
        "audiences": [
            {
                "id": a.id,
                "title": a.title,
                "template": a.template,
                "citation_style": a.citation_style,
                "findings": sum(a.id in f.audiences for f in corpus.findings.values()),
                **_coverage(corpus, a.id),
            }
            for a in corpus.audiences.values()
        ],
        "editions": [
            {
                "slug": e.slug,
                "audience": e.audience,
                "title": e.title,
                "themes": list(e.themes),
                "findings": list(e.findings),
                **_coverage(corpus, e.audience, e.slug),
            }
            for e in corpus.editions.values()
        ],
        "themes": [
            {
                "id": t.id,
                "title": t.title,
                "order": t.order,
                "findings": sum(v == t.id for v in corpus.finding_theme.values()),
            }
            for t in corpus.themes_in_order()
        ],
        "findings": findings,
        "sources": [
            {
                "id": s.id,
                "csl": s.to_csl(),
                "snapshot": s.snapshot,
                "findings": sum(
                    any(ev.source == s.id for ev in f.evidence) for f in corpus.findings.values()
                ),
            }
            for s in corpus.sources.values()
        ],
    }


def _coverage(corpus: Corpus, audience_id: str, edition: str | None = None) -> dict[str, list[str]]:
    """Which findings the audience's brief (or one of its editions) shows, and which
    max_findings leaves out."""
    from .selection import select

    if not any(audience_id in f.audiences for f in corpus.findings.values()):
        return {"in_brief": [], "left_out": []}
    brief = select(corpus, audience_id, edition=corpus.editions[edition] if edition else None)
    return {"in_brief": [i.id for i in brief.items], "left_out": [i.id for i in brief.left_out]}

"""Watch the sources: fetch every source page again and say what became of it.

Per source: reachable, redirected (to where), gone (404, 410), failing (5xx, timeouts,
refused connections, other refusals), disallowed by robots.txt, or no URL to check. Per
quote: whether the live page still holds it, compared with the same folding as
`briefs check` uses against snapshots (white space, quote marks, dashes). A site that is
down is reported, not failed; only a quote gone from a page that did answer is a finding
that needs an analyst.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..corpus import Corpus, load_corpus
from ..errors import Problem, ValidationFailed, has_errors
from ..evidence import Snapshot
from ..files import sha256_bytes
from ..project import Project
from .extract import ExtractionError, extract, page_text
from .fetch import Fetcher, FetchResult, FetchSettings, Hop, settings_for
from .store import quotes_citing

Status = Literal["reachable", "redirected", "gone", "failing", "disallowed", "no-url"]
STATUSES: tuple[Status, ...] = (
    "reachable",
    "redirected",
    "gone",
    "failing",
    "disallowed",
    "no-url",
)
GONE_STATUSES = frozenset({404, 410})


@dataclass
class QuoteCheck:
    """One quote against the live page."""

    finding: str
    index: int
    """Position of the evidence item in the finding (evidence[index])."""
    quote: str
    present: bool | None
    """True: still there; False: gone from the page; None: the page could not be read."""
    outside_main_text: bool = False
    """Found only in the page's furniture, not in its main text."""
    closest: str | None = None
    """When gone: the most similar passage on the live page."""
    similarity: float | None = None

    def as_dict(self) -> dict:
        return {
            "finding": self.finding,
            "evidence": self.index,
            "quote": self.quote,
            "present": self.present,
            "outside_main_text": self.outside_main_text,
            "closest": self.closest,
            "similarity": None if self.similarity is None else round(self.similarity, 2),
        }


@dataclass
class SourceCheck:
    """One source's page, fetched again."""

    id: str
    url: str | None
    status: Status
    http_status: int | None = None
    final_url: str | None = None
    hops: list[Hop] = field(default_factory=list)
    error: str | None = None
    attempts: int = 0
    changed_since_archive: bool | None = None
    """Whether the page's main text differs from the archived snapshot (None: unknown)."""
    quotes: list[QuoteCheck] = field(default_factory=list)

    @property
    def vanished(self) -> list[QuoteCheck]:
        return [q for q in self.quotes if q.present is False]

    def describe(self) -> str:
        """One line for a person: what happened to the page."""
        if self.status == "no-url":
            return "no URL to check"
        if self.status == "reachable":
            text = f"reachable (HTTP {self.http_status})"
        elif self.status == "redirected":
            text = f"redirected to {self.final_url} (HTTP {self.http_status})"
        elif self.status == "gone":
            text = f"gone (HTTP {self.http_status})"
            if self.hops:
                text += f" at {self.final_url}"
        elif self.status == "disallowed":
            text = f"not checked: {self.error}"
        else:
            text = "failing: " + (self.error or f"HTTP {self.http_status}")
        if self.error and self.status in ("reachable", "redirected"):
            text += f"; {self.error}"
        if self.changed_since_archive:
            text += "; text changed since it was archived"
        present = sum(q.present is True for q in self.quotes)
        if self.quotes and any(q.present is not None for q in self.quotes):
            text += f"; {present} of {len(self.quotes)} quotes still there"
        return text

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "url": self.url,
            "status": self.status,
            "http_status": self.http_status,
            "final_url": self.final_url,
            "redirects": [
                {"url": h.url, "status": h.status, "location": h.location} for h in self.hops
            ],
            "error": self.error,
            "attempts": self.attempts,
            "changed_since_archive": self.changed_since_archive,
            "quotes": [q.as_dict() for q in self.quotes],
        }


@dataclass
class WatchReport:
    """Every source checked, and the located problems an analyst should look at."""

    checked: dt.datetime
    user_agent: str
    sources: list[SourceCheck]
    problems: list[Problem] = field(default_factory=list)

    @property
    def vanished(self) -> list[tuple[SourceCheck, QuoteCheck]]:
        return [(s, q) for s in self.sources for q in s.vanished]

    @property
    def failed(self) -> bool:
        """True only when a quote is gone from a page that answered."""
        return bool(self.vanished)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {
            status: sum(s.status == status for s in self.sources) for status in STATUSES
        }
        counts["quotes"] = sum(len(s.quotes) for s in self.sources)
        counts["quotes_vanished"] = len(self.vanished)
        return counts

    def as_dict(self) -> dict:
        return {
            "checked": self.checked.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "user_agent": self.user_agent,
            "ok": not self.failed,
            "summary": self.counts(),
            "vanished": [
                {
                    "source": s.id,
                    "finding": q.finding,
                    "evidence": q.index,
                    "quote": q.quote,
                    "url": s.final_url,
                }
                for s, q in self.vanished
            ],
            "problems": [p.as_dict() for p in self.problems],
            "sources": [s.as_dict() for s in self.sources],
        }

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n"


def check_sources(
    project: Project,
    *,
    settings: FetchSettings | None = None,
    fetcher: Fetcher | None = None,
    only: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> WatchReport:
    """Fetch every source's URL (or only the ids in ``only``) and check its quotes.

    Raises ValidationFailed when the findings cannot be loaded; network trouble never
    raises, it is reported per source.
    """
    corpus, problems = load_corpus(project)
    if has_errors(problems):
        raise ValidationFailed(problems)
    unknown = [i for i in only or [] if i not in corpus.sources]
    if unknown:
        raise ValidationFailed(
            [Problem("findings/sources.yaml", 1, 1, "error", f"no source '{i}'") for i in unknown]
        )
    say = progress or (lambda message: None)
    own_fetcher = fetcher is None
    fetcher = fetcher or Fetcher(settings_for(settings, corpus.publication))
    checks: list[SourceCheck] = []
    fetched: dict[str, FetchResult] = {}  # two sources on one page: fetched once
    try:
        ids = [i for i in corpus.sources if not only or i in only]
        for n, source_id in enumerate(ids, 1):
            source = corpus.sources[source_id]
            if not source.URL:
                checks.append(
                    SourceCheck(
                        source_id,
                        None,
                        "no-url",
                        quotes=[
                            QuoteCheck(q.finding, q.index, q.quote, None)
                            for q in quotes_citing(corpus, source_id)
                        ],
                    )
                )
                continue
            say(f"[{n}/{len(ids)}] {source_id}: {source.URL}")
            if source.URL not in fetched:
                fetched[source.URL] = fetcher.fetch(source.URL)
            checks.append(_check_one(corpus, source_id, fetched[source.URL]))
    finally:
        if own_fetcher:
            fetcher.close()
    report = WatchReport(dt.datetime.now(dt.UTC), fetcher.settings.user_agent or "", checks)
    report.problems = _problems(corpus, checks)
    return report


def _check_one(corpus: Corpus, source_id: str, result: FetchResult) -> SourceCheck:
    source = corpus.sources[source_id]
    check = SourceCheck(
        source_id,
        source.URL,
        _status(result),
        result.status,
        result.final_url,
        result.hops,
        result.error,
        result.attempts,
    )
    refs = quotes_citing(corpus, source_id)
    if check.status not in ("reachable", "redirected"):
        check.quotes = [QuoteCheck(q.finding, q.index, q.quote, None) for q in refs]
        return check
    try:
        main = extract(result.body, result.content_type, result.charset, result.final_url)
        whole = Snapshot("page", page_text(result.body, result.content_type, result.charset))
    except ExtractionError as exc:
        check.error = f"page text not read: {exc}"
        check.quotes = [QuoteCheck(q.finding, q.index, q.quote, None) for q in refs]
        return check
    except Exception as exc:  # noqa: BLE001 - a parser failing on one odd page is reported
        check.error = f"page text not read: {type(exc).__name__}: {exc}"
        check.quotes = [QuoteCheck(q.finding, q.index, q.quote, None) for q in refs]
        return check
    provenance = source.provenance
    if provenance and provenance.extractor == main.extractor:
        check.changed_since_archive = sha256_bytes(main.text.encode("utf-8")) != provenance.sha256
    text = Snapshot("live", main.text)
    for ref in refs:
        if text.paragraphs_with(ref.quote):
            check.quotes.append(QuoteCheck(ref.finding, ref.index, ref.quote, True))
        elif whole.paragraphs_with(ref.quote):
            check.quotes.append(
                QuoteCheck(ref.finding, ref.index, ref.quote, True, outside_main_text=True)
            )
        else:
            _number, passage, ratio = text.closest(ref.quote)
            check.quotes.append(
                QuoteCheck(
                    ref.finding,
                    ref.index,
                    ref.quote,
                    False,
                    closest=passage or None,
                    similarity=ratio,
                )
            )
    return check


def _status(result: FetchResult) -> Status:
    if result.error_kind == "robots":
        return "disallowed"
    if result.error or result.status is None:
        return "failing"
    if result.status in GONE_STATUSES:
        return "gone"
    if 200 <= result.status < 300:
        return "redirected" if result.redirected else "reachable"
    return "failing"


def _problems(corpus: Corpus, checks: list[SourceCheck]) -> list[Problem]:
    """Located problems: errors at each vanished quote, warnings at each lost page."""
    problems = []
    for check in checks:
        at = corpus.where[("source", check.id)]
        if check.status == "gone":
            where = f" at {check.final_url}" if check.hops else ""
            problems.append(
                at.problem(
                    f"URL: the page is gone (HTTP {check.http_status}{where}); find its new "
                    "address or an archived copy",
                    at=("URL",),
                    severity="warning",
                )
            )
        elif check.status == "redirected":
            problems.append(
                at.problem(
                    f"URL: the page moved to {check.final_url}; update the address",
                    at=("URL",),
                    severity="warning",
                )
            )
        for quote in check.vanished:
            finding_at = corpus.where[("finding", quote.finding)]
            hint = (
                f'; closest passage now ({quote.similarity:.0%} alike): "{quote.closest}"'
                if quote.closest and (quote.similarity or 0) > 0.5
                else ""
            )
            problems.append(
                finding_at.problem(
                    f"evidence[{quote.index}].quote: no longer on {check.final_url} (source "
                    f"'{check.id}' changed since it was quoted){hint}",
                    at=("evidence", quote.index, "quote"),
                )
            )
    return sorted(problems)

"""Cross-checks over the whole corpus; every problem is collected, none stops the others."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

from .confine import OutsideRoot, confinement_problem
from .corpus import Corpus, load_corpus
from .errors import Problem, ValidationFailed, has_errors
from .evidence import (
    MAX_QUOTE_WORDS,
    MAX_SNAPSHOT_BYTES,
    Snapshot,
    normalise,
    numbers_backed_by,
    numbers_in,
    quote_words,
)
from .loader import read_text
from .models import LOCATOR_LABELS
from .project import Project


def check_project(
    project: Project,
    *,
    sources_dir: Path | None = None,
    strict: bool = False,
    template_exists: Callable[[str], bool] | None = None,
    style_exists: Callable[[str], bool] | None = None,
) -> tuple[Corpus, list[Problem]]:
    """Load and cross-check everything. With ``strict``, warnings count as errors."""
    corpus, problems = load_corpus(project)
    if not has_errors(problems):
        problems += cross_check(corpus, template_exists=template_exists, style_exists=style_exists)
        if sources_dir is not None:
            problems += check_evidence(corpus, sources_dir)
    if strict:
        problems = [
            Problem(p.path, p.line, p.column, "error", p.message) if p.severity == "warning" else p
            for p in problems
        ]
    return corpus, problems


def require_valid(corpus: Corpus, problems: list[Problem]) -> Corpus:
    if has_errors(problems):
        raise ValidationFailed(problems)
    return corpus


def _suggest(value: str, choices) -> str:
    match = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def cross_check(
    corpus: Corpus,
    *,
    template_exists: Callable[[str], bool] | None = None,
    style_exists: Callable[[str], bool] | None = None,
) -> list[Problem]:
    problems: list[Problem] = []
    cited: set[str] = set()

    for finding_id, finding in corpus.findings.items():
        at = corpus.where[("finding", finding_id)]
        for i, ev in enumerate(finding.evidence):
            cited.add(ev.source)
            if ev.source not in corpus.sources:
                problems.append(at.problem(
                    f"evidence[{i}].source: unknown source '{ev.source}'"
                    f"{_suggest(ev.source, corpus.sources)}; sources are listed in sources.yaml",
                    at=("evidence", i, "source")))
            problems += _check_locator(at, ev.locator, ("evidence", i, "locator"))
            if quote_words(ev.quote) > MAX_QUOTE_WORDS:
                problems.append(at.problem(
                    f"evidence[{i}].quote: {quote_words(ev.quote)} words; keep quotes under "
                    f"{MAX_QUOTE_WORDS} words and say the rest in your own words",
                    at=("evidence", i, "quote"), severity="warning"))
        for i, fig in enumerate(finding.figures):
            if fig.locator:
                problems += _check_locator(at, fig.locator, ("figures", i, "locator"))
            if fig.source not in corpus.sources:
                problems.append(at.problem(
                    f"figures[{i}].source: unknown source '{fig.source}'"
                    f"{_suggest(fig.source, corpus.sources)}", at=("figures", i, "source")))
        for audience_id in finding.audiences:
            if audience_id not in corpus.audiences:
                problems.append(at.problem(
                    f"audiences.{audience_id}: unknown audience '{audience_id}'"
                    f"{_suggest(audience_id, corpus.audiences)}; audiences are listed in "
                    "audiences.yaml", at=("audiences", audience_id), key=True))
        if not finding.audiences:
            problems.append(at.problem(
                f"finding '{finding_id}' goes to no audience, so no brief shows it; "
                "add an 'audiences' entry", at=("id",), severity="warning"))
        for i, contrast in enumerate(finding.contrasts):
            other = corpus.findings.get(contrast.finding)
            if contrast.finding == finding_id:
                problems.append(at.problem("a finding cannot contrast with itself",
                                           at=("contrasts", i, "finding")))
            elif other is None:
                problems.append(at.problem(
                    f"contrasts[{i}].finding: unknown finding '{contrast.finding}'"
                    f"{_suggest(contrast.finding, corpus.findings)}",
                    at=("contrasts", i, "finding")))
            elif not any(c.finding == finding_id for c in other.contrasts):
                problems.append(at.problem(
                    f"contrasts[{i}]: '{contrast.finding}' does not list '{finding_id}' back; "
                    "add the contrast on both sides so each brief shows both",
                    at=("contrasts", i, "finding"), severity="warning"))
        problems += _check_numbers(corpus, finding_id)

    for source_id in corpus.sources:
        if source_id not in cited:
            problems.append(corpus.where[("source", source_id)].problem(
                f"source '{source_id}' is cited by no finding", at=("id",), severity="warning"))

    for audience_id, audience in corpus.audiences.items():
        at = corpus.where[("audience", audience_id)]
        try:
            template_missing = template_exists is not None and not template_exists(
                audience.template)
        except OutsideRoot as exc:
            problems.append(exc.problem)
            template_missing = False
        if template_missing:
            problems.append(at.problem(
                f"template '{audience.template}' not found in templates/ or the packaged "
                "defaults", at=("template",)))
        try:
            style_missing = style_exists is not None and not style_exists(
                audience.citation_style)
        except OutsideRoot as exc:
            # Reported where the style is named, not at the style file.
            problems.append(at.problem(exc.problem.message, at=("citation_style",)))
            style_missing = False
        if style_missing:
            problems.append(at.problem(
                f"citation style '{audience.citation_style}' not found: use a CSL style name "
                "such as 'chicago-notes-bibliography' or 'apa', or a .csl file in "
                "templates/styles/", at=("citation_style",)))
        if not any(audience_id in f.audiences for f in corpus.findings.values()):
            problems.append(at.problem(f"audience '{audience_id}' receives no finding",
                                       at=("id",), severity="warning"))
    return problems


def _check_locator(at, locator: str, key_path) -> list[Problem]:
    # The citation processor silently drops a label it does not know ("para 3" -> "3").
    label = locator.split()[0]
    if label in LOCATOR_LABELS:
        return []
    # Abbreviations ('para', 'sec', 'fig') are the usual slip, so a prefix match wins.
    longer = [name for name in LOCATOR_LABELS if name.startswith(label)]
    hint = f" (did you mean '{longer[0]}'?)" if len(longer) == 1 else _suggest(label, LOCATOR_LABELS)
    return [at.problem(
        f"{key_path[0]}[{key_path[1]}].locator: '{label}' is not a locator label{hint}; "
        "use one of: paragraph, section, page, chapter, figure, table, ...", at=key_path)]


def _check_numbers(corpus: Corpus, finding_id: str) -> list[Problem]:
    """Numbers in the prose must come from the evidence; figures from their own source."""
    finding = corpus.findings[finding_id]
    at = corpus.where[("finding", finding_id)]
    problems = []
    backed = set().union(*(numbers_backed_by(ev.quote) for ev in finding.evidence),
                         *(numbers_in(fig.value) for fig in finding.figures))
    for field in ("headline", "summary"):
        for number in sorted(numbers_in(getattr(finding, field)) - backed):
            problems.append(at.problem(
                f"{field}: the number {number} appears in none of this finding's quotes or "
                "figures; cite the passage that gives it", at=(field,), severity="warning"))
    for i, fig in enumerate(finding.figures):
        quotes = [normalise(ev.quote).lower() for ev in finding.evidence if ev.source == fig.source]
        wanted = numbers_in(fig.value)
        if wanted:
            missing = wanted - set().union(*(numbers_backed_by(q) for q in quotes))
        else:
            missing = {fig.value} if not any(normalise(fig.value).lower() in q for q in quotes) else set()
        if missing:
            problems.append(at.problem(
                f"figures[{i}].value: '{fig.value}' is in no quote from '{fig.source}' in this "
                "finding; add the evidence that gives it", at=("figures", i, "value"),
                severity="warning"))
    return problems


def check_evidence(corpus: Corpus, sources_dir: Path) -> list[Problem]:
    """Every quote must stand in its source's snapshot, in the paragraph its locator names."""
    problems: list[Problem] = []
    if not sources_dir.is_dir():
        return [Problem(str(sources_dir), 1, 1, "error",
                        "sources folder not found: pass --sources-dir with the folder of "
                        "archived source texts")]
    snapshots: dict[str, Snapshot] = {}
    for source_id, source in corpus.sources.items():
        at = corpus.where[("source", source_id)]
        if not source.snapshot:
            problems.append(at.problem(
                f"source '{source_id}' has no snapshot, so its quotes cannot be verified",
                at=("id",), severity="warning"))
            continue
        # The name comes from sources.yaml: it must not reach outside the sources folder,
        # and a refusal names the path only, never what it points at.
        path, outside = confinement_problem(
            sources_dir, source.snapshot, what="snapshot",
            where=lambda message, at=at: at.problem(message, at=("snapshot",)))
        if outside is not None:
            problems.append(outside)
            continue
        if not path.exists():
            problems.append(at.problem(
                f"snapshot '{source.snapshot}' not found in {sources_dir}", at=("snapshot",)))
            continue
        text, errors = read_text(path, str(path), limit=MAX_SNAPSHOT_BYTES,
                                 what="source snapshots")
        if text is None:
            problems += errors
            continue
        snapshots[source_id] = Snapshot(source.snapshot, text)

    for finding_id, finding in corpus.findings.items():
        at = corpus.where[("finding", finding_id)]
        for i, ev in enumerate(finding.evidence):
            snapshot = snapshots.get(ev.source)
            if snapshot is None:
                continue
            found = snapshot.paragraphs_with(ev.quote)
            if not found:
                number, passage, ratio = snapshot.closest(ev.quote)
                hint = (f"; closest passage (paragraph {number}, {ratio:.0%} alike): "
                        f"\"{passage}\"" if ratio > 0.5 else "")
                problems.append(at.problem(
                    f"evidence[{i}].quote: not found in {snapshot.name}{hint}",
                    at=("evidence", i, "quote")))
            elif ev.locator_label == "paragraph" and ev.locator_value.isdigit():
                if int(ev.locator_value) not in found:
                    where = ", ".join(str(n) for n in found)
                    problems.append(at.problem(
                        f"evidence[{i}].locator: the quote is in paragraph {where} of "
                        f"{snapshot.name}, not paragraph {ev.locator_value}",
                        at=("evidence", i, "locator"), severity="warning"))
    return problems

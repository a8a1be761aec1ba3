"""Cross-checks over the whole corpus; every problem is collected, none stops the others."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from .attribution import dated_year
from .confine import OutsideRoot, confinement_problem
from .corpus import Corpus, Located, load_corpus
from .errors import Problem, ValidationFailed, apply_strict, did_you_mean, has_errors
from .evidence import (
    AGENDA,
    CLIP_WINDOW,
    HEDGE,
    HEDGED_PROSE,
    MAX_QUOTE_WORDS,
    MAX_SNAPSHOT_BYTES,
    OPINION,
    PLAN,
    REPORTED,
    Snapshot,
    first_match,
    normalise,
    numbers_backed_by,
    numbers_in,
    quote_words,
)
from .files import sha256_file
from .loader import read_text
from .models import FACT_STANCES, LOCATOR_LABELS, Evidence, Finding, Source
from .project import Project


def check_project(
    project: Project,
    *,
    sources_dir: Path | None = None,
    strict: bool = False,
    template_exists: Callable[[str], bool] | None = None,
    style_exists: Callable[[str], bool] | None = None,
    freeze: bool = False,
) -> tuple[Corpus, list[Problem]]:
    """Load and cross-check everything. With ``strict``, warnings count as errors.
    ``freeze``: see load_corpus."""
    corpus, problems = load_corpus(project, freeze=freeze)
    if not has_errors(problems):
        problems += cross_check(corpus, template_exists=template_exists, style_exists=style_exists)
        if style_exists is not None:
            problems += check_styles(project, corpus)
        if sources_dir is not None:
            problems += check_evidence(corpus, sources_dir)
            if not has_errors(problems):
                # Everything passed: each source whose snapshot was read is verified.
                corpus.verified_sources = {
                    k
                    for k, s in corpus.sources.items()
                    if s.snapshot and (sources_dir / s.snapshot).is_file()
                }
    return corpus, apply_strict(problems, strict)


def load_valid_corpus(
    project: Project,
    *,
    strict: bool = False,
    sources_dir: Path | None = None,
    verify: bool = True,
    require_verified: bool = False,
    freeze: bool = False,
) -> tuple[Corpus, list[Problem]]:
    """The corpus and its warnings, or ValidationFailed with every problem.

    With ``verify``, quotes, locators, numbers and stances are checked against the source
    snapshots in ``sources_dir`` (default: the project's, see Project.sources_dir). When
    there is none, that is a warning (the briefs then say they were not verified), or an
    error with ``require_verified``.

    Templates and citation styles named by audiences must exist: they are looked up as
    the template environment looks them up, without importing it (a check whose reading
    grades are cached renders nothing). ``freeze``: see load_corpus.
    """
    from .citations import find_style

    missing: list[Problem] = []
    if verify:
        sources_dir = project.sources_dir(sources_dir)
        if sources_dir is None or not sources_dir.is_dir():
            what = (
                f"the sources folder {sources_dir} does not exist"
                if sources_dir
                else "no sources folder is set (sources_dir in briefs.toml, "
                "--sources-dir or BRIEFS_SOURCES_DIR)"
            )
            missing.append(
                Problem(
                    project.settings_file.name,
                    1,
                    1,
                    "error" if require_verified else "warning",
                    f"{what}, so quotes cannot be verified"
                    + ("" if require_verified else "; the briefs will say they were not"),
                )
            )
            sources_dir = None
    else:
        sources_dir = None
    project.template_dirs  # noqa: B018 - a templates/ leading outside the project stops here
    corpus, problems = check_project(
        project,
        sources_dir=sources_dir,
        strict=strict,
        template_exists=lambda name: project.template_file(name) is not None,
        style_exists=lambda name: find_style(name, project.template_dirs) is not None,
        freeze=freeze,
    )
    problems = apply_strict(missing, strict) + problems
    if has_errors(problems):
        raise ValidationFailed(problems)
    return corpus, problems


def _suggest(value: str, choices) -> str:
    match = did_you_mean(value, choices)
    return f" (did you mean '{match}'?)" if match else ""


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
                problems.append(
                    at.problem(
                        f"evidence[{i}].source: unknown source '{ev.source}'"
                        f"{_suggest(ev.source, corpus.sources)}; sources are listed in "
                        "sources.yaml",
                        at=("evidence", i, "source"),
                    )
                )
            problems += _check_locator(at, ev.locator, ("evidence", i, "locator"))
            if quote_words(ev.quote) > MAX_QUOTE_WORDS:
                problems.append(
                    at.problem(
                        f"evidence[{i}].quote: {quote_words(ev.quote)} words; keep quotes under "
                        f"{MAX_QUOTE_WORDS} words and say the rest in your own words",
                        at=("evidence", i, "quote"),
                        severity="warning",
                    )
                )
        for i, fig in enumerate(finding.figures):
            if fig.locator:
                problems += _check_locator(at, fig.locator, ("figures", i, "locator"))
            if fig.source not in corpus.sources:
                problems.append(
                    at.problem(
                        f"figures[{i}].source: unknown source '{fig.source}'"
                        f"{_suggest(fig.source, corpus.sources)}",
                        at=("figures", i, "source"),
                    )
                )
        for audience_id in finding.audiences:
            if audience_id not in corpus.audiences:
                problems.append(
                    at.problem(
                        f"audiences.{audience_id}: unknown audience '{audience_id}'"
                        f"{_suggest(audience_id, corpus.audiences)}; audiences are listed in "
                        "audiences.yaml",
                        at=("audiences", audience_id),
                        key=True,
                    )
                )
        if not finding.audiences:
            problems.append(
                at.problem(
                    f"finding '{finding_id}' goes to no audience, so no brief shows it; "
                    "add an 'audiences' entry",
                    at=("id",),
                    severity="warning",
                )
            )
        for i, contrast in enumerate(finding.contrasts):
            other = corpus.findings.get(contrast.finding)
            if contrast.finding == finding_id:
                problems.append(
                    at.problem(
                        "a finding cannot contrast with itself", at=("contrasts", i, "finding")
                    )
                )
            elif other is None:
                problems.append(
                    at.problem(
                        f"contrasts[{i}].finding: unknown finding '{contrast.finding}'"
                        f"{_suggest(contrast.finding, corpus.findings)}",
                        at=("contrasts", i, "finding"),
                    )
                )
            elif not any(c.finding == finding_id for c in other.contrasts):
                problems.append(
                    at.problem(
                        f"contrasts[{i}]: '{contrast.finding}' does not list '{finding_id}' back; "
                        "add the contrast on both sides so each brief shows both",
                        at=("contrasts", i, "finding"),
                        severity="warning",
                    )
                )
        problems += _check_numbers(corpus, finding_id)
        problems += _check_dated(corpus, finding_id)

    for source_id in corpus.sources:
        if source_id not in cited:
            problems.append(
                corpus.where[("source", source_id)].problem(
                    f"source '{source_id}' is cited by no finding", at=("id",), severity="warning"
                )
            )

    for audience_id, audience in corpus.audiences.items():
        at = corpus.where[("audience", audience_id)]
        try:
            template_missing = template_exists is not None and not template_exists(
                audience.template
            )
        except OutsideRoot as exc:
            problems.append(exc.problem)
            template_missing = False
        if template_missing:
            problems.append(
                at.problem(
                    f"template '{audience.template}' not found in templates/ or the packaged "
                    "defaults",
                    at=("template",),
                )
            )
        try:
            style_missing = style_exists is not None and not style_exists(audience.citation_style)
        except OutsideRoot as exc:
            # Reported where the style is named, not at the style file.
            problems.append(at.problem(exc.problem.message, at=("citation_style",)))
            style_missing = False
        if style_missing:
            problems.append(
                at.problem(
                    f"citation style '{audience.citation_style}' not found: use a CSL style name "
                    "such as 'chicago-notes-bibliography' or 'apa', or a .csl file in "
                    "templates/styles/",
                    at=("citation_style",),
                )
            )
        if not any(audience_id in f.audiences for f in corpus.findings.values()):
            problems.append(
                at.problem(
                    f"audience '{audience_id}' receives no finding", at=("id",), severity="warning"
                )
            )
        high = [
            fid
            for fid, f in corpus.findings.items()
            if f.audiences.get(audience_id) and f.audiences[audience_id].priority == "high"
        ]
        if audience.max_findings and len(high) > audience.max_findings:
            problems.append(
                at.problem(
                    f"max_findings: {len(high)} findings are high priority for '{audience_id}' but "
                    f"its brief holds {audience.max_findings}, so some would be left out "
                    f"silently: {', '.join(high)}; lower some priorities or raise max_findings",
                    at=("max_findings",),
                )
            )
    problems += _check_editions(corpus)
    return problems


def _check_editions(corpus: Corpus) -> list[Problem]:
    """Every declared edition names things that exist and selects findings its audience
    receives; its slug names no other brief."""
    problems: list[Problem] = []
    for slug, edition in corpus.editions.items():
        at = corpus.where[("edition", slug)]
        before = len(problems)
        if slug in corpus.audiences:
            problems.append(
                at.problem(
                    f"slug: '{slug}' is the slug of the audience brief '{slug}'; give the "
                    "edition a name of its own, e.g. "
                    f"'{edition.audience}-{'-'.join(edition.themes or edition.findings)}'",
                    at=("slug",),
                )
            )
        audience = corpus.audiences.get(edition.audience)
        if audience is None:
            problems.append(
                at.problem(
                    f"audience: unknown audience '{edition.audience}'"
                    f"{_suggest(edition.audience, corpus.audiences)}; audiences are listed in "
                    "audiences.yaml",
                    at=("audience",),
                )
            )
        for i, theme_id in enumerate(edition.themes):
            if theme_id not in corpus.themes:
                problems.append(
                    at.problem(
                        f"themes[{i}]: unknown theme '{theme_id}'"
                        f"{_suggest(theme_id, corpus.themes)}; a theme is a findings file's "
                        "name without .yaml",
                        at=("themes", i),
                    )
                )
        for i, finding_id in enumerate(edition.findings):
            finding = corpus.findings.get(finding_id)
            if finding is None:
                problems.append(
                    at.problem(
                        f"findings[{i}]: unknown finding '{finding_id}'"
                        f"{_suggest(finding_id, corpus.findings)}",
                        at=("findings", i),
                    )
                )
            elif audience is not None and edition.audience not in finding.audiences:
                problems.append(
                    at.problem(
                        f"findings[{i}]: finding '{finding_id}' has no entry for audience "
                        f"'{edition.audience}', so this brief could not show it; add "
                        f"audiences.{edition.audience} to the finding or drop it here",
                        at=("findings", i),
                    )
                )
            elif edition.themes and corpus.finding_theme[finding_id] not in edition.themes:
                problems.append(
                    at.problem(
                        f"findings[{i}]: finding '{finding_id}' is in theme "
                        f"'{corpus.finding_theme[finding_id]}', not in this edition's themes, "
                        "so it would be left out; add its theme or drop it here",
                        at=("findings", i),
                    )
                )
        chosen = [
            fid
            for fid, f in corpus.findings.items()
            if edition.audience in f.audiences
            and (not edition.themes or corpus.finding_theme[fid] in edition.themes)
            and (not edition.findings or fid in edition.findings)
        ]
        if len(problems) == before and not chosen:  # else said more precisely above
            problems.append(
                at.problem(
                    f"edition '{slug}' selects no finding for audience '{edition.audience}': "
                    "none of its themes' findings has an entry for that audience",
                    at=("themes" if edition.themes else "findings",),
                )
            )
    return problems


# Chicago (CMOS 18, 13.32) shortens a title of more than four words in later notes.
SHORT_TITLE_WORDS = 4


def check_styles(project: Project, corpus: Corpus) -> list[Problem]:
    """Each audience's CSL file is usable (located in the file when not), and sources
    cited in a note style have a short title where the style needs one."""
    from .citations import find_style
    from .csl import load_style, style_problems

    problems: list[Problem] = []
    note_styles: dict[str, list[str]] = {}
    for audience_id, audience in corpus.audiences.items():
        try:
            path = find_style(audience.citation_style, project.template_dirs)
        except OutsideRoot:
            continue  # reported by cross_check, at the audience
        if path is None:
            continue  # reported by cross_check
        found = style_problems(path)
        if found:
            problems += [_relative_to(project, p) for p in found if p not in problems]
        elif load_style(path).note:
            note_styles.setdefault(audience.citation_style, []).append(audience_id)
    if not note_styles:
        return problems
    users = "; ".join(f"{name} ({', '.join(ids)})" for name, ids in note_styles.items())
    for source_id, source in corpus.sources.items():
        if source.title_short is None and len(source.title.split()) > SHORT_TITLE_WORDS:
            problems.append(
                corpus.where[("source", source_id)].problem(
                    f"title has more than {SHORT_TITLE_WORDS} words and no title-short: later "
                    f"notes repeat it in full in the note style {users}; add a title-short of "
                    f"up to {SHORT_TITLE_WORDS} key words",
                    at=("title",),
                    severity="warning",
                )
            )
    return problems


def _relative_to(project: Project, problem: Problem) -> Problem:
    try:
        path = Path(problem.path).resolve().relative_to(project.root).as_posix()
    except ValueError:
        return problem
    return Problem(path, problem.line, problem.column, problem.severity, problem.message)


def _check_locator(at, locator: str, key_path) -> list[Problem]:
    # The citation processor silently drops a label it does not know ("para 3" -> "3").
    label = locator.split()[0]
    if label in LOCATOR_LABELS:
        return []
    # Abbreviations ('para', 'sec', 'fig') are the usual slip, so a prefix match wins.
    longer = [name for name in LOCATOR_LABELS if name.startswith(label)]
    hint = (
        f" (did you mean '{longer[0]}'?)" if len(longer) == 1 else _suggest(label, LOCATOR_LABELS)
    )
    return [
        at.problem(
            f"{key_path[0]}[{key_path[1]}].locator: '{label}' is not a locator label{hint}; "
            "use one of: paragraph, section, page, chapter, figure, table, ...",
            at=key_path,
        )
    ]


def _check_numbers(corpus: Corpus, finding_id: str) -> list[Problem]:
    """Numbers in the prose must come from the evidence; figures from their own source."""
    finding = corpus.findings[finding_id]
    at = corpus.where[("finding", finding_id)]
    problems = []
    written = {field: numbers_in(getattr(finding, field)) for field in ("headline", "summary")}
    # What backs a number: the figures, a year the evidence is dated by (the date check
    # asks for exactly that), then the quotes, read only until every number is backed.
    backed = set().union(*(numbers_in(fig.value) for fig in finding.figures))
    for ev in finding.evidence:
        source = corpus.sources.get(ev.source)
        backed |= {date[:4] for date in (ev.as_of, source.issued if source else None) if date}
    unbacked = written["headline"] | written["summary"]
    for ev in finding.evidence:
        unbacked -= backed
        if not unbacked:
            break
        backed |= numbers_backed_by(ev.quote)
    for field, numbers in written.items():
        for number in sorted(numbers - backed):
            problems.append(
                at.problem(
                    f"{field}: the number {number} appears in none of this finding's quotes or "
                    "figures; cite the passage that gives it",
                    at=(field,),
                    severity="warning",
                )
            )
    for i, fig in enumerate(finding.figures):
        quotes = [normalise(ev.quote).lower() for ev in finding.evidence if ev.source == fig.source]
        if fig.chart is not None:
            problems += _check_chart(corpus, finding_id, i)
        wanted = numbers_in(fig.value)
        if wanted:
            missing = wanted - set().union(*(numbers_backed_by(q) for q in quotes))
        else:
            missing = (
                {fig.value} if not any(normalise(fig.value).lower() in q for q in quotes) else set()
            )
        if missing:
            problems.append(
                at.problem(
                    f"figures[{i}].value: '{fig.value}' is in no quote from '{fig.source}' in this "
                    "finding; add the evidence that gives it",
                    at=("figures", i, "value"),
                )
            )
    return problems


def _numbers_quoted(evidence: list[Evidence]) -> set[float]:
    # Compared as values: 17.30 in a passage backs 17.3, 64 000 backs 64000.
    quotes = [normalise(ev.quote).lower() for ev in evidence]
    return {float(n) for n in set().union(*(numbers_backed_by(q) for q in quotes))}


def _check_chart(corpus: Corpus, finding_id: str, i: int) -> list[Problem]:
    """A chart shows only what its sources say: each value must stand in a quote from the
    figure's source (an error otherwise, as for a key figure), and should stand in one at
    the figure's locator, the place the chart's source line cites (a warning). Quotes are
    checked against the archived source text by check_evidence, so each value is in the
    source itself."""
    finding = corpus.findings[finding_id]
    at = corpus.where[("finding", finding_id)]
    fig = finding.figures[i]
    assert fig.chart is not None
    problems: list[Problem] = []
    from_source = [ev for ev in finding.evidence if ev.source == fig.source]
    cited = [ev for ev in from_source if fig.locator in (None, ev.locator)]
    anywhere, here = _numbers_quoted(from_source), _numbers_quoted(cited)
    source = corpus.sources.get(fig.source)
    # A label may name the source's own year ("now" in a 2020 report is 2020).
    years = set().union(*(numbers_in(ev.quote) for ev in cited))
    years |= {d[:4] for d in [source.issued if source else None] if d}
    years |= {ev.as_of[:4] for ev in cited if ev.as_of}
    place = f"'{fig.source}'" + (f" at '{fig.locator}'" if fig.locator else "")
    seen: dict[str, int] = {}
    for j, point in enumerate(fig.chart.points):
        where = ("figures", i, "chart", "points", j)
        name = f"figures[{i}].chart.points[{j}]"
        if point.label in seen:
            problems.append(
                at.problem(
                    f"{name}.label: '{point.label}' is also the label of "
                    f"points[{seen[point.label]}]; give each point its own label",
                    at=(*where, "label"),
                )
            )
        seen.setdefault(point.label, j)
        # A fall the passage states as "fell by 3 percent" may be charted as -3.
        value = abs(point.value)
        if value not in anywhere:
            problems.append(
                at.problem(
                    f"{name}.value: {point.value:g} is in no quote from '{fig.source}' in this "
                    "finding; every value of a chart must stand in the cited passage: add the "
                    "evidence that gives it, with the passage's words",
                    at=(*where, "value"),
                )
            )
        elif value not in here:
            problems.append(
                at.problem(
                    f"{name}.value: {point.value:g} is quoted from '{fig.source}', but not at "
                    f"'{fig.locator}', the place the chart's source line cites; set the "
                    "figure's locator to the passage that gives the series",
                    at=(*where, "value"),
                    severity="warning",
                )
            )
        for number in sorted(numbers_in(point.label) - years):
            problems.append(
                at.problem(
                    f"{name}.label: {number} appears in no quote from {place} in this finding, "
                    "nor is it the source's date; a value paired with the wrong year misleads: "
                    "quote the passage that names it",
                    at=(*where, "label"),
                    severity="warning",
                )
            )
    return problems


def _check_dated(corpus: Corpus, finding_id: str) -> list[Problem]:
    """A finding whose evidence is all older than an audience's horizon must say its year."""
    finding = corpus.findings[finding_id]
    # Audiences often share a horizon: each distinct one is asked once.
    horizons = dict.fromkeys(
        corpus.audiences[a].current_within_years for a in finding.audiences if a in corpus.audiences
    )
    years = [
        y
        for y in (dated_year(finding, corpus.sources, corpus.publication, h) for h in horizons)
        if y
    ]
    if not years:
        return []
    year = max(years)
    if str(year) in f"{finding.headline} {finding.summary}":
        return []
    return [
        corpus.where[("finding", finding_id)].problem(
            f"finding '{finding_id}' rests on evidence from {year}, older than its audiences' "
            f"horizon (current_within_years); the brief shows it 'as of {year}': say the year "
            "in its headline or summary so the claim is not read as current",
            at=("summary",),
            severity="warning",
        )
    ]


def check_evidence(corpus: Corpus, sources_dir: Path) -> list[Problem]:
    """Every quote must stand in its source's snapshot, in the paragraph its locator names."""
    problems: list[Problem] = []
    if not sources_dir.is_dir():
        return [
            Problem(
                str(sources_dir),
                1,
                1,
                "error",
                "sources folder not found: set sources_dir in briefs.toml or pass "
                "--sources-dir with the folder of archived source texts",
            )
        ]
    snapshots: dict[str, Snapshot] = {}
    for source_id, source in corpus.sources.items():
        at = corpus.where[("source", source_id)]
        if not source.snapshot:
            problems.append(
                at.problem(
                    f"source '{source_id}' has no snapshot, so its quotes cannot be verified",
                    at=("id",),
                    severity="warning",
                )
            )
            continue
        # The name comes from sources.yaml: it must not reach outside the sources folder,
        # and a refusal names the path only, never what it points at.
        located: Located = at

        def where(message: str, located: Located = located) -> Problem:
            return located.problem(message, at=("snapshot",))

        path, outside = confinement_problem(
            sources_dir, source.snapshot, what="snapshot", where=where
        )
        if outside is not None or path is None:
            problems += [outside] if outside is not None else []
            continue
        if not path.exists():
            problems.append(
                at.problem(
                    f"snapshot '{source.snapshot}' not found in {sources_dir}", at=("snapshot",)
                )
            )
            continue
        if source.provenance and sha256_file(path) != source.provenance.sha256:
            # Quotes are still checked below: the file may have been fixed by hand on purpose.
            problems.append(
                at.problem(
                    f"snapshot '{source.snapshot}' in {sources_dir} no longer matches its "
                    f"provenance record (sha256 {source.provenance.sha256[:12]}...): it was "
                    "edited or replaced "
                    f"after archiving; restore the archived file, or run `briefs sources archive "
                    f"{source_id}` to archive the page again",
                    at=("provenance", "sha256"),
                )
            )
        text, errors = read_text(path, str(path), limit=MAX_SNAPSHOT_BYTES, what="source snapshots")
        if text is None:
            problems += errors
            continue
        loaded = Snapshot(
            source.snapshot,
            text,
            (source.body[0], source.body[1]) if source.body else None,
            {k: (v[0], v[1]) for k, v in source.sections.items()},
        )
        shape = _check_shape(loaded)
        problems += [at.problem(message, at=key) for key, message in shape]
        if not shape:
            snapshots[source_id] = loaded

    for finding_id, finding in corpus.findings.items():
        at = corpus.where[("finding", finding_id)]
        for i, ev in enumerate(finding.evidence):
            snapshot = snapshots.get(ev.source)
            if snapshot is None:
                continue
            found = _check_quote(at, i, ev, snapshot, corpus.sources[ev.source])
            problems += found
            if not found:
                problems += _check_stance(at, i, ev, finding, snapshot)
    return problems


def _check_shape(snapshot: Snapshot) -> list[tuple[tuple[str, ...], str]]:
    """The body and sections must be line ranges of the snapshot, sections in the body."""
    problems: list[tuple[tuple[str, ...], str]] = []
    count = len(snapshot.lines)
    first, last = snapshot.body_range
    if snapshot.body and not 1 <= first <= last <= count:
        problems.append(
            (
                ("body",),
                f"body: lines {first}-{last} are not a range of "
                f"{snapshot.name}, which has {count} lines",
            )
        )
    for name, (a, b) in snapshot.sections.items():
        if not first <= a <= b <= last:
            problems.append(
                (
                    ("sections", name),
                    f"sections.{name}: lines {a}-{b} are not "
                    f"within the body (lines {first}-{last})",
                )
            )
    return problems


def _check_quote(at, i: int, ev: Evidence, snapshot: Snapshot, source: Source) -> list[Problem]:
    """The quote must stand in the body, where its locator says."""
    where = ("evidence", i, "quote")
    found = snapshot.paragraphs_with(ev.quote)
    if not found:
        if snapshot.anywhere(ev.quote):
            first, last = snapshot.body_range
            return [
                at.problem(
                    f"evidence[{i}].quote: found in {snapshot.name} outside the source's body "
                    f"(lines {first}-{last}): page furniture, not the source's text; quote the "
                    "article itself, or correct the source's body",
                    at=where,
                )
            ]
        number, passage, ratio = snapshot.closest(ev.quote)
        hint = (
            f'; closest passage (paragraph {number}, {ratio:.0%} alike): "{passage}"'
            if ratio > 0.5
            else ""
        )
        return [at.problem(f"evidence[{i}].quote: not found in {snapshot.name}{hint}", at=where)]
    label, value = ev.locator_label, ev.locator_value
    where = ("evidence", i, "locator")
    if label == "paragraph":
        if not value.isdigit() or int(value) not in found:
            numbers = ", ".join(str(n) for n in found)
            return [
                at.problem(
                    f"evidence[{i}].locator: the quote is in paragraph {numbers} of the body of "
                    f"{snapshot.name} (paragraphs are counted from its first body line, a list "
                    f"belonging to the paragraph that introduces it), not '{value}'",
                    at=where,
                )
            ]
    elif label == "section":
        if value not in snapshot.sections:
            known = ", ".join(sorted(snapshot.sections)) or "none"
            return [
                at.problem(
                    f"evidence[{i}].locator: source '{source.id}' has no section '{value}' "
                    f"(its sections: {known}); add it to the source's sections with its line "
                    "range, or use 'paragraph N'",
                    at=where,
                )
            ]
        a, b = snapshot.sections[value]
        if not snapshot.in_lines(ev.quote, a, b):
            return [
                at.problem(
                    f"evidence[{i}].locator: the quote is not in section '{value}' (lines "
                    f"{a}-{b}) of {snapshot.name}",
                    at=where,
                )
            ]
    return []


def _clause(sentence: str, quote: str) -> str:
    """The part of a sentence between the semicolons around the quote."""
    needle = normalise(quote)
    at = sentence.find(needle)
    if at < 0:
        return sentence
    start = sentence.rfind(";", 0, at) + 1
    end = sentence.find(";", at + len(needle))
    return sentence[start:] if end < 0 else sentence[start:end]


# Any of the words a quote may be clipped of: most leads have none, and one search says
# so where three would.
_STANCE_WORD = re.compile(
    "|".join(f"(?:{p.pattern})" for p in (OPINION, HEDGE, REPORTED)), re.IGNORECASE
)


def _check_stance(at, i: int, ev: Evidence, finding: Finding, snapshot: Snapshot) -> list[Problem]:
    """The stance must not overstate what the sentence holding the quote does with it."""
    held = snapshot.sentence_with(ev.quote)
    if held is None:
        return []
    sentence, before = held
    shown = sentence if len(sentence) <= 240 else sentence[:239] + "…"
    problems = []
    lead = " ".join(before.split()[-CLIP_WINDOW:])
    # A reporting verb may be left out when the evidence names the speaker instead.
    clipped = _STANCE_WORD.search(lead) and (
        first_match(OPINION, lead)
        or first_match(HEDGE, lead)
        or (None if ev.speaker else first_match(REPORTED, lead))
    )
    if clipped and not first_match(OPINION, ev.quote) and not first_match(HEDGE, ev.quote):
        problems.append(
            at.problem(
                f"evidence[{i}].quote: clipped of '{clipped}', the word just before it that says "
                f'how the source holds the claim; start the quote with it. Sentence: "{shown}"',
                at=("evidence", i, "quote"),
                severity="warning",
            )
        )
    if ev.stance not in FACT_STANCES:
        return problems
    for pattern, kind, remedy in (
        (OPINION, "a view someone holds", "argues or contends"),
        (PLAN, "a plan or proposal", "plans or proposes"),
        (AGENDA, "an agenda or topic list", "lists"),
    ):
        word = snapshot.word_in(pattern, sentence)
        if word:
            problems.append(
                at.problem(
                    f"evidence[{i}].stance: '{ev.stance}' presents as established fact what the "
                    f"source gives as {kind} ('{word}'); use stance {remedy}, or quote a passage "
                    f'that states it. Sentence: "{shown}"',
                    at=("evidence", i, "stance"),
                    severity="warning",
                )
            )
            return problems
    word = snapshot.word_in(REPORTED, sentence)
    if word and not ev.speaker:
        problems.append(
            at.problem(
                f"evidence[{i}].speaker: the source reports this from someone else ('{word}'); "
                f'name them in speaker. Sentence: "{shown}"',
                at=("evidence", i, "stance"),
                severity="warning",
            )
        )
    # A hedge qualifies its own clause: in "traces X; explores Y; ... that could expand
    # Z", the 'could' says nothing about X. The headline is what readers take away (and
    # what executive summaries repeat), so the hedge must survive there.
    word = first_match(HEDGE, _clause(sentence, ev.quote))
    if word and not first_match(HEDGED_PROSE, finding.headline):
        problems.append(
            at.problem(
                f"evidence[{i}].stance: the source hedges ('{word}') but the finding's headline "
                f"states the claim as fact; keep the hedge in the headline. Sentence: "
                f'"{shown}"',
                at=("evidence", i, "stance"),
                severity="warning",
            )
        )
    return problems

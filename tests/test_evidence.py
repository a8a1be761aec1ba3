"""Evidence verification: quotes against snapshots, locators, numbers, coverage warnings.

Each test writes a tiny project and source text of its own, plants one fault, and checks
that `briefs check` finds exactly that fault, located, with the right severity.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from policy_briefs.evidence import Snapshot, normalise, numbers_in
from policy_briefs.project import Project
from policy_briefs.validate import check_project

SOURCE_TEXT = """\
Report on Shop-Floor Skills

A survey of about 1,000 firms found that only 7 percent saw “significant” increases in skill needs.

Plants that closed — some 64 000 in a decade — took their know-how with them.
"""

FINDING = """\
  - id: skills-needs
    headline: Few firms report sharply rising skill needs
    summary: Only 7 percent of about 1,000 surveyed firms saw significant increases.
    evidence:
      - source: survey
        locator: paragraph 2
        quote: "{quote}"
        stance: finds
    figures:
      - value: "7%"
        label: of firms saw significant increases in skill needs
        source: survey
    audiences:
      federal:
        implication: Training policy should target the firms that need it.
"""


def make_project(
    root: Path,
    *,
    quote: str,
    summary: str | None = None,
    extra_source: bool = False,
    audiences: str = "federal",
) -> Path:
    (root / "findings").mkdir(parents=True)
    (root / "sources").mkdir()
    (root / "sources" / "survey.txt").write_text(SOURCE_TEXT, encoding="utf-8")
    sources = textwrap.dedent("""\
        sources:
          - id: survey
            type: report
            title: Report on Shop-Floor Skills
            author: [{literal: Skills Institute}]
            issued: "2013"
            snapshot: survey.txt
        """)
    if extra_source:
        sources += (
            "  - id: unused\n"
            "    type: webpage\n"
            "    title: Never Cited\n"
            "    URL: https://example.org/unused\n"
        )
    (root / "findings" / "sources.yaml").write_text(sources, encoding="utf-8")
    finding = FINDING.format(quote=quote)
    if summary is not None:
        finding = finding.replace(
            "Only 7 percent of about 1,000 surveyed firms saw significant increases.", summary
        )
    (root / "findings" / "skills.yaml").write_text(
        "theme:\n  id: skills\n  title: Skills\nfindings:\n" + finding, encoding="utf-8"
    )
    (root / "findings" / "audiences.yaml").write_text(
        textwrap.dedent(f"""\
        audiences:
          - id: {audiences}
            title: Readers
            reader: People who read briefs.
            template: federal.html
        """),
        encoding="utf-8",
    )
    (root / "findings" / "publication.yaml").write_text(
        textwrap.dedent("""\
        publication:
          series: Test Series
          publisher: Test Publisher
          date: "2026-01-01"
        """),
        encoding="utf-8",
    )
    return root


def problems_for(root: Path, strict: bool = False):
    _corpus, problems = check_project(Project.at(root), sources_dir=root / "sources", strict=strict)
    return problems


GOOD_QUOTE = 'about 1,000 firms found that only 7 percent saw \\"significant\\" increases'


def test_clean_project_has_no_problems(tmp_path):
    assert problems_for(make_project(tmp_path, quote=GOOD_QUOTE)) == []


def test_quote_matches_across_curly_quotes_dashes_and_whitespace():
    snap = Snapshot("s.txt", SOURCE_TEXT)
    assert snap.paragraphs_with('only 7 percent saw "significant"   increases') == [2]
    assert snap.paragraphs_with("Plants that closed - some 64 000 in a decade") == [3]
    assert normalise("a\u2014b \u201cc\u201d") == 'a-b "c"'


def test_planted_altered_quote_is_an_error_naming_the_closest_passage(tmp_path):
    altered = 'about 1,000 firms found that only 17 percent saw \\"significant\\" increases'
    problems = problems_for(make_project(tmp_path, quote=altered))
    # The altered quote no longer backs the 7% figure either: that is the second error.
    errors = [p for p in problems if p.severity == "error" and "quote" in p.message[:20]]
    assert len(errors) == 1, problems
    error = errors[0]
    assert error.path == "findings/skills.yaml"
    assert (error.line, error.column) == (11, 16)  # the quote's value
    assert "evidence[0].quote: not found in survey.txt" in error.message
    assert "closest passage (paragraph 2" in error.message
    assert "only 7 percent saw" in error.message


def test_changed_punctuation_is_not_normalised_away(tmp_path):
    problems = problems_for(make_project(tmp_path, quote="A survey of about 1.000 firms"))
    errors = [p for p in problems if "evidence[0].quote" in p.message]
    assert len(errors) == 1 and "not found in survey.txt" in errors[0].message


def test_quote_in_another_paragraph_than_its_locator_is_an_error(tmp_path):
    root = make_project(tmp_path, quote=GOOD_QUOTE)
    path = root / "findings" / "skills.yaml"
    path.write_text(path.read_text().replace("paragraph 2", "paragraph 3"))
    problems = problems_for(root)
    assert [(p.severity, p.line) for p in problems] == [("error", 10)]
    assert "the quote is in paragraph 2 of the body of survey.txt" in problems[0].message
    assert "not '3'" in problems[0].message


def test_planted_wrong_number_is_a_warning_and_an_error_when_strict(tmp_path):
    summary = "Only 9 percent of about 1,000 surveyed firms saw significant increases."
    root = make_project(tmp_path, quote=GOOD_QUOTE, summary=summary)
    problems = problems_for(root)
    assert [(p.severity, p.line, p.column) for p in problems] == [("warning", 7, 14)]
    assert problems[0].message.startswith("summary: the number 9 appears in none")
    strict = problems_for(root, strict=True)
    assert all(p.severity == "error" for p in strict) and len(strict) == len(problems)


def test_figure_value_missing_from_its_quotes_is_flagged(tmp_path):
    root = make_project(tmp_path, quote=GOOD_QUOTE)
    path = root / "findings" / "skills.yaml"
    path.write_text(path.read_text().replace('value: "7%"', 'value: "70%"'))
    problems = problems_for(root)
    assert len(problems) == 1
    assert "figures[0].value: '70%' is in no quote from 'survey'" in problems[0].message


def test_uncited_source_and_unreceived_finding_are_warnings(tmp_path):
    root = make_project(tmp_path, quote=GOOD_QUOTE, extra_source=True)
    path = root / "findings" / "skills.yaml"
    path.write_text(
        path.read_text().replace(
            "    audiences:\n      federal:\n"
            "        implication: Training policy should target the firms that need it.\n",
            "",
        )
    )
    messages = {p.message: p.severity for p in problems_for(root)}
    assert messages["source 'unused' is cited by no finding"] == "warning"
    assert any("goes to no audience" in m and s == "warning" for m, s in messages.items())


def test_missing_snapshot_file_is_a_located_error(tmp_path):
    root = make_project(tmp_path, quote=GOOD_QUOTE)
    (root / "sources" / "survey.txt").unlink()
    problems = problems_for(root)
    assert [(p.severity, p.path, p.line) for p in problems] == [
        ("error", "findings/sources.yaml", 7)
    ]
    assert "snapshot 'survey.txt' not found" in problems[0].message


@pytest.mark.parametrize(
    "text, expected",
    [
        ("64 000 factories and 1,000 firms", {"64000", "1000"}),
        ("in the 2000s, 7 percent and 3.5 points", {"2000", "7", "3.5"}),
        ("no digits here", set()),
    ],
)
def test_numbers_in(text, expected):
    assert numbers_in(text) == expected


def test_number_words_in_a_quote_back_digits_in_figures_but_fractions_do_not():
    from policy_briefs.evidence import numbers_backed_by

    quote = "Twenty percent reported vacancies; about five percent; twenty-one members; one-third"
    assert numbers_backed_by(quote) == {"20", "5", "21"}

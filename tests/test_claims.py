"""Claims a brief can stand behind: stance, speaker and date on every piece of evidence,
the sentence around each quote read for hedges and reporting words, locators that mean
something on the source, verification at build time, and selection that never drops a
high-priority finding silently.

Each test plants one fault in a copy of the mini project and checks the located report.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_briefs.attribution import attribute
from policy_briefs.build import BuildOptions, build
from policy_briefs.errors import ValidationFailed
from policy_briefs.evidence import Snapshot
from policy_briefs.project import Project
from policy_briefs.selection import select
from policy_briefs.validate import load_valid_corpus
from support.edits import edit, problems

NETWORKS = "findings/networks.yaml"
STRATEGY = "findings/strategy.yaml"
SOURCES = "findings/sources.yaml"


def only(found: list[str], text: str) -> str:
    hits = [p for p in found if text in p]
    assert len(hits) == 1, found
    return hits[0]


# --- the model: every evidence entry states its stance ---------------------------------


def test_evidence_without_a_stance_is_a_located_error(mini_project):
    edit(mini_project, STRATEGY, "        stance: proposes\n", "")
    found = only(problems(mini_project), "stance")
    assert found.startswith("findings/strategy.yaml:")
    assert "required field 'stance' is missing" in found


def test_an_unknown_stance_names_the_choices(mini_project):
    edit(mini_project, STRATEGY, "stance: proposes", "stance: suggests")
    found = only(problems(mini_project), "stance")
    assert "'reports', 'finds', 'argues', 'contends', 'proposes', 'plans' or 'lists'" in found
    assert "not 'suggests'" in found


# --- the sentence around the quote ----------------------------------------------------


def test_a_fact_stance_on_an_opinion_is_reported_with_the_word_and_sentence(mini_project):
    edit(mini_project, NETWORKS, "stance: argues", "stance: finds")
    found = only(problems(mini_project), "evidence[0].stance")
    assert "warning: evidence[0].stance: 'finds' presents as established fact" in found
    assert "('argues')" in found
    assert 'Sentence: "The institute argues that' in found
    strict = only(problems(mini_project, strict=True), "evidence[0].stance")
    assert ": error: " in strict


def test_a_hedge_in_the_source_must_stay_in_the_finding(mini_project):
    snapshot = mini_project / "sources" / "alpha.txt"
    snapshot.write_text(
        snapshot.read_text("utf-8").replace(
            "Regional toolmakers reported that 42 percent",
            "Regional toolmakers reported signs that 42 percent",
        ),
        "utf-8",
    )
    found = only(problems(mini_project), "hedges")
    assert "the source hedges ('signs') but the finding's headline states the claim" in found
    # A hedge further down, in the summary, is not enough: headlines travel alone.
    edit(
        mini_project,
        NETWORKS,
        "Toolmakers said 42 percent of their orders arrive",
        "Toolmakers said there are signs that 42 percent of their orders may arrive",
    )
    assert [p for p in problems(mini_project) if "hedges" in p]
    edit(
        mini_project,
        NETWORKS,
        "headline: Many orders now come through",
        "headline: Many orders may now come through",
    )
    assert not [p for p in problems(mini_project) if "hedges" in p]


def test_a_quote_clipped_of_its_reporting_verb_is_reported(mini_project):
    edit(
        mini_project,
        NETWORKS,
        """quote: 'argues that "a shared industrial commons"\'""",
        """quote: '"a shared industrial commons"\'""",
    )
    found = only(problems(mini_project), "clipped")
    assert "evidence[0].quote: clipped of 'argues'" in found


def test_a_second_hand_report_must_name_its_speaker(mini_project):
    edit(mini_project, NETWORKS, "        speaker: regional toolmakers\n", "")
    found = only(problems(mini_project), "speaker")
    assert "reports this from someone else ('reported'); name them in speaker" in found


# --- dates -----------------------------------------------------------------------------


def test_dated_evidence_is_reported_and_shown_as_of_its_year(mini_project):
    edit(
        mini_project,
        "findings/audiences.yaml",
        "    template: federal.html\n",
        "    template: federal.html\n    current_within_years: 3\n",
    )
    found = problems(mini_project)
    dated = [p for p in found if "older than its audiences' horizon" in p]
    # alpha (2020) and beta (2021) are both over three years before the 2026 brief.
    assert len(dated) == 3, found
    assert "the brief shows it 'as of 2020'" in only(dated, "orders-through-networks")
    corpus, _ = load_valid_corpus(Project.at(mini_project))
    brief = select(corpus, "federal")
    assert brief.attributions["orders-through-networks"].as_of == 2020
    # Saying the year in the text answers the check.
    edit(
        mini_project, NETWORKS, "Toolmakers said 42 percent", "In 2020, toolmakers said 42 percent"
    )
    assert not [p for p in problems(mini_project) if "orders-through-networks' rests" in p]


def test_the_as_of_date_of_a_plan_wins_over_its_source_date(mini_project):
    edit(
        mini_project,
        STRATEGY,
        "        stance: proposes\n",
        '        stance: proposes\n        as_of: "2001"\n',
    )
    edit(
        mini_project,
        STRATEGY,
        "        stance: finds\n",
        '        stance: finds\n        as_of: "2001"\n',
    )
    edit(
        mini_project,
        "findings/audiences.yaml",
        "    template: federal.html\n",
        "    template: federal.html\n    current_within_years: 20\n",
    )
    found = only(problems(mini_project), "clusters-often-fail")
    assert "rests on evidence from 2001" in found


# --- locators a reader can follow ------------------------------------------------------


def test_paragraphs_count_from_the_body_and_lists_belong_to_their_paragraph():
    text = "Site menu\n\nTitle\n\nIntro:\n  • one;\n  • two.\n\nNext paragraph.\n\nShare This\n"
    snapshot = Snapshot("s.txt", text, (3, 9))
    assert [p.text for p in snapshot.paragraphs] == ["Title", "Intro: one; two.", "Next paragraph."]
    assert snapshot.paragraphs_with("two") == [2]
    assert snapshot.paragraphs_with("Share This") == [] and snapshot.anywhere("Share This")


def test_a_quote_from_page_furniture_is_refused(mini_project):
    edit(
        mini_project,
        NETWORKS,
        """quote: 'argues that "a shared industrial commons"\'""",
        '''quote: "Contact us"''',
    )
    found = only(problems(mini_project), "outside the source's body")
    assert "page furniture, not the source's text" in found


def test_section_locators_are_checked_against_named_sections(mini_project):
    edit(
        mini_project,
        SOURCES,
        "    snapshot: alpha.txt\n    body: [3, 5]\n",
        "    snapshot: alpha.txt\n    body: [3, 5]\n    sections: {survey: [3, 3]}\n",
    )
    edit(
        mini_project,
        NETWORKS,
        "        locator: paragraph 2\n",
        "        locator: section survey\n",
    )
    assert "is not in section 'survey' (lines 3-3)" in only(problems(mini_project), "section")
    edit(
        mini_project,
        NETWORKS,
        "        locator: section survey\n",
        "        locator: section findings\n",
    )
    found = only(problems(mini_project), "section")
    assert "source 'alpha-2020' has no section 'findings' (its sections: survey)" in found


def test_a_body_outside_the_snapshot_is_a_located_error(mini_project):
    edit(
        mini_project,
        SOURCES,
        "    snapshot: beta.txt\n    body: [3, 5]\n",
        "    snapshot: beta.txt\n    body: [3, 50]\n",
    )
    found = only(problems(mini_project), "body:")
    assert found.startswith("findings/sources.yaml:")
    assert "lines 3-50 are not a range of beta.txt, which has 5 lines" in found


# --- verification at build time, and what the colophon says --------------------------


def test_an_altered_quote_fails_the_build_and_writes_nothing(mini_project):
    edit(
        mini_project,
        NETWORKS,
        'quote: "42 percent of orders now arrive',
        'quote: "43 percent of orders now arrive',
    )
    with pytest.raises(ValidationFailed) as failed:
        build(Project.at(mini_project), BuildOptions(formats=("html",)))
    assert any(
        "evidence[0].quote: not found in alpha.txt" in p.message for p in failed.value.problems
    )
    assert not (mini_project / "output").exists()


def test_a_figure_its_quote_does_not_give_is_an_error(mini_project):
    edit(mini_project, NETWORKS, 'value: "42%"', 'value: "43%"')
    found = only(problems(mini_project), "figures[0].value")
    assert ": error: figures[0].value: '43%' is in no quote from 'alpha-2020'" in found


def test_the_colophon_says_exactly_what_was_verified(mini_project):
    build(Project.at(mini_project), BuildOptions(formats=("html",)))
    html = (mini_project / "output" / "federal.html").read_text("utf-8")
    assert "the 5 short quotations the findings record from them were found word for word" in html


def test_without_snapshots_the_brief_does_not_claim_verification(mini_project):
    (mini_project / "briefs.toml").unlink()
    report = build(Project.at(mini_project), BuildOptions(formats=("html",)))
    assert any("no sources folder is set" in w.message for w in report.warnings)
    html = (mini_project / "output" / "federal.html").read_text("utf-8")
    assert "were not checked against archived copies for this edition" in html
    assert "The build checked every cited passage" not in html


def test_require_verified_refuses_to_build_without_snapshots(mini_project, cli):
    (mini_project / "briefs.toml").write_text('sources_dir = "missing"\n', "utf-8")
    result = cli("build", "--project", mini_project, "--require-verified")
    assert result.exit_code == 1
    assert "briefs.toml:1:1: error: the sources folder" in result.stderr
    assert "does not exist, so quotes cannot be verified" in result.stderr
    assert not (mini_project / "output").exists()


def test_a_bad_settings_file_is_a_located_error(mini_project, cli):
    (mini_project / "briefs.toml").write_text('sources_dir = "sources"\nsource_dir = 3\n')
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1
    assert "briefs.toml:1:1: error: unknown setting 'source_dir'" in result.stderr
    (mini_project / "briefs.toml").write_text('sources_dir = "sources\n')
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1 and "briefs.toml:1:" in result.stderr
    assert "TOML syntax" in result.stderr and "Traceback" not in result.output


# --- selection ------------------------------------------------------------------------


def test_high_priority_findings_over_the_limit_fail_naming_them(mini_project):
    edit(
        mini_project,
        "findings/audiences.yaml",
        "    template: federal.html\n",
        "    template: federal.html\n    max_findings: 1\n",
    )
    edit(
        mini_project,
        NETWORKS,
        "      federal:\n        priority: medium",
        "      federal:\n        priority: high",
    )
    found = only(problems(mini_project), "max_findings")
    assert "2 findings are high priority for 'federal' but its brief holds 1" in found
    assert "orders-through-networks, commons-keeps-firms-competitive" in found


def test_selection_takes_turns_across_themes_and_shows_what_it_left_out(mini_project):
    edit(
        mini_project,
        "findings/audiences.yaml",
        "    template: federal.html\n",
        "    template: federal.html\n    max_findings: 2\n",
    )
    # All three federal findings at one priority: the limit keeps one from each theme.
    edit(
        mini_project,
        STRATEGY,
        "      federal:\n        priority: low",
        "      federal:\n        priority: medium",
    )
    edit(
        mini_project,
        NETWORKS,
        "      federal:\n        priority: high",
        "      federal:\n        priority: medium",
    )
    corpus, _ = load_valid_corpus(Project.at(mini_project))
    brief = select(corpus, "federal")
    assert [i.id for i in brief.items] == ["orders-through-networks", "clusters-often-fail"]
    assert [i.id for i in brief.left_out] == ["commons-keeps-firms-competitive"]


# --- attribution ------------------------------------------------------------------------


def test_attribution_names_speaker_source_and_year():
    corpus, _ = load_valid_corpus(Project.at(Path(__file__).parent / "projects" / "mini"))
    words = {
        fid: attribute(f, corpus.sources, corpus.publication, None).text
        for fid, f in corpus.findings.items()
    }
    assert words == {
        "orders-through-networks": "Reported by regional toolmakers, as cited by Alpha "
        "Institute (2020)",
        "commons-keeps-firms-competitive": "Argued by Alpha Institute (2020)",
        "clusters-often-fail": "Proposed by Beta (2021)",
    }


def test_every_design_prints_the_attribution_and_the_debate_states_both_sides(mini_build):
    federal = (mini_build.out / "federal.html").read_text("utf-8")
    sme = (mini_build.out / "sme.html").read_text("utf-8")
    assert '<span class="attribution">Argued by Alpha Institute (2020)</span>' in federal
    assert '<span class="attribution">Proposed by Beta (2021)</span>' in sme
    assert (
        "On one side, argued by Alpha Institute (2020): A shared industrial commons keeps "
        "small firms competitive. On the other, proposed by Beta (2021): Cluster "
        "programmes have often failed."
    ) in federal


def test_speakers_of_one_stance_share_a_phrase_and_later_phrases_continue_the_sentence():
    from policy_briefs.models import Finding, Source

    sources = {
        "a": Source(id="a", type="report", title="A", author=[{"family": "Ames"}], issued="2012"),
        "b": Source(id="b", type="report", title="B", author=[{"family": "Bell"}], issued="2013"),
    }

    def ev(source: str, stance: str, speaker: str | None = None) -> dict:
        return {
            "source": source,
            "locator": "paragraph 1",
            "quote": "q",
            "stance": stance,
            "speaker": speaker,
        }

    finding = Finding(
        id="f",
        headline="H",
        summary="S",
        evidence=[
            ev("a", "argues"),
            ev("b", "argues"),
            ev("a", "contends"),
            ev("b", "plans", "the board"),
        ],
    )
    words = attribute(finding, sources, None, None).text
    assert words == (
        "Argued by Ames (2012) and by Bell (2013); a plan set out by the board, "
        "as cited by Bell (2013)"
    )

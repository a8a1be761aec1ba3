"""Acronyms spelled out on first use in each brief; the terms a brief used, for its glossary."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from policy_briefs import glossary
from policy_briefs.models import GlossaryEntry
from policy_briefs.project import Project
from policy_briefs.selection import select
from policy_briefs.templating import citations_for, inline_markdown, jinja_environment, render_html
from policy_briefs.validate import load_valid_corpus
from support.mini import MINI

ENTRIES = [
    GlossaryEntry(
        term="MIT", expansion="Massachusetts Institute of Technology", definition="A university."
    ),
    GlossaryEntry(
        term="SMEs", expansion="small and medium-sized enterprises", definition="Smaller firms."
    ),
    GlossaryEntry(term="R&D", expansion="research and development", definition="Research."),
    GlossaryEntry(term="US", expansion="United States", definition="The country."),
    GlossaryEntry(
        term="supply chain", expansion="supply chain", definition="Suppliers.", acronym=False
    ),
    GlossaryEntry(
        term="industrial commons",
        expansion="industrial commons",
        definition="Shared know-how.",
        acronym=False,
    ),
]


def test_first_use_is_spelled_out_and_later_uses_are_not():
    terms = glossary.Glossary(ENTRIES)
    assert (
        terms.expand("MIT studied it. MIT agreed.")
        == "Massachusetts Institute of Technology (MIT) studied it. MIT agreed."
    )
    assert terms.expand("Later, MIT again.") == "Later, MIT again."


def test_each_acronym_once_in_document_order():
    terms = glossary.Glossary(ENTRIES)
    first = terms.expand("R&D in the US")
    second = terms.expand("More R&D and SMEs in the US")
    assert first == "research and development (R&D) in the United States (US)"
    assert second == "More R&D and small and medium-sized enterprises (SMEs) in the US"


def test_acronyms_match_whole_words_with_their_case():
    terms = glossary.Glossary(ENTRIES)
    assert terms.expand("Let us discuss USB and MITRE.") == "Let us discuss USB and MITRE."
    assert terms.introduced() == set()


def test_possessive_keeps_its_apostrophe_on_both_forms():
    terms = glossary.Glossary(ENTRIES)
    assert (
        terms.expand("MIT’s commission")
        == "Massachusetts Institute of Technology’s (MIT’s) commission"
    )
    assert terms.expand("MIT's report") == "MIT's report"


def test_singular_of_a_plural_acronym_is_the_same_term():
    terms = glossary.Glossary(ENTRIES)
    assert terms.expand("An SME brief") == "An small and medium-sized enterprise (SME) brief"
    assert terms.expand("Many SMEs and one SME") == "Many SMEs and one SME"


def test_author_spelled_it_out_already():
    terms = glossary.Glossary(ENTRIES)
    text = "the Massachusetts Institute of Technology (MIT) found"
    assert terms.expand(text) == text
    assert terms.expand("MIT later") == "MIT later"


def test_terms_used_are_recorded_case_insensitively_with_plurals():
    terms = glossary.Glossary(ENTRIES)
    terms.expand("Supply chains matter; the industrial commons too.")
    terms.expand("MIT says so.")
    assert [e.term for e in terms.used()] == ["industrial commons", "MIT", "supply chain"]


def test_terms_not_used_are_not_listed():
    terms = glossary.Glossary(ENTRIES)
    terms.expand("Nothing technical here.")
    assert terms.used() == []


def test_markdown_filter_expands_prose_but_not_code_or_link_targets():
    with glossary.rendering(glossary.Glossary(ENTRIES)):
        html = str(inline_markdown("See [MIT](https://example.org/MIT) and `US`, then US."))
    assert 'href="https://example.org/MIT"' in html
    assert ">Massachusetts Institute of Technology (MIT)</a>" in html
    assert "<code>US</code>" in html
    assert "then United States (US)." in html


def test_markdown_filter_outside_a_render_changes_nothing():
    assert glossary.active() is None
    assert str(inline_markdown("MIT and R&D")) == "MIT and R&amp;D"


def test_rendering_restores_the_previous_glossary():
    outer, inner = glossary.Glossary(ENTRIES), glossary.Glossary(ENTRIES)
    with glossary.rendering(outer):
        with glossary.rendering(inner):
            assert glossary.active() is inner
        assert glossary.active() is outer
    assert glossary.active() is None


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    """The mini project with "SMEs" in prose both briefs show."""
    root = Path(shutil.copytree(MINI, tmp_path_factory.mktemp("glossary") / "mini"))
    networks = root / "findings" / "networks.yaml"
    text = networks.read_text("utf-8")
    text = text.replace(
        "Support for networks reaches many small firms at once.",
        "Support for networks reaches many SMEs at once; SMEs gain.",
    )
    text = text.replace(
        "Joining a network can bring you orders.",
        "Joining a network can bring SMEs like yours orders.",
    )
    networks.write_text(text, "utf-8")
    project = Project.at(root)
    corpus, _ = load_valid_corpus(project)
    return project, corpus


def _render(mini, audience):
    project, corpus = mini
    brief = select(corpus, audience)
    return render_html(
        jinja_environment(project), brief, citations_for(brief, project), medium="screen"
    )


def _main_text(html: str) -> str:
    main = html[html.index("<main") : html.index("</main>")]
    return " ".join(re.sub(r"<[^>]+>", " ", main).split())


def test_each_brief_spells_out_on_its_own_first_use(mini):
    for audience in ("federal", "sme"):
        text = _main_text(_render(mini, audience))
        assert text.count("small and medium-sized enterprises (SMEs)") == 1, audience
    # Rendering again starts afresh: the same brief spells it out again.
    text = _main_text(_render(mini, "sme"))
    assert text.count("small and medium-sized enterprises (SMEs)") == 1


def test_sme_brief_lists_the_terms_it_used(mini):
    html = _render(mini, "sme")
    assert 'id="glossary-h"' in html
    glossary_html = html[html.index('id="glossary-h"') :]
    assert re.search(r'<p class="term-name"[^>]*>SMEs</p>', glossary_html)
    assert "Firms with fewer than a few hundred employees." in glossary_html


def test_sme_brief_without_terms_has_no_glossary(tmp_path, mini_project):
    (mini_project / "findings" / "glossary.yaml").write_text(
        "glossary:\n  - term: NASA\n    expansion: National Aeronautics and Space "
        "Administration\n    definition: A space agency.\n",
        "utf-8",
    )
    project = Project.at(mini_project)
    corpus, _ = load_valid_corpus(project)
    brief = select(corpus, "sme")
    html = render_html(
        jinja_environment(project), brief, citations_for(brief, project), medium="screen"
    )
    assert 'id="glossary-h"' not in html
    assert "NASA" not in html

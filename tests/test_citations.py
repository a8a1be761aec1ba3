"""Citations formatted by the CSL processor: notes, numbering, bibliography, links."""

from __future__ import annotations

import re

import pytest

from support.mini import MINI
from policy_briefs.citations import Citations, find_style
from policy_briefs.corpus import load_corpus
from policy_briefs.models import Source
from policy_briefs.project import Project

CHICAGO = "chicago-notes-bibliography"


@pytest.fixture(scope="module")
def sources() -> dict[str, Source]:
    corpus, problems = load_corpus(Project.at(MINI))
    assert not problems
    return corpus.sources


def citations(sources: dict[str, Source], style: str) -> Citations:
    path = find_style(style, Project.at(MINI).template_dirs)
    assert path is not None
    return Citations(sources, path)


def test_chicago_note_has_author_title_locator_and_live_links(sources):
    cit = citations(sources, CHICAGO)
    assert cit.cite("alpha-2020", "paragraph 2") == 1
    assert cit.cite("beta-2021", "paragraph 2") == 2
    report, article = (str(note.text) for note in cit.notes())
    assert report == (
        "Alpha Institute, <i>Notes on Regional Making</i> (Alpha Institute, 2020), para. 2, "
        '<a href="https://alpha.example.org/notes">https://alpha.example.org/notes</a>.'
    )
    # A person's full given name (the style says initialize="false"), no stray labels.
    assert article.startswith("Ann Beta, “Review of Cluster Policy”, <i>Policy Review</i>, "
                              "June 1, 2021, para. 2, ")
    assert '<a href="https://doi.org/10.1234/beta.2021">' in article
    assert "dition" not in article


def test_chicago_shortens_later_notes_to_the_same_source(sources):
    cit = citations(sources, CHICAGO)
    cit.cite("alpha-2020", "paragraph 2")
    cit.cite("alpha-2020", "paragraph 3")
    assert str(cit.notes()[1].text) == "Alpha Institute, <i>Notes on Regional Making</i>, para. 3."


def test_apa_works_too(sources):
    cit = citations(sources, "apa")
    cit.cite("beta-2021", "paragraph 2")
    cit.cite("alpha-2020", "section 4")
    notes = [str(n.text) for n in cit.notes()]
    assert notes == ["(Beta, 2021, para. 2)", "(Alpha Institute, 2020, Section 4)"]
    entries = dict(cit.bibliography())
    assert entries["beta-2021"] == (
        "Beta, A. (2021, June 1). Review of Cluster Policy. <i>Policy Review</i>. "
        '<a href="https://doi.org/10.1234/beta.2021">https://doi.org/10.1234/beta.2021</a>'
    )


def test_note_numbers_by_first_use_and_same_passage_reuses_its_number(sources):
    cit = citations(sources, CHICAGO)
    numbers = [
        cit.cite("beta-2021", "paragraph 3"),
        cit.cite("alpha-2020", "paragraph 2"),
        cit.cite("beta-2021", "paragraph 3"),  # same passage again: same note
        cit.cite("beta-2021", "paragraph 2"),  # same source, other passage: new note
    ]
    assert numbers == [1, 2, 1, 3]
    notes = cit.notes()
    assert [(n.number, n.source_id, n.locator) for n in notes] == [
        (1, "beta-2021", "paragraph 3"),
        (2, "alpha-2020", "paragraph 2"),
        (3, "beta-2021", "paragraph 2"),
    ]
    assert cit.cited_sources == ["beta-2021", "alpha-2020"]


@pytest.mark.parametrize("style", [CHICAGO, "apa"])
def test_bibliography_entries_carry_no_locator(sources, style):
    cit = citations(sources, style)
    cit.cite("beta-2021", "paragraph 3")
    cit.cite("alpha-2020", "paragraph 2")
    entries = cit.bibliography()
    # Sorted by author, as both styles ask, not by first use.
    assert [source for source, _ in entries] == ["alpha-2020", "beta-2021"]
    for _source, entry in entries:
        assert "para" not in str(entry)
        assert "<a href=" in str(entry)


def test_field_values_are_escaped():
    source = Source.model_validate({
        "id": "odd", "type": "report", "title": "R&D <script>alert(1)</script>",
        "author": [{"literal": "Smith & Sons <b>Ltd</b>"}], "issued": "2020",
        "URL": "https://example.org/a?b=1&c=2",
    })
    cit = citations({"odd": source}, CHICAGO)
    cit.cite("odd", "page 4")
    note = str(cit.notes()[0].text)
    entry = str(cit.bibliography()[0][1])
    for text in (note, entry):
        assert "<script>" not in text and "<b>" not in text
        assert "R&amp;D &lt;script&gt;" in text
        assert '<a href="https://example.org/a?b=1&amp;c=2">' in text


def test_find_style_prefers_a_project_csl_file(tmp_path):
    styles = tmp_path / "templates" / "styles"
    styles.mkdir(parents=True)
    house = styles / "house.csl"
    house.write_text(find_style("apa", []).read_text("utf-8"), "utf-8")
    dirs = Project.at(tmp_path).template_dirs
    assert find_style("house", dirs) == house
    assert find_style("house.csl", dirs) == house
    assert find_style("apa", dirs).name == "apa.csl"
    assert find_style("no-such-style", dirs) is None


def test_unknown_citation_style_is_a_located_error(cli, mini_project):
    path = mini_project / "findings" / "audiences.yaml"
    text = path.read_text("utf-8")
    path.write_text(text.replace("citation_style: apa", "citation_style: apa-7th"), "utf-8")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "citation_style: apa" in t)
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1
    assert (f"findings/audiences.yaml:{line}:21: error: citation style 'apa-7th' not found"
            in result.stderr)


@pytest.fixture(scope="module")
def federal_html(tmp_path_factory) -> str:
    from typer.testing import CliRunner

    from policy_briefs.cli import app

    out = tmp_path_factory.mktemp("html")
    result = CliRunner().invoke(app, ["build", "federal", "--format", "html", "--out", str(out),
                                      "--project", str(MINI)])
    assert result.exit_code == 0, result.output
    return (out / "federal.html").read_text("utf-8")


def test_rendered_note_markers_link_to_their_notes_in_first_use_order(federal_html):
    refs = [int(n) for n in re.findall(r'<a class="note-ref" href="#note-(\d+)"', federal_html)]
    assert refs, "no note markers"
    first_uses = list(dict.fromkeys(refs))
    assert first_uses == list(range(1, len(first_uses) + 1))
    assert len(refs) > len(first_uses), "the disagreements section reuses the findings' notes"
    notes = [int(n) for n in re.findall(r'<li id="note-(\d+)"', federal_html)]
    assert notes == first_uses
    assert "para. 2" in federal_html and "Ann Beta" in federal_html


def test_locator_white_space_does_not_matter(sources):
    cit = citations(sources, CHICAGO)
    cit.cite("alpha-2020", "paragraph\t2")
    cit.cite("beta-2021", "page  4-5")
    report, article = (str(note.text) for note in cit.notes())
    assert ", para. 2, " in report
    assert ", 2021, 4–5, " in article

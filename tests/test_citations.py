"""Citations: the reference processor's output, note handling by style class, locale
formatting, style files and processor failures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from policy_briefs import csl
from policy_briefs.citations import Citations, find_style
from policy_briefs.corpus import load_corpus
from policy_briefs.errors import BriefsError, ValidationFailed
from policy_briefs.localization import format_numbers, long_date
from policy_briefs.models import Evidence, Source
from policy_briefs.project import Project
from support.mini import MINI
from support.reference_citations import (
    GOLDEN,
    GOLDEN_BRIEFS,
    parse_golden,
    reference_parts,
    render,
    rendered_parts,
)

CHICAGO = "chicago-notes-bibliography"
ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def sources() -> dict[str, Source]:
    corpus, problems = load_corpus(Project.at(MINI))
    assert not problems
    return corpus.sources


def citations(sources: dict[str, Source], style: str) -> Citations:
    path = find_style(style, Project.at(MINI).template_dirs)
    assert path is not None
    return Citations(sources, csl.load_style(path), language="en-US")


def ev(source: str, locator: str | None = None) -> Evidence:
    return Evidence.model_construct(source=source, locator=locator, quote="q")


# --- identical to the reference processor ----------------------------------------------


@pytest.mark.parametrize("audience", GOLDEN_BRIEFS)
def test_fixture_notes_and_bibliography_equal_the_golden_reference(audience):
    style = GOLDEN_BRIEFS[audience]
    version, expected = parse_golden(GOLDEN / f"mini-{audience}-{style}.txt")
    _exe, running = csl.pandoc()
    assert running == version, (
        f"the golden files were made with pandoc {version}; regenerate with `make golden-citations`"
    )
    page, _citations, _brief = render(MINI, audience)
    assert rendered_parts(page) == expected


@pytest.mark.parametrize("audience", ["federal", "regional", "sme"])
def test_shipped_briefs_equal_pandoc_on_the_same_points(audience):
    # The shipped briefs, checked live against pandoc's markdown path (no golden to go
    # stale when analysts edit findings).
    page, citations, brief = render(ROOT, audience)
    mine = rendered_parts(page)
    assert mine == reference_parts(citations, brief)
    if citations.note_style:
        assert len(mine["notes"]) == len(citations.points) > 5
    else:
        assert len(mine["citations"]) == len(citations.points) > 5
    assert len(mine["bibliography"]) == len(brief.sources)


# --- notes by the style's class ----------------------------------------------------------


@pytest.mark.parametrize("audience", ["federal", "regional"])
def test_note_markers_run_one_to_n_in_reading_order_never_reused(audience):
    page, citations, _brief = render(ROOT, audience)
    markers = [int(n) for n in re.findall(r'id="note-ref-(\d+)"', page)]
    assert markers == list(range(1, len(citations.points) + 1))
    links = [int(n) for n in re.findall(r'href="#note-(\d+)"', page)]
    assert links == markers
    notes = [int(n) for n in re.findall(r'<li id="note-(\d+)">', page)]
    assert notes == markers
    assert '<span class="citation">' not in page


def test_in_text_style_cites_in_the_text_with_a_reference_list_and_no_notes():
    page, citations, _brief = render(ROOT, "sme")
    assert not citations.note_style
    body = page[page.index("<body") :]
    assert 'role="doc-endnotes"' not in body and 'class="note-ref' not in body
    assert '<h2 id="sources-h">References</h2>' in page
    cites = re.findall(r'<span class="citation">(.*?)</span>', page)
    assert len(cites) == len(citations.points)
    assert all(re.search(r"\d{4}", c) for c in cites)


def test_sources_cited_at_one_point_share_one_note(sources):
    cit = citations(sources, CHICAGO)
    point = cit.cite([ev("alpha-2020", "paragraph 2"), ev("beta-2021", "paragraph 3")])
    assert point.note and point.number == 1
    [note] = cit.notes()
    assert str(note.text).startswith("Alpha Institute, <i>Notes on Regional Making</i>")
    assert "; Ann Beta, “Review of Cluster Policy,” <i>Policy Review</i>" in str(note.text)


def test_passages_of_one_source_at_one_point_are_one_locator(sources):
    cit = citations(sources, CHICAGO)
    cit.cite(
        [
            ev("alpha-2020", "paragraph 12"),
            ev("alpha-2020", "paragraph 3"),
            ev("alpha-2020", "paragraph 3"),
        ]
    )
    assert ", paras. 3, 12, " in str(cit.notes()[0].text)


def test_later_notes_take_the_short_form_not_ibid(sources):
    cit = citations(sources, CHICAGO)
    for locator in ("paragraph 2", "paragraph 2", "paragraph 3"):
        cit.cite(ev("alpha-2020", locator))
    first, again, other = (str(n.text) for n in cit.notes())
    assert first.startswith("Alpha Institute, <i>Notes on Regional Making</i> (Alpha Institute")
    # Chicago 18 notes-bibliography asks for short notes, not "ibid."
    assert again == "Alpha Institute, <i>Notes on Regional Making</i>, para. 2."
    assert other == "Alpha Institute, <i>Notes on Regional Making</i>, para. 3."


def test_later_notes_use_the_short_title(sources):
    long = sources["alpha-2020"].model_copy(
        update={
            "title": "Notes on Regional Making in Five Old Industrial Towns",
            "title_short": "Regional Making",
        }
    )
    cit = citations({"alpha-2020": long}, CHICAGO)
    cit.cite(ev("alpha-2020", "paragraph 2"))
    cit.cite(ev("alpha-2020", "paragraph 4"))
    assert str(cit.notes()[1].text) == "Alpha Institute, <i>Regional Making</i>, para. 4."


def test_print_and_screen_share_one_formatting(tmp_path):
    from policy_briefs.selection import select
    from policy_briefs.templating import citations_for, jinja_environment, render_html
    from policy_briefs.validate import load_valid_corpus

    project = Project.at(MINI)
    corpus, _ = load_valid_corpus(project)
    brief = select(corpus, "federal")
    cit = citations_for(brief, project)
    env = jinja_environment(project)
    screen = render_html(env, brief, cit, medium="screen")
    printed = render_html(env, brief, cit, medium="print")
    assert cit.processor_runs == 1
    notes = re.findall(r'<li id="note-\d+">.*?</li>', screen)
    assert notes and notes == re.findall(r'<li id="note-\d+">.*?</li>', printed)


def test_a_citation_after_the_notes_is_a_located_template_error(mini_project, cli):
    templates = mini_project / "templates"
    templates.mkdir()
    (templates / "federal.html").write_text(
        '{% extends "default:federal.html" %}\n{% block extra %}\n'
        "{% set n = citations.notes() %}{{ m.cite(brief.items[0].finding.evidence) }}\n"
        "{% endblock %}\n",
        "utf-8",
    )
    result = cli("build", "federal", "--format", "html", "--project", mini_project)
    assert result.exit_code == 1
    assert (
        "templates/_macros.html:7:1: error: template: a citation after the notes" in result.stderr
    )


def test_bibliography_entries_carry_no_locator(sources):
    for style in (CHICAGO, "apa"):
        cit = citations(sources, style)
        cit.cite(ev("beta-2021", "paragraph 3"))
        cit.cite(ev("alpha-2020", "paragraph 2"))
        entries = cit.bibliography()
        assert [source for source, _ in entries] == ["alpha-2020", "beta-2021"]
        for _source, entry in entries:
            assert "para" not in str(entry) and "<a href=" in str(entry)


def test_field_values_are_escaped():
    source = Source.model_validate(
        {
            "id": "odd",
            "type": "report",
            "title": "R&D <script>alert(1)</script>",
            "author": [{"literal": "Smith & Sons <b>Ltd</b>"}],
            "issued": "2020",
            "URL": "https://example.org/a?b=1&c=2",
        }
    )
    cit = citations({"odd": source}, CHICAGO)
    cit.cite(ev("odd", "page 4"))
    note = str(cit.notes()[0].text)
    entry = str(cit.bibliography()[0][1])
    for text in (note, entry):
        assert "<script>" not in text.lower() and "<b>" not in text
        assert "R&amp;D &lt;" in text
        assert '<a href="https://example.org/a?b=1&amp;c=2">' in text


def test_cite_as_is_the_brief_in_its_own_style():
    chicago, _, _ = render(MINI, "federal")
    apa, _, _ = render(MINI, "sme")
    assert (
        "Cite as:</strong> Test Publisher. <i>Test Briefs: Federal Policymakers</i>. Policy "
        "brief. Version 1.0. Test Publisher, 2026." in chicago
    )
    assert (
        "Cite as:</strong> Test Publisher. (2026). <i>Test Briefs: Small and medium "
        "manufacturers</i> (Version 1.0) [Policy brief]. Test Publisher." in apa
    )


# --- locale: one date style, digit grouping, URL breaks ------------------------------------


def test_dates_share_the_csl_locale_style(sources):
    assert long_date("2026-11-22") == "November 22, 2026"
    assert long_date("2026-11-22", "en-GB") == "22 November 2026"
    assert long_date("2026-11", "en-US") == "November 2026"
    # The notes write a full date as the cover does.
    assert long_date("2021-06-01", "en-US") in str(
        (c := citations(sources, CHICAGO), c.cite(ev("beta-2021")), c.notes())[2][0].text
    )
    page, _, _ = render(ROOT, "federal")
    assert re.search(r'<time [^>]*datetime="2026-11-22"[^>]*>November 22, 2026</time>', page)


def test_numbers_are_grouped_the_locale_way():
    assert (
        format_numbers("64 000 factories and 1,000 firms", "en-US")
        == "64,000 factories and 1,000 firms"
    )
    assert format_numbers("1,000 firms", "fr-FR") == "1\u202f000 firms"
    for untouched in ("in 2010, 2012 and 2020", "1,000.5 tonnes", "7%", "call 555 1234 5"):
        assert format_numbers(untouched, "en-US") == untouched
    page, _, _ = render(ROOT, "federal")
    assert "64,000" in page and "64 000" not in page


def test_urls_break_before_slashes_and_hyphens():
    url = str(csl.breakable_url("https://example.org/a-b/c"))
    z, j = "\u200b", "\u2060"  # a break opportunity; no break (after / and -)
    assert url == f"https://{z}example{z}.org{z}/{j}a{z}-{j}b{z}/{j}c"


def test_notes_are_set_at_least_8_5pt():
    css = (ROOT / "templates" / "brief.css").read_text("utf-8")
    size = re.search(r"\.notes li, \.sources li \{[^}]*font-size: ([\d.]+)pt", css)
    assert size and float(size.group(1)) >= 8.5


# --- style files and the processor --------------------------------------------------------


def test_find_style_prefers_a_project_csl_file(tmp_path):
    styles = tmp_path / "templates" / "styles"
    styles.mkdir(parents=True)
    house = styles / "house.csl"
    house.write_text(find_style("apa", Project.at(MINI).template_dirs).read_text("utf-8"))
    dirs = Project.at(tmp_path).template_dirs
    assert find_style("house", dirs) == house
    assert find_style("house.csl", dirs) == house
    assert find_style("apa", dirs).name == "apa.csl"
    assert find_style("no-such-style", dirs) is None
    assert find_style("../styles/apa", dirs) is None


def test_unknown_citation_style_is_a_located_error(cli, mini_project):
    path = mini_project / "findings" / "audiences.yaml"
    text = path.read_text("utf-8")
    path.write_text(text.replace("citation_style: apa", "citation_style: apa-7th"), "utf-8")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "citation_style: apa" in t)
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1
    assert (
        f"findings/audiences.yaml:{line}:21: error: citation style 'apa-7th' not found"
        in result.stderr
    )


@pytest.mark.parametrize(
    "content, message",
    [
        (
            '<?xml version="1.0"?>\n<style xmlns="http://purl.org/net/xbiblio/csl" class="note">\n'
            "  <citation><layout></citation>\n</style>\n",
            "templates/styles/house.csl:3:32: error: CSL style is not well-formed XML: "
            "Opening and ending tag mismatch",
        ),
        (
            '<?xml version="1.0"?>\n<!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
            '<style xmlns="http://purl.org/net/xbiblio/csl" class="note" version="1.0">\n'
            '<info><link rel="independent-parent" href="http://www.zotero.org/styles/apa"/></info>\n'
            "</style>\n",
            "templates/styles/house.csl:4:1: error: a dependent style",
        ),
        (
            '<style xmlns="http://purl.org/net/xbiblio/csl" class="numeric"><citation/></style>\n',
            'templates/styles/house.csl:1:1: error: <style class="numeric">',
        ),
    ],
)
def test_a_broken_style_file_is_a_located_problem(cli, mini_project, content, message):
    styles = mini_project / "templates" / "styles"
    styles.mkdir(parents=True)
    (styles / "house.csl").write_text(content, "utf-8")
    path = mini_project / "findings" / "audiences.yaml"
    path.write_text(
        path.read_text("utf-8").replace("citation_style: apa", "citation_style: house"), "utf-8"
    )
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_long_title_without_a_short_form_is_a_warning_for_note_styles(cli, mini_project):
    path = mini_project / "findings" / "sources.yaml"
    path.write_text(
        path.read_text("utf-8").replace(
            "title: Notes on Regional Making", "title: Notes on Regional Making in Old Towns"
        )
    )
    result = cli("check", "--project", mini_project)
    assert "warning: title has more than 4 words and no title-short" in result.stderr
    assert "chicago-notes-bibliography (federal)" in result.stderr


def _fake_pandoc(monkeypatch, tmp_path, script: str):
    exe = tmp_path / "pandoc"
    exe.write_text("#!/bin/sh\n" + script + "\n")
    exe.chmod(0o755)
    monkeypatch.setattr(csl, "pandoc", lambda: (exe, "3.9"))


def test_a_failing_processor_is_a_plain_error(monkeypatch, tmp_path, sources):
    _fake_pandoc(monkeypatch, tmp_path, "echo 'Could not parse CSL' >&2; exit 83")
    cit = citations(sources, CHICAGO)
    cit.cite(ev("alpha-2020"))
    with pytest.raises(BriefsError, match="pandoc.*failed.*Could not parse CSL"):
        cit.notes()


def test_a_hanging_processor_is_stopped(monkeypatch, tmp_path, sources):
    _fake_pandoc(monkeypatch, tmp_path, "sleep 30")
    monkeypatch.setattr(csl, "TIMEOUT", 1)
    cit = citations(sources, CHICAGO)
    cit.cite(ev("alpha-2020"))
    with pytest.raises(BriefsError, match="no answer within 1 s"):
        cit.notes()


def test_the_processor_version_is_checked(monkeypatch, tmp_path):
    exe = tmp_path / "pandoc"
    exe.write_text("#!/bin/sh\necho 'pandoc 2.19.2'\n")
    exe.chmod(0o755)
    monkeypatch.setattr(csl, "_bundled_pandoc", lambda: exe)
    csl.pandoc.cache_clear()
    try:
        with pytest.raises(BriefsError, match="pandoc 2.19.2 is too old"):
            csl.pandoc()
    finally:
        csl.pandoc.cache_clear()


def test_style_problems_are_validation_failures(tmp_path):
    bad = tmp_path / "bad.csl"
    bad.write_text("<style", "utf-8")
    with pytest.raises(ValidationFailed):
        csl.load_style(bad)
    assert csl.style_problems(bad)[0].path == str(bad)

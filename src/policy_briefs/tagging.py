"""Finish WeasyPrint's tagged PDF for PDF/UA: page furniture as artifacts, links for people.

WeasyPrint (70) leaves three things a PDF/UA checker rejects, all below its API:

- The running header and footer (CSS margin boxes) are marked content with MCIDs whose
  structure elements hang off no tree (WeasyPrint issue #1836: PDF 1.7 has no artifact
  structure element). They become ``/Artifact`` marked content of type ``/Pagination``,
  and their entries leave the parent tree, so the orphaned elements are dropped on save.
- Link annotations carry no Print flag, so print and screen differ.
- A link's ``/Contents`` (its description for assistive technology) is the link's target,
  an element id such as ``note-3``. It becomes the link's words: its ``aria-label`` if it
  has one, else its text, as the HTML twin's accessible name.
- An inline SVG becomes a ``/Figure`` whose ``/Alt`` is its ``<title>`` alone. A chart's
  title names it but does not say what it shows; its Alt becomes the title and the
  ``<desc>`` together (the summary of the series), as a screen reader reads the twin.

Imported only when a PDF is rendered (with pdf.py).
"""

from __future__ import annotations

import io
from collections import defaultdict, deque
from collections.abc import Iterable

import pikepdf

PRINT_FLAG = 4  # annotation flag bit 3: print the annotation


def link_descriptions(pages: Iterable) -> dict[tuple[int, str], deque[str]]:
    """Each page's link words, by (page index, target), in the order WeasyPrint draws them.

    ``pages`` are WeasyPrint's laid-out pages; each link is (type, target, rect, box). A
    link set on two lines is two boxes, and so two annotations, of the one element.
    """
    found: dict[tuple[int, str], deque[str]] = defaultdict(deque)
    for index, page in enumerate(pages):
        for link_type, target, _rect, box in page.links:
            if link_type not in ("internal", "external") or box.element is None:
                continue
            element = box.element
            words = element.get("aria-label") or "".join(element.itertext())
            found[(index, str(target))].append(" ".join(words.split()))
    return found


SVG = "{http://www.w3.org/2000/svg}"


def figure_descriptions(pages: Iterable) -> dict[str, deque[str]]:
    """Each inline SVG's full description (title, then desc), by its title, in page order.

    ``pages`` are WeasyPrint's laid-out pages. WeasyPrint sets a Figure's Alt to the
    SVG's title; the title names the queue its full description is taken from.
    """
    found: dict[str, deque[str]] = defaultdict(deque)
    done: set[int] = set()
    for page in pages:
        for box in page._page_box.descendants():
            element = box.element
            if element is None or element.tag != f"{SVG}svg" or id(element) in done:
                continue
            done.add(id(element))
            title, desc = element.find(f"{SVG}title"), element.find(f"{SVG}desc")
            if title is None or not title.text or desc is None or not desc.text:
                continue
            name = " ".join(title.text.split())
            text = name.rstrip(".") + ". " + " ".join(desc.text.split())
            found[title.text].append(text)
    return found


def _describe_figures(pdf: pikepdf.Pdf, descriptions: dict[str, deque[str]]) -> None:
    stack: list = [pdf.Root.StructTreeRoot.K]
    seen: set[tuple[int, int]] = set()
    while stack:
        node = stack.pop()
        if isinstance(node, pikepdf.Array):
            stack.extend(reversed(list(node)))  # document order: the queues are in it
            continue
        if not isinstance(node, pikepdf.Dictionary) or node.get("/Type") == pikepdf.Name.OBJR:
            continue
        if node.is_indirect:
            if node.objgen in seen:
                continue
            seen.add(node.objgen)
        if node.get("/S") == pikepdf.Name.Figure and "/Alt" in node:
            queue = descriptions.get(str(node.Alt))
            if queue:
                node.Alt = pikepdf.String(queue.popleft())
        kids = node.get("/K")
        if kids is not None:
            stack.append(kids)


def _reachable(root: pikepdf.Object) -> set[tuple[int, int]]:
    """Indirect objects of the structure tree that the root leads to."""
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, pikepdf.Array):
            stack.extend(node)
            continue
        if not isinstance(node, pikepdf.Dictionary):
            continue
        if node.is_indirect:
            if node.objgen in seen:
                continue
            seen.add(node.objgen)
        if node.get("/Type") == pikepdf.Name.OBJR:
            continue  # an annotation: not part of the tree's own elements
        kids = node.get("/K")
        if kids is not None:
            stack.append(kids)
    return seen


def _furniture_to_artifacts(pdf: pikepdf.Pdf) -> None:
    tree = pdf.Root.StructTreeRoot
    reachable = _reachable(tree.K)
    nums = tree.ParentTree.Nums
    for i in range(0, len(nums), 2):
        key, value = int(nums[i]), nums[i + 1]
        if key >= len(pdf.pages) or not isinstance(value, pikepdf.Array):
            continue  # annotations' entries (numbered after the pages) stay
        orphans = set()
        for mcid, element in enumerate(value):
            if isinstance(element, pikepdf.Dictionary) and element.objgen not in reachable:
                orphans.add(mcid)
                value[mcid] = pikepdf.Object.parse(b"null")
        if orphans:
            _mark_artifacts(pdf, pdf.pages[key], orphans)


def _mark_artifacts(pdf: pikepdf.Pdf, page: pikepdf.Page, mcids: set[int]) -> None:
    artifact = [pikepdf.Name.Artifact, pikepdf.Dictionary(Type=pikepdf.Name.Pagination)]
    instructions: list = []
    for instruction in pikepdf.parse_content_stream(page):
        if isinstance(instruction, pikepdf.ContentStreamInstruction):
            operands = instruction.operands
            if (
                str(instruction.operator) == "BDC"
                and len(operands) == 2
                and isinstance(operands[1], pikepdf.Dictionary)
                and int(operands[1].get("/MCID", -1)) in mcids
            ):
                instruction = pikepdf.ContentStreamInstruction(artifact, instruction.operator)
        instructions.append(instruction)
    page.Contents = pdf.make_stream(pikepdf.unparse_content_stream(instructions))


def _describe_links(pdf: pikepdf.Pdf, words: dict[tuple[int, str], deque[str]]) -> None:
    for index, page in enumerate(pdf.pages):
        for annotation in page.obj.get("/Annots", []):
            if annotation.get("/Subtype") != pikepdf.Name.Link:
                continue
            annotation.F = PRINT_FLAG
            # WeasyPrint sets /Contents to the target; the target names the queue.
            queue = words.get((index, str(annotation.get("/Contents", ""))))
            if queue:
                annotation.Contents = pikepdf.String(queue.popleft())


def finish(
    data: bytes,
    words: dict[tuple[int, str], deque[str]],
    figures: dict[str, deque[str]] | None = None,
) -> bytes:
    """The PDF with its furniture as artifacts, its links flagged and described, and its
    charts described (``figures``, from figure_descriptions).

    Reproducible: the same bytes in give the same bytes out. The first /ID element
    (WeasyPrint's, seeded from the inputs) is kept; the second is a digest of the content.
    """
    with pikepdf.open(io.BytesIO(data)) as pdf:
        _furniture_to_artifacts(pdf)
        _describe_links(pdf, words)
        _describe_figures(pdf, figures or {})
        out = io.BytesIO()
        pdf.save(
            out,
            deterministic_id=True,  # not qpdf's default: a second /ID drawn from the clock
            compress_streams=True,
            object_stream_mode=pikepdf.ObjectStreamMode.generate,
        )
    return out.getvalue()

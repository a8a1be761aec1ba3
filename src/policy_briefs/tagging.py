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
- Endnotes are list items like any other. PDF/UA-1 (7.9) wants each tagged ``/Note`` with
  a unique ``/ID``: each item of the notes list keeps its place in the list and gets a
  Note, holding the number and the text, in its body (``LI > LBody > Note(Lbl, ...)``).

Imported only when a PDF is rendered (with pdf.py).
"""

from __future__ import annotations

import io
import re
from collections import defaultdict, deque
from collections.abc import Iterable

import pikepdf
from weasyprint.formatting_structure import boxes
from weasyprint.layout.absolute import AbsolutePlaceholder

PRINT_FLAG = 4  # annotation flag bit 3: print the annotation
LIST_TAGS = ("ul", "ol", "dl")  # the HTML elements WeasyPrint tags /L, one per box
NOTES_ROLE = "doc-endnotes"  # the notes section, as templates/_endmatter.html marks it

# Per page, each list box in document order: the ids of its items when it is the notes
# list, else None.
NoteLists = list[list[list[str] | None]]


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
    if not any(descriptions.values()):
        return  # no chart: nothing to walk the tree for
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


def note_lists(pages: Iterable) -> NoteLists:
    """Each page's lists in document order, with the notes list's item ids (``note-3``).

    WeasyPrint makes one /L structure element for each list box, in this same order, so
    the n-th list here is the n-th /L of the page's structure tree.
    """
    found: NoteLists = []
    for page in pages:
        lists: list[list[str] | None] = []
        stack = [(page._page_box, False)]
        while stack:
            box, in_notes = stack.pop()
            if isinstance(box, AbsolutePlaceholder):
                box = box._box
            if isinstance(box, boxes.MarginBox):
                continue
            element = box.element
            in_notes = in_notes or (element is not None and element.get("role") == NOTES_ROLE)
            if box.element_tag in LIST_TAGS:
                items = [c.element.get("id", "") for c in box.children if c.element_tag == "li"]
                lists.append(items if in_notes else None)
            stack.extend((child, in_notes) for child in reversed(getattr(box, "children", ())))
        found.append(lists)
    return found


def _kids(element: pikepdf.Object) -> list:
    kids = element.get("/K")
    if kids is None:
        return []
    return list(kids) if isinstance(kids, pikepdf.Array) else [kids]


def _is_element(node) -> bool:
    return isinstance(node, pikepdf.Dictionary) and "/S" in node


def _lists_by_page(pdf: pikepdf.Pdf) -> dict[int, list[pikepdf.Object]]:
    """The /L elements of the structure tree, in reading order, by the page they are on."""
    pages = {page.objgen: n for n, page in enumerate(pdf.pages)}
    found: dict[int, list[pikepdf.Object]] = defaultdict(list)
    stack = list(reversed(_kids(pdf.Root.StructTreeRoot)))
    while stack:
        element = stack.pop()
        if not _is_element(element):
            continue
        if element.S == pikepdf.Name.L and "/Pg" in element:
            found[pages.get(element.Pg.objgen, -1)].append(element)
        stack.extend(reversed(_kids(element)))
    return found


def _tag_notes(pdf: pikepdf.Pdf, lists: NoteLists) -> None:
    """Each notes list item's body becomes a /Note with a unique /ID (see the module doc).

    A page whose lists do not match the layout's one for one is left as it is: tagging
    by guesswork could name the wrong note."""
    by_page = _lists_by_page(pdf)
    used: set[str] = set()
    for page, layout_lists in enumerate(lists):
        tagged = by_page.get(page, [])
        if len(tagged) != len(layout_lists):
            continue
        for element, ids in zip(tagged, layout_lists, strict=True):
            items = [kid for kid in _kids(element) if _is_element(kid) and kid.S == "/LI"]
            if ids is None or len(items) != len(ids):
                continue
            for item, note_id in zip(items, ids, strict=True):
                name, n = note_id or "note", 1
                while name in used:  # a note split across two pages: two parts, two ids
                    n += 1
                    name = f"{note_id or 'note'}-{n}"
                used.add(name)
                _make_note(pdf, item, name)
    if used:
        _index_ids(pdf)


def _make_note(pdf: pikepdf.Pdf, item: pikepdf.Object, note_id: str) -> None:
    """``LI(Lbl, LBody(...))`` becomes ``LI(LBody(Note(Lbl, ...)))``, same reading order."""
    kids = _kids(item)
    label = next((k for k in kids if _is_element(k) and k.S == "/Lbl"), None)
    body = next((k for k in kids if _is_element(k) and k.S == "/LBody"), None)
    if body is None or any(not _is_element(k) for k in _kids(body)):
        return  # content straight in the body (no element to re-parent): leave as is
    content = ([label] if label is not None else []) + _kids(body)
    note = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.StructElem,
            S=pikepdf.Name.Note,
            ID=pikepdf.String(note_id),
            P=body,
            K=pikepdf.Array(content),
        )
    )
    if "/Pg" in item:
        note.Pg = item.Pg
    for kid in content:
        kid.P = note
    body.K = pikepdf.Array([note])
    item.K = pikepdf.Array([body])


def _index_ids(pdf: pikepdf.Pdf) -> None:
    """The structure tree root's /IDTree: every element /ID, for readers that look one up."""
    named: dict[bytes, pikepdf.Object] = {}
    stack = _kids(pdf.Root.StructTreeRoot)
    while stack:
        element = stack.pop()
        if not _is_element(element):
            continue
        if "/ID" in element:
            named[bytes(element.ID)] = element
        stack.extend(_kids(element))
    pairs: list = []
    for key in sorted(named):
        pairs += [pikepdf.String(key), named[key]]
    pdf.Root.StructTreeRoot.IDTree = pdf.make_indirect(
        pikepdf.Dictionary(Names=pikepdf.Array(pairs))
    )


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


# WeasyPrint opens each tagged run of content as ``/Tag\n<</MCID n>>\nBDC``, one token per line.
_TAGGED_RUN = re.compile(rb"^/[A-Za-z0-9]+\n<</MCID (\d+)>>\nBDC$", re.M)
_INLINE_IMAGE = re.compile(rb"\bBI\b")  # a false alarm only costs the parser's way
_ARTIFACT_RUN = b"/Artifact\n<</Type /Pagination>>\nBDC"


def _mark_artifacts(pdf: pikepdf.Pdf, page: pikepdf.Page, mcids: set[int]) -> None:
    """The runs numbered ``mcids`` on ``page`` become pagination artifacts."""
    contents = page.obj.get("/Contents")
    if isinstance(contents, pikepdf.Stream):
        rewritten = _mark_artifacts_in_bytes(contents.read_bytes(), mcids)
        if rewritten is not None:
            page.Contents = pdf.make_stream(rewritten)
            return
    _mark_artifacts_parsed(pdf, page, mcids)


def _mark_artifacts_in_bytes(stream: bytes, mcids: set[int]) -> bytes | None:
    """The stream with those runs opened as artifacts, rewritten in place; None when the
    stream is not as WeasyPrint writes it, or a run is not found, so the content-stream
    parser decides instead. Parsing and writing every operator back is most of this
    module's cost; matching lines is safe only where no string, comment or inline image
    could hold the pattern, which is what the guard checks."""
    if b"(" in stream or b"%" in stream or _INLINE_IMAGE.search(stream):
        return None
    found: set[int] = set()

    def mark(match: re.Match[bytes]) -> bytes:
        mcid = int(match.group(1))
        if mcid not in mcids:
            return match.group(0)
        found.add(mcid)
        return _ARTIFACT_RUN

    rewritten = _TAGGED_RUN.sub(mark, stream)
    return rewritten if found == mcids else None


def _mark_artifacts_parsed(pdf: pikepdf.Pdf, page: pikepdf.Page, mcids: set[int]) -> None:
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
    notes: NoteLists | None = None,
) -> bytes:
    """The PDF with its furniture as artifacts, its links flagged and described, its
    charts described (``figures``, from figure_descriptions) and its endnotes tagged as
    notes (``notes`` from note_lists on the same layout).

    Reproducible: the same bytes in give the same bytes out. The first /ID element
    (WeasyPrint's, seeded from the inputs) is kept; the second is a digest of the content.
    """
    with pikepdf.open(io.BytesIO(data)) as pdf:
        _furniture_to_artifacts(pdf)
        _describe_links(pdf, words)
        _describe_figures(pdf, figures or {})
        if notes:
            _tag_notes(pdf, notes)
        out = io.BytesIO()
        pdf.save(
            out,
            deterministic_id=True,  # not qpdf's default: a second /ID drawn from the clock
            compress_streams=True,
            object_stream_mode=pikepdf.ObjectStreamMode.generate,
        )
    return out.getvalue()

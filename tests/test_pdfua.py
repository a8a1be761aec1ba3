"""The shipped PDFs through two independent PDF/UA checkers: no errors, and no warnings.

outloud checks PDF/UA-1 and WCAG 2.2 (lists, empty tags, running furniture, link
annotations); pdfua checks a smaller machine-checkable subset. Neither is veraPDF, the
reference validator: that runs in the GitHub workflow (.github/workflows/briefs.yml).
Both are run as their command-line tools, through their JSON reports.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pikepdf
import pytest

from support.shipped_briefs import AUDIENCES, EDITIONS

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is not installed (pip install -e '.[test]')"
    return found


def _findings(findings: list[dict]) -> list[str]:
    return [f"{f.get('rule') or f.get('rule_id')}: {f.get('message')}" for f in findings]


@pytest.mark.parametrize("slug", AUDIENCES + EDITIONS)
def test_outloud_finds_no_errors_or_warnings(briefs, slug):
    done = subprocess.run(
        [_tool("outloud"), "--json", "-", "--fail-on", "never", str(briefs.out / f"{slug}.pdf")],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout)["results"][0]
    assert result["error"] is None, result["error"]
    assert result["counts"]["error"] == 0, _findings(result["findings"])
    assert result["counts"]["warning"] == 0, _findings(result["findings"])


@pytest.mark.parametrize("slug", AUDIENCES + EDITIONS)
def test_pdfua_finds_nothing(briefs, slug):
    done = subprocess.run(
        [_tool("pdfua"), "check", "--format", "json", str(briefs.out / f"{slug}.pdf")],
        capture_output=True,
        text=True,
    )
    assert done.returncode in (0, 1, 2, 3), done.stderr  # 4 and 5: unreadable file, usage
    report = json.loads(done.stdout)
    assert report["summary"]["errors"] == 0, _findings(report["findings"])
    assert report["summary"]["warnings"] == 0, _findings(report["findings"])
    assert report["summary"]["rules_run"] >= 10, report["summary"]


def _tree_elements(root: pikepdf.Object) -> set[tuple[int, int]]:
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, pikepdf.Array):
            stack.extend(node)
        elif isinstance(node, pikepdf.Dictionary) and node.objgen not in seen:
            seen.add(node.objgen)
            if "/K" in node and node.get("/Type") != "/OBJR":
                stack.append(node.K)
    return seen


@pytest.mark.parametrize("slug", AUDIENCES)
def test_every_marked_content_is_in_the_tree_or_an_artifact(briefs, slug):
    """The running header and footer are artifacts: no marked content hangs off no tree."""
    with briefs.pdf(slug) as pdf:
        in_tree = _tree_elements(pdf.Root.StructTreeRoot.K)
        nums = pdf.Root.StructTreeRoot.ParentTree.Nums
        parents = {int(nums[i]): nums[i + 1] for i in range(0, len(nums), 2)}
        for number, page in enumerate(pdf.pages):
            marked = [
                operands
                for operands, operator in pikepdf.parse_content_stream(page)
                if str(operator) == "BDC"
            ]
            mcids = [int(o[1].MCID) for o in marked if "/MCID" in o[1]]
            assert mcids
            for mcid in mcids:
                assert parents[number][mcid].objgen in in_tree, (slug, number, mcid)
            if number > 0:  # the cover has no running header, but a footer
                pagination = [o for o in marked if o[0] == "/Artifact"]
                assert len(pagination) >= 2, (slug, number)


def test_links_are_printed_and_described_by_their_words(briefs):
    with briefs.pdf("federal") as pdf:
        links = [
            a
            for page in pdf.pages
            for a in page.obj.get("/Annots", [])
            if a.get("/Subtype") == "/Link"
        ]
    assert links
    descriptions = {str(a.Contents) for a in links}
    for link in links:
        assert int(link.F) & 4, "link annotation without the Print flag"
    # Note references read as "Note 3" (their aria-label), not as the target "note-3".
    assert any(d.startswith("Note ") for d in descriptions), sorted(descriptions)[:10]
    assert not [d for d in descriptions if d.startswith("note-")], sorted(descriptions)[:10]


@pytest.mark.parametrize("slug", AUDIENCES)
def test_endnotes_are_notes_so_the_note_rules_apply(briefs, slug):
    """Every endnote is a /Note (outloud's note rules run only on notes it can find)."""
    html = briefs.html(slug)
    expected = html.count('<li id="note-')
    with briefs.pdf(slug) as pdf:
        ids = []
        stack = [pdf.Root.StructTreeRoot]
        while stack:
            element = stack.pop()
            kids = element.get("/K")
            for kid in list(kids) if isinstance(kids, pikepdf.Array) else [kids]:
                if isinstance(kid, pikepdf.Dictionary) and "/S" in kid:
                    stack.append(kid)
            if element.get("/S") == "/Note":
                ids.append(str(element.ID))
    assert len(ids) == len(set(ids)) == expected, (slug, sorted(ids))


def _instructions(pdf: pikepdf.Pdf, data: bytes) -> list[tuple[str, str]]:
    page = pdf.add_blank_page()
    page.Contents = pdf.make_stream(data)
    return [
        (str(operator), repr(list(operands)))
        for operands, operator in pikepdf.parse_content_stream(page)
    ]


@pytest.mark.parametrize("slug", AUDIENCES)
def test_furniture_rewrite_in_place_equals_the_parsers(briefs, slug):
    """The quick rewrite of a page's runs into artifacts gives the instructions the
    content-stream parser gives, on every page of a real brief."""
    from policy_briefs.tagging import _mark_artifacts_in_bytes, _mark_artifacts_parsed

    with briefs.pdf(slug) as pdf:
        for page in list(pdf.pages):
            stream = page.Contents.read_bytes()
            mcids = {
                int(operands[1].MCID)
                for operands, operator in pikepdf.parse_content_stream(page)
                if str(operator) == "BDC" and "/MCID" in operands[1]
            }
            mcids = {m for m in mcids if m % 3 == 0}  # some runs, not all
            quick = _mark_artifacts_in_bytes(stream, mcids)
            assert quick is not None, slug
            _mark_artifacts_parsed(pdf, page, mcids)
            parsed = page.Contents.read_bytes()
            assert _instructions(pdf, quick) == _instructions(pdf, parsed)


def test_furniture_rewrite_leaves_what_it_cannot_be_sure_of_to_the_parser():
    from policy_briefs.tagging import _mark_artifacts_in_bytes

    run = b"/Span\n<</MCID 0>>\nBDC\nEMC\n"
    assert _mark_artifacts_in_bytes(run, {0}) == b"/Artifact\n<</Type /Pagination>>\nBDC\nEMC\n"
    assert _mark_artifacts_in_bytes(run, {0, 1}) is None  # a run not found
    assert _mark_artifacts_in_bytes(b"(x\n" + run + b")Tj\n" + run, {0}) is None  # a string
    assert _mark_artifacts_in_bytes(b"% note\n" + run, {0}) is None  # a comment
    assert _mark_artifacts_in_bytes(run + b"BI\n/W 1\nID\nxx\nEI\n", {0}) is None  # an image

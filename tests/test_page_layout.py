"""Page breaks, measured on WeasyPrint's real layout (the boxes of each laid-out page).

The print design promises: a key figure stays on the page where its finding starts, with
the finding's text after it; a debate's two views stand on one page; no page before the
last is left under half full; the last page is at least a quarter full. Checked on the
mini fixture (quick), with the figures and the debate pushed down the page step by step,
and on the project's own briefs (slow).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import weasyprint

from policy_briefs.pages import (
    HALF_FULL,
    SPARSE_LAST_PAGE,
    Placed,
    last_page_is_sparse,
    page_fill,
    placements,
)
from policy_briefs.pdf import PDF_VARIANT, lay_out
from policy_briefs.project import Project
from policy_briefs.selection import select
from policy_briefs.templating import citations_for, jinja_environment, render_html
from policy_briefs.validate import load_valid_corpus
from support.mini import MINI
from support.shipped_briefs import AUDIENCES, ROOT


def print_html(root: Path, audience: str) -> tuple[str, str]:
    """The brief's print HTML as the build makes it, and the tighter setting's."""
    project = Project.at(root)
    corpus, _ = load_valid_corpus(project)
    brief = select(corpus, audience)
    env = jinja_environment(project)
    citations = citations_for(brief, project)
    normal = render_html(env, brief, citations, medium="print")
    return normal, render_html(env, brief, citations, medium="print", fit="tight")


def laid_out(root: Path, audience: str, edit=None):
    """The pages the PDF is made from (the layout render_pdf keeps); ``edit`` may change
    the print HTML first."""
    project = Project.at(root)
    normal, tight = print_html(root, audience)
    if edit is not None:
        normal, tight = edit(normal), edit(tight)
    return lay_out(
        normal,
        base_dir=project.template_dirs[0],
        allowed=project.template_dirs,
        tighter=lambda: tight,
    ).pages


def _classes(element) -> set[str]:
    return set((element.get("class") or "").split())


def _named(element) -> str | None:
    """Findings by id; figure groups and debates' two sides, one name per element."""
    classes = _classes(element)
    if "finding" in classes and element.get("id"):
        return f"finding:{element.get('id')}"
    for kind in ("figures", "sides"):
        if kind in classes:
            return f"{kind}:{id(element)}"
    return None


def break_problems(pages: list, *, whole_document: bool = True) -> list[str]:
    """Every broken promise of the print design, in words (empty: all kept)."""
    problems = []
    found = placements(pages, _named)
    starts = {
        name.split(":", 1)[1]: placed[0] for name, placed in found.items() if name[:8] == "finding:"
    }
    for name, placed in found.items():
        if name.startswith("sides:") and len({p.page for p in placed}) > 1:
            problems.append(f"a debate's two views are split over pages {_pages(placed)}")
        if name.startswith("figures:"):
            if len({p.page for p in placed}) > 1:
                problems.append(f"key figures split over pages {_pages(placed)}")
            finding = _finding_of(placed[0], starts)
            if finding is None or starts[finding].page != placed[0].page:
                problems.append(
                    f"key figures on page {placed[0].page + 1} are parted from their finding "
                    f"{finding} (it starts on page {starts[finding].page + 1 if finding else '?'})"
                )
    if whole_document:
        for index, page in enumerate(pages[:-1]):
            if page_fill(page) < HALF_FULL:
                problems.append(f"page {index + 1} of {len(pages)} is {page_fill(page):.0%} full")
        if last_page_is_sparse(pages):
            problems.append(f"the last page is {page_fill(pages[-1]):.0%} full")
    return problems


def _finding_of(figure: Placed, starts: dict[str, Placed]) -> str | None:
    """The finding that holds a figure group: the last one starting at or before it."""
    before = [
        (p.page, p.top, name)
        for name, p in starts.items()
        if (p.page, p.top) <= (figure.page, figure.top)
    ]
    return max(before)[2] if before else None


def _pages(placed: list[Placed]) -> str:
    return ", ".join(str(p + 1) for p in sorted({p.page for p in placed}))


# --- the mini fixture ------------------------------------------------------------------


@pytest.mark.parametrize("audience", ["federal", "sme"])
def test_mini_briefs_keep_the_break_rules(audience):
    pages = laid_out(MINI, audience)
    assert break_problems(pages) == []
    assert placements(pages, lambda e: "figures" if "figures" in _classes(e) else None)


@pytest.mark.slow  # eight layouts
def test_figures_and_debates_hold_together_wherever_they_fall():
    """Push the mini federal brief's first finding (with its key figure), then its debate,
    down the page in steps: wherever the page ends, they stay whole and in place."""
    html, _ = print_html(MINI, "federal")
    pages_seen = 0
    for anchor in ('<section class="theme"', '<section class="disagreements"'):
        assert anchor in html
        for push_mm in (50, 95, 140, 185):
            pushed = f'<div style="height: {push_mm}mm"></div>{anchor}'

            def push(text: str, anchor: str = anchor, pushed: str = pushed) -> str:
                return text.replace(anchor, pushed, 1)

            pages = laid_out(MINI, "federal", push)
            assert break_problems(pages, whole_document=False) == [], (anchor, push_mm)
            pages_seen += len(pages)
    assert pages_seen > 16  # the pushes really carried content over page ends


def test_a_nearly_empty_last_page_is_avoided():
    """The mini SME brief, pushed down until it ends with a few lines on a page of their
    own, is laid out for the PDF without that near-empty page."""
    project = Project.at(MINI)
    html, _ = print_html(MINI, "sme")
    base = str(project.template_dirs[0]) + "/"

    def spaced(height: int):
        # A block of ``height`` mm before the brief's first section pushes the end down.
        return lambda text: text.replace("<main", f'<div style="height: {height}mm"></div><main', 1)

    for height in range(5, 300, 5):
        plain = weasyprint.HTML(string=spaced(height)(html), base_url=base).render(
            pdf_variant=PDF_VARIANT
        )
        if len(plain.pages) > 1 and last_page_is_sparse(plain.pages):
            break
    else:
        pytest.fail("no spacing made the mini brief end on a nearly empty page")
    fixed = laid_out(MINI, "sme", edit=spaced(height))
    assert len(fixed) <= len(plain.pages)
    assert page_fill(fixed[-1]) >= SPARSE_LAST_PAGE or len(fixed) < len(plain.pages)
    # The spacer leaves page 1 part empty by design: only the other rules apply.
    assert break_problems(fixed, whole_document=False) == []


def test_page_fill_measures_content_not_containers():
    def fill(body: str) -> list[float]:
        style = "@page { size: 100mm 100mm; margin: 10mm } body { margin: 0 }"
        html = f"<style>{style}</style><main>{body}</main>"
        return [round(page_fill(p), 2) for p in weasyprint.HTML(string=html).render().pages]

    assert fill('<div style="height: 40mm"></div>') == [0.5]
    # A block going on to the next page reaches the page's foot; its content does not.
    one_and_a_bit = '<div style="height: 68mm"></div><p style="height: 20mm; margin: 0"></p>'
    assert fill(one_and_a_bit) == [0.85, 0.25]


# --- the project's own briefs ----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("audience", AUDIENCES)
def test_shipped_briefs_keep_the_break_rules(audience):
    pages = laid_out(ROOT, audience)
    assert break_problems(pages) == []


@pytest.mark.slow
def test_shipped_pdfs_are_the_layout_checked_here(briefs):
    for audience in AUDIENCES:
        with briefs.pdf(audience) as pdf:
            assert len(pdf.pages) == len(laid_out(ROOT, audience)), audience


def test_fit_tight_is_only_a_class_on_the_body():
    """The tighter page is the same page with a class on its body; its stylesheet keeps the
    rules for that class, which the other's drops as matching nothing."""
    normal, tight = print_html(MINI, "sme")

    def body(html: str) -> str:
        return re.sub(r"<body class=\"[^\"]*\"", "", html[html.index("</style>") :])

    def rules(html: str) -> set[str]:
        return set(html[: html.index("</style>")].split("}"))

    assert body(normal) == body(tight)
    assert rules(normal) < rules(tight)
    assert all("fit-tight" in rule for rule in rules(tight) - rules(normal))
    assert 'class="audience-sme medium-print fit-tight"' in tight


def _boxes_page(body: str) -> str:
    style = "@page { size: 100mm 100mm; margin: 10mm } body { margin: 0 } h2 { margin: 0 }"
    return f"<html lang='en'><style>{style}</style><body><main>{body}</main></body></html>"


def test_lay_out_tightens_or_breaks_before_a_section_only_when_that_ends_better(tmp_path):
    """A last page under a quarter full: a tighter setting that fits is kept; one that
    does not fit is not; then a break before a section on the page before is tried."""

    def pages(html: str, tighter=None) -> list[float]:
        laid = lay_out(html, base_dir=tmp_path, allowed=[tmp_path], tighter=tighter).pages
        return [round(page_fill(p), 2) for p in laid]

    spill = _boxes_page('<div style="height: 76mm"></div><p style="height: 8mm; margin: 0"></p>')
    fits = _boxes_page('<div style="height: 68mm"></div><p style="height: 8mm; margin: 0"></p>')
    assert pages(spill) == [0.95, 0.1]  # no section to move: left as it is
    assert pages(spill, tighter=lambda: fits) == [0.95]
    assert pages(spill, tighter=lambda: spill) == [0.95, 0.1]
    section = (
        '<div style="height: 44mm"></div><h2 id="last" style="height: 8mm">Last</h2>'
        '<div style="height: 24mm"></div><p style="height: 8mm; margin: 0"></p>'
    )
    # The break goes before the section heading: 55% and 50% instead of 95% and 10%.
    assert pages(_boxes_page(section)) == [0.55, 0.5]

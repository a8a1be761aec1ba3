"""Accessible by construction: the tagged PDF as a screen reader meets it, and the HTML twin
audited in a real browser (Debian's chromium, headless) with axe-core."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pikepdf
import pytest

from policy_briefs.selection import select
from support.shipped_briefs import AUDIENCES, ROOT

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PUPPETEER = ROOT / "node_modules" / "puppeteer-core"


def _tags(pdf: pikepdf.Pdf) -> list[tuple[str, pikepdf.Dictionary]]:
    """Every structure element in reading order."""
    out = []

    def walk(element):
        kids = element.get("/K")
        for kid in kids if isinstance(kids, pikepdf.Array) else [kids]:
            if isinstance(kid, pikepdf.Dictionary) and "/S" in kid:
                out.append((str(kid.S)[1:], kid))
                walk(kid)

    walk(pdf.Root.StructTreeRoot)
    return out


class _Html(HTMLParser):
    """Headings, ids, images and links of an HTML page, in document order."""

    def __init__(self):
        super().__init__()
        self.headings: list[int] = []
        self.ids: list[str] = []
        self.images: list[dict] = []
        self.links: list[list[str]] = []  # text pieces of each link
        self.tables = 0
        self._link_depth = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes:
            self.ids.append(attributes["id"])
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        elif tag == "img":
            self.images.append(attributes)
        elif tag == "table":
            self.tables += 1
        elif tag == "a":
            self.links.append([attributes.get("aria-label") or ""])
            self._link_depth += 1

    def handle_endtag(self, tag):
        if tag == "a":
            self._link_depth -= 1

    def handle_data(self, data):
        if self._link_depth:
            self.links[-1].append(data)


def _html(briefs, slug) -> _Html:
    parser = _Html()
    parser.feed(briefs.html(slug))
    return parser


# --- the PDF --------------------------------------------------------------------------


def test_weasyprint_logged_no_warning_or_error(briefs):
    slugs = [*AUDIENCES, *briefs.corpus.editions, "(logger)"]
    assert briefs.log == {slug: [] for slug in slugs}


@pytest.mark.parametrize("slug", AUDIENCES)
def test_pdf_is_tagged_with_language_and_title(briefs, slug):
    pdf = briefs.pdf(slug)
    brief = select(briefs.corpus, slug)
    assert "/StructTreeRoot" in pdf.Root
    assert bool(pdf.Root.MarkInfo.Marked)
    assert str(pdf.Root.Lang) == briefs.corpus.publication.language
    # The window shows the title, not the file name.
    assert bool(pdf.Root.ViewerPreferences.DisplayDocTitle)
    assert str(pdf.docinfo["/Title"]) == brief.title
    with pdf.open_metadata() as xmp:
        assert xmp["dc:title"] == brief.title
        assert xmp.get("{http://www.aiim.org/pdfua/ns/id/}part") == "1", "declares PDF/UA-1"


@pytest.mark.parametrize("slug", AUDIENCES)
def test_structure_has_headings_lists_and_links(briefs, slug):
    pdf = briefs.pdf(slug)
    tags = [tag for tag, _ in _tags(pdf)]
    assert tags.count("H1") == 1
    for tag in ("H2", "H3", "L", "LI", "LBody", "Link", "P", "Sect", "Art"):
        assert tag in tags, f"{slug}: no {tag} tag"
    if _html(briefs, slug).tables:
        assert "Table" in tags and "TR" in tags


@pytest.mark.parametrize("slug", AUDIENCES)
def test_headings_follow_the_html_in_order_without_skipping(briefs, slug):
    html_levels = _html(briefs, slug).headings
    pdf_levels = [int(tag[1]) for tag, _ in _tags(briefs.pdf(slug)) if re.fullmatch(r"H[1-6]", tag)]
    assert pdf_levels == html_levels, "the tags read in the HTML's order"
    assert html_levels[0] == 1
    for before, after in zip(html_levels, html_levels[1:], strict=False):
        assert after <= before + 1, f"{slug}: h{before} followed by h{after}"


@pytest.mark.parametrize("slug", AUDIENCES)
def test_outline_matches_the_headings(briefs, slug):
    pdf = briefs.pdf(slug)
    titles = []

    def walk(items):
        for item in items:
            titles.append(item.title)
            walk(item.children)

    with pdf.open_outline() as outline:
        walk(outline.root)
    assert titles[0] == select(briefs.corpus, slug).title
    assert len(titles) == len(_html(briefs, slug).headings)


@pytest.mark.parametrize("slug", AUDIENCES)
def test_every_link_has_text_and_an_annotation(briefs, slug):
    pdf = briefs.pdf(slug)
    links = [element for tag, element in _tags(pdf) if tag == "Link"]
    assert links
    for element in links:
        kids = list(element.K) if isinstance(element.K, pikepdf.Array) else [element.K]
        # The clickable annotation and the words shown (marked content) both belong to it.
        assert any(isinstance(k, pikepdf.Dictionary) and k.get("/Type") == "/OBJR" for k in kids), (
            f"{slug}: a Link tag without its annotation"
        )
        assert any(
            isinstance(k, int)
            or (isinstance(k, pikepdf.Dictionary) and (k.get("/Type") == "/MCR" or "/S" in k))
            for k in kids
        ), f"{slug}: a Link tag without text"
    for page in pdf.pages:
        for annot in page.get("/Annots", []):
            if annot.get("/Subtype") == "/Link":
                assert "/StructParent" in annot and str(annot.get("/Contents", ""))
    for pieces in _html(briefs, slug).links:
        assert "".join(pieces).strip(), f"{slug}: an HTML link without text"


@pytest.mark.parametrize("slug", AUDIENCES)
def test_images_have_alternative_text(briefs, slug):
    for image in _html(briefs, slug).images:
        assert image.get("alt") is not None, image
    for tag, element in _tags(briefs.pdf(slug)):
        if tag == "Figure":
            assert str(element.get("/Alt", "")).strip(), f"{slug}: a Figure without /Alt"


# --- the HTML twin --------------------------------------------------------------------


@pytest.mark.parametrize("slug", AUDIENCES)
def test_html_stands_alone(briefs, slug):
    html = briefs.html(slug)
    assert not re.search(r"<link\b|<script\b|<iframe\b|\bsrc=", html)
    assert not re.search(r"@import|url\((?!\s*['\"]?data:)", html)
    assert re.search(r'<html lang="[a-z]{2}', html)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert html.count("<main") == 1
    ids = _html(briefs, slug).ids
    assert len(ids) == len(set(ids)), "duplicate ids"


def _browser_ready() -> str | None:
    missing = [str(p) for p in (CHROMIUM, AXE, PUPPETEER) if not p.exists()]
    if shutil.which("node") is None:
        missing.append("node")
    return ", ".join(missing) or None


# The fixture project's twins too: they show what the shipped findings may not (a chart
# with its data table).
MINI_TWINS = ("mini-federal", "mini-sme")

# Fontconfig that sees DejaVu only: the pages must bring their own Inter and Charis SIL.
_NO_BRIEF_FONTS = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <dir>/usr/share/fonts/truetype/dejavu</dir>
  <cachedir>{cache}</cachedir>
</fontconfig>
"""
SITE_PAGES = ("site:index", "site:federal")


@pytest.fixture(scope="module")
def browser_run(briefs, mini_build, tmp_path_factory):
    """The twins and two pages of the published site, audited in one browser run with
    fontconfig pointed away from the installed fonts; screenshots of each page."""
    missing = _browser_ready()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"browser test set-up missing ({missing}): run `make test`")
        pytest.skip(f"browser test set-up missing ({missing}): run `make test`")
    from policy_briefs.built import read_build
    from policy_briefs.project import Project
    from policy_briefs.site import publish_site

    work = tmp_path_factory.mktemp("browser")
    site = work / "site"
    publish_site(Project.at(ROOT), read_build(briefs.out), site)
    config = work / "fonts.conf"
    config.write_text(_NO_BRIEF_FONTS.format(cache=work / "fc-cache"), "utf-8")
    shots = work / "screenshots"
    files = {slug: briefs.out / f"{slug}.html" for slug in AUDIENCES}
    files |= {name: mini_build.out / f"{name[5:]}.html" for name in MINI_TWINS}
    files["site:index"] = site / "index.html"
    files["site:federal"] = site / "briefs" / "federal.html"
    result = subprocess.run(
        ["node", str(ROOT / "tests" / "axe_check.mjs"), "--allow", str(site)]
        + ["--screenshots", str(shots), *map(str, files.values())],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "FONTCONFIG_FILE": str(config)},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    return {name: report[str(path)] for name, path in files.items()}, config, shots, files


@pytest.fixture(scope="module")
def axe(browser_run):
    return browser_run[0]


def _violations(view: dict) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in view["violations"]
    ]


@pytest.mark.parametrize("slug", [*AUDIENCES, *MINI_TWINS, *SITE_PAGES])
def test_axe_finds_no_violation_on_desktop_or_phone(axe, slug):
    for name, view in axe[slug]["views"].items():
        assert _violations(view) == [], f"{slug} ({name})"
        assert view["passes"] > 20, "axe ran its rules"


@pytest.mark.parametrize("slug", AUDIENCES)
def test_html_makes_no_request_and_fits_a_phone(axe, briefs, slug):
    entry = axe[slug]
    assert entry["requests"] == [], "the twin fetched something"
    assert entry["console"] == []
    phone = entry["views"]["phone"]
    assert phone["overflow"] <= 0, f"{slug}: {phone['overflow']}px wider than a phone screen"
    assert phone["title"] == select(briefs.corpus, slug).title
    assert phone["lang"] == briefs.corpus.publication.language


@pytest.mark.parametrize("name", MINI_TWINS)
def test_a_twin_with_a_chart_makes_no_request_and_fits_a_phone(axe, name):
    entry = axe[name]
    assert entry["requests"] == [] and entry["console"] == []
    assert entry["views"]["phone"]["overflow"] <= 0


@pytest.mark.parametrize("page", AUDIENCES + SITE_PAGES)
def test_pages_use_their_embedded_fonts_where_none_are_installed(browser_run, page):
    report, config, shots, files = browser_run
    # The browser could not have found the fonts on the machine.
    found = subprocess.run(
        ["fc-list", "--format", "%{family}\n"],
        capture_output=True,
        text=True,
        env={**os.environ, "FONTCONFIG_FILE": str(config)},
    ).stdout
    assert "Inter" not in found and "Charis" not in found
    for name, view in report[page]["views"].items():
        used = set(view["fonts"])
        assert {"Inter 400 normal", "Inter 700 normal", "Charis SIL 400 normal"} <= used, (
            f"{page} ({name}): {sorted(used)}"
        )
        assert report[page]["requests"] == [], "fonts and pictures come from the page or site"
        shot = shots / f"{files[page].parent.name}-{files[page].stem}-{name}.png"
        assert shot.stat().st_size > 20_000

"""The three brief designs: page budgets, cover, page furniture, fonts, colours, breaks, and
what each audience's brief shows. Checked on the project's own briefs, rendered once."""

from __future__ import annotations

import re
import subprocess
from html import unescape

import pikepdf
import pytest

from policy_briefs.levers import LEVERS, by_lever, lever_of
from policy_briefs.localization import format_numbers
from policy_briefs.selection import select
from policy_briefs.templating import (
    custom_properties_inlined,
    long_date,
    plain_markdown,
    print_stylesheet_pruned,
)
from support.shipped_briefs import AUDIENCES, ROOT

TEMPLATES = ROOT / "templates"
PAGE_BUDGET = {"federal": (2, 6), "regional": (2, 6), "sme": (2, 4)}


def _main(html: str) -> str:
    return html[html.index("<main") : html.index("</main>")]


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


# --- pages --------------------------------------------------------------------------


@pytest.mark.parametrize("slug", AUDIENCES)
def test_page_budget(briefs, slug):
    low, high = PAGE_BUDGET[slug]
    pages = len(briefs.pdf(slug).pages)
    assert low <= pages <= high, f"{slug}: {pages} pages, budget {low}-{high}"
    assert briefs.manifest()["briefs"][slug]["pages"] == pages


@pytest.mark.parametrize("slug", AUDIENCES)
def test_cover_names_series_audience_date_and_version(briefs, slug):
    publication = briefs.corpus.publication
    audience = briefs.corpus.audiences[slug]
    first = briefs.pages_text(slug)[0]
    # The series and the reader are the small label, set in capitals by the style sheet.
    assert f"{publication.series} · {audience.title}".upper() in first, slug
    for expected in (long_date(publication.date), publication.publisher):
        assert expected in first, (slug, expected)
    assert "VERSION" in first and f" {publication.version} " in first, slug


@pytest.mark.parametrize("slug", AUDIENCES)
def test_cover_leads_with_the_argument(briefs, slug):
    """The argued title is the h1 (and the PDF title); the argument is the standfirst."""
    audience = briefs.corpus.audiences[slug]
    assert audience.brief_title and audience.argument, slug
    html = briefs.html(slug)
    h1 = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert h1 and _text(h1.group(1)) == audience.brief_title, slug
    assert "cover-standfirst" in html
    first = " ".join(briefs.pages_text(slug)[0].split())
    assert " ".join(audience.argument.split()[:6]) in first.replace("’", "'"), slug
    with briefs.pdf(slug) as pdf:
        assert str(pdf.docinfo["/Title"]) == audience.brief_title


def test_a_custom_brief_does_not_borrow_the_argued_title(briefs):
    """A brief of one theme shows part of the evidence: the audience's claim may not hold."""
    audience = briefs.corpus.audiences["federal"]
    theme = next(iter(briefs.corpus.themes))
    custom = select(briefs.corpus, "federal", themes=[theme])
    assert custom.title == f"{briefs.corpus.publication.series}: {audience.title}"
    assert select(briefs.corpus, "federal").title == audience.brief_title


@pytest.mark.parametrize("slug", AUDIENCES)
def test_page_x_of_y_and_running_header(briefs, slug):
    pages = briefs.pages_text(slug)
    # An argued brief's running header names its series and audience, not the claim.
    audience = briefs.corpus.audiences[slug]
    title = f"{briefs.corpus.publication.series} · {audience.title}"
    if not audience.brief_title:
        title = select(briefs.corpus, slug).title
    for number, text in enumerate(pages, 1):
        assert f"Page {number} of {len(pages)}" in text, (slug, number)
        if number > 1:
            assert title in text, f"{slug}: no running header on page {number}"
            assert f"Version {briefs.corpus.publication.version}" in text


# --- type ---------------------------------------------------------------------------

FAMILIES = ("Inter", "Charis-SIL")


def _fonts(pdf: pikepdf.Pdf) -> dict[str, pikepdf.Dictionary]:
    """Font name (subset tag removed) -> the font dictionary with its descriptor."""
    found = {}
    for page in pdf.pages:
        for font in page.Resources.get("/Font", {}).values():
            name = str(font.BaseFont).split("+", 1)[-1].lstrip("/")
            descendants = font.get("/DescendantFonts")
            found[name] = descendants[0] if descendants else font
    return found


@pytest.mark.parametrize("slug", AUDIENCES)
def test_only_the_named_fonts_are_used_and_all_are_embedded(briefs, slug):
    pdf = briefs.pdf(slug)  # kept alive while its objects are read
    fonts = _fonts(pdf)
    assert fonts
    strays = [name for name in fonts if not name.startswith(FAMILIES)]
    assert not strays, f"{slug}: fell back to {strays}"
    for family in FAMILIES:
        assert any(name.startswith(family) for name in fonts), (slug, family)
    for name, font in fonts.items():
        descriptor = font.FontDescriptor
        assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")), (
            f"{slug}: {name} is not embedded"
        )


def test_fonts_are_installed_by_the_setup():
    families = subprocess.run(
        ["fc-list", ":", "family"], check=True, capture_output=True, text=True
    ).stdout
    assert "Inter" in families and "Charis SIL" in families
    deps = (ROOT / ".ci" / "system-deps").read_text("utf-8")
    assert "fonts-inter" in deps and "fonts-sil-charis" in deps


def test_fonts_are_named_exactly_and_set_on_html():
    css = (TEMPLATES / "brief.css").read_text("utf-8")
    root = _block(css, ":root")
    assert '--serif: "Charis SIL"' in root and '--sans: "Inter"' in root
    assert "font-family: var(--serif)" in _block(css, "html")
    # Margin boxes do not inherit from html in every engine: they name the face themselves.
    page = css[css.index("@page {") : css.index("@page :first")]
    assert page.count('font-family: "Inter"') == page.count("content:")


def _block(css: str, selector: str) -> str:
    match = re.search(rf"(?m)^{re.escape(selector)} \{{(.*?)^\}}", css, re.S)
    assert match, selector
    return match.group(1)


# --- colour ---------------------------------------------------------------------------


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula():
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


def test_palette_meets_wcag_aa():
    css = (TEMPLATES / "brief.css").read_text("utf-8")
    palette = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", _block(css, ":root")))
    on_paper = ["ink", "muted", "navy", "accent", "link"]
    for text in on_paper:
        for background in ("paper", "tint"):
            ratio = contrast(palette[text], palette[background])
            assert ratio >= 4.5, f"--{text} on --{background}: {ratio:.2f}"
    for text in ("on-band", "on-band-muted"):
        ratio = contrast(palette[text], palette["band"])
        assert ratio >= 4.5, f"--{text} on --band: {ratio:.2f}"
    # Page furniture names its colour literally (no custom properties in margin boxes).
    page = css[css.index("@page {") : css.index("html {")]
    for colour in re.findall(r"color:\s*(#[0-9a-fA-F]{6})", page):
        assert contrast(colour, palette["paper"]) >= 4.5, colour


def test_colours_come_from_the_palette():
    """Only :root and the margin boxes name colours, so the palette test covers them all."""
    for name in ("brief.css", "brief-screen.css"):
        css = (TEMPLATES / name).read_text("utf-8")
        if name == "brief.css":
            css = css.replace(_block(css, ":root"), "")
            css = css[: css.index("@page {")] + css[css.index("html {") :]
        assert not re.findall(r"#[0-9a-fA-F]{3,6}\b|rgb\(|hsl\(", css), name


def test_print_stylesheet_has_its_custom_properties_inlined():
    """The PDF's stylesheet carries the palette's values in place of var(): the same
    values, which WeasyPrint then need not resolve on every element."""
    css = (TEMPLATES / "brief.css").read_text("utf-8")
    inlined = str(custom_properties_inlined(css))
    assert "var(" in css and "var(" not in inlined
    assert _block(inlined, ":root") == _block(css, ":root")
    assert "border-top: 1.5pt solid #12355b" in inlined
    assert 'font-family: "Charis SIL", serif' in _block(inlined, "html")


def test_print_stylesheet_keeps_every_rule_that_may_match():
    css = (
        "@page { @top-left { content: 'a } b' } }\n@media print { .gone { x: 1 } }\n"
        "/* .gone { */ .kept, .gone { a: 1 }\n.gone p { b: 2 }\n#here { c: 3 }\n"
        "#away { d: 4 }\np:not(.gone) { e: 5 }\n[class~=gone] { f: 6 }\n"
        'li::marker { content: "}" }\n.kept > .also:first-child { g: 7 }\n'
    )
    page = f'<html><style>{css}</style><p class="kept also" id=here>.gone #away</p></html>'
    out = print_stylesheet_pruned(page)
    for kept in ("@page", "@media print { .gone", ".kept, .gone", "#here", ":not(.gone)"):
        assert kept in out, kept
    for rule in ("[class~=gone]", 'content: "}"', ".kept > .also:first-child"):
        assert rule in out, rule
    assert ".gone p" not in out and "#away {" not in out
    assert out.endswith('<p class="kept also" id=here>.gone #away</p></html>')
    for unreadable in ("p { a: 1 } }", ".gone { a: 1", ".gone { a: 1 } stray"):
        broken = f"<style>{unreadable}</style><p>x</p>"
        assert print_stylesheet_pruned(broken) == broken


def test_custom_properties_are_inlined_only_where_certain():
    css = (
        ':root { --a: red; --b: "x", y; --c: 1px !important; --d: blue; --e: var(--a) }\n'
        ".s { --d: green }\n@media print { :root { --f: navy } }\n"
        "p { color: var(--a); font-family: var( --b ); x: var(--c); y: var(--d); "
        "z: var(--e); w: var(--f); v: var(--a, teal); u: var(--none) }"
    )
    out = str(custom_properties_inlined(css))
    body = out[out.index("p {") :]
    assert 'color: red; font-family: "x", y;' in body
    for kept in ("var(--c)", "var(--d)", "var(--e)", "var(--f)", "var(--a, teal)", "var(--none)"):
        assert kept in body, kept


# --- breaks ---------------------------------------------------------------------------


def _struct(pdf: pikepdf.Pdf) -> list[tuple[int, str, int]]:
    """(depth, tag, page) of every structure element, in reading order."""
    pages = {page.objgen: n for n, page in enumerate(pdf.pages)}
    out: list[tuple[int, str, int]] = []

    def walk(element, depth):
        kids = element.get("/K")
        for kid in kids if isinstance(kids, pikepdf.Array) else [kids]:
            if isinstance(kid, pikepdf.Dictionary) and "/S" in kid:
                page = pages[kid.Pg.objgen] if "/Pg" in kid else -1
                out.append((depth, str(kid.S)[1:], page))
                walk(kid, depth + 1)

    walk(pdf.Root.StructTreeRoot, 0)
    return out


@pytest.mark.parametrize("slug", AUDIENCES)
def test_no_heading_is_left_at_the_foot_of_a_page(briefs, slug):
    elements = _struct(briefs.pdf(slug))
    headings = 0
    for i, (depth, tag, page) in enumerate(elements):
        if tag not in ("H2", "H3"):
            continue
        headings += 1
        end, j = page, i + 1
        while j < len(elements) and elements[j][0] > depth:  # the heading's own parts
            end = max(end, elements[j][2])
            j += 1
        if j < len(elements):
            assert elements[j][2] == end, (
                f"{slug}: a {tag} at the foot of page {end + 1} is parted from its text"
            )
    assert headings > 5


def _end_matter(html: str) -> int:
    """Where the notes (note styles) or the reference list (in-text styles) begin."""
    return min(
        html.index(role)
        for role in ('role="doc-endnotes"', 'role="doc-bibliography"')
        if role in html
    )


def test_stat_call_outs_are_never_split(briefs):
    shown = 0
    for slug in AUDIENCES:
        pages = briefs.pages_text(slug, raw=True)  # content order: a call-out's text together
        for _item, figure in select(briefs.corpus, slug).figures:
            last = plain_markdown(figure.label).split()[-1]
            # Value, label and source note together on one page.
            value = format_numbers(figure.value, briefs.corpus.publication.language)
            whole = re.compile(
                re.escape(value) + r".{0,240}?" + re.escape(last) + r".{0,120}?Source( \(\w+\))?: "
            )
            assert any(whole.search(text) for text in pages), (slug, value)
            shown += 1
    assert shown, "no brief shows a key figure"


def test_break_rules_cover_headings_and_call_outs():
    css = (TEMPLATES / "brief.css").read_text("utf-8")
    assert re.search(r"h1, h2, h3 \{[^}]*break-after: avoid", css)
    assert re.search(r"\.stat \{[^}]*break-inside: avoid", css, re.S)
    assert re.search(r"p, li \{ orphans: 3; widows: 3; \}", css)


# --- what each audience gets ----------------------------------------------------------


def test_federal_policy_options_are_grouped_by_lever(briefs):
    html = briefs.html("federal")
    options = html[html.index('id="options-h"') : _end_matter(html)]
    titles = re.findall(r'<h3 id="lever-([a-z-]+)-h">', options)
    assert titles, "no lever groups"
    order = [lever.id for lever in LEVERS]
    assert titles == sorted(titles, key=order.index)
    brief = select(briefs.corpus, "federal")
    options_text = _text(options)
    for _item, action in brief.recommendations:
        words = plain_markdown(action).split()
        assert " ".join(words[-4:]) in options_text, action


def test_federal_findings_show_evidence_strength(briefs):
    html = briefs.html("federal")
    words = {"high": "Strong", "medium": "Moderate", "low": "Limited"}
    for item in select(briefs.corpus, "federal").items:
        article = html[
            html.index(
                f'<article class="finding confidence-{item.finding.confidence}" id="{item.id}"'
            ) :
        ]
        article = article[: article.index("</article>")]
        assert f"{words[item.finding.confidence]} evidence" in article, item.id
    assert 'id="takeaways-h">Executive summary</h2>' in html


def test_regional_brief_opens_with_the_debate_both_sides_equal(briefs):
    html = briefs.html("regional")
    brief = select(briefs.corpus, "regional")
    assert brief.disagreements, "the regional brief should show the cluster debate"
    debate = html.index('id="disagreements-h"')
    first_theme = html.index('<section class="theme"')
    assert html.index('id="takeaways-h"') < debate < first_theme
    section = html[debate:first_theme]
    for d in brief.disagreements:
        assert " ".join(plain_markdown(d.note).split()[-6:]) in _text(section)
        sides = re.findall(r'<div class="side">', section)
        assert len(sides) == 2 * len(brief.disagreements)
        for finding in (d.first, d.second):
            assert f'id="{finding.id}"' in section or f'href="#{finding.id}"' in section
    # Each debated finding is shown once, in the debate, not again in its theme.
    ids = re.findall(r'<article [^>]*id="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    assert "What regions can do" in html and "For your region:" in html


def test_sme_brief_is_plain_and_practical(briefs):
    html = briefs.html("sme")
    for heading in (
        "What this means for your firm",
        "Practical next steps",
        "Words used in this brief",
    ):
        assert f">{heading}</h2>" in html
    brief = select(briefs.corpus, "sme")
    main_text = _text(_main(html))
    for item in brief.items:
        # The analysts' summaries stay out; the card says what the finding means.
        assert " ".join(item.finding.summary.split()[:8]) not in main_text, item.id
    steps = html[html.index('id="steps-h"') : html.index('id="glossary-h"')]
    for _item, action in brief.recommendations:
        assert plain_markdown(action) in _text(steps).replace("’", "'"), action


def test_sme_glossary_lists_only_terms_the_brief_uses(briefs):
    html = briefs.html("sme")
    main = _main(html)
    glossary = main[main.index('id="glossary-h"') : _end_matter(main)]
    before = _text(main[: main.index('id="glossary-h"')]).lower()
    terms = re.findall(r'<p class="term-name"[^>]*>([^<]+)</p>', glossary)
    assert terms
    known = {e.term for e in briefs.corpus.glossary}
    for term in terms:
        term = term.replace("&amp;", "&")
        assert term in known
        assert term.lower() in before or term.lower().rstrip("s") in before, term


@pytest.mark.parametrize("slug", AUDIENCES)
def test_each_acronym_is_spelled_out_where_a_reader_first_meets_it(briefs, slug):
    # Citations (notes, bibliography, in-text citations, source lines under key figures)
    # keep names as cited.
    main = _main(briefs.html(slug))
    main = main[: _end_matter(main)]
    main = re.sub(r'<span class="citation">.*?</span>', "", main, flags=re.S)
    text = _text(re.sub(r'<p class="stat-source"[^>]*>.*?</p>', "", main, flags=re.S))
    checked = 0
    for entry in briefs.corpus.glossary:
        if not entry.acronym:
            continue
        first = re.search(rf"(?<![\w&-]){re.escape(entry.term)}(?![\w&])", text)
        if first is None:
            continue
        before = text[: first.start()]
        assert re.search(rf"{re.escape(entry.expansion)}(['’]s)? \($", before), (
            slug,
            entry.term,
            before[-80:],
        )
        checked += 1
    assert checked, f"{slug}: no acronym to check"


# --- the lever sorting ----------------------------------------------------------------


def test_lever_named_first_in_an_action_takes_it():
    assert lever_of("Invest in shared facilities.").id == "investment"
    assert lever_of("Review R&D funding across agencies.").id == "rd-portfolio"
    assert lever_of("Fund partnership activity.").id == "investment"
    assert lever_of("Keep the interagency approach.").id == "partnerships"
    assert lever_of("Judge federal policy against capital investment.").id == "programs"
    assert lever_of("Watch the horizon.").id == LEVERS[-1].id


def test_by_lever_keeps_every_action_once_in_order():
    pairs = [
        ("a", "Invest in plants."),
        ("b", "Support research on tools."),
        ("c", "Fund the next round."),
        ("d", "Meet quarterly."),
    ]
    grouped = by_lever(pairs)
    assert [lever.id for lever, _ in grouped] == ["rd-portfolio", "investment", "programs"]
    assert dict((lever.id, items) for lever, items in grouped)["investment"] == [
        ("a", "Invest in plants."),
        ("c", "Fund the next round."),
    ]
    assert sorted(p for _, items in grouped for p in items) == sorted(pairs)


# --- pictures for the README ----------------------------------------------------------


def test_readme_pictures_exist_and_are_small():
    for slug in AUDIENCES:
        path = ROOT / "docs" / "img" / f"{slug}-page1.png"
        assert path.is_file(), f"run `make readme-images` ({path.name} missing)"
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width = int.from_bytes(data[16:20], "big")
        assert 400 <= width <= 700 and len(data) < 250_000, path.name

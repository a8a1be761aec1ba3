"""The HTML twin's own fonts: subset WOFF2 faces that cover the page, keep the licence,
come out the same every time, and are cached; a missing font is a warning, not a crash."""

from __future__ import annotations

import base64
import html as html_module
import io
import re
import unicodedata
from html.parser import HTMLParser

import pytest
from fontTools.ttLib import TTFont

from policy_briefs import webfonts
from policy_briefs.webfonts import BRIEF_FACES, Face, embed_fonts, font_file, subset_woff2
from support.golden import MINI, render_html

_RULE = re.compile(
    r'@font-face \{ font-family: "(?P<family>[^"]+)"; font-weight: (?P<weight>\d+); '
    r'font-style: (?P<style>\w+); font-display: swap; src: url\("data:font/woff2;base64,'
    r'(?P<data>[A-Za-z0-9+/=]+)"\) format\("woff2"\); \}'
)


class _Text(HTMLParser):
    """The characters a reader sees: text outside <style>, <script> and <title>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.chars: set[str] = set()
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "title"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "script", "title"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            # Format characters (zero-width space, word joiner) have no glyph to draw.
            self.chars.update(
                c for c in data if not c.isspace() and unicodedata.category(c) != "Cf"
            )


def _faces(page: str) -> dict[tuple[str, int, str], TTFont]:
    found = {}
    for match in _RULE.finditer(page):
        font = TTFont(io.BytesIO(base64.b64decode(match["data"])))
        assert font.flavor == "woff2"
        found[(match["family"], int(match["weight"]), match["style"])] = font
    return found


@pytest.fixture(scope="module")
def mini_twins(tmp_path_factory) -> dict[str, str]:
    import shutil

    from policy_briefs.build import BuildOptions, build
    from policy_briefs.project import Project

    root = shutil.copytree(MINI, tmp_path_factory.mktemp("fonts") / "mini")
    build(Project.at(root), BuildOptions(formats=("html",)))
    return {p.name: p.read_text("utf-8") for p in sorted((root / "output").glob("*.html"))}


def test_the_twin_embeds_every_face_its_css_sets_covering_its_text(mini_twins):
    for name, page in mini_twins.items():
        faces = _faces(page)
        assert sorted(faces) == sorted((f.family, f.weight, f.style) for f in BRIEF_FACES), name
        parser = _Text()
        parser.feed(page)
        assert len(parser.chars) > 40
        for key, font in faces.items():
            cmap = font.getBestCmap()
            missing = sorted(c for c in parser.chars if ord(c) not in cmap)
            assert not missing, f"{name}: {key} lacks {missing}"
            # A subset, not the whole font: Inter has over 2,000 glyphs, Charis over 4,000.
            assert len(font.getGlyphOrder()) < 600, key


def test_the_subsets_keep_the_fonts_names_and_licence(mini_twins):
    faces = _faces(next(iter(mini_twins.values())))
    for (family, weight, style), font in faces.items():
        name = font["name"]
        assert name.getDebugName(1) and family in name.getDebugName(1)
        assert "Copyright" in (name.getDebugName(0) or ""), family
        assert "Open Font License" in (name.getDebugName(13) or ""), family
        assert "scripts.sil.org/OFL" in (name.getDebugName(14) or "") or "openfontlicense" in (
            name.getDebugName(14) or ""
        ), family
        assert font["OS/2"].usWeightClass == weight
        assert bool(font["head"].macStyle & 2) == (style == "italic")


def test_subsets_are_the_same_bytes_every_time_and_keep_the_fonts_date(tmp_path, monkeypatch):
    monkeypatch.setenv("BRIEFS_CACHE_DIR", "off")
    path = font_file(BRIEF_FACES[0])
    chars = webfonts.characters("Manufacturing — “evidence” 42 % café")
    first = subset_woff2(path, chars)
    assert subset_woff2(path, chars) == first
    original = TTFont(str(path), lazy=True)
    subset = TTFont(io.BytesIO(first))
    assert subset["head"].modified == original["head"].modified, "no timestamp written"
    cmap = subset.getBestCmap()
    assert all(ord(c) in cmap for c in "—“”é%")


def test_subsets_are_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("BRIEFS_CACHE_DIR", str(tmp_path / "cache"))
    path = font_file(BRIEF_FACES[-1])
    chars = webfonts.characters("cached text")
    made = subset_woff2(path, chars)
    assert list((tmp_path / "cache" / "webfonts").glob("*.json"))

    def fail(*args):
        raise AssertionError("subset again instead of reading the cache")

    monkeypatch.setattr(webfonts, "_subset", fail)
    assert subset_woff2(path, chars) == made


def test_a_missing_font_is_a_warning_and_the_page_still_works(monkeypatch):
    monkeypatch.setenv("BRIEFS_CACHE_DIR", "off")
    page = "<html><head><title>t</title></head><body><p>Text</p></body></html>"
    faces = (Face("No Such Family", 400, "normal", "fonts-nothing"), BRIEF_FACES[0])
    out, warnings = embed_fonts(page, faces)
    assert len(warnings) == 1
    assert "No Such Family 400 is not installed (Debian package fonts-nothing" in warnings[0]
    assert out.count("@font-face") == 1 and '"Inter"' in out
    assert out.replace(out[out.index("<style") : out.index("</style>\n") + 9], "") == page


def test_characters_come_from_text_and_references():
    chars = webfonts.characters("<p>caf&eacute; &#8212; &amp;</p>")
    assert {ord("é"), 0x2014, ord("&")} <= chars
    assert all(c >= 0x20 for c in chars)


def test_golden_copies_mark_the_font_payloads(tmp_path):
    pages = render_html(tmp_path)
    text = b"".join(pages.values())
    assert b"data:font/woff2;base64,(subset)" in text
    assert not re.search(rb"base64,(?!\(subset\))", text)


def test_the_pages_text_is_unchanged_by_embedding(mini_twins):
    for page in mini_twins.values():
        style = page.index('<style id="policy-briefs-webfonts">')
        assert page.index("</head>") > style
        assert html_module.unescape(page).count("<body") == 1

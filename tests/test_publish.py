"""`briefs publish`: a static site with no broken links, a valid Atom feed, written atomically."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from policy_briefs.cli import app
from support.mini import FEDERAL_FINDING

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def built(mini_build, tmp_path_factory) -> Path:
    """The session's build of tests/projects/mini, copied for this module (its tests
    publish into it); tests copy it again to change it."""
    return mini_build.copy(tmp_path_factory.mktemp("publish"))


@pytest.fixture(scope="module")
def site(built, tmp_path_factory) -> Path:
    """The site published from the module's build (read-only for tests)."""
    from typer.testing import CliRunner

    out = tmp_path_factory.mktemp("site") / "site"
    result = CliRunner().invoke(app, ["publish", "--project", str(built), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def project(built, tmp_path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "mini"))


class Page(HTMLParser):
    """What a checker needs from a page: links, ids, headings, landmarks, scripts."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.headings: list[int] = []
        self.tags: list[str] = []
        self.lang = None
        self.link_texts: list[str] = []
        self._in_a = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "html":
            self.lang = attrs.get("lang")
        for name in ("href", "src"):
            if attrs.get(name) is not None:
                self.links.append(attrs[name])
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "a":
            self._in_a = True
            self.link_texts.append("")
        if tag == "img" and self._in_a:
            self.link_texts[-1] += attrs.get("alt") or ""

    def handle_endtag(self, tag):
        if tag == "a":
            self._in_a = False

    def handle_data(self, data):
        if self._in_a:
            self.link_texts[-1] += data


def internal_links(site: Path):
    """Every relative link in every page, resolved: (page, url, target file, fragment)."""
    for page in sorted(site.rglob("*.html")):
        for url in Page(page.read_text("utf-8")).links:
            parts = urlsplit(url)
            if parts.scheme or url.startswith("//"):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            yield page, url, target, parts.fragment


def test_no_broken_internal_links(site):
    checked = 0
    for page, url, target, fragment in internal_links(site):
        assert target.is_file(), f"{page.relative_to(site)}: broken link {url}"
        assert target.is_relative_to(site.resolve()), f"{page}: {url} leaves the site"
        if fragment and target.suffix == ".html":
            assert fragment in Page(target.read_text("utf-8")).ids, f"{page}: {url}"
        checked += 1
    assert checked > 10


def test_every_link_on_the_index_is_relative_and_nothing_needs_javascript(site):
    for page in site.rglob("*.html"):
        parsed = Page(page.read_text("utf-8"))
        assert "script" not in parsed.tags
    index = Page((site / "index.html").read_text("utf-8"))
    for url in index.links:
        assert not url.startswith("/"), url
        assert urlsplit(url).scheme in ("", "mailto"), url


def _main(html: str) -> str:
    return html[html.index("<main") : html.index("</main>")]


def test_the_index_lists_each_brief_with_what_a_reader_needs(site, built):
    html = (site / "index.html").read_text("utf-8")
    manifest = json.loads((built / "output" / "manifest.json").read_text())["briefs"]
    for slug, entry in manifest.items():
        # "Test Briefs: Federal policymakers": the series is in the page's heading once.
        title = entry["title"].removeprefix("Test Briefs: ")
        assert f'<a href="briefs/{slug}.html">{title}</a>' in html
        assert f'href="briefs/{slug}.pdf"' in html and f'href="briefs/{slug}.html"' in html
        kb = round(entry["files"]["pdf"]["bytes"] / 1000)
        pages = f"{entry['pages']} page" + ("s" if entry["pages"] != 1 else "")
        assert f"(PDF, {kb} KB, {pages})" in html
        page_kb = round((site / "briefs" / f"{slug}.html").stat().st_size / 1000)
        assert f"(web page, {page_kb} KB)" in html
        # The brief's own version, next to its date.
        assert f"<dt>Version</dt><dd>{entry['version']['number']}</dd>" in html
    assert "Test Briefs" not in _main(html)
    assert "Federal policymakers" in html and "Small and medium manufacturers" in html
    assert '<time datetime="2026-01-15">January 15, 2026</time>' in html
    assert "<dt>Version</dt><dd>1.0</dd>" in html
    assert "Staff who design national programmes." in html  # the summary
    assert "Many orders now come through shared supplier networks" in html  # a highlight
    assert 'type="application/atom+xml"' in html


def test_the_index_shows_the_first_page_of_each_pdf(site):
    from PIL import Image

    images = [
        dict(attrs)
        for tag, attrs in _start_tags((site / "index.html").read_text("utf-8"))
        if tag == "img"
    ]
    assert sorted(i["src"] for i in images) == [
        "thumbnails/federal.webp",
        "thumbnails/sme-supplier-networks.webp",
        "thumbnails/sme.webp",
    ]
    for image in images:
        assert image["alt"].startswith("First page of the PDF: ")
        with Image.open(site / image["src"]) as picture:
            assert picture.format == "WEBP"
            # Drawn at twice the size it is shown, in the page's proportions (US Letter).
            assert picture.size == (2 * int(image["width"]), 2 * int(image["height"]))
            assert int(image["width"]) == 150 and abs(int(image["height"]) - 194) <= 1
            # A cover, not a blank page: the navy title band is at the top.
            r, g, b = picture.convert("RGB").getpixel((picture.width // 2, 20))
            assert b > r + 40, (r, g, b)


def _start_tags(html: str) -> list[tuple[str, list]]:
    found: list[tuple[str, list]] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))

    Tags().feed(html)
    return found


def test_the_index_embeds_its_fonts(site):
    html = (site / "index.html").read_text("utf-8")
    faces = re.findall(r'font-family: "([^"]+)"; font-weight: (\d+)', html)
    assert ("Inter", "700") in faces and ("Charis SIL", "400") in faces
    assert not re.search(r"url\((?!\s*['\"]?data:)", html), "fonts come from the page itself"


def test_the_index_is_accessible(site):
    page = Page((site / "index.html").read_text("utf-8"))
    assert page.lang == "en-US"
    for landmark in ("header", "main", "footer"):
        assert landmark in page.tags
    assert page.headings[0] == 1 and page.headings.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(page.headings, page.headings[1:], strict=False))
    assert all(text.strip() for text in page.link_texts)
    assert "#briefs" in page.links and "briefs" in page.ids  # skip link target


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_text_colours_have_enough_contrast(site):
    css = (site / "index.html").read_text("utf-8")
    light, _, dark = css.partition("@media (prefers-color-scheme: dark)")
    dark = dark.split("</style>")[0]
    for block, background in ((light, "#ffffff"), (dark, "#14181f")):
        colours = re.findall(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{6})", block)
        assert len(colours) >= 4
        for colour in colours:
            assert _contrast(colour, background) >= 7, colour  # WCAG AAA for body text


def test_the_brief_pages_and_manifest_are_the_built_files(site, built):
    from policy_briefs.site.pages import twin_of

    out = built / "output"
    for name in ("federal.pdf", "sme.pdf"):
        assert (site / "briefs" / name).read_bytes() == (out / name).read_bytes()
    for name in ("federal.html", "sme.html"):
        page = (site / "briefs" / name).read_bytes()
        # The site's copy is the twin plus its bar, nothing else; the twin stays clean.
        assert page != (out / name).read_bytes()
        assert twin_of(page) == (out / name).read_bytes()
        assert b"site-bar" not in (out / name).read_bytes()
    assert (site / "manifest.json").read_bytes() == (out / "manifest.json").read_bytes()


def test_each_brief_page_leads_back_to_the_index_and_to_its_pdf(site, built):
    for slug in ("federal", "sme"):
        html = (site / "briefs" / f"{slug}.html").read_text("utf-8")
        body = html[html.index("<body") :]
        bar = body[: body.index("</nav>")]
        assert '<nav class="site-bar" aria-label="Site">' in bar
        assert '<a class="site-home" href="../index.html">Test Briefs' in bar
        kb = round((site / "briefs" / f"{slug}.pdf").stat().st_size / 1000)
        assert f'href="{slug}.pdf" type="application/pdf">Download the PDF ({kb} KB)</a>' in bar
        # The bar comes first, before the brief's own cover.
        assert body.index("site-bar") < body.index('<header class="cover">')
        assert html.count("<main") == 1


def parse_feed(path: Path) -> ET.Element:
    root = ET.fromstring(path.read_bytes())
    assert root.tag == f"{ATOM}feed"
    return root


def _rfc3339(text: str) -> dt.datetime:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", text), text
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def check_atom(feed: ET.Element, site: Path, base_url: str | None = None) -> list[ET.Element]:
    """RFC 4287's requirements: feed id, title, updated, author; per entry id, title,
    updated, an alternate link; unique ids; links that resolve to files of the site."""
    for tag in ("id", "title", "updated"):
        assert len(feed.findall(f"{ATOM}{tag}")) == 1, tag
        assert feed.find(f"{ATOM}{tag}").text.strip()
    _rfc3339(feed.find(f"{ATOM}updated").text)
    assert feed.find(f"{ATOM}author/{ATOM}name").text
    entries = feed.findall(f"{ATOM}entry")
    assert entries
    ids = [e.find(f"{ATOM}id").text for e in entries]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", i) for i in ids)
    latest = max(_rfc3339(e.find(f"{ATOM}updated").text) for e in entries)
    assert _rfc3339(feed.find(f"{ATOM}updated").text) == latest
    for entry in entries:
        for tag in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{tag}")) == 1, tag
        _rfc3339(entry.find(f"{ATOM}updated").text)
        links = entry.findall(f"{ATOM}link")
        assert any(link.get("rel", "alternate") == "alternate" for link in links)
        for link in links:
            href = link.get("href")
            if base_url:
                assert href.startswith(base_url)
                href = href[len(base_url) :]
            assert (site / href).is_file(), href
            if link.get("rel") == "enclosure":
                assert int(link.get("length")) == (site / href).stat().st_size
    return entries


def test_the_feed_is_valid_atom_with_an_entry_per_brief(site):
    entries = check_atom(parse_feed(site / "feed.xml"), site)
    assert sorted(e.find(f"{ATOM}title").text for e in entries) == [
        "Supplier networks bring small plants orders (version 1.0)",
        "Test Briefs: Federal policymakers (version 1.0)",
        "Test Briefs: Small and medium manufacturers (version 1.0)",
    ]
    for entry in entries:
        summary = entry.find(f"{ATOM}summary").text
        assert summary.endswith("(version 1.0, January 15, 2026)"), summary


def test_base_url_makes_feed_links_absolute_but_pages_stay_relative(project, cli, tmp_path):
    out = tmp_path / "site"
    result = cli(
        "publish",
        "--project",
        project,
        "--out",
        out,
        "--base-url",
        "https://briefs.example.org/amp",
    )
    assert result.exit_code == 0, result.output
    feed = parse_feed(out / "feed.xml")
    check_atom(feed, out, base_url="https://briefs.example.org/amp/")
    self_link = [link for link in feed.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert self_link[0].get("href") == "https://briefs.example.org/amp/feed.xml"
    assert "https://briefs.example.org" not in (out / "index.html").read_text("utf-8")


def test_a_new_version_adds_an_entry_and_keeps_the_old_one(project, cli):
    assert cli("publish", "--project", project).exit_code == 0
    site = project / "output" / "site"
    first = {
        e.find(f"{ATOM}id").text: e.find(f"{ATOM}updated").text
        for e in parse_feed(site / "feed.xml").findall(f"{ATOM}entry")
    }
    # Publishing the same build again keeps ids and dates: feed readers see nothing new.
    assert cli("publish", "--project", project).exit_code == 0
    again = {
        e.find(f"{ATOM}id").text: e.find(f"{ATOM}updated").text
        for e in parse_feed(site / "feed.xml").findall(f"{ATOM}entry")
    }
    assert again == first
    old_pdf = (site / "briefs" / "federal.pdf").read_bytes()

    theme = project / "findings" / "networks.yaml"
    theme.write_text(theme.read_text() + FEDERAL_FINDING)
    assert cli("build", "--project", project).exit_code == 0
    result = cli("publish", "--project", project)
    assert result.exit_code == 0, result.output
    entries = check_atom(parse_feed(site / "feed.xml"), site)
    ids = {e.find(f"{ATOM}id").text for e in entries}
    assert set(first) < ids and len(ids) == len(first) + 1
    archived = list((site / "archive" / "federal").glob("*.pdf"))
    assert [p.read_bytes() for p in archived] == [old_pdf]
    assert "Earlier versions (1)" in (site / "index.html").read_text("utf-8")
    # The archived page has a bar whose links work from the archive folder.
    (old_page,) = (site / "archive" / "federal").glob("*.html")
    text = old_page.read_text("utf-8")
    assert text.count('class="site-bar"') == 1
    assert 'href="../../index.html"' in text and 'href="../../briefs/federal.html"' in text
    assert f'href="{archived[0].name}"' in text and "An earlier version of this brief" in text
    for page, url, target, _fragment in internal_links(site):
        assert target.is_file(), f"{page}: broken link {url}"


def test_a_failed_publish_leaves_the_previous_site_intact(project, cli):
    assert cli("publish", "--project", project).exit_code == 0
    site = project / "output" / "site"
    before = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    broken = project / "templates" / "site" / "index.html"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        '{% extends "default:site/index.html" %}\n{% block footer %}\n'
        "{{ no_such_thing.attribute }}\n{% endblock %}\n"
    )
    result = cli("publish", "--project", project)
    assert result.exit_code == 1
    assert re.match(
        r"\S*templates/site/index\.html:3:1: error: template: 'no_such_thing' "
        r"is undefined\n1 error; nothing was written\n$",
        result.stderr,
    )
    assert "Traceback" not in result.output
    after = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in site.parent.iterdir() if p.name.startswith(".site")) == [
        ".site.lock"
    ]  # no half-built site left beside it
    assert site.stat().st_mode & 0o777 == 0o755


def test_a_project_can_override_part_of_the_index(project, cli):
    custom = project / "templates" / "site" / "index.html"
    custom.parent.mkdir(parents=True)
    custom.write_text(
        '{% extends "default:site/index.html" %}\n{% block footer %}'
        "<footer><p>Questions? Ask the policy unit.</p></footer>"
        "{% endblock %}\n"
    )
    result = cli("publish", "--project", project)
    assert result.exit_code == 0, result.output
    html = (project / "output" / "site" / "index.html").read_text("utf-8")
    assert "Questions? Ask the policy unit." in html and "Federal policymakers" in html


@pytest.mark.parametrize("target", [".", "output", "findings", "elsewhere"])
def test_publish_refuses_to_replace_a_folder_it_does_not_own(project, cli, target):
    (project / "elsewhere").mkdir()
    (project / "elsewhere" / "notes.txt").write_text("keep me")
    before = sorted(p for p in project.rglob("*"))
    result = cli("publish", "--project", project, "--out", project / target)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert sorted(p for p in project.rglob("*")) == before


def test_publish_before_build_says_to_build(mini_project, cli):
    result = cli("publish", "--project", mini_project)
    assert result.exit_code == 1
    assert "run `briefs build` first" in result.stderr
    assert not (mini_project / "output").exists()


def test_the_index_leads_with_each_argued_title_and_its_argument(briefs, tmp_path):
    """The project's own briefs argue a claim: the index shows that claim as the title,
    the argument under it, and the audience as a label, from the manifest alone."""
    from policy_briefs.built import read_build
    from policy_briefs.project import Project
    from policy_briefs.site import publish_site
    from policy_briefs.templating import plain_markdown
    from support.shipped_briefs import ROOT

    site = tmp_path / "site"
    publish_site(Project.at(ROOT), read_build(briefs.out), site)
    html = (site / "index.html").read_text("utf-8")
    main = _main(html)
    for audience in briefs.corpus.audiences.values():
        assert audience.brief_title and audience.argument
        assert f'<a href="briefs/{audience.id}.html">{audience.brief_title}</a>' in main
        summary = plain_markdown(audience.argument).replace("'", "&#39;")
        assert f'<p class="summary">{summary}</p>' in main
        assert f'<p class="audience">{audience.title}</p>' in main
    for edition in briefs.corpus.editions.values():
        assert f'<a href="briefs/{edition.slug}.html">{edition.title}</a>' in main
        summary = plain_markdown(edition.argument).replace("'", "&#39;")
        assert f'<p class="summary">{summary}</p>' in main
    # Argued briefs need no list of headlines: the argument says what the brief says.
    assert 'class="highlights"' not in main
    assert briefs.corpus.publication.series not in main
    assert main.count("<img ") == len(briefs.corpus.audiences) + len(briefs.corpus.editions)

"""The PDFs, checked by structure: text, metadata, outline, page numbers, links, fetches.

Each PDF is rendered once per session (rendering is the slow part) and then inspected
the way a reader and a screen reader meet it: pdftotext for the words, pikepdf for the
rest.
"""

from __future__ import annotations

import logging
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pikepdf
import pytest
from typer.testing import CliRunner

from policy_briefs.cli import app
from policy_briefs.corpus import load_corpus
from policy_briefs.project import Project
from support.mini import MINI


@dataclass
class Rendered:
    out: Path
    report: object
    log: list[logging.LogRecord]

    def pdf(self, slug: str) -> pikepdf.Pdf:
        return pikepdf.open(self.out / f"{slug}.pdf")

    def pages_text(self, slug: str) -> list[str]:
        # Reading order (not -layout), so text set in columns stays in sentences.
        raw = subprocess.run(
            ["pdftotext", str(self.out / f"{slug}.pdf"), "-"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return [" ".join(page.split()) for page in raw.split("\f")[:-1]]

    def text(self, slug: str) -> str:
        return " ".join(self.pages_text(slug))


@pytest.fixture(scope="session")
def rendered(mini_build) -> Rendered:
    return Rendered(mini_build.out, mini_build.report, mini_build.log)


@pytest.fixture(scope="session")
def corpus():
    corpus, problems = load_corpus(Project.at(MINI))
    assert not problems
    return corpus


def test_weasyprint_logged_nothing(rendered):
    assert [r.getMessage() for r in rendered.log] == []
    assert [m for b in rendered.report.briefs for m in b.messages] == []
    written = {p.name for p in rendered.report.written}
    assert {"federal.html", "federal.pdf", "manifest.json", "sme.html", "sme.pdf"} <= written


def test_text_has_every_finding_of_the_audience(rendered, corpus):
    for slug in ("federal", "sme"):
        text = rendered.text(slug)
        for finding in corpus.findings.values():
            if slug in finding.audiences:
                assert finding.headline in text, (slug, finding.id)
        for other in (f for f in corpus.findings.values() if slug not in f.audiences):
            # Findings for other readers appear only where the evidence disagrees.
            assert (
                any(
                    other.id in (c.finding for c in f.contrasts)
                    for f in corpus.findings.values()
                    if slug in f.audiences
                )
                or other.headline not in text
            )


def test_chicago_notes_are_numbered_and_formatted(rendered):
    text = rendered.text("federal")
    # One note per citation point in reading order; later ones in the short form.
    notes = [
        "Alpha Institute, Notes on Regional Making (Alpha Institute, 2020), para. 1, "
        "https://alpha.example.org/notes.",
        "Alpha Institute, Notes on Regional Making, para. 1.",  # the chart's source
        "Alpha Institute, Notes on Regional Making, para. 1.",
        "Alpha Institute, Notes on Regional Making, para. 2.",
        "Ann Beta, “Review of Cluster Policy,” Policy Review, June 1, 2021, paras. 1, 2, "
        "https://doi.org/10.1234/beta.2021.",
    ]
    for number, note in enumerate(notes, 1):
        assert re.search(rf"(?<!\d){number}\.? {re.escape(note)}", text), note
    # The bibliography lists each source once, without locators.
    assert (
        "Beta, Ann. “Review of Cluster Policy.” Policy Review, June 1, 2021. "
        "https://doi.org/10.1234/beta.2021." in text
    )


def test_apa_brief_cites_author_date_in_the_text(rendered):
    text = rendered.text("sme")
    assert "Source: Alpha Institute (2020, para. 1)" in text
    assert "(Beta, 2021, paras. 1, 2)" in text
    assert "References" in text and not re.search(r"Notes\s+1\.? ", text)
    assert (
        "Beta, A. (2021, June 1). Review of Cluster Policy. Policy Review. "
        "https://doi.org/10.1234/beta.2021" in text
    )


def test_metadata(rendered, corpus):
    pdf = rendered.pdf("federal")
    info = pdf.docinfo
    assert str(info["/Title"]) == "Test Briefs: Federal policymakers"
    assert str(info["/Author"]) == "Test Publisher"
    assert "federal policymakers" in str(info["/Subject"]).lower()
    keywords = str(info["/Keywords"])
    assert "testing" in keywords and "manufacturing" in keywords
    # The publication date, not the time of the build: rebuilding changes nothing.
    assert str(info["/CreationDate"]).startswith("D:20260115")
    assert str(pdf.Root.Lang) == "en-US"
    assert bool(pdf.Root.MarkInfo.Marked), "tagged for screen readers"
    assert "/StructTreeRoot" in pdf.Root
    with pdf.open_metadata() as xmp:
        assert xmp["dc:title"] == "Test Briefs: Federal policymakers"


def test_outline_follows_the_headings(rendered, corpus):
    pdf = rendered.pdf("federal")
    pages = {page.objgen: n for n, page in enumerate(pdf.pages)}
    entries: list[tuple[int, str]] = []

    def walk(items, depth):
        for item in items:
            entries.append((depth, item.title))
            assert pages.get(item.destination[0].objgen) is not None, item.title
            walk(item.children, depth + 1)

    with pdf.open_outline() as outline:
        walk(outline.root, 0)
    titles = [title for _, title in entries]
    assert titles[0] == "Test Briefs: Federal policymakers"
    assert "Supplier networks" in titles
    for finding in corpus.findings.values():
        if "federal" in finding.audiences:
            assert finding.headline in titles
    assert "Notes" in titles
    # A finding sits below its theme in the outline.
    depth = dict((t, d) for d, t in reversed(entries))
    assert (
        depth["Many orders now come through shared supplier networks"] > depth["Supplier networks"]
    )


def test_page_numbers_and_running_header(rendered):
    for slug in ("federal", "sme"):
        pages = rendered.pages_text(slug)
        assert len(pages) == len(rendered.pdf(slug).pages) >= 2
        for number, text in enumerate(pages, 1):
            assert f"Page {number} of {len(pages)}" in text, (slug, number)
    title = "Test Briefs: Federal policymakers"
    assert all(title in text for text in rendered.pages_text("federal")[1:])


def _links(pdf: pikepdf.Pdf):
    for number, page in enumerate(pdf.pages):
        for annot in page.get("/Annots", []):
            if annot.get("/Subtype") == "/Link":
                yield number, annot


def _rect_size(annot) -> tuple[float, float]:
    x1, y1, x2, y2 = (float(v) for v in annot.Rect)
    return abs(x2 - x1), abs(y2 - y1)


def test_note_markers_link_to_their_notes(rendered):
    pdf = rendered.pdf("federal")
    names = pikepdf.NameTree(pdf.Root.Names.Dests)
    internal = [(n, a) for n, a in _links(pdf) if "/Dest" in a]
    targets = {str(a.Dest) for _, a in internal}
    assert {"note-1", "note-2", "note-3", "note-4"} <= targets
    pages = {page.objgen: n for n, page in enumerate(pdf.pages)}
    texts = rendered.pages_text("federal")
    for _page, annot in internal:
        name = str(annot.Dest)
        assert name in names, f"link to missing destination {name}"
        if name.startswith("note-"):
            landing = pages[names[name][0].objgen]
            assert "Notes" in texts[landing]


def test_every_link_has_a_clickable_area(rendered):
    for slug in ("federal", "sme"):
        for _page, annot in _links(rendered.pdf(slug)):
            width, height = _rect_size(annot)
            assert width > 0 and height > 0, f"{slug}: link {annot.get('/Dest')} has no area"


def test_external_links_are_live(rendered):
    pdf = rendered.pdf("federal")
    uris = {str(a.A.URI) for _, a in _links(pdf) if "/A" in a and a.A.S == "/URI"}
    assert {"https://alpha.example.org/notes", "https://doi.org/10.1234/beta.2021"} <= uris


def test_manifest_pages_match_the_pdfs(rendered):
    import json

    manifest = json.loads((rendered.out / "manifest.json").read_text("utf-8"))
    for slug in ("federal", "sme"):
        assert manifest["briefs"][slug]["pages"] == len(rendered.pdf(slug).pages)


# --- the allowlisting URL fetcher ------------------------------------------------------

HOSTILE = """\
{% extends "default:base.html" %}
{% block extra %}
<link rel="stylesheet" href="../findings/sources.yaml">
<style>@import url("file:///etc/hostname");</style>
<p><img src="logo.png" alt="logo"> <img src="http://example.invalid/x.png" alt="remote">
<img src="/etc/hostname" alt="outside"> <img src="escape.png" alt="symlink"></p>
{% endblock %}
"""


@pytest.fixture(scope="session")
def hostile(tmp_path_factory):
    """Build a federal brief whose template reaches for the network and outside files."""
    from PIL import Image

    project = Path(shutil.copytree(MINI, tmp_path_factory.mktemp("hostile") / "p"))
    templates = project / "templates"
    templates.mkdir()
    (templates / "federal.html").write_text(HOSTILE, "utf-8")
    Image.new("RGB", (3, 5), (200, 30, 30)).save(templates / "logo.png")
    (templates / "escape.png").symlink_to("/etc/hostname")

    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network use in a test")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket, "getaddrinfo", refuse)
        mp.setattr(socket, "create_connection", refuse)
        mp.setattr(socket.socket, "connect", refuse)
        result = CliRunner().invoke(
            app, ["build", "federal", "--format", "pdf", "--project", str(project)]
        )
    return project, result, attempts


def test_fetcher_touches_no_network(hostile):
    _project, result, attempts = hostile
    assert result.exit_code == 0, result.output
    assert attempts == []
    assert (
        "blocked: http://example.invalid/x.png (briefs fetch nothing from the network)"
        in result.stderr
    )


def test_fetcher_refuses_files_outside_templates(hostile):
    project, result, _ = hostile
    stderr = result.stderr
    assert f"blocked: {(project / 'findings/sources.yaml').as_uri()} is outside" in stderr
    assert "blocked: file:///etc/hostname is outside the template folders" in stderr
    assert f"blocked: {(project / 'templates/escape.png').as_uri()} is outside" in stderr
    assert all(
        line.startswith("federal: weasyprint ") for line in stderr.splitlines() if "blocked" in line
    )


def test_fetcher_loads_files_inside_templates(hostile):
    project, _result, _ = hostile
    pdf = pikepdf.open(project / "output" / "federal.pdf")
    images = {
        obj.objgen: (int(obj.Width), int(obj.Height))
        for page in pdf.pages
        for obj in page.Resources.get("/XObject", {}).values()
        if obj.get("/Subtype") == "/Image"
    }
    assert list(images.values()) == [(3, 5)], "only the logo from templates/ is embedded"


def test_strict_build_stops_on_a_blocked_fetch_and_writes_nothing(hostile):
    project, _result, _ = hostile
    before = {p.name: p.read_bytes() for p in (project / "output").iterdir() if p.is_file()}
    (project / "templates" / "federal.html").write_text(
        HOSTILE.replace("x.png", "y.png"), "utf-8"
    )  # a change, so the brief renders again
    result = CliRunner().invoke(
        app, ["build", "federal", "--format", "pdf", "--strict", "--project", str(project)]
    )
    assert result.exit_code == 1
    assert "rendering reported problems (--strict)" in result.stderr
    assert (
        "federal: error: Failed to load image at 'http://example.invalid/y.png'" in result.stderr
        or "blocked: http://example.invalid/y.png" in result.stderr
    )
    assert "Traceback" not in result.output
    after = {p.name: p.read_bytes() for p in (project / "output").iterdir() if p.is_file()}
    assert after == before


def test_endnotes_are_tagged_as_notes_with_unique_ids(rendered):
    """PDF/UA-1 7.9: each endnote a /Note with a unique /ID, here in its list item's body,
    with its number as the label; the note markers in the text still lead to them."""
    pdf = rendered.pdf("federal")
    html = (rendered.out / "federal.html").read_text("utf-8")
    numbers = re.findall(r'<li id="note-(\d+)">', html)
    notes = []
    stack = [(pdf.Root.StructTreeRoot, None)]
    while stack:
        element, parent = stack.pop()
        kids = element.get("/K")
        for kid in reversed(list(kids) if isinstance(kids, pikepdf.Array) else [kids]):
            if isinstance(kid, pikepdf.Dictionary) and "/S" in kid:
                stack.append((kid, element))
        if element.get("/S") == "/Note":
            notes.append((element, parent))
    assert [str(n.ID) for n, _ in notes] == [f"note-{k}" for k in numbers] != []
    id_tree = dict(zip(*[iter(pdf.Root.StructTreeRoot.IDTree.Names)] * 2, strict=True))
    for note, body in notes:
        assert body.S == "/LBody" and body.P.S == "/LI" and body.P.P.S == "/L"
        assert note.P.objgen == body.objgen
        assert note.K[0].S == "/Lbl"  # the number first, then the note's words
        assert all(kid.P.objgen == note.objgen for kid in note.K)
        assert id_tree[str(note.ID)].objgen == note.objgen
    targets = {str(a.Dest) for _, a in _links(pdf) if "/Dest" in a}
    assert {f"note-{k}" for k in numbers} <= targets

"""The briefs' notes and bibliographies beside pandoc's own, made the independent way.

The project formats citations by handing pandoc a JSON document and reading its JSON
back (``policy_briefs.csl``). Here the same citation points are written as pandoc
*markdown* (``[@muro-2012, paragraph 10]``), run through ``pandoc --citeproc`` to HTML,
and the notes, in-text citations and bibliography read from that HTML: what a user of
pandoc 3.9 gets from the same CSL style, locale, references and locators. Both sides are
compared as text with italics marked (``_Title_``).

Run as a script to regenerate the golden files of the fixture project:

    python tests/support/reference_citations.py        (or: make golden-citations)
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
GOLDEN = TESTS / "golden" / "citations"
MINI = TESTS / "projects" / "mini"
# The fixture's two audiences: one note style, one in-text style.
GOLDEN_BRIEFS = {"federal": "chicago-notes-bibliography", "sme": "apa"}


def text(fragment: str) -> str:
    """HTML as comparable text: italics as _x_, no other markup, no break hints."""
    fragment = re.sub(r"</?(?:i|em)>", "_", fragment)
    fragment = re.sub(r"<[^>]+>|[\u200b\u2060]", "", fragment)
    return " ".join(html.unescape(fragment).split())


def render(project: Path, audience: str):
    """The brief's screen HTML and its Citations, rendered by the project's code."""
    from policy_briefs.project import Project
    from policy_briefs.selection import select
    from policy_briefs.templating import citations_for, jinja_environment, render_html
    from policy_briefs.validate import load_valid_corpus

    proj = Project.at(project)
    corpus, _warnings = load_valid_corpus(proj)
    brief = select(corpus, audience)
    citations = citations_for(brief, proj)
    page = render_html(jinja_environment(proj), brief, citations, medium="screen")
    return page, citations, brief


def rendered_parts(page: str) -> dict[str, list[str]]:
    """What a reader sees: notes, in-text citations (reading order), bibliography."""
    notes = re.findall(r'<li id="note-\d+">(.*?)</li>', page, re.S)
    cites = re.findall(r'<span class="citation">(.*?)</span>', page, re.S)
    entries = re.findall(r'<li id="source-[^"]+">(.*?)</li>', page, re.S)
    return {
        "notes": [text(n) for n in notes],
        "citations": [text(c) for c in cites],
        "bibliography": [text(e) for e in entries],
    }


def _markdown_point(point) -> str:
    parts = []
    for item in point:
        locator = f", {item.label} {item.locator}" if item.locator else ""
        parts.append(f"@{item.id}{locator}")
    if point[0].mode == "author-in-text":
        assert len(point) == 1, "pandoc markdown has no several-source narrative citation"
        item = point[0]
        return f"@{item.id} [{item.label} {item.locator}]" if item.locator else f"@{item.id}"
    return "[" + "; ".join(parts) + "]"


def reference_parts(citations, brief) -> dict[str, list[str]]:
    """The same points and references through pandoc's markdown reader and HTML writer."""
    from policy_briefs.csl import pandoc

    exe, _version = pandoc()
    style = citations.style
    references = [s.to_csl() for s in brief.sources.values()]
    body = "\n\n".join(
        f"::: {{#p{n}}}\n{_markdown_point(p)}\n:::" for n, p in enumerate(citations.points)
    )
    document = f"---\nlang: {brief.publication.language}\nnocite: '@*'\n---\n\n{body}\n"
    with tempfile.TemporaryDirectory() as tmp:
        refs = Path(tmp) / "refs.json"
        refs.write_text(json.dumps(references), "utf-8")
        out = subprocess.run(
            [
                str(exe),
                "--from=markdown",
                "--to=html",
                "--citeproc",
                f"--csl={style.path}",
                f"--bibliography={refs}",
                "--wrap=none",
                f"--data-dir={tmp}",
            ],
            input=document,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
    notes = [
        re.sub(r'<a href="#fnref\d+"[^>]*>.*?</a>', "", n)
        for n in re.findall(r'<li id="fn\d+">(.*?)</li>', out, re.S)
    ]
    cites = (
        []
        if style.note
        else [
            re.sub(r'^<span class="citation"[^>]*>|</span>$', "", c)
            for c in re.findall(r'<div id="p\d+">\s*<p>(.*?)</p>', out, re.S)
        ]
    )
    entries = re.findall(r'<div id="ref-(?!_)[^"]+" class="csl-entry"[^>]*>(.*?)</div>', out, re.S)
    return {
        "notes": [text(n) for n in notes],
        "citations": [text(c) for c in cites],
        "bibliography": [text(e) for e in entries],
    }


def golden_text(parts: dict[str, list[str]], version: str) -> str:
    lines = [f"# pandoc {version}: regenerate with `make golden-citations`"]
    for section in ("notes", "citations", "bibliography"):
        lines.append(f"## {section}")
        lines += parts[section]
    return "\n".join(lines) + "\n"


def parse_golden(path: Path) -> tuple[str, dict[str, list[str]]]:
    lines = path.read_text("utf-8").splitlines()
    version = re.match(r"# pandoc (\S+):", lines[0]).group(1)
    parts: dict[str, list[str]] = {}
    current = None
    for line in lines[1:]:
        if line.startswith("## "):
            current = parts.setdefault(line[3:], [])
        elif current is not None:
            current.append(line)
    return version, parts


def main() -> int:
    from policy_briefs.csl import pandoc

    _exe, version = pandoc()
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for audience, style in GOLDEN_BRIEFS.items():
        _page, citations, brief = render(MINI, audience)
        assert brief.audience.citation_style == style, (audience, style)
        path = GOLDEN / f"mini-{audience}-{style}.txt"
        path.write_text(golden_text(reference_parts(citations, brief), version), "utf-8")
        print(path.relative_to(TESTS.parent))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(TESTS.parent / "src"))
    sys.exit(main())

"""How the site names and describes a brief: its paths, what its HTML twin says about
itself, and dates and sizes worded for readers. Shared by the pages, the feed and mail."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

from ..templating import long_date


def page_path(slug: str, fmt: str) -> str:
    """Where a brief's current file lives in the site (also used in messages' links)."""
    return f"briefs/{slug}.{fmt}"


def display_date(value: str) -> str:
    """A date for readers; text that is not an ISO date is shown as written."""
    try:
        return long_date(value[:10])
    except (ValueError, TypeError):
        return value


def human_size(size: int) -> str:
    """File sizes as readers expect them on a download link: '71 KB', '1.2 MB'."""
    if size < 1000:
        return f"{size} bytes"
    if size < 1000 * 1000:
        return f"{round(size / 1000)} KB"
    return f"{size / 1000 / 1000:.1f} MB"


@dataclass
class PageFacts:
    """What a built HTML twin says about itself, for listings and messages."""

    title: str = ""
    language: str = ""
    description: str = ""
    date: str = ""


def page_facts(html: bytes) -> PageFacts:
    parser = _FactsParser()
    parser.feed(html.decode("utf-8", errors="replace"))
    parser.close()
    return parser.facts


class _FactsParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.facts = PageFacts()
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        if tag == "html":
            self.facts.language = attributes.get("lang", "")
        elif tag == "title":
            self._in_title = True
        elif tag == "meta":
            name = attributes.get("name", "").lower()
            if name == "description":
                self.facts.description = attributes.get("content", "").strip()
            elif name in ("dcterms.modified", "dcterms.created") and not (
                name == "dcterms.created" and self.facts.date
            ):
                self.facts.date = attributes.get("content", "").strip()

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.facts.title += data

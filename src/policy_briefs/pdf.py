"""HTML to PDF with WeasyPrint: no network, nothing outside the template folders, tagged.

Imported only when a PDF is actually rendered; WeasyPrint takes a while to import.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import weasyprint
from weasyprint.urls import URLFetcher, URLFetchingError

from .confine import is_inside, regular_file_problem
from .errors import BriefsError
from .pages import better_ending, break_candidates, last_page_is_sparse
from .tagging import figure_descriptions, finish, link_descriptions, note_lists

PDF_VARIANT = "pdf/ua-1"  # tagged, with /Lang and /MarkInfo: readable by screen readers


class AllowlistFetcher(URLFetcher):
    """Fetch only data: URLs and files inside the allowed folders; nothing from a network.

    The decision depends on the URL and the allowed folders alone, never on the working
    directory: a ``file:`` URL must carry an absolute path (``file:///x`` or ``file:/x``),
    with no host (``file://host/x`` names another machine's share), and the path, with
    symlinks followed, must be a regular file inside an allowed folder. What is then
    opened is that resolved path, not the URL as written.
    """

    def __init__(self, allowed: list[Path]):
        super().__init__(allowed_protocols={"file", "data"}, allow_redirects=False)
        self.allowed = [p.resolve() for p in allowed]

    def fetch(self, url, headers=None):
        verdict = self.check(url)
        return super().fetch(verdict, headers)

    def check(self, url: str) -> str:
        """The URL to open for ``url``, or URLFetchingError saying why it is refused."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "data":
            return url
        if scheme != "file":
            raise URLFetchingError(f"blocked: {url} (briefs fetch nothing from the network)")
        if parts.netloc:
            raise URLFetchingError(f"blocked: {url} names a host; only local files are read")
        path = unquote(parts.path)
        if not path.startswith("/") or path.startswith("//") or "\0" in path:
            raise URLFetchingError(f"blocked: {url} is not an absolute file path")
        resolved = Path(path).resolve()
        if not is_inside(resolved, self.allowed):
            raise URLFetchingError(f"blocked: {url} is outside the template folders")
        why = regular_file_problem(resolved)
        if why is not None:
            raise URLFetchingError(f"blocked: {url} {why}")
        return resolved.as_uri()


@dataclass
class RenderedPdf:
    data: bytes
    pages: int
    messages: list[str] = field(default_factory=list)


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@contextmanager
def captured_weasyprint_log():
    """Collect WeasyPrint's warnings and errors (bad CSS, blocked fetches) for the report."""
    handler = _Collect()
    logger = weasyprint.LOGGER
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


@functools.cache
def shared_fonts():
    """One font configuration for every brief this process renders. A new one per render
    loads the brief's eight faces again through fontconfig and Pango: about a tenth of a
    short brief's render. The print CSS has no @font-face, so nothing of one brief stays
    in it that another could see."""
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


def lay_out(
    html: str,
    *,
    base_dir: Path,
    allowed: list[Path],
    tighter: Callable[[], str] | None = None,
):
    """The laid-out pages (a ``weasyprint.Document``) of the print HTML.

    A last page that would be nearly empty is avoided, in this order (see pages.py): the
    document set more tightly (``tighter`` gives its HTML), which may bring the end back
    onto the page before; else a page break before a section that starts on the page
    before, so the last page holds enough to look intended.
    """

    def layout(text: str, forced_break: str | None = None):
        # A user stylesheet yields to the author's unless !important.
        extra = (
            [weasyprint.CSS(string=f"#{forced_break} {{ break-before: page !important }}")]
            if forced_break
            else []
        )
        return weasyprint.HTML(
            string=text,
            base_url=str(base_dir) + "/",
            url_fetcher=AllowlistFetcher(allowed),
        ).render(pdf_variant=PDF_VARIANT, stylesheets=extra, font_config=shared_fonts())

    document = layout(html)
    if last_page_is_sparse(document.pages) and tighter is not None:
        html_tight = tighter()
        tight = layout(html_tight)
        if better_ending(tight.pages, document.pages):
            document, html = tight, html_tight
    if last_page_is_sparse(document.pages):
        for heading in break_candidates(document.pages):
            moved = layout(html, forced_break=heading)
            if better_ending(moved.pages, document.pages):
                return moved
    return document


def render_pdf(
    html: str,
    *,
    base_dir: Path,
    allowed: list[Path],
    identifier: str,
    tighter: Callable[[], str] | None = None,
) -> RenderedPdf:
    """Render HTML to PDF bytes. ``identifier`` seeds the PDF /ID so builds are reproducible.

    ``tighter`` gives the same brief set more tightly, for a last page that would be
    nearly empty (see lay_out).
    """
    with captured_weasyprint_log() as records:
        try:
            document = lay_out(html, base_dir=base_dir, allowed=allowed, tighter=tighter)
            # Of the page's other <meta> tags only the brief's version goes into the
            # PDF's document information (as /Version); "viewport" and the like are
            # for browsers.
            custom = document.metadata.custom
            document.metadata.custom = (
                {"Version": custom["version"]} if custom.get("version") else {}
            )
            data = document.write_pdf(
                custom_metadata=True,
                pdf_variant=PDF_VARIANT,
                pdf_identifier=hashlib.md5(identifier.encode()).hexdigest().encode(),
                uncompressed_pdf=False,
            )
            data = finish(
                data,
                link_descriptions(document.pages),
                figure_descriptions(document.pages),
                note_lists(document.pages),
            )
        except Exception as exc:  # WeasyPrint raises many kinds; the user needs one message
            raise BriefsError(f"PDF rendering failed: {exc}") from exc
    # A second layout repeats the first one's warnings: each is reported once.
    messages = list(dict.fromkeys(f"{r.levelname.lower()}: {r.getMessage()}" for r in records))
    return RenderedPdf(data, len(document.pages), messages)

"""A fetched page as plain text: its main article text, one paragraph per line.

HTML goes through trafilatura, which drops navigation, adverts and footers. Plain-text
responses are kept as they are. The result is deterministic (same bytes in, same text
out) so that a snapshot's checksum says whether the page changed, and it is laid out
like the archived snapshots quotes are checked against: paragraphs separated by a blank
line, so "paragraph N" is the N-th non-blank line.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import cache

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain"})


class ExtractionError(Exception):
    """The response holds no text this program can archive."""


@dataclass(frozen=True)
class Extracted:
    text: str
    """The text, paragraphs separated by a blank line, ending with a newline."""
    extractor: str
    """Name and version of what produced it, e.g. 'trafilatura 2.3.1'."""


@cache
def trafilatura_name() -> str:
    from importlib.metadata import version

    return f"trafilatura {version('trafilatura')}"


def extract(
    body: bytes, content_type: str, charset: str | None = None, url: str | None = None
) -> Extracted:
    """The main text of a response body. Raises ExtractionError when there is none."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in TEXT_TYPES:
        return Extracted(_layout(_decode(body, charset).splitlines()), "plain text")
    if kind and kind not in HTML_TYPES:
        raise ExtractionError(
            f"cannot take text from a '{kind}' response; only HTML and plain "
            "text pages are archived (save other documents as text by hand)"
        )
    text = _main_text(body, charset, url)
    if not text.strip():
        raise ExtractionError("found no main text on the page")
    return Extracted(_layout(text.splitlines()), trafilatura_name())


def page_text(body: bytes, content_type: str, charset: str | None = None) -> str:
    """All the visible text of a page, furniture included: where to look for a quote that
    the main-text extraction left out, before saying the quote is gone."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in TEXT_TYPES:
        return _decode(body, charset)
    import trafilatura

    return trafilatura.html2txt(_html_input(body, charset)) or ""


def _main_text(body: bytes, charset: str | None, url: str | None) -> str:
    import trafilatura

    return (
        trafilatura.extract(
            _html_input(body, charset),
            url=url,
            output_format="txt",
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_links=False,
            include_formatting=False,
            # No cross-document deduplication: it keeps state between calls.
            deduplicate=False,
            with_metadata=False,
        )
        or ""
    )


def _html_input(body: bytes, charset: str | None) -> bytes | str:
    # Bytes let trafilatura read the page's own <meta charset>; a charset from the HTTP
    # header takes precedence, as in browsers.
    if charset and _known(charset):
        return body.decode(charset, errors="replace")
    return body


def _decode(body: bytes, charset: str | None) -> str:
    if charset and _known(charset):
        return body.decode(charset, errors="replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(body).best()
        return str(best) if best is not None else body.decode("utf-8", errors="replace")


def _known(charset: str) -> bool:
    try:
        codecs.lookup(charset)
    except LookupError:
        return False
    return True


_SPACES = re.compile(r"[ \t\u00a0]+")


def _layout(lines: list[str]) -> str:
    paragraphs = [_SPACES.sub(" ", line).strip() for line in lines]
    paragraphs = [p for p in paragraphs if p]
    return "\n\n".join(paragraphs) + "\n" if paragraphs else ""

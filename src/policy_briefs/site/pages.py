"""A brief's page on the site: its HTML twin with a site bar on top.

The twin stays as built (it is also mailed and downloaded on its own); only the copy in
the site gets the bar: the series name linking back to the index, and the PDF with its
size. The bar sits between two marker comments, so an archived copy can have its bar
replaced with links that work from the archive folder.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from html import escape

from .facts import human_size

_START = "<!-- policy-briefs site bar -->"
_END = "<!-- /policy-briefs site bar -->"
_STYLE_ID = "policy-briefs-site-bar"

# Colours from brief.css (navy, link, muted) on white: each reads at 7:1 or better.
_STYLE = f"""<style id="{_STYLE_ID}">
.site-bar {{ display: flex; flex-wrap: wrap; justify-content: space-between;
  align-items: baseline; gap: .25rem 1.5rem; padding: .7rem 0; font-family: "Inter",
  sans-serif; font-size: .85rem; border-bottom: 1px solid #c3cedb; }}
.site-bar a {{ color: #12355b; }}
.site-bar .site-home {{ font-weight: 700; text-decoration: none; }}
.site-bar .site-home:hover, .site-bar .site-home:focus-visible {{ text-decoration: underline; }}
.site-bar .site-note {{ flex-basis: 100%; margin: 0; color: #3d4654; }}
.site-bar a:focus-visible {{ outline: 3px solid #12355b; outline-offset: 2px; }}
.site-bar .visually-hidden {{ position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; }}
@media print {{ .site-bar {{ display: none; }} }}
</style>
"""


@dataclass(frozen=True)
class Bar:
    """What the bar of one page shows; paths are relative to the site's root."""

    series: str
    page: str  # where this page lives, e.g. briefs/federal.html
    pdf: str | None = None
    pdf_bytes: int = 0
    note: str = ""  # e.g. for an archived version
    current: str | None = None  # the current version's page, for an archived one


def _href(target: str, page: str) -> str:
    return escape(posixpath.relpath(target, posixpath.dirname(page) or "."), quote=True)


def _bar_html(bar: Bar) -> str:
    parts = [
        "",
        _START,
        '<nav class="site-bar" aria-label="Site">',
        f'<a class="site-home" href="{_href("index.html", bar.page)}">{escape(bar.series)}'
        '<span class="visually-hidden">: all briefs</span></a>',
    ]
    if bar.pdf:
        parts.append(
            f'<a class="site-pdf" href="{_href(bar.pdf, bar.page)}" type="application/pdf">'
            f"Download the PDF ({human_size(bar.pdf_bytes)})</a>"
        )
    if bar.note:
        note = escape(bar.note)
        if bar.current:
            note += f' <a href="{_href(bar.current, bar.page)}">Read the current version</a>.'
        parts.append(f'<p class="site-note">{note}</p>')
    parts += ["</nav>", _END]
    return "\n".join(parts)


def twin_of(page: bytes) -> bytes:
    """A site page without its bar: the twin as built (a twin without a bar unchanged)."""
    text = page.decode("utf-8")
    start, end = text.find(_START), text.find(_END)
    if 0 < start < end:
        text = text[: start - 1] + text[end + len(_END) :]
    style = text.find(f'<style id="{_STYLE_ID}">')
    if style >= 0:
        text = text[:style] + text[text.index("</style>\n", style) + len("</style>\n") :]
    return text.encode("utf-8")


def brief_page(twin: bytes, bar: Bar) -> bytes:
    """The twin with the site bar as the first thing in its body."""
    text = twin_of(twin).decode("utf-8")
    head_end = text.find("</head>")
    body = text.find("<body")
    body_end = text.find(">", body) + 1 if body >= 0 else 0
    if head_end < 0 or body < head_end or body_end <= 0:
        return twin  # not a page this tool wrote: published as built
    return (
        text[:head_end] + _STYLE + text[head_end:body_end] + _bar_html(bar) + text[body_end:]
    ).encode("utf-8")

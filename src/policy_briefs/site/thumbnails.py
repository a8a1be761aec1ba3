"""First-page pictures of the PDFs for the site's index.

Drawn with PDFium (the pypdfium2 wheel), not a browser and not poppler's pdftoppm: the
wheel carries its own PDFium, so publishing needs no system package, and the pinned
version draws the same pixels on every machine (the site stays byte-for-byte
reproducible). Encoded as WebP by Pillow with fixed settings, for the same reason.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from ..errors import BriefsError

# Shown at WIDTH CSS pixels; drawn at twice that for high-density screens.
WIDTH = 150
_SCALE = 2
# Letter and A4 pages are drawn this long at most, so a strange page size cannot make a
# huge picture.
_MAX_HEIGHT = 2 * WIDTH


@dataclass(frozen=True)
class Thumbnail:
    data: bytes
    width: int  # CSS pixels
    height: int


def first_page(pdf: bytes, what: str) -> Thumbnail:
    """A WebP picture of the first page of ``pdf`` (``what`` names it in errors)."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(pdf)
    except pdfium.PdfiumError as exc:
        raise BriefsError(f"cannot read {what} to draw its first page: {exc}") from None
    try:
        if len(document) == 0:
            raise BriefsError(f"{what} has no pages")
        page = document[0]
        points_wide, points_high = page.get_size()
        height = min(round(WIDTH * points_high / points_wide), _MAX_HEIGHT)
        scale = WIDTH * _SCALE / points_wide
        bitmap = page.render(scale=scale, draw_annots=False, may_draw_forms=False)
        image = bitmap.to_pil().convert("RGB")
        if image.height > height * _SCALE:
            image = image.crop((0, 0, image.width, height * _SCALE))
        page.close()
    finally:
        document.close()
    out = io.BytesIO()
    image.save(out, "WEBP", quality=82, method=6, exact=False)
    return Thumbnail(out.getvalue(), WIDTH, height)

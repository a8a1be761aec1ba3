"""The briefs' fonts inside HTML pages: subset WOFF2 faces as data: URLs in a <style>.

The PDF embeds Inter and Charis SIL; an HTML page would otherwise show whatever the
reader's machine has. Each page carries the faces it needs, subset to the characters it
contains, so the HTML twin stays one self-contained file (mail attaches it) and looks
the same everywhere.

Why data: URLs and not font files beside the pages: a subset inside the document it
serves is *embedding* in the sense of the SIL Open Font License FAQ (1.11, 1.12), which
allows subsets under the original name; a subset served as its own .woff2 file is a
Modified Version that may not carry a Reserved Font Name ("Charis" and "SIL" are
reserved). Every name record (copyright, licence, licence URL, vendor) is kept.

The faces come from the installed fonts (fontconfig's ``fc-match``), the same files
WeasyPrint embeds in the PDF. Subsetting a face takes a few tenths of a second, so
results are kept in the user cache, keyed by the font file's bytes, the characters and
the subsetting settings; a brief's character set rarely changes between edits.

Output is deterministic: same font file and characters give the same bytes (no
timestamp is written: ``head.modified`` keeps the original font's value).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import logging
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import usercache


@dataclass(frozen=True)
class Face:
    """One face as CSS names it; ``package`` is where a reader of a warning gets it."""

    family: str
    weight: int  # CSS: 400 regular, 500 medium, 600 semibold, 700 bold
    style: str  # "normal" or "italic"
    package: str

    @property
    def label(self) -> str:
        return f"{self.family} {self.weight}{' italic' if self.style == 'italic' else ''}"


_INTER = "fonts-inter"
_CHARIS = "fonts-sil-charis"
# The faces brief.css and brief-screen.css set (the PDF of every shipped brief embeds
# exactly these). A face a page does not use costs ~11 KB, so the list is kept to them.
BRIEF_FACES: tuple[Face, ...] = (
    Face("Inter", 400, "normal", _INTER),
    Face("Inter", 500, "normal", _INTER),
    Face("Inter", 600, "normal", _INTER),
    Face("Inter", 700, "normal", _INTER),
    Face("Inter", 400, "italic", _INTER),
    Face("Charis SIL", 400, "normal", _CHARIS),
    Face("Charis SIL", 700, "normal", _CHARIS),
    Face("Charis SIL", 400, "italic", _CHARIS),
)
# The faces site.css sets on the index page.
SITE_FACES: tuple[Face, ...] = (
    Face("Inter", 400, "normal", _INTER),
    Face("Inter", 600, "normal", _INTER),
    Face("Inter", 700, "normal", _INTER),
    Face("Charis SIL", 400, "normal", _CHARIS),
)

# fontconfig's weight scale differs from CSS's.
_FC_WEIGHT = {400: 80, 500: 100, 600: 180, 700: 200}
_FC_SLANT = {"normal": 0, "italic": 100}
# Every page gets printable ASCII whatever its text: what the site adds to a brief page
# (its navigation) then needs no face of its own, and small edits keep the cache warm.
_ALWAYS = frozenset(range(0x20, 0x7F)) | {0xA0}
# Raised whenever the subsetting settings below change: the cache key includes it.
_SETTINGS_VERSION = "1"
MARK = "policy-briefs-webfonts"


class MissingFont(Exception):
    """A face is not installed (or fontconfig is absent)."""


def characters(text: str) -> frozenset[int]:
    """The code points a page can show: its text with character references resolved."""
    return _ALWAYS | {ord(c) for c in html.unescape(text) if c.isprintable()}


def font_file(face: Face) -> Path:
    """The installed file of ``face``, as fontconfig (and so WeasyPrint) finds it."""
    return _font_file(face.family, face.weight, face.style, face.package)


@lru_cache(maxsize=64)
def _font_file(family: str, weight: int, style: str, package: str) -> Path:
    label = f"{family} {weight}{' italic' if style == 'italic' else ''}"
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        raise MissingFont(
            f"cannot look up the font {label}: fontconfig's fc-match is not installed "
            "(run .ci/system-deps build)"
        )
    pattern = f"{family}:weight={_FC_WEIGHT[weight]}:slant={_FC_SLANT[style]}"
    try:
        found = subprocess.run(
            [fc_match, "--format", "%{family}\t%{weight}\t%{slant}\t%{file}", pattern],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise MissingFont(f"cannot look up the font {label}: {exc}") from None
    families, fc_weight, fc_slant, file = (found.split("\t") + ["", "", "", ""])[:4]
    # fc-match always answers, with a fallback (DejaVu) when the family is missing.
    if (
        family not in families.split(",")
        or fc_weight.split(".")[0] != str(_FC_WEIGHT[weight])
        or fc_slant != str(_FC_SLANT[style])
        or not Path(file).is_file()
    ):
        raise MissingFont(
            f"the font {label} is not installed (Debian package {package}; "
            f"run .ci/system-deps build)"
        )
    return Path(file)


@lru_cache(maxsize=64)
def _file_digest(path: Path, size: int, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def subset_woff2(path: Path, chars: frozenset[int]) -> bytes:
    """The font at ``path`` cut down to ``chars``, as WOFF2 bytes (cached)."""
    from fontTools import version as fonttools_version

    stat = path.stat()
    key = hashlib.sha256(
        "\n".join(
            [
                _SETTINGS_VERSION,
                fonttools_version,
                _file_digest(path, stat.st_size, stat.st_mtime_ns),
                ",".join(map(str, sorted(chars))),
            ]
        ).encode()
    ).hexdigest()
    cached = usercache.load("webfonts", key)
    if isinstance(cached, str):
        try:
            return base64.b64decode(cached, validate=True)
        except ValueError:
            pass
    data = _subset(path, chars)
    usercache.store("webfonts", key, base64.b64encode(data).decode("ascii"))
    return data


def _subset(path: Path, chars: frozenset[int]) -> bytes:
    from fontTools import subset

    options = subset.Options()
    options.flavor = "woff2"
    # Keep every name record: copyright, licence and its URL, designer and vendor.
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.name_legacy = True
    # Figures as the CSS asks for them (lining-nums; tables use tabular ones).
    options.layout_features = [*options.layout_features, "lnum", "tnum"]
    # Browsers ignore Graphite tables and most hinting; both only add bytes.
    options.drop_tables = [*options.drop_tables, "Silf", "Silt", "Glat", "Gloc", "Feat", "Sill"]
    options.hinting = False
    options.desubroutinize = True
    options.recalc_timestamp = False  # same input, same bytes
    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)  # "X NOT subset" notes
    font = subset.load_font(str(path), options)
    try:
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=sorted(chars))
        subsetter.subset(font)
        buffer = io.BytesIO()
        subset.save_font(font, buffer, options)
    finally:
        font.close()
    return buffer.getvalue()


def font_face_css(text: str, faces: tuple[Face, ...]) -> tuple[str, list[str]]:
    """@font-face rules embedding ``faces`` subset to the characters of ``text``, and a
    warning per face that could not be embedded (the page then falls back to the
    reader's fonts for that face)."""
    chars = characters(text)
    rules: list[str] = []
    warnings: list[str] = []
    for face in faces:
        try:
            data = subset_woff2(font_file(face), chars)
        except MissingFont as exc:
            warnings.append(f"HTML fonts: {exc}; the page falls back to the reader's fonts")
            continue
        except Exception as exc:  # a damaged font file: the page still works without it
            warnings.append(f"HTML fonts: cannot subset {face.label}: {exc}")
            continue
        rules.append(
            "@font-face { "
            f'font-family: "{face.family}"; font-weight: {face.weight}; '
            f"font-style: {face.style}; font-display: swap; "
            f'src: url("data:font/woff2;base64,{base64.b64encode(data).decode("ascii")}") '
            'format("woff2"); }'
        )
    return "\n".join(rules), warnings


def embed_fonts(page: str, faces: tuple[Face, ...]) -> tuple[str, list[str]]:
    """``page`` with a <style> of its fonts at the end of its <head>, and any warnings."""
    css, warnings = font_face_css(page, faces)
    if not css:
        return page, warnings
    head_end = page.find("</head>")
    if head_end < 0:
        return page, [*warnings, "HTML fonts: the page has no </head>; no fonts embedded"]
    style = f'<style id="{MARK}">\n{css}\n</style>\n'
    return page[:head_end] + style + page[head_end:], warnings

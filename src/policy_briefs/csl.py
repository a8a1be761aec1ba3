"""CSL formatting by pandoc's citeproc, the reference implementation of CSL 1.0.2.

One call formats a whole document: every citation point in reading order (so positions
such as "subsequent" and "ibid" come out as the style defines them) and the bibliography.
pandoc comes from the ``pypandoc-binary`` wheel, so nothing is downloaded at run time;
it runs with an empty data folder, a time limit, and style files checked here first
(parsed without entities or network access, dependent styles refused) so it never
reaches for the network.

Output is read from pandoc's JSON document tree, not its HTML, and written out as HTML
here: the brief's markup (links, URL break points, escaping) stays ours.
"""

from __future__ import annotations

import hashlib
import html
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from markupsafe import Markup

from .errors import BriefsError, Problem, ValidationFailed

CSL_NS = "http://purl.org/net/xbiblio/csl"
# The citeproc behaviour the goldens were made with; older pandocs format differently.
MIN_PANDOC = (3, 1, 12)
TIMEOUT = 120  # seconds for one document; a brief takes well under one
_API_VERSION = [1, 23, 1]

Mode = Literal["normal", "author-in-text", "suppress-author"]
_MODES = {
    "normal": "NormalCitation",
    "author-in-text": "AuthorInText",
    "suppress-author": "SuppressAuthor",
}


@dataclass(frozen=True)
class Item:
    """One source cited at a citation point, with an optional CSL locator."""

    id: str
    label: str | None = None
    """CSL locator label: page, paragraph, section..."""
    locator: str | None = None
    prefix: str = ""
    suffix: str = ""
    mode: Mode = "normal"

    @classmethod
    def at(cls, source_id: str, locator: str | None, mode: Mode = "normal") -> Item:
        """From the findings' '<label> <value>' locator form ('paragraph 10')."""
        if not locator or not locator.split():
            return cls(source_id, mode=mode)
        label, _, value = " ".join(locator.split()).partition(" ")
        return cls(source_id, label, value or None, mode=mode)


Point = tuple[Item, ...]


@dataclass(frozen=True)
class Style:
    """A CSL style file, checked: its class decides notes or in-text citations."""

    path: Path
    note: bool
    """True for class="note" (footnote/endnote styles such as Chicago notes-bibliography)."""
    title: str = ""


@dataclass(frozen=True)
class Result:
    """A formatted document: per point, the in-text citation or the note, and the list."""

    citations: tuple[Markup, ...]
    """In-text styles: the citation as it stands in the text. Note styles: the note."""
    bibliography: tuple[tuple[str, Markup], ...] = field(default=())
    """(id, entry) in the style's order."""


# --- style files -----------------------------------------------------------------------


def style_problems(path: Path) -> list[Problem]:
    """What stops pandoc from using this style file, located in it; [] when usable."""
    try:
        load_style(path)
    except ValidationFailed as exc:
        return list(exc.problems)
    return []


@lru_cache(maxsize=32)
def _load_style(path: Path, mtime_ns: int) -> Style:
    from lxml import etree

    where = str(path)
    # No entities, no DTD, no network: a style is data from the user.
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.parse(str(path), parser).getroot()
    except etree.XMLSyntaxError as exc:
        line, col = exc.position if exc.position else (exc.lineno or 1, 1)
        message = re.sub(r", line \d+, column \d+$", "", exc.msg or str(exc))
        raise ValidationFailed(
            [
                Problem(
                    where,
                    line or 1,
                    col or 1,
                    "error",
                    f"CSL style is not well-formed XML: {message}",
                )
            ]
        ) from None
    except OSError as exc:
        raise ValidationFailed(
            [Problem(where, 1, 1, "error", f"cannot read CSL style: {exc}")]
        ) from None

    def problem(element, message: str) -> ValidationFailed:
        return ValidationFailed([Problem(where, element.sourceline or 1, 1, "error", message)])

    if root.tag != f"{{{CSL_NS}}}style":
        raise problem(root, f'not a CSL style: the root element must be <style xmlns="{CSL_NS}">')
    style_class = root.get("class")
    if style_class not in ("note", "in-text"):
        raise problem(root, f"<style class=\"{style_class}\">: class must be 'note' or 'in-text'")
    ns = {"c": CSL_NS}
    if root.find("c:citation", ns) is None:
        parent = root.find("c:info/c:link[@rel='independent-parent']", ns)
        if parent is not None:
            raise problem(
                parent,
                "a dependent style, which would be fetched from the network: "
                f"use its parent ({parent.get('href')}) as a .csl file instead",
            )
        raise problem(root, "CSL style has no <citation> element")
    title = root.findtext("c:info/c:title", default="", namespaces=ns).strip()
    return Style(path, style_class == "note", title)


def load_style(path: Path) -> Style:
    """The checked style, or ValidationFailed located in the file."""
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        raise ValidationFailed(
            [Problem(str(path), 1, 1, "error", f"cannot read CSL style: {exc}")]
        ) from None
    return _load_style(path, stamp)


# --- pandoc ----------------------------------------------------------------------------


def _bundled_pandoc() -> Path | None:
    # Found without importing pypandoc, whose import (urllib, http, ssl) costs a tenth of
    # a second of every check and build that formats citations.
    try:
        spec = importlib.util.find_spec("pypandoc")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    name = "pandoc.exe" if sys.platform == "win32" else "pandoc"
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / "files" / name
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=1)
def pandoc() -> tuple[Path, str]:
    """The bundled pandoc and its version, checked once per process."""
    path = _bundled_pandoc()
    if path is None:
        raise BriefsError(
            "pandoc not found: the citation processor comes with the "
            "'pypandoc-binary' package; reinstall policy-briefs"
        )
    try:
        out = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BriefsError(f"cannot run pandoc ({path}): {exc}") from None
    match = re.match(r"pandoc(?:\.exe)? (\d+(?:\.\d+)*)", out)
    version = match.group(1) if match else "?"
    numbers = tuple(int(n) for n in version.split(".")) if match else ()
    if numbers < MIN_PANDOC:
        raise BriefsError(
            f"pandoc {version} is too old for citations: need "
            f"{'.'.join(map(str, MIN_PANDOC))} or newer (pypandoc-binary)"
        )
    return path, version


def _str_inlines(text: str) -> list[dict]:
    inlines: list[dict] = []
    for i, word in enumerate(text.split(" ")):
        if i:
            inlines.append({"t": "Space"})
        if word:
            inlines.append({"t": "Str", "c": word})
    return inlines


def _citation(item: Item) -> dict:
    suffix: list[dict] = []
    if item.locator:
        # pandoc reads a locator from the start of the suffix: ", paragraph 3".
        suffix = [
            {"t": "Str", "c": ","},
            {"t": "Space"},
            *_str_inlines(item.label or "page"),
            {"t": "Space"},
            *_str_inlines(item.locator),
        ]
    if item.suffix:
        suffix += _str_inlines(
            item.suffix if item.suffix[0] in ",;. " or not suffix else " " + item.suffix
        )
    return {
        "citationId": item.id,
        "citationPrefix": _str_inlines(item.prefix),
        "citationSuffix": suffix,
        "citationMode": {"t": _MODES[item.mode]},
        "citationNoteNum": 0,
        "citationHash": 0,
    }


def _document(points: Sequence[Point], lang: str | None, bibliography: bool) -> dict:
    blocks = [
        {
            "t": "Div",
            "c": [
                [f"cite-{n}", [], []],
                [
                    {
                        "t": "Para",
                        "c": [
                            {
                                "t": "Cite",
                                "c": [
                                    [_citation(item) for item in point],
                                    [{"t": "Str", "c": f"[{n}]"}],
                                ],
                            }
                        ],
                    }
                ],
            ],
        }
        for n, point in enumerate(points)
    ]
    meta: dict = {}
    if lang:
        meta["lang"] = {"t": "MetaString", "c": lang}
    if bibliography:
        star = {
            "citationId": "*",
            "citationPrefix": [],
            "citationSuffix": [],
            "citationMode": {"t": "NormalCitation"},
            "citationNoteNum": 0,
            "citationHash": 0,
        }
        meta["nocite"] = {
            "t": "MetaInlines",
            "c": [{"t": "Cite", "c": [[star], [{"t": "Str", "c": "@*"}]]}],
        }
    else:
        meta["suppress-bibliography"] = {"t": "MetaBool", "c": True}
    return {"pandoc-api-version": _API_VERSION, "meta": meta, "blocks": blocks}


def process(
    style: Style,
    references: Iterable[dict],
    points: Sequence[Point],
    *,
    lang: str | None = None,
    bibliography: bool = True,
) -> Result:
    """Format every point (in reading order) and, if asked, the bibliography of all
    ``references``, in one pandoc run."""
    exe, _version = pandoc()
    refs = list(references)
    known = {r["id"] for r in refs}
    for point in points:
        for item in point:
            if item.id not in known:
                raise BriefsError(f"citation of unknown source '{item.id}'")
    if not points and not (bibliography and refs):
        return Result(())
    document = json.dumps(_document(points, lang, bibliography))
    # pandoc's output is a function of its version, the style and these two inputs, so it
    # is kept in the user cache: an edit that moves no citation formats nothing again.
    key = _cache_key(_version, style.path, refs, document)
    cached = _from_cache(key)
    if cached is not None and len(cached.citations) == len(points):
        return cached
    with tempfile.TemporaryDirectory(prefix="briefs-csl-") as tmp:
        folder = Path(tmp)
        (folder / "data").mkdir()  # an empty user data folder: no stray defaults or filters
        (folder / "refs.json").write_text(json.dumps(refs, ensure_ascii=False), "utf-8")
        command = [
            str(exe),
            "--from=json",
            "--to=json",
            "--citeproc",
            f"--data-dir={folder / 'data'}",
            f"--csl={style.path}",
            f"--bibliography={folder / 'refs.json'}",
        ]
        try:
            run = subprocess.run(
                command,
                input=document,
                capture_output=True,
                text=True,
                encoding="utf-8",
                timeout=TIMEOUT,
                cwd=folder,
            )
        except subprocess.TimeoutExpired:
            raise BriefsError(
                f"citation processor (pandoc) gave no answer within {TIMEOUT} s "
                f"formatting {len(points)} citations with {style.path}"
            ) from None
        except OSError as exc:
            raise BriefsError(f"cannot run pandoc ({exe}): {exc}") from None
    if run.returncode != 0:
        detail = " ".join(run.stderr.split())[:400] or f"exit status {run.returncode}"
        raise BriefsError(f"citation processor (pandoc) failed with {style.path}: {detail}")
    result = _read(json.loads(run.stdout), len(points))
    from . import usercache

    if key is not None:
        usercache.store(
            "citations",
            key,
            {
                "citations": [str(c) for c in result.citations],
                "bibliography": [[k, str(v)] for k, v in result.bibliography],
            },
        )
    return result


def _cache_key(version: str, style_path: Path, refs: list[dict], document: str) -> str | None:
    try:
        style_bytes = style_path.read_bytes()
    except OSError:
        return None
    h = hashlib.sha256()
    for part in (
        version.encode(),
        style_bytes,
        json.dumps(refs, sort_keys=True, ensure_ascii=False).encode(),
        document.encode(),
    ):
        h.update(f"{len(part)}\0".encode())
        h.update(part)
    return h.hexdigest()


def _from_cache(key: str | None) -> Result | None:
    from . import usercache

    if key is None:
        return None
    data = usercache.load("citations", key)
    if not isinstance(data, dict):
        return None
    try:
        return Result(
            tuple(Markup(c) for c in data["citations"]),
            tuple((str(k), Markup(v)) for k, v in data["bibliography"]),
        )
    except (TypeError, KeyError, ValueError):
        return None


# --- reading pandoc's document tree ------------------------------------------------------


def _read(doc: dict, count: int) -> Result:
    citations: list[Markup | None] = [None] * count
    entries: list[tuple[str, Markup]] = []
    for block in doc["blocks"]:
        if block["t"] != "Div":
            continue
        (ident, _classes, _attrs), content = block["c"]
        if ident.startswith("cite-"):
            citations[int(ident[5:])] = _point_text(content)
        elif ident == "refs":
            for entry in content:
                if entry["t"] == "Div" and entry["c"][0][0].startswith("ref-"):
                    entries.append((entry["c"][0][0][4:], _blocks(entry["c"][1])))
    if any(c is None for c in citations):
        raise BriefsError("citation processor (pandoc) returned a document without every citation")
    return Result(tuple(citations), tuple(entries))  # type: ignore[arg-type]


def _point_text(blocks: list[dict]) -> Markup:
    # Note styles: pandoc turned the citation into a footnote; the note is what we want.
    inlines = [i for b in blocks if b["t"] == "Para" for i in b["c"]]
    cites = [i for i in inlines if i["t"] == "Cite"]
    content = cites[0]["c"][1] if cites else inlines
    notes = [i for i in content if i["t"] == "Note"]
    if notes:
        return _blocks(notes[0]["c"])
    return Markup(_inlines(content))


def _blocks(blocks: list[dict]) -> Markup:
    return Markup(" ".join(_inlines(b["c"]) for b in blocks if b["t"] in ("Para", "Plain")))


def _inlines(inlines: list[dict]) -> str:
    return "".join(_inline(i) for i in inlines)


_WRAP = {
    "Emph": "i",
    "Strong": "b",
    "Superscript": "sup",
    "Subscript": "sub",
    "Underline": "u",
    "Strikeout": "s",
}


def _inline(node: dict) -> str:
    kind = node["t"]
    c: Any = node.get("c")
    if kind == "Str":
        return html.escape(c, quote=False)
    if kind in ("Space", "SoftBreak"):
        return " "
    if kind == "LineBreak":
        return "<br>"
    if kind in _WRAP:
        return f"<{_WRAP[kind]}>{_inlines(c)}</{_WRAP[kind]}>"
    if kind == "SmallCaps":
        return f'<span style="font-variant:small-caps;">{_inlines(c)}</span>'
    if kind == "Span":
        (_ident, classes, _attrs), content = c
        if "nodecoration" in classes or not classes:
            return _inlines(content)
        return f'<span class="{html.escape(" ".join(classes))}">{_inlines(content)}</span>'
    if kind == "Link":
        _attr, content, (target, _title) = c
        text = _inlines(content)
        if _plain(content) == target:
            text = breakable_url(target)
        return f'<a href="{html.escape(target)}">{text}</a>'
    if kind == "Quoted":
        quote = ("“", "”") if c[0]["t"] == "DoubleQuote" else ("‘", "’")
        return quote[0] + _inlines(c[1]) + quote[1]
    if kind == "Code":
        return f"<code>{html.escape(c[1], quote=False)}</code>"
    if kind == "Cite":
        return _inlines(c[1])
    if kind == "Note":
        return ""
    if kind == "RawInline":
        return ""  # citeproc emits none; never pass raw markup through
    return ""


def _plain(inlines: list[dict]) -> str:
    out = []
    for node in inlines:
        if node["t"] == "Str":
            out.append(node["c"])
        elif node["t"] in ("Space", "SoftBreak"):
            out.append(" ")
        elif isinstance(node.get("c"), list) and node["t"] in _WRAP:
            out.append(_plain(node["c"]))
    return "".join(out)


# Chicago (CMOS 18, 6.8): break a URL after a colon or a double slash; before a single
# slash, tilde, period, comma, hyphen, underline, question mark, number sign or percent
# sign; before or after an equals sign or ampersand. Never add a hyphen.
_URL_BREAK = re.compile(r"(//)|([/~.,\-_?#%])|([=&])")
_ZWSP, _WJ = "\u200b", "\u2060"


def breakable_url(url: str) -> Markup:
    """A URL's text with break opportunities where Chicago allows a line break.

    A zero-width space adds an opportunity (a <wbr> element would too, but WeasyPrint
    gives each one an empty link area in the PDF); the word joiner after a hyphen or
    slash removes the one the Unicode line-breaking rules give there, so lines end
    before them. Neither shows, nor survives text extraction from the PDF.
    """
    out: list[str] = []
    pos = 0
    scheme = re.match(r"[a-z][a-z0-9+.-]*://", url, re.I)
    if scheme:  # no break inside "https://"
        out.append(html.escape(scheme.group(0)) + _ZWSP)
        pos = scheme.end()
    for m in _URL_BREAK.finditer(url, pos):
        out.append(html.escape(url[pos : m.start()]))
        token = m.group(0)
        if m.group(1):
            out.append(token + _ZWSP)
        elif m.group(2):
            joiner = token in "/-" and m.end() < len(url)
            out.append(_ZWSP + html.escape(token) + (_WJ if joiner else ""))
        else:
            out.append(_ZWSP + html.escape(token) + _ZWSP)
        pos = m.end()
    out.append(html.escape(url[pos:]))
    return Markup("".join(out))

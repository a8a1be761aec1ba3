"""YAML files to plain data plus a location index (key path to line and column).

Only the safe loader is used. Duplicate keys, which PyYAML silently resolves to the
last value, are reported as errors, because in a findings file they almost always mean
a pasted block that overwrote a field.

Findings are untrusted data (see SECURITY.md), so every way a file can go wrong ends as
a located problem, never an exception: only regular files are read (a FIFO would block),
their size, nesting depth, node count and field length are bounded, and every error
PyYAML raises while reading, parsing or constructing is caught.

Two readers, one answer. A clean file is read from libyaml's events (C, about 25 times
faster than PyYAML's pure-Python parser), and every bound is enforced on those events
as they arrive; its locations are indexed only when a problem needs one. Anything
unusual (a syntax error, a bound passed, a duplicate key, a tag, a suspicious
character) sends the file through the pure-Python loader instead, whose located
messages are the contract: the fast reader never words a problem itself.
"""

from __future__ import annotations

import gc
import hashlib
import re
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .confine import TooLarge, read_regular, regular_file_problem
from .errors import Problem

# Limits on one YAML file. Each is far above what a real findings file needs (the largest
# shipped one is 18 KB, 7 levels deep, with fields under 2,000 characters) and low
# enough that a hostile file cannot make a check take more than a few seconds.
# A bad file is read by the pure-Python parser (about 200 KB a second) for its messages.
MAX_FILE_BYTES = 256 << 10  # 256 KiB per file, about 100 findings
# 16 MiB for all of findings/ (shipped: 80 KB; 5,000 findings: 11 MB). Clean files go
# through libyaml (over 10 MB a second), so this bounds a check of clean files.
MAX_FINDINGS_BYTES = 16 << 20
# Files with problems are read by the pure-Python parser: past 1 MiB of them in one check
# (about 5 seconds), further files with problems are named but not read.
MAX_CAREFUL_BYTES = 1 << 20
MAX_DEPTH = 32  # nesting levels; composing and validating recurse once per level
MAX_NODES = 100_000  # values after expanding aliases, so "billion laughs" files stop early
MAX_FIELD_CHARS = 10_000  # one value, about 1,500 words; prose checks grow with it

# Invisible characters that reorder or hide text: a headline can then read differently
# from what reviewers saw in the YAML ("Trojan Source"). Allowed, but flagged.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")
_INVISIBLE = re.compile(f"[{''.join(sorted(BIDI_CONTROLS | ZERO_WIDTH))}]")
# Control characters that double-quoted escapes ("\0", "\x1b") can put in a value;
# none belongs in text, and a NUL breaks file names and C libraries further on.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")

KeyPath = tuple[str | int, ...]


@dataclass
class Document:
    """A loaded YAML file: its data and where each value (and each mapping key) stands."""

    path: Path
    display: str
    data: Any
    values: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    # The text of a file read by the fast reader: indexed on the first lookup, since a
    # clean project asks for no location at all.
    unindexed: str | None = field(default=None, repr=False, compare=False)

    def locate(self, key_path: KeyPath, *, key: bool = False) -> tuple[int, int]:
        """Line and column (1-based) of the value at ``key_path``, or of its nearest parent."""
        if self.unindexed is not None:
            self._index_now()
        table = self.keys if key else self.values
        path = tuple(key_path)
        while path:
            if path in table:
                return table[path]
            if key and path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), (1, 1))

    def _index_now(self) -> None:
        text, self.unindexed = self.unindexed, None
        assert text is not None
        # libyaml's composer recurses in C once per level: it is safe only on a text the
        # fast reader vouches for (the data may have come from the user cache).
        if read_clean(text) is UNSURE:
            located, _ = _load_located(self.path, self.display, text)
            if located is not None:
                self.values, self.keys = located.values, located.keys
            return
        loader = _CLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        if node is not None:
            _index(node, (), self, [], set())

    def problem(self, key_path: KeyPath, message: str, *, severity="error", key=False) -> Problem:
        line, column = self.locate(key_path, key=key)
        return Problem(self.display, line, column, severity, message)


def display_path(path: Path, root: Path | None) -> str:
    """A path as users typed it: relative to the project when inside it."""
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def read_text(
    path: Path, display: str, *, limit: int | None = None, what: str = "findings files"
) -> tuple[str | None, list[Problem]]:
    """Read a regular file of at most ``limit`` bytes as UTF-8, reporting where the first
    undecodable byte is. Folders, FIFOs and devices are refused without being opened."""
    limit = MAX_FILE_BYTES if limit is None else limit
    why = regular_file_problem(path)
    if why is not None:
        return None, [Problem(display, 1, 1, "error", f"{why}; expected a text file")]
    try:
        raw = read_regular(path, limit)
    except TooLarge as exc:
        return None, [
            Problem(
                display,
                1,
                1,
                "error",
                f"file is {exc.size:,} bytes; {what} may be at most {limit:,} "
                "bytes (split it into smaller files)",
            )
        ]
    except OSError as exc:
        return None, [
            Problem(
                display,
                1,
                1,
                "error",
                f"cannot read the file: {exc.strerror or 'not a regular file'}",
            )
        ]
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        # Columns count characters, like editors do, not bytes.
        line_start = before.rfind(b"\n") + 1
        column = len(before[line_start:].decode("utf-8", errors="replace")) + 1
        return None, [
            Problem(
                display,
                line,
                column,
                "error",
                f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x}); "
                "save it as UTF-8 in your editor",
            )
        ]


class _LimitExceeded(yaml.MarkedYAMLError):
    """A bound on depth or size was passed; reported as it is, not as a syntax error."""


class _Loader(yaml.SafeLoader):
    """The safe loader with a bound on nesting and located errors for every value."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        # Composing recurses once per level: bound it before Python's stack is exhausted.
        if not self.check_event(yaml.MappingStartEvent, yaml.SequenceStartEvent):
            return super().compose_node(parent, index)
        if self._depth >= MAX_DEPTH:
            raise _LimitExceeded(
                problem=f"nested more than {MAX_DEPTH} levels deep; "
                "findings need only a few levels",
                problem_mark=self.peek_event().start_mark,
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node, deep=False):
        # Building a value can fail outside PyYAML's own errors: a date such as
        # 2026-13-45 (ValueError), an integer of 5,000 digits (ValueError), a key that
        # cannot be hashed. Each becomes a located constructor error.
        try:
            return super().construct_object(node, deep=deep)
        except (yaml.YAMLError, RecursionError):
            raise
        except Exception as exc:  # noqa: BLE001 - any failure here is about the input
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value ({type(exc).__name__}: {exc})", node.start_mark
            ) from None


def load_yaml(
    path: Path, root: Path | None = None, *, careful: bool = True
) -> tuple[Document | None, list[Problem]]:
    """Load one YAML file. Returns the document (None when unreadable) and its problems.

    Without ``careful``, a file the fast reader cannot vouch for is not read again by the
    pure-Python loader: it gets one error saying so (see MAX_CAREFUL_BYTES)."""
    display = display_path(path, root)
    text, problems = read_text(path, display)
    if text is None:
        return None, problems
    data = _cached_clean(text)
    if data is not UNSURE:
        return Document(path, display, data, unindexed=None if data is None else text), []
    if not careful:
        return None, [
            Problem(
                display,
                1,
                1,
                "error",
                f"not read: this file has a problem, and the files before it hold over "
                f"{MAX_CAREFUL_BYTES >> 20} MiB with problems, more than one check reads; fix "
                "those and check again",
            )
        ]
    return _load_located(path, display, text)


def _load_located(path: Path, display: str, text: str) -> tuple[Document | None, list[Problem]]:
    """The pure-Python loader: slow, and the source of every message about a file."""
    problems: list[Problem] = []
    loader = None
    try:
        # The reader checks every character when it is created, so this is inside the try.
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return Document(path, display, None), []
        doc = Document(path, display, None)
        _index(node, (), doc, problems, set())
        _check_size(node, doc, problems)
        if any(p.severity == "error" for p in problems):
            return doc, problems
        doc.data = loader.construct_document(node)
    except _LimitExceeded as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, [Problem(display, line, column, "error", exc.problem or "YAML: too large")]
    except yaml.reader.ReaderError as exc:
        line, column = _position(text, exc.position)
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        return None, [
            Problem(
                display,
                line,
                column,
                "error",
                f"YAML: the file contains the control character {char}, which "
                "YAML does not allow; remove it",
            )
        ]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or "invalid YAML"
        if exc.context:
            start = exc.context_mark
            if start and mark and start.line != mark.line:
                what = f"{exc.context} started at line {start.line + 1}: {what}"
            else:
                what = f"{exc.context}: {what}"
        if isinstance(exc, yaml.constructor.ConstructorError):
            if "cannot read this value" in what:
                return None, [Problem(display, line, column, "error", f"YAML: {what}")]
            # Tags such as !!python/object: the safe loader refuses them, rightly.
            return None, [
                Problem(
                    display,
                    line,
                    column,
                    "error",
                    f"YAML: {what}; findings files hold plain data, no tags",
                )
            ]
        return None, [Problem(display, line, column, "error", _syntax_message(what))]
    except yaml.YAMLError as exc:
        return None, [Problem(display, 1, 1, "error", f"YAML: {exc}")]
    except RecursionError:
        # Only reachable if MAX_DEPTH is set above what the stack holds.
        return None, [
            Problem(
                display,
                1,
                1,
                "error",
                "YAML: nested too deeply to read; findings need only a few levels",
            )
        ]
    finally:
        if loader is not None:
            loader.dispose()
    return doc, problems


def _position(text: str, index: int) -> tuple[int, int]:
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def _check_size(root: yaml.Node, doc: Document, problems: list[Problem]) -> None:
    """Refuse documents whose aliases expand past MAX_NODES values, or refer to themselves.

    An alias is cheap in the file but every later stage (validation, hashing, rendering)
    walks the expanded value, so nine nested aliases of ten can mean 10**9 values.
    """
    sizes: dict[int, int] = {}
    open_: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_:
            raise _Cycle(node)
        open_.add(key)
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(item) for item in node.value)
        else:
            total = 1
        open_.discard(key)
        sizes[key] = total = min(total, MAX_NODES + 1)
        return total

    try:
        total = size(root)
    except _Cycle as cycle:
        mark = cycle.node.start_mark
        problems.append(
            Problem(
                doc.display,
                mark.line + 1,
                mark.column + 1,
                "error",
                "YAML: an alias refers to the value that contains it",
            )
        )
        return
    if total > MAX_NODES:
        problems.append(
            Problem(
                doc.display,
                1,
                1,
                "error",
                f"YAML: more than {MAX_NODES:,} values once aliases (*name) are "
                "expanded; write the values out or use fewer aliases",
            )
        )


class _Cycle(Exception):
    def __init__(self, node: yaml.Node):
        self.node = node


# What PyYAML's complaints mean, in the words of someone editing a findings file; the
# first fragment found in the parser's message wins. The slips analysts make most come first.
_PLAIN_SYNTAX = (
    ("mapping values are not allowed", "a ': ' inside unquoted text; put the text in quotes"),
    ("'\\t'", "a tab character; indent with spaces, not tabs"),
    (
        "expected <block end>",
        "this line is indented differently from the lines before it; "
        "keys of one mapping, and items of one list, must line up",
    ),
    ("expected '-' indicator", "this list item does not line up with the items before it"),
    (
        "did not find expected key",
        "this line does not line up with the keys of its mapping (or a list item lacks its '- ')",
    ),
    (
        "could not find expected ':'",
        "a line that is neither 'key: value' nor a list item; a "
        "colon may be missing, or text runs on without indent",
    ),
    (
        "expected ',' or ']'",
        "a [list] is not closed with ']' before this point; close it, or "
        "put text that starts with '[' in quotes",
    ),
    (
        "expected ',' or '}'",
        "a {mapping} is not closed with '}' before this point; close it, or "
        "put text that starts with '{' in quotes",
    ),
    ("end of stream", "a quote is opened and never closed; end the text with the same mark"),
    ("undefined alias", "text that starts with '*' must be put in quotes"),
    ("unknown escape", "a backslash inside double quotes; use single quotes, or write \\\\"),
    ("cannot start any token", "text that starts with this character must be put in quotes"),
    ("expected alphabetic or numeric", "text that starts with '&' or '*' must be put in quotes"),
    (
        "expected the node content",
        "a value is missing, or text starts with a character YAML reserves; put it in quotes",
    ),
)


def _syntax_message(what: str) -> str:
    """A YAML syntax error in plain words, the parser's own words kept as a hint."""
    plain = next(
        (words for fragment, words in _PLAIN_SYNTAX if fragment in what),
        "the YAML is not well formed here",
    )
    return f"YAML syntax: {plain} (parser: {what})"


def _index(
    node: yaml.Node, path: KeyPath, doc: Document, problems: list[Problem], visited: set[int]
) -> None:
    doc.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    # An alias points at a node indexed already; walking it again would report its
    # problems twice and let nested aliases grow the walk exponentially.
    if id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            child = (*path, key)
            here = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in seen:
                problems.append(
                    Problem(
                        doc.display,
                        *here,
                        "error",
                        f"duplicate key '{key}' (first at line {seen[key]}); "
                        "YAML keeps only the last one, so remove or rename one of them",
                    )
                )
            else:
                seen[key] = here[0]
            doc.keys[child] = here
            if isinstance(key_node, yaml.ScalarNode):
                problems += _text_problems(key_node, doc.display)
            _index(value_node, child, doc, problems, visited)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), doc, problems, visited)
    elif isinstance(node, yaml.ScalarNode):
        problems += _text_problems(node, doc.display)


def _text_problems(node: yaml.ScalarNode, display: str) -> list[Problem]:
    """Over-long values, control characters (errors); invisible characters (warnings)."""
    value = node.value
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    if len(value) > MAX_FIELD_CHARS:
        return [
            Problem(
                display,
                line,
                column,
                "error",
                f"value is {len(value):,} characters long; a value may be at most "
                f"{MAX_FIELD_CHARS:,} (say it in fewer words, or split it)",
            )
        ]
    out = []
    control = _CONTROL.search(value)
    if control:
        out.append(
            Problem(
                display,
                line,
                column,
                "error",
                f"text contains the control character {_name(control.group())} "
                f"(character {control.start() + 1} of the value); remove it",
            )
        )
    invisible = _INVISIBLE.search(value)
    if invisible:
        char = invisible.group()
        kind = (
            "a bidirectional control, which can make text display in a different order "
            "than it is written"
            if char in BIDI_CONTROLS
            else "a zero-width character, which hides in text"
        )
        out.append(
            Problem(
                display,
                line,
                column,
                "warning",
                f"text contains {_name(char)} (character {invisible.start() + 1} of "
                f"the value), {kind}; remove it unless the script needs it",
            )
        )
    return out


def _name(char: str) -> str:
    return f"U+{ord(char):04X} {unicodedata.name(char, 'control character')}"


# --- the fast reader -------------------------------------------------------------------

_CLoader: Any = getattr(yaml, "CSafeLoader", None)
UNSURE = object()  # read_clean's answer when the pure loader must have its say
_STR = "tag:yaml.org,2002:str"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
# Cached readings depend on this module's code and limits as well as on the text.
_CACHE_SALT = hashlib.sha256(
    Path(__file__).read_bytes()
    + repr((MAX_DEPTH, MAX_NODES, MAX_FIELD_CHARS, yaml.__version__)).encode()
).digest()
_CONSTRUCTORS = yaml.SafeLoader.yaml_constructors
_SCALARS = yaml.constructor.SafeConstructor()  # for scalars only, which keep no state
# Plain scalars whose first character starts no implicit type (most text) are text
# without asking the resolver, which walks its regular expressions in Python.
_TYPED_FIRST = frozenset(yaml.resolver.Resolver.yaml_implicit_resolvers)
# Plain scalars that resolve to these become numbers, booleans, dates or nothing; any
# other tag (merge keys, '=', explicit tags) is left to the pure loader.
_SCALAR_TAGS = frozenset(
    f"tag:yaml.org,2002:{kind}" for kind in ("null", "bool", "int", "float", "timestamp")
)


@contextmanager
def no_gc():
    """The cyclic collector paused: reading (and validating what was read) allocates
    hundreds of thousands of containers that all survive, so the collector would scan
    the growing heap again and again for nothing (3x the time)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _cached_clean(text: str) -> Any:
    """read_clean, remembered in the user cache by the text's hash: a large project's
    files are mostly unchanged between two checks, and reading JSON is several times
    faster than parsing YAML. Only data that JSON gives back exactly is kept (text keys;
    no dates)."""
    from . import usercache

    key = hashlib.sha256(_CACHE_SALT + text.encode("utf-8", "surrogatepass")).hexdigest()
    hit = usercache.load("yaml", key)
    if isinstance(hit, dict) and "data" in hit:
        return hit["data"]
    data, exact = _read_clean(text)
    if data is not UNSURE and exact:
        usercache.store("yaml", key, {"data": data})
    return data


def read_clean(text: str) -> Any:
    """The data of a clean YAML text, read from libyaml's events; or UNSURE."""
    return _read_clean(text)[0]


def _read_clean(text: str) -> tuple[Any, bool]:
    """The data of a clean YAML text (or UNSURE), and whether JSON holds it exactly.

    Clean means: one document that libyaml parses, nested at most MAX_DEPTH levels, at
    most MAX_NODES values with aliases expanded and none inside itself, no duplicate or
    non-text key, no tag, merge key or value PyYAML could fail to construct, and no value
    the pure loader would flag (too long, control or invisible characters). Every such
    check only decides between this answer and UNSURE, so the pure loader stays the one
    place that words a problem; the two agree on every clean text (tests/test_loader.py).
    Events, not libyaml's composer, because the composer recurses in C once per level of
    nesting and a file of nested brackets would crash it before any bound is checked.
    """
    # The two parsers part ways on tabs (PyYAML refuses some that libyaml allows), a byte
    # order mark (libyaml places what follows it elsewhere) and a comment right after a
    # block scalar's indicator (libyaml allows it): those texts go the slow way. Both
    # refuse the same characters (libyaml's reader.c, PyYAML's Reader.NON_PRINTABLE), so
    # a control character fails here and is reported by the pure loader.
    if _CLoader is None or "\t" in text or "\ufeff" in text or _comment_after_indicator(text):
        return UNSURE, False
    # Without escapes or invisible characters in the text, no value can hold either.
    # (Substring tests: a regular expression over megabytes costs a tenth of a second.)
    scan_chars = "\\" in text or (
        not text.isascii() and any(char in text for char in BIDI_CONTROLS | ZERO_WIDTH)
    )
    with no_gc():
        try:
            return _read_events(text, scan_chars)
        except Exception:  # noqa: BLE001 - whatever went wrong, the pure loader words it
            return UNSURE, False


def _comment_after_indicator(text: str) -> bool:
    """Whether a '#' follows a block scalar's '|' or '>' (and its modifiers) directly."""
    at = text.find("#")
    while at > 0:
        before = text[max(0, at - 4) : at].rstrip("-+0123456789")  # "|2-#" at most
        if before.endswith(("|", ">")):
            return True
        at = text.find("#", at + 1)
    return False


def _read_events(text: str, scan_chars: bool) -> tuple[Any, bool]:
    parser = _CLoader(text)
    try:
        get = parser.get_event
        if type(get()) is not yaml.StreamStartEvent:
            return UNSURE, False
        start = get()
        if type(start) is yaml.StreamEndEvent:
            return None, True
        if type(start) is not yaml.DocumentStartEvent or start.version or start.tags:
            return UNSURE, False
        read = _read_document(get, parser.resolve, scan_chars, len(text.rstrip()))
        if read is UNSURE or type(get()) is not yaml.DocumentEndEvent:
            return UNSURE, False
        return read if type(get()) is yaml.StreamEndEvent else (UNSURE, False)
    finally:
        parser.dispose()


_NO_KEY = object()  # an open mapping's pending key when it waits for a key


def _read_document(get, resolve, scan_chars: bool, text_end: int) -> Any:
    """One document's value and whether JSON holds it exactly, built as its events
    arrive with every bound checked; or UNSURE.

    The open collection's state is kept in local variables (saved on a stack when a
    collection opens inside it), and the values read are counted once for the whole
    document: the sum of every value's expanded size, since an anchored value's size is
    what the count grew by while it was open."""
    scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
    mapping_start, sequence_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
    mapping_end, sequence_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
    max_depth, max_nodes, max_chars = MAX_DEPTH, MAX_NODES, MAX_FIELD_CHARS
    control, invisible = _CONTROL.search, _INVISIBLE.search
    scalar_node, typed_first, no_key = yaml.ScalarNode, _TYPED_FIRST, _NO_KEY
    anchors: dict[str, tuple[Any, int] | None] = {}  # name -> (value, expanded size)
    resolved: dict[str, str] = {}  # plain text -> its tag
    # The open collection: its value, whether a mapping, its pending key (or no_key),
    # the keys as written (mappings), its anchor, flow style and the count at its start.
    container: Any = None
    is_map = False
    key: Any = no_key
    raw_keys: set[str] = set()
    anchor = flow = None
    start = 0
    stack: list[tuple[Any, ...]] = []  # the same for each collection around it
    depth = 0  # open collections
    flows = 0  # open [..] and {..}
    count = 0  # values read, aliases expanded
    exact = True  # JSON would give the value back as it is: text keys, no dates
    while True:
        event = get()
        kind = type(event)
        if kind is scalar_event:
            raw = event.value
            if len(raw) > max_chars or (scan_chars and (control(raw) or invisible(raw))):
                return UNSURE
            if event.tag is not None:
                return UNSURE
            # libyaml places an empty value in a flow collection, or at the end of the
            # text, elsewhere than PyYAML does: the locations would differ.
            if not raw and (flows or event.start_mark.index >= text_end):
                return UNSURE
            if event.implicit[0] and (not raw or raw[0] in typed_first):
                # Keys and short values repeat (order, title, type, true): the resolver,
                # whose answer depends on the text alone, is asked once per text.
                tag = resolved.get(raw)
                if tag is None:
                    tag = resolve(scalar_node, raw, (True, False))
                    if len(resolved) < 1000:
                        resolved[raw] = tag
                if tag == _STR:
                    value: Any = raw
                elif tag in _SCALAR_TAGS:
                    value = _CONSTRUCTORS[tag](_SCALARS, scalar_node(tag, raw))
                    exact = exact and tag != _TIMESTAMP
                else:
                    return UNSURE
            else:
                value = raw
            count += 1
            if event.anchor is not None:
                if event.anchor in anchors:
                    return UNSURE  # PyYAML refuses an anchor defined twice
                anchors[event.anchor] = (value, 1)
        elif kind is alias_event:
            named = anchors.get(event.anchor)
            if named is None:
                return UNSURE  # undefined, or an alias inside the value it names
            value, size = named
            count += size
            raw = None
        elif kind is mapping_start or kind is sequence_start:
            if depth >= max_depth or event.tag is not None:
                return UNSURE
            if event.anchor is not None:
                if event.anchor in anchors:
                    return UNSURE
                anchors[event.anchor] = None  # open: an alias to it now would be a cycle
            if event.flow_style:
                flows += 1
            count += 1
            if count > max_nodes:
                return UNSURE
            if depth:
                stack.append((container, is_map, key, raw_keys, anchor, flow, start))
            depth += 1
            if kind is mapping_start:
                container, is_map, key, raw_keys = {}, True, no_key, set()
            else:
                container, is_map = [], False
            anchor, flow, start = event.anchor, event.flow_style, count
            continue
        elif kind is mapping_end or kind is sequence_end:
            value = container
            if flow:
                flows -= 1
            if anchor is not None:
                anchors[anchor] = (value, count - start + 1)
            depth -= 1
            if not depth:
                return (value, exact) if count <= max_nodes else UNSURE
            container, is_map, key, raw_keys, anchor, flow, start = stack.pop()
            raw = None
        else:
            return UNSURE
        if count > max_nodes:
            return UNSURE
        if not depth:
            return value, exact
        if not is_map:
            container.append(value)
        elif key is no_key:
            # A key: text or another plain scalar, never seen before in this mapping
            # (compared as written, as the pure loader does: 1 and "1" collide).
            if raw is None or raw in raw_keys:
                return UNSURE
            raw_keys.add(raw)
            key = value
            exact = exact and type(value) is str
        else:
            container[key] = value
            key = no_key

"""YAML files to plain data plus a location index (key path to line and column).

Only the safe loader is used. Duplicate keys, which PyYAML silently resolves to the
last value, are reported as errors, because in a findings file they almost always mean
a pasted block that overwrote a field.

Findings are untrusted data (see SECURITY.md), so every way a file can go wrong ends as
a located problem, never an exception: only regular files are read (a FIFO would block),
their size, nesting depth, node count and field length are bounded, and every error
PyYAML raises while reading, parsing or constructing is caught.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .confine import TooLarge, read_regular, regular_file_problem
from .errors import Problem

# Limits on one YAML file. Each is far above what a real findings file needs (the largest
# shipped one is 15 KB, 7 levels deep, with fields under 2,000 characters) and low
# enough that a hostile file cannot make a check take more than a few seconds.
MAX_FILE_BYTES = 256 << 10  # 256 KiB per file: PyYAML parses about 200 KB a second
MAX_FINDINGS_BYTES = 1 << 20  # 1 MiB for all of findings/ (shipped: 60 KB); bounds a check
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

    def locate(self, key_path: KeyPath, *, key: bool = False) -> tuple[int, int]:
        """Line and column (1-based) of the value at ``key_path``, or of its nearest parent."""
        table = self.keys if key else self.values
        path = tuple(key_path)
        while path:
            if path in table:
                return table[path]
            if key and path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), (1, 1))

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


def load_yaml(path: Path, root: Path | None = None) -> tuple[Document | None, list[Problem]]:
    """Load one YAML file. Returns the document (None when unreadable) and its problems."""
    display = display_path(path, root)
    text, problems = read_text(path, display)
    if text is None:
        return None, problems
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

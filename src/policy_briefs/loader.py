"""YAML files to plain data plus a location index (key path to line and column).

Only the safe loader is used. Duplicate keys, which PyYAML silently resolves to the
last value, are reported as errors, because in a findings file they almost always mean
a pasted block that overwrote a field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import Problem

KeyPath = tuple[str | int, ...]

# libyaml's parser when PyYAML has it: about 10x faster, with the same nodes and marks.
# A file it refuses is parsed again by the pure-Python one, whose messages users know.
_FastLoader = getattr(yaml, "CSafeLoader", None)


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


def read_text(path: Path, display: str) -> tuple[str | None, list[Problem]]:
    """Read a file as UTF-8, reporting where the first undecodable byte is."""
    raw = path.read_bytes()
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


def load_yaml(path: Path, root: Path | None = None) -> tuple[Document | None, list[Problem]]:
    """Load one YAML file. Returns the document (None when unreadable) and its problems."""
    display = display_path(path, root)
    text, problems = read_text(path, display)
    if text is None:
        return None, problems
    if _FastLoader is not None:
        fast = _parse(_FastLoader, path, display, text)
        if fast is not None:
            return fast
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(path, display, None), []
        doc = Document(path, display, None)
        _index(node, (), doc, problems, set())
        doc.data = loader.construct_document(node)
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
            # Tags such as !!python/object: the safe loader refuses them, rightly.
            return None, [Problem(display, line, column, "error",
                                  f"YAML: {what}; findings files hold plain data, no tags")]
        return None, [Problem(display, line, column, "error", f"YAML syntax: {what}{_hint(what)}")]
    except yaml.YAMLError as exc:
        return None, [Problem(display, 1, 1, "error", f"YAML: {exc}")]
    finally:
        loader.dispose()
    return doc, problems


def _parse(
    loader_class, path: Path, display: str, text: str
) -> tuple[Document | None, list[Problem]] | None:
    """The document and its problems, or None when the YAML does not parse."""
    loader = loader_class(text)
    problems: list[Problem] = []
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(path, display, None), []
        doc = Document(path, display, None)
        _index(node, (), doc, problems, set())
        doc.data = loader.construct_document(node)
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    return doc, problems


def _hint(what: str) -> str:
    # The two slips analysts make most: a colon inside unquoted text, a tab indent.
    if "mapping values are not allowed" in what:
        return "; text that contains ': ' must be put in quotes"
    if "'\\t'" in what:
        return "; indent with spaces, not tabs"
    return ""


def _index(node: yaml.Node, path: KeyPath, doc: Document, problems: list[Problem],
           visited: set[int]) -> None:
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
            _index(value_node, child, doc, problems, visited)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), doc, problems, visited)

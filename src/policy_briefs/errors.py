"""Problems (located diagnostics) and the exceptions that carry them to the CLI."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """One diagnostic, printed like a compiler's: ``path:line:col: severity: message``."""

    path: str
    line: int
    column: int
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.severity}: {self.message}"

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "message": self.message,
        }


def summarise(problems: Iterable[Problem]) -> str:
    """The closing line of a report, e.g. ``2 errors, 1 warning``."""
    problems = list(problems)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if not problems:
        return "no problems"
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return ", ".join(parts)


class BriefsError(Exception):
    """An error meant for the user: the CLI prints the message and exits non-zero."""

    exit_code = 1


class ValidationFailed(BriefsError):
    """The inputs have errors; nothing was written."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = in_reading_order(problems)
        super().__init__(summarise(self.problems))


def in_reading_order(problems: Iterable[Problem]) -> list[Problem]:
    """Problems as an editor fixes them: file by file, top to bottom."""
    return sorted(problems, key=lambda p: (p.path, p.line, p.column, p.message))


def has_errors(problems: Iterable[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)


def apply_strict(problems: Iterable[Problem], strict: bool) -> list[Problem]:
    """The --strict policy, in one place: every warning counts as an error."""
    if not strict:
        return list(problems)
    return [replace(p, severity="error") if p.severity == "warning" else p for p in problems]


def did_you_mean(value: str, choices: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The closest known name to a misspelt one, or None."""
    match = difflib.get_close_matches(value, list(choices), n=1, cutoff=cutoff)
    return match[0] if match else None

"""Problems (located diagnostics) and the exceptions that carry them to the CLI."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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
        self.problems = sorted(problems, key=_reading_order)
        super().__init__(summarise(self.problems))


def _reading_order(problem: Problem):
    return (problem.path, problem.line, problem.column, problem.message)


def has_errors(problems: Iterable[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)

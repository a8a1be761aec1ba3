"""Editing a copied project in a test, and reading the problems its check reports."""

from __future__ import annotations

from pathlib import Path

from policy_briefs.errors import ValidationFailed
from policy_briefs.project import Project
from policy_briefs.validate import load_valid_corpus


def edit(project: Path, rel: str, old: str, new: str) -> None:
    """Replace ``old``, which must occur exactly once, in the project file ``rel``."""
    path = project / rel
    text = path.read_text("utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {rel}"
    path.write_text(text.replace(old, new), "utf-8")


def problems(project: Path, **options) -> list[str]:
    """Every problem loading the project reports, as the CLI prints them."""
    try:
        _corpus, found = load_valid_corpus(Project.at(project), **options)
    except ValidationFailed as exc:
        found = exc.problems
    return [str(p) for p in found]

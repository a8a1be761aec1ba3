"""Where a project's inputs, templates and outputs live."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .confine import confined

PACKAGE_DIR = Path(__file__).resolve().parent


def default_templates_dir() -> Path:
    """The packaged default templates: inside the wheel, or the source tree's templates/."""
    packaged = PACKAGE_DIR / "templates"
    if packaged.is_dir():
        return packaged
    return PACKAGE_DIR.parent.parent / "templates"


@dataclass(frozen=True)
class Project:
    """A project folder: findings/ (inputs), templates/ (optional overrides), output/."""

    root: Path

    @classmethod
    def at(cls, root: Path | str = ".") -> "Project":
        return cls(Path(root).resolve())

    @cached_property
    def findings_dir(self) -> Path:
        return self.root / "findings"

    @cached_property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @cached_property
    def output_dir(self) -> Path:
        return self.root / "output"

    @cached_property
    def template_dirs(self) -> list[Path]:
        """Template folders, most specific first: the project's, then the packaged defaults."""
        dirs = []
        if self.templates_dir.is_dir():
            # templates/ may be a symlink, but not to a folder outside the project.
            confined(self.root, "templates", what="template folder", where=("templates", 1, 1))
            dirs.append(self.templates_dir)
        default = default_templates_dir()
        if default.is_dir() and default.resolve() not in [d.resolve() for d in dirs]:
            dirs.append(default)
        return dirs

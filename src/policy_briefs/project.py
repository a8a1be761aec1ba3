"""Where a project's inputs, templates and outputs live."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from .confine import confined
from .errors import Problem, ValidationFailed

PACKAGE_DIR = Path(__file__).resolve().parent
SETTINGS_FILE = "briefs.toml"
SOURCES_DIR_ENV = "BRIEFS_SOURCES_DIR"
# The settings a project may make in briefs.toml, and their types.
_SETTINGS = {"sources_dir": str}


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
    def at(cls, root: Path | str = ".") -> Project:
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

    def template_file(self, name: str) -> Path | None:
        """The file the template ``name`` loads, found as the template environment finds
        it (templating.jinja_environment: 'default:NAME' is the packaged NAME, else the
        name is looked up in template_dirs) but without importing Jinja; None when there
        is none. Raises OutsideRoot when the file resolves outside its folder."""
        prefix, colon, rest = name.partition(":")
        if colon and prefix == "default":
            found = find_template([default_templates_dir()], rest)
            if found is not None:
                return found
        return find_template(self.template_dirs, name)

    @cached_property
    def settings_file(self) -> Path:
        return self.root / SETTINGS_FILE

    @cached_property
    def settings(self) -> dict[str, Any]:
        """briefs.toml at the project root (TOML: read without any heavy import)."""
        import tomllib

        path = self.settings_file
        if not path.is_file():
            return {}
        where = path.name
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except UnicodeDecodeError:
            raise ValidationFailed([Problem(where, 1, 1, "error", "not UTF-8 text")]) from None
        except tomllib.TOMLDecodeError as exc:
            found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
            line, column = (int(found[1]), int(found[2])) if found else (1, 1)
            message = re.sub(r"\s*\(at line.*\)$", "", str(exc))
            raise ValidationFailed(
                [Problem(where, line, column, "error", f"TOML syntax: {message}")]
            ) from None
        problems = []
        for key, value in data.items():
            if key not in _SETTINGS:
                problems.append(
                    Problem(
                        where,
                        1,
                        1,
                        "error",
                        f"unknown setting '{key}'; settings: {', '.join(_SETTINGS)}",
                    )
                )
            elif not isinstance(value, _SETTINGS[key]):
                problems.append(
                    Problem(where, 1, 1, "error", f"{key} must be a {_SETTINGS[key].__name__}")
                )
        if problems:
            raise ValidationFailed(problems)
        return data

    def sources_dir(self, override: Path | None = None) -> Path | None:
        """Where the source snapshots are: the option, BRIEFS_SOURCES_DIR, then briefs.toml
        (relative to the project); None when nothing says."""
        if override is not None:
            return Path(override).resolve()
        if os.environ.get(SOURCES_DIR_ENV):
            return Path(os.environ[SOURCES_DIR_ENV]).resolve()
        value = self.settings.get("sources_dir")
        return (self.root / value).resolve() if value else None


def find_root(start: Path) -> Path | None:
    """The project folder ``start`` is in, as git finds a repository: the nearest folder,
    ``start`` first and then each parent, that holds briefs.toml or findings/."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        if (folder / SETTINGS_FILE).is_file() or (folder / "findings").is_dir():
            return folder
    return None


def find_template(dirs: list[Path], name: str) -> Path | None:
    """The first file ``name`` names in ``dirs``, as Jinja's FileSystemLoader looks it up
    (templating.ConfinedLoader): '/'-separated, '.' and empty pieces dropped, a piece with
    '..' or a separator naming nothing. Raises OutsideRoot when it resolves outside."""
    pieces = []
    for piece in name.split("/"):
        if os.sep in piece or (os.altsep and os.altsep in piece) or piece == os.pardir:
            return None
        if piece and piece != ".":
            pieces.append(piece)
    for folder in dirs:
        candidate = Path(folder, *pieces)
        if candidate.is_file():
            return confined(
                folder, Path(*pieces), what="template", where=(shown_path(candidate), 1, 1)
            )
    return None


def shown_path(path: Path) -> str:
    """A path relative to the working folder when inside it, as messages show it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)

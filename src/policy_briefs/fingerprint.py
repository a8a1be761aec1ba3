"""What feeds a build, as hashes: cheap enough to tell that nothing changed without loading
the findings, and detailed enough to say what changed in each brief.

Two levels:

- ``tree_hash``: every byte under findings/ and the template folders, plus the
  environment and the build request. When it equals the one recorded by a build that
  validated those very bytes and wrote the same request, there is nothing to do. It
  imports nothing heavy (no pydantic, Jinja2 or WeasyPrint), which keeps a no-op build fast.
- ``BriefInputs``: per brief, one hash per finding, theme and source it shows, one for its
  settings, one for the design (templates, CSS, citation style) and one for the
  environment. A brief's input hash is the hash of that map; ``changes`` compares two maps
  to say in words what changed.

The environment is what can change a PDF's bytes while no input changes: this tool's own
code, the installed Python distributions, the font files fontconfig can see (fallback
fonts fill glyphs the brief's fonts lack, so all of them count) and the text-shaping
libraries. Fonts are identified by path, size and modification time rather than content:
reading every font file would cost more than the whole no-op build may take.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
import sys
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .confine import TooLarge, read_regular
from .project import PACKAGE_DIR, Project

if TYPE_CHECKING:
    from .selection import Brief

# Editor droppings and caches in template folders feed no brief.
_IGNORED_SUFFIXES = ("~", ".swp", ".swo", ".tmp", ".pyc", ".bak")

# Template subfolders that shape the published site and the e-mails, not the briefs.
NOT_BRIEF_DESIGN = ("site", "mail")

# Libraries WeasyPrint shapes and subsets text with; their versions are in the file names.
_LIBRARIES = (
    "libpango-1.0.",
    "libpangoft2-1.0.",
    "libharfbuzz.",
    "libharfbuzz-subset.",
    "libfontconfig.",
    "libfreetype.",
)
_LIBRARY_DIRS = (
    "/usr/lib",
    "/usr/lib64",
    "/usr/lib/*-linux-gnu",
    "/lib/*-linux-gnu",
    "/usr/local/lib",
    "/opt/homebrew/lib",
)


def digest(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def canonical(value: Any) -> str:
    """JSON text that is the same for equal values in any process (order kept: it renders)."""
    return json.dumps(plain(value), ensure_ascii=False, separators=(",", ":"))


def plain(value: Any) -> Any:
    """Models and dataclasses as plain JSON data, so a whole Brief can be hashed."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Path):
        return value.name
    return str(value)


def input_files(folder: Path, *, skip: tuple[str, ...] = (), folders: bool = False) -> list[Path]:
    """The files under ``folder`` that can feed a build, in a stable order.

    ``skip`` names top-level subfolders to leave out. With ``folders``, sub-folders are
    listed too: an empty folder named like a findings file is an input error, and a tree
    hash that left it out would let the no-op shortcut hide it. Entries that are not
    regular files (folders, FIFOs, devices) are listed, never read: see ``entry_bytes``.
    """
    if not folder.is_dir():
        return []
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        top = dirpath == str(folder)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".") and d != "__pycache__" and not (top and d in skip)
        )
        if folders:
            found += [Path(dirpath, d) for d in dirnames]
        for name in sorted(filenames):
            if name.startswith(".") or name.endswith(_IGNORED_SUFFIXES):
                continue
            found.append(Path(dirpath, name))
    return found


# Past this a file is hashed by size alone; no input or font comes near it.
_MAX_HASHED_BYTES = 256 << 20


def entry_bytes(path: Path) -> bytes:
    """What a listed entry contributes to a hash: a regular file's bytes, or a marker of
    what else it is. A FIFO is never read (that would block the build) and a device or an
    enormous file never read to the end; the loader reports them as errors."""
    try:
        return read_regular(path, _MAX_HASHED_BYTES)
    except TooLarge as exc:
        return f"\0large file\0{exc.size}".encode()
    except OSError:
        try:
            mode = os.stat(path).st_mode
        except OSError:
            return b"\0unreadable"
        return f"\0not a regular file\0{stat.S_IFMT(mode):o}".encode()


# -- the environment -------------------------------------------------------------------


@lru_cache(maxsize=1)
def software_environment() -> dict[str, str]:
    """Hashes of what besides the inputs shapes a PDF; computed once per process."""
    return {
        "code": _code_hash(),
        "python": f"{sys.implementation.name} {'.'.join(map(str, sys.version_info[:3]))}",
        "packages": _packages_hash(),
        "fonts": _fonts_hash(),
        "libraries": _libraries_hash(),
    }


def environment_hash() -> str:
    return digest(json.dumps(software_environment(), sort_keys=True))


def _code_hash() -> str:
    # Hashing the source, not just the version, keeps a development checkout honest:
    # an edited module changes the hash even though the version number stays the same.
    h = hashlib.sha256()
    for path in input_files(PACKAGE_DIR):
        if path.suffix == ".py":
            h.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def _packages_hash() -> str:
    # Distribution folder names carry name and version (weasyprint-70.0.dist-info);
    # listing them is far cheaper than importing importlib.metadata and asking each.
    names: set[str] = set()
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as it:
                names.update(e.name for e in it if e.name.endswith((".dist-info", ".egg-info")))
        except OSError:
            continue
    return digest("\n".join(sorted(names)))


def _fonts_hash() -> str:
    import subprocess

    try:
        listing = subprocess.run(
            ["fc-list", "--format", "%{file}\n"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        listing = ""  # without fontconfig WeasyPrint cannot render; the build says so
    lines = []
    for name in sorted(set(listing.splitlines())):
        try:
            st = os.stat(name)
        except OSError:
            continue
        lines.append(f"{name}\t{st.st_size}\t{int(st.st_mtime)}")
    return digest("\n".join(lines))


def _libraries_hash() -> str:
    import glob

    found = set()
    for pattern in _LIBRARY_DIRS:
        for folder in glob.glob(pattern):
            try:
                with os.scandir(folder) as it:
                    names = [e.name for e in it]
            except OSError:
                continue
            for name in names:
                if name.startswith(_LIBRARIES) and (".so" in name or name.endswith(".dylib")):
                    path = os.path.join(folder, name)
                    found.add(f"{name} -> {os.path.basename(os.path.realpath(path))}")
    return digest("\n".join(sorted(found)))


# -- level 1: the whole tree -----------------------------------------------------------


def tree_hash(project: Project, request: dict, sources_dir: Path | None = None) -> str:
    """Every input byte of ``project`` (findings, templates, settings, the source snapshots
    quotes are verified against), the environment and the request, as one hash."""
    h = hashlib.sha256()

    def feed(label: str, data: bytes) -> None:
        h.update(f"{label}\0{len(data)}\0".encode())
        h.update(data)

    feed("request", json.dumps(request, sort_keys=True).encode())
    feed("environment", environment_hash().encode())
    for path in input_files(project.findings_dir, folders=True):
        feed(f"findings/{path.relative_to(project.findings_dir).as_posix()}", entry_bytes(path))
    for n, folder in enumerate(project.template_dirs):
        for path in input_files(folder, folders=True):
            feed(f"templates{n}/{path.relative_to(folder).as_posix()}", entry_bytes(path))
    if project.settings_file.is_file():
        feed("settings", entry_bytes(project.settings_file))
    # The snapshots' names and bytes count, not where the folder is: a copy of the project
    # elsewhere hashes the same.
    feed("sources_dir", b"set" if sources_dir is not None else b"none")
    if sources_dir is not None:
        for path in input_files(sources_dir, folders=True):
            feed(f"sources/{path.relative_to(sources_dir).as_posix()}", entry_bytes(path))
    return h.hexdigest()


# -- level 2: one brief ----------------------------------------------------------------


def design_hash(template_dirs: list[Path], style: Path | None) -> str:
    """Templates, CSS, fonts and images in the template folders, and the citation style.

    Files are named by their path inside the folders, not by the folder's location, so a
    copy of the project elsewhere hashes the same. A file hidden behind a same-named one
    in an earlier folder still counts: templates can extend it as "default:<name>".
    Every file counts, not only the templates one brief includes: CSS can pull in fonts and
    images, and a missed dependency would leave a stale brief, which is worse than a
    rebuild too many.
    """
    h = hashlib.sha256()
    seen: set[str] = set()
    for folder in template_dirs:
        for path in input_files(folder, skip=NOT_BRIEF_DESIGN):
            name = path.relative_to(folder).as_posix()
            label = name if name not in seen else f"default:{name}"
            seen.add(name)
            data = entry_bytes(path)
            h.update(f"{label}\0{len(data)}\0".encode())
            h.update(data)
    if style is not None:
        data = style.read_bytes()
        h.update(f"style\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


class BriefInputs:
    """Computes each brief's input map; design hashes are shared by briefs in one build."""

    def __init__(self, project: Project, template_dirs: list[Path] | None = None):
        self.project = project
        self.template_dirs = template_dirs if template_dirs is not None else project.template_dirs
        self._design: dict[str, str] = {}

    def design(self, citation_style: str) -> str:
        if citation_style not in self._design:
            from .citations import find_style

            style = find_style(citation_style, self.template_dirs)
            self._design[citation_style] = design_hash(self.template_dirs, style)
        return self._design[citation_style]

    def of(self, brief: Brief) -> dict:
        """The input map of one brief: what the manifest stores and ``changes`` compares."""
        findings: dict[str, str] = {}
        fields: dict[str, dict[str, str]] = {}
        for finding in [item.finding for item in brief.items] + [
            f for pair in brief.disagreements for f in (pair.first, pair.second)
        ]:
            if finding.id not in findings:
                findings[finding.id] = digest(finding.model_dump_json())
                fields[finding.id] = finding_fields(finding)
        return {
            # The whole brief as selected: covers order, takeaways, contrasts, and any
            # field a template may read that the finer hashes below do not name.
            # Findings left out by max_findings are not rendered: editing one must not
            # render the brief again.
            "brief": digest(canonical(dataclasses.replace(brief, left_out=[]))),
            "findings": findings,
            # Per finding, a hash per field, so a change report can name what was edited.
            # Beside "findings", not inside it: a baseline recorded before it still reads.
            "finding_fields": fields,
            "themes": {s.theme.id: digest(s.theme.model_dump_json()) for s in brief.sections},
            "sources": {
                k: digest(brief.sources[k].model_dump_json()) for k in sorted(brief.sources)
            },
            "settings": {
                "title": digest(canonical([brief.slug, brief.title, brief.custom])),
                "audience": digest(brief.audience.model_dump_json()),
                "publication": digest(brief.publication.model_dump_json()),
                "glossary": digest(canonical(brief.glossary)),
            },
            "design": self.design(brief.audience.citation_style),
            "environment": dict(software_environment()),
        }


def shown_hash(brief: Brief) -> str:
    """What a reader of ``brief`` sees, as one hash of the authored inputs it shows: its
    slug, title and argument, which findings it shows in which sections and order (its
    takeaways and disagreements too), each of those findings with only this audience's
    entry (another audience's implication never shows here), their themes and cited
    sources, the audience's and the publication's settings, the glossary, and what the
    build verified of its quotations.

    Models are dumped without their defaults, and the tool's own working (attribution
    lines, numbering) is not hashed: an upgrade of this tool changes the hash only when
    it changes which findings a brief shows, or where. Findings max_findings left out and
    the version itself (derived from this hash, versions.py) are not part of it.
    """
    audience = brief.audience.id

    def dump(model: Any) -> Any:
        return model.model_dump(mode="json", exclude_defaults=True)

    def finding(model: Any) -> Any:
        data = dump(model)
        data["audiences"] = {audience: (data.get("audiences") or {}).get(audience)}
        return data

    shown = [item.finding for item in brief.items] + [
        f for pair in brief.disagreements for f in (pair.first, pair.second)
    ]
    checked = brief.verification
    data = {
        "brief": [brief.slug, brief.title, brief.argued, brief.argument, brief.draft],
        "sections": [[s.theme.id, [i.id for i in s.items]] for s in brief.sections],
        "takeaways": [i.id for i in brief.takeaways],
        "disagreements": [[d.first.id, d.second.id, d.note] for d in brief.disagreements],
        "findings": {f.id: finding(f) for f in shown},
        "themes": {s.theme.id: dump(s.theme) for s in brief.sections},
        "sources": {k: dump(brief.sources[k]) for k in sorted(brief.sources)},
        "audience": dump(brief.audience),
        "publication": dump(brief.publication),
        "glossary": [dump(g) for g in brief.glossary],
        "verified": (
            [checked.quotes, checked.verified, checked.sources, checked.accessed]
            if checked
            else None
        ),
    }
    return digest(json.dumps(data, ensure_ascii=False, sort_keys=True))


def finding_fields(finding: Any) -> dict[str, str]:
    """A hash per field of a finding; each audience's entry counts as a field of its own
    (``audiences.sme``), since a brief shows only its audience's."""
    out: dict[str, str] = {}
    for name, value in plain(finding).items():
        if name == "audiences" and isinstance(value, dict):
            out.update({f"audiences.{k}": digest(canonical(v)) for k, v in value.items()})
        else:
            out[name] = digest(canonical(value))
    return out


def input_hash(inputs: dict) -> str:
    """The brief's cache key: equal hashes mean equal outputs."""
    return digest(json.dumps(inputs, sort_keys=True))

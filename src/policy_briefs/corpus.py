"""Load every findings file into typed models, turning schema errors into located problems."""

from __future__ import annotations

import gc
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .confine import confinement_problem
from .errors import Problem, did_you_mean
from .loader import MAX_CAREFUL_BYTES, MAX_FINDINGS_BYTES, Document, KeyPath, load_yaml, no_gc
from .models import (
    FILE_MODELS,
    THEME_MODEL,
    Audience,
    Edition,
    Finding,
    GlossaryEntry,
    Publication,
    Source,
    Theme,
    ThemeFile,
)
from .project import Project


@dataclass
class Located:
    """Where an item came from, so later checks can point at it."""

    document: Document
    path: KeyPath

    def problem(self, message: str, *, at: KeyPath = (), severity="error", key=False) -> Problem:
        return self.document.problem((*self.path, *at), message, severity=severity, key=key)


@dataclass
class Corpus:
    """Everything a project's findings/ folder says, parsed but not yet cross-checked."""

    project: Project
    publication: Publication | None = None
    sources: dict[str, Source] = field(default_factory=dict)
    themes: dict[str, Theme] = field(default_factory=dict)
    findings: dict[str, Finding] = field(default_factory=dict)
    finding_theme: dict[str, str] = field(default_factory=dict)
    audiences: dict[str, Audience] = field(default_factory=dict)
    glossary: list[GlossaryEntry] = field(default_factory=list)
    # Declared briefs beyond one per audience (editions.yaml), by slug.
    editions: dict[str, Edition] = field(default_factory=dict)
    # (kind, id) -> where it was written, for located cross-check problems
    where: dict[tuple[str, str], Located] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    # Sources whose snapshot every quote was verified against (set by validation).
    verified_sources: set[str] = field(default_factory=set)

    def themes_in_order(self) -> list[Theme]:
        return sorted(self.themes.values(), key=lambda t: (t.order, t.id))


def load_corpus(project: Project, *, freeze: bool = False) -> tuple[Corpus, list[Problem]]:
    """Read findings/*.yaml. Returns what parsed and every problem found on the way.

    With ``freeze``, what was read is then moved out of the cyclic collector's sight
    (gc.freeze): it lives as long as the corpus, and a large project's hundreds of
    thousands of objects would otherwise be scanned by every full collection after (a
    tenth of a second or more). The caller undoes it with gc.unfreeze() when done."""
    corpus = Corpus(project)
    problems: list[Problem] = []
    folder = project.findings_dir
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")) if folder.is_dir() else []
    if not files:
        problems.append(
            Problem(
                _shown(folder, project),
                1,
                1,
                "error",
                "no findings files here: run the command in a project folder, pass "
                "--project DIR, or create findings/sources.yaml and a theme file",
            )
        )
        return corpus, problems
    corpus.files = files
    total = sum(path.stat().st_size for path in files if path.is_file())
    if total > MAX_FINDINGS_BYTES:
        problems.append(
            Problem(
                _shown(folder, project),
                1,
                1,
                "error",
                f"the findings files hold {total:,} bytes together; at most {MAX_FINDINGS_BYTES:,} "
                "are read (split the project, or remove files that are not findings)",
            )
        )
        return corpus, problems
    with no_gc():
        _load_files(project, files, corpus, problems)
        if freeze:
            # Before the collector is back, or its first young collection scans it all.
            gc.freeze()
    for name in ("sources.yaml", "audiences.yaml", "publication.yaml"):
        if not (folder / name).is_file():
            problems.append(
                Problem(
                    f"{folder.relative_to(project.root).as_posix()}/{name}",
                    1,
                    1,
                    "error",
                    f"missing {name}: every project needs one (see README, 'Inputs')",
                )
            )
    if not corpus.findings and not any(p.severity == "error" for p in problems):
        problems.append(
            Problem(
                "findings",
                1,
                1,
                "error",
                "no findings: add a theme file such as findings/workforce.yaml",
            )
        )
    return corpus, problems


def _load_files(
    project: Project, files: list[Path], corpus: Corpus, problems: list[Problem]
) -> None:
    """Read and parse each findings file into ``corpus``, collecting problems."""
    careful = 0  # bytes of files with problems so far
    for path in files:
        # A findings file may be a symlink, but not to anything outside the project.
        relative = path.relative_to(project.root) if path.is_relative_to(project.root) else path
        _, outside = confinement_problem(
            project.root, relative, what="findings file", where=(relative.as_posix(), 1, 1)
        )
        if outside is not None:
            problems.append(outside)
            continue
        doc, found = load_yaml(path, project.root, careful=careful < MAX_CAREFUL_BYTES)
        if found:  # read by the pure-Python loader, which is slow
            careful += path.stat().st_size if path.is_file() else 0
        problems += found
        if doc is None or any(p.severity == "error" for p in found):
            continue
        _parse(doc, corpus, problems)


def _shown(folder: Path, project: Project) -> str:
    return str(folder.relative_to(project.root) if folder.is_relative_to(project.root) else folder)


def _parse(doc: Document, corpus: Corpus, problems: list[Problem]) -> None:
    model = FILE_MODELS.get(doc.path.name, THEME_MODEL)
    if not isinstance(doc.data, dict):
        kinds = "theme and findings" if model is THEME_MODEL else ", ".join(model.model_fields)
        what = "the file is empty" if doc.data is None else "expected a mapping"
        problems.append(doc.problem((), f"{what}: it needs the top-level key(s) {kinds}"))
        return
    try:
        parsed = model.model_validate(doc.data)
    except ValidationError as exc:
        problems += [problem_from(error, doc, model) for error in exc.errors()]
        return
    if hasattr(parsed, "sources"):
        for i, source in enumerate(parsed.sources):
            _add(corpus, problems, "source", source.id, source, corpus.sources, doc, ("sources", i))
    elif hasattr(parsed, "audiences"):
        for i, audience in enumerate(parsed.audiences):
            _add(
                corpus,
                problems,
                "audience",
                audience.id,
                audience,
                corpus.audiences,
                doc,
                ("audiences", i),
            )
    elif hasattr(parsed, "editions"):
        for i, edition in enumerate(parsed.editions):
            _add(
                corpus,
                problems,
                "edition",
                edition.slug,
                edition,
                corpus.editions,
                doc,
                ("editions", i),
                id_field="slug",
            )
    elif hasattr(parsed, "publication"):
        corpus.publication = parsed.publication
        corpus.where[("publication", "")] = Located(doc, ("publication",))
    elif hasattr(parsed, "glossary"):
        seen: dict[str, int] = {}
        for i, entry in enumerate(parsed.glossary):
            if entry.term in seen:
                problems.append(
                    doc.problem(("glossary", i, "term"), f"duplicate glossary term '{entry.term}'")
                )
            seen[entry.term] = i
            corpus.glossary.append(entry)
            corpus.where[("term", entry.term)] = Located(doc, ("glossary", i))
    else:
        assert isinstance(parsed, ThemeFile)
        theme = parsed.theme
        if theme.id != doc.path.stem:
            problems.append(
                doc.problem(
                    ("theme", "id"),
                    f"theme id '{theme.id}' must equal the file name "
                    f"'{doc.path.stem}': rename one of them",
                )
            )
        if _add(corpus, problems, "theme", theme.id, theme, corpus.themes, doc, ("theme",)):
            for i, finding in enumerate(parsed.findings):
                if _add(
                    corpus,
                    problems,
                    "finding",
                    finding.id,
                    finding,
                    corpus.findings,
                    doc,
                    ("findings", i),
                ):
                    corpus.finding_theme[finding.id] = theme.id


def _add(corpus, problems, kind, item_id, item, table, doc, path, id_field="id") -> bool:
    key = (kind, item_id)
    if key in corpus.where:
        first = corpus.where[key]
        line, _ = first.document.locate(first.path)
        problems.append(
            doc.problem(
                (*path, id_field),
                f"duplicate {kind} {id_field} '{item_id}' "
                f"(first defined at {first.document.display}:{line})",
            )
        )
        return False
    table[item_id] = item
    corpus.where[key] = Located(doc, path)
    return True


# --- pydantic errors to located problems ----------------------------------------------


def problem_from(error: Mapping[str, Any], doc: Document, model: type[BaseModel]) -> Problem:
    """A pydantic error as a located problem, with typo hints for unknown fields."""
    loc = tuple(error["loc"])
    # pydantic appends the failing member of a union or a validator name; drop non-keys
    loc = tuple(p for p in loc if isinstance(p, int) or not str(p).startswith("function-"))
    where = _dotted(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        allowed = _field_names(parent) if parent else []
        hint = did_you_mean(str(loc[-1]), allowed)
        if hint:
            message = f"{where}: unknown field '{loc[-1]}' (a typo? did you mean '{hint}'?)"
        else:
            message = f"{where}: unknown field '{loc[-1]}'"
            if allowed:
                message += f"; allowed here: {', '.join(allowed)}"
        return doc.problem(loc, message, key=True)
    if kind == "missing":
        return doc.problem(loc[:-1], f"{where}: required field '{loc[-1]}' is missing", key=True)
    message = error["msg"]
    if kind == "string_pattern_mismatch":
        message = _pattern_hint(loc, error)
    elif kind == "value_error":
        message = str(error.get("ctx", {}).get("error") or message.removeprefix("Value error, "))
    elif kind == "literal_error":
        message = f"{message}, not '{error.get('input')}'"
    elif kind.endswith("_type"):
        got = type(error.get("input")).__name__
        message = f"{message} (got {_yaml_type(got)})"
    return doc.problem(loc, f"{where}: {message}")


def _pattern_hint(loc: KeyPath, error: Mapping[str, Any]) -> str:
    name = str(loc[-1]) if loc else ""
    value = error.get("input")
    if name in ("id", "source", "finding") or (len(loc) > 1 and loc[-2] == "audiences"):
        return f"'{value}' is not a valid id: use lowercase letters, digits and hyphens"
    if name == "locator":
        return f"'{value}' is not a locator: write '<label> <value>', e.g. 'paragraph 6'"
    if name in ("issued", "accessed", "date"):
        return f"'{value}' is not a date: write YYYY, YYYY-MM or YYYY-MM-DD"
    if name == "DOI":
        return f"'{value}' is not a DOI: write it without a prefix, e.g. '10.1787/abc-en'"
    if name == "citation_style":
        return (
            f"'{value}' is not a style name: use a CSL style such as 'apa', or the name "
            "of a .csl file in templates/styles/ (a name, not a path)"
        )
    if name in ("URL", "url"):
        return f"'{value}' is not a web address: start it with https:// or http://"
    return f"'{value}' does not have the expected form ({error['msg']})"


def _yaml_type(python_type: str) -> str:
    return {
        "dict": "a mapping",
        "list": "a list",
        "str": "text",
        "int": "a number",
        "float": "a number",
        "bool": "true/false",
        "NoneType": "nothing",
    }.get(python_type, python_type)


def _dotted(loc: KeyPath) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def bare_type(tp: Any) -> Any:
    """A field's type without Annotated[...] and Optional[...] around it."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _model_at(model: type[BaseModel], loc: KeyPath) -> type[BaseModel] | None:
    tp: Any = model
    for part in loc:
        tp = bare_type(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = {f.alias or n: f for n, f in tp.model_fields.items()}
            if part not in fields:
                return None
            tp = fields[part].annotation
        elif origin is list:
            tp = typing.get_args(tp)[0]
        elif origin is dict:
            tp = typing.get_args(tp)[1]
        else:
            return None
    tp = bare_type(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]

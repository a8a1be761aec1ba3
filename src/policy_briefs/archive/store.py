"""Archive a source: fetch its page, store the text as a snapshot, record the provenance.

The snapshot goes into the sources folder (the one `briefs check --sources-dir` reads),
and the source's entry in findings/sources.yaml gets ``snapshot``, ``provenance`` and
``accessed`` (the real retrieval date). That entry is edited in place with a round-trip
YAML parser, so the analyst's comments, quoting and layout stay as they wrote them.
An existing snapshot with different text is never overwritten unless asked to.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..corpus import Corpus, load_corpus
from ..errors import BriefsError, Problem, ValidationFailed, has_errors
from ..evidence import Snapshot
from ..files import sha256_bytes, sha256_file, write_atomic
from ..models import Provenance, SourcesFile
from ..project import Project
from .extract import ExtractionError, extract
from .fetch import Fetcher, FetchResult, FetchSettings, Hop, settings_for

SOURCES_FILE = "sources.yaml"


def default_sources_dir(project: Project) -> Path:
    """The project's sources folder: BRIEFS_SOURCES_DIR or its briefs.toml ``sources_dir``
    if it has one, else sources/."""
    return project.sources_dir() or project.root / "sources"


@dataclass(frozen=True)
class QuoteRef:
    """One quote that cites a source: which finding, which evidence item, what it says."""

    finding: str
    index: int
    quote: str


@dataclass
class ArchiveReport:
    """What `archive_source` did."""

    source_id: str
    snapshot: Path
    """The snapshot file the source's entry now names."""
    provenance: Provenance
    written: bool
    """False when the same text was already stored under that name."""
    replaced: str | None = None
    """The snapshot file overwritten (only with ``replace``)."""
    previous: str | None = None
    """The snapshot the entry named before, when it now names another file."""
    url_added: bool = False
    """True when the entry had no URL and got the one fetched."""
    hops: list[Hop] = field(default_factory=list)
    missing_quotes: list[QuoteRef] = field(default_factory=list)
    """Quotes citing this source that the new text does not contain."""
    sources_file: Path | None = None
    reformatted: bool = False
    """True when sources.yaml could not be rewritten byte for byte outside the entry."""
    layout_reset: bool = False
    """True when the entry's body and sections were dropped: they named lines of the old
    text, and the extracted text holds only the page's main text."""


def archive_source(
    project: Project,
    source_id: str,
    sources_dir: Path,
    url: str | None = None,
    *,
    replace: bool = False,
    settings: FetchSettings | None = None,
    fetcher: Fetcher | None = None,
) -> ArchiveReport:
    """Fetch a source's page and archive its main text with provenance.

    Raises BriefsError when the source is unknown, has no address, or the page cannot
    be fetched or read; ValidationFailed when sources.yaml itself has errors.
    """
    corpus = _load_sources(project)
    source = corpus.sources.get(source_id)
    if source is None:
        raise BriefsError(
            f"no source '{source_id}' in findings/{SOURCES_FILE}"
            f"{_did_you_mean(source_id, corpus.sources)}"
        )
    url = url or source.URL
    if not url:
        raise BriefsError(
            f"source '{source_id}' has no URL: give the address, "
            f"`briefs sources archive {source_id} https://...`"
        )

    own_fetcher = fetcher is None
    fetcher = fetcher or Fetcher(settings_for(settings, corpus.publication))
    try:
        result = fetcher.fetch(url)
    finally:
        if own_fetcher:
            fetcher.close()
    _require_page(result)
    try:
        extracted = extract(result.body, result.content_type, result.charset, result.final_url)
    except ExtractionError as exc:
        raise BriefsError(f"{result.final_url}: {exc}") from None

    data = extracted.text.encode("utf-8")
    digest = sha256_bytes(data)
    retrieved = result.retrieved
    # _require_page refused a fetch without an answer; these are set for every page.
    assert retrieved is not None and result.status is not None
    name, write, replaced = _snapshot_name(
        sources_dir, source_id, source.snapshot, digest, retrieved.date().isoformat(), replace
    )
    provenance = Provenance(
        url=url,
        final_url=result.final_url,
        status=result.status,
        retrieved=retrieved.strftime("%Y-%m-%dT%H:%M:%SZ"),
        sha256=digest,
        extractor=extracted.extractor,
    )
    path = sources_dir / name
    if write:
        write_atomic(path, data)
    located = corpus.where[("source", source_id)]
    entry_index = located.path[1]
    changes: dict[str, Any] = {
        "accessed": retrieved.date().isoformat(),
        "snapshot": name,
        "provenance": provenance.model_dump(),
    }
    url_added = not source.URL
    if url_added:
        changes["URL"] = url
    # Line ranges of another text would point at the wrong lines (or none) in this one.
    layout_reset = bool(
        (source.body or source.sections)
        and name != source.snapshot
        or (source.body or source.sections)
        and replaced
    )
    if layout_reset:
        changes["body"] = None
        changes["sections"] = None
    reformatted = update_source_entry(located.document.path, int(entry_index), source_id, changes)

    snapshot = (
        Snapshot(name, extracted.text)
        if layout_reset
        else Snapshot(
            name,
            extracted.text,
            tuple(source.body) if source.body else None,  # type: ignore[arg-type]
            {k: (v[0], v[1]) for k, v in source.sections.items()},
        )
    )
    missing = [q for q in quotes_citing(corpus, source_id) if not snapshot.paragraphs_with(q.quote)]
    return ArchiveReport(
        source_id=source_id,
        snapshot=path,
        provenance=provenance,
        written=write,
        replaced=replaced,
        previous=source.snapshot if source.snapshot != name else None,
        url_added=url_added,
        hops=result.hops,
        missing_quotes=missing,
        sources_file=located.document.path,
        reformatted=reformatted,
        layout_reset=layout_reset,
    )


def quotes_citing(corpus: Corpus, source_id: str) -> list[QuoteRef]:
    return [
        QuoteRef(finding_id, i, ev.quote)
        for finding_id, finding in corpus.findings.items()
        for i, ev in enumerate(finding.evidence)
        if ev.source == source_id
    ]


def _load_sources(project: Project) -> Corpus:
    """The corpus, refusing only when sources.yaml itself has errors: a slip in a theme
    file must not stop an analyst from archiving a page."""
    corpus, problems = load_corpus(project)
    in_sources = [p for p in problems if Path(p.path).name == SOURCES_FILE]
    if has_errors(in_sources) or not corpus.sources:
        raise ValidationFailed(
            in_sources
            or problems
            or [Problem(f"findings/{SOURCES_FILE}", 1, 1, "error", "no sources")]
        )
    return corpus


def _require_page(result: FetchResult) -> None:
    if result.error:
        raise BriefsError(f"{result.final_url}: {result.error}")
    if not result.ok:
        via = f" (redirected from {result.url})" if result.redirected else ""
        raise BriefsError(f"{result.final_url}{via}: HTTP {result.status}; nothing archived")


def _snapshot_name(
    sources_dir: Path, source_id: str, current: str | None, digest: str, date: str, replace: bool
) -> tuple[str, bool, str | None]:
    """(file name, whether to write it, the file replaced). Never a silent overwrite."""
    if current and _inside(sources_dir, current):
        path = sources_dir / current
        if not path.is_file():
            return current, True, None
        if sha256_file(path) == digest:
            return current, False, None
        if replace:
            return current, True, current
    elif current and replace:
        raise BriefsError(
            f"snapshot '{current}' is outside {sources_dir}; it is not replaced. "
            "Run without --replace to archive to a new file there"
        )
    candidates = ([] if current else [f"{source_id}.txt"]) + [
        f"{source_id}-{date}.txt",
        f"{source_id}-{date}-{digest[:12]}.txt",
    ]
    for name in candidates:
        path = sources_dir / name
        if not path.exists():
            return name, True, None
        if path.is_file() and sha256_file(path) == digest:
            return name, False, None
    raise BriefsError(
        f"{sources_dir / candidates[-1]} exists with other content; move it away or pass --replace"
    )


def _inside(folder: Path, name: str) -> bool:
    try:
        (folder / name).resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _did_you_mean(value: str, choices) -> str:
    import difflib

    match = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


# --- sources.yaml, edited in place ---------------------------------------------------

# Where a key goes when the entry does not have it yet: after the last of these present.
_PLACE_AFTER = {
    "URL": (
        "ISBN",
        "DOI",
        "issued",
        "publisher-place",
        "publisher",
        "container-title",
        "editor",
        "author",
        "title",
    ),
    "accessed": ("URL", "ISBN", "DOI", "issued"),
    "snapshot": (),
    "provenance": ("snapshot",),
}


def update_source_entry(path: Path, index: int, source_id: str, changes: dict[str, Any]) -> bool:
    """Set keys of ``sources[index]`` in a sources.yaml file, keeping everything else as
    written. Returns True when the rest of the file could not be kept byte for byte."""
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    original = path.read_text("utf-8")
    yaml = _round_trip_yaml(original)
    data = yaml.load(original)
    reformatted = _dump(yaml, data) != original
    entry = data["sources"][index]
    if entry.get("id") != source_id:  # the file changed since it was read
        raise BriefsError(f"{path} changed while archiving; run the command again")
    for key, value in changes.items():
        if value is None:
            if key in entry:
                del entry[key]
            continue
        if isinstance(value, dict):
            mapping = CommentedMap()
            for k, v in value.items():
                mapping[k] = DoubleQuotedScalarString(v) if k == "retrieved" else v
            value = mapping
        elif key == "accessed":
            value = DoubleQuotedScalarString(value)
        _set_key(entry, key, value, _PLACE_AFTER.get(key, ()))
    text = _dump(yaml, data)
    _verify(text, path, index, changes)
    write_atomic(path, text)
    return reformatted


def _round_trip_yaml(text: str):
    from ruamel.yaml import YAML
    from ruamel.yaml.util import load_yaml_guess_indent

    _, indent, offset = load_yaml_guess_indent(text)
    offset = offset or 0
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long title or note
    yaml.indent(mapping=max(2, indent - offset), sequence=indent, offset=offset)
    return yaml


def _dump(yaml, data) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _set_key(entry, key: str, value: Any, after: tuple[str, ...]) -> None:
    from ruamel.yaml.comments import CommentedMap

    if key in entry:
        current = entry[key]
        if isinstance(current, CommentedMap) and isinstance(value, dict):
            # Update the mapping in place, so comments on its lines stay where they are.
            for old in [k for k in current if k not in value]:
                del current[old]
            for k, v in value.items():
                current[k] = v
        else:
            entry[key] = value  # keeps its position and any comment on its line
            _keep_comment_gap(entry, key, current, value)
        return
    keys = list(entry.keys())
    anchors = [keys.index(k) for k in after if k in entry]
    position = max(anchors) + 1 if anchors else len(keys)
    entry.insert(position, key, value)
    if position == len(keys) and keys:
        # ruamel attaches the comment lines that follow an entry to its last key; keep
        # them after the entry rather than between the old last key and the new one.
        _move_comment(entry, keys[-1], *_last_leaf(entry, key))


def _keep_comment_gap(entry, key: str, old: Any, new: Any) -> None:
    # A comment on the line keeps its distance from a value that grew or shrank.
    comments = entry.ca.items.get(key)
    token = comments[2] if comments else None
    if token is None or not token.value.startswith("#") or not isinstance(old, str):
        return
    if isinstance(new, str):
        try:
            token.column = max(0, token.column + len(new) - len(old))
        except AttributeError:  # a token without a position: ruamel places it itself
            pass


def _last_leaf(mapping, key: str):
    """The mapping and key whose line ends the value of ``mapping[key]``."""
    from ruamel.yaml.comments import CommentedMap

    value = mapping[key]
    while isinstance(value, CommentedMap) and len(value):
        mapping, key = value, list(value.keys())[-1]
        value = mapping[key]
    return mapping, key


def _move_comment(entry, old_last: str, target, new_last: str) -> None:
    from ruamel.yaml.tokens import CommentToken

    comments = entry.ca.items.get(old_last)
    token = comments[2] if comments else None
    if token is None:
        return
    # Slot 2 holds the end-of-line comment and the comment lines that follow it: the
    # end-of-line part stays on the old key's line, the following lines move down.
    eol, newline, rest = token.value.partition("\n")
    if not rest:
        return
    if eol.strip():
        token.value = eol + newline
    else:
        comments[2] = None
        if not any(comments):
            del entry.ca.items[old_last]
    target.ca.items[new_last] = [
        None,
        None,
        CommentToken("\n" + rest, token.start_mark, None),
        None,
    ]


def _verify(text: str, path: Path, index: int, changes: dict[str, Any]) -> None:
    """The edited file must still load and say exactly what was meant: a check on this
    module, so that a YAML library surprise never reaches the analyst's file."""
    import yaml

    data = yaml.safe_load(text)
    parsed = SourcesFile.model_validate(data)
    entry = parsed.sources[index]
    got = {
        "accessed": entry.accessed,
        "snapshot": entry.snapshot,
        "URL": entry.URL,
        "provenance": entry.provenance.model_dump() if entry.provenance else None,
        "body": entry.body,
        "sections": entry.sections or None,
    }
    for key, value in changes.items():
        if got[key] != value:
            raise RuntimeError(f"editing {path} gave {key}={got[key]!r}, not {value!r}")

"""``briefs merge``: the output folders of a sharded build (``briefs build --shard K/N
--out DIR`` on N machines) as one output folder, as if one machine had built it.

Each shard's manifest records, besides its own briefs, what it is a share of
(``manifest.Whole``): the request without its shard, that request's tree hash (every
input byte and the environment) and every brief it makes. The merge refuses shards that
disagree on any of that or on the tool, environment or publication; a missing or
repeated shard; a brief two shards made with different bytes; and any file whose sha256
is not the one its manifest records. Then it writes every brief's files, the change
report (each shard's entries, in plan order) and, last, one manifest whose request
record is the unsharded request's, so a later ``briefs build`` of that request on the
merged folder finds nothing to do. The merged folder holds exactly the whole build:
files of briefs an earlier manifest there listed and the merge does not are removed.

Nothing is written until every shard has been read and checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import manifest
from .build import changes_texts, unchanged
from .changes import CHANGES_JSON, BriefChange, ChangeReport
from .errors import BriefsError
from .files import output_lock, utc_stamp, write_atomic
from .manifest import BriefEntry, Manifest, ManifestError, RequestRecord, Whole


class MergeError(BriefsError):
    """The shard outputs cannot be merged; the message says which and why."""


@dataclass
class Shard:
    """One shard's output folder, read and checked."""

    folder: Path
    manifest: Manifest
    record: RequestRecord
    whole: Whole
    changes: ChangeReport

    @property
    def name(self) -> str:
        k, n = self.whole.shard
        return f"{self.folder} (shard {k}/{n})"


@dataclass
class MergeReport:
    out_dir: Path
    written: list[Path]
    briefs: list[str]  # slugs, in plan order
    shards: int
    changes: ChangeReport


def read_shard(folder: Path) -> Shard:
    """A shard's output folder: its manifest (read strictly) and change report."""
    if not folder.is_dir():
        raise MergeError(f"{folder}: no such folder (pass the --out folder of each shard)")
    try:
        recorded = manifest.read(folder, strict=True)
    except ManifestError as exc:
        raise MergeError(str(exc)) from None
    # A build keeps only the records of its own inputs, so a shard's folder holds its
    # own record, found by its key: the whole's request with this share's shard.
    own = [
        record
        for key, record in recorded.requests.items()
        if record.whole is not None
        and key == manifest.request_id({**record.whole.request, "shard": list(record.whole.shard)})
    ]
    if len(own) != 1:
        raise MergeError(
            f"{folder}: not the output of one `briefs build --shard K/N` (its "
            f"{manifest.MANIFEST_FILE} records {len(own)} sharded builds); pass each "
            "shard's own --out folder, built by this version of briefs"
        )
    record = own[0]
    assert record.whole is not None
    path = folder / CHANGES_JSON
    try:
        changes = ChangeReport.from_json(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise MergeError(f"{path}: cannot be read as a change report ({exc})") from None
    return Shard(folder, recorded, record, record.whole, changes)


def check_consistent(shards: Sequence[Shard]) -> None:
    """The shards are the N shares of one build; MergeError says how they are not."""
    if not shards:
        raise MergeError("nothing to merge: pass the output folder of every shard")
    first = shards[0]
    for shard in shards[1:]:
        for what, mine, theirs in (
            (
                "a different request (audiences, themes, findings, formats, title, options)",
                shard.whole.request,
                first.whole.request,
            ),
            (
                "different inputs or software (findings, templates, sources, settings, "
                "environment: their tree hashes differ)",
                shard.whole.tree,
                first.whole.tree,
            ),
            ("a different plan of briefs", shard.whole.briefs, first.whole.briefs),
            ("a different number of shards", shard.whole.shard[1], first.whole.shard[1]),
            (
                "a different version of briefs or WeasyPrint",
                shard.manifest.tool,
                first.manifest.tool,
            ),
            (
                "a different software environment",
                shard.manifest.environment,
                first.manifest.environment,
            ),
            ("a different publication", shard.manifest.publication, first.manifest.publication),
            ("different warnings", shard.record.warnings, first.record.warnings),
        ):
            if mine != theirs:
                raise MergeError(
                    f"{shard.name} and {first.name} were built with {what}; "
                    "build every shard from the same commit with the same options"
                )
    n = first.whole.shard[1]
    seen: dict[int, Shard] = {}
    for shard in shards:
        k = shard.whole.shard[0]
        if k in seen:
            raise MergeError(f"{shard.name} and {seen[k].name} are the same shard")
        seen[k] = shard
    missing = [f"{k}/{n}" for k in range(1, n + 1) if k not in seen]
    if missing:
        raise MergeError(
            f"shard {', '.join(missing)} missing: pass the output folders of all {n} shards"
        )


def merge(shard_dirs: Sequence[Path], out_dir: Path) -> MergeReport:
    """Check the shards, then write their briefs, change report and manifest to out_dir."""
    shards = sorted((read_shard(Path(d)) for d in shard_dirs), key=lambda s: s.whole.shard)
    check_consistent(shards)
    whole = shards[0].whole
    formats = [str(f) for f in whole.request.get("formats") or manifest.FORMATS]

    # Every file is read and checked against its manifest before anything is written.
    entries: dict[str, BriefEntry] = {}
    files: dict[str, dict[str, bytes]] = {}
    changes: dict[str, BriefChange] = {}
    made_by: dict[str, Shard] = {}
    for shard in shards:
        for slug in shard.record.briefs:
            entry = shard.manifest.briefs.get(slug)
            if entry is None:
                raise MergeError(
                    f"{shard.name}: its {manifest.MANIFEST_FILE} names brief {slug} as built "
                    "but has no entry for it; build that shard again"
                )
            data = {}
            for fmt in formats:
                record = entry.files.get(fmt)
                if record is None:
                    raise MergeError(f"{shard.name}: brief {slug} has no {fmt} file")
                try:
                    data[fmt] = record.read(shard.folder)
                except ManifestError as exc:
                    raise MergeError(f"{shard.name}: {exc}") from None
            if slug in made_by:
                if any(entries[slug].files[f].sha256 != entry.files[f].sha256 for f in formats):
                    raise MergeError(
                        f"brief {slug} is in {made_by[slug].name} and {shard.name} with "
                        "different bytes; build every shard from the same inputs"
                    )
                continue
            made_by[slug] = shard
            entries[slug] = entry
            files[slug] = data
            change = shard.changes.get(slug)
            changes[slug] = change or unchanged(entry)
    missing = [slug for slug in whole.briefs if slug not in entries]
    if missing:
        raise MergeError(
            f"no shard built {', '.join(missing)}, though the build makes "
            f"{'it' if len(missing) == 1 else 'them'}; build those shards again"
        )
    extra = [slug for slug in entries if slug not in whole.briefs]
    if extra:
        raise MergeError(f"the shards built {', '.join(extra)}, which the build does not make")

    labels: dict[str, str] = {}
    for shard in shards:
        labels.update(shard.changes.labels)
    baselines = {shard.changes.baseline for shard in shards}
    report = ChangeReport(
        baselines.pop() if len(baselines) == 1 else "each shard's previous build",
        [changes[slug] for slug in whole.briefs],
        labels,
    )
    merged = Manifest(
        briefs={slug: entries[slug] for slug in whole.briefs},
        requests={
            manifest.request_id(whole.request): RequestRecord(
                whole.tree, list(whole.briefs), list(shards[0].record.warnings)
            )
        },
        tool=shards[0].manifest.tool,
        environment=shards[0].manifest.environment,
        publication=shards[0].manifest.publication,
        audiences=shards[0].manifest.audiences,
    )
    return MergeReport(
        out_dir, _write(out_dir, merged, files, report), list(whole.briefs), len(shards), report
    )


def _write(
    out_dir: Path, merged: Manifest, files: dict[str, dict[str, bytes]], report: ChangeReport
) -> list[Path]:
    written: list[Path] = []
    out_dir.mkdir(parents=True, exist_ok=True)
    with output_lock(out_dir):
        previous = manifest.read(out_dir)
        for slug, data in files.items():
            for fmt, content in data.items():
                path = out_dir / merged.briefs[slug].files[fmt].path
                if not (path.is_file() and not path.is_symlink() and path.read_bytes() == content):
                    write_atomic(path, content)
                    written.append(path)
        # Files an earlier build listed that the whole build does not make, if untouched.
        for slug, entry in previous.briefs.items():
            if slug in merged.briefs:
                continue
            for record in entry.files.values():
                if record.intact(out_dir):
                    record.location(out_dir).unlink()
        # The same history a single build keeps: a new section when something changed,
        # stamped with the shards' own build time (as one build would stamp it).
        stamps = [e.built_at for e in merged.briefs.values() if e.built_at]
        for path, text in changes_texts(out_dir, report, max(stamps, default=utc_stamp())).items():
            write_atomic(path, text)
            written.append(path)
        written.append(manifest.write(out_dir, merged))
    return written

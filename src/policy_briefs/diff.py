"""``briefs diff``: what rebuilding now would change, against a baseline, without rendering.

A baseline is the input maps of an earlier set of briefs: those recorded in a
manifest.json (the last build, or any other), or those the findings and templates at a
git revision would make (computed here from a ``git archive`` of that revision).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import manifest
from .changes import BriefChange, ChangeReport, compare, labels_of
from .errors import BriefsError, ValidationFailed, summarise
from .fingerprint import BriefInputs
from .project import Project, default_templates_dir
from .selection import plan_briefs
from .validate import load_valid_corpus

if TYPE_CHECKING:
    from .build import BuildOptions


@dataclass
class Baseline:
    description: str
    entries: dict[str, dict[str, Any]]  # slug -> {"title", "inputs"}
    labels: dict[str, str] = field(default_factory=dict)
    complete: bool = False  # every brief of the plan: a missing one was removed


def diff(project: Project, options: BuildOptions, since: str | None = None) -> ChangeReport:
    """What rebuilding now would change, compared with ``since``, without rendering.

    ``since`` is a manifest file (or a folder holding one) or a git revision; by default
    the manifest in the output folder, i.e. the last build.
    """
    corpus, _warnings = load_valid_corpus(
        project, strict=options.strict, sources_dir=options.sources_dir
    )
    baseline = load_baseline(project, options, since)
    hasher = BriefInputs(project)
    labels = {**baseline.labels, **labels_of(corpus)}
    changes = []
    slugs = set()
    for brief in options.plan(corpus):
        slugs.add(brief.slug)
        changes.append(
            compare(brief.slug, brief.title, baseline.entries.get(brief.slug), hasher.of(brief))
        )
    if baseline.complete:
        changes += [
            BriefChange(slug, entry.get("title", slug), "removed")
            for slug, entry in baseline.entries.items()
            if slug not in slugs
        ]
    return ChangeReport(baseline.description, changes, labels, by_output=False)


def load_baseline(project: Project, options: BuildOptions, since: str | None) -> Baseline:
    if since is None:
        out_dir = (options.out_dir or project.output_dir).resolve()
        from .files import recover_output

        recover_output(out_dir)  # a build a crash cut short: finish it first
        path = manifest.path_in(out_dir)
        if not path.is_file():
            return Baseline(f"no earlier build ({path.name} not found in {out_dir})", {})
        return _manifest_baseline(out_dir, "the last build")
    path = Path(since)
    if path.is_file():
        return _manifest_baseline(path.parent, f"the build recorded in {since}", path)
    if path.is_dir() and manifest.path_in(path).is_file():
        return _manifest_baseline(path, f"the build recorded in {manifest.path_in(path)}")
    return _git_baseline(project, options, since)


def _manifest_baseline(folder: Path, description: str, file: Path | None = None) -> Baseline:
    import json

    path = file or manifest.path_in(folder)
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BriefsError(f"{path}: not a readable manifest ({exc})") from None
    recorded = manifest.parse(data, path, strict=True)
    return Baseline(
        description,
        {slug: {"title": e.title, "inputs": e.inputs} for slug, e in recorded.briefs.items()},
    )


def _git(project: Project, *args: str):
    import subprocess

    try:
        return subprocess.run(
            ["git", *args], cwd=project.root, capture_output=True, check=False, timeout=120
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BriefsError(f"cannot run git: {exc}") from None


def _git_baseline(project: Project, options: BuildOptions, ref: str) -> Baseline:
    """The briefs as the findings and templates at ``ref`` would make them."""
    import tempfile

    top = _git(project, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise BriefsError(
            f"'{ref}' is not a manifest file, and {project.root} is not in a git repository"
        )
    commit = _git(project, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if commit.returncode != 0:
        raise BriefsError(f"'{ref}' is neither a manifest file nor a git revision")
    rev = commit.stdout.decode().strip()
    root = Path(top.stdout.decode().strip()).resolve()
    prefix = project.root.relative_to(root).as_posix() if project.root != root else ""

    with tempfile.TemporaryDirectory(prefix="briefs-diff-") as tmp:
        for sub in ("findings", "templates"):
            inside = f"{prefix}/{sub}" if prefix else sub
            if _git(project, "cat-file", "-e", f"{rev}:{inside}").returncode != 0:
                continue
            archive = _git(project, "archive", "--format=tar", rev, "--", inside)
            if archive.returncode != 0:
                raise BriefsError(
                    f"git archive {ref} failed: {archive.stderr.decode(errors='replace').strip()}"
                )
            _extract(archive.stdout, Path(tmp))
        old = Project.at(Path(tmp, prefix))
        if not old.findings_dir.is_dir():
            raise BriefsError(f"there is no findings/ folder at {ref}")
        try:
            # Verified against today's snapshots, so only the findings' change shows.
            corpus, _warnings = load_valid_corpus(
                old, sources_dir=project.sources_dir(options.sources_dir)
            )
        except ValidationFailed as exc:
            raise BriefsError(
                f"the findings at {ref} do not validate "
                f"({summarise(exc.problems)}); cannot compare with them"
            ) from None
        # In a checkout of this tool the project's templates are also the packaged
        # defaults; then the templates at ``ref`` stand for both.
        own = project.templates_dir.resolve() == default_templates_dir().resolve()
        dirs = [d for d in (old.templates_dir,) if d.is_dir()]
        if not own or not dirs:
            dirs.append(default_templates_dir())
        hasher = BriefInputs(old, template_dirs=dirs)
        entries = {}
        for name in options.audiences or [*corpus.audiences, *corpus.editions]:
            if name not in corpus.audiences and name not in corpus.editions:
                continue  # an audience or edition added since ``ref``: shows as new
            try:
                briefs = plan_briefs(
                    corpus,
                    names=[name],
                    themes=options.themes,
                    findings=options.findings,
                    title=options.title,
                )
            except BriefsError:
                continue  # its --theme/--finding filters name things added since ``ref``
            entries.update({b.slug: {"title": b.title, "inputs": hasher.of(b)} for b in briefs})
        return Baseline(
            f"the findings and templates at git revision {ref} ({rev[:12]})",
            entries,
            labels_of(corpus),
            complete=True,
        )


def _extract(data: bytes, into: Path) -> None:
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
        else:  # Python before 3.11.4; git archive writes no links outside the tree
            tar.extractall(into)


__all__ = ["Baseline", "diff", "load_baseline"]

"""What changed in each brief, in words: findings added, removed or edited, sources
changed, design changed. Compares the input maps that ``fingerprint.BriefInputs`` makes
(stored per brief in manifest.json) with a baseline: the previous build, an older
manifest.json, or the findings at a git revision.

The build writes the report as output/CHANGES.md for people and output/changes.json
for scripts (the CI workflow publishes only when ``changed`` is true).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import BriefsError
from .fingerprint import input_hash
from .project import Project, default_templates_dir

if TYPE_CHECKING:
    from .build import BuildOptions
    from .corpus import Corpus

CHANGES_MD = "CHANGES.md"
CHANGES_JSON = "changes.json"

_SETTINGS = {
    "title": "Title changed.",
    "audience": "Audience settings changed (reader, template, citation style or limits).",
    "publication": "Publication details changed (series, date, version, licence or contact).",
    "glossary": "Glossary changed.",
}


@dataclass
class BriefChange:
    """How one brief differs from its baseline."""

    slug: str
    title: str
    status: str  # new | changed | unchanged | removed
    rebuilt: bool = False
    findings_added: list[str] = field(default_factory=list)
    findings_removed: list[str] = field(default_factory=list)
    findings_edited: list[str] = field(default_factory=list)
    themes_edited: list[str] = field(default_factory=list)
    sources_added: list[str] = field(default_factory=list)
    sources_removed: list[str] = field(default_factory=list)
    sources_edited: list[str] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)
    design: bool = False
    environment: list[str] = field(default_factory=list)  # parts: code, packages, fonts...
    reordered: bool = False
    untracked: bool = False  # the baseline did not record this brief's inputs

    @property
    def has_reasons(self) -> bool:
        return any((self.findings_added, self.findings_removed, self.findings_edited,
                    self.themes_edited, self.sources_added, self.sources_removed,
                    self.sources_edited, self.settings, self.design, self.environment,
                    self.reordered, self.untracked))


@dataclass
class ChangeReport:
    baseline: str  # in words: "the previous build", "git revision main~3", ...
    briefs: list[BriefChange]
    labels: dict[str, str] = field(default_factory=dict)
    by_output: bool = True  # True: status says whether files differ; False: inputs

    @property
    def changed(self) -> bool:
        return any(b.status != "unchanged" for b in self.briefs)

    def as_json(self) -> str:
        data = {"baseline": self.baseline, "changed": self.changed,
                "briefs": [asdict(b) for b in self.briefs]}
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    def markdown(self, heading: str = "What changed in this build") -> str:
        lines = [f"# {heading}", "", f"Compared with {self.baseline}.", ""]
        moved = [b for b in self.briefs if b.status != "unchanged"]
        same = [b for b in self.briefs if b.status == "unchanged"]
        total = len(self.briefs)
        if not moved:
            if total:
                lines.append(f"No changes: {_count(total, 'brief')} as before "
                             f"({', '.join(f'`{b.slug}`' for b in same)}).")
            else:
                lines.append("No briefs.")
        else:
            verb = "changed" if self.by_output else "would change"
            lines.append(f"{len(moved)} of {_count(total, 'brief')} {verb}: "
                         + ", ".join(f"`{b.slug}` ({b.status})" for b in moved) + ".")
            if same:
                lines.append("Unchanged: " + ", ".join(f"`{b.slug}`" for b in same) + ".")
        for change in self.briefs:
            if change.status == "unchanged" and not change.has_reasons:
                continue
            lines += ["", f"## {change.title} (`{change.slug}`)", "", self._verdict(change)]
            lines += self._reasons(change)
        return "\n".join(lines) + "\n"

    def _verdict(self, c: BriefChange) -> str:
        if c.status == "new":
            return "New brief: no earlier version to compare with."
        if c.status == "removed":
            return ("Removed: its audience is no longer defined, so the brief and its files "
                    "were dropped." if self.by_output else "Removed: no longer built.")
        if c.status == "unchanged":
            return ("Its inputs changed, but the rebuilt files are byte-identical to the "
                    "previous ones; nothing to publish for it.")
        if not self.by_output:
            return "Would change when rebuilt."
        return ("Rebuilt; its files differ from the previous build." if c.rebuilt
                else "Its files differ from the previous build.")

    def _reasons(self, c: BriefChange) -> list[str]:
        out: list[str] = []

        def listing(title: str, kind: str, ids: list[str]) -> None:
            if ids:
                out.append(f"- {title}:")
                for i in ids:
                    label = self.labels.get(f"{kind}:{i}")
                    out.append(f"  - `{i}`" + (f": {label}" if label else ""))

        listing("Findings added", "finding", c.findings_added)
        listing("Findings removed", "finding", c.findings_removed)
        listing("Findings edited", "finding", c.findings_edited)
        listing("Themes edited", "theme", c.themes_edited)
        listing("Sources added", "source", c.sources_added)
        listing("Sources removed", "source", c.sources_removed)
        listing("Sources edited", "source", c.sources_edited)
        out += [f"- {_SETTINGS[s]}" for s in c.settings if s in _SETTINGS]
        if c.design:
            out.append("- Design changed: templates, CSS or other files in the template "
                       "folders, or the citation style.")
        if c.environment:
            out.append("- Software or fonts changed: "
                       + ", ".join(_ENVIRONMENT.get(p, p) for p in c.environment) + ".")
        if c.reordered:
            out.append("- The selection or order of its findings changed (e.g. priorities "
                       "or contrasts).")
        if c.untracked:
            out.append("- The earlier build did not record its inputs, so the details of the "
                       "change are unknown.")
        return [""] + out if out else []


_ENVIRONMENT = {
    "environment": "the software environment",
    "code": "this tool's code",
    "python": "the Python version",
    "packages": "the installed Python packages",
    "fonts": "the installed fonts",
    "libraries": "the text-shaping libraries (Pango, HarfBuzz, fontconfig, FreeType)",
}


def _environment_changes(old, new: dict) -> list[str]:
    if not isinstance(old, dict):
        return ["environment"] if old != new else []
    return [part for part in new if old.get(part) != new[part]]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _split(old: dict, new: dict) -> tuple[list[str], list[str], list[str]]:
    added = [k for k in new if k not in old]
    removed = [k for k in old if k not in new]
    edited = [k for k in new if k in old and old[k] != new[k]]
    return added, removed, edited


def compare(slug: str, title: str, old_entry: dict | None, new_inputs: dict, *,
            old_files: dict | None = None, new_files: dict | None = None,
            rebuilt: bool = False) -> BriefChange:
    """One brief against its baseline entry.

    With ``new_files`` ({format: sha256}) the status says whether the files differ from
    ``old_files``; without, whether the inputs differ (what ``briefs diff`` can know
    without rendering).
    """
    change = BriefChange(slug, title, "unchanged", rebuilt=rebuilt)
    if old_entry is None:
        change.status = "new"
        return change
    old = old_entry.get("inputs")
    if not isinstance(old, dict) or not isinstance(old.get("findings"), dict):
        change.untracked = True
    else:
        change.findings_added, change.findings_removed, change.findings_edited = _split(
            old["findings"], new_inputs["findings"])
        _, _, change.themes_edited = _split(old.get("themes", {}), new_inputs["themes"])
        change.sources_added, change.sources_removed, change.sources_edited = _split(
            old.get("sources", {}), new_inputs["sources"])
        old_settings = old.get("settings", {})
        change.settings = [k for k, v in new_inputs["settings"].items()
                           if old_settings.get(k) != v]
        change.design = old.get("design") != new_inputs["design"]
        change.environment = _environment_changes(old.get("environment"),
                                                  new_inputs["environment"])
        change.reordered = (old.get("brief") != new_inputs["brief"]
                            and not change.has_reasons)
    if new_files is not None:
        before = {fmt: f.get("sha256") for fmt, f in (old_files or {}).items()}
        if not before:
            change.status = "new"
        elif any(before.get(fmt) != sha for fmt, sha in new_files.items()):
            change.status = "changed"
    elif change.untracked or input_hash(old) != input_hash(new_inputs):
        change.status = "changed"
    return change


def labels_of(corpus: Corpus) -> dict[str, str]:
    """Ids with the words a reader knows them by: headlines, theme and source titles."""
    out = {f"finding:{k}": f.headline for k, f in corpus.findings.items()}
    out.update({f"theme:{k}": t.title for k, t in corpus.themes.items()})
    out.update({f"source:{k}": s.title for k, s in corpus.sources.items()})
    return out


# -- briefs diff -----------------------------------------------------------------------

@dataclass
class Baseline:
    description: str
    entries: dict[str, dict]  # slug -> {"title", "inputs", ...}
    labels: dict[str, str] = field(default_factory=dict)
    complete: bool = False  # every brief of the plan: a missing one was removed


def diff(project: Project, options: BuildOptions, since: str | None = None) -> ChangeReport:
    """What rebuilding now would change, compared with ``since``, without rendering.

    ``since`` is a manifest.json file or a git revision; by default the manifest in the
    output folder, i.e. the last build.
    """
    from .build import load_valid_corpus, planned
    from .fingerprint import BriefInputs

    corpus, _warnings = load_valid_corpus(project, strict=options.strict)
    baseline = load_baseline(project, options, since)
    hasher = BriefInputs(project)
    labels = {**baseline.labels, **labels_of(corpus)}
    changes = []
    slugs = set()
    for brief in planned(corpus, options):
        slugs.add(brief.slug)
        changes.append(compare(brief.slug, brief.title, baseline.entries.get(brief.slug),
                               hasher.of(brief)))
    if baseline.complete:
        changes += [BriefChange(slug, entry.get("title", slug), "removed")
                    for slug, entry in baseline.entries.items() if slug not in slugs]
    return ChangeReport(baseline.description, changes, labels, by_output=False)


def load_baseline(project: Project, options: BuildOptions, since: str | None) -> Baseline:
    if since is None:
        out_dir = (options.out_dir or project.output_dir).resolve()
        path = out_dir / "manifest.json"
        if not path.is_file():
            return Baseline(f"no earlier build ({path.name} not found in {out_dir})", {})
        return _manifest_baseline(path, "the last build")
    path = Path(since)
    if path.is_file():
        return _manifest_baseline(path, f"the build recorded in {since}")
    if path.is_dir() and (path / "manifest.json").is_file():
        return _manifest_baseline(path / "manifest.json",
                                  f"the build recorded in {path / 'manifest.json'}")
    return _git_baseline(project, options, since)


def _manifest_baseline(path: Path, description: str) -> Baseline:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BriefsError(f"{path}: not a readable manifest.json ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("briefs"), dict):
        raise BriefsError(f"{path}: not a briefs manifest (no \"briefs\" table)")
    return Baseline(description, {k: v for k, v in data["briefs"].items() if isinstance(v, dict)})


def _git(project: Project, *args: str):
    import subprocess

    try:
        return subprocess.run(["git", *args], cwd=project.root, capture_output=True,
                              check=False, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        raise BriefsError(f"cannot run git: {exc}") from None


def _git_baseline(project: Project, options: BuildOptions, ref: str) -> Baseline:
    """The briefs as the findings and templates at ``ref`` would make them."""
    import tempfile

    from .build import load_valid_corpus, planned
    from .errors import ValidationFailed, summarise
    from .fingerprint import BriefInputs

    top = _git(project, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise BriefsError(f"'{ref}' is not a manifest file, and {project.root} is not in a "
                          "git repository")
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
                raise BriefsError(f"git archive {ref} failed: "
                                  f"{archive.stderr.decode(errors='replace').strip()}")
            _extract(archive.stdout, Path(tmp))
        old = Project.at(Path(tmp, prefix))
        if not old.findings_dir.is_dir():
            raise BriefsError(f"there is no findings/ folder at {ref}")
        try:
            corpus, _warnings = load_valid_corpus(old)
        except ValidationFailed as exc:
            raise BriefsError(f"the findings at {ref} do not validate "
                              f"({summarise(exc.problems)}); cannot compare with them") from None
        # In a checkout of this tool the project's templates are also the packaged
        # defaults; then the templates at ``ref`` stand for both.
        own = project.templates_dir.resolve() == default_templates_dir().resolve()
        dirs = [d for d in (old.templates_dir,) if d.is_dir()]
        if not own or not dirs:
            dirs.append(default_templates_dir())
        hasher = BriefInputs(old, template_dirs=dirs)
        entries = {}
        for audience in options.audiences or list(corpus.audiences):
            if audience not in corpus.audiences:
                continue  # an audience added since ``ref``: its brief shows as new
            try:
                briefs = planned(corpus, replace(options, audiences=[audience], shard=None))
            except BriefsError:
                continue  # its --theme/--finding filters name things added since ``ref``
            entries.update({b.slug: {"title": b.title, "inputs": hasher.of(b)} for b in briefs})
        return Baseline(f"the findings and templates at git revision {ref} ({rev[:12]})",
                        entries, labels_of(corpus), complete=True)


def _extract(data: bytes, into: Path) -> None:
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
        else:  # Python before 3.11.4; git archive writes no links outside the tree
            tar.extractall(into)

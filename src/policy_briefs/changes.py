"""The change report: what changed in each brief, in words (findings added, removed or
edited, sources changed, design changed), from two input maps of the kind
``fingerprint.BriefInputs`` makes. Pure: no files are read here; diff.py finds the
baselines and build.py writes the report.

The build writes it as output/CHANGES.md for people and output/changes.json for scripts
(the CI workflow publishes only when ``changed`` is true; delivery quotes a brief's
section in its messages).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from .fingerprint import input_hash

if TYPE_CHECKING:
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
    # finding id -> the fields that changed (headline, evidence, audiences.sme, ...), for
    # edited findings whose baseline recorded per-field hashes
    fields_edited: dict[str, list[str]] = field(default_factory=dict)
    themes_edited: list[str] = field(default_factory=list)
    sources_added: list[str] = field(default_factory=list)
    sources_removed: list[str] = field(default_factory=list)
    sources_edited: list[str] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)
    design: bool = False
    environment: list[str] = field(default_factory=list)  # parts: code, packages, fonts...
    reordered: bool = False
    untracked: bool = False  # the baseline did not record this brief's inputs
    version: str = ""  # the brief's version (MAJOR.MINOR) this build made or kept

    @property
    def has_reasons(self) -> bool:
        return any(
            (
                self.findings_added,
                self.findings_removed,
                self.findings_edited,
                self.themes_edited,
                self.sources_added,
                self.sources_removed,
                self.sources_edited,
                self.settings,
                self.design,
                self.environment,
                self.reordered,
                self.untracked,
            )
        )


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
        data = {
            "baseline": self.baseline,
            "changed": self.changed,
            "briefs": [asdict(b) for b in self.briefs],
            # The words CHANGES.md names these ids with, so a report read back (a shard's,
            # by `briefs merge`) writes the same Markdown without the findings at hand.
            "labels": {k: self.labels[k] for k in sorted(self._mentioned()) if k in self.labels},
        }
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    def _mentioned(self) -> set[str]:
        kinds = {
            "finding": ("findings_added", "findings_removed", "findings_edited"),
            "theme": ("themes_edited",),
            "source": ("sources_added", "sources_removed", "sources_edited"),
        }
        return {
            f"{kind}:{i}"
            for b in self.briefs
            for kind, names in kinds.items()
            for name in names
            for i in getattr(b, name)
        }

    @classmethod
    def from_json(cls, text: str) -> ChangeReport:
        """A report as ``as_json`` wrote it; ValueError if it is not one."""
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("briefs"), list):
            raise ValueError("not a change report")
        known = {f.name for f in fields(BriefChange)}
        briefs = []
        for item in data["briefs"]:
            if not isinstance(item, dict) or not isinstance(item.get("slug"), str):
                raise ValueError("a brief entry without a slug")
            briefs.append(BriefChange(**{k: v for k, v in item.items() if k in known}))
        labels = data.get("labels")
        if not isinstance(labels, dict):
            labels = {}
        return cls(
            str(data.get("baseline", "")),
            briefs,
            {str(k): str(v) for k, v in labels.items() if isinstance(v, str)},
        )

    def get(self, slug: str) -> BriefChange | None:
        return next((b for b in self.briefs if b.slug == slug), None)

    def explain(self, slug: str) -> str:
        """One brief's verdict and reasons in Markdown, as CHANGES.md words them."""
        change = self.get(slug)
        if change is None:
            return ""
        return "\n".join([self._verdict(change), *self._reasons(change)])

    def markdown(self, heading: str = "What changed in this build", level: int = 1) -> str:
        """The report under a heading of ``level`` (1: "#"), each brief one level down."""
        lines = ["#" * level + f" {heading}", "", f"Compared with {self.baseline}.", ""]
        moved = [b for b in self.briefs if b.status != "unchanged"]
        same = [b for b in self.briefs if b.status == "unchanged"]
        total = len(self.briefs)
        if not moved:
            if total:
                lines.append(
                    f"No changes: {_count(total, 'brief')} as before "
                    f"({', '.join(f'`{b.slug}`' for b in same)})."
                )
            else:
                lines.append("No briefs.")
        else:
            verb = "changed" if self.by_output else "would change"
            lines.append(
                f"{len(moved)} of {_count(total, 'brief')} {verb}: "
                + ", ".join(f"`{b.slug}` ({b.status})" for b in moved)
                + "."
            )
            if same:
                lines.append("Unchanged: " + ", ".join(f"`{b.slug}`" for b in same) + ".")
        for change in self.briefs:
            if change.status == "unchanged" and not change.has_reasons:
                continue
            title = "#" * (level + 1) + f" {change.title} (`{change.slug}`)"
            if change.version and change.status != "removed":
                title += f", version {change.version}"
            lines += ["", title, "", self._verdict(change)]
            lines += self._reasons(change)
        return "\n".join(lines) + "\n"

    def _verdict(self, c: BriefChange) -> str:
        if c.status == "new":
            return "New brief: no earlier version to compare with."
        if c.status == "removed":
            return (
                "Removed: its audience or edition is no longer declared, so the brief "
                "and its files were dropped."
                if self.by_output
                else "Removed: no longer built."
            )
        if c.status == "unchanged":
            return (
                "Its inputs changed, but the rebuilt files are byte-identical to the "
                "previous ones; nothing to publish for it."
            )
        if not self.by_output:
            return "Would change when rebuilt."
        return (
            "Rebuilt; its files differ from the previous build."
            if c.rebuilt
            else "Its files differ from the previous build."
        )

    def _reasons(self, c: BriefChange) -> list[str]:
        out: list[str] = []

        def listing(
            title: str, kind: str, ids: list[str], fields: dict[str, list[str]] | None = None
        ) -> None:
            if ids:
                out.append(f"- {title}:")
                for i in ids:
                    label = self.labels.get(f"{kind}:{i}")
                    which = (fields or {}).get(i)
                    out.append(
                        f"  - `{i}`"
                        + (f": {label}" if label else "")
                        + (f" (changed: {', '.join(which)})" if which else "")
                    )

        listing("Findings added", "finding", c.findings_added)
        listing("Findings removed", "finding", c.findings_removed)
        listing("Findings edited", "finding", c.findings_edited, c.fields_edited)
        listing("Themes edited", "theme", c.themes_edited)
        listing("Sources added", "source", c.sources_added)
        listing("Sources removed", "source", c.sources_removed)
        listing("Sources edited", "source", c.sources_edited)
        out += [f"- {_SETTINGS[s]}" for s in c.settings if s in _SETTINGS]
        if c.design:
            out.append(
                "- Design changed: templates, CSS or other files in the template "
                "folders, or the citation style."
            )
        if c.environment:
            out.append(
                "- Software or fonts changed: "
                + ", ".join(_ENVIRONMENT.get(p, p) for p in c.environment)
                + "."
            )
        if c.reordered:
            out.append(
                "- The selection or order of its findings changed (e.g. priorities or contrasts)."
            )
        if c.untracked:
            out.append(
                "- The earlier build did not record its inputs, so the details of the "
                "change are unknown."
            )
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


def split(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """Keys added, removed and with a different value, from ``old`` to ``new``."""
    added = [k for k in new if k not in old]
    removed = [k for k in old if k not in new]
    edited = [k for k in new if k in old and old[k] != new[k]]
    return added, removed, edited


def _fields_edited(edited: list[str], old: Any, new: Any) -> dict[str, list[str]]:
    """For each edited finding both sides recorded field by field, the fields that differ."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return {}
    out = {}
    for finding in edited:
        before, after = old.get(finding), new.get(finding)
        if isinstance(before, dict) and isinstance(after, dict):
            names = list(after) + [k for k in before if k not in after]
            changed = [k for k in names if before.get(k) != after.get(k)]
            if changed:
                out[finding] = changed
    return out


def compare(
    slug: str,
    title: str,
    old_entry: dict | None,
    new_inputs: dict,
    *,
    old_files: dict | None = None,
    new_files: dict | None = None,
    rebuilt: bool = False,
    version: str = "",
) -> BriefChange:
    """One brief against its baseline entry.

    With ``new_files`` ({format: sha256}) the status says whether the files differ from
    ``old_files``; without, whether the inputs differ (what ``briefs diff`` can know
    without rendering).
    """
    change = BriefChange(slug, title, "unchanged", rebuilt=rebuilt, version=version)
    if old_entry is None:
        change.status = "new"
        return change
    old = old_entry.get("inputs")
    if not isinstance(old, dict) or not isinstance(old.get("findings"), dict):
        change.untracked = True
    else:
        change.findings_added, change.findings_removed, change.findings_edited = split(
            old["findings"], new_inputs["findings"]
        )
        change.fields_edited = _fields_edited(
            change.findings_edited, old.get("finding_fields"), new_inputs.get("finding_fields")
        )
        _, _, change.themes_edited = split(old.get("themes", {}), new_inputs["themes"])
        change.sources_added, change.sources_removed, change.sources_edited = split(
            old.get("sources", {}), new_inputs["sources"]
        )
        old_settings = old.get("settings", {})
        change.settings = [k for k, v in new_inputs["settings"].items() if old_settings.get(k) != v]
        change.design = old.get("design") != new_inputs["design"]
        change.environment = _environment_changes(old.get("environment"), new_inputs["environment"])
        change.reordered = old.get("brief") != new_inputs["brief"] and not change.has_reasons
    if new_files is not None:
        before = {fmt: f.get("sha256") for fmt, f in (old_files or {}).items()}
        if not before:
            change.status = "new"
        elif any(before.get(fmt) != sha for fmt, sha in new_files.items()):
            change.status = "changed"
    elif change.untracked or not isinstance(old, dict) or input_hash(old) != input_hash(new_inputs):
        change.status = "changed"
    return change


def labels_of(corpus: Corpus) -> dict[str, str]:
    """Ids with the words a reader knows them by: headlines, theme and source titles."""
    out = {f"finding:{k}": f.headline for k, f in corpus.findings.items()}
    out.update({f"theme:{k}": t.title for k, t in corpus.themes.items()})
    out.update({f"source:{k}": s.title for k, s in corpus.sources.items()})
    return out


# -- the history: CHANGES.md and changes.json across builds ------------------------------

CHANGES_TITLE = "# Changes"
CHANGES_INTRO = (
    "What each build changed, newest first. A build that changes nothing adds nothing here."
)


def history_texts(
    old_md: str | None, old_json: str | None, report: ChangeReport, now: str
) -> tuple[str | None, str | None]:
    """What CHANGES.md and changes.json must become, given their current texts: a new
    section at the top when ``report`` changed something (files or inputs); otherwise
    only changes.json's latest verdict (``changed``, ``briefs``) is brought up to date and
    the history is kept as it is. None for a file that already says that."""
    history = _history(old_json)
    latest = json.loads(report.as_json())
    # Changed inputs get a section even when the files came out byte-identical.
    news = report.changed or any(b.has_reasons for b in report.briefs)
    if news:
        history = [{"built_at": now, **latest}, *history]
    data = {**latest, "built_at": history[0]["built_at"] if history else now, "history": history}
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    md = None
    if news or old_md is None:
        body = _changes_body(old_md)
        section = report.markdown(f"Build of {now}", level=2) if news else ""
        head = f"{CHANGES_TITLE}\n\n{CHANGES_INTRO}\n"
        md = "\n".join(p for p in (head, section, body) if p)
    return md, (text if text != old_json else None)


def _history(text: str | None) -> list[dict[str, Any]]:
    """The sections of changes.json, newest first. A report written before it was a
    history becomes the first section when it changed something."""
    try:
        data = json.loads(text) if text else None
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    history = data.get("history")
    if isinstance(history, list):
        return [h for h in history if isinstance(h, dict) and "built_at" in h]
    if data.get("changed") is True and isinstance(data.get("briefs"), list):
        return [{"built_at": "before this history was kept", **data}]
    return []


def _changes_body(old: str | None) -> str:
    """The sections of an earlier CHANGES.md, to go under the new one. One written
    before it was a history is kept too, its headings one level down."""
    if not old:
        return ""
    head = f"{CHANGES_TITLE}\n\n{CHANGES_INTRO}\n"
    if old.startswith(head):
        return old[len(head) :].lstrip("\n")
    if "\nNo changes" in old:
        return ""  # the old report of a no-op: nothing to keep
    return (
        "\n".join("#" + line if line.startswith("#") else line for line in old.splitlines()) + "\n"
    )

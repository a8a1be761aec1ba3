"""Each brief's own version, MAJOR.MINOR, and the date of its content.

The rule (README, 'Versions'):

- MAJOR is the first number of the publication's version (publication.yaml ``version``).
- MINOR starts at 0 for a new brief or a new MAJOR, and goes up by one each time the
  brief's *content* changes: what a reader sees, i.e. the findings it shows (with this
  audience's implication and actions; another audience's entry does not count), their
  selection and order, themes, sources, title and argument, audience and publication
  settings, glossary, and the design (templates, CSS, citation style). The software
  environment (this tool's code, Python packages, fonts, shaping libraries) is left
  out: a forced rebuild, or an upgrade that changes only bytes, keeps the version and
  its date (fingerprint.shown_hash says how an upgrade of this tool stays out).
- The date is the publication's date for the first version of a MAJOR, and for a later
  MINOR the UTC date it was first built (SOURCE_DATE_EPOCH when set). It is recorded in
  the manifest with the version, so later rebuilds print the same date, and shards of
  one build derive the same version from the same previous manifest.

The version is printed on the cover, so it is decided before rendering, from the
previous manifest's record of the brief (number, date, content hash). Pure; no heavy
imports: the build calls it for every planned brief.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .fingerprint import digest

_NUMBER = re.compile(r"^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Version:
    """One version of one brief: its number, the date of its content and the content
    hash it was given for."""

    number: str  # MAJOR.MINOR
    date: str  # YYYY-MM-DD
    content: str  # content_hash of the inputs it was built from

    @property
    def major(self) -> int:
        return int(self.number.split(".")[0])

    @property
    def minor(self) -> int:
        return int(self.number.split(".")[1])

    def as_json(self) -> dict[str, str]:
        return {"number": self.number, "date": self.date, "content": self.content}

    @classmethod
    def parse(cls, raw: object) -> Version:
        """A version record as ``as_json`` wrote it; ValueError saying what is wrong."""
        if not isinstance(raw, dict):
            raise ValueError("has a version record that is not a table")
        number, date, content = raw.get("number"), raw.get("date"), raw.get("content")
        if not (isinstance(number, str) and _NUMBER.match(number)):
            raise ValueError("has a version number that is not MAJOR.MINOR")
        if not (isinstance(date, str) and _DATE.match(date)):
            raise ValueError("has a version date that is not YYYY-MM-DD")
        if not (isinstance(content, str) and _SHA256.match(content)):
            raise ValueError("has no valid content hash for its version")
        return cls(number, date, content)


def content_hash(shown: str, design: str) -> str:
    """The hash of what a reader sees: the brief as selected (fingerprint.shown_hash)
    and its design (fingerprint.design_hash); not the environment."""
    return digest(json.dumps({"shown": shown, "design": design}, sort_keys=True))


def major_of(publication_version: str) -> int:
    """The publication's version's first number ('2.1' -> 2); models.Publication admits
    only versions that start with one."""
    return int(publication_version.split(".")[0])


def next_version(
    previous: Version | None,
    content: str,
    *,
    publication_version: str,
    publication_date: str,
    today: str,
) -> Version:
    """The version a brief with ``content`` gets, given the one it had (None: a new brief,
    or no usable record). ``today`` is the UTC date of this build (YYYY-MM-DD)."""
    major = major_of(publication_version)
    if previous is None or previous.major != major:
        return Version(f"{major}.0", publication_date, content)
    if previous.content == content:
        return previous
    return Version(f"{major}.{previous.minor + 1}", today, content)

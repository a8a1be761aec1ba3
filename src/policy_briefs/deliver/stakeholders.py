"""stakeholders.yaml: who receives which briefs, validated into located problems.

The file lives outside version control (it holds people's addresses). Every value that
ends up in a mail header is checked here, before anything is sent: a line break in a
name or address would let the file add headers (say, a Bcc) to every message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.headerregistry import Address
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from ..corpus import problem_from
from ..errors import BriefsError, Problem, did_you_mean
from ..loader import Document, load_yaml
from ..models import Id, Model, Text

STAKEHOLDERS_FILE = "stakeholders.yaml"
EXAMPLE_FILE = "stakeholders.example.yaml"

# What each delivery format attaches, in attachment order.
FORMATS: dict[str, tuple[str, ...]] = {"pdf": ("pdf",), "html": ("html",), "both": ("pdf", "html")}

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


class StakeholderEntry(Model):
    """One person who receives briefs."""

    name: Text
    """Full name, as shown in the To: line of each message."""
    organisation: str | None = None
    """Where they work; shown in reports, not in messages."""
    email: Text
    """Their address, e.g. 'ada@example.gov' (the address alone, no name or angle brackets)."""
    audiences: list[Id] = Field(min_length=1)
    """Audience ids (from findings/audiences.yaml) whose briefs they receive: the
    audience's brief and the editions declared for it (findings/editions.yaml)."""
    format: Literal["pdf", "html", "both"] = "pdf"
    """What is attached: the PDF (default), the HTML twin, or both."""
    unsubscribed: bool = False
    """True: they asked to receive nothing more. Nothing is sent to them, and the
    ledger records since when; the entry stays so the request is not forgotten."""


class StakeholdersFile(Model):
    """stakeholders.yaml: the people briefs are sent to."""

    stakeholders: list[StakeholderEntry] = Field(min_length=1)
    """Everyone who receives briefs."""


@dataclass(frozen=True)
class Stakeholder:
    name: str
    organisation: str | None
    email: str
    audiences: tuple[str, ...]
    format: str
    unsubscribed: bool = False

    @property
    def key(self) -> str:
        """The recipient as the ledger knows them: case does not make a new person."""
        return self.email.lower()

    @property
    def attachments(self) -> tuple[str, ...]:
        return FORMATS[self.format]

    @property
    def address(self) -> Address:
        username, domain = self.email.rsplit("@", 1)
        return Address(display_name=self.name, username=username, domain=domain)


def address_problem(value: str) -> str | None:
    """Why ``value`` is not a usable recipient address, or None when it is one."""
    if _CONTROL.search(value):
        return "contains a line break or control character (it could inject mail headers)"
    if value != value.strip():
        return "has spaces around it"
    if "<" in value or ">" in value:
        return "write the address alone, e.g. 'ada@example.gov', without a name or <>"
    if "," in value or ";" in value:
        return "holds more than one address: list each person separately"
    try:
        parsed = Address(addr_spec=value)
    except Exception:  # the parser raises several types for malformed input
        return "is not a valid e-mail address"
    if not parsed.username or not parsed.domain:
        return "is not a valid e-mail address"
    if not parsed.username.isascii():
        return "has non-ASCII characters before the '@', which many mail servers refuse"
    domain = parsed.domain
    if domain.startswith("["):
        return "uses an IP address as domain; use the domain name"
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return f"domain '{domain}' is not a valid domain name"
    labels = ascii_domain.rstrip(".").split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return f"domain '{domain}' is not a full domain name such as example.org"
    return None


def header_text_problem(value: str) -> str | None:
    """Why ``value`` cannot go into a mail header, or None."""
    if _CONTROL.search(value):
        return "contains a line break or control character (it could inject mail headers)"
    return None


def load_stakeholders(
    path: Path, root: Path, audiences: Iterable[str]
) -> tuple[list[Stakeholder], list[Problem]]:
    """Read and check the stakeholders file against the project's audience ids."""
    if not path.is_file():
        raise BriefsError(
            f"no stakeholders file at {path}: copy {EXAMPLE_FILE} to {STAKEHOLDERS_FILE} "
            "and list the people who receive briefs, or pass --stakeholders FILE"
        )
    doc, problems = load_yaml(path, root)
    if doc is None or problems:
        return [], problems
    if not isinstance(doc.data, dict):
        return [], [doc.problem((), "expected a mapping with the top-level key 'stakeholders'")]
    try:
        parsed = StakeholdersFile.model_validate(doc.data)
    except ValidationError as exc:
        return [], [problem_from(error, doc, StakeholdersFile) for error in exc.errors()]
    return _check(doc, parsed, sorted(set(audiences)))


def _check(
    doc: Document, parsed: StakeholdersFile, known: list[str]
) -> tuple[list[Stakeholder], list[Problem]]:
    problems: list[Problem] = []
    people: list[Stakeholder] = []
    first_at: dict[str, int] = {}
    for i, entry in enumerate(parsed.stakeholders):
        at = ("stakeholders", i)
        before = len(problems)
        for key in ("name", "organisation"):
            value = getattr(entry, key)
            why = header_text_problem(value) if value is not None else None
            if why:
                problems.append(doc.problem((*at, key), f"stakeholders[{i}].{key}: {why}"))
        why = address_problem(entry.email)
        if why:
            problems.append(
                doc.problem((*at, "email"), f"stakeholders[{i}].email: '{entry.email}' {why}")
            )
        else:
            key = entry.email.lower()
            if key in first_at:
                line, _ = doc.locate(("stakeholders", first_at[key], "email"))
                problems.append(
                    doc.problem(
                        (*at, "email"),
                        f"stakeholders[{i}].email: duplicate recipient "
                        f"'{entry.email}' (first listed at line {line}); merge their audiences",
                    )
                )
            else:
                first_at[key] = i
        seen: set[str] = set()
        for j, audience in enumerate(entry.audiences):
            where = (*at, "audiences", j)
            if audience in seen:
                problems.append(
                    doc.problem(
                        where, f"stakeholders[{i}].audiences[{j}]: '{audience}' is listed twice"
                    )
                )
            elif audience not in known:
                hint = did_you_mean(audience, known)
                message = f"stakeholders[{i}].audiences[{j}]: unknown audience '{audience}'"
                message += (
                    f" (a typo? did you mean '{hint}'?)"
                    if hint
                    else f"; audiences in findings/audiences.yaml: {', '.join(known)}"
                )
                problems.append(doc.problem(where, message))
            seen.add(audience)
        if len(problems) == before:
            people.append(
                Stakeholder(
                    entry.name,
                    entry.organisation,
                    entry.email,
                    tuple(entry.audiences),
                    entry.format,
                    entry.unsubscribed,
                )
            )
    return people, problems

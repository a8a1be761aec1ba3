"""One message per recipient and brief: a short note (plain text and HTML) and the files.

The note says what the brief is, what changed since the version this recipient last
received, and where it is published. Its wording lives in templates/mail/, so a project
can rewrite it like any other template.
"""

from __future__ import annotations

import email.policy
import hashlib
import io
import re
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import quote, urlencode

import jinja2

from ..built import Build
from ..changes import ChangeReport, split
from ..errors import BriefsError
from ..manifest import BriefEntry
from ..models import Publication
from ..site.facts import display_date, human_size, page_path
from ..templating import render_template
from .stakeholders import Stakeholder, address_problem, header_text_problem

TEXT_TEMPLATE = "mail/message.txt"
HTML_TEMPLATE = "mail/message.html"
MIME_TYPES = {"pdf": ("application", "pdf"), "html": ("text", "html")}
# How much of the build's change report a message quotes for one brief.
CHANGE_NOTE_LINES = 30


@dataclass
class RecipientChanges:
    """What differs between the version a recipient has and the one being sent."""

    first: bool = True
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    note: str = ""  # this brief's part of the build's change report, when there is one

    @property
    def findings_changed(self) -> bool:
        return bool(self.added or self.removed or self.edited)

    def summary(self) -> str:
        """One line for reports: 'first copy', '+1 -0 ~2 findings', ..."""
        if self.first:
            return "first copy"
        if not self.findings_changed:
            return "revised (same findings)"
        parts = []
        for label, items in (
            ("added", self.added),
            ("edited", self.edited),
            ("removed", self.removed),
        ):
            if items:
                parts.append(f"{len(items)} {label}")
        return "findings " + ", ".join(parts)


def findings_record(brief: BriefEntry) -> dict[str, list[str]]:
    """The findings of a version as the ledger keeps them: id -> [headline, content hash].

    The hash is the build's own record of the finding (manifest "inputs"); the "build:"
    prefix marks its kind, so records of another kind are never compared with it.
    """
    hashes = brief.finding_hashes
    return {
        fid: [brief.headline(fid), f"build:{hashes[fid]}" if fid in hashes else ""]
        for fid in brief.findings
    }


def _comparable(a: str, b: str) -> bool:
    return bool(a and b) and a.split(":", 1)[0] == b.split(":", 1)[0]


def changes_since(
    before: dict[str, list[str]] | None,
    after: dict[str, list[str]],
    order: list[str],
    note: str = "",
) -> RecipientChanges:
    """What a recipient holding the ``before`` findings will find changed in ``after``."""
    if before is None:
        return RecipientChanges(first=True, note=note)
    added, removed, _ = split(before, after)
    edited = [
        f
        for f in order
        if f in before
        and f in after
        and _comparable(before[f][1], after[f][1])
        and before[f][1] != after[f][1]
    ]
    return RecipientChanges(
        first=False,
        added=[after[f][0] for f in order if f in added],
        removed=[before[f][0] for f in removed],
        edited=[after[f][0] for f in edited],
        note=note,
    )


def change_note(report: ChangeReport | None, brief: BriefEntry) -> str:
    """The build's change report for this brief, in Markdown, clipped for a message."""
    if report is None:
        return ""
    lines = report.explain(brief.slug).strip().splitlines()
    kept = lines[:CHANGE_NOTE_LINES]
    return "\n".join(kept) + ("\n…" if len(lines) > CHANGE_NOTE_LINES else "")


def parse_sender(value: str, where: str) -> Address:
    """A From address such as 'Policy Unit <briefs@example.org>', refused if malformed."""
    why = header_text_problem(value)
    if why:
        raise BriefsError(f"{where} {why}")
    name, addr = parseaddr(value)
    why = address_problem(addr) if addr else "is empty"
    if why:
        raise BriefsError(f"{where}: '{value}' is not a usable sender address ({why})")
    username, domain = addr.rsplit("@", 1)
    return Address(display_name=name, username=username, domain=domain)


def message_id(brief: str, sha256: str, recipient: str, round_: int, domain: str) -> str:
    """The same delivery always gets the same Message-ID, so a resend after a crash can be
    recognised as a duplicate by the receiving side. ``round_`` counts earlier deliveries
    of these very bytes to this recipient (a brief rolled back to an older version)."""
    who = hashlib.sha256(f"{recipient}\n{round_}".encode()).hexdigest()[:16]
    return f"<briefs.{brief}.{sha256[:16]}.{who}@{domain}>"


def compose(
    env: jinja2.Environment,
    *,
    stakeholder: Stakeholder,
    brief: BriefEntry,
    files: dict[str, bytes],
    build: Build,
    changes: RecipientChanges,
    sender: Address,
    msgid: str,
    site_url: str | None,
    date,
) -> EmailMessage:
    """The message for one recipient and one brief version."""
    pub = build.publication
    # The brief's own version (versions.py); a build before versions has none.
    version = brief.version_number
    subject = f"{brief.title}" if changes.first else f"Updated: {brief.title}"
    if version:
        subject += f" (version {version})"
    why = header_text_problem(subject)
    if why:
        raise BriefsError(f"the title of brief '{brief.slug}' {why}")
    context = dict(
        stakeholder=stakeholder,
        brief=brief,
        publication=pub,
        audience_title=build.audience_title(brief.audience),
        changes=changes,
        attachments=[
            (f"{brief.slug}.{fmt}", fmt, human_size(len(files[fmt])))
            for fmt in stakeholder.attachments
        ],
        page_url=(
            site_url + page_path(brief.slug, "html") if site_url and "html" in brief.files else None
        ),
        pdf_url=(
            site_url + page_path(brief.slug, "pdf") if site_url and "pdf" in brief.files else None
        ),
        site_url=site_url,
        date=display_date(brief.version.date if brief.version else pub.date),
        version=version,
    )
    message = EmailMessage()
    message["From"] = sender
    message["To"] = stakeholder.address
    if pub.contact and not address_problem(pub.contact) and pub.contact != sender.addr_spec:
        message["Reply-To"] = Address(display_name=pub.publisher, addr_spec=pub.contact)
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = msgid
    # Not a personal letter: out-of-office robots should not answer it (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    # Which brief and which bytes, for mail rules and for deduplication downstream.
    message["X-Briefs-Brief"] = brief.slug
    message["X-Briefs-Version"] = f"sha256:{brief.sha256}"
    for name, value in list_headers(pub, sender, stakeholder.email).items():
        message[name] = value
    message.set_content(render_template(env, TEXT_TEMPLATE, **context))
    message.add_alternative(render_template(env, HTML_TEMPLATE, **context), subtype="html")
    for fmt in stakeholder.attachments:
        maintype, subtype = MIME_TYPES[fmt]
        # Text says its charset: without it a reader may guess wrong (RFC 2046 4.1.2).
        params = {"charset": "utf-8"} if maintype == "text" else {}
        message.add_attachment(
            files[fmt],
            maintype=maintype,
            subtype=subtype,
            filename=f"{brief.slug}.{fmt}",
            params=params,
        )
    return message


def list_headers(publication: Publication, sender: Address, recipient: str) -> dict[str, str]:
    """List-Id (RFC 2919) and List-Unsubscribe (RFC 2369): a mailto: to the contact
    address (else the sender) and, when the publication has an https unsubscribe_url,
    that URL for this recipient with List-Unsubscribe-Post, i.e. one click (RFC 8058),
    which is only announced where such a URL exists."""
    label = re.sub(r"[^a-z0-9]+", "-", publication.series.lower()).strip("-") or "briefs"
    headers = {"List-Id": f"{publication.series} <{label}.{sender.domain}>"}
    contact = publication.contact
    to = contact if contact and not address_problem(contact) else sender.addr_spec
    subject = quote(f"unsubscribe {recipient}")
    links = [f"<mailto:{to}?subject={subject}>"]
    url = publication.unsubscribe_url
    if url:
        joiner = "&" if "?" in url else "?"
        links.insert(0, f"<{url}{joiner}{urlencode({'email': recipient})}>")
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    headers["List-Unsubscribe"] = ", ".join(links)
    return headers


def wire_bytes(message: EmailMessage, *, utf8: bool = False) -> bytes:
    """The message as it goes to the server: CRLF lines, and no ">From " mangling of
    body lines (smtplib's own flattening would add it)."""
    buffer = io.BytesIO()
    policy = email.policy.SMTPUTF8 if utf8 else email.policy.SMTP
    BytesGenerator(buffer, mangle_from_=False, policy=policy).flatten(message)
    return buffer.getvalue()

"""Change-aware delivery: each recipient gets each brief version once, and only new ones.

Everything is checked before the first message goes out: the build, the stakeholders
file, the transport settings and the files to attach. Then each delivery is recorded in
the ledger as it happens, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from ..built import Build, read_build
from ..changes import CHANGES_JSON, ChangeReport
from ..errors import BriefsError, ValidationFailed
from ..manifest import BriefEntry
from ..project import Project
from ..templating import jinja_environment
from .ledger import DEFAULT_LEDGER, Delivery, Ledger
from .message import (
    RecipientChanges,
    change_note,
    changes_since,
    compose,
    findings_record,
    message_id,
    parse_sender,
)
from .stakeholders import STAKEHOLDERS_FILE, Stakeholder, load_stakeholders
from .transport import (
    ENV_FROM,
    OutboxTransport,
    PermanentFailure,
    Retry,
    ServerUnavailable,
    SmtpSettings,
    SmtpTransport,
    TemporaryFailure,
)

# Outcomes a delivery can end the run with; the last two make `briefs send` fail.
SENT, WRITTEN, WOULD_SEND, PENDING, FAILED = "sent", "written", "would send", "pending", "failed"
UNSUBSCRIBED = "unsubscribed"  # asked to receive nothing more: not sent, not a failure


@dataclass
class SendOptions:
    audiences: list[str] = field(default_factory=list)
    briefs: list[str] = field(default_factory=list)
    stakeholders: Path | None = None
    ledger: Path | None = None
    outbox: Path | None = None
    dry_run: bool = False
    retry_failed: bool = False
    site_url: str | None = None
    new_ledger: bool = False  # replace an empty, damaged or foreign ledger deliberately


@dataclass
class Outcome:
    stakeholder: Stakeholder
    brief: BriefEntry
    status: str
    detail: str
    retries: int = 0  # tries beyond the first this run (temporary failures, dropped links)


@dataclass
class SendReport:
    transport: str
    destination: str
    outcomes: list[Outcome]
    up_to_date: int
    dry_run: bool
    ledger: Path
    replaced_ledger: Path | None = None  # where --new-ledger put the old file

    @property
    def retries(self) -> int:
        return sum(o.retries for o in self.outcomes)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def ok(self) -> bool:
        return not (self.count(PENDING) or self.count(FAILED))


@dataclass
class _Planned:
    stakeholder: Stakeholder
    brief: BriefEntry
    changes: RecipientChanges
    findings: dict[str, list[str]]
    open: Delivery | None
    round: int


Progress = Callable[[str], None]


def send_briefs(
    project: Project,
    options: SendOptions,
    *,
    env: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    clock=None,
) -> SendReport:
    """Send every brief version each stakeholder has not yet received."""
    env = os.environ if env is None else env
    say = progress or (lambda _msg: None)
    clock = clock or (lambda: dt.datetime.now(dt.UTC))

    # --- check everything before sending anything --------------------------------
    build = read_build(project.output_dir)
    path = options.stakeholders or project.root / STAKEHOLDERS_FILE
    people, problems = load_stakeholders(path, project.root, build.audiences)
    if problems:
        raise ValidationFailed(problems)
    briefs = _chosen_briefs(build, options)
    settings = SmtpSettings.from_env(env)
    sender = _sender(env, build, settings is not None)
    retry = Retry.from_env(env)
    site_url = build.site_url(options.site_url, env)
    files = _files_to_attach(build, briefs, people)
    changes = _read_changes(build)
    ledger_path = options.ledger or project.root / DEFAULT_LEDGER
    transport: SmtpTransport | OutboxTransport
    if settings is not None:
        transport = SmtpTransport(settings)
    else:
        transport = OutboxTransport(options.outbox or build.out_dir / "outbox")
    mail_env = jinja_environment(project)
    _preflight(people, briefs, files, build, sender, site_url, mail_env, clock)

    try:
        with Ledger(
            ledger_path, read_only=options.dry_run, new_ledger=options.new_ledger
        ) as ledger:
            plan, up_to_date, outcomes = _plan(
                ledger, transport.name, people, briefs, changes, options.retry_failed
            )
            report = SendReport(
                transport.name,
                transport.describe(),
                outcomes,
                up_to_date,
                options.dry_run,
                ledger_path,
            )
            report.replaced_ledger = ledger.replaced
            if options.dry_run:
                report.outcomes += [
                    Outcome(p.stakeholder, p.brief, WOULD_SEND, p.changes.summary()) for p in plan
                ]
                return report
            unavailable: str | None = None
            try:
                for item in plan:
                    who, brief = item.stakeholder, item.brief
                    if unavailable:
                        delivery = item.open or _start(ledger, transport.name, item, sender)
                        ledger.mark_pending(delivery.id, unavailable)
                        report.outcomes.append(Outcome(who, brief, PENDING, unavailable))
                        continue
                    say(f"{brief.slug} -> {who.email}")
                    outcome, down = _deliver(
                        ledger,
                        transport,
                        item,
                        sender,
                        files,
                        build,
                        site_url,
                        mail_env,
                        retry,
                        clock,
                    )
                    if down:
                        # Every later message would meet the same closed door: leave them
                        # pending now instead of spending the retries on each one.
                        unavailable = outcome.detail
                    report.outcomes.append(outcome)
            finally:
                transport.close()
        return report
    except sqlite3.Error as exc:
        # A disk error, a file damaged under us: say what and where, never a traceback.
        raise BriefsError(
            f"ledger {ledger_path}: {exc}; the deliveries recorded before this are kept "
            "and the next run resumes from them"
        ) from None


def _chosen_briefs(build: Build, options: SendOptions) -> list[BriefEntry]:
    for audience in options.audiences:
        if audience not in build.audiences:
            raise BriefsError(
                f"unknown audience '{audience}'; audiences: {', '.join(build.audiences)}"
            )
    for slug in options.briefs:
        found = build.get(slug)
        if found is None:
            raise BriefsError(
                f"no brief '{slug}' in {build.manifest_path}; built: "
                f"{', '.join(b.slug for b in build.briefs)}"
            )
        if found.draft:
            raise BriefsError(
                f"brief '{slug}' is a draft (made with --theme/--finding) and drafts are "
                "never sent; to send this selection, declare it as an edition in "
                "findings/editions.yaml (see README, 'Editions') and run `briefs build`"
            )
    chosen = []
    for brief in build.briefs:
        if options.briefs:
            wanted = brief.slug in options.briefs
        else:
            # Drafts (--theme/--finding) are never sent; declared editions go to their
            # audience like its standard brief.
            wanted = not brief.draft and (
                not options.audiences or brief.audience in options.audiences
            )
        if wanted:
            chosen.append(brief)
    return chosen


def _sender(env: Mapping[str, str], build: Build, smtp: bool):
    value = env.get(ENV_FROM, "").strip()
    if value:
        return parse_sender(value, ENV_FROM)
    contact = build.publication.contact
    if not smtp and contact:
        # The outbox is for review: the series' contact address is a fine stand-in.
        try:
            return parse_sender(f"{build.publication.publisher} <{contact}>", "publication.contact")
        except BriefsError:
            pass
    raise BriefsError(
        f"set {ENV_FROM} to the sender address, e.g. {ENV_FROM}='Policy Unit <briefs@example.org>'"
    )


def _files_to_attach(build: Build, briefs: list[BriefEntry], people: list[Stakeholder]) -> dict:
    """Read (and check against the manifest) every file some recipient will get."""
    needed: dict[str, set[str]] = {}
    for who in people:
        for brief in briefs:
            if brief.audience in who.audiences:
                for fmt in who.attachments:
                    if fmt not in brief.files:
                        raise BriefsError(
                            f"{who.email} receives the {fmt.upper()} of '{brief.slug}', "
                            f"which was not built: run `briefs build --format all`"
                        )
                    needed.setdefault(brief.slug, set()).add(fmt)
    return {
        (slug, fmt): build.read(next(b for b in briefs if b.slug == slug), fmt)
        for slug, fmts in needed.items()
        for fmt in fmts
    }


def _read_changes(build: Build) -> ChangeReport | None:
    """The build's change report (changes.json), quoted in messages; optional."""
    path = build.out_dir / CHANGES_JSON
    try:
        return ChangeReport.from_json(path.read_text("utf-8")) if path.is_file() else None
    except (OSError, UnicodeDecodeError, ValueError, TypeError):
        return None  # a damaged report only costs the messages their change note


def _plan(
    ledger: Ledger,
    transport: str,
    people: list[Stakeholder],
    briefs: list[BriefEntry],
    report: ChangeReport | None,
    retry_failed: bool,
):
    plan: list[_Planned] = []
    outcomes: list[Outcome] = []
    up_to_date = 0
    for who in people:
        since = ledger.set_unsubscribed(who.key, who.unsubscribed)
        for brief in briefs:
            if brief.audience not in who.audiences:
                continue
            if since is not None:
                outcomes.append(Outcome(who, brief, UNSUBSCRIBED, f"not sent: since {since}"))
                continue
            last = ledger.last_sent(brief.slug, who.key, transport)
            if last is not None and last.sha256 == brief.sha256:
                up_to_date += 1
                continue
            open_ = ledger.open_delivery(brief.slug, brief.sha256, who.key, transport)
            if open_ is not None and open_.status == "failed" and not retry_failed:
                outcomes.append(
                    Outcome(
                        who,
                        brief,
                        FAILED,
                        f"{open_.error} (in an earlier run; --retry-failed tries again)",
                    )
                )
                continue
            findings = findings_record(brief)
            changes = changes_since(
                last.findings if last else None,
                findings,
                brief.findings,
                change_note(report, brief),
            )
            plan.append(
                _Planned(
                    who,
                    brief,
                    changes,
                    findings,
                    open_,
                    ledger.times_sent(brief.slug, brief.sha256, who.key, transport),
                )
            )
    return plan, up_to_date, outcomes


def _preflight(
    people: list[Stakeholder],
    briefs: list[BriefEntry],
    files,
    build: Build,
    sender,
    site_url,
    mail_env,
    clock,
) -> None:
    """Compose a first and an updated message for each brief and format before anything is
    sent or recorded: a broken mail template or a title that cannot be a subject stops
    the run before it starts."""
    seen = set()
    example = RecipientChanges(
        first=False,
        added=["(a new finding)"],
        removed=["(an old finding)"],
        edited=["(a revised finding)"],
        note="(a change report)",
    )
    for who in people:
        for brief in briefs:
            key = (brief.slug, who.attachments)
            if brief.audience not in who.audiences or key in seen:
                continue
            seen.add(key)
            for changes in (RecipientChanges(first=True), example):
                compose(
                    mail_env,
                    stakeholder=who,
                    brief=brief,
                    files={fmt: files[(brief.slug, fmt)] for fmt in who.attachments},
                    build=build,
                    changes=changes,
                    sender=sender,
                    msgid="<preflight@localhost>",
                    site_url=site_url,
                    date=clock(),
                )


def _start(ledger: Ledger, transport: str, item: _Planned, sender) -> Delivery:
    msgid = message_id(
        item.brief.slug, item.brief.sha256, item.stakeholder.key, item.round, sender.domain
    )
    return ledger.start(
        item.brief.slug, item.brief.sha256, item.stakeholder.key, transport, msgid, item.findings
    )


def _deliver(
    ledger: Ledger,
    transport,
    item: _Planned,
    sender,
    files,
    build: Build,
    site_url: str | None,
    mail_env,
    retry: Retry,
    clock,
) -> tuple[Outcome, bool]:
    """Deliver one message; also says whether the server is unusable for the rest."""
    who, brief = item.stakeholder, item.brief
    # A delivery left open by an earlier run keeps its Message-ID: if that run's message
    # did reach the server, the receiving side sees the same id twice and can drop one.
    delivery = item.open or _start(ledger, transport.name, item, sender)
    message = compose(
        mail_env,
        stakeholder=who,
        brief=brief,
        files={fmt: files[(brief.slug, fmt)] for fmt in who.attachments},
        build=build,
        changes=item.changes,
        sender=sender,
        msgid=delivery.message_id,
        site_url=site_url,
        date=clock(),
    )
    retrying = Retrying(
        stop=stop_after_attempt(retry.attempts),
        wait=wait_exponential(multiplier=retry.wait, min=retry.wait, max=retry.wait * 30),
        retry=retry_if_exception(lambda e: isinstance(e, TemporaryFailure) and e.retry_now),
        reraise=True,
    )
    tries = 0
    try:
        for attempt in retrying:
            with attempt:
                tries += 1
                ledger.mark_sending(delivery.id)
                transport.send(
                    message,
                    sender=sender,
                    recipient=who.email,
                    brief=brief.slug,
                    sha256=brief.sha256,
                )
                # The server has the message. Until the next line commits, a crash would
                # leave the row 'sending'; the next run then sends it again under the same
                # Message-ID. That window (one message, one commit long) is the only way
                # a recipient can get a copy twice.
                ledger.mark_sent(delivery.id)
    except ServerUnavailable as exc:
        ledger.mark_pending(delivery.id, str(exc))
        return Outcome(who, brief, PENDING, f"server unavailable: {exc}", tries - 1), True
    except TemporaryFailure as exc:
        ledger.mark_pending(delivery.id, str(exc))
        return Outcome(
            who,
            brief,
            PENDING,
            f"{exc} (after {tries} tries; the next run tries again)",
            tries - 1,
        ), False
    except PermanentFailure as exc:
        ledger.mark_failed(delivery.id, str(exc))
        return Outcome(who, brief, FAILED, str(exc), tries - 1), False
    status = SENT if transport.name == "smtp" else WRITTEN
    detail = item.changes.summary()
    if item.open is not None and item.open.status == "sending":
        detail += "; sent again after an interrupted run (same Message-ID)"
    if tries > 1:
        detail += f"; delivered on try {tries}"
    return Outcome(who, brief, status, detail, tries - 1), False

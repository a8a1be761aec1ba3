"""The delivery ledger (SQLite): which version of which brief went to whom, when, and how.

One row per delivery of one brief version to one recipient through one transport. A row
is written (``pending``) before the message goes out and updated (``sent``) in its own
committed transaction right after the server accepts it, so after a crash the ledger
says exactly which messages were delivered, up to the single message in flight (see
mail.py for how that one is made harmless).

Statuses:
    pending  not delivered yet: a temporary failure, or never tried; retried next run
    sending  handed to the server when the run stopped; acceptance unknown
    sent     accepted by the server (smtp) or written (outbox)
    failed   refused for good (a 5xx reply); retried only with --retry-failed

The outbox and SMTP keep separate records: writing a message to the outbox for review
never counts as delivering it.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ..errors import BriefsError
from ..files import LOCK_TIMEOUT, Locked, utc_stamp

SCHEMA_VERSION = 2
DEFAULT_LEDGER = Path(".briefs") / "ledger.sqlite"
# PRAGMA application_id of a ledger ("BRFS"): tells ours from any other SQLite file.
APPLICATION_ID = 0x42524653
_SQLITE_HEADER = b"SQLite format 3\x00"
_COLUMNS = {
    "id", "brief", "sha256", "recipient", "transport", "status", "attempts", "message_id",
    "findings", "error", "created_at", "updated_at", "sent_at",
}  # fmt: skip
NEW_LEDGER_HINT = (
    "send refuses to start over on its own, which would send every brief again; "
    "restore the ledger from its backup, or start a new one deliberately with --new-ledger"
)

_SCHEMA = """
CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY,
    brief       TEXT NOT NULL,      -- the brief's slug
    sha256      TEXT NOT NULL,      -- the version: sha256 of the PDF (of the HTML if no PDF)
    recipient   TEXT NOT NULL,      -- e-mail address, lower case
    transport   TEXT NOT NULL CHECK (transport IN ('smtp', 'outbox')),
    status      TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    message_id  TEXT NOT NULL,
    findings    TEXT NOT NULL,      -- JSON {finding id: [headline, content sha256]}
    error       TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    sent_at     TEXT
);
CREATE INDEX deliveries_by_recipient ON deliveries (brief, recipient, transport, id);
"""
# Version 2: who asked to receive nothing more (stakeholders.yaml "unsubscribed"), since when.
_SCHEMA_2 = """
CREATE TABLE unsubscribed (
    recipient   TEXT PRIMARY KEY,   -- e-mail address, lower case
    since       TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Delivery:
    id: int
    brief: str
    sha256: str
    recipient: str
    transport: str
    status: str
    attempts: int
    message_id: str
    findings: dict[str, list[str]]
    error: str | None
    created_at: str
    updated_at: str
    sent_at: str | None


class Ledger:
    """A ledger file, held exclusively (a file lock) while a send runs.

    An existing file must be a sound ledger: an empty (0-byte), foreign or damaged file
    is refused, never taken for a new ledger, since that would send everything again.
    ``new_ledger`` starts a new one deliberately: the old file is kept beside it,
    renamed (``replaced`` says where); a sound ledger that records deliveries is never
    replaced this way.
    """

    def __init__(
        self,
        path: Path,
        *,
        read_only: bool = False,
        new_ledger: bool = False,
        lock_timeout: float = LOCK_TIMEOUT,
    ):
        self.path = path
        self.read_only = read_only
        self.replaced: Path | None = None
        self._lock: Locked | None = None
        self._db: sqlite3.Connection | None = None
        try:
            if read_only:
                # A dry run must not create or change anything, not even the ledger file.
                if path.is_file() and not new_ledger:
                    self._refuse_unless_sqlite(path)
                    self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
                    self._check()
                else:
                    self._db = sqlite3.connect(":memory:")
                    self._db.executescript(_SCHEMA + _SCHEMA_2)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                # Locked by its real path: two runs reaching one ledger through different
                # names (a symlink) must still exclude each other.
                real = path.resolve()
                self._lock = Locked(
                    real.with_name(real.name + ".lock"), f"the ledger {path}", timeout=lock_timeout
                )
                self._lock.__enter__()
                if new_ledger and real.exists():
                    self._set_aside(real)
                elif real.exists():
                    self._refuse_unless_sqlite(real)
                self._db = sqlite3.connect(str(real), timeout=30, isolation_level=None)
                self._db.execute("PRAGMA synchronous = FULL")
                if self._db.execute("PRAGMA user_version").fetchone()[0] or self._tables():
                    self._check()
                self._migrate()
            self._db.row_factory = sqlite3.Row
            self._db.execute("SELECT count(*) FROM deliveries").fetchone()
        except sqlite3.Error as exc:
            self.close()
            raise BriefsError(
                f"ledger {path} cannot be used: {exc} (is it a briefs ledger?); {NEW_LEDGER_HINT}"
            ) from None
        except BaseException:
            self.close()
            raise

    def _refuse_unless_sqlite(self, real: Path) -> None:
        with real.open("rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
        if not header:
            raise BriefsError(f"ledger {self.path} is empty (0 bytes); {NEW_LEDGER_HINT}")
        if header != _SQLITE_HEADER:
            raise BriefsError(
                f"ledger {self.path} cannot be used: it is not a SQLite file "
                f"(is it a briefs ledger?); {NEW_LEDGER_HINT}"
            )

    def _tables(self) -> set[str]:
        rows = self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row[0] for row in rows}

    def _check(self) -> None:
        """Refuse a damaged file, or a SQLite file that is not a ledger."""
        verdict = [row[0] for row in self.db.execute("PRAGMA quick_check")]
        if verdict != ["ok"]:
            raise BriefsError(
                f"ledger {self.path} is damaged ({'; '.join(verdict[:3])}); {NEW_LEDGER_HINT}"
            )
        app = self.db.execute("PRAGMA application_id").fetchone()[0]
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(deliveries)")}
        if app not in (0, APPLICATION_ID) or columns != _COLUMNS:
            raise BriefsError(
                f"ledger {self.path} is a SQLite file but not a briefs ledger; {NEW_LEDGER_HINT}"
            )

    def _set_aside(self, real: Path) -> None:
        """Move an unusable ledger out of the way, keeping it; refuse a sound one."""
        try:
            self._refuse_unless_sqlite(real)
            db = sqlite3.connect(f"{real.as_uri()}?mode=ro", uri=True)
            try:
                self._db = db
                self._check()
                count = db.execute("SELECT count(*) FROM deliveries").fetchone()[0]
            finally:
                db.close()
                self._db = None
        except (BriefsError, sqlite3.Error):
            count = 0  # unusable: replace it
        if count:
            raise BriefsError(
                f"ledger {self.path} is sound and records {count} deliveries; --new-ledger "
                "replaces only an empty, damaged or foreign ledger (move this one away "
                "yourself if every brief is to be sent again)"
            )
        aside = real.with_name(f"{real.name}.replaced-{utc_stamp().replace(':', '')}")
        for suffix in ("", "-journal", "-wal", "-shm"):
            old = real.with_name(real.name + suffix)
            if old.exists():
                old.rename(aside.with_name(aside.name + suffix))
        self.replaced = aside

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise BriefsError(f"ledger {self.path} is closed")
        return self._db

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise BriefsError(
                f"ledger {self.path} was written by a newer policy-briefs; upgrade before sending"
            )
        if version == 0:
            if self._tables():
                raise BriefsError(
                    f"ledger {self.path} is a SQLite file but not a briefs ledger; "
                    + NEW_LEDGER_HINT
                )
            # One script, one transaction: a ledger either has the whole schema or none.
            self.db.executescript(
                f"BEGIN IMMEDIATE; {_SCHEMA} {_SCHEMA_2} "
                f"PRAGMA application_id = {APPLICATION_ID}; "
                f"PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            )
        elif version == 1:
            self.db.executescript(
                f"BEGIN IMMEDIATE; {_SCHEMA_2} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock is not None:
            self._lock.__exit__(None, None, None)
            self._lock = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- reading --------------------------------------------------------------------

    def last_sent(self, brief: str, recipient: str, transport: str) -> Delivery | None:
        """The version this recipient last received of this brief, through this transport."""
        row = self.db.execute(
            "SELECT * FROM deliveries WHERE brief = ? AND recipient = ? AND transport = ? "
            "AND status = 'sent' ORDER BY id DESC LIMIT 1",
            (brief, recipient, transport),
        ).fetchone()
        return _delivery(row)

    def open_delivery(
        self, brief: str, sha256: str, recipient: str, transport: str
    ) -> Delivery | None:
        """An unfinished delivery of this very version, started after the last sent one."""
        row = self.db.execute(
            "SELECT * FROM deliveries WHERE brief = ? AND sha256 = ? AND recipient = ? "
            "AND transport = ? AND status != 'sent' AND id > coalesce((SELECT max(id) FROM "
            "deliveries WHERE brief = ? AND recipient = ? AND transport = ? AND "
            "status = 'sent'), 0) ORDER BY id DESC LIMIT 1",
            (brief, sha256, recipient, transport, brief, recipient, transport),
        ).fetchone()
        return _delivery(row)

    def times_sent(self, brief: str, sha256: str, recipient: str, transport: str) -> int:
        return self.db.execute(
            "SELECT count(*) FROM deliveries WHERE brief = ? AND sha256 = ? AND recipient = ? "
            "AND transport = ? AND status = 'sent'",
            (brief, sha256, recipient, transport),
        ).fetchone()[0]

    def unsubscribed_since(self, recipient: str) -> str | None:
        if "unsubscribed" not in self._tables():  # a version-1 ledger read in a dry run
            return None
        row = self.db.execute(
            "SELECT since FROM unsubscribed WHERE recipient = ?", (recipient,)
        ).fetchone()
        return row[0] if row else None

    # --- writing: each call is one committed transaction ---------------------------

    def set_unsubscribed(self, recipient: str, unsubscribed: bool) -> str | None:
        """Record (or, when they are back, clear) a recipient's request to receive
        nothing more; returns since when they are unsubscribed."""
        since = self.unsubscribed_since(recipient)
        if self.read_only:  # a dry run: say what a run would record
            return (since or "this run") if unsubscribed else None
        if unsubscribed == (since is not None):
            return since
        with self._transaction():
            if unsubscribed:
                since = utc_stamp()
                self.db.execute(
                    "INSERT INTO unsubscribed (recipient, since) VALUES (?, ?)",
                    (recipient, since),
                )
            else:
                self.db.execute("DELETE FROM unsubscribed WHERE recipient = ?", (recipient,))
                since = None
        return since

    def start(
        self,
        brief: str,
        sha256: str,
        recipient: str,
        transport: str,
        message_id: str,
        findings: dict[str, list[str]],
    ) -> Delivery:
        stamp = utc_stamp()
        with self._transaction():
            cursor = self.db.execute(
                "INSERT INTO deliveries (brief, sha256, recipient, transport, status, "
                "message_id, findings, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
                (
                    brief,
                    sha256,
                    recipient,
                    transport,
                    message_id,
                    json.dumps(findings, sort_keys=True),
                    stamp,
                    stamp,
                ),
            )
        assert cursor.lastrowid is not None
        return self.get(cursor.lastrowid)

    def mark_sending(self, delivery_id: int) -> None:
        self._set(delivery_id, "sending", None, attempts=True)

    def mark_sent(self, delivery_id: int) -> None:
        self._set(delivery_id, "sent", None, sent=True)

    def mark_pending(self, delivery_id: int, error: str) -> None:
        self._set(delivery_id, "pending", error)

    def mark_failed(self, delivery_id: int, error: str) -> None:
        self._set(delivery_id, "failed", error)

    def get(self, delivery_id: int) -> Delivery:
        row = self.db.execute("SELECT * FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
        found = _delivery(row)
        if found is None:
            raise BriefsError(f"ledger {self.path} has no delivery {delivery_id}")
        return found

    def _set(
        self,
        delivery_id: int,
        status: str,
        error: str | None,
        *,
        attempts: bool = False,
        sent: bool = False,
    ) -> None:
        stamp = utc_stamp()
        with self._transaction():
            self.db.execute(
                "UPDATE deliveries SET status = ?, error = ?, updated_at = ?, "
                "attempts = attempts + ?, sent_at = CASE WHEN ? THEN ? ELSE sent_at END "
                "WHERE id = ?",
                (status, error, stamp, int(attempts), int(sent), stamp, delivery_id),
            )

    def _transaction(self):
        if self.read_only:
            raise BriefsError("internal: the dry-run ledger is read-only")
        return _Transaction(self.db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT: the row is on disk when the block ends."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *_):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


# --- export: the ledger as text, for review in version control ----------------------

EXPORT_FORMATS = ("json", "csv")
# The column order of the export: a delivery's identity first, then its progress.
_EXPORT_COLUMNS = (
    "id", "brief", "sha256", "recipient", "transport", "status", "attempts", "message_id",
    "created_at", "updated_at", "sent_at", "error", "findings",
)  # fmt: skip


def export_ledger(path: Path, fmt: str = "json") -> str:
    """Every delivery of the ledger at ``path`` (in id order) and every unsubscribed
    recipient, as JSON or CSV text.

    Deterministic and one line per delivery, so that a ledger kept in git shows in a
    diff as one added line per message and one changed line per status change. Read
    only: the file is checked like any ledger (empty, foreign and damaged files are
    refused) and never created or changed.
    """
    if fmt not in EXPORT_FORMATS:
        raise BriefsError(f"unknown export format '{fmt}'; choose {' or '.join(EXPORT_FORMATS)}")
    if not path.is_file():
        raise BriefsError(f"no ledger at {path} (`briefs send` writes one; see --ledger)")
    with Ledger(path, read_only=True) as ledger:
        db = ledger.db
        db.execute("BEGIN")  # one snapshot for both tables
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            rows = [dict(row) for row in db.execute("SELECT * FROM deliveries ORDER BY id")]
            unsubscribed = (
                [dict(row) for row in db.execute("SELECT * FROM unsubscribed ORDER BY recipient")]
                if "unsubscribed" in ledger._tables()
                else []
            )
        finally:
            db.execute("COMMIT")
    deliveries = [{column: row[column] for column in _EXPORT_COLUMNS} for row in rows]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(_EXPORT_COLUMNS)
        for delivery in deliveries:
            writer.writerow(["" if value is None else value for value in delivery.values()])
        return buffer.getvalue()
    for delivery in deliveries:
        delivery["findings"] = json.loads(delivery["findings"] or "{}")

    def lines(items: list[dict]) -> str:
        if not items:
            return "[]"
        body = ",\n".join("    " + json.dumps(item, ensure_ascii=False) for item in items)
        return f"[\n{body}\n  ]"

    return (
        "{\n"
        f'  "schema_version": {version},\n'
        f'  "deliveries": {lines(deliveries)},\n'
        f'  "unsubscribed": {lines(unsubscribed)}\n'
        "}\n"
    )


def _delivery(row: sqlite3.Row | None) -> Delivery | None:
    if row is None:
        return None
    data = dict(row)
    data["findings"] = json.loads(data["findings"] or "{}")
    return Delivery(**data)

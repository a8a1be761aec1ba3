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

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ..errors import BriefsError
from ..files import Locked, utc_stamp

SCHEMA_VERSION = 1
DEFAULT_LEDGER = Path(".briefs") / "ledger.sqlite"

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
    """A ledger file, held exclusively (a file lock) while a send runs."""

    def __init__(self, path: Path, *, read_only: bool = False):
        self.path = path
        self.read_only = read_only
        self._lock: Locked | None = None
        self._db: sqlite3.Connection | None = None
        try:
            if read_only:
                # A dry run must not create or change anything, not even the ledger file.
                if path.is_file():
                    self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
                else:
                    self._db = sqlite3.connect(":memory:")
                    self._db.executescript(_SCHEMA)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                # Locked by its real path: two runs reaching one ledger through different
                # names (a symlink) must still exclude each other.
                real = path.resolve()
                self._lock = Locked(real.with_name(real.name + ".lock"), f"the ledger {path}")
                self._lock.__enter__()
                self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
                self._db.execute("PRAGMA synchronous = FULL")
                self._migrate()
            self._db.row_factory = sqlite3.Row
            self._db.execute("SELECT count(*) FROM deliveries").fetchone()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise BriefsError(
                f"ledger {path} cannot be used: {exc} (is it a briefs ledger?)"
            ) from None

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
            # One script, one transaction: a ledger either has the whole schema or none.
            self.db.executescript(
                f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
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

    # --- writing: each call is one committed transaction ---------------------------

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


def _delivery(row: sqlite3.Row | None) -> Delivery | None:
    if row is None:
        return None
    data = dict(row)
    data["findings"] = json.loads(data["findings"] or "{}")
    return Delivery(**data)

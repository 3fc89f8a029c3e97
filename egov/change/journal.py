"""The change journal: SQLite, one file, every write in a transaction.

It holds what must survive the controller: commits awaiting confirmation
(NAPALM's ``has_pending_commit`` answers from here, never from the device), the
config each pending commit would revert to, and the audit log of change runs
that later capabilities read (e.g. to mark planned maintenance windows).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from egov.change.device import STATUSES, one_of

SCHEMA = """
CREATE TABLE IF NOT EXISTS pending_commit (
    device      TEXT PRIMARY KEY,
    change_id   TEXT NOT NULL,
    committed   REAL NOT NULL,
    deadline    REAL NOT NULL,
    rollback    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS commit_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    device      TEXT NOT NULL,
    change_id   TEXT NOT NULL,
    committed   REAL NOT NULL,
    outcome     TEXT NOT NULL,
    at          REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS change (
    id           TEXT PRIMARY KEY,
    action       TEXT NOT NULL,
    profile      TEXT NOT NULL,
    who          TEXT NOT NULL,
    started      TEXT NOT NULL,
    finished     TEXT,
    window_start TEXT NOT NULL,
    window_end   TEXT,
    result       TEXT NOT NULL DEFAULT 'running',
    summary      TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS change_device (
    change_id   TEXT NOT NULL REFERENCES change(id),
    device      TEXT NOT NULL,
    wave        TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    diff        TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    at          TEXT NOT NULL,
    PRIMARY KEY (change_id, device)
);
"""

#: how a pending commit ends (commit_history); device statuses are egov.change.device.STATUSES
COMMIT_OUTCOMES = ("confirmed", "reverted", "rolled_back")


def default_path() -> Path:
    """$EGOV_STATE_DIR/journal.sqlite, else .egov/journal.sqlite in the project root."""
    env = os.environ.get("EGOV_STATE_DIR")
    if env:
        return Path(env) / "journal.sqlite"
    from egov.plan.load import project_root

    return project_root() / ".egov" / "journal.sqlite"


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Pending:
    device: str
    change_id: str
    committed: float
    deadline: float
    rollback: str

    @property
    def expired(self) -> bool:
        return time.time() >= self.deadline


class Journal:
    """Thread-safe enough for a thread pool: one connection per call, WAL mode, short transactions."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)  # idempotent; executescript commits on its own
        finally:
            db.close()

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    # --- commit-confirm -------------------------------------------------------------------------
    def record_pending(self, device: str, change_id: str, revert_in: int, rollback: str) -> Pending:
        now = time.time()
        p = Pending(device, change_id, now, now + revert_in, rollback)
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO pending_commit VALUES (?,?,?,?,?)",
                       (p.device, p.change_id, p.committed, p.deadline, p.rollback))
        return p

    def pending(self, device: str) -> Pending | None:
        with self._db() as db:
            row = db.execute("SELECT device, change_id, committed, deadline, rollback FROM pending_commit "
                             "WHERE device=?", (device,)).fetchone()
        return Pending(*row) if row else None

    def clear_pending(self, device: str, outcome: str) -> Pending | None:
        """Close a pending commit as confirmed, reverted or rolled_back; kept in commit_history."""
        one_of("commit outcome", outcome, COMMIT_OUTCOMES)
        with self._db() as db:
            row = db.execute("SELECT device, change_id, committed, deadline, rollback FROM pending_commit "
                             "WHERE device=?", (device,)).fetchone()
            if row is None:
                return None
            db.execute("DELETE FROM pending_commit WHERE device=?", (device,))
            db.execute("INSERT INTO commit_history (device, change_id, committed, outcome, at) VALUES (?,?,?,?,?)",
                       (row[0], row[1], row[2], outcome, time.time()))
        return Pending(*row)

    def history(self, device: str) -> list[tuple[str, str]]:
        with self._db() as db:
            return [(r[0], r[1]) for r in db.execute(
                "SELECT change_id, outcome FROM commit_history WHERE device=? ORDER BY id", (device,))]

    # --- audit log ------------------------------------------------------------------------------
    def start_change(self, change_id: str, action: str, profile: str, who: str | None = None,
                     summary: dict[str, Any] | None = None) -> None:
        """``summary``: what the operator decided (e.g. accepted checks), on record before any device work."""
        now = _now_iso()
        with self._db() as db:
            db.execute("INSERT INTO change (id, action, profile, who, started, window_start, summary) "
                       "VALUES (?,?,?,?,?,?,?)", (change_id, action, profile, who or getpass.getuser(), now,
                                                 now, json.dumps(summary or {}, sort_keys=True)))

    def device_result(self, change_id: str, device: str, status: str, diff: str = "", error: str = "",
                      wave: str = "") -> None:
        one_of("device status", status, STATUSES)
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO change_device VALUES (?,?,?,?,?,?,?)",
                       (change_id, device, wave, status, diff, error, _now_iso()))

    def finish_change(self, change_id: str, result: str, summary: dict[str, Any]) -> None:
        now = _now_iso()
        with self._db() as db:
            db.execute("UPDATE change SET finished=?, window_end=?, result=?, summary=? WHERE id=?",
                       (now, now, result, json.dumps(summary, sort_keys=True), change_id))

    def change(self, change_id: str) -> dict[str, Any] | None:
        with self._db() as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM change WHERE id=?", (change_id,)).fetchone()
            if row is None:
                return None
            devices = [dict(r) for r in db.execute("SELECT * FROM change_device WHERE change_id=? ORDER BY device",
                                                   (change_id,))]
        return {**dict(row), "summary": json.loads(row["summary"]), "devices": devices}

    def device_statuses(self, change_id: str) -> dict[str, str]:
        with self._db() as db:
            return dict(db.execute("SELECT device, status FROM change_device WHERE change_id=?", (change_id,)))

    def last_change(self, action: str | None = None) -> dict[str, Any] | None:
        with self._db() as db:
            q = "SELECT id FROM change" + (" WHERE action=?" if action else "") + " ORDER BY started DESC, rowid DESC"
            row = db.execute(q, (action,) if action else ()).fetchone()
        return self.change(row[0]) if row else None

"""The change journal: SQLite, one file, every write in a transaction.

It holds the audit log of change runs that later capabilities read (e.g. to mark
planned maintenance windows). Commits awaiting confirmation are the driver's own
record (``napalm_frr.pending``, ``pending.sqlite`` beside the journal); the
journal only reads it.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from collections.abc import Iterator

from egov.change.contract import STATUSES, one_of
from egov.paths import state_dir
from napalm_frr.pending import Pending, PendingStore

SCHEMA = """
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



def default_path() -> Path:
    """$EGOV_STATE_DIR/journal.sqlite, else .egov/journal.sqlite in the project root."""
    return state_dir() / "journal.sqlite"


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


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

    # --- commit-confirm (read from the driver's own store) ------------------------------------
    @property
    def pending_path(self) -> Path:
        """The NAPALM drivers' pending-commit store of this state dir (``optional_args["pending_store"]``)."""
        return self.path.with_name("pending.sqlite")

    def pending(self, device: str) -> Pending | None:
        """The commit of ``device`` awaiting confirmation, as its driver recorded it."""
        return PendingStore(self.pending_path).pending(device)

    def history(self, device: str) -> list[tuple[str, str]]:
        """How the device's commits ended (confirmed, reverted, rolled_back); tests and audits read it."""
        return PendingStore(self.pending_path).history(device)

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
        self.device_results(change_id, [(device, status, diff, error, wave)])

    def device_results(self, change_id: str, rows: list[tuple[str, str, str, str, str]]) -> None:
        """(device, status, diff, error, wave) of many devices in one transaction (a province's run
        ends in one write, not 1,900)."""
        for row in rows:
            one_of("device status", row[1], STATUSES)
        now = _now_iso()
        with self._db() as db:
            db.executemany("INSERT OR REPLACE INTO change_device VALUES (?,?,?,?,?,?,?)",
                           [(change_id, d, wave, status, diff, error, now) for d, status, diff, error, wave in rows])

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

    def device_changes(self, device: str, actions: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Changes that touched ``device``, oldest first: change id, action, who, when, its status there."""
        q = ("SELECT c.id, c.action, c.who, c.started, c.result, d.status, d.error FROM change_device d "
             "JOIN change c ON c.id = d.change_id WHERE d.device = ?")
        args: list[Any] = [device]
        if actions:
            q += f" AND c.action IN ({','.join('?' * len(actions))})"
            args += list(actions)
        with self._db() as db:
            rows = db.execute(q + " ORDER BY c.started, c.rowid", args).fetchall()
        keys = ("change_id", "action", "who", "started", "result", "status", "error")
        return [dict(zip(keys, r)) for r in rows]

    def last_change(self, action: str | None = None) -> dict[str, Any] | None:
        with self._db() as db:
            q = "SELECT id FROM change" + (" WHERE action=?" if action else "") + " ORDER BY started DESC, rowid DESC"
            row = db.execute(q, (action,) if action else ()).fetchone()
        return self.change(row[0]) if row else None

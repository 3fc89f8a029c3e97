"""The driver's own record of commits awaiting confirmation (SQLite, one file, short transactions).

``has_pending_commit`` answers from here, never from the device, so a controller that restarts knows
what it left unconfirmed. The store belongs to the driver (path: ``optional_args["pending_store"]``);
an application may read it (egov's journal does) but the driver imports nothing of the application.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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
"""

#: how a pending commit ends
OUTCOMES = ("confirmed", "reverted", "rolled_back")


def default_path() -> Path:
    """$XDG_STATE_HOME/napalm-frr/pending.sqlite (else ~/.local/state/...): used without optional_args."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "napalm-frr" / "pending.sqlite"


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


class PendingStore:
    """Safe from several threads and processes: one connection per call, WAL, BEGIN IMMEDIATE."""

    def __init__(self, path: str | os.PathLike[str] | None = None):
        self.path = Path(path) if path else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
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

    def record(self, device: str, change_id: str, revert_in: int, rollback: str) -> Pending:
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

    def clear(self, device: str, outcome: str) -> Pending | None:
        """Close a pending commit as confirmed, reverted or rolled_back; kept in the history."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown commit outcome {outcome!r}; use one of {', '.join(OUTCOMES)}")
        with self._db() as db:
            row = db.execute("SELECT device, change_id, committed, deadline, rollback FROM pending_commit "
                             "WHERE device=?", (device,)).fetchone()
            if row is None:
                return None
            db.execute("DELETE FROM pending_commit WHERE device=?", (device,))
            db.execute("INSERT INTO commit_history (device, change_id, committed, outcome, at) "
                       "VALUES (?,?,?,?,?)", (row[0], row[1], row[2], outcome, time.time()))
        return Pending(*row)

    def history(self, device: str) -> list[tuple[str, str]]:
        """(change id, outcome) of every ended commit of ``device``, oldest first."""
        with self._db() as db:
            return [(r[0], r[1]) for r in db.execute(
                "SELECT change_id, outcome FROM commit_history WHERE device=? ORDER BY id", (device,))]

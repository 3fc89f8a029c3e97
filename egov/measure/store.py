"""The fault record: SQLite (WAL) under the state directory, the one place faults live.

Every write is one transaction, so an exporter killed at any instant leaves either the old or the
new state. At most one fault per (profile, kind, target) is open at a time (a partial unique
index), so a restarted exporter that sees the same outage again continues the open fault instead
of counting a second one. Counters served to Prometheus are computed from these rows, so they
survive restarts without double counting.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Kind = Literal["link", "router", "service", "management"]
KINDS: tuple[Kind, ...] = ("link", "router", "service", "management")
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    profile TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('link', 'router', 'service', 'management')),
    target TEXT NOT NULL,
    start REAL NOT NULL,
    detected REAL NOT NULL,
    detected_by TEXT NOT NULL,
    cleared REAL,
    cleared_by TEXT,
    planned INTEGER NOT NULL DEFAULT 0,
    target_s REAL NOT NULL,
    tier TEXT NOT NULL DEFAULT '',
    city TEXT NOT NULL DEFAULT '',
    affected TEXT NOT NULL DEFAULT '{}',
    escalations TEXT NOT NULL DEFAULT '[]',
    source TEXT,
    note TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS faults_one_open ON faults (profile, kind, target) WHERE cleared IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS faults_source ON faults (profile, source) WHERE source IS NOT NULL;
CREATE INDEX IF NOT EXISTS faults_start ON faults (profile, start);
CREATE TABLE IF NOT EXISTS maintenance (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    profile TEXT NOT NULL,
    start REAL NOT NULL,
    end REAL NOT NULL,
    targets TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS observations (
    profile TEXT NOT NULL,
    router TEXT NOT NULL,
    at REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (profile, router)
);
CREATE TABLE IF NOT EXISTS fault_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fault_id INTEGER NOT NULL REFERENCES faults (id),
    runbook TEXT NOT NULL,
    step TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    started REAL NOT NULL,
    finished REAL NOT NULL
);
"""


@dataclass(slots=True)
class Fault:
    id: int
    profile: str
    kind: Kind
    target: str
    start: float
    detected: float
    detected_by: str
    cleared: float | None
    cleared_by: str | None
    planned: bool
    target_s: float
    tier: str = ""
    city: str = ""
    affected: dict[str, Any] = field(default_factory=dict)
    escalations: list[float] = field(default_factory=list)
    source: str | None = None
    note: str = ""

    @property
    def open(self) -> bool:
        return self.cleared is None

    def duration(self, now: float | None = None) -> float:
        return (self.cleared if self.cleared is not None else (now or time.time())) - self.start

    def within_target(self, now: float | None = None) -> bool | None:
        """Cleared within its target; None while open and not yet past it (still in time)."""
        d = self.duration(now)
        if self.cleared is None:
            return False if d > self.target_s else None
        return d <= self.target_s

    def as_json(self, now: float | None = None) -> dict[str, Any]:
        iso = _iso
        return {"id": self.id, "kind": self.kind, "target": self.target, "start": iso(self.start),
                "detected": iso(self.detected), "detected_by": self.detected_by,
                "cleared": iso(self.cleared) if self.cleared is not None else None, "cleared_by": self.cleared_by,
                "duration_s": round(self.duration(now), 3), "planned": self.planned,
                "within_target": self.within_target(now), "target_s": self.target_s, "tier": self.tier,
                "city": self.city, "affected": self.affected, "escalations": self.escalations,
                "source": self.source}


def _iso(t: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class Window:
    """A planned window: faults of matching targets that start inside it are planned."""

    start: float
    end: float
    targets: tuple[str, ...]  # globs over router, link or service names ("*" for all)
    reason: str = ""

    def covers(self, target: str, at: float) -> bool:
        import fnmatch

        if not self.start <= at <= self.end:
            return False
        parts = [target, *target.split("~")]  # a link is covered when either router is
        return any(fnmatch.fnmatch(p, g) for p in parts for g in self.targets)


_COLS = ("id, profile, kind, target, start, detected, detected_by, cleared, cleared_by, planned, target_s, tier, "
         "city, affected, escalations, source, note")


def _row(r: tuple[Any, ...]) -> Fault:
    return Fault(id=r[0], profile=r[1], kind=r[2], target=r[3], start=r[4], detected=r[5], detected_by=r[6],
                 cleared=r[7], cleared_by=r[8], planned=bool(r[9]), target_s=r[10], tier=r[11], city=r[12],
                 affected=json.loads(r[13]), escalations=json.loads(r[14]), source=r[15], note=r[16])


class FaultStore:
    """SQLite fault record for one state directory (shared by all profiles, keyed by profile)."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            from egov.errors import EgovError

            raise EgovError.one(str(path), "user_version", f"made by a newer egov (schema {version})",
                                "upgrade egov, or use another EGOV_STATE_DIR")
        self.db.executescript(SCHEMA)
        self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: all of it or none of it."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    # --- faults -----------------------------------------------------------------------------------
    def open_faults(self, profile: str) -> list[Fault]:
        rows = self.db.execute(f"SELECT {_COLS} FROM faults WHERE profile = ? AND cleared IS NULL ORDER BY id",
                               (profile,)).fetchall()
        return [_row(r) for r in rows]

    def get(self, fault_id: int) -> Fault | None:
        r = self.db.execute(f"SELECT {_COLS} FROM faults WHERE id = ?", (fault_id,)).fetchone()
        return _row(r) if r else None

    def faults(self, profile: str, since: float | None = None, until: float | None = None,
               open_only: bool = False) -> list[Fault]:
        """Faults that overlap [since, until] (all when both are None)."""
        q = f"SELECT {_COLS} FROM faults WHERE profile = ?"
        args: list[Any] = [profile]
        if open_only:
            q += " AND cleared IS NULL"
        if until is not None:
            q += " AND start <= ?"
            args.append(until)
        if since is not None:
            q += " AND (cleared IS NULL OR cleared >= ?)"
            args.append(since)
        return [_row(r) for r in self.db.execute(q + " ORDER BY start, id", args).fetchall()]

    def open(self, profile: str, kind: Kind, target: str, *, start: float, detected: float, by: str,
             target_s: float, tier: str = "", city: str = "", affected: dict[str, Any] | None = None,
             planned: bool = False) -> tuple[Fault, bool]:
        """Open a fault, or return the one already open for this target. (fault, newly opened)."""
        with self.tx() as c:
            cur = c.execute(
                "INSERT OR IGNORE INTO faults (profile, kind, target, start, detected, detected_by, planned, target_s, "
                "tier, city, affected) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (profile, kind, target, min(start, detected), detected, by, int(planned), target_s, tier, city,
                 json.dumps(affected or {}, sort_keys=True)))
            new = cur.rowcount == 1
            r = c.execute(f"SELECT {_COLS} FROM faults WHERE profile = ? AND kind = ? AND target = ? AND cleared "
                          "IS NULL", (profile, kind, target)).fetchone()
        return _row(r), new

    def clear(self, fault_id: int, at: float, by: str) -> None:
        with self.tx() as c:
            c.execute("UPDATE faults SET cleared = max(start, ?), cleared_by = ? WHERE id = ? AND cleared IS NULL",
                      (at, by, fault_id))

    def reopen(self, fault_id: int) -> bool:
        """Polling contradicted a clear (a linkUp trap, then still down): the same fault goes on."""
        with self.tx() as c:
            try:
                cur = c.execute("UPDATE faults SET cleared = NULL, cleared_by = NULL WHERE id = ?", (fault_id,))
            except sqlite3.IntegrityError:
                return False  # another fault of that target opened meanwhile
            return cur.rowcount == 1

    def escalated(self, fault_id: int, level_h: float) -> None:
        with self.tx() as c:
            r = c.execute("SELECT escalations FROM faults WHERE id = ?", (fault_id,)).fetchone()
            levels = sorted(set(json.loads(r[0])) | {level_h})
            c.execute("UPDATE faults SET escalations = ? WHERE id = ?", (json.dumps(levels), fault_id))

    def set_affected(self, fault_id: int, affected: dict[str, Any]) -> None:
        with self.tx() as c:
            c.execute("UPDATE faults SET affected = ? WHERE id = ?", (json.dumps(affected, sort_keys=True), fault_id))

    def import_faults(self, profile: str, rows: Iterable[dict[str, Any]], target_s: float) -> int:
        """Insert history from a ticket system in one transaction; a source id already known is skipped."""
        n = 0
        with self.tx() as c:
            for r in rows:
                cur = c.execute(
                    "INSERT OR IGNORE INTO faults (profile, kind, target, start, detected, detected_by, cleared, "
                    "cleared_by, planned, target_s, source) VALUES (?, ?, ?, ?, ?, 'import', ?, ?, ?, ?, ?)",
                    (profile, r["kind"], r["target"], r["start"], r["start"], r["cleared"],
                     "import" if r["cleared"] is not None else None, int(r["planned"]), target_s, r["source"]))
                n += cur.rowcount
        return n

    # --- latest observations, shared by the exporters of one state directory (shards) --------------
    def save_observations(self, profile: str, rows: Iterable[tuple[str, float, str]]) -> None:
        with self.tx() as c:
            c.executemany("INSERT OR REPLACE INTO observations (profile, router, at, data) VALUES (?, ?, ?, ?)",
                          [(profile, r, at, data) for r, at, data in rows])

    def observations(self, profile: str, since: float) -> dict[str, str]:
        rows = self.db.execute("SELECT router, data FROM observations WHERE profile = ? AND at >= ?",
                               (profile, since)).fetchall()
        return dict(rows)

    # --- planned windows -----------------------------------------------------------------------------
    def add_window(self, profile: str, w: Window) -> int:
        with self.tx() as c:
            cur = c.execute("INSERT INTO maintenance (profile, start, end, targets, reason, created) "
                            "VALUES (?, ?, ?, ?, ?, ?)",
                            (profile, w.start, w.end, json.dumps(list(w.targets)), w.reason, time.time()))
            return int(cur.lastrowid or 0)

    def windows(self, profile: str) -> list[Window]:
        rows = self.db.execute("SELECT start, end, targets, reason FROM maintenance WHERE profile = ? ORDER BY start",
                               (profile,)).fetchall()
        return [Window(r[0], r[1], tuple(json.loads(r[2])), r[3]) for r in rows]

    # --- runbook steps (recorded on the fault they belong to) ------------------------------------------
    def add_step(self, fault_id: int, runbook: str, step: str, status: str, detail: str, started: float,
                 finished: float) -> None:
        with self.tx() as c:
            c.execute("INSERT INTO fault_steps (fault_id, runbook, step, status, detail, started, finished) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)", (fault_id, runbook, step, status, detail, started, finished))

    def steps(self, fault_id: int) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT runbook, step, status, detail, started, finished FROM fault_steps "
                               "WHERE fault_id = ? ORDER BY id", (fault_id,)).fetchall()
        return [dict(zip(("runbook", "step", "status", "detail", "started", "finished"), r)) for r in rows]


def default_path(state_dir: Path) -> Path:
    return state_dir / "faults.sqlite"

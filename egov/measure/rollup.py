"""Counter history, pre-aggregated: 5-minute rates and daily utilisation histograms in SQLite (WAL).

A year's bandwidth report must not scan a year of raw samples (1,900 routers x 6 interfaces x one
sample a minute is 6 billion rows), so nothing raw is kept:

- ``last_sample``: the previous counter reading per (router, interface). It lives in the database,
  so an exporter killed and restarted continues from it and loses no traffic.
- ``rate5m``: bits counted per 5-minute bucket (aligned to the Unix epoch, so to every real time
  zone's midnight) and how many seconds of the bucket the counters covered; average rate = bits /
  covered. A reading spanning several buckets is spread evenly over them (the counters say how many
  bytes, not when). Kept ``retention_days`` (35 by default), for recent detail and period edges.
- ``daily``: per interface and local day (the profile's time zone), a histogram of the day's
  5-minute utilisations in 1 % bins, plus max, sum and totals. Histograms add, so the 95th
  percentile of any run of days is read from daily rows alone: 365 rows per interface for a year.
  A histogram is stored as 101 32-bit counts packed into one integer (zlib-compressed, about 60
  bytes), so merging a year of them is 365 integer additions done in C, not 36,000 dict updates:
  a province's 3,900 uplinks are read for a yearly report in seconds.

Utilisation of a 5-minute bucket is max(in, out) / ifHighSpeed: links are full duplex and the busier
direction is the one that runs out. A percentile is reported as the upper edge of its 1 % bin, so
it is never understated and at most 1 percentage point high; a threshold test against it ("the
95th percentile stays under 80 %") is exact for whole-percent thresholds: upper edge <= 80 % means
every value in the bin is under 80 % (``Percentile.under``).

Counter rules (64-bit ifHC counters): an increase is traffic. A decrease after the agent restarted
(its boot time is after the previous reading) is a reset: the new value is what was counted since
the boot. A decrease without a restart is a 2^64 wrap when that implies a plausible rate (at most
twice the interface speed), else a reset at an unknown moment (the new value is counted, as
Prometheus' ``increase`` does). An increase is taken as traffic even when sysUpTime went back,
because on Linux sysUpTime is snmpd's uptime and the kernel counters survive an snmpd restart.
Gaps longer than ``max_gap_s`` (1 h by default) are not spread: the interval is left without data
(a flattened hour hides no peak that matters; a flattened day would).
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
import time
import zlib
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from egov.errors import EgovError
from egov.measure.model import Poll

BUCKET_S = 300
#: histogram bins: bin i holds utilisations in [i/100, (i+1)/100); bin BINS holds 100 % and above
BINS = 100
_FIELD = 32  # bits per bin count in a packed histogram (a year of 5-minute samples is < 2^17)
_MASK = (1 << _FIELD) - 1
WRAP = 2**64
SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS profile_tz (
    profile TEXT PRIMARY KEY,
    tz TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS last_sample (
    profile TEXT NOT NULL,
    router TEXT NOT NULL,
    interface TEXT NOT NULL,
    at REAL NOT NULL,
    in_octets INTEGER NOT NULL,
    out_octets INTEGER NOT NULL,
    speed_bps INTEGER NOT NULL,
    booted REAL,
    PRIMARY KEY (profile, router, interface)
);
CREATE TABLE IF NOT EXISTS rate5m (
    profile TEXT NOT NULL,
    router TEXT NOT NULL,
    interface TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    in_bits REAL NOT NULL,
    out_bits REAL NOT NULL,
    covered REAL NOT NULL,
    speed_bps INTEGER NOT NULL,
    folded INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (profile, router, interface, bucket)
);
CREATE INDEX IF NOT EXISTS rate5m_open ON rate5m (profile, folded, bucket);
CREATE TABLE IF NOT EXISTS daily (
    profile TEXT NOT NULL,
    router TEXT NOT NULL,
    interface TEXT NOT NULL,
    day_start INTEGER NOT NULL,
    day TEXT NOT NULL,
    n INTEGER NOT NULL,
    n_util INTEGER NOT NULL,
    hist BLOB NOT NULL,
    util_sum REAL NOT NULL,
    util_max REAL,
    in_max_bps REAL NOT NULL,
    out_max_bps REAL NOT NULL,
    in_bits REAL NOT NULL,
    out_bits REAL NOT NULL,
    covered REAL NOT NULL,
    speed_bps INTEGER NOT NULL,
    PRIMARY KEY (profile, router, interface, day_start)
);
"""


@dataclass(frozen=True, slots=True)
class Rate:
    """One 5-minute bucket: average rates over the seconds the counters covered."""

    bucket: int
    in_bps: float
    out_bps: float
    covered_s: float
    speed_bps: int

    @property
    def util(self) -> float | None:
        return max(self.in_bps, self.out_bps) / self.speed_bps if self.speed_bps > 0 else None


@dataclass(frozen=True, slots=True)
class Day:
    """One interface's local day, as the report reads it."""

    day: str
    day_start: int
    samples: int
    hist: dict[int, int]
    util_sum: float
    util_max: float | None
    in_max_bps: float
    out_max_bps: float
    in_bits: float
    out_bits: float
    speed_bps: int


@dataclass(frozen=True, slots=True)
class Percentile:
    """The 95th percentile (or another) of one interface's 5-minute utilisations over a period."""

    router: str
    interface: str
    q: float
    value: float          # share of speed; the upper edge of its bin when bin_width > 0
    samples: int          # 5-minute buckets with a known utilisation
    max: float | None     # None where the source does not say (Prometheus)
    avg: float | None
    speed_bps: int
    days: int             # daily rows read
    approximate: bool     # a period edge fell inside a day whose 5-minute rows were pruned
    bin_width: float = 1.0 / BINS  # 0 when ``value`` is an estimate, not a bin edge (Prometheus)

    def under(self, threshold: float) -> bool:
        """The quantile is below ``threshold``: exact at bin edges, conservative inside a bin."""
        if self.bin_width > 0:
            return self.value <= threshold + 1e-12
        return self.value < threshold


def _zone(tz: str, where: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise EgovError.one(where, "tz", f"unknown time zone {tz!r} ({exc.__class__.__name__})",
                            "use an IANA name such as Asia/Shanghai or UTC") from None


def _signed(v: int) -> int:
    """SQLite integers are signed 64-bit: store a 64-bit counter as its two's complement."""
    v %= WRAP
    return v - WRAP if v >= WRAP // 2 else v


def _unsigned(v: int) -> int:
    return v + WRAP if v < 0 else v


def bin_of(util: float) -> int:
    return min(BINS, max(0, math.floor(util * BINS + 1e-9)))


def pack(hist: Mapping[int, int]) -> bytes:
    """A histogram as stored: counts packed into one integer, little-endian, compressed."""
    v = sum(n << (_FIELD * b) for b, n in hist.items())
    return zlib.compress(v.to_bytes((BINS + 1) * _FIELD // 8, "little"))


def packed(blob: bytes) -> int:
    return int.from_bytes(zlib.decompress(blob), "little")


def unpack(v: int) -> dict[int, int]:
    return {b: n for b in range(BINS + 1) if (n := (v >> (_FIELD * b)) & _MASK)}


def quantile(hist: Mapping[int, int], q: float, top: float) -> tuple[float, int]:
    """Nearest-rank quantile of a histogram: (upper edge of the bin holding it, sample count)."""
    n = sum(hist.values())
    if n == 0:
        return 0.0, 0
    rank = max(1, math.ceil(q * n - 1e-9))
    seen = 0
    for b in sorted(hist):
        seen += hist[b]
        if seen >= rank:
            return (top if b >= BINS else (b + 1) / BINS), n
    return top, n  # pragma: no cover - rank <= n


class Rollups:
    """The rollup store of one state directory, shared by all profiles (rows keyed by profile)."""

    def __init__(self, path: Path, *, tz: str | None = None, retention_days: float = 35.0,
                 max_gap_s: float = 3600.0):
        """``tz``: the profile's time zone (``services.timezone``), which draws the daily rows' days.

        None takes the zone a profile's rows already use (UTC for a new profile); a zone other than
        the one already in use is refused, since days cut at two different midnights do not add up.
        """
        if tz is not None:
            _zone(tz, str(path))
        self.tz_name = tz
        self.path = path
        self._tz_of: dict[str, str] = {}
        self.retention_s = retention_days * 86400
        self.max_gap_s = max_gap_s
        self._last_prune = 0.0
        self._day_cache: dict[tuple[str, dt.date], tuple[int, str]] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise EgovError.one(str(path), "user_version", f"made by a newer egov (schema {version})",
                                "upgrade egov, or use another EGOV_STATE_DIR")
        self.db.executescript(SCHEMA)
        self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: a killed exporter leaves the previous reading or the new one, never half."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- days in the profile's time zone -------------------------------------------------------------
    def _day(self, t: float, tz: str) -> tuple[int, str]:
        """(local midnight as Unix time, YYYY-MM-DD) of the day holding ``t`` in ``tz``."""
        zone = _zone(tz, str(self.path))
        d = dt.datetime.fromtimestamp(t, zone).date()
        hit = self._day_cache.get((tz, d))
        if hit is None:
            start = dt.datetime(d.year, d.month, d.day, tzinfo=zone).timestamp()
            hit = self._day_cache[(tz, d)] = (int(start), d.isoformat())
        return hit

    def tz_of(self, profile: str) -> str:
        """The time zone whose days a profile's daily rows are (UTC when it has none yet)."""
        tz = self._tz_of.get(profile)
        if tz is None:
            row = self.db.execute("SELECT tz FROM profile_tz WHERE profile = ?", (profile,)).fetchone()
            if row is None:
                return self.tz_name or "UTC"
            tz = self._tz_of[profile] = row[0]
        return tz

    def _check_tz(self, c: sqlite3.Connection, profile: str) -> str:
        row = c.execute("SELECT tz FROM profile_tz WHERE profile = ?", (profile,)).fetchone()
        if row is None:
            tz = self.tz_name or "UTC"
            c.execute("INSERT INTO profile_tz (profile, tz) VALUES (?, ?)", (profile, tz))
        elif self.tz_name is not None and row[0] != self.tz_name:
            raise EgovError.one(str(self.path), f"profile_tz.{profile}",
                                f"daily rollups of this profile are days in {row[0]}, not {self.tz_name}",
                                "keep services.timezone as it was, or start a new EGOV_STATE_DIR")
        else:
            tz = row[0]
        self._tz_of[profile] = tz
        return tz

    # --- writing ------------------------------------------------------------------------------------
    def record(self, profile: str, polls: Iterable[Poll], *,
               interfaces: Mapping[str, Collection[str]] | None = None) -> int:
        """Take one poll cycle's counters (any subset of routers); returns the intervals added.

        ``interfaces``: router -> interface names to keep (e.g. only planned links); all when None.
        Failed polls and interfaces missing from a poll are skipped: the stored reading waits for the
        next good one (within ``max_gap_s``). One transaction per call.
        """
        readings: list[tuple[str, str, float, int, int, int, float | None]] = []
        for p in polls:
            if not p.ok:
                continue
            keep = None if interfaces is None else interfaces.get(p.router, ())
            for name, s in p.interfaces.items():
                if keep is not None and name not in keep:
                    continue
                readings.append((p.router, name, p.at, int(s.in_octets), int(s.out_octets), int(s.speed_bps),
                                 p.booted_at))
        if not readings:
            return 0
        added = 0
        with self._tx() as c:
            tz = self._check_tz(c, profile)
            routers = sorted({r[0] for r in readings})
            prev: dict[tuple[str, str], tuple[float, int, int, int, float | None]] = {}
            for i in range(0, len(routers), 500):
                chunk = routers[i:i + 500]
                q = ("SELECT router, interface, at, in_octets, out_octets, speed_bps, booted FROM last_sample "
                     f"WHERE profile = ? AND router IN ({','.join('?' * len(chunk))})")
                for r in c.execute(q, (profile, *chunk)):
                    prev[(r[0], r[1])] = (r[2], _unsigned(r[3]), _unsigned(r[4]), r[5], r[6])
            for router, name, at, i_o, o_o, speed, booted in readings:
                last = prev.get((router, name))
                if last is not None and at <= last[0]:
                    continue  # a repeated or out-of-order reading: nothing new
                c.execute("INSERT OR REPLACE INTO last_sample VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                          (profile, router, name, at, _signed(i_o), _signed(o_o), speed, booted))
                if last is None:
                    continue
                span = self._span(last, at, i_o, o_o, speed, booted)
                if span is None:
                    continue
                t0, d_in, d_out = span
                self._spread(c, profile, router, name, t0, at, d_in * 8.0, d_out * 8.0, speed or last[3])
                added += 1
                self._fold(c, profile, router, name, at, tz)
        newest = max(r[2] for r in readings)
        if newest - self._last_prune > 3600:  # the data's own clock: replayed history prunes like live polls
            self.prune(newest)
        return added

    def _span(self, last: tuple[float, int, int, int, float | None], at: float, i_o: int, o_o: int, speed: int,
              booted: float | None) -> tuple[float, int, int] | None:
        """(start of the interval, in octets, out octets) since the stored reading, or None (a gap)."""
        l_at, l_in, l_out, l_speed, _ = last
        if at - l_at > self.max_gap_s:
            return None
        rebooted = booted is not None and booted > l_at + 1.0
        t0 = l_at
        if (i_o < l_in or o_o < l_out) and rebooted:
            # counters restarted with the agent: count what it has seen since its boot
            t0 = min(max(l_at, booted or l_at), at)
            return (t0, i_o, o_o) if at > t0 else None
        return t0, self._delta(l_in, i_o, at - l_at, speed or l_speed), self._delta(l_out, o_o, at - l_at,
                                                                                      speed or l_speed)

    @staticmethod
    def _delta(old: int, new: int, seconds: float, speed: int) -> int:
        if new >= old:
            return new - old
        wrapped = new + WRAP - old
        plausible = wrapped * 8 / max(seconds, 1e-9) <= 2 * speed if speed > 0 else old > WRAP // 2
        return wrapped if plausible else new

    def _spread(self, c: sqlite3.Connection, profile: str, router: str, name: str, t0: float, t1: float,
                in_bits: float, out_bits: float, speed: int) -> None:
        length = t1 - t0
        b = int(t0 // BUCKET_S) * BUCKET_S
        rows = []
        while b < t1:
            lo, hi = max(t0, b), min(t1, b + BUCKET_S)
            if hi > lo:
                share = (hi - lo) / length
                rows.append((profile, router, name, b, in_bits * share, out_bits * share, hi - lo, speed))
            b += BUCKET_S
        c.executemany(
            "INSERT INTO rate5m (profile, router, interface, bucket, in_bits, out_bits, covered, speed_bps) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (profile, router, interface, bucket) DO UPDATE SET "
            "in_bits = in_bits + excluded.in_bits, out_bits = out_bits + excluded.out_bits, "
            "covered = covered + excluded.covered, speed_bps = excluded.speed_bps", rows)

    def _fold(self, c: sqlite3.Connection, profile: str, router: str, name: str, until: float, tz: str) -> None:
        """Add every bucket that ended by ``until`` to its day's histogram, once."""
        rows = c.execute("SELECT bucket, in_bits, out_bits, covered, speed_bps FROM rate5m WHERE profile = ? AND "
                         "router = ? AND interface = ? AND folded = 0 AND bucket + ? <= ? ORDER BY bucket",
                         (profile, router, name, BUCKET_S, until)).fetchall()
        for bucket, in_bits, out_bits, covered, speed in rows:
            self._add_to_day(c, profile, router, name, Rate(bucket, in_bits / covered, out_bits / covered, covered,
                                                            speed), tz)
            c.execute("UPDATE rate5m SET folded = 1 WHERE profile = ? AND router = ? AND interface = ? AND "
                      "bucket = ?", (profile, router, name, bucket))

    def _add_to_day(self, c: sqlite3.Connection, profile: str, router: str, name: str, r: Rate, tz: str) -> None:
        day_start, day = self._day(r.bucket, tz)
        row = c.execute("SELECT n, n_util, hist, util_sum, util_max, in_max_bps, out_max_bps, in_bits, out_bits, "
                        "covered FROM daily WHERE profile = ? AND router = ? AND interface = ? AND day_start = ?",
                        (profile, router, name, day_start)).fetchone()
        n, n_util, hist, u_sum, u_max, in_max, out_max, in_b, out_b, cov = (
            row if row else (0, 0, None, 0.0, None, 0.0, 0.0, 0.0, 0.0, 0.0))
        h = packed(hist) if hist else 0
        u = r.util
        if u is not None:
            h += 1 << (_FIELD * bin_of(u))
            n_util += 1
            u_sum += u
            u_max = u if u_max is None else max(u_max, u)
        c.execute("INSERT OR REPLACE INTO daily VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (profile, router, name, day_start, day, n + 1, n_util,
                   zlib.compress(h.to_bytes((BINS + 1) * _FIELD // 8, "little")), u_sum, u_max,
                   max(in_max, r.in_bps), max(out_max, r.out_bps), in_b + r.in_bps * r.covered_s,
                   out_b + r.out_bps * r.covered_s, cov + r.covered_s, r.speed_bps))

    def flush(self, profile: str, now: float | None = None) -> int:
        """Fold the buckets no reading can extend any more (interfaces no longer polled)."""
        now = time.time() if now is None else now
        n = 0
        tz = self.tz_of(profile)
        with self._tx() as c:
            stale = c.execute("SELECT router, interface, at FROM last_sample WHERE profile = ? AND at + ? < ?",
                              (profile, self.max_gap_s, now)).fetchall()
            for router, name, at in stale:
                before = c.total_changes
                self._fold(c, profile, router, name, at + BUCKET_S, tz)
                n += c.total_changes - before > 0
        return n

    def prune(self, now: float | None = None) -> int:
        """Drop 5-minute rows older than the retention (folded ones; stale open ones are folded first)."""
        now = time.time() if now is None else now
        self._last_prune = now
        cutoff = now - self.retention_s
        profiles = [r[0] for r in self.db.execute("SELECT profile FROM profile_tz")]
        for p in profiles:
            self.flush(p, now)
        with self._tx() as c:
            cur = c.execute("DELETE FROM rate5m WHERE folded = 1 AND bucket + ? <= ?", (BUCKET_S, cutoff))
            return cur.rowcount

    # --- reading ------------------------------------------------------------------------------------
    def rates(self, profile: str, router: str, interface: str, start: float, end: float) -> list[Rate]:
        """5-minute buckets starting in [start, end) that are still kept."""
        rows = self.db.execute("SELECT bucket, in_bits, out_bits, covered, speed_bps FROM rate5m WHERE profile = ? "
                               "AND router = ? AND interface = ? AND bucket >= ? AND bucket < ? ORDER BY bucket",
                               (profile, router, interface, start, end)).fetchall()
        return [Rate(b, i / cov, o / cov, cov, s) for b, i, o, cov, s in rows if cov > 0]

    def days(self, profile: str, router: str, interface: str, start: float, end: float) -> list[Day]:
        """Daily rows of days that overlap [start, end)."""
        first = self._day(start, self.tz_of(profile))[0]
        rows = self.db.execute("SELECT day, day_start, n_util, hist, util_sum, util_max, in_max_bps, out_max_bps, "
                               "in_bits, out_bits, speed_bps FROM daily WHERE profile = ? AND router = ? AND "
                               "interface = ? AND day_start >= ? AND day_start < ? ORDER BY day_start",
                               (profile, router, interface, first, end)).fetchall()
        return [Day(r[0], r[1], r[2], unpack(packed(r[3])), r[4], r[5], r[6], r[7], r[8], r[9], r[10]) for r in rows]

    def measured(self, profile: str) -> set[tuple[str, str]]:
        """(router, interface) pairs with any daily row."""
        return {(r[0], r[1]) for r in self.db.execute(
            "SELECT DISTINCT router, interface FROM daily WHERE profile = ?", (profile,))}

    def percentile(self, profile: str, router: str, interface: str, start: float, end: float,
                   q: float = 0.95) -> Percentile | None:
        """The q-quantile of the 5-minute utilisations in [start, end), from daily histograms.

        Whole days come from their daily row. A day cut by the period's edge is read from its
        5-minute rows while they are kept; once pruned, the whole day's row is used and the result
        says ``approximate``. None when the period holds no utilisation sample.
        """
        acc = 0  # packed histogram: adding two adds every bin
        total = 0.0
        top: float | None = None
        speed = 0
        approximate = False
        tz = self.tz_of(profile)
        first = self._day(start, tz)[0]
        rows = self.db.execute("SELECT day_start, n_util, hist, util_sum, util_max, speed_bps FROM daily WHERE "
                               "profile = ? AND router = ? AND interface = ? AND day_start >= ? AND day_start < ? "
                               "ORDER BY day_start", (profile, router, interface, first, end)).fetchall()
        for day_start, samples, blob, u_sum, u_max, day_speed in rows:
            nxt = self._day(day_start + 86400 + 7200, tz)[0]  # the next local midnight (DST-safe)
            whole_day = day_start >= start and nxt <= end
            rates: list[Rate] = []
            if not whole_day:
                rates = [r for r in self.rates(profile, router, interface, day_start, nxt) if r.util is not None]
            if whole_day or len(rates) < samples:
                # a whole day, or a cut day whose 5-minute rows were pruned: its daily row
                approximate = approximate or not whole_day
                acc += packed(blob)
                total += u_sum
                if u_max is not None:
                    top = u_max if top is None else max(top, u_max)
                speed = day_speed or speed
                continue
            for r in rates:  # a cut day with all its 5-minute rows: exactly the buckets in the period
                if start <= r.bucket < end:
                    u = r.util or 0.0
                    acc += 1 << (_FIELD * bin_of(u))
                    total += u
                    top = u if top is None else max(top, u)
                    speed = r.speed_bps or speed
        value, n = quantile(unpack(acc), q, top or 0.0)
        if n == 0:
            return None
        return Percentile(router, interface, q, value, n, top or 0.0, total / n, speed, len(rows), approximate)


class ProfileRollups:
    """One profile's rollups as the SLA engine reads them (``sla.UtilSource``)."""

    def __init__(self, rollups: Rollups, profile: str, q: float = 0.95):
        self.rollups = rollups
        self.profile = profile
        self.q = q

    def percentile(self, router: str, interface: str, start: float, end: float) -> Percentile | None:
        return self.rollups.percentile(self.profile, router, interface, start, end, self.q)


def default_path(state_dir: Path) -> Path:
    return state_dir / "rollups.sqlite"

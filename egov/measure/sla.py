"""The SLA engine: availability, fault handling and bandwidth support over a period, against the plan.

Pure functions over faults, planned windows, utilisation percentiles and the planned network; no I/O.
How the figures are made (a NOC's rules, written down):

- **Period** ``[start, end)``. ``YEAR`` is that calendar year in the profile's time zone (366 days
  in a leap year); ``START/END`` takes ISO 8601 times with offsets (a bare date is midnight in the
  profile's time zone). A period that has not ended yet is measured up to ``now``.
- **Counted faults**: kinds ``router``, ``link`` and ``service``. ``management`` faults (an agent
  silent while its neighbours still see the router) are not outages and not in the fault rate;
  they are only counted. A fault is **planned** when the store says so or when it started inside
  a planned window covering its target (``Window.covers``); planned faults count nowhere.
- **Outages** are fault intervals cut at the period edges (an open fault runs to ``now``), merged
  per thing, to the second:
  router: its own router fault, or cut off from the core by the faults open at that moment
  (recomputed with ``Network.impact`` over every stretch of time in which the set of down routers
  and links is constant, not read from a fault's ``affected`` snapshot, so two faults that only
  together cut a site off are seen);
  link: its link fault, or a router fault at either end;
  service: its service fault, or its router out (down or cut off).
- **Aggregates**: a tier's, a city's and the network's availability are the mean of their routers'
  (the share of router-seconds in service, as the recording rules in exporters/rules do); the
  **cloud** is down while any ``cloud: true`` service is down (union of their outages): the
  platform is up only when all of it is. Without cloud services the cloud figure is null.
- **Fault handling**: of the unplanned counted faults that *started* in the period, the share
  cleared within their target (duration <= target). One still open past its target is missed; one
  still open and within its target is *pending*: in neither numerator nor denominator, and
  reported. No fault at all: the rate is null and the indicator passes (nothing was late).
- **Bandwidth support**: sites are the routers of non-root tiers. A site passes when every uplink's
  95th-percentile 5-minute utilisation over the period is under the threshold (``Percentile.under``:
  the rollups' 1 % bins decide exactly for whole-percent thresholds) measured at the site's own
  interface, else at the parent's end of the link; fails when any measured uplink is at or over it;
  else it has no data. The rate is passing sites / all sites (no data is not passing); null when
  no site has data.
- **Targets**: ``targets`` is by year; a period is judged against, per indicator, the latest year
  at or before the period's start year that sets it (2024 is held to the 2023 figures until 2025
  ones apply). platform_uptime -> cloud availability, fault_handling_3h -> fault handling rate,
  bandwidth_support -> bandwidth support rate. ``pass`` is true when every indicator with a target
  passes, false when one fails, null when no indicator has a target or a figure.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from egov.errors import EgovError
from egov.measure.faults import Network
from egov.measure.rollup import Percentile
from egov.measure.store import Fault, Window

Interval = tuple[float, float]
OUTAGE_KINDS = ("router", "link", "service")
#: plan indicator -> what measures it
INDICATORS = {"platform_uptime": "cloud availability", "fault_handling_3h": "fault handling rate",
              "bandwidth_support": "bandwidth support rate"}
_EPS = 1e-9


# --- periods ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Period:
    start: float
    end: float
    label: str
    tz: str

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def year(self) -> int:
        """The year whose targets apply: the year the period starts in (profile's time zone)."""
        return dt.datetime.fromtimestamp(self.start, ZoneInfo(self.tz)).year

    def iso(self, t: float) -> str:
        return dt.datetime.fromtimestamp(t, ZoneInfo(self.tz)).isoformat()


def parse_time(text: str, tz: str, where: str, *, dates: bool = True) -> float:
    """ISO 8601 with an offset (or Z); a bare date is midnight in ``tz`` when ``dates``. Naive times are refused."""
    s = text.strip()
    if dates and re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        d = dt.date.fromisoformat(s)
        return dt.datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(tz)).timestamp()
    try:
        t = dt.datetime.fromisoformat(s)
    except ValueError:
        raise EgovError.one(where, s or '""', "not an ISO 8601 time",
                            "write it like 2025-01-01T00:00:00+08:00") from None
    if t.tzinfo is None:
        raise EgovError.one(where, s, "has no UTC offset, so it names no single instant",
                            f"add one, e.g. {s}+08:00 or {s}Z") from None
    return t.timestamp()


def parse_period(text: str, tz: str) -> Period:
    """``YEAR`` or ``START/END``."""
    s = text.strip()
    if re.fullmatch(r"\d{4}", s):
        y = int(s)
        z = ZoneInfo(tz)
        return Period(dt.datetime(y, 1, 1, tzinfo=z).timestamp(), dt.datetime(y + 1, 1, 1, tzinfo=z).timestamp(),
                      s, tz)
    if s.count("/") != 1:
        raise EgovError.one("--period", s or '""', "not a year or START/END",
                            "use 2025, or 2025-01-01T00:00:00+08:00/2025-04-01T00:00:00+08:00")
    a, b = s.split("/")
    start, end = parse_time(a, tz, "--period"), parse_time(b, tz, "--period")
    if end <= start:
        raise EgovError.one("--period", s, "ends before it starts", "put the earlier time first")
    return Period(start, end, s, tz)


# --- intervals ------------------------------------------------------------------------------------------
def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Overlapping or touching intervals become one."""
    out: list[list[float]] = []
    for a, b in sorted(intervals):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def total(intervals: Iterable[Interval]) -> float:
    return sum(b - a for a, b in intervals)


def is_planned(f: Fault, windows: Iterable[Window]) -> bool:
    """Planned in the store, or started inside a planned window that covers its target."""
    return f.planned or any(w.covers(f.target, f.start) for w in windows)


def fault_end(f: Fault, now: float) -> float:
    return f.cleared if f.cleared is not None else max(now, f.start)


# --- availability -----------------------------------------------------------------------------------------
@dataclass(slots=True)
class Outages:
    """Merged outage intervals per thing, inside the measured part of a period."""

    start: float
    until: float
    routers: dict[str, list[Interval]]
    links: dict[str, list[Interval]]
    services: dict[str, list[Interval]]
    unknown_targets: list[str]


def outages(net: Network, faults: Iterable[Fault], windows: Iterable[Window], start: float, until: float,
            now: float) -> Outages:
    """Who was out when, from the unplanned router, link and service faults (see the module doc)."""
    windows = list(windows)
    own: dict[str, list[tuple[float, float, str]]] = {"router": [], "link": [], "service": []}
    unknown: set[str] = set()
    known: dict[str, Mapping[str, object]] = {"router": net.routers, "link": net.links, "service": net.services}
    for f in faults:
        if f.kind not in OUTAGE_KINDS or is_planned(f, windows):
            continue
        if f.target not in known[f.kind]:
            unknown.add(f"{f.kind}:{f.target}")
            continue
        lo, hi = max(f.start, start), min(fault_end(f, now), until)
        if hi > lo:
            own[f.kind].append((lo, hi, f.target))
    by_target: dict[str, dict[str, list[Interval]]] = {k: {} for k in OUTAGE_KINDS}
    for kind, rows in own.items():
        for lo, hi, target in rows:
            by_target[kind].setdefault(target, []).append((lo, hi))
    # sweep: between consecutive boundaries the set of down routers and links is constant
    events: dict[float, list[tuple[int, str, str]]] = {}
    for kind in ("router", "link"):
        for lo, hi, target in own[kind]:
            events.setdefault(lo, []).append((1, kind, target))
            events.setdefault(hi, []).append((-1, kind, target))
    down: dict[str, dict[str, int]] = {"router": {}, "link": {}}
    graph = _Graph(net)
    cache: dict[tuple[frozenset[str], frozenset[str]], list[str]] = {}
    out: dict[str, list[Interval]] = {r: [] for r in net.routers}
    times = sorted(events)
    for i, at in enumerate(times[:-1]):
        for step, kind, target in events[at]:
            n = down[kind].get(target, 0) + step
            if n:
                down[kind][target] = n
            else:
                down[kind].pop(target, None)
        if not down["router"] and not down["link"]:
            continue
        key = (frozenset(down["router"]), frozenset(down["link"]))
        cut = cache.get(key)
        if cut is None:
            cut = cache[key] = graph.cut_off(key[0], key[1])
        nxt = times[i + 1]
        for r in (*key[0], *cut):
            out[r].append((at, nxt))
    routers = {r: merge(v) for r, v in out.items()}
    rf = by_target["router"]
    links = {key: merge(by_target["link"].get(key, []) + rf.get(link.a, []) + rf.get(link.b, []))
             for key, link in net.links.items()}
    services = {name: merge(by_target["service"].get(name, []) + routers.get(router, []))
                for name, (router, _cloud) in net.services.items()}
    return Outages(start, until, routers, links, services, sorted(unknown))


class _Graph:
    """Who is cut off from the core, found locally: the same rule as ``Network.impact`` (no path to a
    core router that avoids down routers and links), but searched from the failures outwards, so a
    year with thousands of faults on a 2,000-router province costs milliseconds per change, not a
    whole-network walk."""

    def __init__(self, net: Network):
        adj: dict[str, list[tuple[str, str]]] = {r: [] for r in net.routers}
        for k, l in net.links.items():
            adj[l.a].append((l.b, k))
            adj[l.b].append((l.a, k))
        depth = dict.fromkeys(net.core, 0)  # hops from the core in the intact network
        queue = deque(net.core)
        while queue:
            r = queue.popleft()
            for nb, _k in adj[r]:
                if nb not in depth:
                    depth[nb] = depth[r] + 1
                    queue.append(nb)
        self.core = net.core
        self.links = {k: (l.a, l.b) for k, l in net.links.items()}
        # neighbours nearer the core last, so a depth-first search pops them first and climbs straight up
        far = len(depth) + 1
        self.adj = {r: sorted(v, key=lambda nb: -depth.get(nb[0], far)) for r, v in adj.items()}

    def cut_off(self, down_r: frozenset[str], down_l: frozenset[str]) -> list[str]:
        starts: set[str] = set()
        for k in down_l:
            starts.update(self.links[k])
        for r in down_r:
            starts.update(nb for nb, _k in self.adj[r])
        starts -= down_r
        connected: set[str] = set()
        cut: set[str] = set()
        for s in starts:
            if s in connected or s in cut:
                continue
            seen = {s}
            stack = [s]
            found = s in self.core
            while stack and not found:
                r = stack.pop()
                for nb, k in self.adj[r]:
                    if nb in seen or nb in down_r or k in down_l:
                        continue
                    if nb in self.core or nb in connected:
                        found = True
                        break
                    seen.add(nb)
                    stack.append(nb)
            (connected if found else cut).update(seen)
        return sorted(cut)


def _entry(intervals: list[Interval], seconds: float) -> dict[str, Any]:
    out = total(intervals)
    return {"availability": 1.0 - out / seconds, "outage_s": round(out, 3), "outages": len(intervals)}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def availability(net: Network, o: Outages) -> dict[str, Any]:
    """The ``availability`` section of the report (figures are shares, 0..1)."""
    seconds = o.until - o.start
    if seconds <= 0:
        return {"services": {}, "routers": {}, "links": {}, "tiers": {}, "cities": {}, "network": None,
                "cloud": None}
    routers = {r: {**_entry(v, seconds), "tier": net.routers[r][0], "city": net.routers[r][1]}
               for r, v in sorted(o.routers.items())}
    tiers: dict[str, list[float]] = {}
    cities: dict[str, list[float]] = {}
    for e in routers.values():
        tiers.setdefault(e["tier"], []).append(e["availability"])
        cities.setdefault(e["city"], []).append(e["availability"])
    services = {s: {**_entry(v, seconds), "router": net.services[s][0], "cloud": net.services[s][1]}
                for s, v in sorted(o.services.items())}
    cloud_names = sorted(s for s, (_r, c) in net.services.items() if c)
    cloud = None
    if cloud_names:
        cloud = {**_entry(merge(i for s in cloud_names for i in o.services[s]), seconds), "services": cloud_names}
    network = _mean([e["availability"] for e in routers.values()])
    return {
        "services": services,
        "routers": routers,
        "links": {k: _entry(v, seconds) for k, v in sorted(o.links.items())},
        "tiers": {t: {"availability": _mean(v), "routers": len(v)} for t, v in tiers.items()},
        "cities": {c: {"availability": _mean(v), "routers": len(v)} for c, v in sorted(cities.items())},
        "network": None if network is None else {"availability": network, "routers": len(routers)},
        "cloud": cloud,
    }


# --- fault handling -----------------------------------------------------------------------------------------
def fault_handling(faults: Iterable[Fault], windows: Iterable[Window], start: float, end: float,
                   now: float) -> dict[str, Any]:
    """Share of unplanned faults started in [start, end) cleared within their target."""
    windows = list(windows)
    met = missed = pending = planned = management = 0
    by_kind: dict[str, dict[str, int]] = {}
    rows: list[dict[str, Any]] = []
    for f in faults:
        if not start <= f.start < end:
            continue
        if f.kind == "management":
            management += 1
            continue
        if f.kind not in OUTAGE_KINDS:
            continue
        if is_planned(f, windows):
            planned += 1
            continue
        duration = fault_end(f, now) - f.start
        if f.cleared is None and duration <= f.target_s:
            outcome = "pending"
            pending += 1
        elif duration <= f.target_s + _EPS:
            outcome = "met"
            met += 1
        else:
            outcome = "missed"
            missed += 1
        k = by_kind.setdefault(f.kind, {"met": 0, "missed": 0, "pending": 0})
        k[outcome] += 1
        rows.append({"id": f.id, "kind": f.kind, "target": f.target, "start": f.start, "cleared": f.cleared,
                     "duration_s": round(duration, 3), "target_s": f.target_s, "outcome": outcome})
    judged = met + missed
    return {"rate": met / judged if judged else None, "met": met, "missed": missed, "pending": pending,
            "planned": planned, "management": management, "by_kind": by_kind, "faults": rows}


# --- bandwidth support ----------------------------------------------------------------------------------------
class UtilSource(Protocol):
    """Where 95th-percentile uplink utilisations come from (the rollups, or Prometheus)."""

    def percentile(self, router: str, interface: str, start: float, end: float) -> Percentile | None: ...


def bandwidth_support(net: Network, source: UtilSource, start: float, end: float,
                      threshold: float) -> dict[str, Any]:
    """Sites whose uplinks' 95th-percentile utilisation stays under ``threshold`` (see module doc)."""
    uplinks: dict[str, list[Any]] = {}
    for link in net.links.values():
        if link.kind == "uplink":
            uplinks.setdefault(link.b, []).append(link)
    sites: dict[str, dict[str, Any]] = {}
    counts = {"pass": 0, "fail": 0, "no_data": 0}
    for router in sorted(r for r in net.routers if r not in net.core):
        ups = sorted(uplinks.get(router, []), key=lambda l: l.key)
        if not ups:
            continue
        rows = []
        for link in ups:
            p = source.percentile(router, link.b_if, start, end)
            end_used = (router, link.b_if)
            if p is None:
                p = source.percentile(link.a, link.a_if, start, end)
                end_used = (link.a, link.a_if)
            rows.append({"link": link.key, "router": end_used[0], "interface": end_used[1],
                         "p95": None if p is None else p.value, "samples": 0 if p is None else p.samples,
                         "max": None if p is None else p.max, "approximate": bool(p and p.approximate),
                         "status": "no_data" if p is None else ("pass" if p.under(threshold) else "fail")})
        statuses = {r["status"] for r in rows}
        status = "fail" if "fail" in statuses else ("pass" if statuses == {"pass"} else "no_data")
        counts[status] += 1
        tier, city = net.routers[router]
        worst = max((r["p95"] for r in rows if r["p95"] is not None), default=None)
        sites[router] = {"tier": tier, "city": city, "status": status, "worst_p95": worst, "uplinks": rows}
    measured = counts["pass"] + counts["fail"]
    n = len(sites)
    return {"rate": counts["pass"] / n if measured and n else None, "threshold": threshold, "sites": n, **counts,
            "by_site": sites}


# --- targets -------------------------------------------------------------------------------------------------------
def target_for(targets: Mapping[int, Any], year: int, indicator: str) -> tuple[float, int] | None:
    """(value, year it is from): the latest year at or before ``year`` that sets ``indicator``."""
    for y in sorted(targets, reverse=True):
        if y <= year:
            v = getattr(targets[y], indicator, None)
            if v is not None:
                return float(v), y
    return None


def judge(targets: Mapping[int, Any], year: int, measured: Mapping[str, float | None],
          vacuous: Mapping[str, bool] | None = None) -> tuple[dict[str, Any], bool | None]:
    """Each indicator against its target; ``vacuous``: indicators that pass with no figure (no faults)."""
    vacuous = vacuous or {}
    out: dict[str, Any] = {"year": year}
    verdicts: list[bool] = []
    for ind, what in INDICATORS.items():
        t = target_for(targets, year, ind)
        m = measured.get(ind)
        if t is None:
            ok = None
        elif m is None:
            ok = True if vacuous.get(ind) else None
        else:
            ok = m + _EPS >= t[0]
        if ok is not None:
            verdicts.append(ok)
        out[ind] = {"measured_by": what, "target": None if t is None else t[0],
                    "target_year": None if t is None else t[1], "measured": m, "pass": ok}
    overall = None if not verdicts else all(verdicts)
    return out, overall


"""The SLA figures from a Prometheus server's HTTP API instead of the local store (``--prometheus URL``).

Prometheus holds the raw metrics of docs/metrics.md, not the fault record, so some figures are
measured differently; each is listed here and in the report's ``queries`` section. All queries are
instant queries at the end of the measured part of the period, over a range ``D`` = its length:

- service availability: ``avg by (service) (avg_over_time(egov_service_up[D]))`` (share of probes
  that succeeded);
- cloud availability: ``avg_over_time((min(egov_service_up{service=~"<cloud services>"}))[D:1m])``,
  up only in the minutes every cloud service is up (the union of outages, as locally);
- router availability: ``avg by (router) (avg_over_time(egov_router_up[D]))``; minutes a router is
  unknown (the gauge is absent) count in neither direction, as in exporters/rules;
- tier, city and network: the mean of their routers' figures (routers with no samples left out);
- link availability: the lower of its two ends' ``avg_over_time(egov_interface_up{link=...}[D])``
  (a cut is seen at both ends at once; a one-sided flap at different times is undercounted);
- fault handling: ``increase(egov_fault_resolution_seconds_bucket{le="<target>"}[D])`` over
  ``increase(egov_fault_resolution_seconds_count[D])``, kinds other than management: faults
  *cleared* in the period (the histogram is observed at the clear), so a fault still open past its
  target is not seen, and planned windows are whatever the exporter knew when the fault opened;
- bandwidth: per interface ``quantile_over_time(0.95, max(in, out) 5-minute rate [D:5m])`` over
  ``max_over_time(egov_interface_speed_bps[D])``: Prometheus interpolates between samples, the local
  rollups report the upper edge of a 0.1 % bin, so the two may differ by a fraction of a percent.

Counter queries read every raw sample in the period, so links are asked for in batches sized to stay
under Prometheus' default ``query.max-samples`` (50 million) at a 60 s scrape interval.
"""

from __future__ import annotations

import math
from typing import Any

import httpx

from egov.errors import EgovError
from egov.measure import sla
from egov.measure.faults import Network
from egov.measure.rollup import Percentile

MAX_SAMPLES = 40_000_000
FAULT_KINDS = 'kind!="management"'


_RE_META = frozenset(".+*?()[]{}^$|\\")


def _alt(names: list[str]) -> str:
    """An anchored RE2 alternation of literal names, escaped for a double-quoted PromQL string."""
    return "^(" + "|".join("".join("\\\\" + ch if ch in _RE_META else ch for ch in n) for n in names) + ")$"


def _le(seconds: float) -> str:
    """How the Prometheus client writes a bucket bound: 10800 -> "10800.0"."""
    return repr(float(seconds))


class Prom:
    """A thin Prometheus HTTP API client: instant queries, one line per failure."""

    def __init__(self, url: str, *, client: httpx.Client | None = None, timeout: float = 300.0):
        self.url = url.rstrip("/")
        self.client = client or httpx.Client(timeout=timeout)

    def query(self, q: str, at: float) -> list[tuple[dict[str, str], float]]:
        try:
            r = self.client.post(f"{self.url}/api/v1/query", data={"query": q, "time": f"{at:.3f}"})
        except httpx.HTTPError as exc:
            raise EgovError.one(self.url, "--prometheus", f"cannot query ({exc.__class__.__name__}: {exc})",
                                "check the URL and that Prometheus is running") from None
        try:
            body = r.json()
        except ValueError:
            raise EgovError.one(self.url, "--prometheus", f"answered HTTP {r.status_code} without JSON",
                                "point --prometheus at the server's base URL, e.g. http://127.0.0.1:9090") from None
        if body.get("status") != "success":
            raise EgovError.one(self.url, "query", f"{body.get('errorType', 'error')}: {body.get('error', '')} "
                                f"(in {q})", "check the Prometheus version (2.x) and its query limits")
        data = body.get("data", {})
        if data.get("resultType") == "scalar":
            return [({}, float(data["result"][1]))]
        return [(s.get("metric", {}), float(s["value"][1])) for s in data.get("result", [])]

    def close(self) -> None:
        self.client.close()


class PromUtil:
    """``sla.UtilSource`` over answers fetched in batches up front."""

    def __init__(self, values: dict[tuple[str, str], Percentile]):
        self.values = values

    def percentile(self, router: str, interface: str, start: float, end: float) -> Percentile | None:
        return self.values.get((router, interface))


def _num(v: float) -> float | None:
    return None if math.isnan(v) or math.isinf(v) else v


_Answer = list[tuple[dict[str, str], float]]


class _Asker:
    """Instant queries at the end of the measured part of the period, each recorded by figure name for
    the report's ``queries`` section (the first query of a name is the one shown)."""

    def __init__(self, prom: Prom, until: float):
        self.prom = prom
        self.until = until
        self.queries: dict[str, str] = {}

    def __call__(self, name: str, q: str) -> _Answer:
        self.queries.setdefault(name, q)
        return self.prom.query(q, self.until)


def figures(prom: Prom, net: Network, start: float, until: float, target_s: float,
            scrape_s: float = 60.0) -> tuple[dict[str, Any], dict[str, Any], PromUtil, dict[str, str], list[str]]:
    """(availability, fault handling, utilisation source, queries used, notes) for [start, until)."""
    rng = f"{max(1, round(until - start))}s"
    seconds = until - start
    ask = _Asker(prom, until)
    availability, notes = _availability(ask, net, rng, seconds)
    handling, handling_notes = _fault_handling(ask, rng, target_s)
    util = _utilisation(ask, net, rng, seconds, scrape_s)
    return availability, handling, util, ask.queries, notes + handling_notes


def _entry(a: float | None, seconds: float) -> dict[str, Any]:
    """One availability figure as the local store reports it; Prometheus cannot count outages."""
    if a is None:
        return {"availability": None, "outage_s": None, "outages": None}
    return {"availability": a, "outage_s": round((1 - a) * seconds, 3), "outages": None}


def _mean(v: list[float]) -> float | None:
    return sum(v) / len(v) if v else None


def _availability(ask: _Asker, net: Network, rng: str, seconds: float) -> tuple[dict[str, Any], list[str]]:
    """Services, cloud, routers and links from their up gauges; tiers, cities and network as means of
    their routers. Returns the availability section and its notes."""
    svc = {m.get("service", ""): _num(v) for m, v in
           ask("services", f"avg by (service) (avg_over_time(egov_service_up[{rng}]))")}
    services = {s: {**_entry(svc.get(s), seconds), "router": r, "cloud": c}
                for s, (r, c) in sorted(net.services.items())}
    cloud_names = sorted(s for s, (_r, c) in net.services.items() if c)
    cloud = None
    if cloud_names:
        res = ask("cloud", f'avg_over_time((min(egov_service_up{{service=~"{_alt(cloud_names)}"}}))[{rng}:1m])')
        cloud = {**_entry(_num(res[0][1]) if res else None, seconds), "services": cloud_names}
    rtr = {m.get("router", ""): _num(v) for m, v in
           ask("routers", f"avg by (router) (avg_over_time(egov_router_up[{rng}]))")}
    routers = {r: {**_entry(rtr.get(r), seconds), "tier": t, "city": c} for r, (t, c) in sorted(net.routers.items())}
    links = _links(ask, net, rng, seconds)
    groups, notes = _router_means(routers)
    return {"services": services, "routers": routers, "links": links, **groups, "cloud": cloud}, notes


def _links(ask: _Asker, net: Network, rng: str, seconds: float) -> dict[str, dict[str, Any]]:
    """Each link's availability: the lower of its two ends (a cut is seen at both ends at once)."""
    ends: dict[tuple[str, str], float | None] = {(m.get("router", ""), m.get("interface", "")): _num(v) for m, v in ask(
        "links", f'avg by (router, interface) (avg_over_time(egov_interface_up{{link!=""}}[{rng}]))')}
    links = {}
    for key, l in sorted(net.links.items()):
        vals = [v for v in (ends.get((l.a, l.a_if)), ends.get((l.b, l.b_if))) if v is not None]
        links[key] = _entry(min(vals) if vals else None, seconds)
    return links


def _router_means(routers: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """Tier, city and network availability as the mean of their routers' figures, leaving out routers
    with no samples (and saying so in a note)."""
    tiers: dict[str, list[float]] = {}
    cities: dict[str, list[float]] = {}
    for e in routers.values():
        tiers.setdefault(e["tier"], [])
        cities.setdefault(e["city"], [])
        if e["availability"] is not None:
            tiers[e["tier"]].append(e["availability"])
            cities[e["city"]].append(e["availability"])
    known = [e["availability"] for e in routers.values() if e["availability"] is not None]
    notes = []
    silent = len(routers) - len(known)
    if silent:
        notes.append(f"{silent} router(s) have no egov_router_up samples in the period and are left out of the "
                     "tier, city and network means")
    groups = {
        "tiers": {t: {"availability": _mean(v), "routers": len(v)} for t, v in tiers.items()},
        "cities": {c: {"availability": _mean(v), "routers": len(v)} for c, v in sorted(cities.items())},
        "network": {"availability": _mean(known), "routers": len(known)} if known else None,
    }
    return groups, notes


def _fault_handling(ask: _Asker, rng: str, target_s: float) -> tuple[dict[str, Any], list[str]]:
    """The share of faults cleared in the period within the target, from the resolution histogram;
    returns the fault handling section and its notes (what Prometheus cannot see)."""
    bucket = ask("fault_handling_met", f'sum(increase(egov_fault_resolution_seconds_bucket{{{FAULT_KINDS},'
                 f'le="{_le(target_s)}"}}[{rng}]))')
    count = ask("fault_handling_all", f"sum(increase(egov_fault_resolution_seconds_count{{{FAULT_KINDS}}}[{rng}]))")
    met = _num(bucket[0][1]) if bucket else None
    n = _num(count[0][1]) if count else None
    handling: dict[str, Any] = {"rate": None, "met": None, "missed": None, "pending": None, "planned": None,
                                "management": None, "by_kind": {}, "faults": [], "no_data": not count}
    notes = []
    if n and n > 0:
        if met is None:
            notes.append(f"the fault histogram has no le=\"{_le(target_s)}\" bucket; fault handling not measured")
            handling["no_data"] = True
        else:
            handling.update(rate=min(1.0, met / n), met=round(met), missed=round(n - met))
    notes.append("fault handling from Prometheus counts faults cleared in the period; open faults past their "
                 "target are not seen (the local store counts them as missed)")
    return handling, notes


def _utilisation(ask: _Asker, net: Network, rng: str, seconds: float, scrape_s: float) -> PromUtil:
    """Each uplink interface's 95th percentile over its speed, asked in batches of links sized to stay
    under Prometheus' query.max-samples."""
    util: dict[tuple[str, str], Percentile] = {}
    uplinks = sorted(l.key for l in net.links.values() if l.kind == "uplink")
    per_link = 4 * max(1.0, seconds / scrape_s)  # raw samples: 2 ends x 2 counters
    batch = max(1, int(MAX_SAMPLES // per_link))
    speeds: dict[tuple[str, str], float] = {}
    for i in range(0, len(uplinks), batch):
        flt = f'link=~"{_alt(uplinks[i:i + batch])}"'
        util.update(_p95_bps(ask, flt, rng, seconds))
        for m, v in ask("bandwidth_speed_bps",
                        f"max by (router, interface) (max_over_time(egov_interface_speed_bps{{{flt}}}[{rng}]))"):
            speeds[(m.get("router", ""), m.get("interface", ""))] = v
    source: dict[tuple[str, str], Percentile] = {}
    for k, p in util.items():
        speed = speeds.get(k)
        if speed and speed > 0:
            source[k] = Percentile(p.router, p.interface, 0.95, p.value / speed, p.samples, None, None, int(speed),
                                   0, False, 0.0)
    return PromUtil(source)


def _p95_bps(ask: _Asker, flt: str, rng: str, seconds: float) -> dict[tuple[str, str], Percentile]:
    """The 95th percentile of the busier direction's 5-minute rate, bit/s, of the interfaces ``flt`` selects."""
    rx = f"rate(egov_interface_receive_bytes_total{{{flt}}}[5m])"
    tx = f"rate(egov_interface_transmit_bytes_total{{{flt}}}[5m])"
    q = f"8 * quantile_over_time(0.95, (max by (router, interface) (({rx} > {tx}) or {tx}))[{rng}:5m])"
    util: dict[tuple[str, str], Percentile] = {}
    for m, v in ask("bandwidth_p95_bps", q):
        util_v = _num(v)
        if util_v is not None:
            util[(m.get("router", ""), m.get("interface", ""))] = Percentile(
                m.get("router", ""), m.get("interface", ""), 0.95, util_v, int(seconds // 300), None, None, 0,
                0, False, 0.0)
    return util


def report(*, url: str, profile: Any, net: Network, period: sla.Period, now: float,
           client: httpx.Client | None = None) -> dict[str, Any]:
    """The report document, with every figure from Prometheus (see the module doc)."""
    from egov.measure.report import assemble

    until = min(period.end, max(now, period.start))
    prom = Prom(url, client=client)
    try:
        if until <= period.start:
            raise EgovError.one("--period", period.label, "has not started yet", "pick a period in the past")
        avail, handling, util, queries, notes = figures(prom, net, period.start, until,
                                                        profile.sla.fault_target_hours * 3600)
    finally:
        if client is None:
            prom.close()
    bandwidth = sla.bandwidth_support(net, util, period.start, until, profile.sla.bandwidth_threshold)
    return assemble(profile=profile, period=period, now=now, until=until, source=f"prometheus {url}",
                    availability=avail, handling=handling, bandwidth=bandwidth, notes=notes, queries=queries)

"""``egov exporter``: polls, probes and listens for traps, keeps the fault record, serves Prometheus.

One asyncio loop does the work (polls every ``interval``, probes, traps, escalations); a threaded
HTTP server answers scrapes from what the loop last saw:
- ``/metrics``: every router of this shard, services, faults and the poller's own health, built
  per scrape by a custom collector (prometheus client_python's pull model: no stale series);
- ``/probe?target=ROUTER``: snmp_exporter style, polls that router now and returns its series.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, generate_latest, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from egov.measure.faults import FaultEngine, Network
from egov.measure.model import Poll, Target
from egov.measure.probes import ProbeResult, ServiceTarget, probe
from egov.measure.rollup import Rollups
from egov.measure.snmp import Poller, raise_fd_limit
from egov.measure.store import KINDS, FaultStore

log = logging.getLogger("egov.exporter")
#: fault resolution buckets (seconds): the 3-hour target is the le="10800.0" bucket
BUCKETS = (300.0, 900.0, 1800.0, 3600.0, 7200.0, 9000.0, 10800.0, 14400.0, 28800.0, 86400.0)


@dataclass
class ExporterConfig:
    profile: str
    interval: float = 15.0
    shard: tuple[int, int] = (1, 1)
    timeout: float = 2.0
    retries: int = 1
    concurrency: int = 200
    #: plan targets as gauges: (indicator, year) -> ratio
    plan_targets: dict[tuple[str, int], float] = field(default_factory=dict)
    rollups: Rollups | None = None


class Exporter:
    """The running exporter's state: targets, latest answers, counters, the fault engine."""

    def __init__(self, cfg: ExporterConfig, targets: list[Target], services: list[ServiceTarget], net: Network,
                 store: FaultStore, engine: FaultEngine):
        self.cfg = cfg
        i, n = cfg.shard
        self.targets = {t.router: t for t in targets if n == 1 or t.shard(n) == i}
        self.services = services if i == 1 else []  # the first shard probes the services
        self.net = net
        self.store = store
        self.engine = engine
        self.poller = Poller(timeout=cfg.timeout, retries=cfg.retries, concurrency=cfg.concurrency)
        self.polls: dict[str, Poll] = {}
        self.probes: dict[str, ProbeResult] = {}
        self.errors: dict[tuple[str, str], int] = {}
        self.cycle_seconds = 0.0
        self.cycles = 0
        self.lock = threading.Lock()  # scrapes read what the loop writes
        self.loop: asyncio.AbstractEventLoop | None = None
        self.on_poll: list[Callable[[Poll], None]] = []
        #: the interfaces whose counters are kept (planned links and service LANs, not management)
        self.planned = {r: {i.name for i in t.interfaces} for r, t in self.targets.items()}
        raise_fd_limit(len(self.targets) + 256)

    # --- the loop -----------------------------------------------------------------------------------
    async def cycle(self) -> None:
        t0 = time.perf_counter()
        polls, results = await asyncio.gather(self.poller.poll_all(self.targets.values()),
                                              asyncio.gather(*(probe(s) for s in self.services)))
        with self.lock:
            for p in polls:
                self.polls[p.router] = p
                if not p.ok:
                    key = (p.router, p.reason or "error")
                    self.errors[key] = self.errors.get(key, 0) + 1
            for r in results:
                self.probes[r.service] = r
        self.engine.polls(polls, share=self.cfg.shard[1] > 1)
        for r in results:
            self.engine.probe(r.service, r.ok, r.at, r.detail)
        for hook in self.on_poll:
            for p in polls:
                hook(p)
        if self.cfg.rollups is not None:
            self.cfg.rollups.record(self.cfg.profile, polls, interfaces=self.planned)
        self.engine.tick()
        self.cycle_seconds = time.perf_counter() - t0
        self.cycles += 1

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every ``interval`` on a fixed schedule; a cycle that overruns skips the missed slots."""
        self.loop = asyncio.get_running_loop()
        start = time.monotonic()
        while not stop.is_set():
            try:
                await self.cycle()
            except Exception:  # noqa: BLE001 - the exporter keeps going; the log says what broke
                log.exception("poll cycle failed")
            next_slot = start + (int((time.monotonic() - start) / self.cfg.interval) + 1) * self.cfg.interval
            try:
                await asyncio.wait_for(stop.wait(), max(0.0, next_slot - time.monotonic()))
            except asyncio.TimeoutError:
                pass

    def probe_now(self, router: str, timeout: float = 30.0) -> Poll | None:
        """``/probe``: poll one router now, from the HTTP thread, on the exporter's loop."""
        t = self.targets.get(router)
        if t is None or self.loop is None:
            return None
        return asyncio.run_coroutine_threadsafe(self.poller.poll(t), self.loop).result(timeout)


# --- metrics --------------------------------------------------------------------------------------

def _router_labels(t: Target) -> list[str]:
    return [t.router, t.tier, t.city]


def router_families(targets: Iterable[Target], polls: dict[str, Poll], states: dict[str, str],
                    errors: dict[tuple[str, str], int]) -> Iterator[Any]:
    """Router, interface and poller-health series of ``targets`` (shared by /metrics and /probe)."""
    rl = ["router", "tier", "city"]
    il = ["router", "interface", "peer", "link", "tier", "city"]
    up = GaugeMetricFamily("egov_router_up", "1 when the router answers, 0 when down (absent while unknown)", labels=rl)
    unknown = GaugeMetricFamily("egov_router_unknown", "1 when the agent is silent but neighbours still see the "
                                "router (a management fault, not an outage)", labels=rl)
    uptime = GaugeMetricFamily("egov_router_uptime_seconds", "sysUpTime of the router's agent", labels=rl)
    if_up = GaugeMetricFamily("egov_interface_up", "1 when ifOperStatus and ifAdminStatus are up", labels=il)
    speed = GaugeMetricFamily("egov_interface_speed_bps", "ifHighSpeed in bits per second", labels=il)
    counters = {
        "in_octets": CounterMetricFamily("egov_interface_receive_bytes", "ifHCInOctets", labels=il),
        "out_octets": CounterMetricFamily("egov_interface_transmit_bytes", "ifHCOutOctets", labels=il),
        "in_errors": CounterMetricFamily("egov_interface_receive_errors", "ifInErrors", labels=il),
        "out_errors": CounterMetricFamily("egov_interface_transmit_errors", "ifOutErrors", labels=il),
        "in_discards": CounterMetricFamily("egov_interface_receive_discards", "ifInDiscards", labels=il),
        "out_discards": CounterMetricFamily("egov_interface_transmit_discards", "ifOutDiscards", labels=il),
    }
    adj = GaugeMetricFamily("egov_isis_adjacency_up", "1 when an IS-IS adjacency is up on the interface", labels=il)
    dur = GaugeMetricFamily("egov_poll_duration_seconds", "duration of the last poll of the router",
                            labels=["target"])
    errs = CounterMetricFamily("egov_poll_errors", "failed polls by reason", labels=["target", "reason"])
    for t in targets:
        labels = _router_labels(t)
        state = states.get(t.router)
        p = polls.get(t.router)
        if state == "up" or (state is None and p is not None and p.ok):
            up.add_metric(labels, 1)
        elif state == "down":
            up.add_metric(labels, 0)
        elif p is not None:
            unknown.add_metric(labels, 1)
        if p is None:
            continue
        dur.add_metric([t.router], p.duration)
        if not p.ok:
            continue
        uptime.add_metric(labels, (p.uptime_ticks or 0) / 100.0)
        for pi in t.interfaces:
            i = p.interfaces.get(pi.name)
            if i is None:
                continue
            ll = [t.router, pi.name, pi.peer, pi.link, t.tier, t.city]
            if_up.add_metric(ll, 1 if i.up else 0)
            speed.add_metric(ll, i.speed_bps)
            for attr, fam in counters.items():
                fam.add_metric(ll, getattr(i, attr))
            if p.isis is not None and pi.name in p.isis and not pi.passive:
                adj.add_metric(ll, 1 if p.isis[pi.name] else 0)
    for (target, reason), n in sorted(errors.items()):
        if target in {t.router for t in targets}:
            errs.add_metric([target, reason], n)
    yield from (up, unknown, uptime, if_up, speed, *counters.values(), adj, dur, errs)


class ExporterCollector(Collector):
    """Everything of this exporter, read fresh at every scrape."""

    def __init__(self, ex: Exporter):
        self.ex = ex

    def collect(self) -> Iterator[Any]:
        ex = self.ex
        with ex.lock:
            polls, probes, errors = dict(ex.polls), dict(ex.probes), dict(ex.errors)
        yield from router_families(ex.targets.values(), polls, dict(ex.engine.router_state), errors)
        yield from self._services(probes)
        yield from self._faults()
        shard = f"{ex.cfg.shard[0]}/{ex.cfg.shard[1]}"
        yield _gauge("egov_poll_targets", "routers this exporter polls", {(shard,): len(ex.targets)}, ["shard"])
        yield _gauge("egov_poll_cycle_seconds", "duration of the last full poll cycle",
                     {(shard,): ex.cycle_seconds}, ["shard"])
        yield _gauge("egov_plan_target_ratio", "the profile's plan targets",
                     {(ind, str(year)): v for (ind, year), v in ex.cfg.plan_targets.items()}, ["indicator", "year"])
        yield _gauge("egov_fault_target_seconds", "the fault-handling target", {(): ex.engine.target_s}, [])

    def _services(self, probes: dict[str, ProbeResult]) -> Iterator[Any]:
        labels = ["service", "router", "city", "cloud"]
        up = GaugeMetricFamily("egov_service_up", "1 when the last probe of the service succeeded", labels=labels)
        dur = GaugeMetricFamily("egov_service_probe_duration_seconds", "duration of the last probe", labels=labels)
        for s in self.ex.services:
            r = probes.get(s.name)
            if r is None:
                continue
            ll = [s.name, s.router, s.city, "true" if s.cloud else "false"]
            up.add_metric(ll, 1 if r.ok else 0)
            dur.add_metric(ll, r.duration)
        yield up
        yield dur

    def _faults(self) -> Iterator[Any]:
        ex = self.ex
        faults = ex.store.faults(ex.cfg.profile)
        open_ = GaugeMetricFamily("egov_faults_open", "faults open now", labels=["kind", "tier", "city"])
        counts: dict[tuple[str, str, str], int] = {}
        total: dict[tuple[str, str], int] = {(k, p): 0 for k in KINDS for p in ("false", "true")}
        esc: dict[tuple[str, str], int] = {}
        buckets: dict[str, list[int]] = {k: [0] * len(BUCKETS) for k in KINDS}
        sums: dict[str, float] = {k: 0.0 for k in KINDS}
        n: dict[str, int] = {k: 0 for k in KINDS}
        for f in faults:
            total[(f.kind, "true" if f.planned else "false")] += 1
            for level in f.escalations:
                key = (f.kind, f"{level:g}h")
                esc[key] = esc.get(key, 0) + 1
            if f.open:
                where = (f.kind, f.tier, f.city)
                counts[where] = counts.get(where, 0) + 1
            elif not f.planned:
                d = f.duration()
                n[f.kind] += 1
                sums[f.kind] += d
                for j, b in enumerate(BUCKETS):
                    if d <= b:
                        buckets[f.kind][j] += 1
        for labels, v in sorted(counts.items()):
            open_.add_metric(list(labels), v)
        yield open_
        yield _counter("egov_faults", "faults opened since the record began", dict(total), ["kind", "planned"])
        yield _counter("egov_fault_escalations", "escalations fired", dict(esc), ["kind", "level"])
        hist = HistogramMetricFamily("egov_fault_resolution_seconds", "start to clear of unplanned faults",
                                     labels=["kind"])
        for k in KINDS:
            hist.add_metric([k], [(str(b), buckets[k][j]) for j, b in enumerate(BUCKETS)] + [("+Inf", n[k])],
                            sum_value=sums[k])
        yield hist


def _gauge(name: str, doc: str, values: Mapping[Any, float], labels: list[str]) -> GaugeMetricFamily:
    fam = GaugeMetricFamily(name, doc, labels=labels)
    for k, v in values.items():
        fam.add_metric(list(k), v)
    return fam


def _counter(name: str, doc: str, values: Mapping[Any, float], labels: list[str]) -> CounterMetricFamily:
    fam = CounterMetricFamily(name, doc, labels=labels)
    for k, v in sorted(values.items()):
        fam.add_metric(list(k), v)
    return fam


# --- HTTP -----------------------------------------------------------------------------------------

class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass


def http_app(ex: Exporter) -> Callable[..., Iterable[bytes]]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExporterCollector(ex))
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return metrics(environ, start_response)
        if path == "/probe":
            target = (parse_qs(environ.get("QUERY_STRING", "")).get("target") or [""])[0]
            if target not in ex.targets:
                start_response("400 Bad Request", [("Content-Type", "text/plain")])
                return [f"unknown target {target!r}: not a router of this exporter's shard\n".encode()]
            p = ex.probe_now(target)
            reg = CollectorRegistry(auto_describe=False)

            class One(Collector):
                def collect(self) -> Iterator[Any]:
                    errs: dict[tuple[str, str], int] = ({(target, str(p.reason or "error")): 1}
                                                        if p is not None and not p.ok else {})
                    yield from router_families([ex.targets[target]], {target: p} if p else {}, {}, errs)

            reg.register(One())
            start_response("200 OK", [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])
            return [generate_latest(reg)]
        if path in ("/", "/-/healthy"):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [f"egov exporter: {len(ex.targets)} routers, {ex.cycles} cycles; see /metrics and "
                    "/probe?target=ROUTER\n".encode()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    return app


def serve(ex: Exporter, host: str, port: int) -> tuple[WSGIServer, threading.Thread]:
    server = make_server(host, port, http_app(ex), server_class=_Server6 if ":" in host else _Server,
                         handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="egov-http", daemon=True)
    thread.start()
    return server, thread

"""``egov exporter``: measure the backbone against the plan (SNMP, traps, probes, faults).

The CLI resolves what egov.measure must not know about: where each router answers (its management
address, or the lab's 127.0.0.1 forwarders), the SNMP secrets, planned windows from the change
journal, and where traps arrive.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from egov.cli.common import ProfileOpt, checked_plan, say
from egov.errors import EgovError

exporter_app = typer.Typer(help="Serve Prometheus metrics: SNMP polls, traps, service probes, faults.")

LabOpt = Annotated[bool, typer.Option("--lab", help="Measure the running `egov lab` routers.")]


def parse_hostport(text: str, option: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise EgovError.one(option, text, "is not HOST:PORT", "write it like 127.0.0.1:9464 or [::1]:9464")
    return host or "0.0.0.0", int(port)


def parse_shard(text: str) -> tuple[int, int]:
    i, sep, n = text.partition("/")
    if not sep or not i.isdigit() or not n.isdigit() or not 1 <= int(i) <= int(n):
        raise EgovError.one("--shard", text, "is not I/N with 1 <= I <= N", "write it like 2/4")
    return int(i), int(n)


def text_engine_id(hostname: str) -> bytes:
    """net-snmp's `engineID TEXT` (format 4, enterprise 8072), as the FRR templates render it."""
    return bytes.fromhex("80001f8804") + hostname.encode()


def resolve(plan: Any, lab: bool) -> tuple[list[Any], list[Any], Any, dict[str, Any]]:
    """Targets, service targets, SNMP auth and lab facts for the plan (the lab's forwarders with --lab)."""
    from egov.measure.model import PlannedInterface, SnmpAuth, Target
    from egov.measure.probes import ServiceTarget

    prof = plan.loaded.profile
    topo = plan.topology
    facts: dict[str, Any] = {}
    if lab:
        from egov.lab.state import LabState

        st = LabState.load()
        if st is None or st.profile != prof.name:
            raise EgovError.one("egov exporter", "--lab", f"no lab of profile {prof.name!r} is up",
                                f"run `egov lab up --profile {prof.name}` first")
        s = st.secrets()
        auth = SnmpAuth(user=s["snmp_user"], auth=prof.services.snmp.auth, auth_key=s["snmp_auth_key"],
                        priv_key=s["snmp_priv_key"])
        where = {h: ("127.0.0.1", rs.snmp_port) for h, rs in st.routers.items()}
        facts["trap_listen"] = ("127.0.0.1", st.trap_port)
        probe_via = dict(st.services)
    else:
        from egov.render.secrets import load_secrets

        sec = load_secrets()
        auth = SnmpAuth(user=prof.services.snmp.user, auth=prof.services.snmp.auth, auth_key=sec.snmp_auth_key,
                        priv_key=sec.snmp_priv_key)
        where = {h: (str(n.mgmt4.ip), 161) for h, n in topo.nodes.items() if n.mgmt4 is not None}
        facts["trap_listen"] = ("0.0.0.0", 162)
        probe_via = {}
    targets = []
    for h, n in topo.nodes.items():
        if h not in where:
            continue
        ifaces = tuple(PlannedInterface(i.name, i.peer, i.link) for i in n.interfaces)
        ifaces += tuple(PlannedInterface(v.name, f"svc-{v.service}", v.key, passive=True) for v in n.services)
        targets.append(Target(h, where[h][0], where[h][1], n.tier, n.region, ifaces, auth,
                              text_engine_id(h) if n.platform == "frr" else None))
    services = []
    for v in topo.services:
        city = topo.nodes[v.node].region
        if lab:
            svc = probe_via.get(v.service)
            if not svc:
                continue
            url = v.url("127.0.0.1", svc.probe_port)  # the forwarder, probing from a far router
        else:
            url = v.url()
        services.append(ServiceTarget(v.service, v.node, city, url, v.cloud))
    return targets, services, auth, facts


@exporter_app.callback(invoke_without_command=True)
def exporter(
    ctx: typer.Context,
    profile: Annotated[Optional[str], typer.Option("--profile", "-p", help="Profile name or path.")] = None,
    lab: LabOpt = False,
    listen: Annotated[str, typer.Option("--listen", help="HTTP address for /metrics and /probe.")] = "127.0.0.1:9464",
    interval: Annotated[float, typer.Option("--interval", help="Seconds between polls.")] = 15.0,
    shard: Annotated[str, typer.Option("--shard", help="Poll only shard I of N (stable hash of router name).")]
    = "1/1",
    trap_listen: Annotated[Optional[str], typer.Option("--trap-listen", help="UDP HOST:PORT for SNMPv3 traps, "
                                                       "or 'none' (default: the lab's relay, else 0.0.0.0:162).")]
    = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per SNMP request.")] = 2.0,
    retries: Annotated[int, typer.Option("--retries", help="Retries per SNMP request.")] = 1,
    concurrency: Annotated[int, typer.Option("--concurrency", help="Routers polled at once.")] = 200,
    cycles: Annotated[int, typer.Option("--cycles", help="Stop after this many polls (0: run until stopped).",
                                        hidden=True)] = 0,
) -> None:
    """Run the exporter: poll every router of the shard, take traps, probe services, keep the fault record."""
    if ctx.invoked_subcommand is not None:
        return
    if not profile:
        raise EgovError.one("egov exporter", "--profile", "no profile given", "pass --profile NAME")
    run_exporter(profile, lab, parse_hostport(listen, "--listen"), interval, parse_shard(shard), trap_listen,
                 timeout, retries, concurrency, cycles)


def build_exporter(plan: Any, lab: bool, *, interval: float = 15.0, shard: tuple[int, int] = (1, 1),
                   timeout: float = 2.0, retries: int = 1, concurrency: int = 200,
                   log: Callable[[str], None] | None = None) -> tuple[Any, Any, dict[str, Any]]:
    """The exporter for a plan, its fault store and the lab facts (trap address); nothing started yet."""
    from egov.cli.sla import planned_windows
    from egov.measure.exporter import Exporter, ExporterConfig
    from egov.measure.faults import FaultEngine, Network
    from egov.measure.rollup import Rollups
    from egov.measure.rollup import default_path as rollup_path
    from egov.measure.store import FaultStore, default_path
    from egov.paths import state_dir

    prof = plan.loaded.profile
    targets, services, auth, facts = resolve(plan, lab)
    facts["auth"] = auth
    store = FaultStore(default_path(state_dir()))
    net = Network.from_topology(plan.topology)
    engine = FaultEngine(store, prof.name, net, target_s=prof.sla.fault_target_hours * 3600,
                         escalate_h=tuple(prof.sla.escalate_at_hours),
                         windows=lambda: planned_windows(store, prof.name), log=log or (lambda _m: None))
    cfg = ExporterConfig(profile=prof.name, interval=interval, shard=shard, timeout=timeout, retries=retries,
                         concurrency=concurrency,
                         plan_targets={(k, y): v for y, t in prof.targets.items()
                                       for k, v in t.model_dump().items() if v is not None})
    cfg.rollups = Rollups(rollup_path(state_dir()), tz=prof.services.timezone)
    return Exporter(cfg, targets, services, net, store, engine), store, facts


async def exporter_main(ex: Any, auth: Any, trap_addr: tuple[str, int] | None, stop: asyncio.Event,
                        cycles: int = 0) -> None:
    """The exporter's loop with its trap receiver (traps open and clear faults between polls)."""
    receiver = None
    if trap_addr:
        from egov.measure.traps import TrapReceiver

        engine = ex.engine
        receiver = TrapReceiver(trap_addr, auth, lambda r, i, up, at: engine.trap(r, i, None, up, at))
        for t in ex.targets.values():
            if t.engine_id:
                receiver.register(t.router, t.engine_id)

        def learn(p: Any) -> None:
            eid = ex.poller.engine_id(p.router) if p.ok else None
            if eid and eid not in receiver.routers:
                receiver.register(p.router, eid)

        ex.on_poll.append(learn)
    try:
        if cycles:
            for _ in range(cycles):
                await ex.cycle()
            await asyncio.sleep(0.2)
        else:
            await ex.run(stop)
    finally:
        if receiver:
            receiver.close()


class BackgroundExporter:
    """An exporter serving /metrics and taking traps in a thread of this process (drills, the demo)."""

    def __init__(self, plan: Any, lab: bool, listen: tuple[str, int] | None, interval: float,
                 log: Callable[[str], None] | None = None, timeout: float = 2.0, retries: int = 1):
        self.ex, self.store, facts = build_exporter(plan, lab, interval=interval, log=log, timeout=timeout,
                                                    retries=retries)
        self.auth = facts["auth"]
        self.trap_addr = facts.get("trap_listen") if facts.get("trap_listen", ("", 0))[1] else None
        self.listen = listen
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()

    def start(self) -> BackgroundExporter:
        from egov.measure.exporter import serve

        if self.trap_addr:
            import socket

            with socket.socket(socket.AF_INET6 if ":" in self.trap_addr[0] else socket.AF_INET,
                               socket.SOCK_DGRAM) as probe_sock:
                try:
                    probe_sock.bind(self.trap_addr)
                except OSError:
                    raise EgovError.one("egov exporter", "traps", f"udp {self.trap_addr[0]}:{self.trap_addr[1]} is "
                                        "taken (another exporter already takes the lab's traps?)",
                                        "stop that exporter first") from None
        if self.listen:
            self._server, _ = serve(self.ex, *self.listen)

        def run() -> None:
            async def main() -> None:
                self._loop = asyncio.get_running_loop()
                self._stop = asyncio.Event()
                self._ready.set()
                await exporter_main(self.ex, self.auth, self.trap_addr, self._stop)

            asyncio.run(main())

        self._thread = threading.Thread(target=run, name="egov-exporter", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def wait_ready(self, timeout: float) -> bool:
        """True once the first poll cycle has finished."""
        deadline = time.monotonic() + timeout
        while self.ex.cycles < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        return bool(self.ex.cycles >= 1)

    def poll(self, router: str, timeout: float = 30.0) -> Any:
        """One router polled now on the exporter's own loop (runbook steps share its SNMP sessions)."""
        t = self.ex.targets[router]
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(self.ex.poller.poll(t), self._loop).result(timeout)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self.ex.cfg.rollups is not None:
            self.ex.cfg.rollups.close()
        self.store.close()


def run_exporter(profile: str, lab: bool, listen: tuple[str, int], interval: float, shard: tuple[int, int],
                 trap_listen: str | None, timeout: float, retries: int, concurrency: int, cycles: int) -> None:
    from egov.measure.exporter import serve

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s egov exporter: %(message)s", datefmt="%Y-%m-%dT%H:%M:%S%z")
    log = logging.getLogger("egov.exporter")
    plan = checked_plan(profile, frozen=False)
    ex, store, facts = build_exporter(plan, lab, interval=interval, shard=shard, timeout=timeout, retries=retries,
                                      concurrency=concurrency, log=log.info)
    server, _ = serve(ex, *listen)
    trap_addr = None if (trap_listen or "").lower() == "none" else (
        parse_hostport(trap_listen, "--trap-listen") if trap_listen else facts.get("trap_listen"))
    if trap_addr and not trap_addr[1]:
        trap_addr = None
    say(f"egov exporter: {len(ex.targets)} routers (shard {shard[0]}/{shard[1]}), {len(ex.services)} services, "
        f"every {interval:g} s; http://{listen[0]}:{listen[1]}/metrics"
        + (f"; traps on udp {trap_addr[0]}:{trap_addr[1]}" if trap_addr else ""), stderr=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await exporter_main(ex, facts["auth"], trap_addr, stop, cycles)

    try:
        asyncio.run(main())
    finally:
        server.shutdown()
        store.close()


@exporter_app.command("prometheus-config")
def prometheus_config(
    profile: ProfileOpt,
    exporters: Annotated[str, typer.Option("--exporters", help="Comma-separated HOST:PORT of the exporters, "
                                           "one per shard, in shard order.")] = "127.0.0.1:9464",
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for prometheus.yml and targets/.")]
    = Path("build/prometheus"),
    probe: Annotated[bool, typer.Option("--probe", help="Scrape routers through /probe (snmp_exporter style) "
                                        "instead of each exporter's /metrics.")] = False,
    interval: Annotated[str, typer.Option("--interval", help="Scrape and evaluation interval.")] = "15s",
    lab: LabOpt = False,
) -> None:
    """Write a Prometheus configuration: one job per shard (file_sd targets, relabelling), egov's rules."""
    from egov.measure.promconfig import write_config
    from egov.paths import project_root

    plan = checked_plan(profile, frozen=False)
    addrs = [parse_hostport(a.strip(), "--exporters") for a in exporters.split(",") if a.strip()]
    files = write_config(plan.topology, addrs, out, probe=probe, interval=interval,
                         rules_dir=project_root() / "exporters" / "rules")
    say(f"prometheus: {out / 'prometheus.yml'} with {len(addrs)} shard job(s); " + ", ".join(sorted(files)))
    if lab:
        say(f"start it: prometheus --config.file={out / 'prometheus.yml'} --web.listen-address=127.0.0.1:9090 "
            f"--storage.tsdb.path={out / 'data'}")


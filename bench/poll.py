#!/usr/bin/env python3
"""Benchmark the SNMP poller: egov vs Debian's snmp_exporter vs pysnmp 7, on real snmpd agents.

What it measures. Every router poll asks for the same OIDs: sysUpTime.0, the 11 IF-MIB columns of
``egov.measure.model.IF_COLUMNS`` and the 2 ISIS-MIB columns (circuit ifIndex, adjacency state),
SNMPv3 authPriv (HMAC-SHA-256 / AES-128). Three pollers fetch them from the same agents in the same
run, round by round (one variant at a time, in turn, so they share the host's noise):

  egov       ``Poller.poll_all`` exactly as ``egov exporter`` uses it (``ExporterConfig`` defaults
             for timeout, retries and concurrency; one session per router kept between polls).
             CPU = the worker process's CPU time (user+sys, all threads) over the round.
  exporter   Debian's ``prometheus-snmp-exporter`` scraped on ``/snmp?target=...&module=egov``
             by a keep-alive HTTP client (32 threads). CPU = the exporter's threads' on-CPU time
             (``/proc/PID/task/*/schedstat``); the HTTP client's own CPU is excluded and shown apart.
  pysnmp     pysnmp 7's best layout, the reference issue 8 names: ONE ``bulk_cmd`` carrying
             sysUpTime as a non-repeater plus every column, repeated only for the columns still
             inside their subtree (net-snmp caps an answer at ~100 varbinds, so that is 2 requests
             here); one shared engine, 16 in flight (answers wait in the socket while the loop
             decodes; at 64 in flight a busy host pushes them past the 2 s timeout).

Each variant does a cold round first (engine discovery, key localisation; reported apart), then
``--rounds`` measured rounds; figures are medians with the min-max spread. A further egov worker
polls ``--virtual`` routers (default 1,900: a province) spread round-robin over the N agents, in
one process pinned to one core with taskset: that is a MEASURED full poll of 1,900 sessions, but
only N real agents answer them, so a real province's agents and network latency are not in it.
The "1,900 on 1 core" column is EXTRAPOLATED: CPU per target on N agents x 1,900. Finally egov's
poller is profiled on a separate worker, after the timed rounds: the calls into gufo's Rust core
(send: encode, encrypt, sign, sendto; recv: recvfrom, verify, decrypt, decode) are timed on the
thread's CPU clock, and the rest is split by cProfile between asyncio, gufo's Python wrapper and
egov's own Python (cProfile and pyinstrument both double the poller's CPU here, so their times
are corrected back to the unprofiled run; see ``worker_profile``).

The test bed is built here and removed at the end, also on Ctrl-C or failure: network namespace
``egov-pollbench`` with lo and 4 veth pairs (9 ifTable rows), N Debian snmpd agents on
127.0.1.1..N:161 inside it (own config, persistent dir, pid file and log in a temp dir, random
per-run credentials), and one snmp_exporter on 127.0.0.1:9116 inside it. Timings are printed,
never asserted; a poller that gets wrong or missing answers is flagged in the output.

    sudo .venv/bin/python bench/poll.py [--agents 200] [--rounds 5] [--virtual 1900] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

NS = "egov-pollbench"
EXPORTER_PORT = 9116
EXPORTER_MODULE = "egov"
SCRAPE_THREADS = 32
#: pysnmp decodes ~20-50 ms per answer on the event loop: more in flight and answers wait past the timeout
PYSNMP_IN_FLIGHT = 16
PROVINCE = 1900
VETH_PAIRS = 4
#: ISIS-MIB columns the poller walks (egov.measure.model), with their index depth (for exporter metrics)
ISIS_COLUMNS = {"isisCircIfIndex": ("ISIS_CIRC_IFINDEX", ["isisCircIndex"]),
                "isisISAdjState": ("ISIS_ADJ_STATE", ["isisCircIndex", "isisISAdjIndex"])}


class Refused(Exception):
    """A precondition is missing: one line for the operator, nothing was built."""


# --- the test bed ---------------------------------------------------------------------------------

def die_with_us() -> None:
    """In a child, before exec: the kernel kills it if this script dies, even by SIGKILL."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def sh(*cmd: str) -> None:
    r = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip() or f'exit {r.returncode}'}")


def agent_address(i: int) -> str:
    return f"127.0.1.{i}"


def sched_ns(pid: int) -> int:
    """On-CPU nanoseconds of every thread of a process (finer than the tick counts of /proc/PID/stat)."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return 0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


class PollBed:
    """Namespace, veths, N snmpd agents and one snmp_exporter; ``close()`` removes all of it."""

    def __init__(self, agents: int, work: Path):
        self.n = agents
        self.work = work
        self.user = "pollbench"
        self.auth_key = secrets.token_hex(12)
        self.priv_key = secrets.token_hex(12)
        self.procs: list[subprocess.Popen[bytes]] = []  # agents, then the exporter
        self.exporter: subprocess.Popen[bytes] | None = None
        self._exporter_log: IO[bytes] | None = None
        self.ns_made = False

    # building
    def up(self) -> None:
        sh("ip", "netns", "add", NS)
        self.ns_made = True
        sh("ip", "-n", NS, "link", "set", "lo", "up")
        for i in range(VETH_PAIRS):
            sh("ip", "-n", NS, "link", "add", f"va{i}", "type", "veth", "peer", "name", f"vb{i}")
            sh("ip", "-n", NS, "link", "set", f"va{i}", "up")
            sh("ip", "-n", NS, "link", "set", f"vb{i}", "up")
        for i in range(1, self.n + 1):
            self._start_agent(i)
        self._wait_agents(timeout=60 + self.n * 0.2)
        self._start_exporter()

    def _start_agent(self, i: int) -> None:
        d = self.work / f"agent{i}"
        (d / "persist").mkdir(parents=True)
        conf = d / "snmpd.conf"
        conf.write_text("\n".join([
            f"agentAddress udp:{agent_address(i)}:161",
            f'createUser {self.user} SHA-256 "{self.auth_key}" AES "{self.priv_key}"',
            f"rouser {self.user} priv",
            f"sysName pollbench-{i}",
            "dontLogTCPWrappersConnects yes",
            *[f"interface va{k} 6 {10 ** (9 - k % 2)}" for k in range(VETH_PAIRS)],
            "",
        ]))
        os.chmod(conf, 0o600)
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "MIBS": "",
               "SNMP_PERSISTENT_DIR": str(d / "persist")}
        # -f: stay in the foreground, so the pid is ours from the start (no pidfile race on Ctrl-C);
        # conf + persist/snmpd.conf: engineID and engineBoots survive a restart, as on a real router
        self.procs.append(subprocess.Popen(
            ["ip", "netns", "exec", NS, "/usr/sbin/snmpd", "-f", "-C", "-c", f"{conf},{d}/persist/snmpd.conf",
             "-p", str(d / "snmpd.pid"), "-Lf", str(d / "snmpd.log"),
             "-I", "-smux,mteTrigger,mteTriggerConf"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_us))  # noqa: PLW1509 - the driver has no threads

    @property
    def agent_pids(self) -> list[int]:
        return [p.pid for p in self.procs[: self.n]]

    def _wait_agents(self, timeout: float) -> None:
        want = {f"{''.join(f'{int(b):02X}' for b in reversed(agent_address(i).split('.')))}:00A1"
                for i in range(1, self.n + 1)}
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            dead = [p for p in self.procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"snmpd exited early (rc {dead[0].returncode}); see its -Lf log")
            bound = set()
            with open(f"/proc/{self.procs[0].pid}/net/udp") as f:
                for line in f.readlines()[1:]:
                    bound.add(line.split()[1])
            if want <= bound:
                return
            time.sleep(0.2)
        raise RuntimeError(f"only {len(want & bound)} of {self.n} agents bound UDP 161 in {timeout:.0f} s")

    def _exporter_config(self) -> str:
        from egov.measure import model

        walk = list(model.IF_COLUMNS.values()) + [getattr(model, c) for c, _ in ISIS_COLUMNS.values()]
        metrics: list[dict[str, Any]] = [{"name": "sysUpTime", "oid": model.SYS_UPTIME.rsplit(".", 1)[0],
                                          "type": "gauge", "help": "sysUpTime"}]
        for name, oid in model.IF_COLUMNS.items():
            kind = "DisplayString" if name == "name" else "gauge"
            metrics.append({"name": f"if_{name}", "oid": oid, "type": kind, "help": name,
                            "indexes": [{"labelname": "ifIndex", "type": "gauge"}]})
        for name, (const, idx) in ISIS_COLUMNS.items():
            metrics.append({"name": name, "oid": getattr(model, const), "type": "gauge", "help": name,
                            "indexes": [{"labelname": x, "type": "gauge"} for x in idx]})
        # the old flat module format of snmp_exporter 0.21 (Debian 12); JSON is YAML
        module = {"walk": walk, "get": [model.SYS_UPTIME], "metrics": metrics, "version": 3,
                  "max_repetitions": 25, "retries": 1, "timeout": "2s",
                  "auth": {"username": self.user, "security_level": "authPriv", "password": self.auth_key,
                           "auth_protocol": "SHA256", "priv_protocol": "AES", "priv_password": self.priv_key}}
        path = self.work / "snmp.yml"
        path.write_text(json.dumps({EXPORTER_MODULE: module}, indent=1))
        os.chmod(path, 0o600)
        return str(path)

    def _start_exporter(self) -> None:
        log = self._exporter_log = open(self.work / "exporter.log", "wb")  # noqa: SIM115 - closed in close()
        # `ip netns exec` execs the command, so the pid is the exporter's own
        self.exporter = subprocess.Popen(
            ["ip", "netns", "exec", NS, "prometheus-snmp-exporter",
             f"--config.file={self._exporter_config()}", f"--web.listen-address=127.0.0.1:{EXPORTER_PORT}",
             "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            preexec_fn=die_with_us)  # noqa: PLW1509 - the driver has no threads
        self.procs.append(self.exporter)
        end = time.monotonic() + 20
        while time.monotonic() < end:
            if self.exporter.poll() is not None:
                raise RuntimeError(f"snmp_exporter exited: {(self.work / 'exporter.log').read_text()[-300:]}")
            with open(f"/proc/{self.exporter.pid}/net/tcp") as f:
                if any(f":{EXPORTER_PORT:04X} " in ln and ln.split()[3] == "0A" for ln in f):
                    return
            time.sleep(0.1)
        raise RuntimeError("snmp_exporter did not listen within 20 s")

    # accounting seen from outside the pollers
    def udp_datagrams(self) -> int:
        """UDP datagrams sent in the namespace (requests plus answers)."""
        with open(f"/proc/{self.procs[0].pid}/net/snmp") as f:
            rows = [ln.split() for ln in f if ln.startswith("Udp:")]
        return int(rows[1][rows[0].index("OutDatagrams")])

    def agents_cpu_ns(self) -> int:
        return sum(sched_ns(p) for p in self.agent_pids)

    # removing
    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        end = time.monotonic() + 5
        for p in self.procs:
            try:
                p.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self._exporter_log is not None:
            self._exporter_log.close()
        if self.ns_made:
            # anything still inside our namespace is ours (we made it): a worker killed mid-round, say
            pids = subprocess.run(["ip", "netns", "pids", NS], check=False, capture_output=True, text=True)
            for pid in pids.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            subprocess.run(["ip", "netns", "del", NS], check=False, stderr=subprocess.DEVNULL)
            self.ns_made = False


# --- workers (run inside the namespace, one process per variant) -----------------------------------

def worker_config(bed: PollBed, virtual: int) -> dict[str, Any]:
    return {"agents": [agent_address(i) for i in range(1, bed.n + 1)], "user": bed.user,
            "auth_key": bed.auth_key, "priv_key": bed.priv_key, "virtual": virtual}


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def next_command() -> str:
    return (await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)).strip()


def egov_targets(cfg: dict[str, Any], count: int) -> list[Any]:
    from egov.measure.model import SnmpAuth, Target

    auth = SnmpAuth(version="v3", user=cfg["user"], auth="sha256", auth_key=cfg["auth_key"],
                    priv_key=cfg["priv_key"])
    agents = cfg["agents"]  # router i is answered by agent i mod N
    return [Target(f"r{i:04d}", agents[i % len(agents)], 161, "bench", "bench", (), auth)
            for i in range(count)]


def egov_poller(count: int) -> Any:
    """The poller the way ``egov exporter`` builds it (its config defaults, its fd limit)."""
    from egov.measure.exporter import ExporterConfig
    from egov.measure.snmp import Poller, raise_fd_limit

    cfg = ExporterConfig(profile="pollbench")
    raise_fd_limit(count + 256)
    return Poller(timeout=cfg.timeout, retries=cfg.retries, concurrency=cfg.concurrency)


def egov_check(polls: list[Any]) -> dict[str, Any]:
    return {"ok": sum(p.ok for p in polls), "targets": len(polls),
            "reasons": dict(Counter(p.reason for p in polls if not p.ok)),
            "rows": dict(Counter(len(p.interfaces) for p in polls if p.ok))}


async def worker_egov(cfg: dict[str, Any], count: int) -> None:
    targets = egov_targets(cfg, count)
    poller = egov_poller(count)
    while await next_command() == "round":
        c0, w0 = time.process_time_ns(), time.perf_counter()
        polls = await poller.poll_all(targets)
        c1, w1 = time.process_time_ns(), time.perf_counter()
        emit({"cpu_ns": c1 - c0, "wall_s": w1 - w0, "check": egov_check(polls)})


async def worker_pysnmp(cfg: dict[str, Any]) -> None:
    from pysnmp.hlapi.v3arch.asyncio import (
        USM_AUTH_HMAC192_SHA256,
        USM_PRIV_CFB128_AES,
        ContextData,
        ObjectIdentity,
        ObjectType,
        SnmpEngine,
        UdpTransportTarget,
        UsmUserData,
        bulk_cmd,
    )

    from egov.measure import model

    oids = dict(model.IF_COLUMNS) | {n: getattr(model, c) for n, (c, _) in ISIS_COLUMNS.items()}
    columns = [(n, tuple(int(x) for x in oid.split("."))) for n, oid in oids.items()]
    # as a GETBULK non-repeater, sysUpTime (the object) answers with its successor, sysUpTime.0
    uptime_oid = ObjectType(ObjectIdentity(model.SYS_UPTIME.rsplit(".", 1)[0]))
    user = UsmUserData(cfg["user"], authKey=cfg["auth_key"], privKey=cfg["priv_key"],
                       authProtocol=USM_AUTH_HMAC192_SHA256, privProtocol=USM_PRIV_CFB128_AES)
    ctx = ContextData()
    engine = SnmpEngine()
    hosts = cfg["agents"]
    transports = [await UdpTransportTarget.create((h, 161), timeout=2.0, retries=1) for h in hosts]
    rows: dict[int, int] = {}
    slots = asyncio.Semaphore(PYSNMP_IN_FLIGHT)

    async def poll(k: int) -> dict[str, Any]:
        """One router: sysUpTime + all columns in one GETBULK; continue only the unfinished columns."""
        res: dict[str, Any] = {n: {} for n, _ in columns}
        active = list(range(len(columns)))
        cursor: list[Any] = [ObjectIdentity(".".join(map(str, base))) for _, base in columns]
        first, reps = True, rows.get(k, 24) + 1
        while active:
            vbs = [uptime_oid] if first else []
            vbs += [ObjectType(cursor[i]) for i in active]
            err, status, _, got = await bulk_cmd(engine, user, transports[k], ctx, 1 if first else 0, reps,
                                                 *vbs, lookupMib=False)
            if err or status:
                raise RuntimeError(f"{hosts[k]}: {err or status.prettyPrint()}")
            if first:
                res["sysUpTime"] = int(got[0][1])
                got, first = got[1:], False
            width, done = len(active), set()
            for j, ci in enumerate(active):
                name, base = columns[ci]
                mine = got[j::width]
                for oid, val in mine:
                    o = tuple(oid)
                    if len(o) <= len(base) or o[: len(base)] != base:
                        done.add(ci)
                        break
                    res[name][o[len(base):]] = str(val) if name == "name" else int(val)
                else:
                    if mine:
                        cursor[ci] = ObjectIdentity(str(mine[-1][0]))
                    else:
                        done.add(ci)
            active = [ci for ci in active if ci not in done]
        rows[k] = max(len(v) for n, v in res.items() if n in model.IF_COLUMNS)
        return res

    async def one(k: int) -> dict[str, Any] | str:
        async with slots:
            try:
                return await poll(k)
            except Exception as exc:  # noqa: BLE001 - counted, shown in the check line
                return f"{exc.__class__.__name__}: {str(exc).split(': ', 1)[-1][:50]}"

    while await next_command() == "round":
        c0, w0 = time.process_time_ns(), time.perf_counter()
        out = await asyncio.gather(*(one(k) for k in range(len(hosts))))
        c1, w1 = time.process_time_ns(), time.perf_counter()
        good = [r for r in out if isinstance(r, dict)]
        emit({"cpu_ns": c1 - c0, "wall_s": w1 - w0,
              "check": {"ok": len(good), "targets": len(out),
                        "reasons": dict(Counter(r for r in out if isinstance(r, str))),
                        "rows": dict(Counter(len(r["name"]) for r in good))}})
    engine.close_dispatcher()


def worker_scrape(cfg: dict[str, Any]) -> None:
    """HTTP client of snmp_exporter; its CPU is reported apart and not charged to the exporter."""
    import http.client
    import threading
    from concurrent.futures import ThreadPoolExecutor

    local = threading.local()
    name_line = re.compile(r'^if_name\{ifIndex="\d+",if_name="[^"]*"\} ', re.MULTILINE)

    def scrape(host: str) -> int | str:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", EXPORTER_PORT, timeout=30)
        conn.request("GET", f"/snmp?target={host}&module={EXPORTER_MODULE}")
        r = conn.getresponse()
        body = r.read().decode()
        if r.status != 200 or "\nsysUpTime " not in body:
            return f"HTTP {r.status}"
        return len(name_line.findall(body))

    hosts = cfg["agents"]
    with ThreadPoolExecutor(SCRAPE_THREADS) as pool:
        for line in sys.stdin:
            if line.strip() != "round":
                break
            c0, w0 = time.process_time_ns(), time.perf_counter()
            out = list(pool.map(scrape, hosts))
            c1, w1 = time.process_time_ns(), time.perf_counter()
            good = [r for r in out if isinstance(r, int)]
            emit({"client_cpu_ns": c1 - c0, "wall_s": w1 - w0,
                  "check": {"ok": len(good), "targets": len(out),
                            "reasons": dict(Counter(r for r in out if isinstance(r, str))),
                            "rows": dict(Counter(good))}})


# --- profile of egov's poller --------------------------------------------------------------------

PY_AREAS = ("asyncio event loop (Python)", "epoll syscalls (add/remove reader)", "gufo Python wrapper",
            "egov poller (Python)", "other Python")


def area_of(file: str, func: str) -> str | None:
    """The Python area of a profiled function; None for a C builtin (charged to its callers)."""
    if file == "~":
        return PY_AREAS[1] if "select.epoll" in func else None
    f = file.replace("\\", "/")
    if "/gufo/snmp/" in f:
        return PY_AREAS[2]
    if "/asyncio/" in f or f.endswith("/selectors.py"):
        return PY_AREAS[0]
    if "/egov/measure/" in f:
        return PY_AREAS[3]
    return PY_AREAS[4]


def is_rust(file: str, func: str) -> bool:
    return file == "~" and ("ClientSocket" in func or "gufo.snmp._fast" in func)


def is_wait(file: str, func: str) -> bool:
    return file == "~" and func == "<method 'poll' of 'select.epoll' objects>"


class TimedSocket:
    """Stands in for a gufo session's Rust socket and adds each send_*/recv_* call's thread CPU time."""

    def __init__(self, sock: Any, tally: Counter[str]):
        self._sock = sock
        self._tally = tally

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._sock, name)
        if not name.startswith(("send_", "recv_")):
            return real
        kind = name.split("_", 1)[0]

        def timed(*args: Any) -> Any:
            t0 = time.thread_time_ns()
            try:
                return real(*args)
            finally:
                self._tally[kind] += time.thread_time_ns() - t0
                self._tally[kind + "_calls"] += 1

        return timed


async def worker_profile(cfg: dict[str, Any], rounds: int) -> None:
    """Where egov's CPU goes, on a warmed-up poller (cold round first), each pass ``rounds`` rounds:

    1. plain: the process's CPU per target, nothing attached;
    2. Rust: every call into gufo's Rust socket (send_*: encode, encrypt, sign, sendto; recv_*:
       recvfrom, verify, decrypt, BER decode, Python values) timed with the thread's CPU clock, the
       clock's own cost (calibrated here) taken off each call;
    3. Python: cProfile with its default clock (it doubles the poller's CPU here, as pyinstrument
       at 1 ms does; on a CPU clock it costs 4-5x). Its times only split what is left, plain minus
       Rust, between the Python areas: the wait in epoll is dropped, the wall-clock stretch of a
       busy host is taken off pro rata, and the profiler's own CPU per call (profiled minus plain
       CPU, over the calls it counted) is taken off each function by its call count.
    """
    import cProfile
    import pstats

    count = len(cfg["agents"])
    targets = egov_targets(cfg, count)
    poller = egov_poller(count)
    await poller.poll_all(targets)

    async def timed_rounds() -> int:
        total = 0
        for _ in range(rounds):
            c0 = time.process_time_ns()
            await poller.poll_all(targets)
            total += time.process_time_ns() - c0
        return total

    plain = await timed_rounds()
    tally: Counter[str] = Counter()
    sessions = list(poller._sessions.values())
    for sess in sessions:
        sess._sock = TimedSocket(sess._sock, tally)
    with_timers = await timed_rounds()
    for sess in sessions:
        sess._sock = sess._sock._sock
    prof = cProfile.Profile()
    prof.enable()
    profiled = await timed_rounds()
    prof.disable()

    # the timer's own cost inside each timed interval (a syscall: ~1 us on bare metal, more in a VM)
    cal = statistics.median(-time.thread_time_ns() + time.thread_time_ns() for _ in range(2001))
    rust = {k: max(0, tally[k] - cal * tally[k + "_calls"]) for k in ("send", "recv")}
    rust_cpu = (rust["send"] + rust["recv"]) / 1e9

    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    python = {k: v for k, v in stats.items() if not is_rust(k[0], k[2]) and not is_wait(k[0], k[2])}
    py_calls = sum(v[1] for v in python.values())
    # cProfile's clock is the wall: while the host preempts us, the running function's clock runs on.
    # `stretch` takes that off pro rata; `per_call` is what the profiler itself cost in CPU, per call.
    stretch = sum(v[2] for v in python.values()) / max(1e-9, profiled / 1e9 - rust_cpu)
    per_call = max(0, profiled - plain) / 1e9 / py_calls if py_calls else 0.0
    py_cpu = max(0.0, plain / 1e9 - rust_cpu)
    areas = dict.fromkeys(PY_AREAS, 0.0)
    top = []
    for (file, line, func), (_, ncalls, tt, _, callers) in python.items():
        own = max(0.0, tt / stretch - per_call * ncalls)
        area = area_of(file, func)
        if area is None:  # a C builtin: charge it to its callers' areas, pro rata
            spread = {c: v[2] for c, v in callers.items()} or {("", 0, ""): 1.0}
            total = sum(spread.values()) or 1.0
            for (cf, _, cfn), v in spread.items():
                areas[area_of(cf, cfn) or PY_AREAS[4]] += own * v / total
        else:
            areas[area] += own
        top.append((own, ncalls, func if file == "~" else f"{func} ({short_path(file)}:{line})"))
    norm = py_cpu / (sum(areas.values()) or 1.0)  # what clamping at zero left over, spread pro rata
    unit = 1e3 / (count * rounds)  # seconds in all rounds -> ms per target
    emit({"plain_cpu_ms": plain / 1e6 * unit / 1e3, "with_timers_cpu_ms": with_timers / 1e6 * unit / 1e3,
          "profiled_cpu_ms": profiled / 1e6 * unit / 1e3, "per_call_us": per_call * 1e6, "stretch": stretch,
          "timer_cost_us": cal / 1e3,
          "python_calls_per_target": py_calls / (count * rounds),
          "rust": {"gufo Rust send_*: encode, encrypt, sign, sendto": rust["send"] / 1e9 * unit,
                   "gufo Rust recv_*: recvfrom, verify, decrypt, decode": rust["recv"] / 1e9 * unit},
          "rust_calls_per_target": {k: tally[k + "_calls"] / (count * rounds) for k in ("send", "recv")},
          "areas": {a: v * norm * unit for a, v in areas.items()},
          "top": [{"ms": t * norm * unit, "calls": n / (count * rounds), "where": w}
                  for t, n, w in sorted(top, reverse=True)[:15]]})


def short_path(file: str) -> str:
    """gufo/snmp/aio/client.py, asyncio/tasks.py, egov/measure/snmp.py: enough to find it."""
    m = (re.search(r"site-packages/(.+)$", file) or re.search(r"/lib/python3\.\d+/(.+)$", file)
         or re.search(r"/(egov/.+)$", file))
    return m.group(1) if m else file


def run_worker(kind: str, config: str, rounds: int) -> None:
    cfg = json.loads(Path(config).read_text())
    if kind == "egov":
        asyncio.run(worker_egov(cfg, len(cfg["agents"])))
    elif kind == "egov-virtual":
        asyncio.run(worker_egov(cfg, cfg["virtual"]))
    elif kind == "pysnmp":
        asyncio.run(worker_pysnmp(cfg))
    elif kind == "scrape":
        worker_scrape(cfg)
    elif kind == "profile":
        asyncio.run(worker_profile(cfg, rounds))


# --- the driver ------------------------------------------------------------------------------------

class Worker:
    """A worker process inside the namespace; one JSON line back per ``round`` command."""

    def __init__(self, kind: str, config: Path, work: Path, cpu: int | None = None, rounds: int = 0):
        self.kind = kind
        self.stderr_path = work / f"worker-{kind}.log"
        pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
        self.stderr: IO[bytes] = open(self.stderr_path, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", NS, *pin, sys.executable, os.path.abspath(__file__), "--worker", kind,
             "--config", str(config), "--rounds", str(rounds)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True,
            preexec_fn=die_with_us)  # noqa: PLW1509 - the driver has no threads

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            tail = self.stderr_path.read_text(errors="replace").strip().splitlines()[-5:]
            raise RuntimeError(f"worker {self.kind} died (rc {self.proc.returncode}): " + " | ".join(tail))
        return json.loads(line)

    def round(self) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write("round\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write("stop\n")
                self.proc.stdin.close()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


def measure_round(bed: PollBed, w: Worker) -> dict[str, Any]:
    """One round of one worker, and what the namespace saw meanwhile (datagrams, agents' CPU, exporter's)."""
    u0, a0 = bed.udp_datagrams(), bed.agents_cpu_ns()
    e0 = sched_ns(bed.exporter.pid) if bed.exporter else 0
    r = w.round()
    e1 = sched_ns(bed.exporter.pid) if bed.exporter else 0
    r["udp"] = bed.udp_datagrams() - u0
    r["agents_cpu_ns"] = bed.agents_cpu_ns() - a0
    if w.kind == "scrape":
        r["cpu_ns"] = e1 - e0
    return r


def summarize(label: str, n: int, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    cold, warm = rounds[0], rounds[1:]
    cpu = [r["cpu_ns"] / 1e6 / n for r in warm]
    out: dict[str, Any] = {
        "variant": label, "targets": n, "rounds": len(warm),
        "cpu_ms_per_target": statistics.median(cpu), "cpu_ms_min": min(cpu), "cpu_ms_max": max(cpu),
        "cpu_ms_all": [round(x, 3) for x in cpu],
        "wall_s": statistics.median(r["wall_s"] for r in warm), "wall_s_min": min(r["wall_s"] for r in warm),
        "wall_s_max": max(r["wall_s"] for r in warm),
        "cold_cpu_ms_per_target": cold["cpu_ns"] / 1e6 / n, "cold_wall_s": cold["wall_s"],
        "requests_per_target": statistics.median(r["udp"] for r in warm) / 2 / n,
        "agents_cpu_ms_per_target": statistics.median(r["agents_cpu_ns"] for r in warm) / 1e6 / n,
        "projected_province_cpu_s": statistics.median(cpu) * PROVINCE / 1e3,
        "check": warm[-1]["check"],
    }
    if "client_cpu_ns" in warm[-1]:
        out["http_client_cpu_ms_per_target"] = statistics.median(r["client_cpu_ns"] for r in warm) / 1e6 / n
    return out


def check_line(s: dict[str, Any]) -> str | None:
    """A warning when a poller did not get every answer with all rows (never about timings)."""
    c = s["check"]
    if c["ok"] == c["targets"] and list(c["rows"]) in ([VETH_PAIRS * 2 + 1], [str(VETH_PAIRS * 2 + 1)]):
        return None
    return (f"WARNING {s['variant']}: {c['ok']}/{c['targets']} answered, rows per target {c['rows']}, "
            f"failures {c['reasons']}")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="egov-pollbench-"))
    os.chmod(work, 0o700)
    bed = PollBed(args.agents, work)
    workers: list[Worker] = []
    try:
        load_before = loadavg()
        t0 = time.monotonic()
        bed.up()
        setup_s = time.monotonic() - t0
        config = work / "worker.json"
        config.write_text(json.dumps(worker_config(bed, args.virtual)))
        os.chmod(config, 0o600)
        cpu = args.cpu if args.cpu is not None else (os.cpu_count() or 1) - 1
        specs = [("scrape", "snmp_exporter 0.21 (Debian), HTTP client excluded", None),
                 ("egov", "egov Poller.poll_all (gufo_snmp, per-column GETBULK)", None),
                 ("pysnmp", "pysnmp 7 one multi-column bulk_cmd", None)]
        if args.virtual:
            label = f"egov, {args.virtual} virtual targets on {args.agents} agents, pinned to CPU {cpu}"
            specs.append(("egov-virtual", label, cpu))
        workers = [Worker(kind, config, work, pin) for kind, _, pin in specs]
        results: dict[str, list[dict[str, Any]]] = {kind: [] for kind, _, _ in specs}
        for r in range(args.rounds + 1):
            for w in workers:
                results[w.kind].append(measure_round(bed, w))
            if not args.json:
                print(f"  round {r}/{args.rounds} done{' (cold)' if r == 0 else ''}", file=sys.stderr)
        for w in workers:
            w.close()
        workers = []
        summaries = {kind: summarize(label, args.virtual if kind == "egov-virtual" else args.agents,
                                     results[kind]) for kind, label, _ in specs}
        profile = None
        if args.profile_rounds:
            w = Worker("profile", config, work, rounds=args.profile_rounds)
            workers = [w]
            profile = w.read()
            w.close()
            workers = []
        return {"agents": args.agents, "rounds": args.rounds, "virtual": args.virtual,
                "cpus": os.cpu_count(), "pinned_cpu": cpu, "setup_s": setup_s, "loadavg_before": load_before,
                "loadavg_after": loadavg(), "variants": summaries, "profile": profile}
    finally:
        for w in workers:
            w.close()
        bed.close()
        shutil.rmtree(work, ignore_errors=True)


def print_report(res: dict[str, Any]) -> None:
    v = res["variants"]
    ref = v["scrape"]["cpu_ms_per_target"]
    n = res["agents"]
    rows = VETH_PAIRS * 2 + 1
    print(f"SNMPv3 authPriv (SHA-256/AES-128) polls of sysUpTime + 11 IF-MIB + 2 ISIS-MIB columns; "
          f"{n} snmpd agents ({rows} ifTable rows each);")
    print(f"{res['rounds']} rounds after a cold round; {res['cpus']} CPUs, "
          f"load {res['loadavg_before']} -> {res['loadavg_after']}")
    print()
    hdr = (f"{'variant':<54} {'CPU ms/target':>22} {'x exporter':>10} {f'wall s ({n})':>10} {'req/tgt':>7} "
           f"{'agents ms':>9} {'1,900 on 1 core':>15}")
    print(hdr)
    print("-" * len(hdr))
    for kind in ("scrape", "egov", "pysnmp"):
        s = v[kind]
        spread = f"{s['cpu_ms_per_target']:.2f} ({s['cpu_ms_min']:.2f}-{s['cpu_ms_max']:.2f})"
        print(f"{s['variant']:<54} {spread:>22} {s['cpu_ms_per_target'] / ref:>10.2f} {s['wall_s']:>10.2f} "
              f"{s['requests_per_target']:>7.1f} {s['agents_cpu_ms_per_target']:>9.2f} "
              f"{s['projected_province_cpu_s']:>11.1f} CPU s")
    cold = "; ".join(f"{k} {v[k]['cold_cpu_ms_per_target']:.1f} ms/target, {v[k]['cold_wall_s']:.1f} s"
                     for k in ("scrape", "egov", "pysnmp"))
    print(f"""
  CPU ms/target: median of the rounds (min-max); x exporter: ratio to snmp_exporter's median in this run.
  wall: one round over all {n} agents. req/tgt: SNMP requests per target and round (the namespace's UDP
  counters). agents ms: the snmpd agents' own CPU per target (their side; not in the pollers' figures).
  1,900 on 1 core: EXTRAPOLATED, CPU per target measured on {n} agents x 1,900 = CPU seconds per poll.
  egov: Poller as `egov exporter` builds it (timeout 2 s, 1 retry, 200 in flight). snmp_exporter:
  {SCRAPE_THREADS} scrapes in flight; its HTTP client's {v['scrape']['http_client_cpu_ms_per_target']:.2f} \
ms/target is excluded. pysnmp: {PYSNMP_IN_FLIGHT} in flight.
  cold rounds (discovery, keys): {cold}""")
    if "egov-virtual" in v:
        s = v["egov-virtual"]
        t = s["targets"]
        cpu_s = s["cpu_ms_per_target"] * t / 1e3
        print(f"""
MEASURED: a full poll of {t} virtual routers by one egov Poller pinned to CPU {res['pinned_cpu']} (taskset);
{t} sessions, answered by the {n} real agents (~{t / n:.0f} each):
  wall {s['wall_s']:.2f} s per full poll ({s['wall_s_min']:.2f}-{s['wall_s_max']:.2f}); cold round \
{s['cold_wall_s']:.1f} s
  poller CPU {s['cpu_ms_per_target']:.2f} ms/target ({s['cpu_ms_min']:.2f}-{s['cpu_ms_max']:.2f}) = \
{cpu_s:.1f} CPU s per poll, {100 * cpu_s / s['wall_s']:.0f}% of its core
  the wall includes waiting for the {n} local agents, which spend \
{s['agents_cpu_ms_per_target'] * t / 1e3:.1f} CPU s per poll on the same {res['cpus']} CPUs;
  {t} real routers would each answer on their own CPU, over a real network: that is not measured here.""")
    e = v["egov"]
    virt = v.get("egov-virtual")
    print(f"""
Issue 8 goals (reported, never asserted):
  CPU per target within 3x of snmp_exporter's: egov {e['cpu_ms_per_target'] / ref:.2f}x, \
pysnmp {v['pysnmp']['cpu_ms_per_target'] / ref:.2f}x
  1,900 routers within 60 s on one core: egov {e['projected_province_cpu_s']:.1f} CPU s per poll \
(extrapolated)""" + (f"; {virt['wall_s']:.1f} s wall for {virt['targets']} sessions on {n} agents (measured)"
                     if virt else ""))
    print()
    for kind in v:
        c = v[kind]["check"]
        print(check_line(v[kind]) or f"answers ok: {v[kind]['variant']}: {c['ok']}/{c['targets']} targets, "
              f"{rows} interfaces each")
    p = res.get("profile")
    if p:
        rc = p["rust_calls_per_target"]
        print(f"""
Where egov's poller spends its CPU, per target ({n} targets; {p['plain_cpu_ms']:.2f} ms unprofiled).
Rust calls timed on the thread's CPU clock ({p['with_timers_cpu_ms']:.2f} ms with the timers); the Python \
rest split by
cProfile ({p['profiled_cpu_ms']:.2f} ms under it; {p['python_calls_per_target']:.0f} calls/target, \
~{p['per_call_us']:.1f} us of profiler cost taken off each):""")
        areas = list(p["rust"].items()) + list(p["areas"].items())
        for area, ms in sorted(areas, key=lambda kv: -kv[1]):
            print(f"  {ms:7.3f} ms {100 * ms / p['plain_cpu_ms']:5.1f}%  {area}")
        print(f"  ({rc['send']:.0f} send and {rc['recv']:.0f} recv calls into Rust per target; on loopback, "
              f"sendto also runs the agent's receive path in the kernel)")
        print("top Python functions (own CPU per target, corrected; C builtins by name):")
        for t in p["top"][:12]:
            print(f"  {t['ms']:7.3f} ms {t['calls']:6.1f} calls  {t['where']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=200,
                    help="real snmpd agents on 127.0.1.1..N (default 200, max 254)")
    ap.add_argument("--rounds", type=int, default=5, help="measured rounds per variant, after one cold round")
    ap.add_argument("--virtual", type=int, default=PROVINCE,
                    help="routers of the pinned full-poll run, spread over the agents (0: skip it)")
    ap.add_argument("--cpu", type=int, help="CPU for the pinned run (default: the last one)")
    ap.add_argument("--profile-rounds", type=int, default=2, help="rounds profiled (0: no profile)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        run_worker(args.worker, args.config, args.rounds)
        return
    try:
        preflight(args)
    except Refused as exc:
        sys.exit(f"bench/poll.py: {exc}")

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        res = run(args)
    except KeyboardInterrupt:
        sys.exit("bench/poll.py: interrupted; the test bed is removed")
    except (RuntimeError, OSError) as exc:
        sys.exit(f"bench/poll.py: failed: {exc}; the test bed is removed")
    if args.json:
        print(json.dumps(res, indent=1))
    else:
        print_report(res)


def preflight(args: argparse.Namespace) -> None:
    if os.geteuid() != 0:
        raise Refused("run as root: it creates a network namespace and starts snmpd agents")
    for exe, pkg in (("/usr/sbin/snmpd", "snmpd"), ("prometheus-snmp-exporter", "prometheus-snmp-exporter"),
                     ("ip", "iproute2"), ("taskset", "util-linux")):
        if not shutil.which(exe):
            raise Refused(f"{os.path.basename(exe)} is missing: apt-get install {pkg}")
    try:
        import pysnmp.hlapi.v3arch.asyncio  # noqa: F401

        import egov.measure.snmp  # noqa: F401
    except ImportError as exc:
        raise Refused(f"run it with the project's venv (.venv/bin/python bench/poll.py): {exc}") from None
    if not 1 <= args.agents <= 254:
        raise Refused("--agents must be 1..254 (agents listen on 127.0.1.1..N)")
    if args.rounds < 1:
        raise Refused("--rounds must be at least 1")
    if Path(f"/run/netns/{NS}").exists():
        raise Refused(f"network namespace {NS} exists (another run, or one killed by SIGKILL): if no run is "
                      f"going, `ip netns del {NS}` and remove {tempfile.gettempdir()}/egov-pollbench-*")


if __name__ == "__main__":
    main()

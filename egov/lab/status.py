"""`egov lab status`: routers, daemons, IS-IS adjacencies and BFD sessions against what the plan implies;
hosted services (running, and reachable through their probe port from their vantage router)."""

from __future__ import annotations

import json
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from egov.lab.host import in_router, pid_alive, read_pid, run
from egov.lab.state import LabState

FRR_DAEMONS = ("watchfrr", "zebra", "isisd", "bfdd", "staticd")
_ADJ_RE = re.compile(r"^\s*(\S+)\s+(\S+)\s+(\d)\s+(Up|Initializing|Down)\b", re.M)


@dataclass
class RouterStatus:
    router: str
    ns: bool
    daemons: dict[str, bool] = field(default_factory=dict)
    adjacencies_up: int = 0
    adjacencies_expected: int = 0
    bfd_up: int = 0
    bfd_expected: int = 0
    ssh_port: int = 0
    snmp_port: int = 0
    down_interfaces: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.ns and all(self.daemons.values()) and self.adjacencies_up >= self.adjacencies_expected
                and self.bfd_up >= self.bfd_expected)


@dataclass
class ServiceStatus:
    name: str
    ns: bool
    router: str
    vantage: str
    address4: str | None
    address6: str | None
    port: int
    probe_port: int
    up: bool = False  # its server runs and listens
    reachable: bool = False  # a probe through 127.0.0.1:probe_port, from the vantage router, got its answer

    @property
    def ok(self) -> bool:
        return self.ns and self.up


def probe(port: int, kind: str, path: str, timeout: float = 2.0) -> bool:
    """One probe through the forwarder: HTTP 200 on ``path``, or (tcp) the service's banner line.

    Connecting alone proves nothing here: the forwarder accepts first, then connects from the vantage
    router, and resets the client when that fails.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            if kind == "http":
                s.sendall(f"GET {path} HTTP/1.0\r\nHost: lab\r\n\r\n".encode())
            first = s.makefile("rb").readline(256)
    except OSError:
        return False
    if kind == "http":
        return first.startswith(b"HTTP/") and first.split()[1:2] == [b"200"]
    return bool(first.strip())


def service_status(state: LabState, name: str) -> ServiceStatus:
    from egov.lab.build import service_listening

    sv = state.services[name]
    st = ServiceStatus(name=name, ns=Path(f"/run/netns/{sv.ns}").exists(), router=sv.router, vantage=sv.vantage,
                       address4=sv.address4, address6=sv.address6, port=sv.port, probe_port=sv.probe_port)
    st.up = st.ns and service_listening(sv.pid, sv.port)
    st.reachable = probe(sv.probe_port, sv.kind, sv.path)
    return st


def services_status(state: LabState) -> list[ServiceStatus]:
    return [service_status(state, name) for name in state.services]


def vtysh(state: LabState, host: str, command: str, timeout: float = 15) -> str:
    rs = state.routers[host]
    return run(in_router(host, rs.uts, ["vtysh", "-N", host, "-c", command]), check=False, timeout=timeout).stdout


def router_status(state: LabState, host: str) -> RouterStatus:
    rs = state.routers[host]
    rdir = Path(rs.dir)
    st = RouterStatus(router=host, ns=Path(f"/run/netns/{host}").exists(), ssh_port=rs.ssh_port,
                      snmp_port=rs.snmp_port)
    for d in FRR_DAEMONS:
        pid = read_pid(f"/var/run/frr/{host}/{d}.pid")
        st.daemons[d] = bool(pid and pid_alive(pid))
    for d in ("sshd", "snmpd"):
        pid = read_pid(str(rdir / f"{d}.pid"))
        st.daemons[d] = bool(pid and pid_alive(pid))
    # the plan: one IS-IS adjacency and one BFD session per link end; a router of a lab built bare
    # expects none until the change pipeline has configured IS-IS on it
    ends = [(lk.a_if if lk.a == host else lk.b_if) for lk in state.links if host in (lk.a, lk.b)]
    if not st.ns or not st.daemons.get("isisd"):
        if not state.bare:
            st.adjacencies_expected = st.bfd_expected = len(ends)
        return st
    if not state.bare or "\nrouter isis " in vtysh(state, host, "show running-config"):
        st.adjacencies_expected = st.bfd_expected = len(ends)
    up_ifaces = {m.group(2) for m in _ADJ_RE.finditer(vtysh(state, host, "show isis neighbor"))
                 if m.group(4) == "Up"}
    st.adjacencies_up = len(up_ifaces & set(ends))
    st.down_interfaces = sorted(set(ends) - up_ifaces)
    try:
        peers = json.loads(vtysh(state, host, "show bfd peers json") or "[]")
    except ValueError:
        peers = []
    st.bfd_up = len({p.get("interface") for p in peers if p.get("status") == "up"} & set(ends))
    return st


def lab_status(state: LabState, workers: int = 4) -> list[RouterStatus]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda h: router_status(state, h), state.routers))


def wait_converged(state: LabState, timeout: float) -> tuple[float, list[RouterStatus]]:
    """Poll until every router is ok or ``timeout`` runs out; (seconds waited, last statuses)."""
    t0 = time.monotonic()
    while True:
        statuses = lab_status(state)
        if all(s.ok for s in statuses) or time.monotonic() - t0 > timeout:
            return time.monotonic() - t0, statuses
        time.sleep(1)


def as_json(state: LabState, statuses: list[RouterStatus], services: list[ServiceStatus] | None = None) -> dict:
    services = services or []
    return {
        "profile": state.profile,
        "bare": state.bare,
        "ok": all(s.ok for s in statuses) and all(v.ok for v in services),
        "routers": [dict(asdict(s), ok=s.ok) for s in statuses],
        "services": [dict(asdict(v), ok=v.ok) for v in services],
        "trap_port": state.trap_port,
        "fault_log": str(state.fault_log),
        "ssh_key": str(state.ssh_key),
        "secrets": str(state.secrets_file),
    }

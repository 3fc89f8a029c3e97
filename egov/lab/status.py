"""`egov lab status`: routers, daemons, IS-IS adjacencies and BFD sessions against what the plan implies."""

from __future__ import annotations

import json
import re
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
    # the plan: one IS-IS adjacency and one BFD session per link end (bare labs expect none)
    ends = [(lk.a_if if lk.a == host else lk.b_if) for lk in state.links if host in (lk.a, lk.b)]
    if not state.bare:
        st.adjacencies_expected = st.bfd_expected = len(ends)
    if not st.ns or not st.daemons.get("isisd"):
        return st
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


def as_json(state: LabState, statuses: list[RouterStatus]) -> dict:
    return {
        "profile": state.profile,
        "bare": state.bare,
        "ok": all(s.ok for s in statuses),
        "routers": [dict(asdict(s), ok=s.ok) for s in statuses],
        "fault_log": str(state.fault_log),
        "ssh_key": str(state.ssh_key),
    }

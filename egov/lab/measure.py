"""Measurements on a running lab: failover outage under a silent cut, memory and CPU of its routers."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from egov.lab.faults import link_fault
from egov.lab.host import in_router, run
from egov.lab.state import LabState
from egov.topology.model import Topology


@dataclass
class Failover:
    family: int
    router: str
    cut_interface: str
    cut_peer: str
    outage_s: float
    replies: int
    carried_before: int
    moved_after: int


def _tx(state: LabState, host: str, ifname: str) -> int:
    rs = state.routers[host]
    return int(run(in_router(host, rs.uts, ["cat", f"/sys/class/net/{ifname}/statistics/tx_packets"])).stdout)


def ping_gap(output: str) -> tuple[float, int]:
    """Largest gap between consecutive replies of `ping -D`, and the number of replies."""
    stamps = [float(m) for m in re.findall(r"^\[(\d+\.\d+)\] \d+ bytes from", output, re.M)]
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    return (max(gaps) if gaps else float("inf")), len(stamps)


def failover(state: LabState, topo: Topology, router: str, target: str, family: int,
             seconds: int = 4, settle: float = 3.0) -> Failover:
    """Ping ``target``'s loopback every 10 ms from ``router``'s; silently cut the uplink the flow uses; heal.

    The outage is the largest gap between replies. The cut link is found from its tx counter while the
    ping runs (ECMP hashing decides, not the routing table), so the cut always hits live traffic. It
    starts after ``settle`` seconds of calm: FRR spaces LSP generation and SPF runs 1 s apart, so a cut
    right after another topology change (a heal) is measured with that hold-down added.
    """
    time.sleep(settle)
    node, dst = topo.nodes[router], topo.nodes[target]
    src_if = node.loopback4 if family == 4 else node.loopback6
    dst_if = dst.loopback4 if family == 4 else dst.loopback6
    if src_if is None or dst_if is None:
        raise ValueError(f"{router} or {target} has no IPv{family} loopback")
    src, dst_ip = str(src_if.ip), str(dst_if.ip)
    uplinks = node.uplinks
    rs = state.routers[router]
    out: dict[str, str] = {}

    def pinger() -> None:
        out["ping"] = subprocess.run(
            in_router(router, rs.uts, ["ping", f"-{family}", "-D", "-n", "-i", "0.01", "-w", str(int(seconds)),
                                       "-I", src, dst_ip]), capture_output=True, text=True,
            timeout=seconds + 20).stdout

    t = threading.Thread(target=pinger)
    t.start()
    time.sleep(0.6)
    before = {i.name: _tx(state, router, i.name) for i in uplinks}
    time.sleep(0.4)
    grew = {i.name: _tx(state, router, i.name) - before[i.name] for i in uplinks}
    iface = max(uplinks, key=lambda i: grew[i.name])
    others = [i for i in uplinks if i is not iface]
    link_index = 1 + [i.link for i in uplinks if i.peer == iface.peer].index(iface.link)
    link_fault(state, router, iface.peer, "cut", link_index)
    start_other = sum(_tx(state, router, i.name) for i in others)
    t.join()
    moved = sum(_tx(state, router, i.name) for i in others) - start_other
    link_fault(state, router, iface.peer, "heal", link_index)
    gap, replies = ping_gap(out.get("ping", ""))
    return Failover(family, router, iface.name, iface.peer, gap, replies, grew[iface.name], moved)


def _pss_kb(pid: str) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    m = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else 0


def lab_pids(state: LabState) -> list[str]:
    pids: list[str] = []
    for host in [*state.routers, state.hub, *(sv.ns for sv in state.services.values())]:
        pids += run(["ip", "netns", "pids", host], check=False).stdout.split()
    if state.forwarder_pid:
        pids.append(str(state.forwarder_pid))
    return sorted(set(pids))


def memory_per_router_mb(state: LabState) -> float:
    """Proportional set size of every lab process, per router."""
    return sum(_pss_kb(p) for p in lab_pids(state)) / 1024 / max(1, len(state.routers))


def _cpu_ticks(pids: list[str]) -> int:
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def idle_cpu_percent(state: LabState, seconds: float = 10.0) -> float:
    """CPU used by the lab's processes while nothing happens, in % of one core."""
    pids = lab_pids(state)
    hz = os.sysconf("SC_CLK_TCK")
    a = _cpu_ticks(pids)
    time.sleep(seconds)
    return 100.0 * (_cpu_ticks(pids) - a) / hz / seconds

"""Faults on the lab, each logged with a timestamp (JSON lines) so measurement can be checked against it.

- link down/up: carrier loss, as an unplugged cable (both ends see NO-CARRIER).
- link cut/heal: a silent cut: traffic is dropped in both directions while the carrier stays up, the case
  only BFD catches. Done with a netdev *egress* drop on both ends: an ingress drop would not stop IS-IS,
  whose packet socket sees frames before netfilter ingress.
- node down/up: every daemon of the router stopped (FRR, sshd, snmpd) / started again.
- service down/up: a hosted service's server process stopped / started again (its namespace, address
  and router stay): the service host failing while the backbone is fine.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time
from pathlib import Path

from egov.errors import EgovError
from egov.lab.host import pid_alive, read_pid, run
from egov.lab.state import LabState, LinkState

CUT_TABLE = "egov_cut"


def _log(state: LabState, **event: object) -> dict:
    event = {"ts": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"), "profile": state.profile,
             **event}
    state.fault_log.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(event) + "\n"
    fd = os.open(state.fault_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())  # one write of one line: appends never interleave
    finally:
        os.close(fd)
    return event


def _router(state: LabState, name: str) -> None:
    if name not in state.routers:
        raise EgovError.one("egov lab fault", name, "no such router in the lab",
                            "see `egov lab status` for router names")


def find_link(state: LabState, a: str, b: str, index: int = 1) -> LinkState:
    _router(state, a)
    _router(state, b)
    links = [lk for lk in state.links if {lk.a, lk.b} == {a, b}]
    if not links:
        raise EgovError.one("egov lab fault", f"{a} {b}", "these routers share no link", "name two neighbours")
    if index > len(links):
        raise EgovError.one("egov lab fault", "--index", f"only {len(links)} link(s) join {a} and {b}",
                            f"use --index 1..{len(links)}")
    return links[index - 1]


def link_fault(state: LabState, a: str, b: str, action: str, index: int = 1) -> dict:
    lk = find_link(state, a, b, index)
    ends = ((lk.a, lk.a_if), (lk.b, lk.b_if))
    if action in ("down", "up"):
        run(["ip", "-n", lk.a, "link", "set", lk.a_if, action])
        if action == "up":
            run(["ip", "-n", lk.b, "link", "set", lk.b_if, "up"])
    elif action == "cut":
        for ns, ifname in ends:
            run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=(
                f"table netdev {CUT_TABLE}_{ifname} {{\n chain out {{ type filter hook egress device {ifname} "
                f"priority 0; policy drop; }}\n}}\n"))
    elif action == "heal":
        for ns, ifname in ends:
            run(["ip", "netns", "exec", ns, "nft", "delete", "table", "netdev", f"{CUT_TABLE}_{ifname}"], check=False)
    else:
        raise EgovError.one("egov lab fault link", action, "unknown action", "use down, up, cut or heal")
    return _log(state, kind="link", action=action, a=lk.a, a_if=lk.a_if, b=lk.b, b_if=lk.b_if, link=lk.key)


def stop_router_daemons(state: LabState, host: str, grace: float = 3.0) -> None:
    """Stop every daemon of a router at once (frrinit.sh stops them one by one, ~2 s each).

    watchfrr goes first so it restarts nothing; the others get SIGTERM (zebra then withdraws its
    routes from the kernel, as on a real stop) and SIGKILL after ``grace`` seconds.
    """
    rdir = Path(state.routers[host].dir)
    frr_dir = Path("/var/run/frr") / host
    watchfrr = read_pid(str(frr_dir / "watchfrr.pid"))
    if watchfrr and pid_alive(watchfrr):
        os.kill(watchfrr, signal.SIGKILL)
    pids = [read_pid(str(frr_dir / f"{d}.pid")) for d in ("zebra", "isisd", "bfdd", "staticd")]
    pids += [read_pid(str(rdir / f"{d}.pid")) for d in ("sshd", "snmpd")]
    alive = [p for p in pids if p and pid_alive(p)]
    for p in alive:
        os.kill(p, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if pid_alive(p)]
    for p in alive:
        os.kill(p, signal.SIGKILL)


def node_fault(state: LabState, host: str, action: str) -> dict:
    _router(state, host)
    if action == "down":
        stop_router_daemons(state, host)
    elif action == "up":
        from egov.lab.build import start_router_daemons

        start_router_daemons(state, host)
    else:
        raise EgovError.one("egov lab fault node", action, "unknown action", "use down or up")
    return _log(state, kind="node", action=action, router=host)


def service_fault(state: LabState, name: str, action: str) -> dict:
    from egov.lab.build import start_service, stop_service

    if name not in state.services:
        known = ", ".join(state.services) or "none"
        raise EgovError.one("egov lab fault service", name, f"no such hosted service in the lab (it has: {known})",
                            "name one of the profile's hosted_services")
    if action == "down":
        stop_service(state, name)
    elif action == "up":
        start_service(state, name)
    else:
        raise EgovError.one("egov lab fault service", action, "unknown action", "use down or up")
    sv = state.services[name]
    return _log(state, kind="service", action=action, service=name, router=sv.router, ns=sv.ns)

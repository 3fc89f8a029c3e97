"""What a runbook step can run: diagnosis a machine does faster and more reliably than a person at 3 a.m.

Every action reads the plan and talks to the network only through the capabilities the CLI hands in
(:class:`Tools`): an SNMP poll of one router, show commands over SSH, a service probe, the change
journal and its rollback. So this module knows nothing of the lab or of how devices are reached, and
the tests can hand in real lab endpoints or recorded answers alike.

An action returns ``(ok, one-line detail, data)``; ``ok`` False means the check found a problem (the
run goes on: the next steps say what it means), an exception means the action could not run at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egov.errors import EgovError
from egov.operate.runbooks import Action, RunContext

#: show commands per platform, by what a step asks for
SHOW: dict[str, dict[str, list[str]]] = {
    "frr": {"interface": ["show interface {ifname}"], "isis": ["show isis neighbor"],
            "bfd": ["show bfd peers brief"], "version": ["show version"], "route": ["show ip route"]},
    "vrp": {"interface": ["display interface {ifname}"], "isis": ["display isis peer"],
            "bfd": ["display bfd session all"], "version": ["display version"], "route": ["display ip routing-table"]},
    "comware": {"interface": ["display interface {ifname}"], "isis": ["display isis peer"],
                "bfd": ["display bfd session"], "version": ["display version"],
                "route": ["display ip routing-table"]},
    "ios": {"interface": ["show interfaces {ifname}"], "isis": ["show isis neighbors"],
            "bfd": ["show bfd neighbors"], "version": ["show version"], "route": ["show ip route"]},
    "junos": {"interface": ["show interfaces {ifname} extensive"], "isis": ["show isis adjacency"],
              "bfd": ["show bfd session"], "version": ["show version"], "route": ["show route"]},
}


@dataclass
class Tools:
    """Capabilities the CLI resolves (lab forwarders or real management addresses)."""

    plan: Any  # egov.topology.validate.Plan
    #: SNMP poll of one router now -> egov.measure.model.Poll
    poll: Callable[[str], Any]
    #: show commands on one router over SSH -> {command: output}
    show: Callable[[str, list[str]], dict[str, str]] | None = None
    #: probe one hosted service now -> egov.measure.probes.ProbeResult
    probe: Callable[[str], Any] | None = None
    #: the change journal's last change that touched a router, with its pre-change backup ref
    last_change: Callable[[str], dict[str, Any] | None] | None = None
    #: roll one router back to a backup ref -> (ok, detail)
    rollback: Callable[[str, str], tuple[bool, str]] | None = None
    #: post-checks on one router -> (ok, detail)
    verify: Callable[[str], tuple[bool, str]] | None = None
    #: the cloud plan of a stack (egov.cloud.model.CloudModel), built on demand
    cloud: Callable[[str | None], Any] | None = None
    #: where collected show output is written (one file per router and run)
    out_dir: Path | None = None
    #: utilisation over this share of the capacity is degraded (the profile's sla.bandwidth_threshold)
    threshold: float = 0.8
    #: what a link can carry, bit/s, by link key (the plan's bandwidth, or the lab's shaped rate);
    #: None or absent: the interface's ifHighSpeed
    capacity: Callable[[str], int | None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _tools(ctx: RunContext) -> Tools:
    tools = ctx.facts.get("tools")
    if not isinstance(tools, Tools):
        raise EgovError.one("egov runbook", "tools", "the run has no network access", "run it through egov runbook run")
    return tools


def _need(cap: Any, what: str) -> Any:
    if cap is None:
        raise EgovError.one("egov runbook", what, "not available in this run",
                            "run with --lab, or on a machine that reaches the management network")
    return cap


# --- targets ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LinkEnd:
    router: str
    ifname: str


def resolve_link(plan: Any, target: str) -> tuple[str, LinkEnd, LinkEnd]:
    """``A~B`` (two routers; the first planned link between them) or a link key -> (key, end a, end b)."""
    topo = plan.topology
    for link in topo.links:
        if link.key == target:
            break
    else:
        a, sep, b = target.partition("~")
        if not sep or a not in topo.nodes or b not in topo.nodes:
            raise EgovError.one("--target", target, "is not a link of the plan",
                                "write it as ROUTER~ROUTER (e.g. sn-xa-yt~sn-xa-a) or a link key")
        link = next((lk for lk in topo.links if {lk.a, lk.b} == {a, b}), None)
        if link is None:
            raise EgovError.one("--target", target, f"{a} and {b} have no planned link", "name two neighbours")
    names = {(i.node, i.link): i.name for n in (topo.nodes[link.a], topo.nodes[link.b]) for i in n.interfaces}
    return link.key, LinkEnd(link.a, names[(link.a, link.key)]), LinkEnd(link.b, names[(link.b, link.key)])


def resolve_router(plan: Any, target: str) -> str:
    if target not in plan.topology.nodes:
        raise EgovError.one("--target", target, "is not a router of the plan", "name a router from egov plan show --json")
    return target


def _lower(plan: Any, a: LinkEnd, b: LinkEnd) -> LinkEnd:
    """The end further from the province core: the site that depends on the link."""
    tiers = list(plan.topology.tiers)
    ta, tb = (tiers.index(plan.topology.nodes[e.router].tier) for e in (a, b))
    return a if ta >= tb else b


def _state(p: Any, ifname: str) -> str:
    if not p.ok:
        return f"no SNMP answer ({p.reason or 'error'})"
    i = p.interfaces.get(ifname)
    if i is None:
        return "interface not found"
    isis = (p.isis or {}).get(ifname)
    adj = "" if p.isis is None else (", IS-IS up" if isis else ", IS-IS down")
    return ("up" if i.oper_up else ("admin down" if not i.admin_up else "down")) + adj


def _end_up(p: Any, ifname: str) -> bool:
    i = p.interfaces.get(ifname) if p.ok else None
    return bool(i and i.oper_up and (p.isis is None or (p.isis or {}).get(ifname)))


# --- actions ---------------------------------------------------------------------------------------

def link_state(args: dict[str, Any], ctx: RunContext) -> tuple[bool, str, dict[str, Any]]:
    """Both ends of the link over SNMP: is it down, at which end, and is IS-IS still using it."""
    t = _tools(ctx)
    key, a, b = resolve_link(t.plan, ctx.target)
    polls = {e.router: t.poll(e.router) for e in (a, b)}
    ends = {f"{e.router} {e.ifname}": _state(polls[e.router], e.ifname) for e in (a, b)}
    up = all(_end_up(polls[e.router], e.ifname) for e in (a, b))
    detail = f"link {key}: " + "; ".join(f"{k}: {v}" for k, v in ends.items())
    return up, detail + ("" if up else " -> the link is out of service"), {"link": key, "ends": ends}


def _other_uplinks(plan: Any, site: str, exclude: set[str]) -> list[tuple[str, str, str]]:
    """(interface, peer, link) of the site's uplinks (to a higher tier or the same tier) other than ``exclude``."""
    topo = plan.topology
    tiers = list(topo.tiers)
    mine = tiers.index(topo.nodes[site].tier)
    return [(i.name, i.peer, i.link) for i in topo.nodes[site].interfaces
            if i.link not in exclude and tiers.index(topo.nodes[i.peer].tier) <= mine]


def _rates(t: Tools, router: str, ifname: str, gap: float = 2.0) -> tuple[Any, tuple[float, float] | None]:
    """(in, out) bit/s on an interface from two polls ``gap`` seconds apart (None: no counters)."""
    p1 = t.poll(router)
    time.sleep(gap)
    p2 = t.poll(router)
    i1, i2 = (p.interfaces.get(ifname) if p.ok else None for p in (p1, p2))
    if not (i1 and i2) or p2.at <= p1.at:
        return p2, None
    dt = p2.at - p1.at
    return p2, (max(0.0, (i2.in_octets - i1.in_octets) * 8 / dt), max(0.0, (i2.out_octets - i1.out_octets) * 8 / dt))


def _rate(t: Tools, router: str, ifname: str, gap: float = 2.0) -> tuple[Any, float | None]:
    """In + out bit/s on an interface (None: no counters)."""
    p, r = _rates(t, router, ifname, gap)
    return p, None if r is None else r[0] + r[1]


def other_uplink(args: dict[str, Any], ctx: RunContext) -> tuple[bool, str, dict[str, Any]]:
    """The site behind the fault still has a working uplink, and traffic flows on it.

    For a link: the lower-tier end's other uplinks. For a router: every site below it, each through
    an uplink that does not go to the failed router.
    """
    t = _tools(ctx)
    topo = t.plan.topology
    if ctx.runbook.header.target == "link":
        key, a, b = resolve_link(t.plan, ctx.target)
        sites = [(_lower(t.plan, a, b).router, {key})]
    else:
        failed = resolve_router(t.plan, ctx.target)
        tiers = list(topo.tiers)
        below = [i.peer for i in topo.nodes[failed].interfaces
                 if tiers.index(topo.nodes[i.peer].tier) > tiers.index(topo.nodes[failed].tier)]
        sites = [(s, {i.link for i in topo.nodes[s].interfaces if i.peer == failed}) for s in sorted(set(below))]
        if not sites:
            return True, f"no site hangs below {failed}", {"sites": {}}
    report: dict[str, Any] = {}
    stranded = []
    for site, exclude in sites:
        working = []
        for ifname, peer, _link in _other_uplinks(t.plan, site, exclude):
            p, bps = _rate(t, site, ifname)
            if _end_up(p, ifname):
                working.append({"interface": ifname, "peer": peer, "bps": bps})
        report[site] = working
        if not working:
            stranded.append(site)
    if stranded:
        return False, f"no working uplink left at {', '.join(stranded)}: cut off", {"sites": report}
    parts = []
    for site, working in report.items():
        w = working[0]
        rate = "" if w["bps"] is None else f", carrying {w['bps'] / 1000:.1f} kbit/s"
        parts.append(f"{site} runs on {w['interface']} to {w['peer']} (up, IS-IS up{rate})")
    return True, "; ".join(parts), {"sites": report}


def router_state(args: dict[str, Any], ctx: RunContext) -> tuple[bool, str, dict[str, Any]]:
    """The router over SNMP, and what its neighbours see of it (their adjacency towards it).

    ``expect: forwarding`` (the SNMP runbook) makes "neighbours still see it" the good outcome.
    """
    t = _tools(ctx)
    router = resolve_router(t.plan, ctx.target)
    node = t.plan.topology.nodes[router]
    own = t.poll(router)
    seen = {}
    for i in node.interfaces:
        far = next((j.name for j in t.plan.topology.nodes[i.peer].interfaces if j.link == i.link), None)
        p = t.poll(i.peer)
        seen[i.peer] = bool(far and _end_up(p, far)) if p.ok else None
    up_from = [n for n, v in seen.items() if v]
    lost = [n for n, v in seen.items() if v is False]
    snmp = "answers SNMP" if own.ok else f"no SNMP answer ({own.reason or 'error'})"
    detail = f"{router} {snmp}; neighbours that see it: {', '.join(up_from) or 'none'}"
    if lost:
        detail += f"; lost it: {', '.join(lost)}"
    data = {"snmp": own.ok, "neighbours": seen}
    if args.get("expect") == "forwarding":
        forwarding = bool(up_from)
        return forwarding, detail + ("; it forwards: a management fault, not an outage" if forwarding
                                     else "; it does not forward: an outage, use router-down"), data
    down = not own.ok and not up_from
    return own.ok and not lost, detail + ("; the router is down" if down else ""), data


def impact(args: dict[str, Any], ctx: RunContext) -> tuple[bool, str, dict[str, Any]]:
    """Sites cut off from the province core by the fault (the plan's graph without the failed router)."""
    from egov.measure.faults import Network

    t = _tools(ctx)
    router = resolve_router(t.plan, ctx.target)
    cut = Network.from_topology(t.plan.topology).impact({router}, set())
    sites, services = cut.get("cut_off", []), cut.get("services", [])
    single = cut.get("single_homed", [])
    if not sites and not services:
        more = f"; now on one uplink: {', '.join(single)}" if single else ""
        return True, f"no site is cut off by {router} (every site below it is dual-homed){more}", cut
    lost = ", ".join(sites) + (f"; services lost: {', '.join(services)}" if services else "")
    return False, f"cut off with {router}: {lost}", cut


def collect(args: dict[str, Any], ctx: RunContext) -> tuple[bool, str, dict[str, Any]]:
    """Show output over SSH from the link's ends or the target router, saved for the ticket."""
    t = _tools(ctx)
    show = _need(t.show, "ssh")
    if ctx.runbook.header.target == "link":
        _, a, b = resolve_link(t.plan, ctx.target)
        ends = [a, b] if args.get("at", "ends") == "ends" else [a]
    else:
        r = resolve_router(t.plan, ctx.target)
        ends = [LinkEnd(r, "")]
    saved: dict[str, str] = {}
    failed: list[str] = []
    for e in ends:
        platform = t.plan.topology.nodes[e.router].platform
        table = SHOW.get(platform, SHOW["frr"])
        cmds = [c.format(ifname=e.ifname) for what in args.get("commands", ["version"]) for c in table[what]
                if e.ifname or "{ifname}" not in c]
        try:
            outputs = show(e.router, cmds)
        except EgovError as exc:
            failed.append(f"{e.router}: {exc.problems[0].message}")
            continue
        text = "".join(f"### {c}\n{o.rstrip()}\n\n" for c, o in outputs.items())
        if t.out_dir is not None:
            t.out_dir.mkdir(parents=True, exist_ok=True)
            path = t.out_dir / f"{e.router}.txt"
            path.write_text(text)
            saved[e.router] = str(path)
        else:
            saved[e.router] = f"{len(text.splitlines())} lines"
    if failed:
        return False, "; ".join(failed), {"saved": saved}
    lines = ", ".join(f"{r}: {p}" for r, p in saved.items())
    return True, f"collected {sum(len(args.get('commands', [])) for _ in ends)} show command(s): {lines}", {"saved": saved}


def utilisation(args: dict[str, Any], ctx: RunContext) -> tuple[bool, str, dict[str, Any]]:
    """Bits per second through each end of the link against its speed and the plan's threshold."""
    t = _tools(ctx)
    key, a, b = resolve_link(t.plan, ctx.target)
    worst = 0.0
    ends: dict[str, dict[str, float] | None] = {}
    planned = t.capacity(key) if t.capacity else None
    for e in (a, b):
        p, rates = _rates(t, e.router, e.ifname, gap=float(args.get("gap", 3.0)))
        i = p.interfaces.get(e.ifname) if p.ok else None
        capacity = planned or (i.speed_bps if i else 0)
        if rates is None or not capacity:
            ends[e.router] = None
            continue
        bps = max(rates)  # the busier direction: each direction of a full-duplex link has the capacity
        share = bps / capacity
        worst = max(worst, share)
        ends[e.router] = {"bps": bps, "speed_bps": capacity, "share": share}
    if all(v is None for v in ends.values()):
        return False, f"link {key}: no counters from either end", {"ends": ends}
    parts = [f"{r}: {v['bps'] / 1e6:.2f} of {v['speed_bps'] / 1e6:.0f} Mbit/s ({v['share']:.1%})"
             for r, v in ends.items() if v is not None]
    over = worst > t.threshold
    return not over, f"link {key}: " + "; ".join(parts) + (f" -> over the {t.threshold:.0%} threshold" if over
                                                              else f" (threshold {t.threshold:.0%})"), {"ends": ends}


def last_change(args: dict[str, Any], ctx: RunContext) -> tuple[bool, str, dict[str, Any]]:
    t = _tools(ctx)
    router = resolve_router(t.plan, ctx.target)
    last = _need(t.last_change, "journal")(router)
    if last is None:
        return False, f"no change in the journal touched {router}", {}
    ctx.facts["last_change"] = last
    ok = last["status"] in ("ok", "changed")
    ref = last.get("backup") or "(no pre-change backup)"
    return ok, (f"change {last['change_id']} ({last['action']} by {last['who']}, {last['started']}): "
                f"{router} ended {last['status']}{(': ' + last['error']) if last.get('error') else ''}; "
                f"backup before it {ref[:10]}"), last


def rollback_last_change(args: dict[str, Any], ctx: RunContext) -> tuple[bool, str, dict[str, Any]]:
    """Back to the pre-change backup of the last change (commit-confirm; the runbook verifies next)."""
    t = _tools(ctx)
    router = resolve_router(t.plan, ctx.target)
    last = ctx.facts.get("last_change") or _need(t.last_change, "journal")(router)
    if not last or not last.get("backup"):
        raise EgovError.one("egov runbook", "rollback", f"no pre-change backup of {router} in the journal",
                            "roll back by hand with egov change rollback --to REF")
    ok, detail = _need(t.rollback, "rollback")(router, last["backup"])
    return ok, detail, {"ref": last["backup"]}


def verify(args: dict[str, Any], ctx: RunContext) -> tuple[bool, str, dict[str, Any]]:
    t = _tools(ctx)
    ok, detail = _need(t.verify, "verify")(resolve_router(t.plan, ctx.target))
    return ok, detail, {}


def snmp_check(args: dict[str, Any], ctx: RunContext) -> tuple[bool, str, dict[str, Any]]:
    t = _tools(ctx)
    router = resolve_router(t.plan, ctx.target)
    p = t.poll(router)
    if p.ok:
        return True, f"{router} answers SNMP in {p.duration * 1000:.0f} ms (uptime {p.uptime_ticks or 0} ticks)", {}
    return False, f"{router}: {p.reason or 'error'}: {p.detail or 'no answer'}", {"reason": p.reason}


def service_probe(args: dict[str, Any], ctx: RunContext) -> tuple[bool, str, dict[str, Any]]:
    t = _tools(ctx)
    probe = _need(t.probe, "probe")
    tries = int(args.get("tries", 3))
    results = []
    for n in range(tries):
        r = probe(ctx.target)
        results.append(r)
        if r.ok:
            break
        if n + 1 < tries:
            time.sleep(1.0)
    last = results[-1]
    if last.ok:
        return True, f"{ctx.target} answers ({last.detail}) after {len(results)} tr{'y' if len(results) == 1 else 'ies'}", {}
    return False, f"{ctx.target} does not answer after {tries} tries: {last.detail}", {"detail": last.detail}


def service_path(args: dict[str, Any], ctx: RunContext) -> tuple[bool, str, dict[str, Any]]:
    """The service's router answers and its service LAN interface is up: the backbone is not the cause."""
    t = _tools(ctx)
    lan = next((v for v in t.plan.topology.services if v.service == ctx.target), None)
    if lan is None:
        raise EgovError.one("--target", ctx.target, "is not a hosted service of the plan",
                            "name one of the profile's hosted services")
    p = t.poll(lan.node)
    if not p.ok:
        return False, f"its router {lan.node} does not answer SNMP ({p.reason}): see router-down", {}
    i = p.interfaces.get(lan.name)
    if i is None or not i.oper_up:
        return False, f"{lan.node} {lan.name} (the service LAN) is down: the LAN or the host's NIC", {}
    return True, f"{lan.node} answers and {lan.name} (service LAN) is up: the service itself failed", {}


def dr_plan(args: dict[str, Any], ctx: RunContext) -> tuple[bool, str, dict[str, Any]]:
    """The system's GB/T 20988 level, its RPO/RTO and where its copies are (same city first)."""
    from egov.cloud import gbt20988
    from egov.cloud.dr import standby_entry

    t = _tools(ctx)
    model = _need(t.cloud, "cloud plan")(args.get("stack"))
    p = next((x for x in model.placements if x.id == ctx.target), None)
    if p is None:
        raise EgovError.one("--target", ctx.target, "is not a system of the cloud plan",
                            "name a system id from the stack's catalogue (egov cloud plan --json)")
    entry = gbt20988.manifest_entry(p.level.level)
    copies = [standby_entry(model, p, r) for r in p.standby]
    copies.sort(key=lambda c: 0 if c["centre"] == "same_city" else 1)
    if not copies:
        return False, (f"{p.id} (level {p.level.level}) has no standby copy: restore from backup "
                       f"(RPO {entry.get('rpo', '?')}, RTO {entry.get('rto', '?')})"), {"copies": []}
    first = copies[0]
    return True, (f"{p.id} level {p.level.level} (RPO {entry.get('rpo', '?')}, RTO {entry.get('rto', '?')}): "
                  f"switch to {first['region']} ({str(first['centre']).replace('_', '-')} centre, {first['city']}), "
                  f"standby {first['kind']}" + (f" {first['power']}" if first.get("power") else "")), {"copies": copies}


ACTIONS: dict[str, Action] = {
    "link_state": link_state, "other_uplink": other_uplink, "router_state": router_state, "impact": impact,
    "collect": collect, "utilisation": utilisation, "last_change": last_change,
    "rollback_last_change": rollback_last_change, "verify": verify, "snmp_check": snmp_check,
    "service_probe": service_probe, "service_path": service_path, "dr_plan": dr_plan,
}

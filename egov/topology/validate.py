"""Check an expanded plan against the rules of the backbone; report every violation at once.

The rules come from the plans: every router dual-homed, every link at least its
tier's bandwidth, IPv4/IPv6 dual stack everywhere, address pools that neither
overlap nor run out, names that are unique, platforms we can render.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from egov.errors import Problem
from egov.plan.load import LoadedProfile, load_profile
from egov.plan.schema import Profile, format_bandwidth
from egov.platforms import PLATFORMS
from egov.topology.addressing import Allocation, allocate, read_lock
from egov.topology.expand import expand
from egov.topology.model import Topology

#: field path -> "file:line" (LoadedProfile.where, cached)
Where = Callable[[str], str]


@dataclass(slots=True)
class Plan:
    """A profile expanded, addressed and checked."""

    loaded: LoadedProfile
    topology: Topology
    allocation: Allocation
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


def check(loaded: LoadedProfile, topo: Topology) -> list[Problem]:
    """Rules that need the whole addressed topology."""
    where = cache(loaded.where)
    prof = loaded.profile
    return (_check_nodes(prof, topo, where) + _check_links(topo, where) + _check_pools(prof, where)
            + _check_frr(topo, where))


def _check_nodes(prof: Profile, topo: Topology, where: Where) -> list[Problem]:
    """Known platforms, dual homing, dual stack on loopbacks and interfaces."""
    out: list[Problem] = []
    known = ", ".join(PLATFORMS)
    for name, tier in prof.tiers.items():
        if tier.platform not in PLATFORMS:
            out.append(Problem(where(f"tiers.{name}.platform"), f"tiers.{name}.platform",
                               f"unknown platform {tier.platform!r}", f"use one of: {known}"))
    bad_site_platforms: set[str] = set()
    for node in topo.nodes.values():
        tier = prof.tiers[node.tier]
        if node.platform not in PLATFORMS and node.platform != tier.platform and node.source not in bad_site_platforms:
            bad_site_platforms.add(node.source)
            out.append(Problem(where(node.source), f"{node.source}.platform",
                               f"unknown platform {node.platform!r}", f"use one of: {known}"))
        if node.uplinks_wanted or tier.parent is not None:
            n_up = len(node.uplinks)
            if n_up < 2:
                out.append(Problem(where(node.source), f"{node.source}.uplinks",
                                   f"{node.hostname} has {n_up} uplink{'s' if n_up != 1 else ''}; every router "
                                   "must be dual-homed", "set uplinks: 2 (or remove the override)"))
        if node.loopback6 is None and prof.pools.loopback.ipv6:
            out.append(Problem(where(node.source), f"{node.source}.ipv6",
                               f"{node.hostname} loopback has no IPv6", "set ipv6: true; the extranet is dual-stack"))
        for iface in node.interfaces:
            if iface.ipv6 is None and prof.pools.p2p.ipv6 and iface.role != "downlink":
                out.append(Problem(where(node.source), f"{node.source}.ipv6",
                                   f"{node.hostname} {iface.name} (to {iface.peer}) has no IPv6",
                                   "set ipv6: true; every interface must be dual-stack"))
    return out


def _check_links(topo: Topology, where: Where) -> list[Problem]:
    out: list[Problem] = []
    for link in topo.links:
        if link.bandwidth_bps < link.required_bps:
            b = topo.nodes[link.b]
            out.append(Problem(where(b.source), f"{b.source}.bandwidth",
                               f"link {link.key} is {format_bandwidth(link.bandwidth_bps)}, below tier "
                               f"{link.tier}'s {format_bandwidth(link.required_bps)}",
                               f"raise it to at least {format_bandwidth(link.required_bps)} or remove the override"))
    return out


def _check_pools(prof: Profile, where: Where) -> list[Problem]:
    """Both families in every pool; no prefix overlapping another (any pool)."""
    out: list[Problem] = []
    for fam, key in ((4, "ipv4"), (6, "ipv6")):
        for kind in ("loopback", "p2p", "mgmt"):
            if not getattr(getattr(prof.pools, kind), key):
                out.append(Problem(where("pools." + kind), f"pools.{kind}.{key}",
                                   f"no IPv{fam} pool: routers get no IPv{fam} {kind} addresses",
                                   f"add a prefix to pools.{kind}.{key}; the extranet is dual-stack"))
    nets = [(f"pools.{kind}.{key}", n) for kind in ("loopback", "p2p", "mgmt") for key in ("ipv4", "ipv6")
            for n in getattr(getattr(prof.pools, kind), key)]
    for i, (fa, na) in enumerate(nets):
        for fb, nb in nets[i + 1:]:
            if na.version == nb.version and na.overlaps(nb):
                out.append(Problem(where(fb), fb, f"{nb} overlaps {na} in {fa}",
                                   "give each pool its own, non-overlapping prefix"))
    return out


def _check_frr(topo: Topology, where: Where) -> list[Problem]:
    """Limits of Linux and FRR 8.4 on FRR routers."""
    out: list[Problem] = []
    for node in topo.nodes.values():
        if node.platform != "frr":
            continue
        long = [i.name for i in node.interfaces if len(i.name) > 15]
        if long:
            out.append(Problem(where(node.source), f"{node.source}.platform",
                               f"{node.hostname}: Linux interface names over 15 characters ({long[0]})",
                               "use shorter port names for platform frr"))
        if len(node.hostname) > 27:
            out.append(Problem(where(node.source), f"{node.source}.id",
                               f"{node.hostname} is over 27 characters, too long for net-snmp's engineID",
                               "shorten the site ids on its path"))
        if node.isis_level == "level-1-2" and any(i.isis_circuit == "level-1" for i in node.interfaces):
            out.append(Problem(where(f"tiers.{node.tier}.isis_level"), f"tiers.{node.tier}.isis_level",
                               f"{node.hostname} runs FRR 8.4 as a level-1/level-2 border, and FRR 8.4 does not "
                               "leak level-1 routes into level 2 (its level-1 routers become unreachable)",
                               "use another platform for level-1/2 border routers, or one IS-IS level"))
    return out


def check_text(loaded: LoadedProfile, topo: Topology) -> list[Problem]:
    """Free text must land intact on every platform it reaches (charset, CLI characters, length)."""
    out: list[Problem] = []
    used = sorted({n.platform for n in topo.nodes.values() if n.platform in PLATFORMS})
    snmp = loaded.profile.services.snmp
    for key in ("location", "contact"):
        value = getattr(snmp, key)
        for name in used:
            why = PLATFORMS[name].text_problem("snmp", value) if value else None
            if why:
                out.append(Problem(loaded.where(f"services.snmp.{key}"), f"services.snmp.{key}", why,
                                   "shorten it or remove those characters"))
                break
    seen: set[tuple[str, str]] = set()
    for node in topo.nodes.values():
        p = PLATFORMS.get(node.platform)
        if p is None or (node.source, p.name) in seen:
            continue
        seen.add((node.source, p.name))
        why = p.text_problem("comment", node.site_name)
        if why:
            out.append(Problem(loaded.where(node.source + ".name"), node.source + ".name", why,
                               "shorten it or remove those characters"))
    return out


def check_mgmt(loaded: LoadedProfile, topo: Topology) -> list[Problem]:
    """The management network: gateways inside their pool, a VRF where the platform needs one."""
    mgmt = loaded.profile.pools.mgmt
    out: list[Problem] = []
    for key, gw, nets in (("gateway4", mgmt.gateway4, mgmt.ipv4), ("gateway6", mgmt.gateway6, mgmt.ipv6)):
        if gw is None:
            continue
        net = next((n for n in nets if gw in n), None)
        field = f"pools.mgmt.{key}"
        if net is None:
            out.append(Problem(loaded.where(field), field, f"{gw} is outside pools.mgmt.ipv{key[-1]} "
                               f"({', '.join(map(str, nets)) or 'empty'}): routers could not reach it",
                               "give a gateway inside the management prefix"))
        elif net.prefixlen < net.max_prefixlen - 1 and (
                gw == net.network_address or (gw.version == 4 and gw == net.broadcast_address)):
            what = "network" if gw == net.network_address else "broadcast"
            out.append(Problem(loaded.where(field), field, f"{gw} is the {what} address of {net}",
                               "give a host address of the management prefix"))
    if mgmt.vrf is None:
        vendors = sorted({n.platform for n in topo.nodes.values() if n.platform in PLATFORMS} - {"frr"})
        if vendors:
            out.append(Problem(loaded.where("pools.mgmt.vrf"), "pools.mgmt.vrf",
                               f"{', '.join(vendors)} routers keep management in a VRF, and none is set",
                               "set pools.mgmt.vrf (e.g. MGMT); only an all-FRR plan may use null"))
    return out


def build_plan(ref: str) -> Plan:
    """Load, expand, allocate and check one profile. Writes nothing."""
    loaded = load_profile(ref)
    topo, problems = expand(loaded)
    alloc = allocate(loaded, topo, read_lock(loaded.lock_path))
    problems += alloc.problems
    problems += check(loaded, topo) + check_text(loaded, topo) + check_mgmt(loaded, topo)
    return Plan(loaded=loaded, topology=topo, allocation=alloc, problems=problems)

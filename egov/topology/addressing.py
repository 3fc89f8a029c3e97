"""Stable address and port allocation, recorded in a lock file beside the profile.

Like a package lock: what the lock records is kept (claimed first), and only
new routers and links get fresh allocations, lowest free block first, in plan
order. Adding, removing or reordering sites never moves an existing address or
port. Entries of sites that left the plan are released when the lock is
rewritten. The lock is written atomically, one line per router and per link,
so its git diff reads like the change.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any

from egov.atomic import write_atomic
from egov.errors import EgovError, Problem
from egov.plan.load import LoadedProfile, display_path
from egov.platforms import PLATFORMS
from egov.topology.expand import circuit_level
from egov.topology.model import Interface, Topology

LOCK_VERSION = 1
IPNet = IPv4Network | IPv6Network


class Pool:
    """Blocks of one size carved from a list of prefixes, lowest first."""

    def __init__(self, field_name: str, nets: list[IPNet], prefixlen: int, hosts: bool = False,
                 reserved: set[int] | None = None):
        self.field = field_name
        self.nets = nets
        self.prefixlen = prefixlen
        self.hosts = hosts
        self.used: set[int] = set(reserved or ())
        self.short = 0
        self._cursor = (0, 0)
        self.version = nets[0].version if nets else 0
        self.bits = 32 if self.version == 4 else 128
        self.step = 1 << (self.bits - prefixlen)
        self._ranges = [(int(n.network_address), int(n.broadcast_address), n) for n in nets]

    def owner(self, value: int) -> IPNet | None:
        for lo, hi, n in self._ranges:
            if lo <= value <= hi:
                return n
        return None

    def claim(self, value: int) -> bool:
        if value in self.used:
            return False
        self.used.add(value)
        return True

    def allocate(self) -> tuple[int, IPNet] | None:
        ranges = self._ranges
        ni, off = self._cursor
        while ni < len(ranges):
            lo, hi, net = ranges[ni]
            first = lo + (1 if self.hosts and net.prefixlen < self.bits - 1 else 0)
            last = hi - (1 if self.hosts and self.version == 4 and net.prefixlen < 31 else 0)
            value = max(first, lo + off)
            while value <= last:
                if value not in self.used and (value - lo) % self.step == 0:
                    self.used.add(value)
                    self._cursor = (ni, value - lo + self.step)
                    return value, net
                value += self.step
            ni, off = ni + 1, 0
        self.short += 1
        return None


@dataclass(slots=True)
class Allocation:
    lock: dict[str, Any]
    changed: bool
    added: int = 0
    released: int = 0
    problems: list[Problem] = field(default_factory=list)


def read_lock(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"version": LOCK_VERSION, "nodes": {}, "links": {}}
    shown = display_path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EgovError.one(shown, "", f"malformed lock file ({exc.__class__.__name__})",
                            "restore it from git (deleting it renumbers every router)") from None
    if not isinstance(data, dict) or data.get("version") != LOCK_VERSION \
            or not isinstance(data.get("nodes"), dict) or not isinstance(data.get("links"), dict):
        raise EgovError.one(shown, "version", f"not a version {LOCK_VERSION} lock file",
                            "restore it from git (deleting it renumbers every router)")
    return data


def dump_lock(lock: dict[str, Any]) -> str:
    """One line per router and per link: readable diffs, quick to parse."""
    def section(name: str) -> str:
        items = lock[name]
        rows = [f" {json.dumps(k)}: {json.dumps(items[k], sort_keys=True)}" for k in sorted(items)]
        return f'"{name}": {{\n' + ",\n".join(rows) + ("\n" if rows else "") + "}"
    return (f'{{"version": {lock["version"]}, "profile": {json.dumps(lock.get("profile", ""))},\n'
            + section("nodes") + ",\n" + section("links") + "\n}\n")


def write_lock(path: Path, lock: dict[str, Any]) -> None:
    write_atomic(path, dump_lock(lock))


def allocate(loaded: LoadedProfile, topo: Topology, old: dict[str, Any]) -> Allocation:
    """Fill addresses and ports into ``topo`` (in place) from ``old`` lock plus fresh allocations."""
    prof = loaded.profile
    pools_cfg = prof.pools
    file = loaded.shown
    lock_file = display_path(loaded.lock_path)
    problems: list[Problem] = []
    mgmt_reserved = {int(a) for a in pools_cfg.mgmt.reserved}
    for gw in (pools_cfg.mgmt.gateway4, pools_cfg.mgmt.gateway6):
        if gw is not None:
            mgmt_reserved.add(int(gw))
    pools = {
        "loopback4": Pool("pools.loopback.ipv4", list(pools_cfg.loopback.ipv4), 32, hosts=True),
        "loopback6": Pool("pools.loopback.ipv6", list(pools_cfg.loopback.ipv6), 128, hosts=True),
        "mgmt4": Pool("pools.mgmt.ipv4", list(pools_cfg.mgmt.ipv4), 32, hosts=True, reserved=mgmt_reserved),
        "mgmt6": Pool("pools.mgmt.ipv6", list(pools_cfg.mgmt.ipv6), 128, hosts=True, reserved=mgmt_reserved),
        "p2p4": Pool("pools.p2p.ipv4", list(pools_cfg.p2p.ipv4), 31),
        "p2p6": Pool("pools.p2p.ipv6", list(pools_cfg.p2p.ipv6), pools_cfg.p2p.ipv6_prefixlen),
    }
    old_nodes: dict[str, Any] = old.get("nodes", {})
    old_links: dict[str, Any] = old.get("links", {})
    new_nodes: dict[str, dict[str, Any]] = {}
    new_links: dict[str, dict[str, Any]] = {}
    added = 0

    def locked(pool: Pool, kind: str, owner: str, text: Any, plen_from_pool: bool) -> tuple[int, IPNet] | None:
        try:
            iface = ipaddress.ip_interface(text)
        except ValueError:
            problems.append(Problem(lock_file, f"{owner}.{kind}", f"{text!r} is not an address",
                                    "restore the lock from git"))
            return None
        value = int(iface.ip) if plen_from_pool else int(iface.network.network_address)
        net = pool.owner(value) if pool.version == iface.version else None
        if net is None:
            problems.append(Problem(lock_file, f"{owner}.{kind}",
                                    f"{text} is outside {pool.field} of {file}",
                                    f"add its prefix back to {pool.field}, or delete the entry to renumber it"))
            return None
        if not pool.claim(value):
            problems.append(Problem(lock_file, f"{owner}.{kind}", f"{text} is locked twice",
                                    "delete one of the two entries to renumber it"))
            return None
        return value, net

    # pass 1: keep everything the lock already records
    node_vals: dict[str, dict[str, tuple[int, IPNet]]] = {}
    for host, node in topo.nodes.items():
        rec = old_nodes.get(host, {})
        vals: dict[str, tuple[int, IPNet]] = {}
        for kind in ("loopback4", "loopback6", "mgmt4", "mgmt6"):
            if kind in rec and (kind[-1] == "4" or node.ipv6_wanted):
                got = locked(pools[kind], kind, host, rec[kind], kind.startswith("mgmt"))
                if got:
                    vals[kind] = got
        node_vals[host] = vals
    link_vals: dict[str, dict[str, tuple[int, IPNet]]] = {}
    for link in topo.links:
        rec = old_links.get(link.key, {})
        vals = {}
        for kind, pool in (("ipv4", pools["p2p4"]), ("ipv6", pools["p2p6"])):
            if kind in rec and (kind == "ipv4" or link.ipv6_wanted):
                if kind == "ipv6" and ipaddress.ip_network(rec[kind], strict=False).prefixlen != pool.prefixlen:
                    continue  # p2p prefix length changed on purpose: renumber this family
                got = locked(pool, kind, link.key, rec[kind], False)
                if got:
                    vals[kind] = got
        link_vals[link.key] = vals

    # pass 2: fresh allocations, in plan order
    for host, node in topo.nodes.items():
        vals = node_vals[host]
        for kind in ("loopback4", "loopback6", "mgmt4", "mgmt6"):
            if kind in vals or not pools[kind].nets or (kind[-1] == "6" and not node.ipv6_wanted):
                continue
            got = pools[kind].allocate()
            if got:
                vals[kind] = got
                added += 1
    for link in topo.links:
        vals = link_vals[link.key]
        for kind, pool in (("ipv4", pools["p2p4"]), ("ipv6", pools["p2p6"])):
            if kind in vals or not pool.nets or (kind == "ipv6" and not link.ipv6_wanted):
                continue
            got = pool.allocate()
            if got:
                vals[kind] = got
                added += 1
    for pool in pools.values():
        if pool.short:
            problems.append(Problem(file, pool.field, f"pool exhausted: {pool.short} more /{pool.prefixlen} needed",
                                    f"add a prefix to {pool.field}"))

    # ports: locked ones first, then the lowest free port on each router
    ports_used: dict[str, set[int]] = {h: set() for h in topo.nodes}
    ports: dict[tuple[str, str], int] = {}
    for link in topo.links:
        for host in (link.a, link.b):
            p = old_nodes.get(host, {}).get("ports", {}).get(link.key)
            if isinstance(p, int) and p > 0 and p not in ports_used[host]:
                ports_used[host].add(p)
                ports[(host, link.key)] = p
    next_free = {h: 1 for h in topo.nodes}
    for link in topo.links:
        for host in (link.a, link.b):
            if (host, link.key) not in ports:
                p = next_free[host]
                while p in ports_used[host]:
                    p += 1
                ports_used[host].add(p)
                next_free[host] = p + 1
                ports[(host, link.key)] = p
                added += 1

    # write the values into the topology and build interfaces
    for host, node in topo.nodes.items():
        vals = node_vals[host]
        rec: dict[str, Any] = {}
        for kind in ("loopback4", "loopback6", "mgmt4", "mgmt6"):
            if kind in vals:
                value, net = vals[kind]
                plen = net.prefixlen if kind.startswith("mgmt") else pools[kind].prefixlen
                iface = ipaddress.ip_interface((value, plen))
                setattr(node, kind, iface)
                rec[kind] = str(iface)
        rec["ports"] = {}
        node.interfaces = []
        new_nodes[host] = rec
    for link in topo.links:
        vals = link_vals[link.key]
        rec = {}
        if "ipv4" in vals:
            link.ipv4 = ipaddress.IPv4Network((vals["ipv4"][0], 31))
            rec["ipv4"] = str(link.ipv4)
        if "ipv6" in vals:
            link.ipv6 = ipaddress.IPv6Network((vals["ipv6"][0], pools["p2p6"].prefixlen))
            rec["ipv6"] = str(link.ipv6)
        new_links[link.key] = rec
        link.a_port, link.b_port = ports[(link.a, link.key)], ports[(link.b, link.key)]
        new_nodes[link.a]["ports"][link.key] = link.a_port
        new_nodes[link.b]["ports"][link.key] = link.b_port
        _attach(topo, link)
    for node in topo.nodes.values():
        node.interfaces.sort(key=lambda i: i.port)

    lock = {"version": LOCK_VERSION, "profile": prof.name, "nodes": new_nodes, "links": new_links}
    released = sum(1 for h in old_nodes if h not in new_nodes) + sum(1 for k in old_links if k not in new_links)
    changed = lock["nodes"] != old_nodes or lock["links"] != old_links or old.get("profile") != prof.name
    return Allocation(lock=lock, changed=changed, added=added, released=released, problems=problems)


def _attach(topo: Topology, link: Any) -> None:
    """Create both interfaces of a link. The upstream end takes the first address of each prefix."""
    na, nb = topo.nodes[link.a], topo.nodes[link.b]
    pa, pb = PLATFORMS.get(na.platform), PLATFORMS.get(nb.platform)
    name_a = pa.port_name(link.a_port) if pa else f"port{link.a_port}"
    name_b = pb.port_name(link.b_port) if pb else f"port{link.b_port}"
    circuit = circuit_level(na, nb)
    v4a = v4b = v6a = v6b = None
    if link.ipv4 is not None:
        base = link.ipv4.network_address
        v4a, v4b = ipaddress.IPv4Interface((base, 31)), ipaddress.IPv4Interface((base + 1, 31))
    if link.ipv6 is not None:
        base6 = link.ipv6.network_address
        off = 0 if link.ipv6.prefixlen == 127 else 1
        v6a = ipaddress.IPv6Interface((base6 + off, link.ipv6.prefixlen))
        v6b = ipaddress.IPv6Interface((base6 + off + 1, link.ipv6.prefixlen))
    role_a, role_b = ("peer", "peer") if link.kind == "peer" else ("downlink", "uplink")
    common = dict(link=link.key, tier=link.tier, bandwidth_bps=link.bandwidth_bps, metric=link.metric,
                  bfd_profile=link.tier, isis_circuit=circuit)
    na.interfaces.append(Interface(node=link.a, port=link.a_port, name=name_a, role=role_a, peer=link.b,
                                   peer_port=link.b_port, peer_name=name_b, ipv4=v4a, ipv6=v6a, **common))
    nb.interfaces.append(Interface(node=link.b, port=link.b_port, name=name_b, role=role_b, peer=link.a,
                                   peer_port=link.a_port, peer_name=name_a, ipv4=v4b, ipv6=v6b, **common))

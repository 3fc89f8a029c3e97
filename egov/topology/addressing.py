"""Stable address and port allocation, recorded in a lock file beside the profile.

Like a package lock: what the lock records is kept (claimed first), and only
new routers and links get fresh allocations, lowest free block first, in plan
order. Adding, removing or reordering sites never moves an existing address or
port. Addresses of sites that left the plan are not handed out again at once:
they wait in the lock's quarantine for ``pools.quarantine_days`` (an IPAM's
hold-down, so a device being moved never shares an address with its
successor) unless ``egov plan release`` frees them sooner. The lock is written
atomically, one line per router, link and quarantined address, so its git diff
reads like the change.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from egov.atomic import write_atomic
from egov.errors import EgovError, Problem
from egov.plan.load import LoadedProfile, display_path
from egov.platforms import PLATFORMS
from egov.topology.expand import circuit_level
from egov.topology.model import Interface, Link, Role, Topology

LOCK_VERSION = 1
IPNet = IPv4Network | IPv6Network
NODE_KINDS = ("loopback4", "loopback6", "mgmt4", "mgmt6")
LINK_KINDS = ("ipv4", "ipv6")
RESTORE = "restore it from git (deleting it renumbers every router)"


class Pool:
    """Blocks of one size carved from a list of prefixes, lowest first."""

    def __init__(self, field_name: str, nets: list[IPNet], prefixlen: int, hosts: bool = False,
                 reserved: set[int] | None = None):
        self.field = field_name
        self.nets = nets
        self.prefixlen = prefixlen
        self.hosts = hosts
        self.reserved: set[int] = set(reserved or ())
        self.used: set[int] = set(self.reserved)
        self.short = 0
        self._cursor = (0, 0)
        self.version = nets[0].version if nets else 0
        self.bits = 32 if self.version == 4 else 128
        self.step = 1 << (self.bits - prefixlen)
        self._ranges = [(int(n.network_address), *self._usable(n), n) for n in nets]

    def _usable(self, net: IPNet) -> tuple[int, int]:
        """First and last usable value of ``net``: host pools skip the subnet's network address (and
        IPv4's broadcast address), except on /31, /32, /127 and /128 where every address is a host."""
        lo, hi = int(net.network_address), int(net.broadcast_address)
        first = lo + (1 if self.hosts and net.prefixlen < self.bits - 1 else 0)
        last = hi - (1 if self.hosts and self.version == 4 and net.prefixlen < 31 else 0)
        return first, last

    def owner(self, value: int) -> IPNet | None:
        for lo, _first, _last, n in self._ranges:
            if lo <= value <= int(n.broadcast_address):
                return n
        return None

    def usable(self, value: int, net: IPNet) -> bool:
        """Could ``value`` have come out of this pool: a host address (not the network or broadcast
        address) of ``net``, aligned to the pool's block size."""
        lo, first, last = int(net.network_address), *self._usable(net)
        return first <= value <= last and (value - lo) % self.step == 0

    def claim(self, value: int) -> bool:
        if value in self.used:
            return False
        self.used.add(value)
        return True

    def allocate(self) -> tuple[int, IPNet] | None:
        ranges = self._ranges
        ni, off = self._cursor
        while ni < len(ranges):
            lo, first, last, net = ranges[ni]
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


# --- the lock file ---------------------------------------------------------------------------------

class _LockEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NodeLock(_LockEntry):
    loopback4: StrictStr | None = None
    loopback6: StrictStr | None = None
    mgmt4: StrictStr | None = None
    mgmt6: StrictStr | None = None
    ports: dict[str, StrictInt] = Field(default_factory=dict)


class LinkLock(_LockEntry):
    ipv4: StrictStr | None = None
    ipv6: StrictStr | None = None


class Quarantined(_LockEntry):
    pool: str = Field(pattern=r"^(loopback4|loopback6|mgmt4|mgmt6|p2p4|p2p6)$")
    owner: StrictStr
    since: dt.date


class LockFile(_LockEntry):
    version: StrictInt
    profile: StrictStr = ""
    nodes: dict[str, NodeLock]
    links: dict[str, LinkLock]
    services: dict[str, LinkLock] = Field(default_factory=dict)
    quarantine: dict[str, Quarantined] = Field(default_factory=dict)


def _lock_line(text: str, key: str) -> int | None:
    """The lock has one line per entry: the line that starts with the entry's key."""
    needle = f" {json.dumps(key)}: "
    for i, line in enumerate(text.splitlines(), 1):
        if line.startswith(needle):
            return i
    return None


def read_lock(path: Path) -> dict[str, Any]:
    """The lock as plain data; every malformed entry is reported with its line."""
    if not path.exists():
        return {"version": LOCK_VERSION, "nodes": {}, "links": {}, "services": {}, "quarantine": {}}
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise EgovError.one(shown, "", f"malformed lock file ({exc.__class__.__name__})", RESTORE) from None
    if not isinstance(data, dict) or data.get("version") != LOCK_VERSION:
        raise EgovError.one(shown, "version", f"not a version {LOCK_VERSION} lock file", RESTORE)
    try:
        lock = LockFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = [str(p) for p in err["loc"]]
            line = _lock_line(text, loc[1]) if len(loc) > 1 else None
            where = f"{shown}:{line}" if line else shown
            what = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(Problem(where, ".".join(loc), what,
                                    "restore the lock from git, or delete that entry to renumber it"))
        raise EgovError(problems) from None
    return lock.model_dump(mode="json", exclude_none=True)


def dump_lock(lock: dict[str, Any]) -> str:
    """One line per router, link and quarantined address: readable diffs, quick to parse."""
    def section(name: str) -> str:
        items = lock[name]
        rows = [f" {json.dumps(k)}: {json.dumps(items[k], sort_keys=True)}" for k in sorted(items)]
        return f'"{name}": {{\n' + ",\n".join(rows) + ("\n" if rows else "") + "}"
    names = ["nodes", "links"] + [n for n in ("services", "quarantine") if lock.get(n)]
    return (f'{{"version": {lock["version"]}, "profile": {json.dumps(lock.get("profile", ""))},\n'
            + ",\n".join(section(n) for n in names) + "\n}\n")


def write_lock(path: Path, lock: dict[str, Any]) -> None:
    write_atomic(path, dump_lock(lock))


def release(lock: dict[str, Any], selectors: list[str]) -> list[str]:
    """Drop quarantined addresses (all, or those whose address, prefix or former owner matches)."""
    q = lock.get("quarantine", {})
    gone = [a for a, e in q.items() if not selectors or any(
        s in (a, a.split("/")[0], e["owner"]) for s in selectors)]
    for a in gone:
        del q[a]
    return gone


# --- allocation ----------------------------------------------------------------------------------

@dataclass(slots=True)
class Allocation:
    lock: dict[str, Any]
    changed: bool
    added: int = 0
    released: int = 0
    quarantined: int = 0
    problems: list[Problem] = field(default_factory=list)


Claimed = dict[str, tuple[int, IPNet]]


class _Allocator:
    """One allocation run: claims what the lock holds, holds back the quarantine, fills the rest."""

    def __init__(self, loaded: LoadedProfile, topo: Topology, old: dict[str, Any], today: dt.date):
        prof = loaded.profile
        cfg = prof.pools
        self.loaded, self.topo, self.old, self.today = loaded, topo, old, today
        self.lock_file = display_path(loaded.lock_path)
        self.problems: list[Problem] = []
        mgmt_reserved = {int(a) for a in cfg.mgmt.reserved}
        mgmt_reserved |= {int(gw) for gw in (cfg.mgmt.gateway4, cfg.mgmt.gateway6) if gw is not None}
        self.pools = {
            "loopback4": Pool("pools.loopback.ipv4", list(cfg.loopback.ipv4), 32, hosts=True),
            "loopback6": Pool("pools.loopback.ipv6", list(cfg.loopback.ipv6), 128, hosts=True),
            "mgmt4": Pool("pools.mgmt.ipv4", list(cfg.mgmt.ipv4), 32, hosts=True, reserved=mgmt_reserved),
            "mgmt6": Pool("pools.mgmt.ipv6", list(cfg.mgmt.ipv6), 128, hosts=True, reserved=mgmt_reserved),
            "p2p4": Pool("pools.p2p.ipv4", list(cfg.p2p.ipv4), 31),
            "p2p6": Pool("pools.p2p.ipv6", list(cfg.p2p.ipv6), cfg.p2p.ipv6_prefixlen),
        }
        self.added = 0

    @staticmethod
    def _pool_key(kind: str) -> str:
        return {"ipv4": "p2p4", "ipv6": "p2p6"}.get(kind, kind)

    def _locked(self, kind: str, owner: str, text: str, section: str = "") -> tuple[int, IPNet] | None:
        """Claim one address the lock records, if it still fits its pool."""
        pool = self.pools[self._pool_key(kind)]
        field_name = f"{section or ('links' if kind in LINK_KINDS else 'nodes')}.{owner}.{kind}"
        try:
            iface = ipaddress.ip_interface(text)
        except ValueError:
            self.problems.append(Problem(self.lock_file, field_name, f"{text!r} is not an address",
                                         "restore the lock from git"))
            return None
        value = int(iface.ip) if kind.startswith("mgmt") else int(iface.network.network_address)
        net = pool.owner(value) if pool.version == iface.version else None
        src = self.loaded.shown
        if net is None:
            self.problems.append(Problem(self.lock_file, field_name, f"{text} is outside {pool.field} of {src}",
                                         f"add its prefix back to {pool.field}, or delete the entry to renumber it"))
            return None
        if value in pool.reserved:
            self.problems.append(Problem(self.lock_file, field_name,
                                         f"{iface.ip} is reserved (pools.mgmt.reserved or a gateway) in {src}",
                                         "delete the entry to renumber it, or unreserve the address"))
            return None
        if not pool.usable(value, net) or (kind == "ipv4" and iface.network.prefixlen != 31):
            what = ("the network address" if value == int(net.network_address)
                    else "the broadcast address" if value == int(net.broadcast_address)
                    else f"not a /{pool.prefixlen} block")
            self.problems.append(Problem(self.lock_file, field_name, f"{text} is {what} of {net} ({pool.field})",
                                         "delete the entry to renumber it"))
            return None
        if not pool.claim(value):
            self.problems.append(Problem(self.lock_file, field_name, f"{text} is locked twice",
                                         "delete one of the two entries to renumber it"))
            return None
        return value, net

    def claim_locked(self) -> tuple[dict[str, Claimed], dict[str, Claimed]]:
        """Pass 1: keep everything the lock already records for routers, links and services still planned.

        Links and service LANs share one dict (service keys are ``svc:<name>``)."""
        old_nodes, old_links = self.old.get("nodes", {}), self.old.get("links", {})
        old_services = self.old.get("services", {})
        nodes: dict[str, Claimed] = {}
        for host, node in self.topo.nodes.items():
            rec, vals = old_nodes.get(host, {}), {}
            for kind in NODE_KINDS:
                if kind in rec and (kind[-1] == "4" or node.ipv6_wanted):
                    got = self._locked(kind, host, rec[kind])
                    if got:
                        vals[kind] = got
            nodes[host] = vals
        links: dict[str, Claimed] = {}
        for link in self.topo.links:
            rec, vals = old_links.get(link.key, {}), {}
            for kind in LINK_KINDS:
                if kind in rec and (kind == "ipv4" or link.ipv6_wanted):
                    plen = ipaddress.ip_network(rec[kind], strict=False).prefixlen if "/" in rec[kind] else None
                    if kind == "ipv6" and plen is not None and plen != self.pools["p2p6"].prefixlen:
                        continue  # p2p prefix length changed on purpose: renumber this family
                    got = self._locked(kind, link.key, rec[kind])
                    if got:
                        vals[kind] = got
            links[link.key] = vals
        for svc in self.topo.services:
            rec, vals = old_services.get(svc.service, {}), {}
            for kind in LINK_KINDS:
                if kind in rec and (kind == "ipv4" or self.topo.nodes[svc.node].ipv6_wanted):
                    got = self._locked(kind, svc.service, rec[kind], "services")
                    if got:
                        vals[kind] = got
            links[svc.key] = vals
        return nodes, links

    def hold_quarantine(self, nodes: dict[str, Claimed], links: dict[str, Claimed]) -> dict[str, Any]:
        """Keep released addresses out of use: the lock's quarantine (unexpired) plus what this run
        releases. Returns the quarantine to write."""
        days = self.loaded.profile.pools.quarantine_days
        if days == 0:
            return {}
        out: dict[str, Any] = {}
        for addr, entry in self.old.get("quarantine", {}).items():
            since = dt.date.fromisoformat(str(entry["since"]))
            if (self.today - since).days < days:
                out[addr] = entry  # still held; once served, it is dropped when the lock is next written
        today = self.today.isoformat()
        for section, current, kinds in (("nodes", nodes, NODE_KINDS), ("links", links, LINK_KINDS),
                                        ("services", links, LINK_KINDS)):
            for owner, rec in self.old.get(section, {}).items():
                key = f"svc:{owner}" if section == "services" else owner
                for kind in kinds:
                    text = rec.get(kind)
                    if text and text not in out and kind not in current.get(key, {}):
                        out[text] = {"pool": self._pool_key(kind), "owner": owner, "since": today}
        in_use = {(self._pool_key(k), v[0]) for vals in (*nodes.values(), *links.values()) for k, v in vals.items()}
        for addr, entry in list(out.items()):
            pool = self.pools[entry["pool"]]
            iface = ipaddress.ip_interface(addr)
            value = int(iface.ip) if entry["pool"].startswith("mgmt") else int(iface.network.network_address)
            if (entry["pool"], value) in in_use:
                del out[addr]  # the lock gives it to a planned router or link: not held back
            elif pool.version == iface.version:
                pool.claim(value)
        return out

    def allocate_fresh(self, nodes: dict[str, Claimed], links: dict[str, Claimed]) -> None:
        """Pass 2: new routers and links get the lowest free blocks, in plan order."""
        for host, node in self.topo.nodes.items():
            vals = nodes[host]
            for kind in NODE_KINDS:
                if kind in vals or not self.pools[kind].nets or (kind[-1] == "6" and not node.ipv6_wanted):
                    continue
                got = self.pools[kind].allocate()
                if got:
                    vals[kind] = got
                    self.added += 1
        wants6 = {link.key: link.ipv6_wanted for link in self.topo.links}
        wants6.update({s.key: self.topo.nodes[s.node].ipv6_wanted for s in self.topo.services})
        for key, want6 in wants6.items():
            vals = links[key]
            for kind in LINK_KINDS:
                pool = self.pools[self._pool_key(kind)]
                if kind in vals or not pool.nets or (kind == "ipv6" and not want6):
                    continue
                got = pool.allocate()
                if got:
                    vals[kind] = got
                    self.added += 1
        for pool in self.pools.values():
            if pool.short:
                self.problems.append(Problem(self.loaded.where(pool.field), pool.field,
                                             f"pool exhausted: {pool.short} more /{pool.prefixlen} needed",
                                             f"add a prefix to {pool.field}"))

    def assign_ports(self) -> dict[tuple[str, str], int]:
        """Locked ports first, then the lowest free port on each router."""
        old_nodes = self.old.get("nodes", {})
        used: dict[str, set[int]] = {h: set() for h in self.topo.nodes}
        ports: dict[tuple[str, str], int] = {}
        for link in self.topo.links:
            for host in (link.a, link.b):
                p = old_nodes.get(host, {}).get("ports", {}).get(link.key)
                if isinstance(p, int) and p > 0 and p not in used[host]:
                    used[host].add(p)
                    ports[(host, link.key)] = p
        for svc in self.topo.services:
            p = old_nodes.get(svc.node, {}).get("ports", {}).get(svc.key)
            if isinstance(p, int) and p > 0 and p not in used[svc.node]:
                used[svc.node].add(p)
                ports[(svc.node, svc.key)] = p
        next_free = {h: 1 for h in self.topo.nodes}
        wanted = [(host, link.key) for link in self.topo.links for host in (link.a, link.b)]
        wanted += [(svc.node, svc.key) for svc in self.topo.services]
        for host, key in wanted:
            if (host, key) not in ports:
                p = next_free[host]
                while p in used[host]:
                    p += 1
                used[host].add(p)
                next_free[host] = p + 1
                ports[(host, key)] = p
                self.added += 1
        return ports

    def write_back(self, nodes: dict[str, Claimed], links: dict[str, Claimed],
                   ports: dict[tuple[str, str], int]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """Put the values into the topology, build the interfaces, and return the lock sections."""
        new_nodes: dict[str, dict[str, Any]] = {}
        new_links: dict[str, dict[str, Any]] = {}
        for host, node in self.topo.nodes.items():
            rec: dict[str, Any] = {}
            for kind, (value, net) in sorted(nodes[host].items()):
                plen = net.prefixlen if kind.startswith("mgmt") else self.pools[kind].prefixlen
                iface = ipaddress.ip_interface((value, plen))
                setattr(node, kind, iface)
                rec[kind] = str(iface)
            rec["ports"] = {}
            node.interfaces = []
            new_nodes[host] = rec
        p2p6 = self.pools["p2p6"].prefixlen
        for link in self.topo.links:
            vals, rec = links[link.key], {}
            if "ipv4" in vals:
                link.ipv4 = ipaddress.IPv4Network((vals["ipv4"][0], 31))
                rec["ipv4"] = str(link.ipv4)
            if "ipv6" in vals:
                link.ipv6 = ipaddress.IPv6Network((vals["ipv6"][0], p2p6))
                rec["ipv6"] = str(link.ipv6)
            new_links[link.key] = rec
            link.a_port, link.b_port = ports[(link.a, link.key)], ports[(link.b, link.key)]
            new_nodes[link.a]["ports"][link.key] = link.a_port
            new_nodes[link.b]["ports"][link.key] = link.b_port
            _attach(self.topo, link)
        new_services: dict[str, dict[str, Any]] = {}
        for svc in self.topo.services:
            vals, rec = links[svc.key], {}
            if "ipv4" in vals:
                rec["ipv4"] = str(ipaddress.IPv4Network((vals["ipv4"][0], 31)))
                svc.ipv4 = ipaddress.IPv4Interface((vals["ipv4"][0], 31))
            if "ipv6" in vals:
                base6, off = vals["ipv6"][0], 0 if p2p6 == 127 else 1
                rec["ipv6"] = str(ipaddress.IPv6Network((base6, p2p6)))
                svc.ipv6 = ipaddress.IPv6Interface((base6 + off, p2p6))
            new_services[svc.service] = rec
            svc.port = ports[(svc.node, svc.key)]
            new_nodes[svc.node]["ports"][svc.key] = svc.port
            node = self.topo.nodes[svc.node]
            p = PLATFORMS.get(node.platform)
            svc.name = p.port_name(svc.port) if p else f"port{svc.port}"
            node.services.append(svc)
        for node in self.topo.nodes.values():
            node.interfaces.sort(key=lambda i: i.port)
        return new_nodes, new_links, new_services


def allocate(loaded: LoadedProfile, topo: Topology, old: dict[str, Any],
             today: dt.date | None = None) -> Allocation:
    """Fill addresses and ports into ``topo`` (in place) from ``old`` lock plus fresh allocations."""
    run = _Allocator(loaded, topo, old, today or dt.datetime.now(dt.timezone.utc).date())
    nodes, links = run.claim_locked()
    quarantine = run.hold_quarantine(nodes, links)
    run.allocate_fresh(nodes, links)
    ports = run.assign_ports()
    new_nodes, new_links, new_services = run.write_back(nodes, links, ports)
    name = loaded.profile.name
    lock = {"version": LOCK_VERSION, "profile": name, "nodes": new_nodes, "links": new_links,
            "services": new_services, "quarantine": quarantine}
    old_nodes, old_links = old.get("nodes", {}), old.get("links", {})
    old_q = old.get("quarantine", {})
    released = sum(1 for h in old_nodes if h not in new_nodes) + sum(1 for k in old_links if k not in new_links)
    newly_held = sum(1 for a in quarantine if a not in old_q)
    # quarantine entries that expired with time do not make the lock out of date on their own:
    # they are dropped the next time the lock is written for another reason
    changed = (new_nodes != old_nodes or new_links != old_links or new_services != old.get("services", {})
               or old.get("profile") != name or newly_held > 0)
    return Allocation(lock=lock, changed=changed, added=run.added, released=released,
                      quarantined=newly_held, problems=run.problems)


def _attach(topo: Topology, link: Link) -> None:
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
    role_a: Role
    role_b: Role
    role_a, role_b = ("peer", "peer") if link.kind == "peer" else ("downlink", "uplink")
    common: dict[str, Any] = dict(link=link.key, tier=link.tier, bandwidth_bps=link.bandwidth_bps,
                                  metric=link.metric, bfd_profile=link.tier, isis_circuit=circuit)
    na.interfaces.append(Interface(node=link.a, port=link.a_port, name=name_a, role=role_a, peer=link.b,
                                   peer_port=link.b_port, peer_name=name_b, ipv4=v4a, ipv6=v6a, **common))
    nb.interfaces.append(Interface(node=link.b, port=link.b_port, name=name_b, role=role_b, peer=link.a,
                                   peer_port=link.a_port, peer_name=name_a, ipv4=v4b, ipv6=v6b, **common))

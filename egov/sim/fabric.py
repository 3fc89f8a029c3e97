"""The links between simulated routers: adjacencies and BFD sessions from both ends' configs.

An IS-IS adjacency is up when both ends have the interface, neither is shut down, both run IS-IS
on it (IPv4 or IPv6) with addresses in the same subnet, both processes have a NET, and their
levels meet (level-1 also needs the same area). BFD is up when the adjacency is and both ends ask
for BFD. A peer the simulator does not serve (a Cisco department, a Junos city router) counts as
configured as planned.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from egov.sim.model import Node

if TYPE_CHECKING:
    from egov.topology.model import Interface
    from egov.topology.validate import Plan

_LEVEL = {"level-1": {1}, "level-2": {2}, "level-1-2": {1, 2}, "level-2-only": {2}}


@dataclass(slots=True)
class End:
    host: str
    ip4: ipaddress.IPv4Interface | None
    ip6: ipaddress.IPv6Interface | None
    isis4: bool
    isis6: bool
    bfd: bool
    levels: set[int]
    area: str
    hold: int
    bfd_ms: int


def _proc(root: Node) -> tuple[set[int], str, bool]:
    for n in root.children:
        if n.view and n.text.split()[0] == "isis":
            level = {1, 2}
            area = ""
            net = False
            for c in n.children:
                if c.text.startswith("is-level "):
                    level = _LEVEL.get(c.text.split()[1], level)
                if c.text.startswith("network-entity "):
                    parts = c.text.split()[1].split(".")
                    area, net = ".".join(parts[:-4]), True
            return level, area, net
    return set(), "", False


def end_from_config(host: str, root: Node, ifname: str) -> End | None:
    """This end as its running config says, or None when the interface is missing or down."""
    node = root.child(f"interface {ifname}")
    if node is None:
        return None
    texts = [c.text for c in node.children]
    if "shutdown" in texts:
        return None
    plevel, area, net = _proc(root)
    if not net:
        plevel = set()
    ip4 = ip6 = None
    clevel = {1, 2}
    hello, mult, bfd_ms = 10, 3, 1000
    for t in texts:
        w = t.split()
        if t.startswith("ip address ") and len(w) >= 4 and "sub" not in w:
            ip4 = ipaddress.IPv4Interface(f"{w[2]}/{w[3]}")
        elif t.startswith("ipv6 address ") and len(w) >= 3:
            ip6 = ipaddress.IPv6Interface(w[2] if "/" in w[2] else f"{w[2]}/{w[3]}")
        elif t.startswith("isis circuit-level "):
            clevel = _LEVEL.get(w[2], clevel)
        elif t.startswith("isis timer hello "):
            hello = int(w[3])
        elif t.startswith("isis timer holding-multiplier "):
            mult = int(w[3])
        elif t.startswith("bfd min-receive-interval ") or "min-rx-interval" in w:
            bfd_ms = int(w[w.index("min-rx-interval") + 1]) if "min-rx-interval" in w else int(w[2])
    isis4 = any(t.startswith("isis enable") for t in texts) and ip4 is not None
    isis6 = any(t.startswith("isis ipv6 enable") for t in texts) and ip6 is not None
    bfd = any(t in ("isis bfd enable", "isis ipv6 bfd enable") for t in texts)
    return End(host, ip4, ip6, isis4, isis6, bfd, clevel & plevel, area, hello * mult, bfd_ms)


def end_from_plan(iface: "Interface", isis_level: str, area: str) -> End:
    return End(iface.node, iface.ipv4, iface.ipv6, iface.ipv4 is not None, iface.ipv6 is not None, True,
               _LEVEL[iface.isis_circuit] & _LEVEL[isis_level], area, 30, 300)


class Fabric:
    """Planned links plus the served devices' live configs."""

    def __init__(self, plan: "Plan", devices: dict[str, Any]):
        self.devices = devices
        self.ifaces: dict[tuple[str, str], "Interface"] = {}
        self.nodes = plan.topology.nodes
        for node in self.nodes.values():
            for i in node.interfaces:
                self.ifaces[(node.hostname, i.name)] = i
        self._owner_map: dict[str, tuple[str, str]] | None = None
        #: (host, interface) -> (the device's config version, its end): a config is read once per change
        self._ends: dict[tuple[str, str], tuple[int, End | None]] = {}
        self._tier = {h: n.tier for h, n in self.nodes.items()}
        self._order = {t: i for i, t in enumerate(plan.topology.tiers)}

    def _end(self, host: str, ifname: str) -> End | None:
        dev = self.devices.get(host)
        if dev is not None:
            version = dev.version  # type: ignore[attr-defined]
            hit = self._ends.get((host, ifname))
            if hit is not None and hit[0] == version:
                return hit[1]
            end = end_from_config(host, dev.running, ifname)  # type: ignore[attr-defined]
            self._ends[(host, ifname)] = (version, end)
            return end
        node = self.nodes[host]
        iface = self.ifaces[(host, ifname)]
        return end_from_plan(iface, node.isis_level, node.area)

    def _pair(self, host: str, ifname: str) -> tuple[End, End] | None:
        iface = self.ifaces.get((host, ifname))
        if iface is None:
            return None
        a, b = self._end(host, ifname), self._end(iface.peer, iface.peer_name)
        if a is None or b is None:
            return None
        return a, b

    def _port_up(self, host: str, ifname: str) -> bool:
        """A planned port is cabled and up unless its config shuts it down (an unconfigured port of a
        bare router is up, as physical ports default to ``undo shutdown``; see docs/vrp-comware.md)."""
        dev = self.devices.get(host)
        if dev is None:
            return True
        node = dev.running.child(f"interface {ifname}")  # type: ignore[attr-defined]
        return node is None or node.child("shutdown") is None

    def link_up(self, host: str, ifname: str) -> bool:
        iface = self.ifaces.get((host, ifname))
        if iface is None:
            return host in self.devices and ifname.startswith(("GigabitEthernet0/0/0", "M-GigabitEthernet"))
        return self._port_up(host, ifname) and self._port_up(iface.peer, iface.peer_name)

    def _adjacent(self, a: End, b: End) -> set[int]:
        levels = a.levels & b.levels
        if 1 in levels and a.area != b.area:
            levels.discard(1)
        if not levels:
            return set()
        v4 = a.isis4 and b.isis4 and a.ip4 is not None and b.ip4 is not None and a.ip4.network == b.ip4.network \
            and a.ip4.ip != b.ip4.ip
        v6 = a.isis6 and b.isis6 and a.ip6 is not None and b.ip6 is not None and a.ip6.network == b.ip6.network \
            and a.ip6.ip != b.ip6.ip
        return levels if (v4 or v6) else set()

    def _family_adjacent(self, host: str, ifname: str, fam: int) -> bool:
        """An adjacency on this link that carries family ``fam`` (4 or 6) (multi-topology IS-IS)."""
        pair = self._pair(host, ifname)
        if pair is None or not self._adjacent(*pair):
            return False
        a, b = pair
        if fam == 4:
            return a.isis4 and b.isis4 and a.ip4 is not None and b.ip4 is not None and a.ip4.network == b.ip4.network
        return a.isis6 and b.isis6 and a.ip6 is not None and b.ip6 is not None and a.ip6.network == b.ip6.network

    def _owners(self) -> dict[str, tuple[str, str]]:
        """Planned address -> (router, interface): loopbacks and link ends."""
        if self._owner_map is None:
            own: dict[str, tuple[str, str]] = {}
            for node in self.nodes.values():
                for lo in (node.loopback4, node.loopback6):
                    if lo is not None:
                        own[str(lo.ip)] = (node.hostname, "LoopBack0")
                for i in node.interfaces:
                    for a in (i.ipv4, i.ipv6):
                        if a is not None:
                            own[str(a.ip)] = (node.hostname, i.name)
            self._owner_map = own
        return self._owner_map

    def _advertised(self, host: str, ip: str, fam: int) -> bool:
        """``ip`` is configured on ``host`` on an interface that runs IS-IS for its family."""
        dev = self.devices.get(host)
        if dev is None:
            return True  # not served: configured as planned
        want = "isis enable" if fam == 4 else "isis ipv6 enable"
        for n in dev.running.children:  # type: ignore[attr-defined]
            if not (n.view and n.text.startswith("interface ")):
                continue
            texts = [c.text for c in n.children]
            if "shutdown" in texts:
                continue
            has = any((t.startswith("ip address ") and t.split()[2] == ip) if fam == 4 else
                      (t.startswith("ipv6 address ") and t.split()[2].split("/")[0] == ip) for t in texts)
            if has:
                return any(t.startswith(want) for t in texts)
        return False

    def reachable(self, host: str, dest: str, source: str = "") -> bool:
        """Would a ping from ``host`` (from ``source``) to ``dest`` get a reply: both addresses
        configured and advertised into IS-IS, and a path of adjacencies of that family between the
        routers (searched towards the destination's tier first; the answer does not depend on it)."""
        import ipaddress as ipa

        fam = ipa.ip_address(dest).version
        owners = self._owners()
        tier, order = self._tier, self._order
        owner = owners.get(str(ipa.ip_address(dest)))
        if owner is None:
            return False
        if source:
            src_owner = owners.get(str(ipa.ip_address(source)))
            if src_owner is None or src_owner[0] != host:
                return False
        target = owner[0]
        if target == host:
            return self._advertised(host, dest, fam) or owner[1] != "LoopBack0"
        if not self._advertised(target, dest, fam) or (source and not self._advertised(host, source, fam)):
            return False
        goal = order[tier[target]]
        seen, stack = {host}, [host]
        while stack:
            h = stack.pop()
            nxt = []
            for i in self.nodes[h].interfaces:
                if i.peer in seen or i.peer not in self.nodes or not self._family_adjacent(h, i.name, fam):
                    continue
                if i.peer == target:
                    return True
                nxt.append(i.peer)
            nxt.sort(key=lambda p: -abs(order[tier[p]] - goal))  # the closest tier is popped first
            for p in nxt:
                seen.add(p)
                stack.append(p)
        return False

    def isis_peers(self, host: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        node = self.nodes.get(host)
        if node is None:
            return out
        for i in node.interfaces:
            pair = self._pair(host, i.name)
            if pair is None:
                continue
            levels = self._adjacent(*pair)
            if levels:
                kind = "L12" if levels == {1, 2} else f"L{min(levels)}"
                out.append({"name": i.peer, "interface": i.name, "hold": pair[1].hold, "type": kind})
        return out

    def bfd_sessions(self, host: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        node = self.nodes.get(host)
        if node is None:
            return out
        for i in node.interfaces:
            pair = self._pair(host, i.name)
            if pair is None or not self._adjacent(*pair) or not (pair[0].bfd and pair[1].bfd):
                continue
            a, b = pair
            if a.ip4 is not None and b.ip4 is not None:
                out.append({"peer": str(b.ip4.ip), "local": str(a.ip4.ip), "interface": i.name,
                            "hold_ms": a.bfd_ms * 3})
        return out

"""The expanded backbone: routers, links, interfaces, addresses.

These objects are what templates render and what later stages (lab, change,
measurement) consume, so they are plain, slotted dataclasses: cheap to build
for 2,000 routers and cheap for Jinja2 to read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Interface, IPv4Network, IPv6Interface, IPv6Network
from typing import Any, Literal

from egov.plan.schema import Bfd, format_bandwidth

Role = Literal["uplink", "downlink", "peer"]


@dataclass(slots=True)
class Interface:
    """One end of a point-to-point link, as configured on ``node``."""

    node: str
    port: int
    name: str
    role: Role
    peer: str
    peer_port: int
    peer_name: str
    link: str
    tier: str
    bandwidth_bps: int
    metric: int
    bfd_profile: str
    isis_circuit: str
    ipv4: IPv4Interface | None = None
    ipv6: IPv6Interface | None = None

    @property
    def bandwidth_kbps(self) -> int:
        return self.bandwidth_bps // 1000

    @property
    def bandwidth_mbps(self) -> int:
        return max(1, self.bandwidth_bps // 1_000_000)

    @property
    def bandwidth(self) -> str:
        return format_bandwidth(self.bandwidth_bps)

    @property
    def description(self) -> str:
        return f"{self.role} to {self.peer} {self.peer_name} {self.bandwidth} {self.tier}"


@dataclass(slots=True)
class ServiceLan:
    """A hosted service's LAN on its router: the router takes the first address, the service the second."""

    service: str
    node: str
    kind: str
    service_port: int
    path: str
    cloud: bool
    port: int = 0
    name: str = ""
    ipv4: IPv4Interface | None = None
    ipv6: IPv6Interface | None = None

    @property
    def key(self) -> str:
        return f"svc:{self.service}"

    @property
    def address4(self) -> str | None:
        return str(self.ipv4.ip + 1) if self.ipv4 else None

    @property
    def address6(self) -> str | None:
        return str(self.ipv6.ip + 1) if self.ipv6 else None

    @property
    def description(self) -> str:
        return f"service {self.service} ({self.kind} {self.service_port})"

    def url(self, host: str | None = None, port: int | None = None) -> str:
        """Where a probe goes: the service itself, or ``host:port`` in front of it (the lab's relay)."""
        host = host or self.address4 or f"[{self.address6}]"
        port = port or self.service_port
        return f"http://{host}:{port}{self.path}" if self.kind == "http" else f"tcp://{host}:{port}"


@dataclass(slots=True)
class Link:
    """A point-to-point link; ``a`` is the upstream end (parent, or the pair's first router)."""

    key: str
    a: str
    b: str
    kind: Literal["uplink", "peer"]
    tier: str
    bandwidth_bps: int
    required_bps: int
    metric: int
    bfd: Bfd
    ipv6_wanted: bool = True
    ipv4: IPv4Network | None = None
    ipv6: IPv6Network | None = None
    a_port: int = 0
    b_port: int = 0

    def as_dict(self, a_if: str, b_if: str) -> dict[str, Any]:
        return {
            "key": self.key,
            "a": self.a,
            "a_interface": a_if,
            "b": self.b,
            "b_interface": b_if,
            "kind": self.kind,
            "tier": self.tier,
            "bandwidth": format_bandwidth(self.bandwidth_bps),
            "bandwidth_bps": self.bandwidth_bps,
            "metric": self.metric,
            "ipv4": str(self.ipv4) if self.ipv4 else None,
            "ipv6": str(self.ipv6) if self.ipv6 else None,
        }


@dataclass(slots=True)
class Node:
    """One router."""

    hostname: str
    tier: str
    site: str
    site_name: str
    member: str
    platform: str
    region: str
    isis_level: str
    area: str
    source: str
    uplinks_wanted: int
    ipv6_wanted: bool = True
    loopback4: IPv4Interface | None = None
    loopback6: IPv6Interface | None = None
    mgmt4: IPv4Interface | None = None
    mgmt6: IPv6Interface | None = None
    interfaces: list[Interface] = field(default_factory=list)
    services: list[ServiceLan] = field(default_factory=list)

    @property
    def system_id(self) -> str:
        """IS-IS system ID from the IPv4 loopback (10.61.0.1 -> 0100.6100.0001), stable as the lock."""
        if self.loopback4 is None:
            return "0000.0000.0000"
        digits = "".join(f"{int(o):03d}" for o in str(self.loopback4.ip).split("."))
        return f"{digits[0:4]}.{digits[4:8]}.{digits[8:12]}"

    @property
    def net(self) -> str:
        return f"{self.area}.{self.system_id}.00"

    @property
    def uplinks(self) -> list[Interface]:
        return [i for i in self.interfaces if i.role == "uplink"]

    @property
    def bfd_profiles(self) -> list[str]:
        return sorted({i.bfd_profile for i in self.interfaces})

    def as_dict(self) -> dict[str, Any]:
        return {
            "hostname": self.hostname,
            "tier": self.tier,
            "site": self.site,
            "site_name": self.site_name,
            "member": self.member,
            "platform": self.platform,
            "region": self.region,
            "isis_level": self.isis_level,
            "net": self.net,
            "loopback4": str(self.loopback4) if self.loopback4 else None,
            "loopback6": str(self.loopback6) if self.loopback6 else None,
            "mgmt4": str(self.mgmt4) if self.mgmt4 else None,
            "mgmt6": str(self.mgmt6) if self.mgmt6 else None,
            "interfaces": [
                {
                    "name": i.name,
                    "role": i.role,
                    "peer": i.peer,
                    "peer_interface": i.peer_name,
                    "link": i.link,
                    "bandwidth": i.bandwidth,
                    "metric": i.metric,
                    "ipv4": str(i.ipv4) if i.ipv4 else None,
                    "ipv6": str(i.ipv6) if i.ipv6 else None,
                }
                for i in self.interfaces
            ],
        }


@dataclass(slots=True)
class Topology:
    """The whole backbone of one profile, nodes in plan order (tier by tier, site by site)."""

    profile: str
    tiers: list[str]
    nodes: dict[str, Node]
    links: list[Link]
    bfd: dict[str, Bfd]
    services: list[ServiceLan] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per tier: routers, sites, links to the parent tier (plus pair links)."""
        out = {t: {"routers": 0, "sites": 0, "links": 0} for t in self.tiers}
        sites: dict[str, set[str]] = {t: set() for t in self.tiers}
        for n in self.nodes.values():
            out[n.tier]["routers"] += 1
            sites[n.tier].add(n.site)
        for link in self.links:
            out[link.tier]["links"] += 1
        for t in self.tiers:
            out[t]["sites"] = len(sites[t])
        return out

"""What the measurement half works on: poll targets, their answers, and the OIDs it asks for."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Literal

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
#: IF-MIB columns walked on every poll (ifXTable for names, 64-bit counters and speed)
IF_COLUMNS: dict[str, str] = {
    "name": "1.3.6.1.2.1.31.1.1.1.1",         # ifName
    "admin": "1.3.6.1.2.1.2.2.1.7",           # ifAdminStatus
    "oper": "1.3.6.1.2.1.2.2.1.8",            # ifOperStatus
    "last_change": "1.3.6.1.2.1.2.2.1.9",     # ifLastChange (sysUpTime ticks)
    "in_octets": "1.3.6.1.2.1.31.1.1.1.6",    # ifHCInOctets
    "out_octets": "1.3.6.1.2.1.31.1.1.1.10",  # ifHCOutOctets
    "high_speed": "1.3.6.1.2.1.31.1.1.1.15",  # ifHighSpeed (Mbit/s)
    "in_errors": "1.3.6.1.2.1.2.2.1.14",
    "out_errors": "1.3.6.1.2.1.2.2.1.20",
    "in_discards": "1.3.6.1.2.1.2.2.1.13",
    "out_discards": "1.3.6.1.2.1.2.2.1.19",
}
#: ISIS-MIB (RFC 4444): circuit -> ifIndex, and adjacency state per circuit (3 = up)
ISIS_CIRC_IFINDEX = "1.3.6.1.2.1.138.1.3.2.1.2"
ISIS_ADJ_STATE = "1.3.6.1.2.1.138.1.6.1.1.2"
ISIS_ADJ_UP = 3

Reason = Literal["timeout", "auth", "decode", "refused", "error"]


@dataclass(frozen=True, slots=True)
class SnmpAuth:
    """How to talk to an agent. ``repr`` never shows a key (logs, tracebacks)."""

    version: Literal["v3", "v2c"] = "v3"
    user: str = ""
    auth: Literal["sha", "sha256"] = "sha256"
    auth_key: str = field(default="", repr=False)
    priv_key: str = field(default="", repr=False)
    community: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class PlannedInterface:
    name: str
    peer: str
    link: str
    #: a passive IS-IS interface (a hosted service's LAN): no adjacency is expected on it
    passive: bool = False


@dataclass(frozen=True, slots=True)
class Target:
    """One router to poll, as the plan sees it, at the address the CLI resolved."""

    router: str
    address: str
    port: int
    tier: str
    city: str
    interfaces: tuple[PlannedInterface, ...]
    auth: SnmpAuth
    #: the agent's engineID when known (saves a discovery round trip), else discovered
    engine_id: bytes | None = None

    def shard(self, count: int) -> int:
        """Stable shard (1..count) of this router: the same on every exporter and every run."""
        return int.from_bytes(hashlib.sha256(self.router.encode()).digest()[:8], "big") % count + 1


@dataclass(slots=True)
class IfState:
    index: int
    name: str
    admin_up: bool
    oper_up: bool
    last_change: int = 0
    in_octets: int = 0
    out_octets: int = 0
    speed_bps: int = 0
    in_errors: int = 0
    out_errors: int = 0
    in_discards: int = 0
    out_discards: int = 0

    @property
    def up(self) -> bool:
        return self.admin_up and self.oper_up


@dataclass(slots=True)
class Poll:
    """One router's answer (or why there was none)."""

    router: str
    at: float
    ok: bool
    duration: float
    reason: Reason | None = None
    detail: str = ""
    uptime_ticks: int | None = None
    interfaces: dict[str, IfState] = field(default_factory=dict)
    #: interface name -> IS-IS adjacency up; None when the agent has no ISIS-MIB
    isis: dict[str, bool] | None = None

    def changed_at(self, ifname: str) -> float | None:
        """When an interface last changed state (ifLastChange), as a Unix time; None if unknown."""
        i = self.interfaces.get(ifname)
        if i is None or self.uptime_ticks is None or not i.last_change or i.last_change > self.uptime_ticks:
            return None
        return self.at - (self.uptime_ticks - i.last_change) / 100.0

    @property
    def booted_at(self) -> float | None:
        """When the agent (re)started: what the router's own clock says about a restart."""
        return None if self.uptime_ticks is None else self.at - self.uptime_ticks / 100.0

    def summary(self) -> str:
        """What a neighbour's fault judgement needs of this poll, as JSON (shared between shards)."""
        return json.dumps({"at": self.at, "ok": self.ok, "up": self.uptime_ticks, "isis": self.isis,
                           "if": {n: [i.index, i.admin_up, i.oper_up, i.last_change]
                                  for n, i in self.interfaces.items()}}, separators=(",", ":"))

    @classmethod
    def from_summary(cls, router: str, text: str) -> Poll:
        d = json.loads(text)
        ifs = {n: IfState(index=v[0], name=n, admin_up=v[1], oper_up=v[2], last_change=v[3])
               for n, v in d["if"].items()}
        return cls(router, d["at"], d["ok"], 0.0, uptime_ticks=d["up"], interfaces=ifs, isis=d["isis"])

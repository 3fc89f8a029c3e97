"""The plan profile: what an operator writes in ``inventory/<name>.yaml``.

The schema is strict (unknown keys are errors) because a typo in a source of
truth silently becomes a wrong network. Semantic checks that need the expanded
topology (dual-homing, bandwidth floors, pool exhaustion) live in
``egov.topology.validate``; this module only checks shape and types.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    IPvAnyAddress,
    IPvAnyNetwork,
    Tag,
    field_validator,
    model_validator,
)

_BW_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:bps|b/s|bit/s)?\s*$")
_BW_MULT = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def parse_bandwidth(value: Any) -> int:
    """'10G' / '200M' / 2000000000 -> bits per second."""
    if isinstance(value, bool):
        raise ValueError("bandwidth must be like 10G, 2G, 200M or a number of bit/s")
    if isinstance(value, int):
        bps = value
    else:
        m = _BW_RE.match(str(value))
        if not m:
            raise ValueError(f"bandwidth {value!r} is not like 10G, 2G, 200M")
        bps = int(float(m.group(1)) * _BW_MULT[m.group(2).lower()])
    if bps <= 0:
        raise ValueError("bandwidth must be positive")
    return bps


def format_bandwidth(bps: int) -> str:
    """Inverse of parse_bandwidth for display: 10000000000 -> '10G'."""
    for unit, mult in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if bps >= mult and bps % mult == 0:
            return f"{bps // mult}{unit}"
    return f"{bps}"


#: Unicode categories that never belong in a one-line value: controls (newline, tab, NUL, NEL...),
#: format characters (bidi overrides, zero-width joiners), surrogates, private use, unassigned,
#: and the line and paragraph separators. Any of them can end a config line or hide text.
_NOT_TEXT = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_CONTROL_NAMES = {"\x00": "null", "\t": "tab", "\n": "line feed", "\r": "carriage return", "\x1b": "escape",
                  "\x85": "next line"}


def one_line(value: str) -> str:
    """Refuse what would break out of the config line a value lands on (see docs/free-text.md)."""
    for ch in value:
        if unicodedata.category(ch) in _NOT_TEXT:
            name = _CONTROL_NAMES.get(ch) or unicodedata.name(ch, None) or "control character"
            raise ValueError(f"contains U+{ord(ch):04X} ({name.lower()}); free text must be one printable line")
    return value


def _strict_text(value: Any) -> Any:
    """YAML numbers and booleans are not silently turned into prefixes or names."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a string")
    return value


Bandwidth = Annotated[int, BeforeValidator(parse_bandwidth)]
SiteId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{0,15}$")]
TierName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,15}$")]
PlatformName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
#: free text that lands in device configs (site names, SNMP location and contact): one line
ConfigText = Annotated[str, AfterValidator(one_line), Field(max_length=255)]
#: free text kept in the profile only (descriptions, seed references)
NoteText = Annotated[str, AfterValidator(one_line), Field(max_length=1000)]
#: a DNS domain (RFC 1123 labels), as it lands in `ip domain name` / `domain-name`
DomainName = Annotated[str, Field(
    max_length=253, pattern=r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")]
#: time zones every platform's templates can express (see the TZ tables in templates/*/_macros.j2)
TimeZone = Literal["Asia/Shanghai", "UTC"]
IPv4Prefix = Annotated[ipaddress.IPv4Network, BeforeValidator(_strict_text)]
IPv6Prefix = Annotated[ipaddress.IPv6Network, BeforeValidator(_strict_text)]
AnyPrefix = Annotated[IPvAnyNetwork, BeforeValidator(_strict_text)]
AnyAddress = Annotated[IPvAnyAddress, BeforeValidator(_strict_text)]
IPv4Addr = Annotated[ipaddress.IPv4Address, BeforeValidator(_strict_text)]
IPv6Addr = Annotated[ipaddress.IPv6Address, BeforeValidator(_strict_text)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bfd(Strict):
    """BFD timers; on the lab, 100 ms x 3 costs ~0.5 % of a core per session (see notes)."""

    interval_ms: int = Field(300, ge=10, le=10000)
    multiplier: int = Field(3, ge=2, le=50)


class Tier(Strict):
    """One level of the backbone (province core, city, county, township, department)."""

    parent: TierName | None = None
    bandwidth: Bandwidth | None = None
    redundancy: Literal["pair", "dual-homed"] = "dual-homed"
    uplinks: int = Field(2, ge=0, le=8)
    peer_link: bool = True
    platform: PlatformName
    id_prefix: str | None = Field(None, pattern=r"^[a-z][a-z0-9]{0,7}$")
    id_width: int = Field(2, ge=1, le=5)
    isis_level: Literal["level-1", "level-1-2", "level-2-only"] = "level-2-only"
    metric: int | None = Field(None, ge=1, le=16777214)
    bfd: Bfd = Bfd()
    description: NoteText = ""


class Site(Strict):
    """A place in the plan: one router (dual-homed) or a router pair, with its child sites."""

    id: SiteId
    name: ConfigText | None = None
    platform: PlatformName | None = None
    bandwidth: Bandwidth | None = None
    uplinks: int | None = Field(None, ge=0, le=8)
    ipv6: bool = True
    area: str | None = Field(None, pattern=r"^[0-9a-fA-F]{2}(\.[0-9a-fA-F]{4}){0,6}$")
    children: dict[TierName, "SiteList"] = {}


class CountBlock(Strict):
    """``count`` generated sites; child totals are spread over them, earliest first."""

    count: int = Field(ge=0, le=100000)
    children: dict[TierName, Annotated[int, Field(ge=0, le=100000)]] = {}


def _site_list_kind(value: Any) -> str:
    """Pick the union member by YAML shape, so one mistake gives one error, not three."""
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "block"
    return "count"


SiteList = Annotated[
    Annotated[list[Site], Tag("list")]
    | Annotated[CountBlock, Tag("block")]
    | Annotated[int, Field(ge=0, le=100000), Tag("count")],
    Discriminator(_site_list_kind),
]
Site.model_rebuild()


class PoolSet(Strict):
    ipv4: list[IPv4Prefix] = []
    ipv6: list[IPv6Prefix] = []


class P2PPools(PoolSet):
    ipv6_prefixlen: Literal[64, 126, 127] = 127

    @model_validator(mode="after")
    def _room_for_a_link(self) -> "P2PPools":
        """Each prefix must hold at least one link (/31, and ipv6_prefixlen for IPv6)."""
        for fam, nets, plen in (("ipv4", self.ipv4, 31), ("ipv6", self.ipv6, self.ipv6_prefixlen)):
            for n in nets:
                if n.prefixlen > plen:
                    raise ValueError(f"{fam} prefix {n} is smaller than one /{plen} link; give a /{plen} or "
                                     "shorter prefix")
        return self


class MgmtPools(PoolSet):
    reserved: list[AnyAddress] = []
    gateway4: IPv4Addr | None = None
    gateway6: IPv6Addr | None = None
    #: management VRF; null puts management in the main table (FRR only: vendor templates need one)
    vrf: str | None = Field("MGMT", pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,14}$")


class Pools(Strict):
    loopback: PoolSet
    p2p: P2PPools
    mgmt: MgmtPools
    #: days a released address stays out of use before a new router or link may get it
    quarantine_days: int = Field(30, ge=0, le=3650)


class SpfDelay(Strict):
    """RFC 8405 SPF back-off. The first SPF after calm waits ``init_ms``, follow-ups ``short_ms``: a
    link failure seen first through a neighbour's LSP and then through local BFD is repaired within
    ``short_ms`` of the BFD event, not after a whole fixed SPF interval (1 s in FRR)."""

    init_ms: int = Field(50, ge=0, le=60000)
    short_ms: int = Field(100, ge=0, le=60000)
    long_ms: int = Field(2000, ge=0, le=60000)
    holddown_ms: int = Field(2000, ge=0, le=60000)
    time_to_learn_ms: int = Field(500, ge=0, le=60000)


class Igp(Strict):
    """IS-IS, multi-topology: one protocol and one BFD session per link carry both families."""

    protocol: Literal["isis"] = "isis"
    instance: str = Field("EGOV", pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,15}$")
    area: str = Field("49.0001", pattern=r"^[0-9a-fA-F]{2}(\.[0-9a-fA-F]{4}){0,6}$")
    reference_bandwidth: Bandwidth = 100 * 10**9
    lsp_gen_interval: int = Field(1, ge=1, le=120)
    lsp_refresh_interval: int = Field(900, ge=1, le=65235)
    max_lsp_lifetime: int = Field(1200, ge=350, le=65535)
    hello_interval: int = Field(3, ge=1, le=600)
    hello_multiplier: int = Field(10, ge=2, le=100)
    spf_delay: SpfDelay = SpfDelay()

    @model_validator(mode="after")
    def _lifetime_covers_refresh(self) -> "Igp":
        if self.max_lsp_lifetime < self.lsp_refresh_interval + 300:
            raise ValueError("max_lsp_lifetime must be at least lsp_refresh_interval + 300 seconds")
        return self


class SnmpV3(Strict):
    user: str = Field("egov-nms", pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
    auth: Literal["sha", "sha256"] = "sha256"
    priv: Literal["aes128"] = "aes128"
    location: ConfigText = ""
    contact: ConfigText = ""
    trap_targets: list[AnyAddress] = []


class Services(Strict):
    domain: DomainName = "egov.local"
    ntp: list[AnyAddress] = []
    syslog: list[AnyAddress] = []
    snmp: SnmpV3 = SnmpV3()
    #: who may reach SSH and SNMP. Required, never defaulted: an empty list locks everyone out,
    #: a default would be a guess about the operator's management network.
    mgmt_acl: list[AnyPrefix] = Field(min_length=1)
    admin_user: str = Field("netops", pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    timezone: TimeZone = "Asia/Shanghai"


class Target(Strict):
    """Plan indicators for one year (share, 0..1)."""

    platform_uptime: float | None = Field(None, ge=0, le=1)
    fault_handling_3h: float | None = Field(None, ge=0, le=1)
    security_remediation: float | None = Field(None, ge=0, le=1)
    extranet_coverage: float | None = Field(None, ge=0, le=1)
    bandwidth_support: float | None = Field(None, ge=0, le=1)
    cloud_integration: float | None = Field(None, ge=0, le=1)
    private_network_integration: float | None = Field(None, ge=0, le=1)


class HostedService(Strict):
    """A service behind a router (a cloud platform front end, say) that the SLA measures (issue 8).

    The router gets a service LAN, advertised into IS-IS and passive, whose second address is the
    service's; the exporter probes it the way blackbox_exporter does (HTTP GET or TCP connect)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,15}$")
    router: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")
    kind: Literal["http", "tcp"] = "http"
    port: int = Field(80, ge=1, le=65535)
    path: str = Field("/", pattern=r"^/[!-~]{0,200}$")
    #: counts toward the cloud platform's availability target (platform_uptime)
    cloud: bool = True
    description: NoteText = ""


class Sla(Strict):
    """How faults and bandwidth are judged against the plan's targets."""

    fault_target_hours: float = Field(3.0, gt=0, le=720)
    escalate_at_hours: list[float] = Field(default_factory=lambda: [2.0, 2.5])
    #: an uplink whose 95th-percentile utilisation stays under this share meets the unit's needs
    bandwidth_threshold: float = Field(0.8, gt=0, le=1)

    @model_validator(mode="after")
    def _escalate_before_target(self) -> "Sla":
        late = [h for h in self.escalate_at_hours if not 0 < h < self.fault_target_hours]
        if late:
            raise ValueError(f"escalations must fire before the {self.fault_target_hours} h target (got {late})")
        return self


class Lab(Strict):
    """How the plan is scaled down when it runs as a virtual lab on one machine."""

    bandwidth_divisor: int = Field(100, ge=1)


class Profile(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    description: NoteText = ""
    seed: NoteText = ""
    tiers: dict[TierName, Tier]
    root: Site
    pools: Pools
    igp: Igp = Igp()
    services: Services
    targets: dict[int, Target] = {}
    hosted_services: list[HostedService] = []
    sla: Sla = Sla()
    lab: Lab = Lab()

    @model_validator(mode="before")
    @classmethod
    def _tier_keys_to_children(cls, data: Any) -> Any:
        """Let operators write ``city: [...]`` inside a site instead of ``children: {city: ...}``."""
        if not isinstance(data, dict) or not isinstance(data.get("tiers"), dict):
            return data
        tiers = set(data["tiers"])

        def fold(site: Any) -> Any:
            if not isinstance(site, dict):
                return site
            site = dict(site)
            children = dict(site.pop("children", None) or {})
            for key in list(site):
                if key in tiers:
                    children[key] = site.pop(key)
            if children:
                for tier, value in children.items():
                    if isinstance(value, list):
                        children[tier] = [fold(s) for s in value]
                    elif isinstance(value, dict):
                        block = dict(value)
                        sub = dict(block.pop("children", None) or {})
                        for key in list(block):
                            if key in tiers:
                                sub[key] = block.pop(key)
                        if sub:
                            block["children"] = sub
                        children[tier] = block
                site["children"] = children
            return site

        data = dict(data)
        data["root"] = fold(data.get("root"))
        return data

    @field_validator("tiers")
    @classmethod
    def _one_root_tier(cls, tiers: dict[str, Tier]) -> dict[str, Tier]:
        roots = [n for n, t in tiers.items() if t.parent is None]
        if len(roots) != 1:
            raise ValueError(f"exactly one tier must have no parent (found {len(roots) or 'none'})")
        for name, t in tiers.items():
            if t.parent is not None and t.parent not in tiers:
                raise ValueError(f"tier {name!r} has unknown parent {t.parent!r}")
            if t.parent is not None and t.bandwidth is None:
                raise ValueError(f"tier {name!r} needs a bandwidth (its links to tier {t.parent!r})")
        # reject cycles: walk up from each tier
        for name in tiers:
            seen: set[str] = set()
            cur: str | None = name
            while cur is not None:
                if cur in seen:
                    raise ValueError(f"tier {name!r} is in a parent cycle")
                seen.add(cur)
                cur = tiers[cur].parent
        return tiers

    @property
    def root_tier(self) -> str:
        return next(n for n, t in self.tiers.items() if t.parent is None)

"""The cloud layout of one Pulumi stack: ``stacks/Pulumi.<stack>.yaml``, keys under ``egov:``.

A cloud admin states the layout as structured Pulumi config (so ``pulumi config set --path
'egov:regions[0].capacity.vcpu' 4000`` works too): the sites and regions of the "1+11+N" clouds
with their capacity and the backbone routers they attach to, the departments and their tenancies,
the three DR centres, the address pools and the shared services. The schema is strict (unknown keys
are errors) and every problem is one line naming the file, the line and the field. Rules that need
the whole picture (names, prefixes, DR replicas, quotas) are policies (``egov.cloud.policy``), run
on what the program would create, not here: the schema says what can be written, the policies say
what may be deployed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from egov.errors import EgovError, Problem
from egov.paths import project_root

# the backbone's YAML loading rules (duplicate keys refused, alias bombs bounded, line lookup) are the
# operator's contract for every file egov reads; reuse them rather than restate them
from egov.plan.load import _DupKey, _expanded_size, _fix_for, _StrictLoader, display_path
from egov.plan.schema import AnyPrefix, IPv4Prefix, IPv6Prefix, NoteText, one_line

#: a region, site or service name: it starts every resource name of its region (see the name policy)
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,23}$")]
#: a department id as written; loose on purpose: the name policy, not the schema, enforces the
#: convention, so a stack that breaks it is reported the way every other policy violation is
DeptId = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
#: a backbone router hostname (``sn-a``, ``sn-xa-b``)
Hostname = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")]
Ipv6Mode = Literal["slaac", "dhcpv6-stateful", "dhcpv6-stateless", "off"]

STACK_NAMESPACE = "egov"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Capacity(Strict):
    """What a region can host, or what a tenancy reserves: vCPU, RAM and block storage."""

    vcpu: int = Field(ge=0, le=10_000_000)
    ram_gb: int = Field(ge=0, le=100_000_000)
    disk_gb: int = Field(ge=0, le=10_000_000_000)


class Pools(Strict):
    ipv4: list[IPv4Prefix] = Field(min_length=1)
    ipv6: list[IPv6Prefix] = Field(min_length=1)


class PrefixLengths(Strict):
    """Size of each tenancy's subnets. IPv6 is /64: SLAAC needs it, and so do most clients."""

    ipv4: int = Field(24, ge=16, le=29)
    ipv6: Literal[64] = 64


class Uplink(Strict):
    """The region's extranet transfer network: a provider VLAN to its backbone router pair.

    Tenancy routers take their gateway address here; the backbone routers hold the first address
    of each prefix (VRRP) and route the tenancy prefixes to the tenancy routers (no NAT: the cloud
    and the extranet share one address plan)."""

    vlan: int = Field(ge=1, le=4094)
    physical_network: str = Field("extranet", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    ipv4: IPv4Prefix
    ipv6: IPv6Prefix


class Site(Strict):
    """A data centre. ``city`` is the backbone city site id (``xa``, ``yl``): DR "remote" means
    another city."""

    city: str = Field(pattern=r"^[a-z][a-z0-9]{0,15}$")
    name: NoteText = ""


class Region(Strict):
    """One cloud of the layout (one OpenStack region): provincial, municipal or industry."""

    name: Name
    kind: Literal["provincial", "municipal", "industry"]
    site: Name
    description: NoteText = ""
    auth_url: str = Field(pattern=r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$")
    #: the clouds.yaml entry holding the automation user's credentials (default egov-<name>)
    cloud: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    openstack_region: str = Field("RegionOne", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    #: run by another stack (a provincial cloud a city joins): this stack only adds its own
    #: tenancies there; no platform resources, no backbone attachment of its own
    external: bool = False
    #: the backbone router pair the region's extranet network attaches to
    attach: list[Hostname] = []
    #: name of the region's external (extranet) network; created here unless the region is external
    extranet_network: str = Field("extranet", pattern=r"^[a-z][a-z0-9.-]{0,62}$")
    uplink: Uplink | None = None
    capacity: Capacity
    pools: Pools
    #: where this region's systems keep DR replicas (default: the DR centres other than its own)
    dr_targets: list[Name] | None = None


class Service(Strict):
    """A shared platform service tenancies use: its addresses, and the ports it opens on them.

    ``dns`` is special: its addresses become the subnets' resolvers."""

    description: NoteText = ""
    ipv4: list[AnyPrefix] = []
    ipv6: list[AnyPrefix] = []
    protocol: Literal["tcp", "udp"] = "tcp"
    #: ports the service reaches inside tenancies (monitoring scrapes, backup agents); empty: none
    ports: list[str] = []

    @field_validator("ports")
    @classmethod
    def _ports(cls, ports: list[str]) -> list[str]:
        for p in ports:
            port_range(p)
        return ports


def port_range(text: str) -> tuple[int, int]:
    """'443' -> (443, 443); '8000-8080' -> (8000, 8080)."""
    lo, _, hi = str(text).partition("-")
    try:
        a, b = int(lo), int(hi or lo)
    except ValueError:
        raise ValueError(f"port {text!r} is not like 443 or 8000-8080") from None
    if not (1 <= a <= b <= 65535):
        raise ValueError(f"port range {text!r} must be within 1-65535, low to high")
    return a, b


class Ingress(Strict):
    """A port a department publishes (its applications), and who may reach it."""

    protocol: Literal["tcp", "udp"] = "tcp"
    ports: str
    #: default: the extranet (``egov:extranet``)
    sources: list[AnyPrefix] | None = None
    description: NoteText = ""

    @field_validator("ports")
    @classmethod
    def _ports(cls, ports: str) -> str:
        port_range(ports)
        return ports


class Department(Strict):
    """A department and its tenancy (project) in its home region."""

    id: DeptId
    name: NoteText = ""
    region: Name
    #: shared services used (names from egov:services); null: all of them
    services: list[Name] | None = None
    ipv6_mode: Ipv6Mode = "slaac"
    #: pinned tenancy prefixes (else allocated from the region's pools and kept in the lock file)
    ipv4: IPv4Prefix | None = None
    ipv6: IPv6Prefix | None = None
    #: published ports; null: egov:default_ingress
    ingress: list[Ingress] | None = None
    #: room for systems not in the catalogue (new systems built on the cloud), added to the quota
    reserve: Capacity = Capacity(vcpu=0, ram_gb=0, disk_gb=0)


class DrCentres(Strict):
    """"Two sites, three centres": the regions of the production, same-city and remote DR centres."""

    production: Name
    same_city: Name
    remote: Name
    #: where departments' backup vaults are copied (the central backup centre); default: remote
    backup: Name | None = None


class Flavor(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9.-]{0,30}$")
    vcpu: int = Field(ge=1, le=1024)
    ram_gb: int = Field(ge=1, le=16384)


#: the flavor family the regions publish; a system gets the smallest that holds its vCPU and RAM
DEFAULT_FLAVORS = tuple(
    Flavor(name=f"c{c}m{c * r}", vcpu=c, ram_gb=c * r) for c in (1, 2, 4, 8, 16, 32, 64) for r in (2, 4, 8)
)


class Migration(Strict):
    """How fast systems move: waves bounded in systems and in each region's capacity."""

    max_systems_per_wave: int = Field(100, ge=1, le=100_000)
    #: share of a region's capacity one wave may bring in (cut-over effort, rollback room)
    wave_share: float = Field(0.25, gt=0, le=1)
    #: quotas are the planned use times (1 + headroom); placements stop where quotas still fit
    quota_headroom: float = Field(0.2, ge=0, le=5)
    max_waves: int = Field(60, ge=1, le=1000)


class Layout(Strict):
    """Everything under ``egov:`` in one stack file."""

    backbone: str = Field(pattern=r"^[A-Za-z0-9_./-]{1,200}$")
    catalogue: str | None = None
    description: NoteText = ""
    image: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")
    automation_user: str = Field("egov-automation", pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    #: every instance boots from a volume of this size (the catalogue's disk_gb is its data volume)
    boot_volume_gb: int = Field(40, ge=1, le=2048)
    pools: Pools
    extranet: list[AnyPrefix] = Field(min_length=1)
    ops_networks: list[AnyPrefix] = Field(min_length=1)
    tenancy_prefix: PrefixLengths = PrefixLengths()
    sites: dict[Name, Site] = Field(min_length=1)
    regions: list[Region] = Field(min_length=1)
    departments: list[Department] = Field(min_length=1)
    dr: DrCentres
    services: dict[Name, Service] = {}
    default_ingress: list[Ingress] = [Ingress(protocol="tcp", ports="443", description="HTTPS")]
    flavors: list[Flavor] = list(DEFAULT_FLAVORS)
    migration: Migration = Migration()
    #: deploy systems up to this wave only (null: all); the offline plan always shows every wave
    through_wave: int | None = Field(None, ge=0, le=1000)
    #: the vaults' Swift container-sync key: a Pulumi secret (`pulumi config set --secret`), read by
    #: the engine only; egov never reads or prints it
    vault_sync_key: dict[str, str] | None = None

    @model_validator(mode="after")
    def _one_line_names(self) -> Layout:
        one_line(self.backbone)
        return self

    def region(self, name: str) -> Region:
        return next(r for r in self.regions if r.name == name)


def _cross_references(layout: Layout, where: Any) -> list[Problem]:
    """Names that must point at something declared elsewhere in the same file."""
    out: list[Problem] = []

    def bad(path: str, message: str, fix: str) -> None:
        out.append(Problem(where(path), path, message, fix))

    names = [r.name for r in layout.regions]
    known = ", ".join(names)
    seen: set[str] = set()
    for i, r in enumerate(layout.regions):
        p = f"egov:regions[{i}]"
        if r.name in seen:
            bad(f"{p}.name", f"region {r.name!r} is declared twice", "give each region its own name")
        seen.add(r.name)
        if r.site not in layout.sites:
            bad(f"{p}.site", f"unknown site {r.site!r}", f"use one of: {', '.join(layout.sites)}")
        if not r.external and len(r.attach) != 2:
            bad(f"{p}.attach", f"region {r.name} attaches to {len(r.attach)} backbone routers, not a pair",
                "name the two routers of its backbone pair, like [sn-a, sn-b]")
        if not r.external and r.uplink is None:
            bad(f"{p}.uplink", f"region {r.name} has no extranet uplink",
                "give uplink: {vlan, ipv4, ipv6} (the transfer network to its backbone pair)")
        for j, t in enumerate(r.dr_targets or []):
            if t not in names:
                bad(f"{p}.dr_targets[{j}]", f"unknown region {t!r}", f"use one of: {known}")
    ids: set[str] = set()
    for i, d in enumerate(layout.departments):
        p = f"egov:departments[{i}]"
        if d.id in ids:
            bad(f"{p}.id", f"department {d.id!r} is declared twice", "keep one entry per department")
        ids.add(d.id)
        if d.region not in names:
            bad(f"{p}.region", f"unknown region {d.region!r}", f"use one of: {known}")
        elif layout.region(d.region).external:
            bad(f"{p}.region", f"region {d.region} is run by another stack",
                "home departments in a region this stack runs")
        for j, s in enumerate(d.services or []):
            if s not in layout.services:
                bad(f"{p}.services[{j}]", f"unknown service {s!r}",
                    f"use one of: {', '.join(layout.services) or '(none declared in egov:services)'}")
    for role in ("production", "same_city", "remote", "backup"):
        value = getattr(layout.dr, role)
        if value is not None and value not in names:
            bad(f"egov:dr.{role}", f"unknown region {value!r}", f"use one of: {known}")
    centres = [layout.dr.production, layout.dr.same_city, layout.dr.remote]
    if len(set(centres)) != 3:
        bad("egov:dr", "the three DR centres must be three different regions",
            "name the production, same-city and remote regions")
    elif all(c in names for c in centres):
        sites = [layout.region(c).site for c in centres]
        if len(set(sites)) != 3:
            bad("egov:dr", "two DR centres share a data centre (site)", "put each centre in its own site")
    flavor_names = [f.name for f in layout.flavors]
    if len(set(flavor_names)) != len(flavor_names):
        bad("egov:flavors", "flavor names repeat", "give each flavor its own name")
    return out


@dataclass(frozen=True, slots=True)
class LoadedStack:
    """A stack file read and checked: its layout plus what messages need (path, lines)."""

    name: str
    path: Path
    shown: str
    layout: Layout
    source: KeyLines = field(repr=False, compare=False)

    def where(self, field_path: str | None) -> str:
        """``file:line`` of a config field (``egov:regions[2].capacity``), or the file."""
        if not field_path:
            return self.shown
        line = self.source.line(("config",) + _split(field_path))
        return f"{self.shown}:{line}" if line else self.shown

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(f"{self.name}.lock.json")

    def resolve(self, relative: str) -> Path:
        """Paths in the layout (the catalogue) are relative to the project root."""
        p = Path(relative)
        return p if p.is_absolute() else project_root() / p


def _split(field_path: str) -> tuple[str | int, ...]:
    from egov.plan.load import parse_field_path

    return parse_field_path(field_path)


class KeyLines:
    """Field path -> line of its *key* (``capacty:``), not of its value: in block YAML a mapping's
    value starts on the next line, and the operator should land on the key."""

    def __init__(self, text: str):
        try:
            self.root = yaml.compose(text, Loader=_StrictLoader)
        except yaml.YAMLError:
            self.root = None

    def line(self, loc: tuple[str | int, ...]) -> int | None:
        node, line = self.root, None
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                hit = next(((k, v) for k, v in node.value if k.value == str(part)), None)
                if hit is None:
                    break
                line, node = hit[0].start_mark.line + 1, hit[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return line


def stack_path(ref: str) -> tuple[str, Path]:
    """``shaanxi`` -> stacks/Pulumi.shaanxi.yaml; a path is taken as it is (name from the file)."""
    p = Path(ref)
    if p.suffix in (".yaml", ".yml") or "/" in ref:
        name = p.stem.removeprefix("Pulumi.")
        if not p.is_file():
            raise EgovError.one(ref, "", "stack file not found", "give an existing Pulumi.<stack>.yaml or a stack name")
        return name, p
    candidate = project_root() / "stacks" / f"Pulumi.{ref}.yaml"
    if not candidate.is_file():
        known = sorted(x.name.removeprefix("Pulumi.").removesuffix(".yaml")
                       for x in (project_root() / "stacks").glob("Pulumi.*.yaml"))
        raise EgovError.one(f"stacks/Pulumi.{ref}.yaml", "", f"no stack named {ref!r}",
                            f"use one of: {', '.join(known) or '(none)'} or a path to a stack file")
    return ref, candidate


def load_stack(ref: str) -> LoadedStack:
    """Read, parse and check one stack file; raise EgovError with one line per problem."""
    name, path = stack_path(ref)
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EgovError.one(shown, "", f"cannot read stack file ({exc.__class__.__name__})", "check the file") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except _DupKey as exc:
        raise EgovError.one(f"{shown}:{exc.mark.line + 1}", str(exc.key), "duplicate key",
                            "keep one of the two entries") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise EgovError.one(where, "", f"malformed YAML ({problem})", "fix the YAML syntax at that line") from None
    if _expanded_size(data, 500_000) is None:
        raise EgovError.one(shown, "(top)", "YAML aliases expand to more than 500,000 values, or refer to themselves",
                            "write the repeated parts out")
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        raise EgovError.one(shown, "config", "no config mapping", "start from stacks/Pulumi.shaanxi.yaml")
    source = KeyLines(text)
    layout = layout_from_config(config, shown, source)
    return LoadedStack(name=name, path=path, shown=shown, layout=layout, source=source)


def layout_from_config(config: dict[str, Any], shown: str, source: KeyLines | None = None) -> Layout:
    """Validate the ``egov:*`` keys of a stack's config (a file's, or the engine's at ``pulumi up``)."""

    def where(field_path: str) -> str:
        line = source.line(("config",) + _split(field_path)) if source else None
        return f"{shown}:{line}" if line else shown

    prefix = STACK_NAMESPACE + ":"
    data = {k[len(prefix):]: v for k, v in config.items() if isinstance(k, str) and k.startswith(prefix)}
    try:
        layout = Layout.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = list(err["loc"])
            path = prefix + str(loc[0]) if loc else "egov"
            for part in loc[1:]:
                path += f"[{part}]" if isinstance(part, int) else f".{part}"
            msg = err["msg"].replace("Value error, ", "")
            fix = _fix_for(err, path)
            if err["type"] == "extra_forbidden":
                msg, fix = "unknown field", "remove it or check its spelling (docs/cloud.md lists the keys)"
            problems.append(Problem(where(path), path, msg, fix))
        raise EgovError(problems) from None
    problems = _cross_references(layout, where)
    if problems:
        raise EgovError(problems)
    return layout


def prefixes(nets: list[Any]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(str(n)) for n in nets]

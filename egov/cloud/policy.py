"""Policies checked on every plan, on the resources the program would create (not on the config).

``pulumi_policy`` packs need the Pulumi CLI to run, so the checks run here, on the plain records
the offline run collects (``mockrun.Record``: camelCase inputs, numbers as floats), plus the
backbone plan the stack names. Each violation is one line; any violation fails the plan.

=============  ===============================================================================
check          rule
=============  ===============================================================================
dual-stack     every tenancy network has an IPv4 and an IPv6 subnet (SLAAC or DHCPv6 stateful,
               RA mode = address mode), each on the tenancy router
dr-replicas    every DR level 5/6 system has running standby copies in two DR centres other
               than its own data centre, at least one in another city; levels 3+ keep their
               data on a replicated volume type (level 6: synchronous)
admin-ports    no security group rule opens SSH, RDP, database or other management ports to
               0.0.0.0/0 or ::/0 (or any address); management ports only from the ops networks
default-group  instances use their tenancy's baseline group, never the project's ``default``
               group, and baseline groups drop OpenStack's default rules
quotas         the quotas of a region's tenancies add up to no more than the region's capacity
names          logical and OpenStack names: lowercase letters, digits and hyphens, at most 63,
               starting with the region (tenancy resources: with the tenancy)
addressing     subnets inside the stack's pools (tenancy subnets inside their region's), no
               overlaps between them, none with the backbone plan's pools or ops networks
attachment     each region's extranet attaches to two routers that exist in the backbone plan
=============  ===============================================================================
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from egov.cloud.mockrun import PROVIDER_TYPE, Record, mock_id
from egov.cloud.model import CloudModel
from egov.topology.validate import Plan

T_PROJECT = "openstack:identity/project:Project"
T_NETWORK = "openstack:networking/network:Network"
T_SUBNET = "openstack:networking/subnet:Subnet"
T_RIF = "openstack:networking/routerInterface:RouterInterface"
T_SG = "openstack:networking/secGroup:SecGroup"
T_RULE = "openstack:networking/secGroupRule:SecGroupRule"
T_QC = "openstack:compute/quotaSetV2:QuotaSetV2"
T_QV = "openstack:blockstorage/quoteSetV3:QuoteSetV3"
T_QN = "openstack:networking/quotaV2:QuotaV2"
T_VM = "openstack:compute/instance:Instance"
T_OBJECT = "openstack:objectstorage/containerObject:ContainerObject"
T_TENANCY = "egov:cloud:Tenancy"
T_REGION = "egov:cloud:CloudRegion"

CHECKS = ("dual-stack", "dr-replicas", "admin-ports", "default-group", "quotas", "names", "addressing",
          "attachment")

#: ports that administer a machine: only from the ops networks, never from anywhere
MGMT_PORTS = {("tcp", 22): "SSH", ("tcp", 23): "Telnet", ("tcp", 3389): "RDP", ("tcp", 5900): "VNC",
              ("tcp", 5985): "WinRM", ("tcp", 5986): "WinRM", ("udp", 161): "SNMP", ("udp", 623): "IPMI",
              ("tcp", 2375): "Docker API", ("tcp", 2376): "Docker API", ("tcp", 6443): "Kubernetes API",
              ("tcp", 10250): "kubelet", ("tcp", 8006): "Proxmox", ("tcp", 9090): "Cockpit"}
#: database ports (incl. the Xinchuang databases DM, KingbaseES and OceanBase): never from anywhere
DB_PORTS = {("tcp", 1433): "SQL Server", ("tcp", 1521): "Oracle", ("tcp", 3306): "MySQL",
            ("tcp", 5432): "PostgreSQL/openGauss", ("tcp", 5236): "DM (Dameng)", ("tcp", 54321): "KingbaseES",
            ("tcp", 2881): "OceanBase", ("tcp", 6379): "Redis", ("tcp", 27017): "MongoDB",
            ("tcp", 9200): "Elasticsearch", ("tcp", 11211): "memcached", ("tcp", 9042): "Cassandra"}
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
OS_NAME_RE = re.compile(r"^[a-z][a-z0-9.-]{0,62}$")


@dataclass(frozen=True, slots=True)
class Violation:
    check: str
    resource: str
    message: str
    fix: str
    #: the stack config field to blame (its line goes into the message), if one is to blame
    config: str | None = None


def _net(text: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(str(text), strict=False)
    except ValueError:
        return None


def _int(x: Any) -> int | None:
    return None if x is None else int(x)


class Index:
    """Records by type and by logical name, and which tenancy or region each belongs to."""

    def __init__(self, records: list[Record], model: CloudModel):
        self.records = records
        self.by_type: dict[str, list[Record]] = defaultdict(list)
        for r in records:
            self.by_type[r.type].append(r)
        self.model = model

    def tenancy_of(self, r: Record) -> str | None:
        p = r.parent_name
        return p if p in self.model.tenancies else None


def run(records: list[Record], model: CloudModel, backbone: Plan | None) -> list[Violation]:
    ix = Index(records, model)
    out: list[Violation] = []
    out += dual_stack(ix)
    out += dr_replicas(ix)
    out += admin_ports(ix)
    out += default_group(ix)
    out += quotas(ix)
    out += names(ix)
    out += addressing(ix, backbone)
    out += attachment(model, backbone)
    return out


def dual_stack(ix: Index) -> list[Violation]:
    out = []
    subnets: dict[str, list[Record]] = defaultdict(list)
    for s in ix.by_type[T_SUBNET]:
        subnets[s.inputs.get("networkId", "")].append(s)
    on_router = {r.inputs.get("subnetId") for r in ix.by_type[T_RIF]}
    for net in ix.by_type[T_NETWORK]:
        t = ix.tenancy_of(net)
        if t is None:
            continue
        path = ix.model.tenancies[t].config_path + ".ipv6_mode"
        mine = subnets.get(mock_id(net.name), [])
        versions = {_int(s.inputs.get("ipVersion")) for s in mine}
        for v in (4, 6):
            if v not in versions:
                out.append(Violation("dual-stack", net.name, f"tenancy network has no IPv{v} subnet",
                                     "every tenancy network is dual stack: set ipv6_mode to slaac or "
                                     "dhcpv6-stateful", path))
        for s in mine:
            if _int(s.inputs.get("ipVersion")) == 6:
                a, ra = s.inputs.get("ipv6AddressMode"), s.inputs.get("ipv6RaMode")
                if a not in ("slaac", "dhcpv6-stateful") or a != ra:
                    out.append(Violation("dual-stack", s.name, f"IPv6 address mode {a}, RA mode {ra}",
                                         "use slaac or dhcpv6-stateful for both", path))
            if mock_id(s.name) not in on_router:
                out.append(Violation("dual-stack", s.name, "subnet is not on the tenancy router",
                                     "add a router interface for it", path))
    return out


def dr_replicas(ix: Index) -> list[Violation]:
    model = ix.model
    layout = model.layout
    centres = {layout.dr.production, layout.dr.same_city, layout.dr.remote}
    standby: dict[str, list[dict[str, Any]]] = defaultdict(list)
    primaries: list[Record] = []
    for vm in ix.by_type[T_VM]:
        meta = vm.inputs.get("metadata") or {}
        if meta.get("egov-role") == "standby":
            standby[meta.get("egov-system", "")].append({**meta, "powerState": vm.inputs.get("powerState")})
        elif meta.get("egov-role") == "primary":
            primaries.append(vm)
    out = []
    for vm in primaries:
        meta = vm.inputs["metadata"]
        level = int(meta.get("egov-dr-level", 0))
        region = meta.get("egov-region", "")
        try:
            own = model.region(region)
        except StopIteration:
            continue
        path = f"egov:regions[{model.region_index(region)}].dr_targets" if own.dr_targets else "egov:dr"
        data = [b for b in vm.inputs.get("blockDevices", []) if b.get("sourceType") == "blank"]
        vtype = data[0].get("volumeType") if data else None
        if level >= 3 and not str(vtype).startswith("replicated-"):
            out.append(Violation("dr-replicas", vm.name, f"DR level {level} data volume has type {vtype}, "
                                 "not replicated", "use the replicated-async or replicated-sync volume type"))
        if level == 6 and vtype != "replicated-sync":
            out.append(Violation("dr-replicas", vm.name, f"DR level 6 (RPO 0) data volume has type {vtype}",
                                 "use replicated-sync (zero data loss)"))
        if level < 5:
            continue
        own_site = own.site
        own_city = layout.sites[own_site].city
        copies = [c for c in standby.get(meta["egov-system"], []) if c.get("powerState") == "active"]
        sites = set()
        for c in copies:
            r = c.get("egov-region", "")
            if r in centres:
                site = model.region(r).site
                if site != own_site:
                    sites.add(site)
        remote = {s for s in sites if layout.sites[s].city != own_city}
        if len(sites) < 2:
            out.append(Violation("dr-replicas", vm.name, f"DR level {level} has running copies in "
                                 f"{len(sites)} DR centre(s) other than its own data centre, not 2",
                                 "keep copies in both other centres of egov:dr", path))
        elif not remote:
            out.append(Violation("dr-replicas", vm.name, f"DR level {level} has no copy outside {own_city} "
                                 "(no remote centre)", "put egov:dr.remote in another city", path))
    return out


def _covered(protocol: str | None, lo: int | None, hi: int | None,
             table: dict[tuple[str, int], str]) -> list[str]:
    hits = []
    for (proto, port), what in table.items():
        if protocol not in (None, proto):
            continue
        if (lo is None and hi is None) or (lo is not None and hi is not None and lo <= port <= hi):
            hits.append(f"{proto}/{port} ({what})")
    return hits


def admin_ports(ix: Index) -> list[Violation]:
    layout = ix.model.layout
    ops = [ipaddress.ip_network(str(n)) for n in layout.ops_networks]
    out = []
    for r in ix.by_type[T_RULE]:
        i = r.inputs
        if i.get("direction") != "ingress" or i.get("protocol") in ("icmp", "ipv6-icmp"):
            continue
        proto = i.get("protocol")
        lo, hi = _int(i.get("portRangeMin")), _int(i.get("portRangeMax"))
        net = _net(i.get("remoteIpPrefix")) if i.get("remoteIpPrefix") else None
        anywhere = (net is None and not i.get("remoteGroupId")) or (net is not None and net.prefixlen == 0)
        t = ix.tenancy_of(r)
        path = ix.model.tenancies[t].config_path if t else None
        mgmt = _covered(proto, lo, hi, MGMT_PORTS)
        db = _covered(proto, lo, hi, DB_PORTS)
        src = str(net) if net is not None else "any address"
        if anywhere and (mgmt or db):
            what = ", ".join((mgmt + db)[:3]) + ("..." if len(mgmt + db) > 3 else "")
            out.append(Violation("admin-ports", r.name, f"opens {what} to {src}",
                                 "allow management only from egov:ops_networks, databases only from their "
                                 "application networks", path))
        elif mgmt and net is not None and not _inside(net, ops):
            out.append(Violation("admin-ports", r.name, f"opens {', '.join(mgmt[:3])} to {src}, outside the "
                                 "ops networks", "allow management only from egov:ops_networks", path))
    return out


def default_group(ix: Index) -> list[Violation]:
    out = []
    for sg in ix.by_type[T_SG]:
        if not sg.inputs.get("deleteDefaultRules"):
            out.append(Violation("default-group", sg.name, "keeps OpenStack's default rules",
                                 "create it with delete_default_rules"))
    for vm in ix.by_type[T_VM]:
        groups = vm.inputs.get("securityGroups") or []
        if not groups or "default" in groups:
            out.append(Violation("default-group", vm.name, f"security groups {groups or 'none'}",
                                 "use the tenancy's baseline group (inbound denied by default)"))
    return out


def quotas(ix: Index) -> list[Violation]:
    model = ix.model
    used: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    have: dict[str, set[str]] = defaultdict(set)
    for typ, fields in ((T_QC, {"cores": "vcpu", "ram": "ram_mb"}), (T_QV, {"gigabytes": "disk_gb"}),
                        (T_QN, {})):
        for q in ix.by_type[typ]:
            t = ix.tenancy_of(q)
            if t is None:
                continue
            have[t].add(typ)
            for key, dim in fields.items():
                used[model.tenancies[t].region][dim] += float(q.inputs.get(key) or 0)
    out = []
    for t in model.tenancies:
        missing = [typ.rsplit(":", 1)[-1] for typ in (T_QC, T_QV, T_QN) if typ not in have[t]]
        if missing:
            out.append(Violation("quotas", t, f"no {', '.join(missing)}", "set compute, network and volume quotas"))
    for i, region in enumerate(model.layout.regions):
        cap = region.capacity
        u = used.get(region.name, {})
        for dim, limit, unit in (("vcpu", cap.vcpu, "vCPU"), ("ram_mb", cap.ram_gb * 1024, "MB RAM"),
                                 ("disk_gb", cap.disk_gb, "GB block storage")):
            if u.get(dim, 0) > limit:
                out.append(Violation("quotas", region.name, f"tenancy quotas add up to {int(u[dim]):,} {unit}, "
                                     f"over the region's capacity of {limit:,}",
                                     "lower the departments' reserve or raise the capacity",
                                     f"egov:regions[{i}].capacity"))
    return out


def names(ix: Index) -> list[Violation]:
    """One line per department (or platform resource) whose names break the convention, not one per
    resource: a bad department id would otherwise flood the output with every resource it names."""
    model = ix.model
    regions = [r.name for r in model.layout.regions]
    tenancies = sorted(model.tenancies, key=len, reverse=True)
    depts = {d.id: i for i, d in enumerate(model.layout.departments)}
    seen: set[tuple[str, str]] = set()
    out = []

    def owner(r: Record) -> tuple[str, str | None]:
        t = ix.tenancy_of(r) or next((x for x in tenancies if r.name == x or r.name.startswith(x + "-")), None)
        if t is not None:
            d = model.tenancies[t].department
            return d.id, model.tenancies[t].config_path + ".id"
        d_id = next((d for d in depts if r.name.endswith("-" + d)), None)
        if d_id is not None:
            return d_id, f"egov:departments[{depts[d_id]}].id"
        return r.name, None

    def bad(r: Record, why: str) -> None:
        key, path = owner(r)
        if (key, why) in seen:
            return
        seen.add((key, why))
        out.append(Violation("names", r.name, why, "use lowercase letters, digits and hyphens (at most 63), "
                             "starting with the region and tenancy name", path))

    for r in ix.records:
        if not NAME_RE.match(r.name):
            bad(r, "name breaks the convention")
            continue
        t = ix.tenancy_of(r)
        if r.type.startswith("openstack:") or r.type == PROVIDER_TYPE:
            if not any(r.name.startswith(x + "-") for x in regions):
                bad(r, "name does not start with its region")
            elif t is not None and not r.name.startswith(t + "-"):
                bad(r, "name does not start with its tenancy")
        os_name = r.inputs.get("name")
        if isinstance(os_name, str) and r.type not in (T_RULE, T_OBJECT):  # object names are paths
            rx = NAME_RE if r.type == T_VM else OS_NAME_RE
            if not rx.match(os_name):
                bad(r, f"OpenStack name {os_name!r} breaks the convention")
    return out


def _taken(backbone: Plan | None, model: CloudModel) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if backbone is not None:
        pools = backbone.loaded.profile.pools
        for kind in ("loopback", "p2p", "mgmt"):
            for fam in ("ipv4", "ipv6"):
                for n in getattr(getattr(pools, kind), fam):
                    out.append((f"backbone {kind} pool {n}", ipaddress.ip_network(str(n))))
        for n in backbone.loaded.profile.services.mgmt_acl:
            out.append((f"backbone management network {n}", ipaddress.ip_network(str(n))))
    for n in model.layout.ops_networks:
        out.append((f"ops network {n}", ipaddress.ip_network(str(n))))
    return out


def addressing(ix: Index, backbone: Plan | None) -> list[Violation]:
    model = ix.model
    layout = model.layout
    stack_pools = [ipaddress.ip_network(str(n)) for n in [*layout.pools.ipv4, *layout.pools.ipv6]]
    taken = _taken(backbone, model)
    out = []
    for i, r in enumerate(layout.regions):
        for n in [*r.pools.ipv4, *r.pools.ipv6]:
            pool = ipaddress.ip_network(str(n))
            if not _inside(pool, stack_pools):
                out.append(Violation("addressing", r.name, f"region pool {pool} is outside egov:pools",
                                     "carve region pools out of egov:pools", f"egov:regions[{i}].pools"))
    subnets: list[tuple[Any, Record, str | None]] = []
    for s in ix.by_type[T_SUBNET]:
        net = _net(s.inputs.get("cidr"))
        if net is None:
            continue
        t = ix.tenancy_of(s)
        path = (model.tenancies[t].config_path + f".ipv{net.version}") if t else None
        subnets.append((net, s, path))
        if not _inside(net, stack_pools):
            out.append(Violation("addressing", s.name, f"{net} is outside the stack's pools (egov:pools)",
                                 "take tenancy prefixes from the region's pools", path))
        elif t is not None:
            region = model.region(model.tenancies[t].region)
            rp = [ipaddress.ip_network(str(n)) for n in [*region.pools.ipv4, *region.pools.ipv6]]
            if not _inside(net, rp):
                out.append(Violation("addressing", s.name, f"{net} is outside region {region.name}'s pools",
                                     "take tenancy prefixes from the region's pools", path))
        for what, other in taken:
            if other.version == net.version and net.overlaps(other):
                out.append(Violation("addressing", s.name, f"{net} overlaps the {what}",
                                     "use a prefix of the cloud pools that the backbone does not use", path))
    for fam in (4, 6):
        ordered = sorted((x for x in subnets if x[0].version == fam),
                         key=lambda x: (int(x[0].network_address), -x[0].prefixlen))
        widest: tuple[Any, Record, str | None] | None = None  # the subnet reaching furthest so far
        for cur in ordered:
            if widest is not None and cur[0].overlaps(widest[0]):
                out.append(Violation("addressing", cur[1].name, f"{cur[0]} overlaps {widest[0]} of {widest[1].name}",
                                     "give each tenancy its own prefix", cur[2]))
            if widest is None or int(cur[0].broadcast_address) > int(widest[0].broadcast_address):
                widest = cur
    if backbone is not None:
        for n in stack_pools:
            for what, other in taken:
                if other.version == n.version and n.overlaps(other) and what.startswith("backbone") and "pool" in what:
                    out.append(Violation("addressing", "egov:pools", f"cloud pool {n} overlaps the {what}",
                                         "give the cloud its own prefixes", "egov:pools"))
    return out


def _inside(net: Any, pools: Iterable[Any]) -> bool:
    return any(net.version == p.version and net.subnet_of(p) for p in pools)


def attachment(model: CloudModel, backbone: Plan | None) -> list[Violation]:
    if backbone is None:
        return []
    nodes = backbone.topology.nodes
    out = []
    for i, r in enumerate(model.layout.regions):
        if r.external:
            continue
        for j, router in enumerate(r.attach):
            if router not in nodes:
                out.append(Violation("attachment", r.name, f"router {router} is not in backbone plan "
                                     f"{backbone.loaded.profile.name}",
                                     "name routers of the backbone plan (egov plan show --profile "
                                     f"{backbone.loaded.profile.name} --json)", f"egov:regions[{i}].attach[{j}]"))
        if len(set(r.attach)) != len(r.attach):
            out.append(Violation("attachment", r.name, "attaches twice to the same router",
                                 "name the two routers of a pair", f"egov:regions[{i}].attach"))
    return out

"""From a stack's layout and catalogue to the plan of what the cloud must hold, as plain data.

Nothing here knows Pulumi: the model decides which tenancies exist (each department's home
tenancy, plus a standby tenancy in each DR centre that keeps copies of its systems), their
prefixes (``addressing``), their quotas, where each system and its DR copies go and in which wave
(``waves``). The Pulumi program (``program``) only maps this model to resources, so the same
decisions are reviewed offline (``egov cloud plan``) and deployed (``egov cloud up``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from egov.cloud import gbt20988
from egov.cloud.addressing import Allocation, Want, allocate, read_lock
from egov.cloud.catalogue import Catalogue, System, read_catalogue
from egov.cloud.config import Department, Flavor, Layout, LoadedStack, Region
from egov.cloud.waves import Demand, Item, budgets, plan_waves
from egov.errors import EgovError, Problem

Role = Literal["primary", "standby"]


@dataclass(frozen=True, slots=True)
class Placement:
    """One system on the cloud: its tenancy, flavor, DR copies and wave."""

    system: System
    region: str
    tenancy: str
    flavor: Flavor
    level: gbt20988.DrLevel
    #: regions that hold a standby copy (volume or instance), nearest first
    standby: tuple[str, ...]
    wave: int = 0

    @property
    def id(self) -> str:
        return self.system.id

    def demands(self, boot_gb: int) -> dict[str, Demand]:
        """Capacity used per region: the system itself, and its standby copies."""
        full = Demand(self.flavor.vcpu, self.flavor.ram_gb, self.system.disk_gb + boot_gb)
        out = {self.region: full}
        for r in self.standby:
            copy = full if self.level.standby == "instance" else Demand(0, 0, self.system.disk_gb)
            out[r] = out.get(r, Demand()) + copy
        return out


@dataclass(frozen=True, slots=True)
class Quota:
    instances: int
    cores: int
    ram_mb: int
    volumes: int
    gigabytes: int
    snapshots: int
    backups: int
    backup_gigabytes: int
    ports: int
    security_group_rules: int


@dataclass(slots=True)
class TenancyPlan:
    """A department's project in one region: its home (primary) or a DR centre (standby)."""

    name: str
    region: str
    department: Department
    #: index in egov:departments (messages name the config line)
    dept_index: int
    role: Role
    ipv4: Any = None
    ipv6: Any = None
    systems: list[str] = field(default_factory=list)
    standby_instances: list[str] = field(default_factory=list)
    standby_volumes: list[str] = field(default_factory=list)
    quota: Quota | None = None

    @property
    def config_path(self) -> str:
        return f"egov:departments[{self.dept_index}]"


@dataclass(slots=True)
class CloudModel:
    stack: LoadedStack
    catalogue: Catalogue | None
    tenancies: dict[str, TenancyPlan]
    placements: list[Placement]
    waves: list[list[Placement]]
    rooms_closed: list[list[str]]
    allocation: Allocation
    backup_region: str

    @property
    def layout(self) -> Layout:
        return self.stack.layout

    def region(self, name: str) -> Region:
        return self.stack.layout.region(name)

    def region_index(self, name: str) -> int:
        return next(i for i, r in enumerate(self.layout.regions) if r.name == name)


def tenancy_name(region: str, department: str) -> str:
    return f"{region}-{department}"


def dr_targets(layout: Layout, region: Region) -> list[str]:
    """Where a region's systems keep copies: the DR centres other than its own, nearest first.

    The production centre's systems go to the same-city centre, then the remote one; a region that
    is not a centre uses the same-city and remote centres (the central DR of the province)."""
    if region.dr_targets:
        return list(region.dr_targets)
    dr = layout.dr
    order = [dr.same_city, dr.remote, dr.production]
    return [r for r in order if r != region.name][:2]


def pick_flavor(layout: Layout, vcpu: int, ram_gb: int) -> Flavor | None:
    fits = [f for f in layout.flavors if f.vcpu >= vcpu and f.ram_gb >= ram_gb]
    return min(fits, key=lambda f: (f.vcpu, f.ram_gb, f.name)) if fits else None


def build_model(stack: LoadedStack, catalogue: Path | None = None, lock: dict[str, Any] | None = None) -> CloudModel:
    """Layout + catalogue + lock -> model; raise EgovError (one line per problem) if any."""
    layout = stack.layout
    cat_path = catalogue or (stack.resolve(layout.catalogue) if layout.catalogue else None)
    cat = read_catalogue(cat_path, {d.id for d in layout.departments}) if cat_path else None
    systems = cat.systems if cat else []
    depts = {d.id: (i, d) for i, d in enumerate(layout.departments)}
    placements, problems = _place(stack, cat, systems, depts)
    if problems:
        raise EgovError(problems)
    wave_of, waves_ids, rooms_closed = _waves(stack, cat, placements)
    placements = [_with_wave(p, wave_of[p.id]) for p in placements]
    by_id = {p.id: p for p in placements}
    waves = [[by_id[s] for s in ids] for ids in waves_ids]
    tenancies = _tenancies(layout, placements, depts)
    lock_data = lock if lock is not None else read_lock(stack.lock_path)
    wants = [Want(t.name, t.region, t.department.ipv4 if t.role == "primary" else None,
                  t.department.ipv6 if t.role == "primary" else None) for t in tenancies.values()]
    alloc = allocate(layout, wants, lock_data, where=stack.where)
    if alloc.problems:
        raise EgovError(alloc.problems)
    for t in tenancies.values():
        t.ipv4, t.ipv6 = alloc.prefixes[t.name]["ipv4"], alloc.prefixes[t.name]["ipv6"]
        t.quota = _quota(layout, t, by_id)
    backup = layout.dr.backup or layout.dr.remote
    return CloudModel(stack=stack, catalogue=cat, tenancies=tenancies, placements=placements, waves=waves,
                      rooms_closed=rooms_closed, allocation=alloc, backup_region=backup)


def _with_wave(p: Placement, wave: int) -> Placement:
    return Placement(p.system, p.region, p.tenancy, p.flavor, p.level, p.standby, wave)


def _place(stack: LoadedStack, cat: Catalogue | None, systems: list[System],
           depts: dict[str, tuple[int, Department]]) -> tuple[list[Placement], list[Problem]]:
    """Home region, flavor and DR copies of every system; rows that can never fit are problems."""
    layout = stack.layout
    _, per_wave = budgets(layout)
    largest = Demand(max(d.vcpu for d in per_wave.values()), max(d.ram_gb for d in per_wave.values()),
                     max(d.disk_gb for d in per_wave.values()))
    biggest = max(layout.flavors, key=lambda f: (f.vcpu, f.ram_gb))
    share = layout.migration.wave_share
    out: list[Placement] = []
    problems: list[Problem] = []
    for s in systems:
        at = cat.where(s.row) if cat else str(s.row)
        _, dept = depts[s.department]
        region = layout.region(dept.region)
        flavor = pick_flavor(layout, s.vcpu, s.ram_gb)
        if flavor is None:
            col = "vcpu" if s.vcpu > max(f.vcpu for f in layout.flavors) else "ram_gb"
            problems.append(Problem(at, col, f"{s.id} needs {s.vcpu} vCPU and {s.ram_gb} GB RAM, more than any "
                                    f"flavor (largest: {biggest.name})",
                                    "split the system, or add a larger flavor to egov:flavors"))
            continue
        level = gbt20988.level(s.dr_level)
        standby = tuple(dr_targets(layout, region)[:level.replicas])
        p = Placement(s, region.name, tenancy_name(region.name, dept.id), flavor, level, standby)
        for r, need in p.demands(layout.boot_volume_gb).items():
            over = need.over(per_wave[r])
            if not over:
                continue
            col = over[0]
            what = "it" if r == region.name else f"its DR copy (level {s.dr_level})"
            if need.over(largest):
                msg = (f"{s.id} is larger than any region: {what} needs {getattr(need, col)} {_unit(col)}, "
                       f"and no region takes more than {getattr(largest, col)} in one wave")
            else:
                cap = getattr(layout.region(r).capacity, col)
                msg = (f"{s.id} does not fit region {r}: {what} needs {getattr(need, col)} {_unit(col)}, and the "
                       f"region takes at most {getattr(per_wave[r], col)} per wave (capacity {cap} x wave_share "
                       f"{share})")
            problems.append(Problem(at, col, msg, "split the system, or raise the region's capacity or "
                                    "egov:migration.wave_share"))
            break
        else:
            out.append(p)
    return out, problems


def _unit(col: str) -> str:
    return {"vcpu": "vCPU", "ram_gb": "GB RAM", "disk_gb": "GB disk"}[col]


def _waves(stack: LoadedStack, cat: Catalogue | None,
           placements: list[Placement]) -> tuple[dict[str, int], list[list[str]], list[list[str]]]:
    layout = stack.layout
    boot = layout.boot_volume_gb
    items = [Item(p.id, p.system.depends_on, p.system.room, p.system.dr_level, p.system.row, p.demands(boot))
             for p in placements]
    plan = plan_waves(items, layout)
    problems: list[Problem] = []
    rows = {p.id: p.system.row for p in placements}
    waiting = f", and {len(plan.blocked)} more depend on them" if plan.blocked else ""
    for region, ids in plan.full.items():
        i = next(k for k, r in enumerate(layout.regions) if r.name == region)
        path = f"egov:regions[{i}].capacity"
        first = ids[0]
        problems.append(Problem(stack.where(path), path,
                                f"region {region} is full: {len(ids)} systems do not fit (first: {first}, "
                                f"{cat.shown if cat else 'catalogue'} row {rows[first]}){waiting}",
                                "raise its capacity, lower egov:migration.quota_headroom, or home some "
                                "departments in another region"))
    if plan.too_many_waves:
        path = "egov:migration.max_waves"
        problems.append(Problem(stack.where(path), path,
                                f"{len(placements) - len(plan.wave_of)} systems are left after "
                                f"{layout.migration.max_waves} waves",
                                "raise max_waves, max_systems_per_wave or wave_share"))
    elif plan.blocked and not plan.full:
        first = plan.blocked[0]
        problems.append(Problem(f"{cat.shown if cat else 'catalogue'}:{rows[first]}", "depends_on",
                                f"{len(plan.blocked)} systems could not be scheduled (first: {first})",
                                "check their dependencies"))
    if problems:
        raise EgovError(problems)
    return plan.wave_of, plan.waves, plan.rooms_closed


def _tenancies(layout: Layout, placements: list[Placement],
               depts: dict[str, tuple[int, Department]]) -> dict[str, TenancyPlan]:
    out: dict[str, TenancyPlan] = {}
    for i, d in enumerate(layout.departments):
        name = tenancy_name(d.region, d.id)
        out[name] = TenancyPlan(name, d.region, d, i, "primary")
    standby: dict[str, TenancyPlan] = {}
    for p in placements:
        out[p.tenancy].systems.append(p.id)
        i, d = depts[p.system.department]
        for r in p.standby:
            name = tenancy_name(r, d.id)
            t = standby.get(name)
            if t is None:
                t = standby[name] = TenancyPlan(name, r, d, i, "standby")
            (t.standby_instances if p.level.standby == "instance" else t.standby_volumes).append(p.id)
    for name in sorted(standby, key=lambda n: (standby[n].dept_index, n)):
        if name in out:
            raise EgovError.one("egov:departments", standby[name].department.id,
                                f"tenancy name {name} is both a home and a DR tenancy",
                                "rename the department or the region so region-department names differ")
        out[name] = standby[name]
    return out


def _quota(layout: Layout, t: TenancyPlan, by_id: dict[str, Placement]) -> Quota:
    """Planned use x (1 + headroom), plus the department's reserve in its home tenancy."""
    h = 1 + layout.migration.quota_headroom
    boot = layout.boot_volume_gb
    cores = ram = gb = instances = volumes = snaps = backups = backup_gb = 0
    for sid in t.systems:
        p = by_id[sid]
        cores += p.flavor.vcpu
        ram += p.flavor.ram_gb
        gb += p.system.disk_gb + boot
        instances += 1
        volumes += 2
        snaps += p.level.snapshot_keep
        backups += p.level.backup_keep
        # one full backup plus incrementals of about a tenth of the volume per kept backup
        backup_gb += math.ceil(p.system.disk_gb * (1 + 0.1 * p.level.backup_keep))
    for sid in t.standby_instances:
        p = by_id[sid]
        cores += p.flavor.vcpu
        ram += p.flavor.ram_gb
        gb += p.system.disk_gb + boot
        instances += 1
        volumes += 2
    for sid in t.standby_volumes:
        gb += by_id[sid].system.disk_gb
        volumes += 1
    reserve = t.department.reserve if t.role == "primary" else None
    r_cpu, r_ram, r_gb = (reserve.vcpu, reserve.ram_gb, reserve.disk_gb) if reserve else (0, 0, 0)

    def up(x: float) -> int:
        return math.ceil(x * h - 1e-9)

    n_inst = up(instances) + (r_cpu + 1) // 2
    return Quota(instances=n_inst, cores=up(cores + r_cpu), ram_mb=up(ram + r_ram) * 1024,
                 volumes=up(volumes) + (r_gb > 0) * 2 * ((r_cpu + 1) // 2), gigabytes=up(gb + r_gb),
                 snapshots=up(snaps), backups=up(backups), backup_gigabytes=up(backup_gb),
                 ports=2 * n_inst + 10, security_group_rules=100)

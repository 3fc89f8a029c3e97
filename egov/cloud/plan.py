"""``egov cloud plan``: everything a stack would create, counted and checked, with no cloud at all.

Load the stack file and its catalogue, build the model (tenancies, prefixes, quotas, waves), build
the backbone plan the stack names, run the Pulumi program under mocks, and run the policies on what
it registered. The result is plain data for tables and JSON.
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from egov.cloud import policy
from egov.cloud.addressing import write_lock
from egov.cloud.config import LoadedStack, load_stack
from egov.cloud.mockrun import Record, run_offline
from egov.cloud.model import CloudModel, build_model
from egov.errors import EgovError, Problem
from egov.plan.load import display_path
from egov.topology.validate import Plan, build_plan


@dataclass(slots=True)
class CloudPlan:
    model: CloudModel
    records: list[Record]
    violations: list[policy.Violation]
    backbone: Plan
    seconds: dict[str, float] = field(default_factory=dict)
    lock_note: str = ""

    @property
    def stack(self) -> LoadedStack:
        return self.model.stack

    def resources(self) -> dict[str, int]:
        """Counts per resource type (components included, with their egov: type)."""
        return dict(sorted(Counter(r.type for r in self.records).items()))

    def per_tenancy(self) -> dict[str, int]:
        """Resources under each tenancy component (its own, plus systems and copies placed in it)."""
        counts: Counter[str] = Counter()
        ten = self.model.tenancies
        for r in self.records:
            if r.parent_name in ten:
                counts[r.parent_name] += 1
        for p in self.model.placements:
            counts[p.tenancy] += 1
            for reg in p.standby:
                counts[f"{reg}-{p.system.department}"] += 1
        return {t: counts[t] for t in ten}

    def per_region(self) -> list[dict[str, Any]]:
        m = self.model
        used: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
        boot = m.layout.boot_volume_gb
        for p in m.placements:
            for reg, d in p.demands(boot).items():
                u = used[reg]
                u[0] += d.vcpu
                u[1] += d.ram_gb
                u[2] += d.disk_gb
        out = []
        for r in m.layout.regions:
            tens = [t for t in m.tenancies.values() if t.region == r.name]
            q = [t.quota for t in tens if t.quota]
            out.append({
                "name": r.name, "kind": r.kind, "site": r.site, "external": r.external,
                "attach": list(r.attach),
                "tenancies": len(tens),
                "standby_tenancies": sum(1 for t in tens if t.role == "standby"),
                "systems": sum(len(t.systems) for t in tens),
                "standby_copies": sum(len(t.standby_instances) + len(t.standby_volumes) for t in tens),
                "capacity": r.capacity.model_dump(),
                "planned": {"vcpu": int(used[r.name][0]), "ram_gb": int(used[r.name][1]),
                            "disk_gb": int(used[r.name][2])},
                "quota": {"vcpu": sum(x.cores for x in q), "ram_gb": sum(x.ram_mb for x in q) // 1024,
                          "disk_gb": sum(x.gigabytes for x in q)},
            })
        return out

    def problems(self) -> list[Problem]:
        return [violation_problem(self.stack, v) for v in self.violations]

    def as_json(self) -> dict[str, Any]:
        m = self.model
        return {
            "stack": self.stack.name,
            "file": self.stack.shown,
            "backbone": self.backbone.loaded.profile.name,
            "catalogue": m.catalogue.shown if m.catalogue else None,
            "resources": self.resources(),
            "total": len(self.records),
            "regions": self.per_region(),
            "tenancies": [{"name": t.name, "region": t.region, "department": t.department.id, "role": t.role,
                           "ipv4": str(t.ipv4), "ipv6": str(t.ipv6), "systems": len(t.systems),
                           "standby": len(t.standby_instances) + len(t.standby_volumes),
                           "resources": n, "quota": asdict(t.quota) if t.quota else None}
                          for t, n in ((m.tenancies[k], c) for k, c in self.per_tenancy().items())],
            "waves": len(m.waves),
            "systems": len(m.placements),
            "checks": list(policy.CHECKS),
            "violations": [{"check": v.check, "resource": v.resource, "message": v.message, "fix": v.fix,
                            "where": self.stack.where(v.config), "line": str(violation_problem(self.stack, v))}
                           for v in self.violations],
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def violation_problem(stack: LoadedStack, v: policy.Violation) -> Problem:
    """A violation as the toolkit's one-line problem: ``file:line: resource: [check] what; fix: ...``."""
    return Problem(stack.where(v.config), v.resource, f"[{v.check}] {v.message}", v.fix)


def load_model(stack_ref: str, catalogue: Path | None, frozen: bool = False,
               write: bool = True) -> tuple[CloudModel, str]:
    """Stack + catalogue -> model; bring the lock file up to date unless frozen (or not writing)."""
    stack = load_stack(stack_ref)
    model = build_model(stack, catalogue)
    alloc = model.allocation
    note = ""
    if alloc.changed:
        lock = stack.lock_path
        counts = f"{alloc.added} new prefixes, {alloc.released} released"
        if frozen:
            raise EgovError.one(display_path(lock), "", f"out of date ({counts})",
                                "run without --frozen and commit the lock file")
        if write:
            write_lock(lock, alloc.lock)
            note = f"lock: {display_path(lock)} updated ({counts})"
    return model, note


def backbone_plan(model: CloudModel) -> Plan:
    """The backbone profile the stack names, checked; a broken backbone stops the cloud plan."""
    plan = build_plan(model.layout.backbone)
    if plan.problems:
        raise EgovError.one(model.stack.where("egov:backbone"), "egov:backbone",
                            f"backbone profile {model.layout.backbone} has {len(plan.problems)} problem(s)",
                            f"run egov plan validate --profile {model.layout.backbone}")
    return plan


def auto_jobs(model: CloudModel) -> int:
    """Worker processes for the offline run: one per core (at most 4) once it is worth a spawn."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, 4)) if expected_records(model) >= SHARD_FROM else 1


#: below this many resources a worker's start-up (~2 s of imports) costs more than it saves
SHARD_FROM = 3000


def run_plan(stack_ref: str, catalogue: Path | None = None, *, frozen: bool = False, jobs: int | None = None,
             on_record: Callable[[int], None] | None = None,
             on_model: Callable[[CloudModel], None] | None = None) -> CloudPlan:
    """The whole offline plan: model, backbone, program under mocks (in ``jobs`` processes), policies."""
    from egov.cloud.program import deploy
    from egov.cloud.shard import ShardedRun

    t0 = time.perf_counter()
    model, note = load_model(stack_ref, catalogue, frozen=frozen)
    if on_model:
        on_model(model)
    t1 = time.perf_counter()
    n = auto_jobs(model) if jobs is None else max(1, jobs)
    # workers import and run while this process builds the backbone plan
    sharded = ShardedRun(model, stack_ref, catalogue, n).start() if n > 1 else None
    try:
        backbone = backbone_plan(model)
    except BaseException:
        if sharded:
            sharded.stop()
        raise
    t2 = time.perf_counter()
    if sharded:
        records = sharded.collect(on_record)
    else:
        records = run_offline(lambda: deploy(model), stack=model.stack.name, on_record=on_record)
    t3 = time.perf_counter()
    violations = policy.run(records, model, backbone)
    t4 = time.perf_counter()
    return CloudPlan(model=model, records=records, violations=violations, backbone=backbone, lock_note=note,
                     seconds={"model": t1 - t0, "backbone": t2 - t1, "program": t3 - t2, "policy": t4 - t3,
                              "total": t4 - t0})


def expected_records(model: CloudModel) -> int:
    """How many resources (components included) the program registers: the progress bar's total, and
    a cross-check of the components in the tests."""
    from egov.cloud import gbt20988
    from egov.cloud.rules import baseline_rules

    layout = model.layout
    n = 0
    for r in layout.regions:                 # component, admin provider, platform
        n += 2 if r.external else 2 + len(layout.flavors) + len(gbt20988.VOLUME_TYPES) + 3
    n += 4 + len(layout.departments)         # DR: component, project, role, provider, one container each
    for t in model.tenancies.values():       # component, project, role, provider, 3 quotas, network,
        v6 = t.department.ipv6_mode != "off"  # subnets and router interfaces, router, group, rules,
        n += 11 + 2 * (1 + v6) + len(baseline_rules(layout, t.department))  # server group
        n += 2 if t.role == "primary" else 0  # vault and its DR manifest
    n += len(model.waves)
    for p in model.placements:
        n += 1 + len(p.standby)
    return n

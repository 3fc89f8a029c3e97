"""Migration waves: when each system moves, within region capacity and in dependency order.

A system moves in the same wave as, or after, everything it depends on. Each wave may bring into a
region at most ``migration.wave_share`` of its capacity (cut-over work and room to roll back) and
at most ``migration.max_systems_per_wave`` systems overall; all waves together stop where the
quotas, which add ``quota_headroom``, still fit the region. DR standby copies count in the regions
that hold them, in the wave their system moves.

Within the systems that are ready, small machine rooms go first and a room's systems go together,
so rooms empty (and can be shut, as the plans ask) as early as possible; inside a room the lower DR
levels go first, so the critical systems move once the path is proven.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from dataclasses import dataclass

from egov.cloud.config import Layout


@dataclass(frozen=True, slots=True)
class Demand:
    vcpu: int = 0
    ram_gb: int = 0
    disk_gb: int = 0

    def __add__(self, other: Demand) -> Demand:
        return Demand(self.vcpu + other.vcpu, self.ram_gb + other.ram_gb, self.disk_gb + other.disk_gb)

    def fits(self, limit: Demand) -> bool:
        return self.vcpu <= limit.vcpu and self.ram_gb <= limit.ram_gb and self.disk_gb <= limit.disk_gb

    def over(self, limit: Demand) -> list[str]:
        """The dimensions (catalogue column names) where this is above ``limit``."""
        return [k for k in ("vcpu", "ram_gb", "disk_gb") if getattr(self, k) > getattr(limit, k)]


@dataclass(slots=True)
class Item:
    """What the wave planner needs of a system: id, dependencies, room, demand per region."""

    id: str
    depends_on: tuple[str, ...]
    room: str
    dr_level: int
    row: int
    demands: dict[str, Demand]


@dataclass(slots=True)
class WavePlan:
    wave_of: dict[str, int]
    waves: list[list[str]]
    rooms_closed: list[list[str]]
    #: region -> systems that never fit (and how many more only wait on them)
    full: dict[str, list[str]]
    blocked: list[str]
    too_many_waves: bool = False


def budgets(layout: Layout) -> tuple[dict[str, Demand], dict[str, Demand]]:
    """Per region: what all waves together may place, and what one wave may bring in."""
    h = 1 + layout.migration.quota_headroom
    share = layout.migration.wave_share
    total, per_wave = {}, {}
    for r in layout.regions:
        c = r.capacity
        total[r.name] = Demand(math.floor(c.vcpu / h), math.floor(c.ram_gb / h), math.floor(c.disk_gb / h))
        per_wave[r.name] = Demand(math.floor(c.vcpu * share), math.floor(c.ram_gb * share),
                                  math.floor(c.disk_gb * share))
    return total, per_wave


def plan_waves(items: list[Item], layout: Layout) -> WavePlan:
    """Assign waves greedily (earliest wave that has room once the dependencies have moved)."""
    total, per_wave = budgets(layout)
    by_id = {i.id: i for i in items}
    dependents: dict[str, list[str]] = {i.id: [] for i in items}
    waiting = {i.id: len(i.depends_on) for i in items}
    for i in items:
        for d in i.depends_on:
            dependents[d].append(i.id)
    room_size = Counter(i.room for i in items)

    def key(i: Item) -> tuple[int, str, int, int]:
        return (room_size[i.room], i.room, i.dr_level, i.row)

    used = {r: Demand() for r in total}
    ready = [(key(i), i.id) for i in items if not i.depends_on]
    heapq.heapify(ready)
    wave_of: dict[str, int] = {}
    waves: list[list[str]] = []
    full: dict[str, list[str]] = {}
    left_in_room = Counter(room_size)
    rooms_closed: list[list[str]] = []
    too_many = False
    while ready:
        if len(waves) == layout.migration.max_waves:
            too_many = True
            break
        w = len(waves) + 1
        this: list[str] = []
        in_wave = {r: Demand() for r in total}
        deferred: list[tuple[tuple[int, str, int, int], str]] = []
        closed: list[str] = []
        while ready:
            k, sid = heapq.heappop(ready)
            item = by_id[sid]
            if len(this) >= layout.migration.max_systems_per_wave:
                deferred.append((k, sid))
                continue
            never = [r for r, d in item.demands.items() if not (used[r] + d).fits(total[r])]
            if never:
                full.setdefault(never[0], []).append(sid)
                continue
            if not all((in_wave[r] + d).fits(per_wave[r]) for r, d in item.demands.items()):
                deferred.append((k, sid))
                continue
            for r, need in item.demands.items():
                used[r] = used[r] + need
                in_wave[r] = in_wave[r] + need
            wave_of[sid] = w
            this.append(sid)
            left_in_room[item.room] -= 1
            if left_in_room[item.room] == 0:
                closed.append(item.room)
            for nxt in dependents[sid]:
                waiting[nxt] -= 1
                if waiting[nxt] == 0:
                    heapq.heappush(ready, (key(by_id[nxt]), nxt))
        if not this:
            # every deferred system alone exceeds a wave (model.py refuses those rows): stop, do not loop
            break
        waves.append(this)
        rooms_closed.append(sorted(closed))
        ready = deferred
        heapq.heapify(ready)
    never_fit = {sid for v in full.values() for sid in v}
    blocked = [i.id for i in items if i.id not in wave_of and i.id not in never_fit]
    return WavePlan(wave_of=wave_of, waves=waves, rooms_closed=rooms_closed, full=full, blocked=blocked,
                    too_many_waves=too_many)

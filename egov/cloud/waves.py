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
from dataclasses import dataclass, field

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


_Key = tuple[int, str, int, int]


@dataclass(slots=True)
class _Greedy:
    """The planner's running state across waves: what each region holds, where each system went,
    which systems never fit, and how many dependencies each waiting system still waits on."""

    total: dict[str, Demand]
    per_wave: dict[str, Demand]
    max_systems: int
    by_id: dict[str, Item]
    dependents: dict[str, list[str]]
    waiting: dict[str, int]
    room_size: Counter[str]
    left_in_room: Counter[str]
    used: dict[str, Demand]
    wave_of: dict[str, int] = field(default_factory=dict)
    full: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def start(cls, items: list[Item], layout: Layout) -> _Greedy:
        """Nothing placed yet: the budgets, and who depends on whom (to release systems as they move)."""
        total, per_wave = budgets(layout)
        dependents: dict[str, list[str]] = {i.id: [] for i in items}
        for i in items:
            for d in i.depends_on:
                dependents[d].append(i.id)
        room_size = Counter(i.room for i in items)
        return cls(total=total, per_wave=per_wave, max_systems=layout.migration.max_systems_per_wave,
                   by_id={i.id: i for i in items}, dependents=dependents,
                   waiting={i.id: len(i.depends_on) for i in items}, room_size=room_size,
                   left_in_room=Counter(room_size), used={r: Demand() for r in total})

    def key(self, i: Item) -> _Key:
        """Ready order: small rooms first, a room's systems together, low DR levels first, then file order."""
        return (self.room_size[i.room], i.room, i.dr_level, i.row)

    def fill(self, ready: list[tuple[_Key, str]], w: int) -> tuple[list[str], list[str], list[tuple[_Key, str]]]:
        """Wave ``w``: take ready systems in order while the wave has room; a system that becomes ready
        meanwhile may join the same wave. Returns (systems placed, rooms emptied, systems deferred)."""
        this: list[str] = []
        in_wave = {r: Demand() for r in self.total}
        deferred: list[tuple[_Key, str]] = []
        closed: list[str] = []
        while ready:
            k, sid = heapq.heappop(ready)
            item = self.by_id[sid]
            if len(this) >= self.max_systems:
                deferred.append((k, sid))
                continue
            never = [r for r, d in item.demands.items() if not (self.used[r] + d).fits(self.total[r])]
            if never:
                self.full.setdefault(never[0], []).append(sid)
                continue
            if not all((in_wave[r] + d).fits(self.per_wave[r]) for r, d in item.demands.items()):
                deferred.append((k, sid))
                continue
            self._place(item, w, in_wave)
            this.append(sid)
            if self.left_in_room[item.room] == 0:
                closed.append(item.room)
            self._release(sid, ready)
        return this, closed, deferred

    def _place(self, item: Item, w: int, in_wave: dict[str, Demand]) -> None:
        """Charge the system's demand to its regions (overall and this wave) and record its wave."""
        for r, need in item.demands.items():
            self.used[r] = self.used[r] + need
            in_wave[r] = in_wave[r] + need
        self.wave_of[item.id] = w
        self.left_in_room[item.room] -= 1

    def _release(self, sid: str, ready: list[tuple[_Key, str]]) -> None:
        """``sid`` has moved: its dependents that waited only on it become ready."""
        for nxt in self.dependents[sid]:
            self.waiting[nxt] -= 1
            if self.waiting[nxt] == 0:
                heapq.heappush(ready, (self.key(self.by_id[nxt]), nxt))


def plan_waves(items: list[Item], layout: Layout) -> WavePlan:
    """Assign waves greedily (earliest wave that has room once the dependencies have moved)."""
    g = _Greedy.start(items, layout)
    ready = [(g.key(i), i.id) for i in items if not i.depends_on]
    heapq.heapify(ready)
    waves: list[list[str]] = []
    rooms_closed: list[list[str]] = []
    too_many = False
    while ready:
        if len(waves) == layout.migration.max_waves:
            too_many = True
            break
        this, closed, deferred = g.fill(ready, len(waves) + 1)
        if not this:
            # every deferred system alone exceeds a wave (model.py refuses those rows): stop, do not loop
            break
        waves.append(this)
        rooms_closed.append(sorted(closed))
        ready = deferred
        heapq.heapify(ready)
    never_fit = {sid for v in g.full.values() for sid in v}
    blocked = [i.id for i in items if i.id not in g.wave_of and i.id not in never_fit]
    return WavePlan(wave_of=g.wave_of, waves=waves, rooms_closed=rooms_closed, full=g.full, blocked=blocked,
                    too_many_waves=too_many)

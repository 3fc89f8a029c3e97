#!/usr/bin/env python3
"""Write the sample migration catalogues (deterministic: same inputs, same bytes).

    .venv/bin/python stacks/catalogue/generate.py                 # all three samples
    .venv/bin/python stacks/catalogue/generate.py shaanxi --systems 4000 --out /tmp/s4000.csv

The seeds give totals only (Shaanxi: over 1,000 systems of provincial departments; seed 002: 45
provincial departments, 120 machine rooms, 780 systems; Guang'an: 29 systems already on the cloud).
Everything else here is an assumption, listed in stacks/catalogue/README.md: how systems spread
over departments (a Zipf-like skew), their sizes, DR levels, dependencies and rooms.
Departments come from the stack file, so catalogue and layout cannot disagree.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
STACKS = HERE.parent

#: stack -> systems, machine rooms, region kinds whose departments have systems in the catalogue,
#: the department that runs the shared platforms (identity, data exchange, e-seal, payment, ...)
SPECS = {
    "shaanxi": {"systems": 1000, "rooms": 150, "homes": ("provincial", "industry"), "platforms": "dsj"},
    "guangan": {"systems": 150, "rooms": 40, "homes": ("municipal",), "platforms": "dsj"},
    "seed002": {"systems": 780, "rooms": 120, "homes": ("provincial",), "platforms": "dsj"},
}
PLATFORMS = 8
VCPU = {2: 25, 4: 35, 8: 25, 16: 11, 32: 3, 64: 1}
RAM_PER_VCPU = {2: 30, 4: 50, 8: 20}
DISK_GB = {50: 10, 100: 20, 200: 25, 500: 25, 1000: 12, 2000: 6, 4000: 2}
#: GB/T 20988 level shares (assumed): most systems need backups and a standby volume; 15 % are
#: critical enough for real-time replication to both other centres
DR_LEVEL = {1: 15, 2: 25, 3: 30, 4: 15, 5: 10, 6: 5}


def pick(rng: random.Random, weights: dict[int, int]) -> int:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def spread(total: int, weights: list[float], minimum: int = 1) -> list[int]:
    """Split ``total`` by ``weights`` (largest remainder), each at least ``minimum``."""
    base = [minimum] * len(weights)
    left = total - minimum * len(weights)
    if left < 0:
        raise SystemExit(f"cannot give {len(weights)} parts at least {minimum} each out of {total}")
    raw = [left * w / sum(weights) for w in weights]
    ints = [int(x) for x in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - ints[i], reverse=True)[: left - sum(ints)]:
        ints[i] += 1
    return [b + i for b, i in zip(base, ints)]


def departments(stack: str, homes: tuple[str, ...]) -> list[str]:
    doc = yaml.safe_load((STACKS / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))["config"]
    kinds = {r["name"]: r["kind"] for r in doc["egov:regions"]}
    return [d["id"] for d in doc["egov:departments"] if kinds[d["region"]] in homes]


def generate(stack: str, systems: int, rooms: int) -> str:
    spec = SPECS[stack]
    rng = random.Random(f"egov-catalogue-{stack}-{systems}-{rooms}")
    depts = departments(stack, spec["homes"])
    platform_dept = spec["platforms"]
    order = sorted(depts, key=lambda d: (d != platform_dept, rng.random()))
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(order))]
    per_dept = dict(zip(order, spread(systems, weights, minimum=3)))
    per_dept[platform_dept] = max(per_dept[platform_dept], PLATFORMS)
    excess = sum(per_dept.values()) - systems
    for d in sorted(per_dept, key=per_dept.get, reverse=True):  # type: ignore[arg-type]
        if excess <= 0:
            break
        take = min(excess, per_dept[d] - 3) if d != platform_dept else 0
        per_dept[d] -= take
        excess -= take
    room_counts = dict(zip(order, spread(rooms, [per_dept[d] for d in order], minimum=1)))
    # every room holds at least one system: cap at the department's systems, move the rest to the largest
    spare = sum(max(0, room_counts[d] - per_dept[d]) for d in order)
    room_counts = {d: min(room_counts[d], per_dept[d]) for d in order}
    for d in sorted(order, key=lambda x: -per_dept[x]):
        take = min(spare, per_dept[d] - room_counts[d])
        room_counts[d] += take
        spare -= take
    rows: list[list[str]] = []
    platforms: list[str] = []
    for d in [platform_dept] + [x for x in depts if x != platform_dept]:
        core: list[str] = []
        dept_rooms = [f"{d}-r{i + 1:02d}" for i in range(room_counts[d])]
        room_weights = [rng.uniform(0.5, 2.0) for _ in dept_rooms]
        for n in range(per_dept[d]):
            sid = f"{d}-{n + 1:04d}"
            shared = d == platform_dept and n < PLATFORMS
            vcpu = pick(rng, VCPU) if not shared else rng.choice((16, 32))
            ram = vcpu * pick(rng, RAM_PER_VCPU)
            if vcpu < 64 and rng.random() < 0.05:  # odd sizes, as real inventories have them (rounded up to a flavor)
                vcpu, ram = vcpu + rng.choice((1, 2)), ram + rng.choice((2, 6))
            disk = pick(rng, DISK_GB)
            level = pick(rng, DR_LEVEL) if not shared else rng.choice((5, 6))
            deps: list[str] = []
            if shared and platforms:
                deps.append(platforms[0])          # everything shared leans on unified identity
            if not shared:
                if core and rng.random() < 0.5:
                    deps.append(rng.choice(core))
                if platforms and rng.random() < 0.35:
                    deps += rng.sample(platforms, rng.choice((1, 1, 2)))
                if rows and rng.random() < 0.05:
                    other = rng.choice(rows)[0]
                    if not other.startswith(d + "-"):
                        deps.append(other)
            room = dept_rooms[n] if n < len(dept_rooms) else rng.choices(dept_rooms, weights=room_weights)[0]
            rows.append([sid, d, str(level), str(vcpu), str(ram), str(disk), ";".join(dict.fromkeys(deps)), room])
            if shared:
                platforms.append(sid)
            elif len(core) < 2:
                core.append(sid)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["system", "department", "dr_level", "vcpu", "ram_gb", "disk_gb", "depends_on", "current_room"])
    w.writerows(rows)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stack", nargs="?", choices=sorted(SPECS))
    ap.add_argument("--systems", type=int)
    ap.add_argument("--rooms", type=int)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    for stack in [a.stack] if a.stack else sorted(SPECS):
        spec = SPECS[stack]
        systems = a.systems or spec["systems"]
        rooms = a.rooms or max(spec["rooms"], 1) * (systems // spec["systems"] or 1)
        out = a.out or HERE / f"{stack}.csv"
        out.write_text(generate(stack, systems, rooms), encoding="utf-8")
        print(f"{out}: {systems} systems, {rooms} rooms", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

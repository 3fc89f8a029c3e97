#!/usr/bin/env python3
"""Benchmark the virtual backbone: build time, memory per router, idle CPU, failover; then scale up.

For the `lab` profile it prints the time to build and to converge, memory per router (PSS of every
lab process), the lab's CPU at idle, and the outage of silent-cut failovers (IPv4 and IPv6) on
several dual-homed routers. With --sizes it then builds larger plans of the same shape (province
pair, city pairs, counties, townships; BFD 100 ms on core and city links, 300 ms below) and prints,
for each, whether every BFD session came up and what it costs, to find the largest lab this machine
holds. Root only; it takes the lab down at the end.

    .venv/bin/python bench/lab.py [--sizes 60,130,220] [--idle 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from egov.lab import build  # noqa: E402
from egov.lab.measure import failover, idle_cpu_percent, memory_per_router_mb  # noqa: E402
from egov.lab.status import wait_converged  # noqa: E402
from egov.topology.addressing import write_lock  # noqa: E402
from egov.topology.validate import build_plan  # noqa: E402


def scaled_profile(cities: int, counties: int, townships: int, work: Path) -> str:
    """The lab plan's shape at a larger size, written (with its lock) into ``work``."""
    data = yaml.safe_load((ROOT / "inventory" / "lab.yaml").read_text())
    data["name"] = f"lab{cities}x{counties}x{townships}"
    for tier in ("county", "township", "department"):
        data["tiers"][tier]["bfd"] = {"interval_ms": 300, "multiplier": 3}
    data["root"]["city"] = [{"id": f"c{c + 1:02d}", "county": {"count": counties, "township": counties * townships}}
                            for c in range(cities)]
    data["pools"]["loopback"]["ipv4"] = ["10.255.0.0/22"]
    data["pools"]["p2p"]["ipv4"] = ["10.0.0.0/20"]
    path = work / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    plan = build_plan(str(path))
    assert not plan.problems, plan.problems[:3]
    write_lock(plan.loaded.lock_path, plan.allocation.lock)
    return str(path)


def run_one(profile: str, idle: float, failovers: bool) -> dict:
    plan = build_plan(profile)
    assert not plan.problems, plan.problems[:3]
    t0 = time.perf_counter()
    state = build.up(plan)
    built = time.perf_counter() - t0
    conv, statuses = wait_converged(state, timeout=240)
    res = {
        "routers": len(plan.topology.nodes),
        "links": len(plan.topology.links),
        "build_s": built,
        "converge_s": conv,
        "bfd_up": sum(s.bfd_up for s in statuses),
        "bfd_expected": sum(s.bfd_expected for s in statuses),
        "adj_up": sum(s.adjacencies_up for s in statuses),
        "ok": all(s.ok for s in statuses),
    }
    time.sleep(3)
    res["mem_mb_per_router"] = memory_per_router_mb(state)
    res["idle_cpu_pct"] = idle_cpu_percent(state, idle)
    if failovers and res["ok"]:
        out = []
        singles = [n.hostname for n in plan.topology.nodes.values() if n.tier in ("county", "township")][:3]
        for host in singles:
            for fam in (4, 6):
                f = failover(state, plan.topology, host, "sn-a", fam)
                out.append(f)
                wait_converged(state, 30)
        res["failovers"] = out
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="", help="also build scaled labs: comma list of approximate router counts")
    ap.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU sampling")
    args = ap.parse_args()
    try:
        r = run_one("lab", args.idle, failovers=True)
        print(f"lab: {r['routers']} routers, {r['links']} links")
        print(f"  build {r['build_s']:.1f} s, every adjacency and BFD session up {r['converge_s']:.1f} s later "
              f"({r['bfd_up']}/{r['bfd_expected']} BFD)")
        print(f"  memory per router (PSS, FRR + sshd + snmpd + share of hub): {r['mem_mb_per_router']:.1f} MiB")
        print(f"  CPU at idle: {r['idle_cpu_pct']:.1f} % of one core ({r['idle_cpu_pct'] / 2:.1f} % of the machine)")
        for f in r.get("failovers", []):
            print(f"  failover IPv{f.family} {f.router}: silent cut of {f.cut_interface} (to {f.cut_peer}): "
                  f"outage {f.outage_s * 1000:.0f} ms")
        outs = [f.outage_s for f in r.get("failovers", [])]
        if outs:
            print(f"  failover outage: median {statistics.median(outs) * 1000:.0f} ms, max {max(outs) * 1000:.0f} ms")
        work = Path(tempfile.mkdtemp(prefix="egov-lab-bench-"))
        for size in [int(x) for x in args.sizes.split(",") if x]:
            # ~size routers: cities c, 3 counties each, townships t each: 3 + 2c + 3c + 3ct
            c = max(2, min(8, size // 30))
            t = max(1, round((size - 3 - 5 * c) / (3 * c)))
            prof = scaled_profile(c, 3, t, work)
            r = run_one(prof, args.idle, failovers=False)
            print(f"{Path(prof).stem}: {r['routers']} routers, {r['links']} links: build {r['build_s']:.1f} s, "
                  f"converged {'yes' if r['ok'] else 'NO'} after {r['converge_s']:.1f} s, BFD "
                  f"{r['bfd_up']}/{r['bfd_expected']}, {r['mem_mb_per_router']:.1f} MiB/router, idle CPU "
                  f"{r['idle_cpu_pct']:.0f} % of one core")
    finally:
        build.down()


if __name__ == "__main__":
    main()

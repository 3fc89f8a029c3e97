#!/usr/bin/env python3
"""Benchmark the change pipeline on the lab: plan and apply across all routers, one at a time vs in batches.

Brings up a bare lab, times `plan` (every router differs) and `apply` in parallel batches (canary 1,
batch 5), then rebuilds the bare lab and applies one router at a time (canary 0, batch 1), and
prints per-device overhead, the ratio, and an estimate for 1,900 routers. Root only; takes the lab
down at the end.

    .venv/bin/python bench/change.py [--batch 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from egov.change.backup import BackupStore  # noqa: E402
from egov.change.journal import Journal  # noqa: E402
from egov.change.runner import Change, lab_endpoints, rollout  # noqa: E402
from egov.lab import build  # noqa: E402
from egov.topology.validate import build_plan  # noqa: E402


def fresh_change(plan, work: Path, batchname: str) -> Change:
    eps, secrets = lab_endpoints(plan)
    d = work / batchname
    return Change(plan, eps, secrets, journal=Journal(d / "journal.sqlite"), store=BackupStore(d / "backups"),
                  revert_in=120, verify_wait=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=5)
    args = ap.parse_args()
    plan = build_plan("lab")
    hosts = list(plan.topology.nodes)
    n = len(hosts)
    work = Path(tempfile.mkdtemp(prefix="egov-change-bench-"))
    try:
        build.up(plan, bare=True)
        ch = fresh_change(plan, work, "parallel")
        t0 = time.perf_counter()
        p = ch.plan_diff(hosts)
        t_plan = time.perf_counter() - t0
        t0 = time.perf_counter()
        a = ch.apply(hosts, batch=args.batch, canary=1)
        t_apply = time.perf_counter() - t0
        assert a.ok, a.stopped or {h: r["msg"] for h, r in a.results.items() if r["status"] == "failed"}
        t0 = time.perf_counter()
        p2 = ch.plan_diff(hosts)
        t_noop = time.perf_counter() - t0

        build.up(plan, bare=True)
        ch1 = fresh_change(plan, work, "serial")
        t0 = time.perf_counter()
        s = ch1.apply(hosts, batch=1, canary=0)
        t_serial = time.perf_counter() - t0
        assert s.ok, s.stopped

        batches = sum(len(b) for _, b in rollout(ch.waves(hosts), args.batch, 1))
        print(f"lab: {n} routers, bare -> planned configuration")
        print(f"  plan (render + diff on every router, one ansible-runner run): {t_plan:.1f} s "
              f"({p.count()['changed']} with changes); again after apply: {t_noop:.1f} s "
              f"({p2.count()['changed']} with changes)")
        print(f"  apply in waves, canary 1, batch {args.batch} ({batches} batches): {t_apply:.1f} s, "
              f"{t_apply / n:.2f} s per device")
        print(f"  apply one device at a time ({n} batches): {t_serial:.1f} s, {t_serial / n:.2f} s per device")
        print(f"  ratio one-at-a-time / batched: {t_serial / t_apply:.1f}x")
        # extrapolation, not a measurement: a batch costs about what one lab batch cost (runner start,
        # commit-confirm, post-check wait) while its devices run in parallel up to the fork limit
        per_batch = t_apply / batches
        big = rollout([("province", ["x"] * 2), ("city", ["x"] * 22), ("county", ["x"] * 107),
                       ("township", ["x"] * 1768), ("department", ["x"] * 45)], 50, 1)
        n_big = sum(len(b) for _, b in big)
        rounds = 50 / 20  # batch of 50 over 20 forks
        print(f"  estimate for 1,944 routers (batches of 50, 20 forks): {n_big} batches x "
              f"~{per_batch * rounds:.0f} s = ~{n_big * per_batch * rounds / 60:.0f} min (extrapolated)")
    finally:
        build.down()


if __name__ == "__main__":
    main()

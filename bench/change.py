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
from egov.change.runner import Change, lab_endpoints  # noqa: E402
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

        batches = sum(len(b) for _, b in __import__("egov.change.runner", fromlist=["rollout"]).rollout(
            ch.waves(hosts), args.batch, 1))
        print(f"lab: {n} routers, bare -> planned configuration")
        print(f"  plan (render + diff on every router, one ansible-runner run): {t_plan:.1f} s "
              f"({p.count()['changed']} with changes); again after apply: {t_noop:.1f} s "
              f"({p2.count()['changed']} with changes)")
        print(f"  apply in waves, canary 1, batch {args.batch} ({batches} batches): {t_apply:.1f} s, "
              f"{t_apply / n:.2f} s per device")
        print(f"  apply one device at a time ({n} batches): {t_serial:.1f} s, {t_serial / n:.2f} s per device")
        print(f"  ratio one-at-a-time / batched: {t_serial / t_apply:.1f}x")
        per_batch = t_serial / n  # one batch's fixed cost (runner start, commit, post-check wait) + one device
        # 1,900 routers: 2 core + 22 city + 107 county + 1,768 township (+ departments), in waves of batch 50
        est_batches = 2 + 1 + 1 + 3 + 36 + 1
        print(f"  estimate for ~1,900 routers with batches of 50 (forks 20): ~{est_batches} batches x "
              f"~{per_batch * 50 / 20:.0f}-{per_batch * 3:.0f} s = {est_batches * per_batch * 50 / 20 / 60:.0f}-"
              f"{est_batches * per_batch * 3 / 60:.0f} min")
    finally:
        build.down()


if __name__ == "__main__":
    main()

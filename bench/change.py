#!/usr/bin/env python3
"""Benchmark the change pipeline on the lab: plan, apply and verify time against the number of devices.

Brings up a bare lab of the ``lab`` profile (15 routers), then measures:
- ``plan`` over the first 1, 5 and 15 routers (every one differs from bare), in the thread pool and
  through ansible-runner (the difference is ansible-runner's start-up and per-host module cost);
- every single router's plan alone (the slowest is the goal's yardstick: plan of 15 <= 2x it);
- ``apply`` of all 15 from bare (waves, canary 1, batch 5), then ``apply`` of a metric change on 1, 5
  and 15 configured routers, and ``verify`` of all 15;
and prints per-device cost and an extrapolation to 1,900 routers, stated as such. Root only; takes
the lab down at the end.

    .venv/bin/python bench/change.py [--forks 20] [--batch 5]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import yaml

from egov.change.backup import BackupStore
from egov.change.journal import Journal
from egov.change.runner import Change, rollout
from egov.lab import build
from egov.lab.access import lab_endpoints
from egov.paths import project_root
from egov.topology.validate import Plan, build_plan


def fresh(plan: Plan, work: Path, name: str, **kw) -> Change:
    eps, secrets = lab_endpoints(plan)
    d = work / name
    return Change(plan, eps, secrets, journal=Journal(d / "journal.sqlite"), store=BackupStore(d / "backups"),
                  revert_in=120, verify_wait=60, **kw)


def timed(fn, *a, **kw) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*a, **kw)
    return time.perf_counter() - t0, out


def variant(work: Path, metric: int) -> Plan:
    """The lab profile with every tier's IS-IS metric set: a one-line diff on every router."""
    src = project_root() / "inventory"
    data = yaml.safe_load((src / "lab.yaml").read_text())
    for t in data["tiers"].values():
        t["metric"] = metric
    d = work / f"metric{metric}"
    d.mkdir(parents=True, exist_ok=True)
    (d / "lab.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    shutil.copy(src / "lab.lock.json", d / "lab.lock.json")
    return build_plan(str(d / "lab.yaml"))


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--forks", type=int, default=20)
    ap.add_argument("--batch", type=int, default=5)
    args = ap.parse_args()
    plan = build_plan("lab")
    hosts = list(plan.topology.nodes)
    n = len(hosts)
    sizes = [s for s in (1, 5, 15) if s <= n]
    work = Path(tempfile.mkdtemp(prefix="egov-change-bench-"))
    try:
        build.up(plan, bare=True)
        print(f"lab: {n} routers (bare), forks {args.forks}")
        threads = fresh(plan, work, "threads", forks=args.forks, engine="threads")
        ansible = fresh(plan, work, "ansible", forks=args.forks, engine="ansible")
        single = {h: timed(threads.plan_diff, [h])[0] for h in hosts}
        slowest = max(single, key=lambda h: single[h])
        print(f"  plan, one router alone: slowest {slowest} {single[slowest]:.2f} s, "
              f"median {sorted(single.values())[n // 2]:.2f} s")
        plan_t: dict[int, float] = {}
        for k in sizes:
            t_thr, p = timed(threads.plan_diff, hosts[:k])
            t_ans, _ = timed(ansible.plan_diff, hosts[:k])
            plan_t[k] = t_thr
            share = max(0.0, t_ans - t_thr) / t_ans
            print(f"  plan {k:>2} router(s): {t_thr:5.2f} s in the thread pool ({t_thr / k:.2f} s/device, "
                  f"{p.count()['changed']} differ); through ansible-runner {t_ans:5.2f} s "
                  f"(ansible-runner start-up and module cost: {share:.0%} of it)")
        goal = plan_t[sizes[-1]] <= 2 * single[slowest]
        print(f"  goal plan({sizes[-1]}) <= 2 x slowest single ({2 * single[slowest]:.2f} s): "
              f"{'met' if goal else 'NOT met'}")

        ch = fresh(plan, work, "apply", forks=args.forks)
        t_apply, a = timed(ch.apply, hosts, batch=args.batch, canary=1)
        assert a.ok, a.stopped or {h: r["msg"] for h, r in a.results.items() if r["status"] == "failed"}
        batches = sum(len(b) for _, b in rollout(ch.waves(hosts), args.batch, 1))
        print(f"  apply {n} from bare (canary 1, batch {args.batch}: {batches} batches, with pre-change backup and "
              f"post-checks): {t_apply:.1f} s, {t_apply / n:.2f} s/device, {t_apply / batches:.1f} s/batch")
        t_verify, v = timed(ch.verify, hosts)
        print(f"  verify {n}: {t_verify:.1f} s ({v.count()['ok']} ok)")

        one = variant(work, 700)
        other = variant(work, 710)
        apply_t: dict[int, float] = {}
        done = 0
        for k in sizes:
            vplan = other if k == sizes[-1] else one
            cv = fresh(vplan, work, f"apply{k}", forks=args.forks)
            chosen = hosts if k == sizes[-1] else hosts[done:done + k]
            done += k
            t_k, ak = timed(cv.apply, chosen, batch=max(args.batch, k), canary=1)
            assert ak.ok, ak.stopped or {h: r["msg"] for h, r in ak.results.items() if r["status"] == "failed"}
            apply_t[k] = t_k
            print(f"  apply a metric change to {k:>2} configured router(s), canary 1 then one batch: {t_k:5.1f} s")

        # extrapolation, not a measurement
        big = 1900
        plan_rate = sizes[-1] / plan_t[sizes[-1]]
        verify_rate = n / t_verify
        per_batch = t_apply / batches
        big_batches = sum(len(b) for _, b in rollout(
            [("province", ["x"] * 2), ("city", ["x"] * 22), ("county", ["x"] * 107), ("rest", ["x"] * (big - 131))],
            50, 1))
        e_plan, e_verify = big / plan_rate, big / verify_rate
        e_apply = big_batches * per_batch  # a batch of 50 over 50 forks costs about one lab batch
        print(f"extrapolated to {big:,} routers (not measured): plan ~{e_plan / 60:.1f} min at "
              f"{plan_rate:.1f} devices/s; apply in {big_batches} batches of 50 at the lab's {per_batch:.0f} s per "
              f"batch ~{e_apply / 60:.1f} min with --forks 50; verify ~{e_verify / 60:.1f} min; plan + apply + verify "
              f"~{(e_plan + e_apply + e_verify) / 60:.0f} min (assumes the lab's per-device cost holds and "
              f"devices run on their own CPUs, not this host's)")
    finally:
        build.down()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

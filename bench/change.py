#!/usr/bin/env python3
"""Benchmark the change pipeline on the lab: plan, apply and verify time against the number of devices.

Brings up a bare lab of the ``lab`` profile (15 routers), then measures:
- ``plan`` over the first 1, 5 and 15 routers (every one differs from bare), in the thread pool and
  through ansible-runner (the difference is ansible-runner's start-up and per-host module cost);
- every single router's plan alone (the slowest is the goal's yardstick: plan of 15 <= 2x it), the
  controller's and the whole host's CPU per device, and the driver's steps alone and all at once (the
  lab's routers run on this host's cores);
- ``apply`` of all 15 from bare (waves, canary 1, batch 5) and ``verify`` of all 15 from the thread pool
  (the default engine), then ``apply`` of a metric change on 1, 5 and 15 configured routers through
  ansible-runner (``--engine ansible``) and the last once more from the thread pool (ansible's share);
and prints per-device cost and an extrapolation to 1,900 routers, stated as such (each device on its own
CPU as one lab router alone; the controller's measured CPU per device over this host's cores as the
other bound). Root only; takes the lab down at the end.

    .venv/bin/python bench/change.py [--forks 20] [--batch 5]
    .venv/bin/python bench/change.py --sim [--sizes 100,500,all] [--concurrency 15]   (bench/change_sim.py)
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from egov.change.backup import BackupStore
from egov.change.journal import Journal
from egov.change.runner import Change, Outcome, rollout
from egov.lab import build
from egov.lab.access import lab_endpoints
from egov.paths import project_root
from egov.render.engine import Renderer
from egov.topology.validate import Plan, build_plan
from napalm_frr import FRRDriver


T = TypeVar("T")


def fresh(plan: Plan, work: Path, name: str, **kw) -> Change:
    eps, secrets = lab_endpoints(plan)
    d = work / name
    return Change(plan, eps, secrets, journal=Journal(d / "journal.sqlite"), store=BackupStore(d / "backups"),
                  revert_in=120, verify_wait=60, **kw)


def timed(fn: Callable[..., T], *a: Any, **kw: Any) -> tuple[float, T]:
    t0 = time.perf_counter()
    out = fn(*a, **kw)
    return time.perf_counter() - t0, out


def cpu_now() -> float:
    """CPU seconds of this process and its waited-for children (ansible-runner's ansible-playbook)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def host_busy() -> float:
    """CPU seconds the whole host has been busy (all processes: the lab's routers run here too)."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(f) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


@dataclass
class Cost:
    """What one phase costs: wall time of one device alone, controller CPU per device."""

    alone: float
    cpu: float

    def at(self, n: int, forks: int, cores: int) -> float:
        """Seconds for ``n`` devices when each device brings its own CPU: the controller is the limit."""
        return max(math.ceil(n / forks) * self.alone, n * self.cpu / cores)


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


def measure_plan(plan: Plan, work: Path, hosts: list[str], sizes: list[int], forks: int) -> Cost:
    """Plan alone per router, then over 1, 5, 15 in the thread pool and through ansible-runner."""
    n = len(hosts)
    threads = fresh(plan, work, "threads", forks=forks, engine="threads")
    ansible = fresh(plan, work, "ansible", forks=forks, engine="ansible")
    single = {h: timed(threads.plan_diff, [h])[0] for h in hosts}
    slowest = max(single, key=lambda h: single[h])
    median = sorted(single.values())[n // 2]
    print(f"  plan, one router alone: slowest {slowest} {single[slowest]:.2f} s, median {median:.2f} s")
    plan_t: dict[int, float] = {}
    cpu = 0.0
    for k in sizes:
        c0, h0 = cpu_now(), host_busy()
        t_thr, p = timed(threads.plan_diff, hosts[:k])
        cpu, host = (cpu_now() - c0) / k, (host_busy() - h0) / k
        t_ans, _ = timed(ansible.plan_diff, hosts[:k])
        plan_t[k] = t_thr
        share = max(0.0, t_ans - t_thr) / t_ans
        print(f"  plan {k:>2} router(s): {t_thr:5.2f} s in the thread pool ({t_thr / k:.2f} s/device, "
              f"CPU per device: controller {cpu:.3f} s, whole host {host:.3f} s, {p.count()['changed']} differ); "
              f"through ansible-runner "
              f"{t_ans:5.2f} s (ansible-runner start-up and module cost: {share:.0%} of it)")
    goal = plan_t[sizes[-1]] <= 2 * single[slowest]
    print(f"  goal plan({sizes[-1]}) <= 2 x slowest single ({2 * single[slowest]:.2f} s): "
          f"{'met' if goal else 'NOT met'} ({plan_t[sizes[-1]]:.2f} s)")
    return Cost(median, cpu)


def plan_steps(plan: Plan, hosts: list[str]) -> None:
    """Where a plan's time goes on the device: the FRR driver's steps for one router alone, then for all
    at once (the lab's routers share this host's cores, so their own work queues up)."""
    eps, secrets = lab_endpoints(plan)
    r = Renderer(plan, secrets)

    def steps(h: str) -> dict[str, float]:
        cfg, ep, t = r.render_node(plan.topology.nodes[h])[f"{h}.cfg"], eps[h], {}
        t0 = time.perf_counter()
        d = FRRDriver(ep.address, ep.username, "", timeout=60, optional_args={"port": ep.port, "key_file": ep.key_file})
        d.open()
        t["connect"], t0 = time.perf_counter() - t0, time.perf_counter()
        d.load_replace_candidate(config=cfg)  # upload + frr-reload.py --test (check and diff in one pass)
        t["load (upload, frr-reload --test)"], t0 = time.perf_counter() - t0, time.perf_counter()
        d.compare_config()  # the load's diff
        t["compare"] = time.perf_counter() - t0
        d.discard_config()
        d.close()
        return t

    alone = steps(hosts[0])
    with ThreadPoolExecutor(len(hosts)) as pool:
        together = list(pool.map(steps, hosts))
    print("  plan steps on the router, one alone / all " + str(len(hosts)) + " at once (mean): " + ", ".join(
        f"{k} {v:.2f} / {sum(x[k] for x in together) / len(together):.2f} s" for k, v in alone.items()))


def _ok(out: Outcome) -> None:
    assert out.ok, out.stopped or {h: r["msg"] for h, r in out.results.items() if r["status"] == "failed"}


def measure_apply(plan: Plan, work: Path, hosts: list[str], sizes: list[int], forks: int, batch: int
                  ) -> tuple[Cost, Cost, Cost]:
    """Apply from bare and verify (the thread pool), then a metric change on 1, 5, 15 configured routers
    through ansible-runner, the last also from the thread pool; returns the apply cost through
    ansible-runner (the apply from bare plus ansible's measured share) and from the thread pool (a batch as
    long as the lab's), and the verify cost."""
    n = len(hosts)
    ch = fresh(plan, work, "apply", forks=forks)
    c0 = cpu_now()
    t_apply, a = timed(ch.apply, hosts, batch=batch, canary=1)
    apply_cpu = (cpu_now() - c0) / n
    _ok(a)
    batches = sum(len(b) for _, b in rollout(ch.waves(hosts), batch, 1))
    print(f"  apply {n} from bare from the thread pool (canary 1, batch {batch}: {batches} batches, with pre-change backup and "
          f"post-checks): {t_apply:.1f} s, {t_apply / n:.2f} s/device, {t_apply / batches:.1f} s/batch, "
          f"controller CPU {apply_cpu:.2f} s/device")
    t_v1, _ = timed(ch.verify, hosts[:1])
    c0 = cpu_now()
    t_verify, v = timed(ch.verify, hosts)
    verify_cpu = (cpu_now() - c0) / n
    print(f"  verify 1 alone: {t_v1:.1f} s; verify {n}: {t_verify:.1f} s ({v.count()['ok']} ok), controller CPU "
          f"{verify_cpu:.3f} s/device")
    one, other = variant(work, 700), variant(work, 710)
    done = 0
    for k in sizes:
        vplan = other if k == sizes[-1] else one
        cv = fresh(vplan, work, f"apply{k}", forks=forks, engine="ansible")
        chosen = hosts if k == sizes[-1] else hosts[done:done + k]
        done += k
        nb = sum(len(b) for _, b in rollout(cv.waves(chosen), max(batch, k), 1))
        c0 = cpu_now()
        t_k, ak = timed(cv.apply, chosen, batch=max(batch, k), canary=1)
        c_k = (cpu_now() - c0) / k
        _ok(ak)
        print(f"  apply a metric change to {k:>2} configured router(s) through ansible-runner, canary 1, {nb} batch(es) (one or more "
              f"per tier): {t_k:5.1f} s ({t_k / k:.2f} s/device, controller CPU {c_k:.2f} s/device)")
    # the same change once more, committed from the thread pool instead of ansible-runner: ansible's share
    cv = fresh(variant(work, 720), work, "apply-threads", forks=forks, engine="threads")
    c0 = cpu_now()
    t_thr, at = timed(cv.apply, hosts, batch=max(batch, n), canary=1)
    c_thr = (cpu_now() - c0) / n
    _ok(at)
    print(f"  the same on {n} from the thread pool (no ansible-runner): {t_thr:5.1f} s, controller CPU "
          f"{c_thr:.2f} s/device")
    # through ansible-runner: the apply from bare plus ansible's measured share of the same change on n
    # (per batch in time, per device in CPU)
    nb = sum(len(b) for _, b in rollout(cv.waves(hosts), max(batch, n), 1))
    extra_t, extra_cpu = max(0.0, (t_k - t_thr) / nb), max(0.0, c_k - c_thr)
    return (Cost(t_apply / batches + extra_t, apply_cpu + extra_cpu), Cost(t_apply / batches, apply_cpu),
            Cost(t_v1, verify_cpu))


def extrapolate(plan_c: Cost, apply_c: Cost, apply_thr: Cost, verify_c: Cost, big: int = 1900, forks: int = 50
                ) -> None:
    """Not a measurement: the lab's costs carried to a province (waves as in shaanxi, batches of 50).
    Each device is taken to cost what one lab router costs alone (own CPU); this host's cores bound the
    controller's share."""
    cores = os.cpu_count() or 1
    big_batches = sum(len(b) for _, b in rollout(
        [("province", ["x"] * 2), ("city", ["x"] * 22), ("county", ["x"] * 107), ("rest", ["x"] * (big - 131))],
        forks, 1))
    e_plan, e_verify = plan_c.at(big, forks, cores), verify_c.at(big, forks, cores)
    for how, c in (("through ansible-runner", apply_c), ("from the thread pool", apply_thr)):
        e_apply = max(big_batches * c.alone, big * c.cpu / cores)
        print(f"extrapolated to {big:,} routers (not measured; --forks {forks}, {cores} controller cores), "
              f"commits {how}: plan ~{e_plan / 60:.1f} min; apply in {big_batches} batches of {forks} "
              f"~{e_apply / 60:.1f} min (batches as long as the lab's: {big_batches * c.alone / 60:.1f} min; "
              f"controller CPU: {big * c.cpu / cores / 60:.1f} min); verify ~{e_verify / 60:.1f} min; "
              f"plan + apply + verify ~{(e_plan + e_apply + e_verify) / 60:.0f} min")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--forks", type=int, default=20)
    ap.add_argument("--batch", type=int, default=5)
    args = ap.parse_args()
    plan = build_plan("lab")
    hosts = list(plan.topology.nodes)
    sizes = [s for s in (1, 5, 15) if s <= len(hosts)]
    work = Path(tempfile.mkdtemp(prefix="egov-change-bench-"))
    try:
        build.up(plan, bare=True)
        print(f"lab: {len(hosts)} routers (bare), forks {args.forks}")
        plan_c = measure_plan(plan, work, hosts, sizes, args.forks)
        plan_steps(plan, hosts)
        apply_c, apply_thr, verify_c = measure_apply(plan, work, hosts, sizes, args.forks, args.batch)
        extrapolate(plan_c, apply_c, apply_thr, verify_c)
    finally:
        build.down()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if "--sim" in sys.argv[1:]:  # the simulated VRP8/Comware province: bench/change_sim.py, same options
        sys.argv.remove("--sim")
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from change_sim import main as sim_main

        sim_main()
    else:
        main()

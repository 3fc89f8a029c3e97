#!/usr/bin/env python3
"""Benchmark: plan, validate and render a whole province; compare with Ansible's template module.

Prints wall time, peak memory and configs per second for egov, then renders a
sample of the same routers through Ansible's ``template`` module (run by
ansible-runner, same templates, same variables) and prints the per-host ratio.
The Ansible outputs are checked byte-for-byte against egov's, so both paths do
the same work. Goal (issue 2): the province in under 3 s on 2 cores; at least
20x faster per host than the Ansible path.

    .venv/bin/python bench/render.py [--profile shaanxi] [--sample 40] [--forks 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def in_process(profile: str, out: Path) -> dict[str, float]:
    """The same steps as `egov render`, timed one by one, in this process."""
    t0 = time.perf_counter()
    from egov.render.engine import Renderer, write_tree
    from egov.render.secrets import placeholders
    from egov.topology.validate import build_plan

    t_import = time.perf_counter() - t0
    t1 = time.perf_counter()
    plan = build_plan(profile)
    assert not plan.problems, plan.problems[:3]
    t_plan = time.perf_counter() - t1
    renderer = Renderer(plan, placeholders())
    t2 = time.perf_counter()
    res = renderer.render(plan.topology.nodes.values())
    t_render = time.perf_counter() - t2
    t3 = time.perf_counter()
    write_tree(out, res.files, secret=False)
    t_write = time.perf_counter() - t3
    return {"import": t_import, "plan": t_plan, "render": t_render, "write": t_write,
            "routers": res.routers, "files": len(res.files),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def cli_wall(profile: str, out: Path) -> float:
    """Wall time of the real command, interpreter start included."""
    egov = Path(sys.executable).with_name("egov")
    cmd = [str(egov)] if egov.exists() else [sys.executable, "-m", "egov.cli.main"]
    t0 = time.perf_counter()
    subprocess.run([*cmd, "render", "--profile", profile, "--out", str(out), "--dry-run", "--frozen"],
                   check=True, cwd=ROOT, capture_output=True)
    return time.perf_counter() - t0


def sample_hosts(plan, n: int) -> list:
    """Evenly spaced over the plan, at least one router of every platform."""
    nodes = list(plan.topology.nodes.values())
    step = max(1, len(nodes) // n)
    picked = {x.hostname: x for x in nodes[::step][:n]}
    for platform in {x.platform for x in nodes}:
        if not any(x.platform == platform for x in picked.values()):
            first = next(x for x in nodes if x.platform == platform)
            picked[first.hostname] = first
    return list(picked.values())


PLAYBOOK = """\
- name: Render device configurations with Ansible's template module
  hosts: all
  gather_facts: false
  tasks:
    - name: Render the main configuration
      ansible.builtin.template:
        src: "{{ egov_templates }}/{{ platform.name }}/{{ egov_main_template }}"
        dest: "{{ egov_out }}/{{ inventory_hostname }}.cfg"
        trim_blocks: true
        lstrip_blocks: true
        mode: "0644"
"""


def ansible_path(profile: str, n: int, forks: int, work: Path) -> dict[str, float]:
    import ansible_runner

    from egov.render.engine import MAIN_TEMPLATES, Renderer, templates_dir
    from egov.render.secrets import placeholders
    from egov.topology.validate import build_plan

    plan = build_plan(profile)
    hosts = sample_hosts(plan, n)
    renderer = Renderer(plan, placeholders())
    t0 = time.perf_counter()
    ours = {h.hostname: renderer.render_node(h)[f"{h.hostname}.cfg"] for h in hosts}
    egov_per_host = (time.perf_counter() - t0) / len(hosts)

    pdd = work / "pdd"
    out = work / "ansible-out"
    (pdd / "project").mkdir(parents=True)
    (pdd / "inventory").mkdir()
    out.mkdir()
    (pdd / "project" / "render.yml").write_text(PLAYBOOK)
    inv_hosts = {}
    for h in hosts:
        ctx = renderer.contexts.context(h)
        main = next(t for t in MAIN_TEMPLATES if (templates_dir() / h.platform / t).exists())
        inv_hosts[h.hostname] = {**ctx, "egov_main_template": main, "ansible_connection": "local",
                                 "ansible_python_interpreter": sys.executable}
    inventory = {"all": {"hosts": inv_hosts,
                         "vars": {"egov_templates": str(templates_dir()), "egov_out": str(out)}}}
    (pdd / "inventory" / "hosts.json").write_text(json.dumps(inventory))
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
           "ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_LOCALHOST_WARNING": "False"}
    t1 = time.perf_counter()
    r = ansible_runner.run(private_data_dir=str(pdd), playbook="render.yml", forks=forks, quiet=True,
                           envvars=env)
    wall = time.perf_counter() - t1
    if r.status != "successful":
        sys.stderr.write(f"ansible run {r.status} rc={r.rc}\n{r.stdout.read()[-3000:]}\n")
        raise SystemExit(1)
    same = sum((out / f"{h}.cfg").read_text() == text for h, text in ours.items())
    return {"hosts": len(hosts), "ansible_wall": wall, "ansible_per_host": wall / len(hosts),
            "egov_per_host": egov_per_host, "identical": same}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="shaanxi")
    ap.add_argument("--sample", type=int, default=40, help="routers rendered through Ansible")
    ap.add_argument("--forks", type=int, default=5, help="Ansible forks (its default is 5)")
    ap.add_argument("--no-ansible", action="store_true")
    args = ap.parse_args()

    (ROOT / ".bench").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="render-", dir=ROOT / ".bench"))
    try:
        m = in_process(args.profile, work / "inproc")
        wall = cli_wall(args.profile, work / "cli")
        total = m["plan"] + m["render"] + m["write"]
        print(f"profile {args.profile}: {m['routers']} routers, {m['files']} files, {os.cpu_count()} cores")
        print(f"  egov render (CLI, interpreter start included): {wall:.2f} s wall")
        print(f"  in process: import {m['import']:.2f} s, plan+validate {m['plan']:.2f} s, "
              f"render {m['render']:.2f} s, write {m['write']:.2f} s, total {total:.2f} s")
        print(f"  configs per second (render): {m['routers'] / m['render']:.0f}; "
              f"end to end: {m['routers'] / wall:.0f}")
        print(f"  peak memory (max RSS): {m['peak_rss_mb']:.0f} MiB")
        print(f"  goal < 3 s for the province: {'met' if wall < 3 else 'NOT met'}")
        if not args.no_ansible:
            a = ansible_path(args.profile, args.sample, args.forks, work / "ansible")
            ratio = a["ansible_per_host"] / a["egov_per_host"]
            print(f"ansible template module via ansible-runner ({a['hosts']} routers, forks {args.forks}):")
            print(f"  wall {a['ansible_wall']:.2f} s, {a['ansible_per_host'] * 1000:.1f} ms per host; "
                  f"egov {a['egov_per_host'] * 1000:.2f} ms per host")
            print(f"  ratio: egov is {ratio:.0f}x faster per host (goal >= 20x: {'met' if ratio >= 20 else 'NOT met'})")
            print(f"  outputs identical: {a['identical']}/{a['hosts']}")
            if a["identical"] != a["hosts"]:
                raise SystemExit("ansible and egov outputs differ")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

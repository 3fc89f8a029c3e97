"""``egov``: plan, validate, render and export the backbone.

Every command prints problems as one line each (file, field, fix) and exits 1;
no traceback reaches the operator unless EGOV_DEBUG=1.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from egov.atomic import write_atomic
from egov.cli.common import FrozenOpt, ProfileOpt, checked_plan, err, fail, match_limit, out, say
from egov.errors import EgovError, Problem
from egov.plan.load import display_path
from egov.plan.schema import format_bandwidth
from egov.topology.addressing import read_lock, release, write_lock
from egov.topology.validate import Plan, build_plan

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False,
                  help="Provincial e-government backbone: plan, validate, render, export.")
plan_app = typer.Typer(no_args_is_help=True, help="Expand and check a plan profile.")
inv_app = typer.Typer(no_args_is_help=True, help="Export the topology for Ansible.")
app.add_typer(plan_app, name="plan")
app.add_typer(inv_app, name="inventory")


def _add_lab() -> None:
    from egov.cli.change import change_app
    from egov.cli.lab import lab_app
    from egov.cli.measure import exporter_app
    from egov.cli.sla import faults_app, maintenance_app, sla_app

    app.add_typer(lab_app, name="lab")
    app.add_typer(change_app, name="change")
    app.add_typer(exporter_app, name="exporter")
    app.add_typer(sla_app, name="sla")
    app.add_typer(faults_app, name="faults")
    app.add_typer(maintenance_app, name="maintenance")
    app.add_typer(__import__("egov.cli.cloud", fromlist=["cloud_app"]).cloud_app, name="cloud")
    app.add_typer(__import__("egov.cli.sim", fromlist=["sim_app"]).sim_app, name="sim")
    from egov.cli.demo import demo
    from egov.cli.operate import drill, runbook_app

    app.add_typer(runbook_app, name="runbook")
    app.command("drill")(drill)
    app.command("demo")(demo)

# shared pieces live in egov.cli.common; these names stay importable from here for older callers
_fail = fail
_checked_plan = checked_plan


def _summary_table(plan: Plan, title: str) -> Table:
    topo = plan.topology
    prof = plan.loaded.profile
    counts = topo.counts()
    t = Table(title=title, title_justify="left")
    for col in ("tier", "parent", "sites", "routers", "links", "bandwidth", "redundancy", "platforms", "BFD"):
        t.add_column(col, justify="right" if col in ("sites", "routers", "links") else "left")
    platforms: dict[str, set[str]] = {}
    for n in topo.nodes.values():
        platforms.setdefault(n.tier, set()).add(n.platform)
    for name, tier in prof.tiers.items():
        c = counts[name]
        t.add_row(name, tier.parent or "-", str(c["sites"]), str(c["routers"]), str(c["links"]),
                  ("dual " + format_bandwidth(tier.bandwidth)) if tier.bandwidth else "-",
                  tier.redundancy, ", ".join(sorted(platforms.get(name, ()))) or "-",
                  f"{tier.bfd.interval_ms}ms x{tier.bfd.multiplier}")
    t.add_section()
    t.add_row("total", "", str(sum(c["sites"] for c in counts.values())), str(len(topo.nodes)),
              str(len(topo.links)), "", "", "", "")
    return t


@plan_app.command("show")
def plan_show(profile: ProfileOpt, as_json: Annotated[bool, typer.Option("--json", help="Full topology as JSON.")] = False,
              frozen: FrozenOpt = False) -> None:
    """Expand the profile into routers, links and addresses; update the lock file."""
    plan = checked_plan(profile, frozen)
    topo = plan.topology
    if as_json:
        names = {(i.node, i.link): i.name for n in topo.nodes.values() for i in n.interfaces}
        doc = {
            "profile": topo.profile,
            "counts": topo.counts(),
            "totals": {"routers": len(topo.nodes), "links": len(topo.links)},
            "nodes": [n.as_dict() for n in topo.nodes.values()],
            "links": [link.as_dict(names[(link.a, link.key)], names[(link.b, link.key)]) for link in topo.links],
        }
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
        return
    out.print(_summary_table(plan, f"{plan.loaded.profile.name}: {plan.loaded.profile.description.strip()[:90]}"))


@plan_app.command("validate")
def plan_validate(profile: ProfileOpt) -> None:
    """Check the plan; print every violation (file, field, fix) and exit 1 if any. Writes nothing."""
    plan = build_plan(profile)
    if plan.problems:
        fail(plan.problems)
    topo = plan.topology
    note = " (lock file would gain new allocations)" if plan.allocation.changed else ""
    say(f"{plan.loaded.shown}: valid: {len(topo.nodes)} routers, {len(topo.links)} links, "
        f"every router dual-homed and dual-stack{note}")


@plan_app.command("release")
def plan_release(
    profile: ProfileOpt,
    what: Annotated[Optional[list[str]], typer.Argument(
        help="Quarantined addresses (with or without prefix length) or former owners (router or link).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Release every quarantined address.")] = False,
) -> None:
    """Free quarantined addresses now instead of after pools.quarantine_days."""
    from egov.plan.load import load_profile

    if not what and not all_:
        fail([Problem("egov plan release", "ADDRESS", "nothing to release",
                      "name addresses or former owners, or pass --all")])
    loaded = load_profile(profile)
    lock = read_lock(loaded.lock_path)
    gone = release(lock, [] if all_ else list(what or []))
    if not gone:
        fail([Problem(display_path(loaded.lock_path), "quarantine", f"no quarantined address matches "
                      f"{', '.join(what or [])}", "see the quarantine section of the lock file")])
    write_lock(loaded.lock_path, lock)
    say(f"lock: {display_path(loaded.lock_path)}: released {len(gone)} address(es): {', '.join(sorted(gone))}")


def _render(profile: str, out_dir: Path, dry_run: bool, vault: Optional[Path], vault_password_file: Optional[Path],
            limit: Optional[str], frozen: bool, quiet: bool = False) -> tuple[Plan, dict[str, float]]:
    from egov.render.engine import Renderer, write_tree
    from egov.render.secrets import load_secrets

    t0 = time.perf_counter()
    secrets = load_secrets(vault, vault_password_file, dry_run)
    plan = checked_plan(profile, frozen)
    t_plan = time.perf_counter() - t0
    wanted = set(match_limit(list(plan.topology.nodes), limit))
    nodes = [n for n in plan.topology.nodes.values() if n.hostname in wanted]
    if not nodes:
        fail([Problem("--limit", limit or "", "matches no router", "use globs like 'sn-xa-*,sn-bj-*'")])
    renderer = Renderer(plan, secrets)
    with Progress(TextColumn("rendering"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=quiet or not err.is_terminal) as bar:
        task = bar.add_task("render", total=len(nodes))
        res = renderer.render(nodes, progress=lambda k: bar.advance(task, k))
    t1 = time.perf_counter()
    written, removed = write_tree(out_dir, res.files, secret=not secrets.placeholder)
    t_write = time.perf_counter() - t1
    if not quiet:
        t = Table(title=f"rendered {res.routers} routers into {display_path(out_dir)}"
                  + (" (dry run: secrets are EGOV-PLACEHOLDER-*)" if dry_run else ""), title_justify="left")
        t.add_column("platform")
        t.add_column("routers", justify="right")
        for platform, n in sorted(res.per_platform.items()):
            t.add_row(platform, str(n))
        t.add_section()
        t.add_row("total", str(res.routers))
        out.print(t)
        say(f"{written} files written, {removed} stale removed; plan {t_plan:.2f}s, "
            f"render {res.seconds:.2f}s ({res.routers / max(res.seconds, 1e-9):.0f} configs/s), "
            f"write {t_write:.2f}s")
    return plan, {"plan": t_plan, "render": res.seconds, "write": t_write}


@app.command("render")
def render_cmd(
    profile: ProfileOpt,
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory for <hostname>.cfg files.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Use marked placeholders for missing secrets.")] = False,
    vault: Annotated[Optional[Path], typer.Option("--vault", help="Ansible Vault file with the secrets.")] = None,
    vault_password_file: Annotated[Optional[Path], typer.Option("--vault-password-file")] = None,
    limit: Annotated[Optional[str], typer.Option("--limit", help="Only these routers (globs, comma separated).")] = None,
    frozen: FrozenOpt = False,
) -> None:
    """Render one complete configuration per router: DIR/<hostname>.cfg."""
    _render(profile, out_dir, dry_run, vault, vault_password_file, limit, frozen)


@inv_app.command("export")
def inventory_export(
    profile: ProfileOpt,
    out_file: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write here instead of stdout.")] = None,
    frozen: FrozenOpt = False,
) -> None:
    """Ansible YAML inventory: groups per tier, city and platform; host vars for NAPALM and netmiko."""
    from egov.export.ansible import inventory_yaml

    plan = checked_plan(profile, frozen)
    text = inventory_yaml(plan.topology)
    if out_file is None:
        sys.stdout.write(text)
    else:
        write_atomic(out_file, text)
        say(f"inventory: {len(plan.topology.nodes)} hosts -> {display_path(out_file)}", stderr=True)


@app.command("render-demo")
def render_demo(
    profile: ProfileOpt = "shaanxi",
    out_dir: Annotated[Path, typer.Option("--out", "-o")] = Path("build/shaanxi"),
) -> None:
    """Plan, validate and render a whole province (dry-run secrets), with a summary (no root needed)."""
    t0 = time.perf_counter()
    plan, times = _render(profile, out_dir, True, None, None, None, False, quiet=True)
    out.print(_summary_table(plan, f"{plan.loaded.profile.name}: planned, validated, rendered"))
    total = time.perf_counter() - t0
    say(f"{len(plan.topology.nodes)} configs in {display_path(out_dir)}; plan+validate {times['plan']:.2f}s, "
        f"render {times['render']:.2f}s, write {times['write']:.2f}s, total {total:.2f}s")


def run() -> None:
    """Entry point: one line per problem, never a traceback (EGOV_DEBUG=1 shows it)."""
    _add_lab()
    try:
        app()
    except EgovError as exc:
        for p in exc.problems:
            say(str(p), stderr=True)
        sys.exit(1)
    except KeyboardInterrupt:
        say("interrupted", stderr=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence for operators
        if os.environ.get("EGOV_DEBUG"):
            raise
        first = (str(exc).strip().splitlines() or [""])[0]
        say(f"egov: internal error: {exc.__class__.__name__}: {first}; fix: rerun with EGOV_DEBUG=1 and report it",
            stderr=True)
        sys.exit(1)


if __name__ == "__main__":
    run()

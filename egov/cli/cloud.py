"""``egov cloud``: plan the government cloud offline, plan the migration waves, drive Pulumi.

``plan`` and ``migrate plan`` need no cloud, no Pulumi CLI and no credentials: they run the stack's
Pulumi program under Pulumi's mocks. ``preview``, ``up`` and ``destroy`` run the real engine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from egov.cli.common import FrozenOpt, err, fail, out, say
from egov.errors import EgovError

if TYPE_CHECKING:  # every egov command imports this module: keep the cloud code out of its start-up
    from egov.cloud.engine import Op

cloud_app = typer.Typer(no_args_is_help=True, help="Government cloud: offline plan and policies, migration "
                        "waves, Pulumi preview/up/destroy.")
migrate_app = typer.Typer(no_args_is_help=True, help="Migration of systems onto the cloud, in waves.")
cloud_app.add_typer(migrate_app, name="migrate")

StackOpt = Annotated[str, typer.Option("--stack", "-s", help="Stack name (stacks/Pulumi.<name>.yaml) or a path "
                                       "to a stack file.")]
CatalogueOpt = Annotated[Path | None, typer.Option("--catalogue", "-c", help="Migration catalogue CSV "
                                                      "(default: egov:catalogue of the stack).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _n(x: int) -> str:
    return f"{x:,}"


def _pair(routers: list[str]) -> str:
    """[sn-xa-a, sn-xa-b] -> sn-xa-a/b."""
    if len(routers) == 2 and routers[0].rsplit("-", 1)[0] == routers[1].rsplit("-", 1)[0]:
        return f"{routers[0]}/{routers[1].rsplit('-', 1)[1]}"
    return ",".join(routers)


def _short(t: str) -> str:
    """openstack:networking/secGroupRule:SecGroupRule -> networking.SecGroupRule."""
    if t.startswith("openstack:"):
        mod = t.split(":")[1].split("/")[0]
        return f"{mod}.{t.rsplit(':', 1)[-1]}"
    if t.startswith("pulumi:providers:"):
        return f"Provider ({t.rsplit(':', 1)[-1]})"
    return t


@cloud_app.command("plan")
def plan_cmd(
    stack: StackOpt,
    catalogue: CatalogueOpt = None,
    as_json: JsonOpt = False,
    frozen: FrozenOpt = False,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1, max=16,
                                                help="Worker processes (default: one per core for large "
                                                "stacks).")] = None,
) -> None:
    """Run the stack offline under Pulumi's mocks: what would be created, and the policy results.

    Exit 0 when every policy passes, 1 on violations or errors."""
    from egov.cloud.plan import expected_records, run_plan

    with Progress(TextColumn("planning {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("resources", total=None)

        def on_model(model: Any) -> None:
            bar.update(task, total=expected_records(model), description=model.stack.name)

        res = run_plan(stack, catalogue, frozen=frozen, jobs=jobs, on_model=on_model,
                       on_record=lambda n: bar.advance(task, n))
    if res.lock_note:
        say(res.lock_note, stderr=True)
    problems = res.problems()
    if as_json:
        sys.stdout.write(json.dumps(res.as_json(), indent=1, ensure_ascii=False) + "\n")
    else:
        _plan_tables(res)
    for p in problems:
        say(str(p), stderr=True)
    from egov.cloud.policy import CHECKS

    s = res.seconds
    summary = (f"{res.stack.name}: {_n(len(res.records))} resources, {len(res.model.tenancies)} tenancies, "
               f"{_n(len(res.model.placements))} systems in {len(res.model.waves)} waves; {len(CHECKS)} policy "
               f"checks, {len(problems)} violation{'s' if len(problems) != 1 else ''} "
               f"({s['total']:.1f}s: program {s['program']:.1f}s)")
    if problems:
        say(summary, stderr=True, style="red")
        raise typer.Exit(1)
    if not as_json:
        say(summary)


def _plan_tables(res: Any) -> None:
    t = Table(title=f"{res.stack.name}: resources by type", title_justify="left")
    t.add_column("type")
    t.add_column("count", justify="right")
    for typ, n in res.resources().items():
        t.add_row(_short(typ), _n(n))
    t.add_section()
    t.add_row("total", _n(len(res.records)))
    out.print(t)
    r = Table(title="by region: planned use (systems and DR copies) / capacity; quota = tenancy quotas / capacity",
              title_justify="left")
    for col in ("region", "kind", "site", "attach", "tenancies", "systems", "DR copies", "vCPU", "RAM GB",
                "disk TB", "quota"):
        r.add_column(col, justify="left" if col in ("region", "kind", "site", "attach") else "right")
    for reg in res.per_region():
        cap, pl, q = reg["capacity"], reg["planned"], reg["quota"]
        share = max((q[k] / cap[k] if cap[k] else 0.0) for k in ("vcpu", "ram_gb", "disk_gb"))
        r.add_row(reg["name"], reg["kind"], reg["site"], "external" if reg["external"] else _pair(reg["attach"]),
                  f"{reg['tenancies']} ({reg['standby_tenancies']} DR)" if reg["standby_tenancies"] else
                  str(reg["tenancies"]), _n(reg["systems"]), _n(reg["standby_copies"]),
                  f"{_n(pl['vcpu'])}/{_n(cap['vcpu'])}", f"{_n(pl['ram_gb'])}/{_n(cap['ram_gb'])}",
                  f"{pl['disk_gb'] / 1000:,.0f}/{cap['disk_gb'] / 1000:,.0f}", f"{share:.0%}")
    out.print(r)
    ten = Table(title="by tenancy", title_justify="left")
    for col in ("tenancy", "role", "IPv4", "IPv6", "systems", "DR copies", "resources", "vCPU quota"):
        ten.add_column(col, justify="right" if col in ("systems", "DR copies", "resources", "vCPU quota") else "left")
    counts = res.per_tenancy()
    for name, tp in res.model.tenancies.items():
        ten.add_row(name, tp.role, str(tp.ipv4), str(tp.ipv6), _n(len(tp.systems)),
                    _n(len(tp.standby_instances) + len(tp.standby_volumes)), _n(counts[name]),
                    _n(tp.quota.cores if tp.quota else 0))
    out.print(ten)


@migrate_app.command("plan")
def migrate_plan_cmd(stack: StackOpt, catalogue: CatalogueOpt = None, as_json: JsonOpt = False) -> None:
    """The migration waves: which systems move when, to which region and tenancy.

    A bad catalogue row (unknown department, dependency cycle, missing column, bad number, a system
    larger than any region) is one line naming the row and column, and nothing is planned."""
    from egov.cloud.plan import load_model

    model, _ = load_model(stack, catalogue, write=False)
    if as_json:
        doc = [[{"system": p.id, "department": p.system.department, "region": p.region, "tenancy": p.tenancy,
                 "dr_level": p.level.level, "flavor": p.flavor.name, "disk_gb": p.system.disk_gb,
                 "depends_on": list(p.system.depends_on), "room": p.system.room,
                 "standby": [f"{r}-{p.system.department}" for r in p.standby]} for p in wave]
               for wave in model.waves]
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
        return
    t = Table(title=f"{model.stack.name}: migration waves ({model.catalogue.shown if model.catalogue else 'no catalogue'})",
              title_justify="left")
    for col in ("wave", "systems", "regions", "vCPU", "RAM GB", "disk TB", "DR 5-6", "rooms emptied"):
        t.add_column(col, justify="left" if col in ("regions", "rooms emptied") else "right")
    for i, (wave, closed) in enumerate(zip(model.waves, model.rooms_closed), start=1):
        regions: dict[str, int] = {}
        for p in wave:
            regions[p.region] = regions.get(p.region, 0) + 1
        t.add_row(str(i), _n(len(wave)), ", ".join(f"{k} {v}" for k, v in sorted(regions.items())),
                  _n(sum(p.flavor.vcpu for p in wave)), _n(sum(p.flavor.ram_gb for p in wave)),
                  f"{sum(p.system.disk_gb for p in wave) / 1000:,.1f}",
                  _n(sum(1 for p in wave if p.level.level >= 5)),
                  f"{len(closed)}" + (f" ({', '.join(closed[:4])}{', ...' if len(closed) > 4 else ''})" if closed else ""))
    out.print(t)
    rooms = sum(len(c) for c in model.rooms_closed)
    say(f"{_n(len(model.placements))} systems in {len(model.waves)} waves; {rooms} machine rooms emptied; "
        "--json lists every system with its region and tenancy")


def _engine(op: Op, stack: str, yes: bool, frozen: bool) -> None:
    from egov.cloud.config import load_stack
    from egov.cloud.engine import check_prerequisites, run

    loaded = load_stack(stack)
    check_prerequisites(loaded, op)        # before the 20 s offline plan: say at once what is missing
    if op in ("up", "destroy") and not yes:
        raise EgovError.one(f"egov cloud {op}", "--yes", f"{op} changes the clouds of stack {loaded.name}",
                            f"run egov cloud preview first, then egov cloud {op} --yes")
    if op != "destroy":
        from egov.cloud.plan import run_plan

        res = run_plan(stack, frozen=frozen)
        if res.lock_note:
            say(res.lock_note, stderr=True)
        if res.violations:
            fail(res.problems())
        say(f"{loaded.name}: offline plan clean ({len(res.records):,} resources); running pulumi {op}",
            stderr=True)

    def show(line: str) -> None:
        sys.stdout.write(line if line.endswith("\n") else line + "\n")
        sys.stdout.flush()

    outcome = run(op, loaded, on_output=show)
    say(outcome.summary)


YesOpt = Annotated[bool, typer.Option("--yes", help="Confirm changing real clouds.")]


@cloud_app.command("preview")
def preview_cmd(stack: StackOpt, frozen: FrozenOpt = False) -> None:
    """Pulumi preview (real engine; local state under the egov state directory)."""
    _engine("preview", stack, True, frozen)


@cloud_app.command("up")
def up_cmd(stack: StackOpt, yes: YesOpt = False, frozen: FrozenOpt = False) -> None:
    """Pulumi up: create or update the clouds (runs the offline plan and its policies first)."""
    _engine("up", stack, yes, frozen)


@cloud_app.command("destroy")
def destroy_cmd(stack: StackOpt, yes: YesOpt = False) -> None:
    """Pulumi destroy: remove everything the stack created."""
    _engine("destroy", stack, yes, False)

"""``egov lab``: the plan as real FRR routers on this host (root)."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from egov.errors import EgovError

lab_app = typer.Typer(no_args_is_help=True, help="The plan as real FRR routers in network namespaces (root).")
fault_app = typer.Typer(no_args_is_help=True, help="Inject faults; each is logged with a timestamp.")
lab_app.add_typer(fault_app, name="fault")


def _state():
    from egov.lab.state import LabState

    st = LabState.load()
    if st is None:
        raise EgovError.one("egov lab", "", "no lab is up", "run `egov lab up --profile lab`")
    return st


def _progress():
    from egov.cli.common import err

    return Progress(TextColumn("{task.description:<11}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, transient=True, disable=not err.is_terminal)


def _services_table(services) -> Table:
    t = Table(title="hosted services", title_justify="left")
    for c in ("service", "router", "address", "running", "probe", "from", "answers"):
        t.add_column(c)
    for v in services:
        t.add_row(v.name, v.router, f"{v.address4 or v.address6}:{v.port}", "yes" if v.up else Text("NO", style="red"),
                  f"127.0.0.1:{v.probe_port}", v.vantage, "yes" if v.reachable else "no")
    return t


def _status_table(state, statuses) -> Table:
    t = Table(title=f"lab {state.profile}" + (" (built bare)" if state.bare else ""), title_justify="left")
    for c in ("router", "daemons", "IS-IS up/plan", "BFD up/plan", "ssh", "snmp", "ok"):
        t.add_column(c)
    for s in statuses:
        dead = [d for d, alive in s.daemons.items() if not alive]
        t.add_row(s.router, "all up" if not dead else "down: " + ",".join(dead),
                  f"{s.adjacencies_up}/{s.adjacencies_expected}", f"{s.bfd_up}/{s.bfd_expected}",
                  f"127.0.0.1:{s.ssh_port}", f"127.0.0.1:{s.snmp_port}", "yes" if s.ok else Text("NO", style="red"))
    return t


@lab_app.command("up")
def up(
    profile: Annotated[str, typer.Option("--profile", "-p")] = "lab",
    bare: Annotated[bool, typer.Option("--bare", help="Routers with only hostname and management access.")] = False,
    wait: Annotated[int, typer.Option("--wait", help="Seconds to wait for every adjacency and BFD session.")] = 90,
    workers: Annotated[int, typer.Option("--workers", help="Routers started in parallel.")] = 4,
    trap_port: Annotated[int, typer.Option("--trap-port", help="127.0.0.1 UDP port the routers' traps are "
                                           "relayed to (the trap receiver binds it).")] = 10162,
    vantage: Annotated[list[str] | None, typer.Option("--vantage", metavar="SERVICE=ROUTER",
                                                      help="Router a hosted service is probed from (default: "
                                                      "the farthest).")] = None,
) -> None:
    """Build the lab: namespaces, shaped links, FRR, sshd, snmpd, hosted services, host port forwarders."""
    from egov.cli.common import checked_plan, out, say
    from egov.lab import build
    from egov.lab.status import services_status, wait_converged

    if not 1 <= trap_port <= 65535:
        raise EgovError.one("egov lab up", "--trap-port", f"{trap_port} is not a port", "give 1..65535")
    pairs: dict[str, str] = {}
    for item in vantage or []:
        name, sep, router = item.partition("=")
        if not sep or not name or not router:
            raise EgovError.one("egov lab up", "--vantage", f"{item!r} is not SERVICE=ROUTER",
                                "write it as --vantage portal=sn-bj-jt-t001")
        pairs[name] = router
    plan = checked_plan(profile, frozen=False)
    t0 = time.perf_counter()
    with _progress() as bar:
        tasks: dict[str, int] = {}

        def step(what: str, i: int, n: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=n)
            bar.update(tasks[what], completed=i)

        state = build.up(plan, bare=bare, workers=workers, progress=step, trap_port=trap_port, vantage=pairs)
    built = time.perf_counter() - t0
    _, statuses = wait_converged(state, wait)
    out.print(_status_table(state, statuses))
    services = services_status(state)
    if services:
        out.print(_services_table(services))
    ok = all(s.ok for s in statuses) and all(v.ok for v in services)
    say(f"built {len(state.routers)} routers and {len(state.links)} links in {built:.1f}s; "
        f"{'converged' if ok else 'NOT converged'} after {time.perf_counter() - t0:.1f}s. SSH key: {state.ssh_key}")
    hub_targets = build.trap_targets_on_hub(plan)
    if hub_targets:
        taken = " (a receiver already listens there)" if build.udp_port_bound(state.trap_port) else ""
        say(f"traps: every router sends SNMPv3 linkDown/linkUp to {', '.join(hub_targets)} udp/162, relayed to "
            f"127.0.0.1:{state.trap_port}{taken}; secrets: {state.secrets_file}")
    else:
        say(f"traps: the plan's services.snmp.trap_targets name no hub address, so no trap reaches "
            f"127.0.0.1:{state.trap_port}")
    for v in services:
        say(f"service {v.name}: {v.address4 or v.address6}:{v.port} behind {v.router}; probe 127.0.0.1:{v.probe_port}"
            f" from {v.vantage}")
    if not ok:
        say("lab is up but not every adjacency/BFD session the plan implies is up; see `egov lab status`",
            stderr=True)
        raise typer.Exit(1)


@lab_app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Routers, daemons, IS-IS adjacencies, BFD sessions, hosted services; exit 0 only if all are up."""
    from egov.cli.common import out, say
    from egov.lab.status import as_json as to_json
    from egov.lab.status import lab_status, services_status

    state = _state()
    statuses = lab_status(state)
    services = services_status(state)
    if as_json:
        sys.stdout.write(json.dumps(to_json(state, statuses, services), indent=1) + "\n")
    else:
        out.print(_status_table(state, statuses))
        if services:
            out.print(_services_table(services))
        say(f"traps relayed to 127.0.0.1:{state.trap_port}; faults logged to {state.fault_log}")
    if not all(s.ok for s in statuses) or not all(v.ok for v in services):
        raise typer.Exit(1)


@lab_app.command("down")
def down() -> None:
    """Remove every namespace, process, veth, forwarder and file the lab made (safe to run twice)."""
    from egov.cli.common import say
    from egov.lab import build

    with _progress() as bar:
        task = bar.add_task("removing")

        def step(_what: str, i: int, n: int) -> None:
            bar.update(task, completed=i, total=n)

        n = build.down(progress=step)
    say(f"lab down: {n} routers removed" if n else "lab down: no lab was up")


@lab_app.command("exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def exec_cmd(ctx: typer.Context, router: str) -> None:
    """Run a command inside a router: egov lab exec sn-a -- vtysh -c 'show isis neighbor'."""
    from egov.lab.host import in_router

    state = _state()
    if router not in state.routers:
        raise EgovError.one("egov lab exec", router, "no such router", "see `egov lab status`")
    args = list(ctx.args)
    if not args:
        raise EgovError.one("egov lab exec", router, "no command given", "add -- CMD ARGS")
    rs = state.routers[router]
    if os.path.basename(args[0]) == "vtysh" and "-N" not in args:
        args = [args[0], "-N", router, *args[1:]]  # this router's FRR, not the host's
    os.execvp("ip", in_router(router, rs.uts, args))


@fault_app.command("link")
def fault_link(a: str, b: str, action: str,
               index: Annotated[int, typer.Option("--index", help="Which of parallel links (1, 2).")] = 1) -> None:
    """A B down|up (carrier) or cut|heal (silent black hole, carrier stays up)."""
    from egov.cli.common import say
    from egov.lab.faults import link_fault

    ev = link_fault(_state(), a, b, action, index)
    say(f"{ev['ts']} link {ev['a']}:{ev['a_if']} - {ev['b']}:{ev['b_if']} {action}")


@fault_app.command("node")
def fault_node(router: str, action: str) -> None:
    """ROUTER down|up: stop / restart every daemon of a router."""
    from egov.cli.common import say
    from egov.lab.faults import node_fault

    ev = node_fault(_state(), router, action)
    say(f"{ev['ts']} node {router} {action}")


@fault_app.command("service")
def fault_service(name: str, action: str) -> None:
    """NAME down|up: stop / restart a hosted service's server (its namespace and router stay)."""
    from egov.cli.common import say
    from egov.lab.faults import service_fault

    ev = service_fault(_state(), name, action)
    say(f"{ev['ts']} service {name} {action}")

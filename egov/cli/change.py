"""``egov change``: plan, apply, verify, roll back and back up the backbone, safely."""

from __future__ import annotations

import sys
from typing import Annotated, Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from egov.change.contract import REVERT_IN
from egov.change.runner import ENGINES, FORKS
from egov.cli.common import checked_plan, err, out, say
from egov.errors import EgovError

change_app = typer.Typer(no_args_is_help=True, help="Safe changes: diff, commit-confirm, verify, roll back.")

ProfileOpt = Annotated[str, typer.Option("--profile", "-p", help="Profile name or path.")]
LimitOpt = Annotated[Optional[str], typer.Option("--limit", help="Only these routers (globs, comma separated).")]
LabOpt = Annotated[bool, typer.Option("--lab", help="Target the running `egov lab` routers.")]
SimOpt = Annotated[bool, typer.Option("--sim", help="Target the routers the running `egov sim` serves; "
                                                    "the others are reported as skipped.")]
ForksOpt = Annotated[int, typer.Option("--forks", min=1, help="Devices worked on at once (thread pool / ansible forks).")]
EngineOpt = Annotated[str, typer.Option(
    "--engine", help="Where device work runs: threads (this process's thread pool, the default) or ansible "
                     "(ansible-runner over playbooks/device.yml, one Python process per device: about 4 CPU-s "
                     "a device; docs/change.md).")]


def _check_engine(where: str, engine: str) -> None:
    if engine not in ENGINES:
        raise EgovError.one(where, "--engine", f"unknown engine {engine!r}", "use " + " or ".join(ENGINES))
AcceptOpt = Annotated[Optional[str], typer.Option(
    "--accept-unchecked", metavar="CHECKS",
    help="Post-checks (interfaces, isis, bfd, ping; comma separated) to accept as not run where a driver has "
         "no getter for them; recorded in the journal. Without it such a device fails (not_checked).")]


def _endpoints(plan: Any, lab: bool, sim: bool = False) -> tuple[dict[str, Any], Any]:
    """Where the routers are: the running lab's forwarders (--lab), the simulator's ports (--sim) or
    the plan's management addresses."""
    if lab and sim:
        raise EgovError.one("egov change", "--sim", "cannot be combined with --lab", "target one of them")
    if sim:
        from egov.sim.access import sim_endpoints

        return sim_endpoints(plan)
    if lab:
        from egov.lab.access import lab_endpoints

        return lab_endpoints(plan)
    from egov.change.runner import network_endpoints
    from egov.render.secrets import load_secrets

    return network_endpoints(plan), load_secrets()


def _setup(profile: str, lab: bool, bar: Progress | None = None, sim: bool = False, **kw: Any) -> Any:
    from egov.change.runner import Change

    plan = checked_plan(profile, frozen=False)
    eps, secrets = _endpoints(plan, lab, sim)
    return Change(plan, eps, secrets, progress=_progress(bar), **kw)


def _hosts(ch: Any, limit: str | None, sim: bool) -> list[str]:
    """``ch.hosts(limit)``; with --sim only the routers the simulator serves, the others named as skipped."""
    if not sim:
        return ch.hosts(limit)
    from collections import Counter

    from egov.limit import match_limit

    wanted = match_limit(ch.plan.topology.nodes, limit)
    skipped = Counter(ch.plan.topology.nodes[h].platform for h in wanted if h not in ch.endpoints)
    if skipped:
        say(f"skipped {sum(skipped.values())} router(s) the simulator does not serve: "
            + ", ".join(f"{n} {p}" for p, n in sorted(skipped.items())), stderr=True)
    hosts = [h for h in wanted if h in ch.endpoints]
    if not hosts:
        raise EgovError.one("--limit", limit or "", "matches no router the simulator serves",
                            "see `egov sim status`")
    return hosts


def _progress(bar: Progress | None) -> Any:
    """A bar on a terminal; else a line on stderr at every tenth of the devices (CI logs, pipes)."""
    tasks: dict[str, TaskID] = {}
    said: dict[str, int] = {}

    def step(what: str, i: int, n: int) -> None:
        if bar is not None and err.is_terminal:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=n)
            bar.update(tasks[what], completed=i, total=n)
            return
        tenth = (10 * i) // max(n, 1)
        if i == n or tenth > said.get(what, 0):
            said[what] = tenth
            say(f"{what}: {i}/{n} devices", stderr=True)

    return step


def _bar() -> Progress:
    return Progress(TextColumn("{task.description:<9}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, transient=True, disable=not err.is_terminal)


def _summary(outcome, title: str) -> None:
    t = Table(title=Text(f"{title} (change {outcome.change_id})"), title_justify="left")
    for c in ("device", "wave", "status", "detail"):
        t.add_column(c)
    colour = {"ok": "green", "changed": "yellow", "failed": "red", "unreachable": "magenta",
              "not_checked": "red"}
    for host in sorted(outcome.results):
        r = outcome.results[host]
        t.add_row(Text(host), Text(r.get("wave", "")), Text(r["status"], style=colour[r["status"]]),
                  Text(r.get("msg", "")))
    out.print(t)
    c = outcome.count()
    counts = " ".join(f"{k}={v}" for k, v in c.items())
    say(counts + (f"; {outcome.stopped}" if outcome.stopped else ""))
    if outcome.accepted_unchecked:
        say(f"accepted as not checked (recorded in the journal): {', '.join(outcome.accepted_unchecked)}")


def _show_diffs(outcome) -> int:
    n = 0
    for host in sorted(outcome.results):
        diff = outcome.results[host].get("diff") or ""
        if diff.strip():
            n += 1
            say(f"--- {host}", style="bold")
            out.print(diff.rstrip(), soft_wrap=True)
    return n


def _confirm(yes: bool, what: str) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise EgovError.one("egov change", "--yes", f"no terminal to confirm the {what}", "pass --yes to proceed")
    if not typer.confirm(f"Proceed with the {what}?", default=False):
        raise typer.Exit(1)


@change_app.command("plan")
def plan_cmd(profile: ProfileOpt, limit: LimitOpt = None, lab: LabOpt = False, forks: ForksOpt = FORKS,
             sim: SimOpt = False,
             detailed_exitcode: Annotated[bool, typer.Option("--detailed-exitcode",
                                                             help="Exit 0: no changes, 2: changes, 1: error.")] = False
             ) -> None:
    """Render the intended config and show each device's diff; change nothing."""
    with _bar() as bar:
        ch = _setup(profile, lab, bar, sim, forks=forks)
        outcome = ch.plan_diff(_hosts(ch, limit, sim))
    _show_diffs(outcome)
    _summary(outcome, "plan")
    if not outcome.ok:
        raise typer.Exit(1)
    if detailed_exitcode and outcome.count()["changed"]:
        raise typer.Exit(2)


@change_app.command("apply")
def apply_cmd(profile: ProfileOpt, limit: LimitOpt = None, lab: LabOpt = False, sim: SimOpt = False,
              batch: Annotated[int, typer.Option("--batch", help="Devices per batch after the canary.")] = 5,
              canary: Annotated[int, typer.Option("--canary", help="Devices in the first, lone batch.")] = 1,
              failure_budget: Annotated[int, typer.Option("--failure-budget",
                                                          help="Failures tolerated per wave.")] = 0,
              revert_in: Annotated[int, typer.Option("--revert-in", help="Commit-confirm timer, seconds.")] = REVERT_IN,
              forks: ForksOpt = FORKS,
              engine: EngineOpt = "threads",
              resume: Annotated[bool, typer.Option("--resume", help="Continue the last unfinished apply.")] = False,
              accept_unchecked: AcceptOpt = None,
              yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (required without a terminal).")]
              = False) -> None:
    """Apply the plan in waves by tier: canary, batches; commit-confirm, verify, confirm; stop on failure."""
    from egov.change.runner import accepted_checks

    accept = accepted_checks(accept_unchecked)
    _check_engine("egov change apply", engine)
    if not yes and not sys.stdin.isatty():  # fail before touching anything
        raise EgovError.one("egov change apply", "--yes", "no terminal to confirm the apply", "pass --yes to proceed")
    with _bar() as bar:
        ch = _setup(profile, lab, bar, sim, revert_in=revert_in, forks=forks, engine=engine)
        hosts = _hosts(ch, limit, sim)
        shown = None
        if not yes:  # the configs this plan reads are the apply's pre-change backup: read once
            shown = ch.plan_diff(hosts, with_config=True)
            if not _show_diffs(shown):
                _summary(shown, "plan: nothing to change")
                return
            bar.stop()
            _confirm(yes, f"apply to {shown.count()['changed']} device(s)")
            bar.start()
        outcome = ch.apply(hosts, batch=batch, canary=canary, failure_budget=failure_budget, resume=resume,
                           accept_unchecked=accept, planned=shown)
    _summary(outcome, "apply")
    if not outcome.ok:
        raise typer.Exit(1)


@change_app.command("verify")
def verify_cmd(profile: ProfileOpt, limit: LimitOpt = None, lab: LabOpt = False, sim: SimOpt = False,
               accept_unchecked: AcceptOpt = None, forks: ForksOpt = FORKS) -> None:
    """Post-checks against the plan on every device: interfaces, IS-IS, BFD, loopbacks (IPv4 and IPv6).

    A check the driver cannot run is "not checked": the device fails unless --accept-unchecked names it."""
    from egov.change.runner import accepted_checks

    accept = accepted_checks(accept_unchecked)
    with _bar() as bar:
        ch = _setup(profile, lab, bar, sim, forks=forks)
        outcome = ch.verify(_hosts(ch, limit, sim), accept_unchecked=accept)
    _summary(outcome, "verify")
    if not outcome.ok:
        raise typer.Exit(1)


@change_app.command("backup")
def backup_cmd(profile: ProfileOpt, limit: LimitOpt = None, lab: LabOpt = False, forks: ForksOpt = FORKS,
               sim: SimOpt = False) -> None:
    """Store the running configs (masked) in the backup git repository, one commit per run."""
    with _bar() as bar:
        ch = _setup(profile, lab, bar, sim, forks=forks)
        outcome, ref = ch.backup(_hosts(ch, limit, sim))
    _summary(outcome, "backup")
    saved = f"at {ref[:12]}" if ref else "nothing saved"
    say(f"backup store {ch.store.path} {saved}")
    if not outcome.ok:
        raise typer.Exit(1)


@change_app.command("rollback")
def rollback_cmd(profile: ProfileOpt, to: Annotated[str, typer.Option("--to", help="Backup commit (git ref).")],
                 limit: LimitOpt = None, lab: LabOpt = False, sim: SimOpt = False, forks: ForksOpt = FORKS,
                 engine: EngineOpt = "threads", yes: Annotated[bool, typer.Option("--yes", "-y")] = False) -> None:
    """Restore devices to a named backup (commit-confirm)."""
    _check_engine("egov change rollback", engine)
    if not yes and not sys.stdin.isatty():
        raise EgovError.one("egov change rollback", "--yes", "no terminal to confirm the rollback",
                            "pass --yes to proceed")
    with _bar() as bar:
        ch = _setup(profile, lab, bar, sim, forks=forks, engine=engine)
        hosts = _hosts(ch, limit, sim)
        bar.stop()
        _confirm(yes, f"rollback of {len(hosts)} device(s) to {to}")
        bar.start()
        outcome = ch.rollback(hosts, ch.store._git("rev-parse", to).strip())
    _summary(outcome, "rollback")
    if not outcome.ok:
        raise typer.Exit(1)

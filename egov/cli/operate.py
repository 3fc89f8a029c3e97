"""``egov runbook`` and ``egov drill``: the NOC's procedures, run where a machine can do the step.

The CLI resolves what egov.operate must not know: how routers are reached (the lab's forwarders or
the management network), the SNMP and SSH secrets, the change journal and backup store, and, for
drills, how a fault is injected into the running lab.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table
from rich.text import Text

from egov.cli.common import ProfileOpt, checked_plan, out, say
from egov.errors import EgovError

runbook_app = typer.Typer(no_args_is_help=True, help="NOC runbooks: list them, run their machine steps on a fault.")

LabOpt = Annotated[bool, typer.Option("--lab", help="Act on the running `egov lab` routers.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
RUNBOOK_FOR_KIND = {"link": "link-down", "router": "router-down", "service": "service-down",
                    "management": "snmp-unreachable"}
STATUS_STYLE = {"ok": "green", "failed": "red", "needs_person": "yellow", "error": "red"}


DirOpt = Annotated[Optional[Path], typer.Option("--dir", help="Runbook folder (default: runbooks/ of the project).")]


def runbooks_dir() -> Path:
    from egov.paths import project_root

    return project_root() / "runbooks"


def load_runbooks(folder: Path | None = None) -> dict[str, Any]:
    from egov.operate.actions import ACTIONS
    from egov.operate.runbooks import load_all

    return load_all(folder or runbooks_dir(), set(ACTIONS))


# --- what the actions may use ----------------------------------------------------------------------

class SnmpPoller:
    """Polls single routers on a private event loop (a runbook run outside the exporter)."""

    def __init__(self, targets: dict[str, Any]):
        from egov.measure.snmp import Poller

        self.targets = targets
        self.poller = Poller(timeout=2.0, retries=1, concurrency=16)
        self.loop = asyncio.new_event_loop()

    def __call__(self, router: str) -> Any:
        if router not in self.targets:
            raise EgovError.one("egov runbook", router, "no SNMP target for this router", "check the plan")
        return self.loop.run_until_complete(self.poller.poll(self.targets[router]))

    def close(self) -> None:
        self.poller.close()
        self.loop.close()


class LazyPoller:
    """An SnmpPoller made on the first poll."""

    def __init__(self, targets: Any):
        self._targets = targets
        self._poller: SnmpPoller | None = None

    def __call__(self, router: str) -> Any:
        if self._poller is None:
            self._poller = SnmpPoller(self._targets())
        return self._poller(router)

    def close(self) -> None:
        if self._poller is not None:
            self._poller.close()


class _RunbookCapabilities:
    """What a runbook's actions may do to the network, each resolved on first use: SNMP targets and
    service probes, SSH endpoints and secrets (a DR runbook needs none of them, nor the secrets)."""

    def __init__(self, plan: Any, lab: bool):
        self.plan = plan
        self.lab = lab
        self._resolved: dict[str, Any] = {}

    def measured(self) -> dict[str, Any]:
        """SNMP targets and service probes, resolved on first use (a DR runbook needs neither, nor secrets)."""
        from egov.cli.measure import resolve

        if not self._resolved:
            targets, services, _auth, _facts = resolve(self.plan, self.lab)
            self._resolved.update(targets={t.router: t for t in targets}, services={s.name: s for s in services})
        return self._resolved

    def endpoints(self) -> tuple[dict[str, Any], Any]:
        """How each router is reached over SSH (lab forwarders or management addresses), and the secrets."""
        from egov.cli.change import _endpoints

        return _endpoints(self.plan, self.lab)

    def show(self, router: str, commands: list[str]) -> dict[str, str]:
        """Show commands on one router over SSH; the secrets are masked in what comes back."""
        from egov.change.contract import Target
        from egov.change.device import run_action
        from egov.platforms import PLATFORMS

        eps, sec = self.endpoints()
        t = Target.for_platform(router, PLATFORMS[self.plan.topology.nodes[router].platform], eps[router])
        res = run_action("show", t, commands=commands, secrets=_secret_values(sec))
        if res["status"] != "ok":
            raise EgovError.one(router, "ssh", res.get("msg") or res["status"], "check the router's SSH access")
        return dict(res.get("output") or {})

    def probe(self, service: str) -> Any:
        """Probe one hosted service now, as the exporter would."""
        from egov.measure.probes import probe as run_probe

        by_service = self.measured()["services"]
        if service not in by_service:
            raise EgovError.one("--target", service, "no probe for this service",
                                "name a hosted service of the profile" + (" (is the lab up?)" if self.lab else ""))
        return asyncio.run(run_probe(by_service[service]))

    def change_runner(self) -> Any:
        """The change pipeline on this plan's routers: rollback and verify go through it, journal included."""
        from egov.change.runner import Change

        eps, sec = self.endpoints()
        return Change(self.plan, eps, sec)

    @staticmethod
    def last_change(router: str) -> dict[str, Any] | None:
        """The journal's last apply on ``router``, with the ref of the backup taken just before it."""
        from egov.change.backup import BackupStore
        from egov.change.journal import Journal

        j = Journal()
        found = j.device_changes(router, actions=("apply",))
        if not found:
            return None
        last = found[-1]
        backups = BackupStore().log(router)
        last["backup"] = next((ref for ref, msg in backups if msg.startswith(f"pre-change {last['change_id']}")), "")
        return last

    def rollback(self, router: str, ref: str) -> tuple[bool, str]:
        """Roll one router back to a backup ref through the change pipeline."""
        outcome = self.change_runner().rollback([router], ref)
        r = outcome.results[router]
        return outcome.ok, f"{router}: {r['status']}: {r.get('msg', '')} (change {outcome.change_id})"

    def verify(self, router: str) -> tuple[bool, str]:
        """The change pipeline's post-checks on one router."""
        outcome = self.change_runner().verify([router])
        r = outcome.results[router]
        return outcome.ok, f"{router}: {r['status']}: {r.get('msg', '')}"

    def cloud(self, stack: str | None) -> Any:
        """The cloud plan of a stack (default: the one named after the profile)."""
        from egov.cloud.config import load_stack
        from egov.cloud.model import build_model

        return build_model(load_stack(stack or self.plan.loaded.profile.name))

    def capacity(self, link_key: str) -> int | None:
        """The lab's links carry their shaped rate; the network's carry the plan's bandwidth."""
        if self.lab:
            from egov.lab.state import LabState

            st = LabState.load()
            found = next((lk.rate_bit for lk in (st.links if st else []) if lk.key == link_key), None)
            return int(found) if found else None
        return next((int(lk.bandwidth_bps) for lk in self.plan.topology.links if lk.key == link_key
                     and getattr(lk, "bandwidth_bps", 0)), None)


def _secret_values(sec: Any) -> list[str]:
    """The secret strings to mask in show output."""
    return [v for v in (getattr(sec, k, "") for k in ("snmp_auth_key", "snmp_priv_key", "admin_password")) if v]


def make_tools(plan: Any, lab: bool, *, poll: Any = None, out_dir: Path | None = None) -> tuple[Any, list[Any]]:
    """The capabilities a runbook run gets, and what to close afterwards."""
    from egov.operate.actions import Tools

    caps = _RunbookCapabilities(plan, lab)
    closers: list[Any] = []
    if poll is None:
        lazy = LazyPoller(lambda: caps.measured()["targets"])
        closers.append(lazy)
        poll = lazy
    tools = Tools(plan=plan, poll=poll, show=caps.show, probe=caps.probe, last_change=caps.last_change,
                  rollback=caps.rollback, verify=caps.verify, cloud=caps.cloud, out_dir=out_dir,
                  threshold=plan.loaded.profile.sla.bandwidth_threshold, capacity=caps.capacity)
    return tools, closers


def _fault_for(store: Any, profile: str, book: Any, target: str, fault_id: int | None, plan: Any) -> Any:
    """The fault the run records on: the one named, or the open fault of this runbook's kind and target."""
    if fault_id is not None:
        f = store.get(fault_id)
        if f is None or f.profile != profile:
            raise EgovError.one("egov runbook run", "--fault", f"no fault {fault_id} in profile {profile}",
                                "see `egov faults list`")
        return f
    kinds = [k for k, b in RUNBOOK_FOR_KIND.items() if b == book.id]
    want = target
    if book.header.target == "link":
        from egov.operate.actions import resolve_link

        want = resolve_link(plan, target)[0]
    return next((f for f in store.open_faults(profile) if f.kind in kinds and f.target == want), None)


def run_book(rb_id: str, plan: Any, target: str, *, tools: Any, store: Any = None, fault_id: int | None = None,
             progress: Any = None, folder: Path | None = None) -> tuple[Any, list[Any], Any]:
    """Run one runbook's machine steps; each step's result and time go on the fault (if there is one)."""
    from egov.operate.actions import ACTIONS
    from egov.operate.runbooks import RunContext, run

    books = load_runbooks(folder)
    if rb_id not in books:
        raise EgovError.one("egov runbook run", rb_id, "no such runbook",
                            f"use one of: {', '.join(sorted(books))} (egov runbook list)")
    book = books[rb_id]
    check_target(book, plan, target)
    fault = _fault_for(store, plan.loaded.profile.name, book, target, fault_id, plan) if store is not None else None
    record = None
    if fault is not None:
        fid = fault.id

        def record(res: Any) -> None:
            store.add_step(fid, book.id, res.step, res.status, res.detail, res.started, res.finished)

    ctx = RunContext(book, target, facts={"tools": tools, "fault": fault})
    return book, run(book, ctx, ACTIONS, record=record, progress=progress), fault


def check_target(book: Any, plan: Any, target: str) -> None:
    """The target names what the runbook is about (a link, router or service of the plan)."""
    from egov.operate.actions import resolve_link, resolve_router

    if book.header.target == "router":
        resolve_router(plan, target)
    elif book.header.target == "link":
        resolve_link(plan, target)
    elif book.header.target == "service" and target not in {v.service for v in plan.topology.services}:
        raise EgovError.one("--target", target, "is not a hosted service of the plan",
                            "name one of the profile's hosted_services")


@runbook_app.command("list")
def runbook_list(as_json: JsonOpt = False, folder: DirOpt = None) -> None:
    """The runbooks in runbooks/: what triggers each, how bad it is, how many steps a machine runs."""
    books = load_runbooks(folder)
    if as_json:
        doc = [{"id": b.id, "title": b.header.title, "trigger": b.header.trigger, "severity": b.header.severity,
                "target": b.header.target, "machine_steps": sum(1 for s in b.header.steps if s.run),
                "person_steps": sum(1 for s in b.header.steps if s.do), "file": str(b.path)} for b in books.values()]
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
        return
    t = Table(title="runbooks", title_justify="left")
    for c in ("id", "trigger", "severity", "target", "steps (machine/person)", "title"):
        t.add_column(c)
    for b in books.values():
        m = sum(1 for s in b.header.steps if s.run)
        t.add_row(b.id, b.header.trigger, b.header.severity, b.header.target, f"{m}/{len(b.header.steps) - m}",
                  Text(b.header.title))
    out.print(t)


@runbook_app.command("run")
def runbook_run(
    runbook_id: Annotated[str, typer.Argument(metavar="ID", help="Runbook id (egov runbook list).")],
    profile: ProfileOpt,
    target: Annotated[str, typer.Option("--target", "-t", help="Link (A~B), router, service or cloud system.")],
    lab: LabOpt = False,
    fault: Annotated[Optional[int], typer.Option("--fault", help="Record the steps on this fault (default: the "
                                                 "open fault of this kind and target, if any).")] = None,
    as_json: JsonOpt = False,
    folder: DirOpt = None,
) -> None:
    """Run the machine steps in order, record each on the fault, stop at the first step for a person."""
    from egov.measure.store import FaultStore, default_path
    from egov.paths import state_dir

    plan = checked_plan(profile, frozen=False)
    books = load_runbooks(folder)
    if runbook_id not in books:
        raise EgovError.one("egov runbook run", runbook_id, "no such runbook",
                            f"use one of: {', '.join(sorted(books))} (egov runbook list)")
    check_target(books[runbook_id], plan, target)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out_dir = state_dir() / "runbooks" / f"{runbook_id}-{stamp}"
    tools, closers = make_tools(plan, lab, out_dir=out_dir)
    store = FaultStore(default_path(state_dir()))

    def show_step(step: Any) -> None:
        if not as_json:
            say(f"- {step.title}" + (f" [{step.run}]" if step.run else " [person]"), stderr=True)

    try:
        book, results, f = run_book(runbook_id, plan, target, tools=tools, store=store, fault_id=fault,
                                    progress=show_step, folder=folder)
    finally:
        for c in closers:
            c.close()
        store.close()
    person = next((r for r in results if r.status == "needs_person"), None)
    broken = next((r for r in results if r.status == "error"), None)
    if as_json:
        doc = {"runbook": book.id, "target": target, "fault": f.id if f else None,
               "steps": [{"step": r.step, "title": r.title, "status": r.status, "detail": r.detail,
                          "seconds": round(r.finished - r.started, 3)} for r in results],
               "needs_person": person.detail if person else None}
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
    else:
        t = Table(title=Text(f"runbook {book.id} on {target}" + (f" (fault {f.id})" if f else " (no open fault)")),
                  title_justify="left")
        for c in ("step", "status", "time", "result"):
            t.add_column(c)
        for r in results:
            t.add_row(r.step, Text(r.status, style=STATUS_STYLE[r.status]), f"{r.finished - r.started:.1f}s",
                      Text(r.detail if r.status != "needs_person" else "see below"))
        out.print(t)
        if person:
            say(f"NEXT (a person): {person.title}", style="bold")
            out.print(Text(person.detail))
        if f is not None:
            say(f"recorded {len(results)} step(s) on fault {f.id} (egov faults list)", stderr=True)
    if broken:
        raise typer.Exit(1)


# --- drills --------------------------------------------------------------------------------------------

def lab_injector(plan: Any) -> tuple[Any, dict[str, str]]:
    """Inject drill faults into the running lab; the link keys of A~B targets."""
    from egov.lab import faults as lab_faults
    from egov.lab.state import LabState
    from egov.operate.actions import resolve_link

    st = LabState.load()
    if st is None or st.profile != plan.loaded.profile.name:
        raise EgovError.one("egov drill", "--lab", f"no lab of profile {plan.loaded.profile.name!r} is up",
                            f"run `egov lab up --profile {plan.loaded.profile.name}` first")

    def inject(kind: str, target: str, action: str) -> float:
        """Make it happen; when it took effect, as the lab's fault log has it (a router is down once
        its daemons are gone, which takes up to a few seconds)."""
        if kind.startswith("link-"):
            a, _, b = target.partition("~")
            event = lab_faults.link_fault(st, a, b, action)
        elif kind == "router-down":
            event = lab_faults.node_fault(st, target, action)
        else:
            event = lab_faults.service_fault(st, target, action)
            if action == "up":
                st.save()
        return dt.datetime.fromisoformat(str(event["ts"])).timestamp()

    return inject, _link_keys(plan, resolve_link)


def _link_keys(plan: Any, resolve_link: Any) -> dict[str, str]:
    """A~B for every planned link (both orders) -> its key."""
    keys: dict[str, str] = {}
    for link in plan.topology.links:
        for name in (f"{link.a}~{link.b}", f"{link.b}~{link.a}"):
            keys.setdefault(name, resolve_link(plan, name)[0])
    return keys


def check_script_targets(plan: Any, script: Any, path: str) -> None:
    from egov.operate.actions import resolve_link, resolve_router

    services = {v.service for v in plan.topology.services}
    for i, f in enumerate(script.faults):
        where = f"{path}: faults.{i}.target"
        try:
            if f.kind.startswith("link-"):
                resolve_link(plan, f.target)
            elif f.kind == "router-down":
                resolve_router(plan, f.target)
            elif f.target not in services:
                raise EgovError.one(where, f.target, "is not a hosted service of the plan",
                                    f"use one of: {', '.join(sorted(services)) or '(none)'}")
        except EgovError as exc:
            p = exc.problems[0]
            raise EgovError.one(where, f.target, p.message, p.fix) from None


def default_script() -> Path:
    from egov.paths import project_root

    return project_root() / "drills" / "default.yaml"


def run_lab_drill(plan: Any, script_path: Path, *, interval: float = 5.0, listen: tuple[str, int] | None = None,
                  exporter: Any = None, say_line: Any = None, poll_budget: float = 2.0) -> dict[str, Any]:
    """The drill on the running lab, with an exporter in this process (or the one handed in)."""
    from egov.cli.measure import BackgroundExporter
    from egov.measure import sla
    from egov.measure.store import FaultStore, default_path
    from egov.operate.drill import load_script, run_drill, summary
    from egov.paths import state_dir

    script = load_script(script_path)
    check_script_targets(plan, script, str(script_path))
    prof = plan.loaded.profile
    inject, link_keys = lab_injector(plan)
    own = exporter is None
    if own:
        exporter = BackgroundExporter(plan, True, listen, interval, timeout=poll_budget / 2).start()
    store = FaultStore(default_path(state_dir()))
    tools, closers = make_tools(plan, True, poll=exporter.poll,
                                out_dir=state_dir() / "drills" / time.strftime("%Y%m%dT%H%M%S"))
    started = time.time()
    try:
        # wait for the first poll so faults are judged against a known-good network
        if not exporter.wait_ready(60):
            raise EgovError.one("egov drill", "exporter", "no poll of the lab within 60 s",
                                "check `egov lab status` and the SNMP secrets")

        def runbook(rb_id: str, target: str, fault_id: int) -> list[dict[str, Any]]:
            _book, results, _f = run_book(rb_id, plan, target, tools=tools, store=store, fault_id=fault_id)
            return [{"step": r.step, "status": r.status, "detail": r.detail,
                     "seconds": round(r.finished - r.started, 2)} for r in results]

        results = run_drill(script, profile=prof.name, store=store, inject=inject, run_runbook=runbook,
                            interval=interval, link_keys=link_keys, target_s=prof.sla.fault_target_hours * 3600,
                            progress=say_line, poll_budget=poll_budget)
        ended = time.time()
        from egov.cli.sla import planned_windows
        from egov.measure.faults import Network

        net = Network.from_topology(plan.topology)
        faults = store.faults(prof.name, since=started, until=ended)
        avail = sla.availability(net, sla.outages(net, faults, planned_windows(store, prof.name), started, ended,
                                                  ended))
    finally:
        for c in closers:
            c.close()
        store.close()
        if own:
            exporter.stop()
    return {"script": str(script_path), "name": script.name, "started": started, "ended": ended,
            "interval_s": interval, "poll_budget_s": poll_budget, "faults": [r.as_json() for r in results], "summary": summary(results),
            "availability": {"network": (avail["network"] or {}).get("availability"),
                             "services": {s: e["availability"] for s, e in avail["services"].items()},
                             "routers_below_1": {r: e["availability"] for r, e in avail["routers"].items()
                                                 if e["availability"] < 1}}}


def print_drill(doc: dict[str, Any]) -> None:
    t = Table(title=f"drill {doc['name']}: {len(doc['faults'])} faults", title_justify="left")
    for c in ("fault", "target", "detected", "by", "runbook steps", "cleared", "3 h target"):
        t.add_column(c)
    for f in doc["faults"]:
        det = "NO" if f["detection_s"] is None else f"{f['detection_s']:.1f}s"
        steps = f["runbook_steps"]
        done = sum(1 for s in steps if s["status"] in ("ok", "failed"))
        handed = any(s["status"] == "needs_person" for s in steps)
        cleared = "NO" if f["cleared"] is None else f"{max(0.0, f['cleared'] - f['repaired']):.1f}s after repair"
        t.add_row(f["kind"], f["target"], Text(det, style="green" if f["detected_in_time"] else "red"),
                  f["detected_by"] or "-", f"{done} done" + (", then a person" if handed else "") if steps else "-",
                  Text(cleared, style="green" if f["cleared"] else "red"),
                  "met" if f["within_target"] else Text("NOT met", style="red"))
    out.print(t)
    s = doc["summary"]
    net = doc["availability"]["network"]
    svc = ", ".join(f"{k} {v:.3%}" for k, v in doc["availability"]["services"].items())
    say(f"drill: {s['detected']}/{s['faults']} detected ({s['detected_in_time']} in time; "
        + ", ".join(f"{n} by {b}" for b, n in s["by"].items())
        + f"), {s['cleared']} cleared, {s['within_target']} within the 3 h target; availability over "
          f"{doc['ended'] - doc['started']:.0f}s: network {net:.3%}" + (f", services {svc}" if svc else ""))


def drill(
    profile: ProfileOpt,
    lab: LabOpt = False,
    script: Annotated[Optional[Path], typer.Option("--script", help="Drill script (YAML); default "
                                                   "drills/default.yaml.")] = None,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between the exporter's polls.")] = 5.0,
    as_json: JsonOpt = False,
) -> None:
    """Inject scripted faults into the lab; measure detection, runbooks and clearing; report."""
    if not lab:
        raise EgovError.one("egov drill", "--lab", "drills inject real faults, so they only run on the lab",
                            "pass --lab (and bring it up with egov lab up)")
    plan = checked_plan(profile, frozen=False)
    doc = run_lab_drill(plan, script or default_script(), interval=interval,
                        say_line=None if as_json else (lambda m: say(m, stderr=True)))
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=1) + "\n")
    else:
        print_drill(doc)
    if not doc["summary"]["ok"]:
        raise typer.Exit(1)

"""``egov demo``: the whole story in one command, on real routers.

A plan becomes a running dual-stack backbone (the lab, bare, then configured through the change
pipeline: canary, batches, verification), measurement starts (the exporter and a real Prometheus
server with egov's rules), a drill breaks things and the runbooks handle them, and the SLA report
judges the result against the plan targets. Everything it starts it stops again, unless ``--keep``.

The demo keeps its own state directory (journal, backups, faults, rollups) under ``--out``, so its
figures are its own and an operator's records are never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from egov.cli.common import checked_plan, err, out, say
from egov.errors import EgovError


def free_port(preferred: int) -> int:
    """``preferred`` if nothing listens there on 127.0.0.1, else a free port the kernel picks."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise EgovError.one("egov demo", "ports", "no free TCP port on 127.0.0.1", "stop what holds them")


def _get(url: str, timeout: float = 2.0) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - 127.0.0.1 only
            return bytes(r.read())
    except OSError:
        return None


def wait_until(check: Any, timeout: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return bool(check())


class ExternalExporter:
    """``egov exporter --lab`` as a process of its own (so ``--keep`` can leave it running)."""

    @property
    def pid(self) -> int:
        return int(self.proc.pid)

    def __init__(self, profile: str, port: int, interval: float, log: Path):
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "egov.cli.main", "exporter", "--profile", profile, "--lab", "--interval",
             f"{interval:g}", "--timeout", "1", "--listen", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=log.open("ab"), start_new_session=True, env=os.environ.copy())
        self._poller: Any = None

    def attach(self, plan: Any) -> None:
        from egov.cli.measure import resolve
        from egov.cli.operate import SnmpPoller

        targets, _s, _a, _f = resolve(plan, True)
        self._poller = SnmpPoller({t.router: t for t in targets})

    def wait_ready(self, timeout: float) -> bool:
        def polled() -> bool:
            if self.proc.poll() is not None:
                raise EgovError.one("egov demo", "exporter", f"exited with {self.proc.returncode}",
                                    f"see {self.log}")
            body = _get(self.url)
            return body is not None and b"\negov_router_up{" in body
        return wait_until(polled, timeout)

    def poll(self, router: str) -> Any:
        return self._poller(router)

    def stop(self) -> None:
        if self._poller is not None:
            self._poller.close()
        stop_process(self.proc)


def stop_process(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@dataclass
class Stage:
    name: str
    seconds: float = 0.0
    result: str = ""
    ok: bool = True


@dataclass
class DemoRun:
    out_dir: Path
    stages: list[Stage] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    procs: list[Any] = field(default_factory=list)
    lab_up: bool = False

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.stages)

    def stage(self, name: str, work: Any) -> Any:
        say(f"== {name}", style="bold", stderr=True)
        st = Stage(name)
        t0 = time.perf_counter()
        spinner = err.status(name.split(":")[0] + "...") if err.is_terminal else contextlib.nullcontext()
        try:
            with spinner:
                result, st.result, st.ok = work()
        except BaseException:
            st.ok, st.result = False, "aborted"
            raise
        finally:
            st.seconds = time.perf_counter() - t0
            self.stages.append(st)
        say(f"   {st.result} ({st.seconds:.1f}s)", stderr=True, style=None if st.ok else "red")
        return result


def _preflight(profile: str) -> None:
    from egov.lab.state import LabState

    if os.geteuid() != 0:
        raise EgovError.one("egov demo", "user", "the demo builds real routers in network namespaces, which needs root",
                            "run it as root (sudo .venv/bin/egov demo), or run `egov render-demo` for the render-only view")
    missing = [t for t in ("vtysh", "snmpd", "ip", "nft", "prometheus") if not shutil.which(t)
               and not Path("/usr/sbin", t).exists() and not Path("/usr/bin", t).exists()]
    if missing:
        raise EgovError.one("egov demo", "packages", f"missing {', '.join(missing)}", "run ./bootstrap.sh first")
    st = LabState.load()
    if st is not None:
        raise EgovError.one("egov demo", "lab", f"a lab of profile {st.profile!r} is already up",
                            "take it down with `egov lab down` (or use it: `egov drill --profile "
                            f"{st.profile} --lab`)")


def demo(
    profile: Annotated[str, typer.Option("--profile", "-p", help="A lab-sized profile.")] = "lab",
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where the report, logs and state go.")]
    = Path("build/demo"),
    keep: Annotated[bool, typer.Option("--keep", help="Leave the lab, exporter and Prometheus running.")] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between the exporter's polls.")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object last.")] = False,
) -> None:
    """The main job: lab from the plan, configured by the change pipeline, measured, drilled, judged."""
    _preflight(profile)
    out_dir = out_dir.resolve()
    state = out_dir / "state"
    shutil.rmtree(state, ignore_errors=True)
    shutil.rmtree(out_dir / "prometheus", ignore_errors=True)
    state.mkdir(parents=True)
    os.environ["EGOV_STATE_DIR"] = str(state)  # the demo's records are its own
    run = DemoRun(out_dir)
    plan = checked_plan(profile, frozen=False)
    summary: dict[str, Any] = {"profile": plan.loaded.profile.name, "routers": len(plan.topology.nodes),
                               "links": len(plan.topology.links)}
    exporter: ExternalExporter | None = None
    prom: subprocess.Popen[Any] | None = None
    ok = False
    try:
        # each stage needs the one before: stop at the first that fails, and say which
        _lab(run, plan)
        if run.ok:
            summary["change"] = _change(run, plan)
        if run.ok:
            exporter, prom, urls = _measure(run, plan, interval)
            summary.update(urls)
        if run.ok:
            summary["drill"] = _drill(run, plan, exporter, interval)
        if run.ok:
            summary["sla"] = _report(run, plan, summary["prometheus"])
        ok = run.ok
    finally:
        if not keep:
            _cleanup(run, exporter, prom)
    total = time.time() - run.started
    summary.update(ok=ok, seconds=round(total, 1), kept=keep,
                   stages=[{"stage": s.name, "seconds": round(s.seconds, 1), "ok": s.ok, "result": s.result}
                           for s in run.stages])
    _closing(run, summary, keep, total)
    if as_json:
        sys.stdout.write(json.dumps(summary, sort_keys=False) + "\n")
    if not ok:
        raise typer.Exit(1)


def _lab(run: DemoRun, plan: Any) -> None:
    from egov.lab import build

    def work() -> tuple[Any, str, bool]:
        run.lab_up = True
        st = build.up(plan, bare=True, workers=4)
        return st, (f"{len(st.routers)} FRR routers and {len(st.links)} links in network namespaces, "
                    "bare: hostname and management access only"), True
    run.stage("lab: the plan as bare routers", work)


def _change(run: DemoRun, plan: Any) -> dict[str, Any]:
    from egov.change.runner import Change
    from egov.cli.change import _endpoints

    doc: dict[str, Any] = {}

    def _setup(_profile: str, lab: bool) -> Any:
        """The change pipeline on the lab, quiet (the demo reports each stage itself), with the default
        engine (the thread pool: docs/change.md)."""
        eps, secrets = _endpoints(plan, lab)
        return Change(plan, eps, secrets)

    def apply() -> tuple[Any, str, bool]:
        ch = _setup(plan.loaded.profile.name, True)
        o = ch.apply(ch.hosts(None), batch=5, canary=1)
        c = o.count()
        doc.update(apply=c, change_id=o.change_id, stopped=o.stopped)
        waves = ", ".join(f"{t} {len(m)}" for t, m in ch.waves(ch.hosts(None)))
        return o, (f"change {o.change_id}: waves {waves} (canary 1, batches of 5), commit-confirm: "
                   + " ".join(f"{k}={v}" for k, v in c.items() if v) + (f"; {o.stopped}" if o.stopped else "")), o.ok
    run.stage("change: apply the planned configuration", apply)
    if not run.ok:
        return doc

    def verify() -> tuple[Any, str, bool]:
        from egov.lab.state import LabState
        from egov.lab.status import wait_converged

        st = LabState.load()
        if st is None:
            return None, "the lab is gone", False
        _waited, statuses = wait_converged(st, 90)
        converged = all(s.ok for s in statuses)
        ch = _setup(plan.loaded.profile.name, True)
        o = ch.verify(ch.hosts(None))
        adj = sum(s.adjacencies_up for s in statuses)
        bfd = sum(s.bfd_up for s in statuses)
        doc.update(verify=o.count(), isis_adjacencies=adj, bfd_sessions=bfd)
        return o, (f"post-checks on {len(o.results)} routers: {o.count().get('ok', 0)} ok; IS-IS adjacencies {adj}, "
                   f"BFD sessions {bfd}, dual stack" + ("" if converged else " (NOT converged)")), o.ok and converged
    run.stage("verify: every router as planned", verify)
    return doc


def _measure(run: DemoRun, plan: Any, interval: float) -> tuple[Any, Any, dict[str, str]]:
    from egov.measure.promconfig import write_config
    from egov.paths import project_root

    holder: dict[str, Any] = {}

    def work() -> tuple[Any, str, bool]:
        eport, pport = free_port(9464), free_port(9090)
        ex = ExternalExporter(plan.loaded.profile.name, eport, interval, run.out_dir / "exporter.log")
        holder["exporter"] = ex
        pdir = run.out_dir / "prometheus"
        write_config(plan.topology, [("127.0.0.1", eport)], pdir, interval=f"{interval:g}s",
                     rules_dir=project_root() / "exporters" / "rules")
        prom_bin = shutil.which("prometheus") or "/usr/bin/prometheus"
        prom = subprocess.Popen(
            [prom_bin, f"--config.file={pdir / 'prometheus.yml'}", f"--web.listen-address=127.0.0.1:{pport}",
             f"--storage.tsdb.path={pdir / 'data'}", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=(run.out_dir / "prometheus.log").open("ab"), start_new_session=True)
        holder["prom"] = prom
        ex.attach(plan)
        if not ex.wait_ready(60):
            return None, f"the exporter did not poll within 60 s (see {ex.log})", False
        purl = f"http://127.0.0.1:{pport}"

        def scraped() -> bool:
            body = _get(f"{purl}/api/v1/query?" + urllib.parse.urlencode({"query": "up"}))
            return body is not None and b'"value":[' in body and b'"1"]' in body
        if not wait_until(scraped, 60):
            return None, f"Prometheus did not scrape the exporter within 60 s (see {run.out_dir / 'prometheus.log'})", False
        holder["urls"] = {"exporter": ex.url, "prometheus": purl}
        return None, (f"exporter {ex.url} (SNMPv3 polls every {interval:g} s, traps on the lab's relay), "
                      f"Prometheus {purl} scraping it with egov's rules"), True
    try:
        run.stage("measure: exporter and Prometheus", work)
    finally:
        run.procs = [holder.get("exporter"), holder.get("prom")]
    return holder.get("exporter"), holder.get("prom"), holder.get("urls", {})


def _drill(run: DemoRun, plan: Any, exporter: Any, interval: float) -> dict[str, Any]:
    from egov.cli.operate import default_script, run_lab_drill

    holder: dict[str, Any] = {}

    def work() -> tuple[Any, str, bool]:
        doc = run_lab_drill(plan, default_script(), interval=interval, exporter=exporter,
                            say_line=lambda m: say("   " + m, stderr=True))
        holder["doc"] = doc
        s = doc["summary"]
        by = ", ".join(f"{n} by {b}" for b, n in s["by"].items())
        return doc, (f"{s['faults']} faults injected, {s['detected']} detected ({by}; slowest "
                     f"{s['detection_s_max'] or 0:.1f}s), runbooks run, {s['cleared']} cleared, "
                     f"{s['within_target']} within the 3 h target"), s["ok"]
    run.stage("drill: break things, detect, run the runbooks, repair", work)
    doc = holder["doc"]
    (run.out_dir / "drill.json").write_text(json.dumps(doc, indent=1))
    from egov.cli.operate import print_drill

    print_drill(doc)
    return {"faults": [{k: f[k] for k in ("kind", "target", "injected", "detected", "detected_by", "detection_s",
                                          "cleared", "runbook", "within_target")} for f in doc["faults"]],
            "summary": doc["summary"], "availability": doc["availability"]}


def _report(run: DemoRun, plan: Any, prom_url: str) -> dict[str, Any]:
    from egov.atomic import write_atomic
    from egov.cli.sla import _print_summary, planned_windows
    from egov.measure import report as rep
    from egov.measure import sla
    from egov.measure.faults import Network
    from egov.measure.rollup import ProfileRollups, Rollups
    from egov.measure.rollup import default_path as rollups_path
    from egov.measure.store import FaultStore, default_path
    from egov.paths import state_dir

    holder: dict[str, Any] = {}

    def work() -> tuple[Any, str, bool]:
        prof = plan.loaded.profile
        net = Network.from_topology(plan.topology)
        now = time.time()
        per = sla.Period(run.started, now, "this demo", prof.services.timezone)
        store = FaultStore(default_path(state_dir()))
        rollups = Rollups(rollups_path(state_dir()))
        try:
            doc = rep.build(profile=prof, net=net, period=per, faults=store.faults(prof.name, since=per.start,
                                                                                   until=per.end),
                            windows=planned_windows(store, prof.name), util=ProfileRollups(rollups, prof.name),
                            now=now)
        finally:
            store.close()
            rollups.close()
        html = run.out_dir / "sla-report.html"
        write_atomic(html, rep.to_html(doc))
        holder.update(doc=doc, html=str(html))
        body = _get(f"{prom_url}/api/v1/query?" + urllib.parse.urlencode({"query": "sum(egov_faults_total)"}))
        seen = None
        if body:
            res = json.loads(body).get("data", {}).get("result", [])
            seen = int(float(res[0]["value"][1])) if res else 0
        holder["prometheus_faults"] = seen
        return doc, f"SLA report over the demo -> {html}; Prometheus counted {seen} fault(s)", True
    run.stage("report: the plan targets, measured", work)
    _print_summary(holder["doc"])
    say("note: the report covers these few minutes only, so the drill's outages weigh far more than they would "
        "over the plan's year; `egov sla report --period YEAR` judges a real period")
    d = holder["doc"]
    return {"html": holder["html"], "pass": d["pass"], "prometheus_faults": holder["prometheus_faults"],
            "targets": {k: {"measured": v["measured"], "target": v["target"], "pass": v["pass"]}
                        for k, v in d["targets"].items() if isinstance(v, dict) and "measured" in v}}


def _cleanup(run: DemoRun, exporter: Any, prom: Any) -> None:
    from egov.lab import build

    t0 = time.perf_counter()
    for p in run.procs:
        if p is None:
            continue
        if isinstance(p, ExternalExporter):
            p.stop()
        else:
            stop_process(p)
    n = build.down() if run.lab_up else 0
    run.stages.append(Stage("clean up", time.perf_counter() - t0,
                            f"exporter and Prometheus stopped, {n} routers removed"))


def _closing(run: DemoRun, summary: dict[str, Any], keep: bool, total: float) -> None:
    t = Table(title=Text(f"egov demo: {summary['routers']} routers, {summary['links']} links, profile "
                         f"{summary['profile']}"), title_justify="left")
    for c in ("stage", "time", "result"):
        t.add_column(c)
    for s in run.stages:
        t.add_row(s.name, f"{s.seconds:.1f}s", Text(s.result, style="" if s.ok else "red"))
    out.print(t)
    say(f"demo {'finished' if summary['ok'] else 'FAILED'} in {total:.0f}s; report: "
        f"{summary.get('sla', {}).get('html', '(none)')}", style="bold")
    if keep:
        say(f"kept running: the lab (egov lab status), the exporter {summary.get('exporter')}, Prometheus "
            f"{summary.get('prometheus')}; state in {os.environ['EGOV_STATE_DIR']} (export EGOV_STATE_DIR to "
            f"use it); stop them with `kill {' '.join(str(p.pid) for p in run.procs if p is not None)}` and "
            "`egov lab down`")

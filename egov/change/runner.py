"""Change runs: devices in waves, with a canary, a failure budget and resume; the audit log.

The CLI is a thin layer over ``Change``. Each device action is one ``DeviceRequest`` carried out by
``egov.change.device.run``, either in a thread pool in this process (backup, plan, verify: read-only,
fast) or through ansible-runner and the one parameterised playbook ``playbooks/device.yml`` (apply,
rollback), so the same playbook runs from plain ``ansible-playbook`` or AWX. This module decides what
runs where and when, and writes the audit log (``Journal``). Endpoints are handed in (the plan's, or
the lab's via egov.lab.access): change never reaches into the lab.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from egov.change.backup import BackupStore
from egov.change.contract import (
    CHECKS,
    REVERT_IN,
    STATUSES,
    VERIFY_WAIT,
    DeviceRequest,
    DeviceResult,
    Target,
    one_of,
    result,
)
from egov.change.contract import ACTIONS as _ACTION_NAMES
from egov.change.expect import validation
from egov.change.journal import Journal
from egov.endpoints import Endpoint
from egov.errors import EgovError
from egov.limit import match_limit
from egov.paths import project_root
from egov.platforms import PLATFORMS
from egov.render.engine import Renderer
from egov.render.secrets import Secrets
from egov.topology.validate import Plan

__all__ = ["ENGINES", "FORKS", "NETMIKO_ONLY", "Change", "Endpoint", "Outcome", "accepted_checks", "network_endpoints",
           "rollout"]

#: platforms without a transactional NAPALM driver (from egov.platforms): backup and show only
NETMIKO_ONLY = frozenset(n for n, p in PLATFORMS.items() if p.transport == "netmiko")
#: devices worked on at once (thread pool size, ansible forks) unless --forks says otherwise
FORKS = 20
#: where device work runs: this process's thread pool (the default: one interpreter, NAPALM drivers
#: called directly), or ansible-runner and playbooks/device.yml (the same device code as module
#: ``egov_device``, one Python process per host: about 4 CPU-s a device, docs/change.md)
Engine = Literal["threads", "ansible"]
ENGINES: tuple[str, ...] = ("threads", "ansible")


def network_endpoints(plan: Plan) -> dict[str, Endpoint]:
    """Management addresses from the plan; credentials from EGOV_DEVICE_USER / _KEY / _PASSWORD."""
    user = os.environ.get("EGOV_DEVICE_USER", plan.loaded.profile.services.admin_user)
    key = os.environ.get("EGOV_DEVICE_KEY")
    pw = os.environ.get("EGOV_DEVICE_PASSWORD", "")
    return {h: Endpoint(str(n.mgmt4.ip), 22, user, key, pw) for h, n in plan.topology.nodes.items() if n.mgmt4}


def accepted_checks(names: str | Sequence[str] | None) -> list[str]:
    """``--accept-unchecked`` as a list of post-check names (comma separated on the command line)."""
    items = names.split(",") if isinstance(names, str) else list(names or [])
    out = [n.strip() for n in items if n.strip()]
    for n in out:
        if n not in CHECKS:
            raise EgovError.one("--accept-unchecked", n, "is not a post-check",
                                f"name some of {', '.join(CHECKS)} (comma separated)")
    return out


@dataclass
class Outcome:
    change_id: str
    action: str
    results: dict[str, DeviceResult] = field(default_factory=dict)
    stopped: str = ""
    rolled_back: list[str] = field(default_factory=list)
    #: devices of a failing batch that could not be rolled back, and why
    not_rolled_back: dict[str, str] = field(default_factory=dict)
    #: post-checks the operator accepted as not run (``--accept-unchecked``)
    accepted_unchecked: list[str] = field(default_factory=list)

    def count(self) -> dict[str, int]:
        c = {s: 0 for s in STATUSES}
        for r in self.results.values():
            c[r["status"]] = c.get(r["status"], 0) + 1
        return c

    @property
    def ok(self) -> bool:
        return not self.stopped and all(r["status"] in ("ok", "changed") for r in self.results.values())


def rollout(waves: list[tuple[str, list[str]]], batch: int, canary: int) -> list[tuple[str, list[list[str]]]]:
    """Batches per wave: the very first ``canary`` devices alone, then groups of ``batch``."""
    out: list[tuple[str, list[list[str]]]] = []
    first = True
    for tier, members in waves:
        queue = list(members)
        batches: list[list[str]] = []
        if first and canary > 0 and queue:
            batches.append(queue[:canary])
            queue = queue[canary:]
            first = False
        batches += [queue[i:i + max(1, batch)] for i in range(0, len(queue), max(1, batch))]
        out.append((tier, batches))
    return out


def _as_backup(host: str, read: DeviceResult | None) -> DeviceResult:
    """A backup result from a result that read the running config (a plan's with ``with_config``)."""
    if read is None:
        return result(host, "failed", "not read by this run's plan")
    if read["status"] in ("failed", "unreachable"):
        return result(host, read["status"], read.get("msg", ""))
    if read.get("config") is None:
        return result(host, "failed", "the plan did not keep the running configuration")
    config = read["config"] or ""
    return result(host, "ok", f"{len(config.splitlines())} lines (read by this run's plan)", config=config)


class Change:
    """One change run over the routers of a plan.

    ``forks``: devices worked on at once; ``engine``: "threads" (this process's thread pool) or
    "ansible" (ansible-runner over playbooks/device.yml, for every action)."""

    def __init__(self, plan: Plan, endpoints: dict[str, Endpoint], secrets: Secrets, *,
                 journal: Journal | None = None, store: BackupStore | None = None, revert_in: int = REVERT_IN,
                 verify_wait: float = VERIFY_WAIT, forks: int = FORKS, engine: Engine = "threads",
                 progress: Callable[[str, int, int], None] | None = None):
        one_of("engine", engine, ENGINES)
        if forks < 1:
            raise ValueError(f"forks must be at least 1, not {forks}")
        self.plan = plan
        self.endpoints = endpoints
        self.secrets = secrets
        self.journal = journal or Journal()
        self.store = store or BackupStore()
        self.revert_in = revert_in
        self.verify_wait = verify_wait
        self.forks = forks
        self.engine = engine
        self.progress = progress or (lambda _w, _i, _n: None)
        self.state_dir = self.journal.path.parent
        self.render_dir = self.state_dir / "render" / plan.loaded.profile.name
        self._renderer: Renderer | None = None

    # --- helpers --------------------------------------------------------------------------------
    def hosts(self, limit: str | None) -> list[str]:
        """The plan's routers matching ``--limit`` (comma-separated globs); each must have an endpoint."""
        hosts = match_limit(self.plan.topology.nodes, limit)
        if not hosts:
            raise EgovError.one("--limit", limit or "", "matches no router", "use globs like 'sn-xa-*,sn-bj-*'")
        missing = [h for h in hosts if h not in self.endpoints]
        if missing:
            raise EgovError.one("egov change", missing[0], "has no management endpoint",
                                "give it a management address (pools.mgmt) or bring the lab up")
        return hosts

    def render(self, hosts: list[str]) -> Path:
        """Intended configs of ``hosts`` into the state dir (0600: they hold secrets)."""
        from egov.render.engine import write_tree

        nodes = self.plan.topology.nodes
        if self._renderer is None:  # compiled templates and contexts, kept for this run's later renders
            self._renderer = Renderer(self.plan, self.secrets)
        rendered = self._renderer.render([nodes[h] for h in hosts]).files  # forks when large
        write_tree(self.render_dir, {f"{h}.cfg": rendered[f"{h}.cfg"] for h in hosts}, secret=True)
        return self.render_dir

    def request(self, action: str, host: str, change_id: str = "", **fields: Any) -> DeviceRequest:
        """The request for ``host``: its platform's driver facts, endpoint, this run's timers and secrets."""
        platform = PLATFORMS[self.plan.topology.nodes[host].platform]
        return DeviceRequest(action=action, target=Target.for_platform(host, platform, self.endpoints[host]),
                             revert_in=self.revert_in, verify_wait=self.verify_wait, change_id=change_id,
                             pending_store=str(self.journal.pending_path), secrets=self.secrets.values(),
                             **fields)

    def run_devices(self, action: str, change_id: str, requests: dict[str, DeviceRequest]
                    ) -> dict[str, DeviceResult]:
        """Carry out one request per host, ``forks`` at a time; a result for every host."""
        one_of("device action", action, tuple(_ACTION_NAMES))
        if not requests:
            return {}
        if self.engine == "threads":
            return self._run_threads(action, requests)
        return self._run_ansible(action, change_id, requests)

    def _run_threads(self, action: str, requests: dict[str, DeviceRequest]) -> dict[str, DeviceResult]:
        from egov.change.device import run

        results: dict[str, DeviceResult] = {}
        lock = threading.Lock()
        with ThreadPoolExecutor(max_workers=min(self.forks, len(requests)), thread_name_prefix="egov") as pool:
            futures = {pool.submit(run, req): h for h, req in requests.items()}
            for fut in as_completed(futures):
                h = futures[fut]
                try:
                    res = fut.result()
                except Exception as exc:  # noqa: BLE001 - a bug in one device's work is that device's failure
                    res = result(h, "failed", f"{type(exc).__name__}: {str(exc).strip()[:200]}")
                with lock:
                    results[h] = res
                    self.progress(action, len(results), len(requests))
        return {h: results[h] for h in requests}

    def _run_ansible(self, action: str, change_id: str, requests: dict[str, DeviceRequest]
                     ) -> dict[str, DeviceResult]:
        """One ansible-runner run of playbooks/device.yml (``egov_action``) over the requests' hosts."""
        import ansible_runner

        hosts = list(requests)
        pdd = self.state_dir / "runs" / change_id
        (pdd / "inventory").mkdir(parents=True, exist_ok=True)
        os.chmod(self.state_dir, 0o700)
        hostvars: dict[str, dict[str, Any]] = {}
        for h, req in requests.items():
            hv: dict[str, Any] = {"egov_request": req.to_vars(), "ansible_python_interpreter": sys.executable}
            if req.target.password:
                hv["egov_password"] = req.target.password
            hostvars[h] = hv
        (pdd / "inventory" / "hosts.json").write_text(json.dumps({"all": {"hosts": hostvars}}))
        extravars: dict[str, Any] = {"egov_action": action}
        if self.secrets.values():
            extravars["egov_secrets"] = self.secrets.values()
        env = {"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
               "ANSIBLE_CONFIG": str(project_root() / "playbooks" / "ansible.cfg"),
               "ANSIBLE_LIBRARY": str(project_root() / "playbooks" / "library"),
               "ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
               "ANSIBLE_HOST_KEY_CHECKING": "False", "EGOV_HOME": str(project_root())}
        results: dict[str, DeviceResult] = {}

        def on_event(ev: dict[str, Any]) -> bool:
            data = ev.get("event_data", {})
            kind = ev.get("event")
            if kind in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable") and "host" in data:
                res = data.get("res", {})
                if isinstance(res.get("egov_result"), dict):
                    results[data["host"]] = res["egov_result"]
                else:  # ansible itself failed (module missing, interpreter, ...): its message, one line
                    msg = str(res.get("msg", "")).strip()
                    results[data["host"]] = result(data["host"], "unreachable" if kind == "runner_on_unreachable"
                                                   else "failed", msg.splitlines()[0] if msg else "")
                self.progress(action, len(results), len(hosts))
            return False  # keep events off disk except the artifacts ansible-runner always writes

        try:
            r = ansible_runner.run(private_data_dir=str(pdd), project_dir=str(project_root() / "playbooks"),
                                   playbook="device.yml", extravars=extravars, envvars=env, quiet=True,
                                   forks=min(self.forks, len(hosts)), event_handler=on_event, rotate_artifacts=5)
        finally:
            for f in ("env/extravars", "inventory/hosts.json"):  # secrets and credentials off disk
                with contextlib.suppress(FileNotFoundError):
                    (pdd / f).unlink()
        for h in hosts:
            if h not in results:
                results[h] = result(h, "failed", f"no result (ansible {r.status}, rc {r.rc})")
        return results

    @contextmanager
    def _run(self, action: str, accepted: list[str] | None = None) -> Iterator[Outcome]:
        """One journaled run. Its change row is always finished, also when something raises mid-run;
        checks the operator accepted as not run are recorded before any device is touched."""
        cid = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        facts = {"accepted_unchecked": accepted} if accepted else {}
        self.journal.start_change(cid, action, self.plan.loaded.profile.name, summary=facts)
        out = Outcome(cid, action, accepted_unchecked=list(accepted or []))
        try:
            yield out
        except BaseException as exc:
            out.stopped = f"aborted: {type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"
            raise
        finally:
            self._finish(out)

    def _finish(self, out: Outcome) -> None:
        self.journal.device_results(out.change_id, [
            (host, r["status"], r.get("diff", ""), r.get("msg", "") if r["status"] not in ("ok", "changed") else "",
             r.get("wave", "")) for host, r in out.results.items()])
        summary: dict[str, Any] = {**out.count(), "stopped": out.stopped, "rolled_back": out.rolled_back}
        if out.not_rolled_back:
            summary["not_rolled_back"] = out.not_rolled_back
        if out.accepted_unchecked:
            summary["accepted_unchecked"] = out.accepted_unchecked
        unchecked = {h: r.get("unchecked") for h, r in out.results.items() if r.get("unchecked")}
        if unchecked:
            summary["unchecked"] = unchecked
        self.journal.finish_change(out.change_id, "ok" if out.ok else "failed", summary)

    # --- actions --------------------------------------------------------------------------------
    def backup(self, hosts: list[str], label: str = "backup", read: dict[str, DeviceResult] | None = None
               ) -> tuple[Outcome, str]:
        """Back up ``hosts``; the commit holding this run's configs ("" when none was saved).

        A device is in that commit only if its result here is ok with a config: older backups of the
        others stay in the store but are never this run's. ``read``: results of this run that already
        hold the running configs (``plan_diff(with_config=True)``): stored as they are, not read again.
        """
        with self._run("backup") as out:
            cid = out.change_id
            if read is None:
                out.results = self.run_devices("backup", cid, {h: self.request("backup", h, cid) for h in hosts})
            else:
                out.results = {h: _as_backup(h, read.get(h)) for h in hosts}
            for r in out.results.values():
                if r["status"] == "ok" and r.get("config") is None:
                    r["status"], r["msg"] = "failed", "the device returned no configuration"
            configs = {h: r.get("config") or "" for h, r in out.results.items() if r["status"] == "ok"}
            ref = (self.store.save(configs, f"{label} {out.change_id}: {len(configs)} device(s)")
                   if configs else "")
        return out, ref

    def plan_diff(self, hosts: list[str], with_config: bool = False) -> Outcome:
        """Each device's diff to its rendered config; ``with_config``: results also hold the running
        config (masked) the diff is against, so an apply right after need not read it again."""
        with self._run("plan") as out:
            rdir = self.render(hosts)
            cid = out.change_id
            out.results = self.run_devices("plan", cid, {h: self.request("plan", h, cid, candidate_file=str(
                rdir / f"{h}.cfg"), with_config=with_config) for h in hosts})
        return out

    def verify(self, hosts: list[str], accept_unchecked: Sequence[str] = ()) -> Outcome:
        """Post-checks; a check the driver cannot run fails the device (not_checked) unless accepted."""
        accept = accepted_checks(accept_unchecked)
        topo = self.plan.topology
        with self._run("verify", accept) as out:
            cid = out.change_id
            out.results = self.run_devices("verify", cid, {h: self.request(
                "verify", h, cid, validation=validation(topo, h), accept_unchecked=accept) for h in hosts})
        return out

    def waves(self, hosts: list[str]) -> list[tuple[str, list[str]]]:
        """Tier by tier in the profile's order (province core first)."""
        by_tier: dict[str, list[str]] = {}
        for h in hosts:
            by_tier.setdefault(self.plan.topology.nodes[h].tier, []).append(h)
        return [(t, by_tier[t]) for t in self.plan.topology.tiers if t in by_tier]

    def apply(self, hosts: list[str], batch: int = 5, canary: int = 1, failure_budget: int = 0,
              resume: bool = False, accept_unchecked: Sequence[str] = (), planned: Outcome | None = None
              ) -> Outcome:
        """Waves, canary, batches. A device without a fresh pre-change backup (from this run) is never
        touched: it fails, counted against its wave's budget, so a batch rollback always has its config.
        ``planned``: this run's ``plan_diff(with_config=True)`` (shown before confirming): its running
        configs are the pre-change backup, so each device's config is read once, not twice."""
        accept = accepted_checks(accept_unchecked)
        topo = self.plan.topology
        done: set[str] = set()
        if resume:
            last = self.journal.last_change("apply")
            if last is None or last["result"] == "ok":
                raise EgovError.one("--resume", "", "no unfinished apply in the journal", "run without --resume")
            done = {d["device"] for d in last["devices"] if d["status"] in ("ok", "changed")}
        todo = [h for h in hosts if h not in done]
        with self._run("apply", accept) as out:
            cid = out.change_id
            rdir = self.render(todo)
            # pre-change backup of what is about to change: the rollback point of a failing batch
            read = planned.results if planned is not None else None
            pre, ref = (self.backup(todo, label=f"pre-change {cid}", read=read) if todo
                        else (Outcome("", "backup"), ""))
            fresh = {h for h, r in pre.results.items() if r["status"] == "ok"}
            configured = set(done) | {h for h in topo.nodes if h not in hosts}  # outside the limit: as is
            waves = self.waves(todo)
            plan = rollout([(t, [h for h in m if h in fresh]) for t, m in waves], batch, canary)
            for (tier, members), (_, batches) in zip(waves, plan):
                unsafe = [h for h in members if h not in fresh]
                for h in unsafe:
                    why = pre.results[h]["msg"] or pre.results[h]["status"]
                    out.results[h] = result(h, "failed", f"not changed: no pre-change backup from this run ({why})",
                                            wave=tier)
                wave_failures = len(unsafe)
                if wave_failures > failure_budget:
                    out.stopped = self._over_budget(tier, wave_failures, failure_budget)
                    return out
                for b in batches:
                    reqs = {h: self.request("apply", h, cid, candidate_file=str(rdir / f"{h}.cfg"),
                                            validation=validation(topo, h, configured | set(b)),
                                            accept_unchecked=accept) for h in b}
                    res = self.run_devices("apply", cid, reqs)
                    for r in res.values():
                        r["wave"] = tier
                    out.results.update(res)
                    failed = [h for h in b if res[h]["status"] not in ("ok", "changed")]
                    wave_failures += len(failed)
                    configured |= {h for h in b if h not in failed}
                    if wave_failures > failure_budget:
                        out.stopped = self._over_budget(tier, wave_failures, failure_budget)
                        self._roll_back_batch(out, [h for h in b if res[h]["status"] == "changed"], ref)
                        return out
        return out

    @staticmethod
    def _over_budget(tier: str, failures: int, budget: int) -> str:
        return f"wave {tier}: {failures} failure(s) over the budget of {budget}; rollout stopped"

    def _roll_back_batch(self, out: Outcome, changed: list[str], ref: str) -> None:
        """Every changed device of a failing batch back to this run's backup; names those left changed."""
        if not changed:
            return
        out.not_rolled_back = self._restore(out.change_id, changed, ref)
        out.rolled_back = [h for h in changed if h not in out.not_rolled_back]
        for h in changed:
            why = out.not_rolled_back.get(h)
            r = out.results[h]
            r["status"] = "failed"
            r["msg"] = f"NOT rolled back after its batch failed: {why}" if why else "rolled back: its batch failed"
        if out.not_rolled_back:
            out.stopped += f"; could not roll back {', '.join(sorted(out.not_rolled_back))}"

    def _restore(self, cid: str, hosts: list[str], ref: str) -> dict[str, str]:
        """Put ``hosts`` back to their configs at backup ``ref`` (commit-confirm, no post-checks).

        Restores every device it can; returns those it could not, with why (no backup at ``ref``, or
        the device failed the restore)."""
        restore = self.state_dir / "restore" / cid
        shutil.rmtree(restore, ignore_errors=True)
        restore.mkdir(parents=True)
        failed: dict[str, str] = {}
        try:
            for h in hosts:
                try:
                    (restore / f"{h}.cfg").write_text(self.store.get(h, ref))
                except EgovError:
                    failed[h] = f"no backup of {h} at {ref[:10] or '(none)'}"
            todo = [h for h in hosts if h not in failed]
            if todo:
                res = self.run_devices("rollback", cid, {h: self.request(
                    "rollback", h, cid, candidate_file=str(restore / f"{h}.cfg")) for h in todo})
                failed.update({h: r["msg"] or r["status"] for h, r in res.items()
                               if r["status"] not in ("ok", "changed")})
        finally:
            shutil.rmtree(restore, ignore_errors=True)
        return failed

    def rollback(self, hosts: list[str], ref: str) -> Outcome:
        with self._run("rollback") as out:
            failed = self._restore(out.change_id, hosts, ref)
            for h in hosts:
                why = failed.get(h)
                out.results[h] = (result(h, "failed", f"restore failed: {why}") if why
                                  else result(h, "changed", f"restored {ref[:10]}"))
        return out

"""Change runs: playbooks through ansible-runner, in waves, with a canary, a failure budget and resume.

The CLI is a thin layer over ``Change``. Device work happens in the playbooks (module
``egov_device``), so the same playbooks run from plain ``ansible-playbook`` or AWX; this module
decides what runs where and when, and writes the audit log (``Journal``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egov.change.backup import BackupStore
from egov.change.expect import expectations
from egov.change.journal import Journal
from egov.errors import EgovError
from egov.plan.load import project_root
from egov.platforms import PLATFORMS
from egov.render.engine import Renderer
from egov.render.secrets import Secrets
from egov.topology.validate import Plan

STATUSES = ("ok", "changed", "failed", "unreachable")
#: platforms without a transactional NAPALM driver: backups and show commands through netmiko
NETMIKO_ONLY = {"huawei_vrp", "h3c_comware"}


@dataclass
class Endpoint:
    address: str
    port: int
    username: str
    key_file: str | None = None
    password: str = ""


def lab_endpoints(plan: Plan) -> tuple[dict[str, Endpoint], Secrets]:
    """The running lab's SSH forwarders and its secrets (`--lab`)."""
    from egov.lab.state import LabState

    st = LabState.load()
    if st is None or st.profile != plan.loaded.profile.name:
        raise EgovError.one("egov change", "--lab", f"no lab of profile {plan.loaded.profile.name!r} is up",
                            f"run `egov lab up --profile {plan.loaded.profile.name}` first")
    user = f"{plan.loaded.profile.services.admin_user}-sh"
    eps = {h: Endpoint("127.0.0.1", rs.ssh_port, user, str(st.ssh_key)) for h, rs in st.routers.items()}
    s = st.secrets()
    return eps, Secrets(snmp_auth_key=s["snmp_auth_key"], snmp_priv_key=s["snmp_priv_key"],
                        admin_password="lab-" + s["snmp_auth_key"][:12])


def network_endpoints(plan: Plan) -> dict[str, Endpoint]:
    """Management addresses from the plan; credentials from EGOV_DEVICE_USER / _KEY / _PASSWORD."""
    user = os.environ.get("EGOV_DEVICE_USER", plan.loaded.profile.services.admin_user)
    key = os.environ.get("EGOV_DEVICE_KEY")
    pw = os.environ.get("EGOV_DEVICE_PASSWORD", "")
    return {h: Endpoint(str(n.mgmt4.ip), 22, user, key, pw) for h, n in plan.topology.nodes.items() if n.mgmt4}


@dataclass
class Outcome:
    change_id: str
    action: str
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    stopped: str = ""
    rolled_back: list[str] = field(default_factory=list)

    def count(self) -> dict[str, int]:
        c = {s: 0 for s in STATUSES}
        for r in self.results.values():
            c[r["status"]] = c.get(r["status"], 0) + 1
        return c

    @property
    def ok(self) -> bool:
        return not self.stopped and not any(r["status"] in ("failed", "unreachable") for r in self.results.values())


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


class Change:
    """One change run over the routers of a plan."""

    def __init__(self, plan: Plan, endpoints: dict[str, Endpoint], secrets: Secrets, *,
                 journal: Journal | None = None, store: BackupStore | None = None, revert_in: int = 120,
                 verify_wait: float = 45.0, progress: Callable[[str, int, int], None] | None = None):
        self.plan = plan
        self.endpoints = endpoints
        self.secrets = secrets
        self.journal = journal or Journal()
        self.store = store or BackupStore()
        self.revert_in = revert_in
        self.verify_wait = verify_wait
        self.progress = progress or (lambda _w, _i, _n: None)
        self.state_dir = self.journal.path.parent
        self.render_dir = self.state_dir / "render" / plan.loaded.profile.name

    # --- helpers --------------------------------------------------------------------------------
    def hosts(self, limit: str | None) -> list[str]:
        import fnmatch

        hosts = [h for h in self.plan.topology.nodes if not limit or any(
            fnmatch.fnmatch(h, pat) for pat in limit.split(","))]
        if not hosts:
            raise EgovError.one("--limit", limit or "", "matches no router", "use a glob like 'sn-xa-*'")
        missing = [h for h in hosts if h not in self.endpoints]
        if missing:
            raise EgovError.one("egov change", missing[0], "has no management endpoint",
                                "give it a management address (pools.mgmt) or bring the lab up")
        return hosts

    def render(self, hosts: list[str]) -> Path:
        """Intended configs of ``hosts`` into the state dir (0600: they hold secrets)."""
        from egov.render.engine import write_tree

        r = Renderer(self.plan, self.secrets)
        files = {}
        for h in hosts:
            files[f"{h}.cfg"] = r.render_node(self.plan.topology.nodes[h])[f"{h}.cfg"]
        write_tree(self.render_dir, files, secret=True)
        return self.render_dir

    def _hostvars(self, host: str, expect: dict[str, Any] | None) -> dict[str, Any]:
        ep = self.endpoints[host]
        node = self.plan.topology.nodes[host]
        platform = PLATFORMS[node.platform]
        hv: dict[str, Any] = {
            "napalm_driver": platform.napalm_driver,
            "netmiko_device_type": platform.netmiko_device_type,
            "egov_transport": "netmiko" if node.platform in NETMIKO_ONLY else "napalm",
            "egov_address": ep.address,
            "egov_port": ep.port,
            "egov_username": ep.username,
            "ansible_python_interpreter": sys.executable,
            "egov_journal": str(self.journal.path),
            "egov_render_dir": str(self.render_dir),
            "egov_revert_in": self.revert_in,
        }
        if ep.key_file:
            hv["egov_key_file"] = ep.key_file
        if ep.password:
            hv["egov_password"] = ep.password
        if expect is not None:
            hv["egov_expect"] = expect
        return hv

    def run_playbook(self, playbook: str, change_id: str, hosts: list[str], hostvars: dict[str, dict[str, Any]],
                     extra: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        """One ansible-runner run of ``playbooks/<playbook>.yml`` over ``hosts``; per-host results."""
        import ansible_runner

        pdd = self.state_dir / "runs" / change_id
        (pdd / "inventory").mkdir(parents=True, exist_ok=True)
        os.chmod(self.state_dir, 0o700)
        inv = {"all": {"hosts": {h: hostvars[h] for h in hosts}}}
        (pdd / "inventory" / "hosts.json").write_text(json.dumps(inv))
        extravars = {"egov_change_id": change_id, "egov_verify_wait": self.verify_wait, **(extra or {})}
        secret_values = self.secrets.values()
        if secret_values:
            extravars["egov_secrets"] = secret_values
        env = {"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
               "ANSIBLE_CONFIG": str(project_root() / "playbooks" / "ansible.cfg"),
               "ANSIBLE_LIBRARY": str(project_root() / "playbooks" / "library"),
               "ANSIBLE_LOCALHOST_WARNING": "False", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
               "ANSIBLE_HOST_KEY_CHECKING": "False", "EGOV_HOME": str(project_root())}
        results: dict[str, dict[str, Any]] = {}

        def on_event(ev: dict[str, Any]) -> bool:
            data = ev.get("event_data", {})
            if ev.get("event") in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable") and "host" in data:
                res = data.get("res", {})
                status = res.get("egov_status") or ("unreachable" if ev["event"] == "runner_on_unreachable"
                                                    else "failed" if ev["event"] == "runner_on_failed" else "ok")
                msg = res.get("msg", "")
                if isinstance(msg, str):
                    msg = msg.strip().splitlines()[0] if msg.strip() else ""
                results[data["host"]] = {"status": status, "msg": msg, "diff": res.get("diff_text", ""),
                                         "config": res.get("config")}
                self.progress(playbook, len(results), len(hosts))
            return False  # keep events off disk except the artifacts ansible-runner always writes

        try:
            r = ansible_runner.run(private_data_dir=str(pdd), project_dir=str(project_root() / "playbooks"),
                                   playbook=f"{playbook}.yml", extravars=extravars, envvars=env, quiet=True,
                                   forks=min(20, max(1, len(hosts))), event_handler=on_event,
                                   rotate_artifacts=5)
        finally:
            for f in ("env/extravars", "inventory/hosts.json"):  # secrets and credentials off disk
                try:
                    (pdd / f).unlink()
                except FileNotFoundError:
                    pass
        for h in hosts:
            if h not in results:
                results[h] = {"status": "failed", "msg": f"no result (ansible {r.status}, rc {r.rc})", "diff": "",
                              "config": None}
        return results

    def _new_change(self, action: str) -> str:
        cid = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self.journal.start_change(cid, action, self.plan.loaded.profile.name)
        return cid

    def _finish(self, out: Outcome) -> Outcome:
        for host, r in out.results.items():
            self.journal.device_result(out.change_id, host, r["status"], r.get("diff", ""), r.get("msg", "")
                                       if r["status"] in ("failed", "unreachable") else "", r.get("wave", ""))
        summary = {**out.count(), "stopped": out.stopped, "rolled_back": out.rolled_back}
        self.journal.finish_change(out.change_id, "ok" if out.ok else "failed", summary)
        return out

    # --- actions --------------------------------------------------------------------------------
    def backup(self, hosts: list[str], label: str = "backup") -> tuple[Outcome, str]:
        cid = self._new_change("backup")
        res = self.run_playbook("backup", cid, hosts, {h: self._hostvars(h, None) for h in hosts})
        configs = {h: r["config"] for h, r in res.items() if r["status"] == "ok" and r.get("config")}
        ref = self.store.save(configs, f"{label} {cid}: {len(configs)} device(s)") if configs else self.store.head()
        out = Outcome(cid, "backup", res)
        self._finish(out)
        return out, ref

    def plan_diff(self, hosts: list[str]) -> Outcome:
        cid = self._new_change("plan")
        self.render(hosts)
        res = self.run_playbook("plan", cid, hosts, {h: self._hostvars(h, None) for h in hosts})
        return self._finish(Outcome(cid, "plan", res))

    def verify(self, hosts: list[str]) -> Outcome:
        cid = self._new_change("verify")
        topo = self.plan.topology
        res = self.run_playbook("verify", cid, hosts, {h: self._hostvars(h, expectations(topo, h)) for h in hosts})
        return self._finish(Outcome(cid, "verify", res))

    def waves(self, hosts: list[str]) -> list[tuple[str, list[str]]]:
        """Tier by tier in the profile's order (province core first)."""
        by_tier: dict[str, list[str]] = {}
        for h in hosts:
            by_tier.setdefault(self.plan.topology.nodes[h].tier, []).append(h)
        return [(t, by_tier[t]) for t in self.plan.topology.tiers if t in by_tier]

    def apply(self, hosts: list[str], batch: int = 5, canary: int = 1, failure_budget: int = 0,
              resume: bool = False) -> Outcome:
        topo = self.plan.topology
        done: set[str] = set()
        if resume:
            last = self.journal.last_change("apply")
            if last is None or last["result"] == "ok":
                raise EgovError.one("--resume", "", "no unfinished apply in the journal", "run without --resume")
            done = {d["device"] for d in last["devices"] if d["status"] in ("ok", "changed")}
        todo = [h for h in hosts if h not in done]
        cid = self._new_change("apply")
        out = Outcome(cid, "apply")
        self.render(todo)
        # pre-change backup of what is about to change: the rollback point of a failing batch
        pre, ref = self.backup(todo, label=f"pre-change {cid}") if todo else (None, "")
        configured = set(done) | {h for h in topo.nodes if h not in hosts}  # outside the limit: as they are
        for tier, batches in rollout(self.waves(todo), batch, canary):
            wave_failures = 0
            for b in batches:
                now = configured | set(b)
                hv = {h: self._hostvars(h, expectations(topo, h, now)) for h in b}
                res = self.run_playbook("apply", cid, b, hv)
                for h, r in res.items():
                    r["wave"] = tier
                out.results.update(res)
                failed = [h for h in b if res[h]["status"] in ("failed", "unreachable")]
                wave_failures += len(failed)
                configured |= {h for h in b if h not in failed}
                if wave_failures > failure_budget:
                    out.stopped = (f"wave {tier}: {wave_failures} failure(s) over the budget of {failure_budget}; "
                                   "rollout stopped")
                    changed = [h for h in b if res[h]["status"] == "changed"]
                    if changed and ref:
                        out.rolled_back = self._restore(cid, changed, ref)
                        for h in out.rolled_back:
                            out.results[h]["status"] = "failed"
                            out.results[h]["msg"] = "rolled back: its batch failed"
                    return self._finish(out)
        return self._finish(out)

    def _restore(self, cid: str, hosts: list[str], ref: str) -> list[str]:
        """Put ``hosts`` back to their configs at backup ``ref`` (commit-confirm, no post-checks)."""
        restore = self.state_dir / "restore" / cid
        shutil.rmtree(restore, ignore_errors=True)
        restore.mkdir(parents=True)
        for h in hosts:
            (restore / f"{h}.cfg").write_text(self.store.get(h, ref))
        res = self.run_playbook("rollback", cid, hosts, {h: self._hostvars(h, None) for h in hosts},
                                extra={"egov_restore_dir": str(restore)})
        shutil.rmtree(restore, ignore_errors=True)
        return [h for h, r in res.items() if r["status"] in ("ok", "changed")]

    def rollback(self, hosts: list[str], ref: str) -> Outcome:
        cid = self._new_change("rollback")
        ok = self._restore(cid, hosts, ref)
        res = {h: {"status": "changed" if h in ok else "failed", "msg": f"restored {ref[:10]}" if h in ok
                   else "restore failed", "diff": ""} for h in hosts}
        return self._finish(Outcome(cid, "rollback", res))

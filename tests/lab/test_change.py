"""The change pipeline on real routers: from bare to planned, idempotence, exact diffs, failures, backups.

One bare lab for the module; tests run in file order and build on each other like a change window.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import INVENTORY, dump, egov, load
from egov.change.backup import BackupStore
from egov.change.journal import Journal
from egov.lab.host import pid_alive, read_pid
from egov.topology.validate import build_plan

from .labkit import lab_available, sh

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("egov-state")


@pytest.fixture(scope="module")
def env(state_dir):
    return {"EGOV_STATE_DIR": str(state_dir)}


@pytest.fixture(scope="module")
def bare_lab(env):
    why = lab_available()
    if why:
        pytest.skip(why)
    r = egov("lab", "up", "--profile", "lab", "--bare")
    assert r.returncode == 0, r.stdout + r.stderr
    from egov.lab.state import LabState

    yield LabState.load()
    egov("lab", "down")


def _running(state, host: str) -> str:
    rs = state.routers[host]
    r = sh(["ip", "netns", "exec", host, "nsenter", f"--uts={rs.uts}", "vtysh", "-N", host, "-c",
            "show running-config"])
    return r.stdout.split("!", 1)[1] if "!" in r.stdout else r.stdout


def _diff_empty(state, host: str, config_file: str) -> bool:
    rs = state.routers[host]
    r = sh(["ip", "netns", "exec", host, "nsenter", f"--uts={rs.uts}", "/usr/lib/frr/frr-reload.py", "--test",
            "-N", host, "--stdout", config_file])
    return "Lines To" not in r.stdout


def test_apply_brings_bare_routers_to_the_plan(bare_lab, env, state_dir):
    r = egov("change", "apply", "--profile", "lab", "--lab", "--yes", "--batch", "4", "--engine", "ansible", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "changed=15" in r.stdout and "failed=0" in r.stdout and "unreachable=0" in r.stdout
    plan = build_plan("lab")
    render_dir = state_dir / "render" / "lab"
    for host in plan.topology.nodes:
        assert _diff_empty(bare_lab, host, str(render_dir / f"{host}.cfg")), host
    # the saved config is the rendered text (router isis first: boot-safe on FRR 8.4)
    assert Path("/etc/frr/sn-a/frr.conf").read_text() == (render_dir / "sn-a.cfg").read_text()
    j = Journal(state_dir / "journal.sqlite").last_change("apply")
    assert j["result"] == "ok" and len(j["devices"]) == 15
    assert {d["wave"] for d in j["devices"]} == {"province", "city", "county", "township", "department"}
    assert all(not Journal(state_dir / "journal.sqlite").pending(h) for h in plan.topology.nodes)


def test_verify_passes(bare_lab, env):
    r = egov("change", "verify", "--profile", "lab", "--lab", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok=15" in r.stdout


def test_idempotent(bare_lab, env):
    r = egov("change", "plan", "--profile", "lab", "--lab", "--detailed-exitcode", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = egov("change", "apply", "--profile", "lab", "--lab", "--yes", env=env)
    assert r.returncode == 0 and "ok=15" in r.stdout and "changed=0" in r.stdout, r.stdout


def test_one_tier_change_shows_exactly_that_diff(bare_lab, env, tmp_path):
    data = load(INVENTORY / "lab.yaml")
    data["tiers"]["township"]["metric"] = 600
    prof = tmp_path / "lab.yaml"
    dump(prof, data)
    shutil.copy(INVENTORY / "lab.lock.json", tmp_path / "lab.lock.json")
    r = egov("change", "plan", "--profile", str(prof), "--lab", "--detailed-exitcode", env=env)
    assert r.returncode == 2, r.stdout + r.stderr
    changed = set(re.findall(r"^--- (\S+)$", r.stdout, re.M))
    assert changed == {"sn-xa-yt", "sn-xa-ca", "sn-bj-jt", "sn-bj-wb", "sn-xa-yt-t001", "sn-xa-ca-t001",
                       "sn-bj-jt-t001", "sn-bj-wb-t001"}
    lines = [ln for ln in r.stdout.splitlines() if re.match(r"^[+-] ", ln)]
    assert lines and all(re.match(r"^[+-]  ?isis metric (500|600)$", ln) for ln in lines), lines
    assert sum(ln.startswith("+") for ln in lines) == 16  # two township links per county, both ends


@pytest.mark.parametrize("case", ["rejected-line", "broken-adjacency", "unreachable"])
def test_failures_stop_the_rollout_and_leave_nothing_half_done(bare_lab, state_dir, case, monkeypatch, tmp_path):
    from egov.change.runner import Change
    from egov.lab.access import lab_endpoints
    from egov.plan.load import project_root  # noqa: F401

    plan = build_plan("lab")
    eps, secrets = lab_endpoints(plan)
    journal = Journal(state_dir / "journal.sqlite")
    victim = "sn-xa-a"
    before = {h: _running(bare_lab, h) for h in plan.topology.nodes}
    data_metric = 700 + ["rejected-line", "broken-adjacency", "unreachable"].index(case)
    # a real change for every city router (new metric), plus the fault on the victim
    for n in plan.topology.nodes.values():
        for i in n.interfaces:
            if i.tier == "city":
                i.metric = data_metric
    ch = Change(plan, eps, secrets, journal=journal, store=BackupStore(state_dir / "backups"), revert_in=60,
                verify_wait=15)
    real_render = ch.render

    def render(hosts):
        d = real_render(hosts)
        cfg = d / f"{victim}.cfg"
        text = cfg.read_text()
        if case == "rejected-line":
            cfg.write_text(text.replace(" isis network point-to-point\n", " isis network point-to-nowhere\n", 1))
        elif case == "broken-adjacency":
            cfg.write_text(text.replace(" isis network point-to-point\n",
                                        " isis network point-to-point\n shutdown\n", 1))  # takes a link down
        return d

    monkeypatch.setattr(ch, "render", render)
    if case == "unreachable":  # reachable for the pre-change backup (see below for when it is not), gone after
        from egov.change.runner import Endpoint

        real_backup = ch.backup

        def backup(hosts, label="backup", **kw):
            done = real_backup(hosts, label, **kw)
            ep = ch.endpoints[victim]
            ch.endpoints[victim] = Endpoint(ep.address, 1, ep.username, ep.key_file)  # nothing listens there
            return done

        monkeypatch.setattr(ch, "backup", backup)
    out = ch.apply(list(plan.topology.nodes), batch=5, canary=1)
    assert not out.ok and out.stopped
    status = {h: r["status"] for h, r in out.results.items()}
    assert status[victim] == ("unreachable" if case == "unreachable" else "failed")
    msg = out.results[victim]["msg"]
    assert "\n" not in msg and msg
    # nothing after the failing batch was touched; nothing is left pending or half-configured
    later = [h for h in plan.topology.nodes if plan.topology.nodes[h].tier not in ("province", "city")]
    assert not [h for h in later if h in out.results]
    for h in plan.topology.nodes:
        assert journal.pending(h) is None, h
        now = _running(bare_lab, h)
        if out.results.get(h, {}).get("status") != "changed":
            f = tmp_path / f"{h}.before"
            f.write_text(before[h])
            assert _diff_empty(bare_lab, h, str(f)), f"{h} changed although it did not succeed:\n{now}"
    rec = journal.change(out.change_id)
    assert rec["result"] == "failed" and json.loads(json.dumps(rec["summary"]))["stopped"]
    assert any(d["device"] == victim and d["error"] for d in rec["devices"])


def test_resume_retries_only_what_did_not_finish(bare_lab, env, state_dir):
    """After the stopped rollout above, --resume skips what the journal records as done."""
    journal = Journal(state_dir / "journal.sqlite")
    last = journal.last_change("apply")
    assert last["result"] == "failed"
    done = {d["device"] for d in last["devices"] if d["status"] in ("ok", "changed")}
    assert done and len(done) < 15
    r = egov("change", "apply", "--profile", "lab", "--lab", "--resume", "--yes", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    resumed = journal.last_change("apply")
    assert resumed["id"] != last["id"] and resumed["result"] == "ok"
    touched = {d["device"] for d in resumed["devices"]}
    assert touched == set(build_plan("lab").topology.nodes) - done
    r = egov("change", "apply", "--profile", "lab", "--lab", "--resume", "--yes", env=env)
    assert r.returncode == 1 and "no unfinished apply in the journal" in r.stderr


def test_netmiko_transport_backs_up_and_refuses_changes(bare_lab):
    """VRP and Comware go through netmiko; proven here against a real CLI (FRR's vtysh speaks IOS-like)."""
    from egov.change.device import Target, run_action

    rs = bare_lab.routers["sn-bj-a"]
    t = Target(host="sn-bj-a", driver="", address="127.0.0.1", port=rs.ssh_port, username="netops",
               key_file=str(bare_lab.ssh_key), transport="netmiko", netmiko_device_type="cisco_ios")
    res = run_action("backup", t, secrets=[bare_lab.secrets()["snmp_auth_key"]])
    assert res["status"] == "ok", res
    assert "hostname sn-bj-a" in res["config"] and "router isis EGOV" in res["config"]
    shown = run_action("show", t, commands=["show isis neighbor"])
    assert shown["status"] == "ok" and " sn-bj-b " in shown["output"]["show isis neighbor"]
    napalm_t = Target(host="sn-bj-a", driver="frr", address="127.0.0.1", port=rs.ssh_port, username="netops-sh",
                      key_file=str(bare_lab.ssh_key))
    shown = run_action("show", napalm_t, commands=["show isis neighbor"])
    assert shown["status"] == "ok" and " sn-bj-b " in shown["output"]["show isis neighbor"], shown
    refused = run_action("apply", t, candidate="hostname x\n")
    assert refused["status"] == "failed" and "netmiko only" in refused["msg"]
    bad = Target(host="sn-bj-a", driver="", address="127.0.0.1", port=1, username="netops",
                 transport="netmiko", netmiko_device_type="cisco_ios", timeout=5)
    assert run_action("backup", bad)["status"] == "unreachable"


def test_backup_and_rollback_restore_exactly(bare_lab, env, state_dir):
    r = egov("change", "backup", "--profile", "lab", "--lab", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    ref = re.search(r"at ([0-9a-f]{12})", r.stdout).group(1)
    before = _running(bare_lab, "sn-dfgw")
    # change the router behind the pipeline's back (an emergency hand edit)
    rs = bare_lab.routers["sn-dfgw"]
    sh(["ip", "netns", "exec", "sn-dfgw", "nsenter", f"--uts={rs.uts}", "vtysh", "-N", "sn-dfgw", "-c", "conf t",
        "-c", "interface eth1", "-c", "description hand edit"])
    assert _running(bare_lab, "sn-dfgw") != before
    r = egov("change", "rollback", "--profile", "lab", "--lab", "--to", ref, "--limit", "sn-dfgw", "--yes", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _running(bare_lab, "sn-dfgw") == before  # exactly: FRR's own text, byte for byte
    log = sh(["git", "-C", str(state_dir / "backups"), "log", "--oneline"]).stdout
    assert len(log.splitlines()) >= 2  # pre-change backups of the apply, and this run


def test_no_terminal_needs_yes(bare_lab, env):
    r = egov("change", "apply", "--profile", "lab", "--lab", env=env)
    assert r.returncode == 1
    assert r.stderr.strip() == "egov change apply: --yes: no terminal to confirm the apply; fix: pass --yes to proceed"


# --- issue 7, items 10-12: no change without a rollback point, no pass without a check, no unknown action --
CITY = ["sn-xa-a", "sn-xa-b", "sn-bj-a", "sn-bj-b"]


@contextmanager
def _sshd_down(state, host: str) -> Iterator[None]:
    """The router's sshd stopped inside its namespace (its forwarder finds nobody), started again after."""
    from egov.lab.build import start_router_daemons

    pid = read_pid(str(Path(state.routers[host].dir) / "sshd.pid"))
    assert pid and pid_alive(pid), f"{host}: sshd is not running"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid), f"{host}: sshd did not stop"
    try:
        yield
    finally:
        start_router_daemons(state, host)


def _city_change(state_dir: Path, metric: int):
    """A real change for the four city routers (a new metric on city links); the province stays as it is."""
    from egov.change.runner import Change
    from egov.lab.access import lab_endpoints

    plan = build_plan("lab")
    for n in plan.topology.nodes.values():
        for i in n.interfaces:
            if i.tier == "city":
                i.metric = metric
    eps, secrets = lab_endpoints(plan)
    return Change(plan, eps, secrets, journal=Journal(state_dir / "journal.sqlite"),
                  store=BackupStore(state_dir / "backups"), revert_in=60,
                  verify_wait=15)


def test_a_device_without_a_fresh_backup_is_never_touched(bare_lab, state_dir, monkeypatch):
    ch = _city_change(state_dir, 710)
    victim = "sn-bj-b"
    real_backup = ch.backup

    def backup(hosts, label="backup", **kw):  # the victim is unreachable for the pre-change backup only
        with _sshd_down(bare_lab, victim):
            return real_backup(hosts, label, **kw)

    monkeypatch.setattr(ch, "backup", backup)
    before = {h: _running(bare_lab, h) for h in CITY}
    # budget 0: the city wave is over its budget before its first batch: nothing is touched
    out = ch.apply(CITY, batch=5, canary=1, failure_budget=0)
    assert out.stopped == "wave city: 1 failure(s) over the budget of 0; rollout stopped"
    assert set(out.results) == {victim}
    assert out.results[victim]["msg"].startswith(
        "not changed: no pre-change backup from this run (unreachable: ")
    assert {h: _running(bare_lab, h) for h in CITY} == before
    assert ch.journal.change(out.change_id)["result"] == "failed"
    # budget 1: the others go ahead, the victim is still not touched (it has a backup from an earlier run)
    assert ch.store.log(victim), "an older backup of the victim exists; it must not count"
    out = ch.apply(CITY, batch=5, canary=1, failure_budget=1)
    assert not out.stopped and not out.ok
    status = {h: r["status"] for h, r in out.results.items()}
    assert status == {**{h: "changed" for h in CITY}, victim: "failed"}
    assert _running(bare_lab, victim) == before[victim]
    assert all(_running(bare_lab, h) != before[h] for h in CITY if h != victim)
    rec = ch.journal.change(out.change_id)
    assert rec["result"] == "failed" and rec["finished"]
    assert {d["device"]: d["error"] for d in rec["devices"]}[victim] == out.results[victim]["msg"]
    pre = ch.journal.last_change("backup")  # the pre-change backup run records why
    assert {d["device"]: d["status"] for d in pre["devices"]}[victim] == "unreachable"
    assert all(ch.journal.pending(h) is None for h in CITY)


def test_a_batch_rollback_rolls_back_what_it_can_and_names_the_rest(bare_lab, state_dir, monkeypatch):
    ch = _city_change(state_dir, 720)
    failing, stuck = "sn-bj-b", "sn-bj-a"  # batch 2 after the canary: sn-xa-b, sn-bj-a, sn-bj-b
    real_render, real_run = ch.render, ch.run_devices

    def render(hosts):  # a line FRR refuses, on one router of the batch
        d = real_render(hosts)
        cfg = d / f"{failing}.cfg"
        cfg.write_text(cfg.read_text().replace(" isis network point-to-point\n",
                                               " isis network point-to-nowhere\n", 1))
        return d

    def run_devices(action, cid, requests):  # one router down for the rollback only
        if action != "rollback":
            return real_run(action, cid, requests)
        with _sshd_down(bare_lab, stuck):
            return real_run(action, cid, requests)

    monkeypatch.setattr(ch, "render", render)
    monkeypatch.setattr(ch, "run_devices", run_devices)
    before = {h: _running(bare_lab, h) for h in CITY}
    out = ch.apply(CITY, batch=5, canary=1, failure_budget=0)
    assert out.results[failing]["status"] == "failed"
    assert out.results[failing]["msg"].startswith("candidate rejected")
    assert out.rolled_back == ["sn-xa-b"]
    assert list(out.not_rolled_back) == [stuck] and out.not_rolled_back[stuck].startswith("unreachable: ")
    assert out.stopped.endswith(f"; could not roll back {stuck}")
    assert _running(bare_lab, "sn-xa-b") == before["sn-xa-b"]  # rolled back exactly
    assert _running(bare_lab, failing) == before[failing]
    assert _running(bare_lab, stuck) != before[stuck]  # left changed, and said so
    assert out.results["sn-xa-a"]["status"] == "changed"  # the canary's batch passed: it stays
    rec = ch.journal.change(out.change_id)
    assert rec["result"] == "failed" and rec["summary"]["not_rolled_back"] == out.not_rolled_back
    assert rec["summary"]["rolled_back"] == ["sn-xa-b"]
    errors = {d["device"]: d["error"] for d in rec["devices"]}
    assert errors[stuck].startswith("NOT rolled back after its batch failed: unreachable: ")
    assert all(ch.journal.pending(h) is None for h in CITY)


# FRR as NAPALM's IOS-XE and Junos drivers see it: no IS-IS or BFD getter. NAPALM's own lookup finds it
# (custom_napalm.<name> comes before napalm_<name>) when the test puts it on PYTHONPATH.
GETTERLESS_FRR = '''"""napalm_frr without get_isis_neighbors and get_bfd_peers, as IOS-XE and Junos are."""
import napalm_frr.frr as frr


class FRRWithoutIsisBfd(frr.FRRDriver):
    def __getattribute__(self, name):
        if name in ("get_isis_neighbors", "get_bfd_peers"):
            raise AttributeError(name)
        return super().__getattribute__(name)
'''


def _frr_driver(extra_env: dict[str, str]) -> str:
    """The class NAPALM's lookup gives for "frr" in a fresh interpreter with ``extra_env``."""
    code = "import napalm; print(napalm.get_network_driver('frr').__name__)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, **extra_env}, timeout=60)
    return r.stdout.strip() or r.stderr


@pytest.fixture
def getterless(tmp_path, env):
    """The CLI's environment with the getter-less driver on PYTHONPATH (it reaches the Ansible module)."""
    pkg = tmp_path / "drivers" / "custom_napalm"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "frr.py").write_text(GETTERLESS_FRR)
    with_path = {**env, "PYTHONPATH": str(tmp_path / "drivers")}
    assert _frr_driver({}) == "FRRDriver"
    assert _frr_driver(with_path) == "FRRWithoutIsisBfd"
    return with_path


def test_verify_reports_what_the_driver_cannot_check(bare_lab, env, getterless, state_dir):
    journal = Journal(state_dir / "journal.sqlite")
    hosts = ["sn-xa-a", "sn-bj-a"]
    r = egov("change", "verify", "--profile", "lab", "--lab", "--limit", ",".join(hosts), env=getterless)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "ok=0 changed=0 failed=0 unreachable=0 not_checked=2" in r.stdout
    rec = journal.last_change("verify")
    assert rec["result"] == "failed" and {d["device"]: d["status"] for d in rec["devices"]} == dict.fromkeys(
        hosts, "not_checked")
    assert all(d["error"].startswith("not checked: isis, bfd (the driver has no getter); accept with "
                                     "--accept-unchecked isis,bfd") for d in rec["devices"])
    assert rec["summary"]["unchecked"] == dict.fromkeys(hosts, ["isis", "bfd"])
    # accepting one of the two is not enough
    r = egov("change", "verify", "--profile", "lab", "--lab", "--limit", ",".join(hosts),
             "--accept-unchecked", "isis", env=getterless)
    assert r.returncode == 1 and "not_checked=2" in r.stdout, r.stdout + r.stderr
    assert all(d["error"].startswith("not checked: bfd ") for d in journal.last_change("verify")["devices"])
    # accepted explicitly: passes, and the journal records the acceptance
    r = egov("change", "verify", "--profile", "lab", "--lab", "--limit", ",".join(hosts),
             "--accept-unchecked", "isis,bfd", env=getterless)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok=2 " in r.stdout and "accepted as not checked (recorded in the journal): isis, bfd" in r.stdout
    rec = journal.last_change("verify")
    assert rec["result"] == "ok" and rec["summary"]["accepted_unchecked"] == ["isis", "bfd"]
    assert rec["summary"]["unchecked"] == dict.fromkeys(hosts, ["isis", "bfd"])
    # the real driver checks everything: nothing to accept
    r = egov("change", "verify", "--profile", "lab", "--lab", "--limit", ",".join(hosts), env=env)
    assert r.returncode == 0 and "ok=2 " in r.stdout, r.stdout + r.stderr
    assert "unchecked" not in journal.last_change("verify")["summary"]


def test_apply_rolls_back_what_its_post_check_cannot_check(bare_lab, env, getterless, state_dir, tmp_path):
    data = load(INVENTORY / "lab.yaml")
    data["tiers"]["township"]["metric"] = 610
    prof = tmp_path / "lab.yaml"
    dump(prof, data)
    shutil.copy(INVENTORY / "lab.lock.json", tmp_path / "lab.lock.json")
    host = "sn-xa-yt-t001"
    journal = Journal(state_dir / "journal.sqlite")
    before = _running(bare_lab, host)
    r = egov("change", "apply", "--profile", str(prof), "--lab", "--limit", host, "--yes", env=getterless)
    assert r.returncode == 1 and "failed=1" in r.stdout, r.stdout + r.stderr
    dev = journal.last_change("apply")["devices"]
    assert [(d["device"], d["status"]) for d in dev] == [(host, "failed")]
    assert dev[0]["error"].startswith("post-check failed, rolled back: not checked: isis, bfd")
    assert _running(bare_lab, host) == before and journal.pending(host) is None
    r = egov("change", "apply", "--profile", str(prof), "--lab", "--limit", host, "--yes",
             "--accept-unchecked", "bfd,isis", env=getterless)
    assert r.returncode == 0 and "changed=1" in r.stdout, r.stdout + r.stderr
    rec = journal.last_change("apply")
    assert rec["result"] == "ok" and rec["summary"]["accepted_unchecked"] == ["bfd", "isis"]
    assert rec["summary"]["unchecked"] == {host: ["isis", "bfd"]}
    assert " isis metric 610" in _running(bare_lab, host) and journal.pending(host) is None


def test_an_unknown_action_never_reaches_the_router(bare_lab, state_dir):
    from egov.change.device import Target, run_action
    from egov.lab.access import lab_endpoints
    from egov.render.engine import Renderer

    host = "sn-dfgw"
    plan = build_plan("lab")
    _, secrets = lab_endpoints(plan)
    config = Renderer(plan, secrets).render_node(plan.topology.nodes[host])[f"{host}.cfg"]
    config = config.replace("interface eth1\n", "interface eth1\n description must-not-land\n", 1)
    assert "must-not-land" in config
    rs = bare_lab.routers[host]
    t = Target(host=host, driver="frr", address="127.0.0.1", port=rs.ssh_port, username="netops-sh",
               key_file=str(bare_lab.ssh_key))
    before = _running(bare_lab, host)
    journal = str(state_dir / "journal.sqlite")
    store = str(Journal(journal).pending_path)
    for action in ("comit", "APPLY", "apply "):
        with pytest.raises(ValueError, match=f"^unknown device action {action!r}; use one of "):
            run_action(action, t, candidate=config, pending_store=store, revert_in=60)
    assert _running(bare_lab, host) == before
    assert Journal(journal).pending(host) is None
    # the known action on the same input does commit: the refusal above is the guard, not a broken target
    res = run_action("plan", t, candidate=config, pending_store=store)
    assert res["status"] == "changed" and "must-not-land" in res["diff"]


# --- the controller killed mid-commit (with its ansible-playbook children): the router reverts alone --
KILLED_APPLY = '''
import sys
from pathlib import Path
from egov.change.backup import BackupStore
from egov.change.journal import Journal
from egov.change.runner import Change
from egov.lab.access import lab_endpoints
from egov.topology.validate import build_plan

state, host = Path(sys.argv[1]), sys.argv[2]
plan = build_plan("lab")
eps, secrets = lab_endpoints(plan)
ch = Change(plan, eps, secrets, journal=Journal(state / "journal.sqlite"), store=BackupStore(state / "backups"),
            revert_in=12, verify_wait=120, engine="ansible")
real_render = ch.render

def render(hosts):  # a shut interface: the post-check keeps waiting for its adjacency
    d = real_render(hosts)
    cfg = d / f"{host}.cfg"
    cfg.write_text(cfg.read_text().replace(" isis network point-to-point\\n",
                                           " isis network point-to-point\\n shutdown\\n", 1))
    return d

ch.render = render
ch.apply([host], batch=1, canary=1)
'''


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (ansible-runner starts ansible-playbook in a session of its own)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _live(pid: int) -> bool:
    """Running (a zombie waiting for its reaper is dead)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_killed_controller_leaves_the_router_to_revert_on_its_own(bare_lab, state_dir):
    host = "sn-bj-wb-t001"
    journal = Journal(state_dir / "journal.sqlite")
    before = _running(bare_lab, host)
    saved = Path(f"/etc/frr/{host}/frr.conf").read_text()
    proc = subprocess.Popen([sys.executable, "-c", KILLED_APPLY, str(state_dir), host],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        # committed (the pending record comes before the reload) and running: waiting for its post-check
        while journal.pending(host) is None or " shutdown" not in _running(bare_lab, host):
            if proc.poll() is not None:
                raise AssertionError(f"the apply ended before its commit: {proc.stdout.read()[-2000:]}")
            assert time.monotonic() < deadline, "no pending commit within 120 s"
            time.sleep(0.2)
        tree = _descendants(proc.pid)
        assert any("ansible-playbook" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")
                   for p in tree if Path(f"/proc/{p}/cmdline").exists())
        for p in [proc.pid, *tree]:  # the controller and everything it started, at once
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 5
        while [p for p in tree if _live(p)] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in tree if _live(p)]
    finally:
        if proc.poll() is None:
            proc.kill()
    conf = Path(f"/etc/frr/{host}/frr.conf")
    deadline = time.monotonic() + 30
    while (_running(bare_lab, host), conf.read_text()) != (before, saved) and time.monotonic() < deadline:
        time.sleep(0.5)  # the timer reloads first (FRR writes its own file), then installs the saved one
    assert _running(bare_lab, host) == before  # the router's own timer: byte for byte
    assert conf.read_text() == saved
    from napalm_frr.pending import PendingStore

    store = PendingStore(journal.pending_path)
    assert store.pending(host).expired  # the controller never closed it; the next driver session does
    rs = bare_lab.routers[host]
    from napalm import get_network_driver

    d = get_network_driver("frr")("127.0.0.1", "netops-sh", "", timeout=30, optional_args={
        "port": rs.ssh_port, "key_file": str(bare_lab.ssh_key), "pending_store": str(journal.pending_path)})
    d.open()
    try:
        assert not d.has_pending_commit()
    finally:
        d.close()
    assert store.history(host)[-1][1] == "reverted" and journal.pending(host) is None

"""The change pipeline on real routers: from bare to planned, idempotence, exact diffs, failures, backups.

One bare lab for the module; tests run in file order and build on each other like a change window.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import INVENTORY, dump, egov, load
from egov.change.journal import Journal
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
    r = egov("change", "apply", "--profile", "lab", "--lab", "--yes", "--batch", "4", env=env)
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
    from egov.change.runner import Change, lab_endpoints
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
    ch = Change(plan, eps, secrets, journal=journal, revert_in=60, verify_wait=15)
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
    if case == "unreachable":
        from egov.change.runner import Endpoint

        ep = ch.endpoints[victim]
        ch.endpoints[victim] = Endpoint(ep.address, 1, ep.username, ep.key_file)  # nothing listens there
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
    refused = run_action("apply", t, config="hostname x\n")
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

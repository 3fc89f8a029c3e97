"""Runbooks against real faults on the lab (issue 10): each automated step runs on real routers and is
recorded on its fault. The link, router and service runbooks run inside the drill (test_demo.py)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from conftest import egov

from .labkit import in_router, lab_up, wait_ok  # noqa: F401

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return {"EGOV_STATE_DIR": str(tmp_path_factory.mktemp("egov-state"))}


def _open_fault(env, kind: str, target: str) -> int:
    from egov.measure.store import FaultStore, default_path

    store = FaultStore(default_path(Path(env["EGOV_STATE_DIR"])))
    try:
        now = time.time()
        f, _ = store.open("lab", kind, target, start=now, detected=now, by="test", target_s=10800)
        return f.id
    finally:
        store.close()


def _steps(env, fault_id: int) -> list[dict]:
    from egov.measure.store import FaultStore, default_path

    store = FaultStore(default_path(Path(env["EGOV_STATE_DIR"])))
    try:
        return store.steps(fault_id)
    finally:
        store.close()


def _run(env, *args: str) -> tuple[int, dict, str]:
    r = egov("runbook", "run", *args, "--profile", "lab", "--lab", "--json", env=env)
    return r.returncode, (json.loads(r.stdout) if r.stdout.strip().startswith("{") else {}), r.stderr


def test_snmp_unreachable_is_told_apart_from_an_outage(lab_up, env):
    """The agent dies, the router forwards on: SNMP fails, neighbours still see it, SSH answers."""
    host = "sn-bj-wb"
    wait_ok()
    pid = int((Path(lab_up.routers[host].dir) / "snmpd.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    fid = _open_fault(env, "management", host)
    try:
        rc, doc, err = _run(env, "snmp-unreachable", "--target", host, "--fault", str(fid))
        assert rc == 0, err
        steps = {s["step"]: s for s in doc["steps"]}
        assert steps["snmp"]["status"] == "failed" and "timeout" in steps["snmp"]["detail"], steps["snmp"]
        assert steps["forwarding"]["status"] == "ok", steps["forwarding"]
        assert "a management fault, not an outage" in steps["forwarding"]["detail"]
        assert steps["ssh"]["status"] == "ok", steps["ssh"]
        assert doc["needs_person"] and steps["agent"]["status"] == "needs_person"
        recorded = _steps(env, fid)
        assert [(s["runbook"], s["step"], s["status"]) for s in recorded] == [
            ("snmp-unreachable", "snmp", "failed"), ("snmp-unreachable", "forwarding", "ok"),
            ("snmp-unreachable", "ssh", "ok"), ("snmp-unreachable", "agent", "needs_person")]
        # the show output of the SSH step is kept for the ticket
        saved = next(Path(env["EGOV_STATE_DIR"], "runbooks").glob("snmp-unreachable-*/sn-bj-wb.txt"))
        assert "### show version" in saved.read_text() and "FRRouting" in saved.read_text()
    finally:
        assert egov("lab", "fault", "node", host, "down").returncode == 0
        assert egov("lab", "fault", "node", host, "up").returncode == 0
    assert wait_ok()["ok"]


def test_link_down_runbook_finds_the_other_uplink_carrying_traffic(lab_up, env):
    a, b = "sn-xa-ca", "sn-xa-a"
    wait_ok()
    assert egov("lab", "fault", "link", a, b, "down").returncode == 0
    try:
        time.sleep(2)
        rc, doc, err = _run(env, "link-down", "--target", f"{a}~{b}")
        assert rc == 0, err
        steps = {s["step"]: s for s in doc["steps"]}
        assert steps["state"]["status"] == "failed" and "out of service" in steps["state"]["detail"]
        assert steps["collect"]["status"] == "ok"
        assert steps["other-uplink"]["status"] == "ok", steps["other-uplink"]
        assert steps["other-uplink"]["detail"].startswith("sn-xa-ca runs on ") and "to sn-xa-b" in \
            steps["other-uplink"]["detail"]
    finally:
        egov("lab", "fault", "link", a, b, "up")
    assert wait_ok()["ok"]


def test_change_failed_runbook_rolls_back_to_the_pre_change_backup(lab_up, env):
    """A drifted router is put back to plan by an apply; the runbook rolls that change back byte for byte."""
    host = "sn-xa-ca-t001"
    wait_ok()
    vtysh = ["vtysh", "-N", host]
    in_router(lab_up, host, [*vtysh, "-c", "conf t", "-c", "interface lo", "-c", "description drifted-by-hand",
                             "-c", "end", "-c", "write memory"])
    before = in_router(lab_up, host, [*vtysh, "-c", "show running-config"]).stdout
    assert "drifted-by-hand" in before
    r = egov("change", "apply", "--profile", "lab", "--lab", "--yes", "--limit", host, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "drifted-by-hand" not in in_router(lab_up, host, [*vtysh, "-c", "show running-config"]).stdout
    rc, doc, err = _run(env, "change-failed", "--target", host)
    assert rc == 0, err
    steps = {s["step"]: s for s in doc["steps"]}
    assert steps["last-change"]["status"] == "ok" and "backup before it" in steps["last-change"]["detail"]
    assert steps["rollback"]["status"] == "ok", steps["rollback"]
    after = in_router(lab_up, host, [*vtysh, "-c", "show running-config"]).stdout
    strip = lambda t: [x for x in t.splitlines() if not x.startswith(("Building", "Current configuration"))]  # noqa: E731
    assert strip(after) == strip(before)
    assert steps["verify"]["status"] == "ok", steps["verify"]
    assert doc["needs_person"]
    # put it back to plan for the other tests
    assert egov("change", "apply", "--profile", "lab", "--lab", "--yes", "--limit", host, env=env).returncode == 0


def test_bandwidth_runbook_sees_a_link_filled_by_iperf3(lab_up, env):
    """A township uplink (200M in the plan, shaped in the lab) filled by iperf3 is over the threshold."""
    import subprocess

    from egov.topology.validate import build_plan

    plan = build_plan("lab")
    town, county = "sn-xa-yt-t001", "sn-xa-yt"
    mine = next(i for i in plan.topology.nodes[town].interfaces if i.peer == county)
    theirs = next(i for i in plan.topology.nodes[county].interfaces if i.link == mine.link)
    server_ip = str(theirs.ipv4.ip)
    wait_ok()
    srv = subprocess.Popen(["ip", "netns", "exec", county, "iperf3", "-s", "-1", "-B", server_ip],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    cli = subprocess.Popen(["ip", "netns", "exec", town, "iperf3", "-c", server_ip, "-t", "25"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)
        rc, doc, err = _run(env, "bandwidth-degraded", "--target", mine.link)
        assert rc == 0, err
        step = doc["steps"][0]
        assert step["step"] == "utilisation" and step["status"] == "failed", step
        assert "over the 80% threshold" in step["detail"], step
    finally:
        cli.kill()
        srv.kill()
        cli.wait()
        srv.wait()
    # idle again: the same runbook finds the link within its bandwidth
    time.sleep(2)
    rc, doc, err = _run(env, "bandwidth-degraded", "--target", mine.link)
    assert rc == 0 and doc["steps"][0]["status"] == "ok", doc["steps"][0]

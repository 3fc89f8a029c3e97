"""The NAPALM drivers against the simulator over real SSH: trials, confirm, revert after a killed
controller, rejected lines, rollback to a label, leftover differences, replace over SFTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from napalm.base.exceptions import CommitError, MergeConfigException

from egov.sim.province import build
from egov.sim.server import SimServer
from egov.topology.validate import build_plan
from napalm_h3c_comware7 import Comware7Driver
from napalm_huawei_vrp8 import VRP8Driver

PW = "sim-test-pw"


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    plan = build_plan("shaanxi")
    prov = build(plan, ["sn-a", "sn-b", "sn-xa-x01"])
    srv = SimServer(prov, password=PW)
    srv.listen()
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def journal(tmp_path):
    return str(tmp_path / "pending.json")


def _drv(cls, sim, host, journal):
    d = cls("127.0.0.1", "netops", PW, timeout=30, optional_args={"port": sim.ports[host], "journal": journal})
    d.open()
    return d


def _desc(dev, ifname: str) -> str | None:
    node = dev.running.child(f"interface {ifname}")
    return next((c.text for c in node.children if c.text.startswith("description ")), None) if node else None


def test_vrp8_merge_trial_confirm(sim, journal):
    dev = sim.province.devices["sn-a"]
    d = _drv(VRP8Driver, sim, "sn-a", journal)
    try:
        d.load_merge_candidate(config="interface GigabitEthernet0/1/1\n description trial-confirmed\n#\n")
        diff = d.compare_config()
        assert "+  description trial-confirmed" in diff and "-  description peer to sn-b" in diff
        d.commit_config(message="chg-1", revert_in=60)
        assert d.has_pending_commit()
        assert dev.trial is not None and dev.history[-1].label.startswith("chg-1-")
        d.confirm_commit()
        assert not d.has_pending_commit() and dev.trial is None
        sim.province.clock.advance(120)
        dev.tick()
        assert _desc(dev, "GigabitEthernet0/1/1") == "description trial-confirmed"
        assert d.get_isis_neighbors()  # the getters work over SSH too
        assert d.get_facts()["hostname"] == "sn-a"
    finally:
        d.close()


CONTROLLER = textwrap.dedent("""
    import sys, time
    from napalm_huawei_vrp8 import VRP8Driver
    d = VRP8Driver("127.0.0.1", "netops", sys.argv[2], optional_args={"port": int(sys.argv[1]),
                   "journal": sys.argv[3]})
    d.open()
    d.load_merge_candidate(config="interface GigabitEthernet0/1/2\\n description doomed\\n")
    d.commit_config(message="doomed", revert_in=60)
    print("TRIAL", flush=True)
    time.sleep(600)
""")


def test_vrp8_trial_of_a_killed_controller_reverts(sim, journal, tmp_path):
    dev = sim.province.devices["sn-a"]
    before = _desc(dev, "GigabitEthernet0/1/2")
    script = tmp_path / "controller.py"
    script.write_text(CONTROLLER)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root}
    proc = subprocess.Popen([sys.executable, str(script), str(sim.ports["sn-a"]), PW, journal],
                            stdout=subprocess.PIPE, text=True, start_new_session=True, cwd=root, env=env)
    assert proc.stdout.readline().strip() == "TRIAL"
    assert _desc(dev, "GigabitEthernet0/1/2") == "description doomed"
    os.killpg(proc.pid, signal.SIGKILL)  # the controller and any children
    proc.wait()
    sim.province.clock.advance(61)
    time.sleep(1.5)  # the server's ticker, not the test, fires the timer
    assert dev.trial is None
    assert _desc(dev, "GigabitEthernet0/1/2") == before
    d = _drv(VRP8Driver, sim, "sn-a", journal)
    try:
        assert not d.has_pending_commit()  # journal said pending, the device says no: detected, cleared
    finally:
        d.close()


def test_vrp8_rejected_line_discards_candidate(sim, journal):
    dev = sim.province.devices["sn-b"]
    commits = len(dev.history)
    dev.faults.reject_line = 2
    d = _drv(VRP8Driver, sim, "sn-b", journal)
    try:
        d.load_merge_candidate(config="interface GigabitEthernet0/1/1\n description x\n isis cost 20\n")
        with pytest.raises(MergeConfigException, match="Unrecognized command"):
            d.commit_config(message="bad", revert_in=60)
        assert len(dev.history) == commits and dev.trial is None
        assert d.conn.find_prompt() == "<sn-b>"  # left system view, candidate cleared
    finally:
        dev.faults.reject_line = 0
        d.close()


def test_vrp8_rollback_to_label_and_leftovers(sim, journal):
    dev = sim.province.devices["sn-b"]
    d = _drv(VRP8Driver, sim, "sn-b", journal)
    try:
        d.load_merge_candidate(config="interface GigabitEthernet0/1/1\n description one\n")
        d.commit_config(message="one")
        label = dev.history[-1].label
        d.load_merge_candidate(config="interface GigabitEthernet0/1/1\n description two\n")
        d.commit_config(message="two")
        d.rollback_to(label=label)
        assert _desc(dev, "GigabitEthernet0/1/1") == "description one"
        d.load_merge_candidate(config="clock timezone UTC add 00:00:00\n")
        d.commit_config(message="three")
        dev.faults.rollback_leftover = True
        with pytest.raises(CommitError, match="left 1 difference"):
            d.rollback_to(label=label)
    finally:
        dev.faults.rollback_leftover = False
        d.close()


def test_vrp8_replace_over_sftp_with_device_diff(sim, journal):
    dev = sim.province.devices["sn-a"]
    d = _drv(VRP8Driver, sim, "sn-a", journal)
    try:
        running = d.get_config()["running"]
        new = running.replace("sysname sn-a", "sysname sn-a\n#\nip vpn-instance EGOV-TEST", 1)
        d.load_replace_candidate(config=new)
        diff = d.compare_config()
        assert diff == "+ ip vpn-instance EGOV-TEST"
        d.commit_config(message="replace")
        assert dev.running.child("ip vpn-instance EGOV-TEST") is not None
        d.load_replace_candidate(config=d.get_config()["running"])
        assert d.compare_config() == ""  # a second plan is empty
        d.discard_config()
    finally:
        d.close()


def test_comware_commit_delay_confirm_revert_and_replace(sim, journal):
    dev = sim.province.devices["sn-xa-x01"]
    d = _drv(Comware7Driver, sim, "sn-xa-x01", journal)
    try:
        d.load_merge_candidate(config="interface GigabitEthernet1/0/1\n description delayed\n#\n")
        assert d.compare_config() == "+ description delayed"
        d.commit_config(message="c1", revert_in=60)
        assert d.has_pending_commit() and dev.delay is not None
        d.confirm_commit()
        sim.province.clock.advance(120)
        dev.tick()
        assert _desc(dev, "GigabitEthernet1/0/1") == "description delayed"
        # a delay nobody confirms reverts
        d.load_merge_candidate(config="interface GigabitEthernet1/0/1\n description lost\n")
        d.commit_config(message="c2", revert_in=60)
        sim.province.clock.advance(61)
        dev.tick()
        assert _desc(dev, "GigabitEthernet1/0/1") == "description delayed"
        # replace through SFTP, the device's own diff, then rollback to the saved point
        running = d.get_config()["running"]
        d.load_replace_candidate(config=running.replace("description delayed", "description replaced"))
        diff = d.compare_config()
        assert "+ description replaced" in diff and "- description delayed" in diff
        d.commit_config(message="c3")
        assert _desc(dev, "GigabitEthernet1/0/1") == "description replaced"
        d.rollback()
        assert _desc(dev, "GigabitEthernet1/0/1") == "description delayed"
        # a rejected line puts the saved config back at once
        dev.faults.reject_line = 2
        d.load_merge_candidate(config="interface GigabitEthernet1/0/2\n description half\n isis cost 7\n")
        with pytest.raises(MergeConfigException):
            d.commit_config(message="c4", revert_in=60)
        assert _desc(dev, "GigabitEthernet1/0/2") != "description half" and dev.delay is None
    finally:
        dev.faults.reject_line = 0
        d.close()

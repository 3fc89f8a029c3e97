"""``egov change ... --sim``: the change pipeline on simulated VRP8 and Comware routers, from bare.

One bare simulator for the module (Xi'an's two VRP8 city routers, one Comware county and four of
its townships; the province core and everything else is not served and counts as configured as
planned); tests run in file order and build on each other like a change window, as
tests/lab/test_change.py does on the FRR lab: plan shows diffs, a rollout with a failing device per
wave (within the budget, then over it: stop, batch rolled back), resume, verify from the IS-IS/BFD
tables the simulator computes, and a second, empty plan.
"""

from __future__ import annotations

import json

import pytest

from conftest import egov
from egov.change.journal import Journal

pytestmark = pytest.mark.slow

SERVED = "sn-xa-a,sn-xa-b,sn-xa-x01,sn-xa-x01-t00[1-4]"
TOWNSHIPS = [f"sn-xa-x01-t00{i}" for i in range(1, 5)]


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("egov-sim-state")


@pytest.fixture(scope="module")
def env(state_dir):
    return {"EGOV_STATE_DIR": str(state_dir)}


@pytest.fixture(scope="module")
def sim(env, state_dir):
    r = egov("sim", "up", "--profile", "shaanxi", "--bare", "--limit", SERVED, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    yield json.loads((state_dir / "sim" / "state.json").read_text())
    egov("sim", "down", env=env)


def _change(env, *args: str):
    return egov("change", *args, "--profile", "shaanxi", "--sim", env=env)


def _running(sim, host: str) -> str:
    """The device's running config over SSH, through its own driver."""
    import napalm

    driver = "huawei_vrp8" if sim["platforms"][host] == "huawei_vrp" else "h3c_comware7"
    d = napalm.get_network_driver(driver)(sim["host"], sim["user"], sim["password"],
                                          optional_args={"port": sim["ports"][host]})
    d.open()
    try:
        return d.get_config()["running"]
    finally:
        d.close()


def _fault(env, host: str, *kind: str) -> None:
    r = egov("sim", "fault", host, *kind, env=env)
    assert r.returncode == 0, r.stdout + r.stderr


def test_plan_from_bare_shows_every_device_changing(sim, env):
    r = _change(env, "plan", "--detailed-exitcode")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "changed=7" in r.stdout and "failed=0" in r.stdout
    assert "skipped 1937 router(s) the simulator does not serve" in r.stderr
    assert "+isis 1" in r.stdout and "--- sn-xa-x01-t004" in r.stdout and "--- sn-xa-a" in r.stdout


def test_rollout_with_one_failing_device_per_wave(sim, env, state_dir):
    """Budget 1: the city wave and the township wave each lose one device and go on; the VRP8 device
    refuses its candidate (nothing committed), the Comware one fails its confirmation and is put back."""
    _fault(env, "sn-xa-b", "reject-line", "3")
    _fault(env, "sn-xa-x01-t002", "fail-commit")
    r = _change(env, "apply", "--yes", "--batch", "2", "--failure-budget", "1", "--engine", "ansible")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "rollout stopped" not in r.stdout
    last = Journal(state_dir / "journal.sqlite").last_change("apply")
    status = {d["device"]: d["status"] for d in last["devices"]}
    assert status == {"sn-xa-a": "changed", "sn-xa-b": "failed", "sn-xa-x01": "changed",
                      "sn-xa-x01-t001": "changed", "sn-xa-x01-t002": "failed", "sn-xa-x01-t003": "changed",
                      "sn-xa-x01-t004": "changed"}, r.stdout
    errors = {d["device"]: d["error"] for d in last["devices"]}
    assert "Failed to load the configuration file" in errors["sn-xa-b"]  # the device's own refusal
    assert "isis" not in _running(sim, "sn-xa-b")  # nothing committed
    assert "isis" not in _running(sim, "sn-xa-x01-t002")  # put back to its save point
    assert "isis enable 1" in _running(sim, "sn-xa-x01-t001")


def _drift(sim, host: str, ifname: str, text: str) -> None:
    """An out-of-band change on the device (someone at the console), committed without a timer."""
    import napalm

    d = napalm.get_network_driver("h3c_comware7")(sim["host"], sim["user"], sim["password"],
                                                  optional_args={"port": sim["ports"][host]})
    d.open()
    try:
        d.load_merge_candidate(config=f"interface {ifname}\n description {text}\n")
        d.commit_config()
    finally:
        d.close()


def test_over_the_budget_the_batch_is_rolled_back_and_resume_finishes(sim, env, state_dir):
    """Budget 0: t002 still fails its confirmation, so the township wave stops the rollout; its batch
    partner t001 (which this run had changed: it drifted) goes back to this run's pre-change backup,
    and t003/t004 are not touched. With the fault cleared, --resume finishes the rollout."""
    _fault(env, "sn-xa-b", "clear")
    _drift(sim, "sn-xa-x01-t001", "GigabitEthernet1/0/1", "drifted-by-hand")
    before = _running(sim, "sn-xa-x01-t001")
    r = _change(env, "apply", "--yes", "--batch", "2", "--canary", "0")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "wave township: 1 failure(s) over the budget of 0; rollout stopped" in r.stdout
    last = Journal(state_dir / "journal.sqlite").last_change("apply")
    by = {d["device"]: d for d in last["devices"]}
    assert "sn-xa-x01-t003" not in by and "sn-xa-x01-t004" not in by
    assert by["sn-xa-b"]["status"] == "changed" and by["sn-xa-x01-t002"]["status"] == "failed"
    assert by["sn-xa-x01-t001"]["error"] == "rolled back: its batch failed"
    assert last["summary"]["rolled_back"] == ["sn-xa-x01-t001"]
    # back exactly as it was: the backup's masked secrets (local user, SNMPv3 keys) came from the
    # device, never "<masked>"
    assert "<masked>" in (state_dir / "backups" / "sn-xa-x01-t001.cfg").read_text()
    after = _running(sim, "sn-xa-x01-t001")
    assert "description drifted-by-hand" in after and "<masked>" not in after
    assert after == before

    _fault(env, "sn-xa-x01-t002", "clear")
    r = _change(env, "apply", "--yes", "--batch", "2", "--resume")
    assert r.returncode == 0, r.stdout + r.stderr
    last = Journal(state_dir / "journal.sqlite").last_change("apply")
    status = {d["device"]: d["status"] for d in last["devices"]}
    assert status == {h: "changed" if h in ("sn-xa-x01-t001", "sn-xa-x01-t002") else "ok" for h in TOWNSHIPS}
    assert last["result"] == "ok"
    assert "drifted-by-hand" not in _running(sim, "sn-xa-x01-t001")


def test_verify_passes_on_simulated_isis_and_bfd(sim, env):
    r = _change(env, "verify")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok=7" in r.stdout and "not_checked=0" in r.stdout


def test_second_plan_is_empty(sim, env):
    r = _change(env, "plan", "--detailed-exitcode")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok=7" in r.stdout and "changed=0" in r.stdout

"""Change-path safety without routers (issue 7, items 10-12): fake drivers and a fake playbook runner.

- 10: a device with no fresh pre-change backup is never touched; a batch rollback names what it could
  not roll back; the journal's change row is always finished.
- 11: a check the driver cannot run is "not checked", never passed, unless the operator accepts it.
- 12: an unknown action or mode fails before anything is sent to a device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import egov
from egov.change import device
from egov.change.backup import BackupStore
from egov.change.device import Target, run_action
from egov.change.journal import Journal
from egov.change.runner import Change, Endpoint
from napalm_frr.pending import PendingStore
from egov.errors import EgovError
from egov.render.secrets import Secrets
from egov.topology.validate import build_plan

CITY = ["sn-xa-a", "sn-xa-b", "sn-bj-a", "sn-bj-b"]
#: a validation document as egov.change.expect.validation writes it (NAPALM compliance_report style)
EXPECT = [
    {"get_interfaces": {"eth1": {"is_up": True}}},
    {"get_interfaces_ip": {"eth1": {"ipv4": {"10.0.0.0": {"prefix_length": 31}}}}},
    {"get_isis_neighbors": {"_mode": "strict", "eth1": {"neighbor": "^sn\\-b$", "state": "^Up$"}}},
    {"get_bfd_peers": {"list": [{"interface": "^eth1$", "status": "^up$"}]}},
    {"ping": {"_name": "ping 10.255.0.2", "_kwargs": {"destination": "10.255.0.2", "source": "10.255.0.1",
                                                      "count": 2, "timeout": 1},
              "success": {"packet_loss": "0<->1"}}},
]


# --- fakes ---------------------------------------------------------------------------------------
class IosLike:
    """A NAPALM driver as IOS-XE or Junos are: interfaces and ping, no IS-IS or BFD getter."""

    def __init__(self, isis_up: bool = True) -> None:
        self.calls: list[str] = []
        self.isis_up = isis_up

    def get_interfaces(self) -> dict[str, Any]:
        return {"eth1": {"is_up": True}}

    def get_interfaces_ip(self) -> dict[str, Any]:
        return {"eth1": {"ipv4": {"10.0.0.0": {"prefix_length": 31}}}}

    def ping(self, destination: str, **_kw: Any) -> dict[str, Any]:
        return {"success": {"probes_sent": 2, "packet_loss": 0}}

    def load_replace_candidate(self, config: str) -> None:
        self.calls.append("load")

    def compare_config(self) -> str:
        return "+ isis metric 600\n"

    def discard_config(self) -> None:
        self.calls.append("discard")

    def commit_config(self, message: str = "", revert_in: int | None = None) -> None:
        self.calls.append("commit")

    def confirm_commit(self) -> None:
        self.calls.append("confirm")

    def rollback(self) -> None:
        self.calls.append("rollback")

    def has_pending_commit(self) -> bool:
        return "commit" in self.calls and "confirm" not in self.calls and "rollback" not in self.calls

    def close(self) -> None:
        self.calls.append("close")


class FrrLike(IosLike):
    """Has the IS-IS and BFD getters; reports them up (or IS-IS down)."""

    def get_isis_neighbors(self) -> dict[str, Any]:
        return {"eth1": {"neighbor": "sn-b", "state": "Up" if self.isis_up else "Initializing"}}

    def get_bfd_peers(self) -> list[dict[str, Any]]:
        return [{"interface": "eth1", "status": "up"}]


class NotImplementedIsis(FrrLike):
    """NAPALM's convention for a getter a platform lacks: it raises NotImplementedError."""

    def get_isis_neighbors(self) -> dict[str, Any]:
        raise NotImplementedError("get_isis_neighbors")


T = Target(host="r1", driver="ios", address="192.0.2.1", username="u")


@pytest.fixture
def drv(monkeypatch):
    def use(d: IosLike) -> IosLike:
        monkeypatch.setattr(device, "connect", lambda _t, _store=None: d)
        return d
    return use


@pytest.fixture(scope="module")
def plan():
    return build_plan("lab")


class FakeRunner:
    """Stands in for Change.run_devices: per-action per-host outcomes; records every call."""

    def __init__(self, ch: Change, *, backup_fails: dict[str, str] | None = None,
                 apply_fails: frozenset[str] | set[str] = frozenset(),
                 rollback_fails: dict[str, str] | None = None, raise_on: str = "") -> None:
        self.ch = ch
        self.backup_fails = backup_fails or {}
        self.apply_fails = apply_fails
        self.rollback_fails = rollback_fails or {}
        self.raise_on = raise_on
        self.calls: list[tuple[str, list[str]]] = []
        self.restored: dict[str, str] = {}
        self.requests: dict[str, dict[str, Any]] = {}

    def __call__(self, playbook: str, change_id: str, requests: dict[str, Any]) -> dict[str, dict[str, Any]]:
        hosts = list(requests)
        self.calls.append((playbook, hosts))
        self.requests[playbook] = dict(requests)
        if playbook == self.raise_on:
            raise RuntimeError("controller lost its connection to ansible")
        res: dict[str, dict[str, Any]] = {}
        for h in hosts:
            if playbook == "backup":
                res[h] = ({"status": "unreachable", "msg": self.backup_fails[h], "diff": "", "config": None}
                          if h in self.backup_fails else
                          {"status": "ok", "msg": "", "diff": "", "config": f"hostname {h}\n! fresh\n"})
            elif playbook == "apply":
                res[h] = ({"status": "failed", "msg": "commit failed: x", "diff": ""} if h in self.apply_fails
                          else {"status": "changed", "msg": "1 line(s) changed, confirmed", "diff": "+ x"})
            elif playbook == "rollback":
                self.restored[h] = Path(requests[h].candidate_file).read_text()
                res[h] = ({"status": "unreachable", "msg": self.rollback_fails[h], "diff": ""}
                          if h in self.rollback_fails else {"status": "changed", "msg": "", "diff": ""})
            elif playbook == "verify":
                res[h] = {"status": "not_checked", "msg": "not checked: isis, bfd", "diff": "",
                          "unchecked": ["isis", "bfd"]}
        return res

    def touched(self, playbook: str) -> list[str]:
        return [h for p, hs in self.calls if p == playbook for h in hs]


def _change(plan, tmp_path: Path, monkeypatch, **fake: Any) -> tuple[Change, FakeRunner]:
    eps = {h: Endpoint("127.0.0.1", 22, "u") for h in plan.topology.nodes}
    ch = Change(plan, eps, Secrets("a" * 16, "b" * 16, "c" * 16),
                journal=Journal(tmp_path / "journal.sqlite"), store=BackupStore(tmp_path / "backups"))
    runner = FakeRunner(ch, **fake)
    monkeypatch.setattr(ch, "run_devices", runner)
    return ch, runner


# --- 12: unknown actions and modes ---------------------------------------------------------------
def test_unknown_action_fails_before_touching_the_device(drv):
    d = drv(FrrLike())
    with pytest.raises(ValueError, match=r"^unknown device action 'comit'; use one of backup, .*show$"):
        run_action("comit", T, candidate="hostname r1\n")
    assert d.calls == []


def test_unknown_transport_fails_before_touching_the_device(drv):
    d = drv(FrrLike())
    with pytest.raises(ValueError, match="unknown transport 'telnet'"):
        run_action("apply", Target(host="r1", driver="frr", address="x", username="u", transport="telnet"),
                   candidate="hostname r1\n")
    assert d.calls == []


def test_netmiko_refuses_unknown_action():
    with pytest.raises(ValueError, match="unknown device action 'wipe'"):
        run_action("wipe", Target(host="r1", driver="", address="x", username="u", transport="netmiko",
                                  netmiko_device_type="huawei_vrpv8"))


def test_every_known_action_is_dispatched(drv):
    d = drv(FrrLike())
    assert run_action("plan", T, candidate="hostname r1\n")["status"] == "changed"
    assert "commit" not in d.calls
    assert set(device.ACTIONS) == {"backup", "plan", "apply", "verify", "rollback", "show"}


def test_unknown_action_is_refused_by_the_runner(plan, tmp_path):
    ch = Change(plan, {}, Secrets("a", "b", "c"), journal=Journal(tmp_path / "j.sqlite"),
                store=BackupStore(tmp_path / "b"))
    with pytest.raises(ValueError, match="unknown device action 'aply'"):
        ch.run_devices("aply", "c1", {})
    assert not (tmp_path / "runs").exists()


def test_frr_driver_refuses_unknown_retrieve():
    from napalm_frr import FRRDriver

    with pytest.raises(ValueError, match="retrieve 'runing'"):
        FRRDriver("192.0.2.1", "u", "").get_config(retrieve="runing")


def test_journal_refuses_unknown_statuses(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    j.start_change("c1", "apply", "lab")
    with pytest.raises(ValueError, match="status 'chnaged'"):
        j.device_result("c1", "r1", "chnaged")
    store = PendingStore(j.pending_path)
    store.record("r1", "c1", 60, "x")
    with pytest.raises(ValueError, match="outcome 'done'"):
        store.clear("r1", "done")
    assert j.pending("r1") is not None


# --- 11: what cannot be checked is not passed ----------------------------------------------------
def test_verify_without_isis_and_bfd_getters_is_not_checked(drv):
    drv(IosLike())
    res = run_action("verify", T, validation=EXPECT, verify_wait=0)
    assert res["status"] == "not_checked"
    assert res["unchecked"] == ["isis", "bfd"]
    assert res["msg"].startswith("not checked: isis, bfd") and "passed" not in res["msg"]
    assert "--accept-unchecked isis,bfd" in res["msg"] and "\n" not in res["msg"]


def test_not_implemented_getter_is_not_checked(drv):
    drv(NotImplementedIsis())
    res = run_action("verify", T, validation=EXPECT, verify_wait=0)
    assert res["status"] == "not_checked" and res["unchecked"] == ["isis"]


def test_accepting_only_some_leaves_the_rest_not_checked(drv):
    drv(IosLike())
    res = run_action("verify", T, validation=EXPECT, verify_wait=0, accept_unchecked=["isis"])
    assert res["status"] == "not_checked" and res["msg"].startswith("not checked: bfd")


def test_accepted_unchecked_items_pass_and_say_so(drv):
    drv(IosLike())
    res = run_action("verify", T, validation=EXPECT, verify_wait=0, accept_unchecked=["isis", "bfd"])
    assert res["status"] == "ok" and res["unchecked"] == ["isis", "bfd"]
    assert res["msg"] == "post-checks passed; not checked, accepted by the operator: isis, bfd"


def test_a_driver_with_every_getter_passes_plainly(drv):
    drv(FrrLike())
    res = run_action("verify", T, validation=EXPECT, verify_wait=0)
    assert res == {**res, "status": "ok", "unchecked": [], "msg": "all post-checks passed"}


def test_a_real_problem_fails_even_when_the_rest_is_accepted(drv):
    drv(FrrLike(isis_up=False))
    doc = [e for e in EXPECT if "get_bfd_peers" not in e]
    res = run_action("verify", T, validation=doc, verify_wait=0, accept_unchecked=["isis"])
    assert res["status"] == "failed" and "get_isis_neighbors: eth1.state is 'Initializing'" in res["msg"]
    isis = next(c for c in res["checks"] if c["getter"] == "get_isis_neighbors")
    assert isis["complies"] is False and isis["check"] == "isis"


def test_apply_with_unchecked_items_rolls_back(drv):
    d = drv(IosLike())
    res = run_action("apply", T, candidate="hostname r1\n", validation=EXPECT, verify_wait=0)
    assert res["status"] == "failed"
    assert res["msg"].startswith("post-check failed, rolled back: not checked: isis, bfd")
    assert "rollback" in d.calls and "confirm" not in d.calls


def test_apply_with_accepted_unchecked_items_confirms(drv):
    d = drv(IosLike())
    res = run_action("apply", T, candidate="hostname r1\n", validation=EXPECT, verify_wait=0,
                     accept_unchecked=["bfd", "isis"])
    assert res["status"] == "changed" and "confirm" in d.calls and "rollback" not in d.calls
    assert res["msg"].endswith("; not checked, accepted by the operator: isis, bfd")


def test_accepted_checks_are_validated():
    from egov.change.runner import accepted_checks

    assert accepted_checks("isis, bfd") == ["isis", "bfd"]
    assert accepted_checks(None) == []
    with pytest.raises(EgovError) as e:
        accepted_checks("isis,lldp")
    assert str(e.value) == ("--accept-unchecked: lldp: is not a post-check; "
                            "fix: name some of interfaces, isis, bfd, ping (comma separated)")


def test_cli_refuses_an_unknown_accepted_check():
    r = egov("change", "verify", "--profile", "lab", "--accept-unchecked", "isis,lldp")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        "--accept-unchecked: lldp: is not a post-check; fix: name some of interfaces, isis, bfd, ping "
        "(comma separated)"]


def test_not_checked_fails_the_run_and_acceptance_is_journaled(plan, tmp_path, monkeypatch):
    ch, runner = _change(plan, tmp_path, monkeypatch)
    out = ch.verify(["sn-a", "sn-b"])
    assert not out.ok and out.count()["not_checked"] == 2
    rec = ch.journal.change(out.change_id)
    assert rec["result"] == "failed" and {d["status"] for d in rec["devices"]} == {"not_checked"}
    assert all(d["error"].startswith("not checked: isis, bfd") for d in rec["devices"])
    assert rec["summary"]["unchecked"] == {"sn-a": ["isis", "bfd"], "sn-b": ["isis", "bfd"]}
    out = ch.verify(["sn-a"], accept_unchecked=["isis", "bfd"])
    assert runner.requests["verify"]["sn-a"].accept_unchecked == ["isis", "bfd"]
    rec = ch.journal.change(out.change_id)
    assert rec["summary"]["accepted_unchecked"] == ["isis", "bfd"]


def test_acceptance_is_journaled_before_any_device_is_touched(plan, tmp_path, monkeypatch):
    ch, runner = _change(plan, tmp_path, monkeypatch)
    seen: list[Any] = []
    real = runner.__call__

    def spy(playbook, cid, *a, **kw):
        seen.append(ch.journal.change(cid)["summary"])
        return real(playbook, cid, *a, **kw)

    monkeypatch.setattr(ch, "run_devices", spy)
    ch.verify(["sn-a"], accept_unchecked=["bfd"])
    assert seen == [{"accepted_unchecked": ["bfd"]}]


# --- 10: no rollback point, no change -------------------------------------------------------------
def test_device_without_a_fresh_backup_is_not_touched(plan, tmp_path, monkeypatch):
    ch, runner = _change(plan, tmp_path, monkeypatch, backup_fails={"sn-bj-b": "unreachable: timed out"})
    out = ch.apply(CITY, batch=5, canary=1, failure_budget=1)
    assert "sn-bj-b" not in runner.touched("apply")
    assert sorted(runner.touched("apply")) == sorted(set(CITY) - {"sn-bj-b"})
    r = out.results["sn-bj-b"]
    assert r["status"] == "failed" and r["wave"] == "city"
    assert r["msg"] == "not changed: no pre-change backup from this run (unreachable: timed out)"
    assert not out.ok and not out.stopped  # within the budget of 1
    rec = ch.journal.change(out.change_id)
    assert rec["result"] == "failed" and rec["finished"]
    assert {d["device"]: d["error"] for d in rec["devices"]}["sn-bj-b"] == r["msg"]


def test_missing_backups_count_against_the_wave_budget(plan, tmp_path, monkeypatch):
    ch, runner = _change(plan, tmp_path, monkeypatch, backup_fails={"sn-bj-b": "unreachable: timed out"})
    out = ch.apply(CITY, batch=5, canary=1, failure_budget=0)
    assert runner.touched("apply") == []  # the wave is over its budget before its first batch
    assert out.stopped == "wave city: 1 failure(s) over the budget of 0; rollout stopped"
    assert set(out.results) == {"sn-bj-b"}
    assert ch.journal.change(out.change_id)["result"] == "failed"


def test_an_older_backup_is_never_the_rollback_point(plan, tmp_path, monkeypatch):
    ch, runner = _change(plan, tmp_path, monkeypatch, backup_fails={"sn-xa-b": "unreachable: x"},
                         apply_fails={"sn-bj-b"})
    ch.store.save({h: f"hostname {h}\n! old\n" for h in CITY}, "an earlier backup")
    out = ch.apply(CITY, batch=5, canary=1, failure_budget=1)
    # sn-xa-b (no backup) and sn-bj-b (failed) are 2 failures in the city wave: over the budget
    assert "sn-xa-b" not in runner.touched("apply") and "sn-xa-b" not in runner.touched("rollback")
    assert sorted(runner.touched("rollback")) == ["sn-bj-a"]
    assert runner.restored == {"sn-bj-a": "hostname sn-bj-a\n! fresh\n"}
    assert out.rolled_back == ["sn-bj-a"] and out.results["sn-bj-a"]["msg"] == "rolled back: its batch failed"


def test_batch_rollback_rolls_back_what_it_can_and_names_the_rest(plan, tmp_path, monkeypatch):
    ch, runner = _change(plan, tmp_path, monkeypatch, apply_fails={"sn-bj-b"},
                         rollback_fails={"sn-xa-b": "unreachable: connection refused"})
    out = ch.apply(CITY, batch=5, canary=1, failure_budget=0)
    assert sorted(runner.touched("rollback")) == ["sn-bj-a", "sn-xa-b"]
    assert out.rolled_back == ["sn-bj-a"]
    assert out.not_rolled_back == {"sn-xa-b": "unreachable: connection refused"}
    assert out.results["sn-xa-b"]["status"] == "failed"
    assert out.results["sn-xa-b"]["msg"] == ("NOT rolled back after its batch failed: "
                                             "unreachable: connection refused")
    assert out.stopped.endswith("; could not roll back sn-xa-b")
    rec = ch.journal.change(out.change_id)
    assert rec["result"] == "failed" and rec["summary"]["not_rolled_back"] == out.not_rolled_back
    assert rec["summary"]["rolled_back"] == ["sn-bj-a"]
    assert {d["device"]: d["status"] for d in rec["devices"]}["sn-xa-a"] == "changed"  # canary: earlier batch


def test_no_device_backed_up_means_no_device_changed(plan, tmp_path, monkeypatch):
    ch, runner = _change(plan, tmp_path, monkeypatch, backup_fails={h: "unreachable: x" for h in CITY})
    out = ch.apply(CITY, failure_budget=10)
    assert runner.touched("apply") == [] and {r["status"] for r in out.results.values()} == {"failed"}


@pytest.mark.parametrize("where", ["backup", "apply", "rollback"])
def test_journal_row_is_finished_when_the_run_raises(plan, tmp_path, monkeypatch, where):
    ch, _ = _change(plan, tmp_path, monkeypatch, apply_fails={"sn-bj-b"}, raise_on=where)
    with pytest.raises(RuntimeError):
        ch.apply(CITY, batch=5, canary=1, failure_budget=0)
    rec = ch.journal.last_change("apply")
    assert rec["result"] == "failed" and rec["finished"]
    assert rec["summary"]["stopped"] == "aborted: RuntimeError: controller lost its connection to ansible"
    for action in ("apply", "backup"):
        assert (ch.journal.last_change(action) or {}).get("result") != "running"


def test_rollback_names_devices_without_that_backup(plan, tmp_path, monkeypatch):
    ch, runner = _change(plan, tmp_path, monkeypatch)
    ref = ch.store.save({"sn-a": "hostname sn-a\n"}, "only sn-a")
    out = ch.rollback(["sn-a", "sn-b"], ref)
    assert runner.touched("rollback") == ["sn-a"]
    assert out.results["sn-a"]["status"] == "changed"
    assert out.results["sn-b"]["status"] == "failed" and "no backup of sn-b at" in out.results["sn-b"]["msg"]
    assert ch.journal.change(out.change_id)["result"] == "failed"


def test_unknown_engine_is_refused_in_one_line():
    r = egov("change", "apply", "--profile", "lab", "--engine", "bogus", "--yes")
    assert r.returncode == 1
    assert r.stderr.strip() == ("egov change apply: --engine: unknown engine 'bogus'; "
                                "fix: use threads or ansible")

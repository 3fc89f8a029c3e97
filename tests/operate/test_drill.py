"""Drill scripts and the drill engine (the lab run is in tests/lab/test_demo.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from conftest import ROOT
from egov.errors import EgovError
from egov.operate.drill import DrillScript, load_script, run_drill, summary


def test_the_default_script_is_valid_and_has_one_fault_of_each_kind():
    s = load_script(ROOT / "drills" / "default.yaml")
    assert sorted(f.kind for f in s.faults) == ["link-cut", "link-down", "router-down", "service-down"]


@pytest.mark.parametrize("text, field", [
    ("faults: []\n", "faults"),
    ("faults:\n  - {kind: meteor, target: sn-a}\n", "faults.0.kind"),
    ("faults:\n  - {kind: link-cut, target: sn-a~sn-b, hold: -1}\n", "faults.0.hold"),
    ("faults:\n  - {kind: link-cut, target: sn-a~sn-b, colour: red}\n", "faults.0.colour"),
    ("faults: [\n", ""),
])
def test_bad_scripts_are_refused_in_one_line(tmp_path, text, field):
    p = tmp_path / "d.yaml"
    p.write_text(text)
    with pytest.raises(EgovError) as exc:
        load_script(p)
    line = str(exc.value.problems[0])
    assert line.startswith(str(p)) and "\n" not in line and "; fix: " in line
    assert f": {field}: " in line if field else "malformed YAML" in line


@dataclass
class F:
    id: int
    kind: str
    target: str
    start: float
    detected: float
    detected_by: str
    cleared: float | None = None


class FakeNetwork:
    """Stands for the lab and the exporter: a fault shows up ``delay`` s after injection, clears after repair."""

    def __init__(self, delay: dict[str, float | None]):
        self.delay = delay
        self.faults: list[F] = []
        self.pending: list[tuple[float, F]] = []
        self.log: list[tuple[str, str, str]] = []

    def inject(self, kind: str, target: str, action: str) -> float:
        now = time.time()
        self.log.append((kind, target, action))
        fk = {"link-cut": "link", "link-down": "link", "router-down": "router", "service-down": "service"}[kind]
        t = {"sn-a~sn-b": "sn-a~sn-b"}.get(target, target)
        if action in ("down", "cut") and self.delay.get(kind) is not None:
            f = F(len(self.faults) + len(self.pending) + 1, fk, t, now, now + self.delay[kind],
                  "trap" if kind == "link-down" else "poll")
            self.pending.append((f.detected, f))
        if action in ("up", "heal"):
            for f in self.faults:
                if f.target == t and f.cleared is None:
                    f.cleared = now + 0.05
        return now

    def _settle(self) -> None:
        now = time.time()
        for at, f in list(self.pending):
            if at <= now:
                self.pending.remove((at, f))
                self.faults.append(f)

    def faults_since(self, profile: str, since: float | None = None, until: float | None = None) -> list[F]:
        self._settle()
        return [f for f in self.faults if since is None or f.cleared is None or f.cleared >= since]

    def get(self, fault_id: int) -> F | None:
        self._settle()
        f = next((f for f in self.faults if f.id == fault_id), None)
        return None if f is None or (f.cleared and f.cleared > time.time()) else f


class Store:
    def __init__(self, net: FakeNetwork):
        self.net = net

    def faults(self, profile, since=None, until=None):
        return self.net.faults_since(profile, since, until)

    def get(self, fault_id):
        return self.net.get(fault_id)


def script(**kw) -> DrillScript:
    base = {"settle": 0, "clear_within": 2, "faults": [
        {"kind": "link-down", "target": "sn-a~sn-b", "hold": 0.5, "detect_within": 2},
        {"kind": "router-down", "target": "sn-bj-a", "hold": 0.5, "detect_within": 1},
        {"kind": "service-down", "target": "portal", "hold": 0.5, "detect_within": 1}]}
    base.update(kw)
    return DrillScript.model_validate(base)


def test_the_drill_reports_detection_runbooks_and_clearing_per_fault():
    net = FakeNetwork({"link-down": 0.1, "router-down": 0.3, "service-down": None})
    books: list[tuple[str, str, int]] = []

    def runbook(book: str, target: str, fid: int):
        books.append((book, target, fid))
        return [{"step": "state", "status": "ok", "detail": "", "seconds": 0.0},
                {"step": "fix", "status": "needs_person", "detail": "call", "seconds": 0.0}]

    res = run_drill(script(), profile="lab", store=Store(net), inject=net.inject, run_runbook=runbook, interval=1,
                    link_keys={"sn-a~sn-b": "sn-a~sn-b"}, poll_every=0.02)
    link, router, service = res
    assert [(r.kind, r.detected_by) for r in res] == [("link-down", "trap"), ("router-down", "poll"),
                                                     ("service-down", "")]
    assert 0.09 <= link.detection_s < 0.5 and link.detected_in_time and link.cleared and link.within_target
    assert 0.29 <= router.detection_s < 0.8 and router.detected_in_time
    assert service.detection_s is None and service.problem.startswith("not detected") and not service.detected_in_time
    # the runbook of each detected fault ran on that fault; every injected fault was repaired
    assert books == [("link-down", "sn-a~sn-b", link.fault_id), ("router-down", "sn-bj-a", router.fault_id)]
    assert [a for _, _, a in net.log] == ["down", "up", "down", "up", "down", "up"]
    s = summary(res)
    assert (s["faults"], s["detected"], s["detected_in_time"], s["cleared"], s["ok"]) == (3, 2, 2, 2, False)
    assert s["by"] == {"poll": 1, "trap": 1}


def test_late_detection_counts_as_not_in_time():
    net = FakeNetwork({"link-down": 0.6})
    one = script(faults=[{"kind": "link-down", "target": "sn-a~sn-b", "hold": 0.5, "detect_within": 0.3}])
    (r,) = run_drill(one, profile="lab", store=Store(net), inject=net.inject, run_runbook=lambda *a: [],
                     interval=1, link_keys={}, poll_every=0.02)
    assert r.detection_s is not None and r.detection_s >= 0.59 and not r.detected_in_time
    assert r.as_json()["detected_in_time"] is False and not summary([r])["ok"]


def test_the_cli_refuses_a_drill_without_the_lab(tmp_path):
    from conftest import egov

    r = egov("drill", "--profile", "lab")
    assert r.returncode == 1 and r.stderr.strip() == (
        "egov drill: --lab: drills inject real faults, so they only run on the lab; fix: pass --lab (and bring it "
        "up with egov lab up)")


def test_a_script_target_outside_the_plan_is_refused_before_anything_breaks(tmp_path):
    from egov.cli.operate import check_script_targets
    from egov.topology.validate import build_plan

    p = tmp_path / "d.yaml"
    p.write_text("faults:\n  - {kind: router-down, target: sn-nowhere}\n")
    with pytest.raises(EgovError) as exc:
        check_script_targets(build_plan("lab"), load_script(p), str(p))
    assert str(exc.value.problems[0]).startswith(f"{p}: faults.0.target: sn-nowhere: is not a router of the plan")




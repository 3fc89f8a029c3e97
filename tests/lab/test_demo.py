"""`egov demo`, the README's main job, end to end on this machine (issue 10).

It must build the lab, configure it through the change pipeline, measure it with the exporter and a
real Prometheus, run the default drill (whose faults must be detected in time, handled by their
runbooks and cleared), write the SLA report, and leave nothing behind.
"""

from __future__ import annotations

import json
import subprocess
import urllib.parse
from pathlib import Path

import pytest

from conftest import egov
from egov.operate.drill import load_script

from .labkit import lab_available

pytestmark = pytest.mark.slow


def _listening(port: int) -> str:
    """Who listens on a TCP port (closed connections in TIME_WAIT do not count: nobody holds them)."""
    return subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    why = lab_available()
    if why:
        pytest.skip(why)
    out = tmp_path_factory.mktemp("demo")
    r = egov("demo", "--json", "--out", str(out), timeout=900)
    print(r.stderr[-4000:])
    last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    doc = json.loads(last) if last.startswith("{") else {}
    return r, doc, out


def test_demo_succeeds_and_prints_its_summary_as_json_last(demo):
    r, doc, out = demo
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert doc["ok"] and doc["routers"] == 15 and not doc["kept"]
    print(f"demo total {doc['seconds']} s: " + ", ".join(f"{s['stage']} {s['seconds']}s" for s in doc["stages"]))
    assert [s["stage"].split(":")[0] for s in doc["stages"]] == ["lab", "change", "verify", "measure", "drill",
                                                                  "report", "clean up"]
    assert doc["change"]["apply"]["failed"] == 0 and doc["change"]["verify"]["ok"] == 15
    assert Path(doc["sla"]["html"]).is_file() and "<html" in Path(doc["sla"]["html"]).read_text()[:500].lower()
    assert doc["sla"]["prometheus_faults"] >= 4  # Prometheus scraped the exporter's fault counter


def test_the_drill_report_matches_the_faults_injected(demo):
    from egov.paths import project_root

    _r, doc, out = demo
    script = load_script(project_root() / "drills" / "default.yaml")
    faults = doc["drill"]["faults"]
    assert [(f["kind"], f["target"]) for f in faults] == [(f.kind, f.target) for f in script.faults]
    full = json.loads((out / "drill.json").read_text())
    # within one poll interval (plus what that poll may take: its SNMP timeout and retry), or 2 s by trap
    assert full["interval_s"] == 5.0 and full["poll_budget_s"] <= 2.0
    for f, planned, judged in zip(faults, script.faults, full["faults"]):
        limit = planned.detect_within or full["interval_s"] + full["poll_budget_s"] + 1.0
        assert judged["detect_within_s"] == limit
        assert f["detection_s"] is not None and f["detection_s"] <= limit, f
        assert f["cleared"] and f["within_target"] and f["runbook"], f
    by = {f["kind"]: f["detected_by"] for f in faults}
    assert by["link-down"] == "trap" and by["link-cut"] == "poll" and by["service-down"] == "probe", by
    assert next(f for f in faults if f["kind"] == "link-down")["detection_s"] <= 2.0


def test_each_fault_has_its_runbook_steps_recorded(demo):
    from egov.measure.store import FaultStore, default_path

    _r, doc, out = demo
    store = FaultStore(default_path(out / "state"))
    try:
        for f in json.loads((out / "drill.json").read_text())["faults"]:
            steps = store.steps(f["fault_id"])
            assert steps and steps[0]["runbook"] == f["runbook"], f
            assert [s["status"] for s in steps][-1] == "needs_person", steps
            assert all(s["status"] in ("ok", "failed", "needs_person") for s in steps), steps
    finally:
        store.close()


def test_nothing_is_left_behind(demo):
    _r, doc, _out = demo
    assert subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.strip() == ""
    assert not Path("/run/egov/lab/state.json").exists()
    procs = subprocess.run(["pgrep", "-af", "prometheus --config.file|egov.cli.main exporter"], capture_output=True,
                           text=True).stdout
    assert procs.strip() == "", procs
    for url in (doc["exporter"], doc["prometheus"]):
        assert _listening(urllib.parse.urlsplit(url).port or 0) == "", url


def test_demo_refuses_to_run_over_a_lab_that_is_up(tmp_path):
    if lab_available():
        pytest.skip(lab_available())
    Path("/run/egov/lab").mkdir(parents=True, exist_ok=True)
    state = Path("/run/egov/lab/state.json")
    if state.exists():
        pytest.skip("a lab is up")
    state.write_text(json.dumps({"profile": "lab", "profile_path": "", "root": str(tmp_path), "hub": "h",
                                 "bare": False, "created": "now"}))
    try:
        r = egov("demo", "--out", str(tmp_path))
        assert r.returncode == 1 and r.stderr.strip() == (
            "egov demo: lab: a lab of profile 'lab' is already up; fix: take it down with `egov lab down` (or "
            "use it: `egov drill --profile lab --lab`)")
    finally:
        state.unlink()

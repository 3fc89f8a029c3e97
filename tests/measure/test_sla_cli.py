"""``egov faults``, ``egov maintenance`` and ``egov sla report`` as an operator runs them, on the lab plan."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest

from conftest import egov
from egov.change.journal import Journal

HEADER = "id,kind,target,start,cleared,planned"
GOOD = [
    "T-1,link,sn-a~sn-xa-a,2024-03-01T10:00:00+08:00,2024-03-01T11:30:00+08:00,false",  # 1.5 h: met
    "T-2,router,sn-xa-yt,2024-03-02T10:00:00+08:00,2024-03-02T14:00:00+08:00,",         # 4 h: missed
    'T-3,service,portal,2024-03-03T10:00:00+08:00,2024-03-03T10:30:00+08:00,true',      # planned
    "T-4,router,sn-bj-jt,2024-12-31T23:00:00+08:00,,no",                                 # open since: missed
]


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {"EGOV_STATE_DIR": str(tmp_path / "state")}


def write(tmp_path: Path, lines: list[str], name: str = "tickets.csv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


def faults_json(lab_yaml, env) -> list[dict]:
    r = egov("faults", "list", "--profile", str(lab_yaml), "--json", env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_import_a_good_file_then_list_it(tmp_path, lab_yaml, env):
    f = write(tmp_path, [HEADER, *GOOD])
    r = egov("faults", "import", str(f), "--profile", str(lab_yaml), env=env)
    assert r.returncode == 0, r.stderr
    assert f"imported 4 fault(s) from {f}" in r.stdout
    docs = faults_json(lab_yaml, env)
    assert [d["source"] for d in docs] == ["T-1", "T-2", "T-3", "T-4"]
    for d in docs:
        assert {"id", "kind", "target", "start", "detected", "cleared", "planned", "within_target"} <= set(d)
    by = {d["source"]: d for d in docs}
    assert by["T-1"]["kind"] == "link" and by["T-1"]["within_target"] is True and by["T-1"]["planned"] is False
    assert dt.datetime.fromisoformat(by["T-1"]["start"]) == dt.datetime.fromisoformat("2024-03-01T10:00:00+08:00")
    assert by["T-1"]["duration_s"] == 5400
    assert by["T-2"]["within_target"] is False
    assert by["T-3"]["planned"] is True
    assert by["T-4"]["cleared"] is None and by["T-4"]["within_target"] is False  # open for far longer than 3 h
    assert [d["source"] for d in json.loads(egov("faults", "list", "--profile", str(lab_yaml), "--open", "--json",
                                                 env=env).stdout)] == ["T-4"]
    table = egov("faults", "list", "--profile", str(lab_yaml), env=env)
    assert table.returncode == 0 and "sn-a~sn-xa-a" in table.stdout and "open" in table.stdout
    # the same export again: nothing new, nothing counted twice
    r = egov("faults", "import", str(f), "--profile", str(lab_yaml), env=env)
    assert r.returncode == 0 and "imported 0 fault(s)" in r.stdout and "4 already known" in r.stdout
    assert len(faults_json(lab_yaml, env)) == 4


BAD_ROWS = [
    ("B-1,switch,sn-a,2024-03-01T10:00:00+08:00,,false", "kind", "'switch' is not a fault kind"),
    ("B-1,router,sn-zz,2024-03-01T10:00:00+08:00,,false", "target", "'sn-zz' is not a router of the plan"),
    ("B-1,link,sn-xa-a~sn-a,2024-03-01T10:00:00+08:00,,false", "target", "is not a link of the plan"),
    ("B-1,router,sn-a,2024-03-01T10:00:00,,false", "start", "has no UTC offset"),
    ("B-1,router,sn-a,2024-03-01,,false", "start", "has no UTC offset"),
    ("B-1,router,sn-a,yesterday,,false", "start", "not an ISO 8601 time"),
    ("B-1,router,sn-a,,,false", "start", "is empty"),
    ("B-1,router,sn-a,2999-03-01T10:00:00+08:00,,false", "start", "is in the future"),
    ("B-1,router,sn-a,2024-03-01T10:00:00+08:00,2024-03-01T09:00:00+08:00,false", "cleared", "is before start"),
    ("B-1,router,sn-a,2024-03-01T10:00:00+08:00,2024-03-01T11:00,false", "cleared", "has no UTC offset"),
    ("B-1,router,sn-a,2024-03-01T10:00:00+08:00,,maybe", "planned", "'maybe' is not true or false"),
    ("T-1,router,sn-a,2024-03-01T10:00:00+08:00,,false", "id", "'T-1' is already on line 2"),
    (",router,sn-a,2024-03-01T10:00:00+08:00,,false", "id", "is empty"),
    ("B-1,router,sn-a,2024-03-01T10:00:00+08:00,false", "row", "has 5 field(s), the header has 6"),
    ("B-1,link,sn-a~sn-xa-a,2024-04-01T10:00:00+08:00,,false", "cleared",
     "line 2 already has an open link fault of sn-a~sn-xa-a"),
]


def test_each_bad_row_gets_its_one_line_and_nothing_is_imported(tmp_path, lab_yaml, env):
    first = "T-1,link,sn-a~sn-xa-a,2024-03-01T10:00:00+08:00,,false"  # good (open), on line 2
    f = write(tmp_path, [HEADER, first, *[row.replace("B-1", f"B-{i}") for i, (row, _, _) in enumerate(BAD_ROWS)],
                         GOOD[1]])
    r = egov("faults", "import", str(f), "--profile", str(lab_yaml), env=env)
    assert r.returncode == 1
    lines = r.stderr.splitlines()
    assert len(lines) == len(BAD_ROWS) + 1 and lines[-1] == f"{len(BAD_ROWS)} problems found; nothing written."
    for n, ((_row, column, words), line) in enumerate(zip(BAD_ROWS, lines), start=3):
        assert line.startswith(f"{f}:{n}: {column}: ") and words in line and "; fix: " in line, line
    assert faults_json(lab_yaml, env) == []
    # one bad row among good ones: exactly its line
    f = write(tmp_path, [HEADER, GOOD[0], BAD_ROWS[3][0], GOOD[1]], "one.csv")
    r = egov("faults", "import", str(f), "--profile", str(lab_yaml), env=env)
    assert r.returncode == 1 and r.stderr.splitlines() == [
        (f"{f}:3: start: '2024-03-01T10:00:00' has no UTC offset, so it names no single instant; fix: add one, e.g. "
        "2024-03-01T10:00:00+08:00 or 2024-03-01T10:00:00Z"), "1 problem found; nothing written."]
    assert faults_json(lab_yaml, env) == []


def test_every_bad_row_is_named_the_header_is_checked_and_an_open_fault_in_the_record_conflicts(tmp_path, lab_yaml,
                                                                                              env):
    f = write(tmp_path, [HEADER, GOOD[0], BAD_ROWS[0][0], GOOD[1].replace("T-2", "T-9"), BAD_ROWS[1][0]
                         .replace("B-1", "B-2")])
    r = egov("faults", "import", str(f), "--profile", str(lab_yaml), env=env)
    assert r.returncode == 1
    assert [ln.split(": ")[0:2] for ln in r.stderr.splitlines()[:2]] == [[f"{f}:3", "kind"], [f"{f}:5", "target"]]
    assert "2 problems found; nothing written." in r.stderr
    h = write(tmp_path, ["id,kind,target,start,cleared", GOOD[0][:-6]], "noplanned.csv")
    r = egov("faults", "import", str(h), "--profile", str(lab_yaml), env=env)
    assert r.returncode == 1 and r.stderr.startswith(f"{h}:1: header: missing column(s) planned; fix: ")
    e = write(tmp_path, [], "empty.csv")
    assert egov("faults", "import", str(e), "--profile", str(lab_yaml), env=env).stderr.startswith(
        f"{e}:1: header: the file is empty")
    # an open fault already in the record: importing another open fault of that target is refused
    ok = write(tmp_path, [HEADER, GOOD[3]], "open.csv")
    assert egov("faults", "import", str(ok), "--profile", str(lab_yaml), env=env).returncode == 0
    again = write(tmp_path, [HEADER, GOOD[3].replace("T-4", "T-5")], "again.csv")
    r = egov("faults", "import", str(again), "--profile", str(lab_yaml), env=env)
    assert r.returncode == 1 and r.stderr.startswith(f"{again}:2: cleared: empty, but the fault record already has")
    assert len(faults_json(lab_yaml, env)) == 1


def test_maintenance_windows_mark_faults_planned(tmp_path, lab_yaml, env):
    f = write(tmp_path, [HEADER, "M-1,router,sn-xa-yt,2024-05-01T10:00:00+08:00,2024-05-01T16:00:00+08:00,false",
                         "M-2,router,sn-bj-jt,2024-05-01T10:00:00+08:00,2024-05-01T16:00:00+08:00,false"])
    assert egov("faults", "import", str(f), "--profile", str(lab_yaml), env=env).returncode == 0
    period = ["--period", "2024-05-01T00:00:00+08:00/2024-05-02T00:00:00+08:00"]
    before = json.loads(egov("sla", "report", "--profile", str(lab_yaml), *period, "--json", env=env).stdout)
    assert before["fault_handling"]["missed"] == 2 and before["fault_handling"]["planned"] == 0
    r = egov("maintenance", "add", "--profile", str(lab_yaml), "--start", "2024-05-01T09:00:00+08:00",
             "--end", "2024-05-01T12:00:00+08:00", "--targets", "sn-xa-*", "--reason", "CHG-1", env=env)
    assert r.returncode == 0, r.stderr
    assert "1 recorded fault(s) now count as planned" in r.stdout
    by = {d["source"]: d for d in faults_json(lab_yaml, env)}
    assert by["M-1"]["planned"] is True and by["M-1"]["planned_by"] == "CHG-1" and by["M-2"]["planned"] is False
    after = json.loads(egov("sla", "report", "--profile", str(lab_yaml), *period, "--json", env=env).stdout)
    assert after["fault_handling"]["missed"] == 1 and after["fault_handling"]["planned"] == 1
    assert after["availability"]["routers"]["sn-xa-yt"]["outage_s"] == 0
    assert after["availability"]["routers"]["sn-bj-jt"]["outage_s"] == 6 * 3600
    listed = json.loads(egov("maintenance", "list", "--profile", str(lab_yaml), "--json", env=env).stdout)
    assert listed == [{"source": "maintenance", "start": "2024-05-01T09:00:00+08:00",
                       "end": "2024-05-01T12:00:00+08:00", "targets": ["sn-xa-*"], "reason": "CHG-1"}]
    for args, words in [(["--targets", "sn-zz-*"], "--targets: sn-zz-*: matches no router, link or service"),
                        (["--targets", "*", "--end", "2024-05-01T08:00:00+08:00"], "--end: "),
                        (["--targets", "*", "--start", "2024-05-01T09:00:00"], "has no UTC offset")]:
        full = {"--start": "2024-05-01T09:00:00+08:00", "--end": "2024-05-01T12:00:00+08:00"}
        for k, v in zip(args[::2], args[1::2]):
            full[k] = v
        r = egov("maintenance", "add", "--profile", str(lab_yaml), *[x for kv in full.items() for x in kv], env=env)
        assert r.returncode == 1 and words in r.stderr.splitlines()[0] and "; fix: " in r.stderr, r.stderr


def test_change_runs_in_the_journal_are_planned_windows(tmp_path, lab_yaml, env):
    state = Path(env["EGOV_STATE_DIR"])
    j = Journal(state / "journal.sqlite")
    j.start_change("c-apply", "apply", "lab")
    j.device_result("c-apply", "sn-bj-jt", "changed")
    j.finish_change("c-apply", "ok", {})
    j.start_change("c-backup", "backup", "lab")
    j.device_result("c-backup", "sn-xa-yt", "ok")
    j.finish_change("c-backup", "ok", {})
    db = sqlite3.connect(state / "journal.sqlite")
    for cid in ("c-apply", "c-backup"):
        db.execute("UPDATE change SET started=?, window_start=?, finished=?, window_end=? WHERE id=?",
                   ("2024-06-01T02:00:00+00:00", "2024-06-01T02:00:00+00:00", "2024-06-01T03:00:00+00:00",
                    "2024-06-01T03:00:00+00:00", cid))
    db.commit()
    db.close()
    f = write(tmp_path, [HEADER, "J-1,link,sn-bj-a~sn-bj-jt,2024-06-01T10:30:00+08:00,2024-06-01T15:00:00+08:00,",
                         "J-2,router,sn-xa-yt,2024-06-01T10:30:00+08:00,2024-06-01T15:00:00+08:00,",
                         "J-3,router,sn-bj-jt,2024-06-01T11:30:00+08:00,2024-06-01T15:00:00+08:00,"])
    assert egov("faults", "import", str(f), "--profile", str(lab_yaml), env=env).returncode == 0
    by = {d["source"]: d for d in faults_json(lab_yaml, env)}
    # J-1: a link of the changed router, inside the apply run; J-2: a backup run is read-only, not planned;
    # J-3: after the run ended
    assert by["J-1"]["planned"] is True and by["J-1"]["planned_by"] == "change c-apply (apply)"
    assert by["J-2"]["planned"] is False and by["J-3"]["planned"] is False
    listed = json.loads(egov("maintenance", "list", "--profile", str(lab_yaml), "--json", env=env).stdout)
    assert [(w["source"], w["targets"]) for w in listed] == [("change journal", ["sn-bj-jt"])]


def test_report_json_shape_and_figures(tmp_path, lab_yaml, env):
    f = write(tmp_path, [HEADER, *GOOD,
                         "T-5,management,sn-b,2024-07-01T00:00:00+08:00,2024-07-05T00:00:00+08:00,false"])
    assert egov("faults", "import", str(f), "--profile", str(lab_yaml), env=env).returncode == 0
    r = egov("sla", "report", "--profile", str(lab_yaml), "--period", "2024", "--json", "--as-of",
             "2025-06-01T00:00:00+08:00", env=env)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert {"period", "availability", "fault_handling_rate", "bandwidth_support_rate", "targets", "pass"} <= set(doc)
    assert set(doc["availability"]) >= {"services", "routers", "links", "tiers", "cities", "network", "cloud"}
    year = 366 * 86400
    assert doc["period"]["seconds"] == year and doc["period"]["start"] == "2024-01-01T00:00:00+08:00"
    av = doc["availability"]
    assert len(av["routers"]) == 15 and len(av["links"]) == 29
    assert set(av["tiers"]) == {"province", "city", "county", "township", "department"}
    assert set(av["cities"]) == {"sn", "xa", "bj", "dfgw"}
    assert av["links"]["sn-a~sn-xa-a"]["outage_s"] == 5400
    assert av["routers"]["sn-xa-yt"]["outage_s"] == 4 * 3600
    # sn-xa-yt down cuts its township off (both its uplinks go to sn-xa-yt)
    assert av["routers"]["sn-xa-yt-t001"]["outage_s"] == 4 * 3600
    # T-4 opened at 23:00 on 31 December, Shanghai: one hour of it is in 2024
    assert av["routers"]["sn-bj-jt"]["outage_s"] == 3600 and av["routers"]["sn-bj-jt-t001"]["outage_s"] == 3600
    assert av["routers"]["sn-b"]["outage_s"] == 0  # the management fault is not an outage
    assert av["cloud"]["availability"] == 1.0  # the portal's only fault was planned
    county = (2 * 1.0 + (1 - 4 * 3600 / year) + (1 - 3600 / year)) / 4
    assert av["tiers"]["county"]["availability"] == pytest.approx(county, abs=1e-15)
    assert doc["fault_handling_rate"] == pytest.approx(1 / 3)  # T-1 met; T-2 and T-4 missed
    fh = doc["fault_handling"]
    assert (fh["met"], fh["missed"], fh["pending"], fh["planned"], fh["management"]) == (1, 2, 0, 1, 1)
    assert doc["bandwidth_support_rate"] is None and doc["bandwidth"]["no_data"] == 13
    t = doc["targets"]
    assert t["year"] == 2024 and t["platform_uptime"]["target_year"] == 2023
    assert (t["platform_uptime"]["pass"], t["fault_handling_3h"]["pass"], t["bandwidth_support"]["pass"]) == (
        True, False, None)
    assert doc["pass"] is False
    # 2025: 2025's targets, and no fault started in it but T-4, which is open past its target
    d25 = json.loads(egov("sla", "report", "--profile", str(lab_yaml), "--period", "2025", "--json", "--as-of",
                          "2025-06-01T00:00:00+08:00", env=env).stdout)
    assert d25["targets"]["platform_uptime"]["target"] == 0.99 and d25["fault_handling"]["met"] == 0
    assert d25["period"]["measured_until"] == "2025-06-01T00:00:00+08:00"
    assert d25["availability"]["routers"]["sn-bj-jt"]["outage_s"] == (31 + 28 + 31 + 30 + 31) * 86400
    # the table form prints the same verdict
    r = egov("sla", "report", "--profile", str(lab_yaml), "--period", "2024", "--as-of", "2025-06-01T00:00:00+08:00",
             env=env)
    assert r.returncode == 0 and "overall: FAIL" in r.stdout
    r = egov("sla", "report", "--profile", str(lab_yaml), "--period", "2024-01-01T00:00:00/2025", env=env)
    assert r.returncode == 1 and r.stderr.startswith("--period: 2024-01-01T00:00:00: has no UTC offset")

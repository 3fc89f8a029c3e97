"""Runbooks: the shipped ones are valid and wired to the alerts; bad headers are refused in one line;
the run engine stops where a person is needed; the actions read recorded SNMP answers correctly."""

from __future__ import annotations

import time

import pytest
import yaml

from conftest import ROOT, egov
from egov.errors import EgovError
from egov.measure.model import IfState, Poll
from egov.operate.actions import ACTIONS, Tools, impact, link_state, other_uplink, resolve_link, router_state, utilisation
from egov.operate.runbooks import RunContext, load, load_all, run
from egov.topology.validate import build_plan

BOOKS = ROOT / "runbooks"
HEADER = """---
id: {id}
title: A test runbook
trigger: link
severity: major
target: link
steps:
  - id: state
    title: Read both ends
    run: link_state
  - id: fix
    title: Fix it
    do: Call the carrier with the circuit id.
---
# body
"""


@pytest.fixture(scope="module")
def plan():
    return build_plan("lab")


def test_every_shipped_runbook_loads_and_names_real_actions():
    books = load_all(BOOKS, set(ACTIONS))
    assert set(books) == {"link-down", "router-down", "bandwidth-degraded", "change-failed", "snmp-unreachable",
                          "service-down", "dr-switchover"}
    for b in books.values():
        assert b.body.strip(), f"{b.id}: no prose for the person at 3 a.m."
        assert any(s.do for s in b.header.steps), f"{b.id}: never hands over to a person"


def test_every_alert_runbook_url_names_a_runbook():
    """Prometheus alerts link their runbook; each link (also per fault kind) must resolve to a file."""
    rules = yaml.safe_load((ROOT / "exporters" / "rules" / "egov-alerts.yml").read_text())
    urls = [r["annotations"]["runbook_url"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
    assert urls
    for url in urls:
        # per-kind alerts leave management faults out (tests/exporters); those go to snmp-unreachable
        for kind in ("link", "router", "service"):
            rendered = url.replace("{{ $labels.kind }}", kind)
            assert (ROOT / rendered).is_file(), f"{url} ({kind}) -> {rendered} does not exist"


@pytest.mark.parametrize("change, field", [
    (lambda t: t.replace("---\nid", "id", 1), "(header)"),
    (lambda t: t.replace("title: A test runbook", "title: A: test: runbook"), "(header)"),
    (lambda t: t.replace("severity: major", "severity: major\ncolour: red"), "colour"),
    (lambda t: t.replace("severity: major", "severity: huge"), "severity"),
    (lambda t: t.replace("    do: Call", "    run: link_state\n    do: Call"), "steps.1"),
    (lambda t: t.replace("run: link_state", "run: reboot_everything"), "steps.0.run"),
    (lambda t: t.replace("id: {id}", "id: other"), "id"),
])
def test_a_bad_header_is_refused_in_one_line_naming_file_and_field(tmp_path, change, field):
    path = tmp_path / "t.md"
    path.write_text(change(HEADER).replace("{id}", "t"))
    with pytest.raises(EgovError) as exc:
        load(path, set(ACTIONS))
    line = str(exc.value.problems[0])
    assert line.startswith(str(path)) and f" {field}: " in line and "; fix: " in line and "\n" not in line, line


def test_cli_refuses_a_bad_runbook_folder_in_one_line(tmp_path):
    (tmp_path / "bad.md").write_text(HEADER.replace("{id}", "bad").replace("severity: major", "severity: huge"))
    r = egov("runbook", "list", "--dir", str(tmp_path))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith(str(tmp_path / "bad.md")) and "severity" in line


def test_cli_lists_the_runbooks_as_json():
    r = egov("runbook", "list", "--json")
    assert r.returncode == 0, r.stderr
    import json

    doc = {b["id"]: b for b in json.loads(r.stdout)}
    assert doc["link-down"]["machine_steps"] == 3 and doc["link-down"]["person_steps"] == 1
    assert doc["snmp-unreachable"]["trigger"] == "management"


# --- the engine -------------------------------------------------------------------------------------

def test_run_stops_at_the_first_step_for_a_person_and_records_each_step(tmp_path):
    path = tmp_path / "t.md"
    path.write_text(HEADER.replace("{id}", "t").replace("---\n# body", "  - id: after\n    title: Never reached\n"
                                                         "    run: link_state\n---\n# body"))
    book = load(path, set(ACTIONS))
    calls, recorded = [], []

    def fake(args, ctx):
        calls.append(ctx.target)
        return False, "one end down", {}

    res = run(book, RunContext(book, "a~b"), {"link_state": fake}, record=recorded.append)
    assert [r.status for r in res] == ["failed", "needs_person"]
    assert calls == ["a~b"] and recorded == res
    assert res[1].detail.startswith("Call the carrier") and res[0].finished >= res[0].started


def test_a_broken_action_is_an_error_step_and_ends_the_run(tmp_path):
    path = tmp_path / "t.md"
    path.write_text(HEADER.replace("{id}", "t"))
    book = load(path, set(ACTIONS))

    def broken(args, ctx):
        raise RuntimeError("socket closed\nsecond line")

    (res,) = run(book, RunContext(book, "a~b"), {"link_state": broken})
    assert res.status == "error" and res.detail == "RuntimeError: socket closed"


# --- actions on recorded answers ------------------------------------------------------------------

def poll(router: str, up: dict[str, bool], isis: dict[str, bool] | None = None, octets: int = 0,
         ok: bool = True, speed: int = 10**9) -> Poll:
    ifs = {n: IfState(i, n, True, u, 0, octets, octets, speed) for i, (n, u) in enumerate(up.items(), 1)}
    return Poll(router, time.time(), ok, 0.01, None if ok else "timeout", "", 100, ifs if ok else {},
                (isis if isis is not None else dict(up)) if ok else None)


class Net:
    """Recorded polls per router; each call of the same router can advance its counters."""

    def __init__(self, polls: dict[str, Poll], rate_bytes: int = 0):
        self.polls = polls
        self.rate = rate_bytes
        self.n: dict[str, int] = {}

    def __call__(self, router: str) -> Poll:
        k = self.n[router] = self.n.get(router, 0) + 1
        p = self.polls[router]
        ifs = {n: IfState(i.index, n, i.admin_up, i.oper_up, 0, i.in_octets + k * self.rate,
                          i.out_octets + k * self.rate, i.speed_bps) for n, i in p.interfaces.items()}
        return Poll(p.router, time.time() + k, p.ok, p.duration, p.reason, p.detail, p.uptime_ticks, ifs, p.isis)


def ctx_for(plan, book_id: str, target: str, poll_fn) -> RunContext:
    book = load_all(BOOKS, set(ACTIONS))[book_id]
    return RunContext(book, target, facts={"tools": Tools(plan=plan, poll=poll_fn)})


def test_link_state_names_the_end_that_sees_the_link_down(plan):
    polls = {"sn-xa-yt": poll("sn-xa-yt", {"eth1": False, "eth2": True}),
             "sn-xa-a": poll("sn-xa-a", {n.name: True for n in plan.topology.nodes["sn-xa-a"].interfaces})}
    key, a, b = resolve_link(plan, "sn-xa-yt~sn-xa-a")
    ok, detail, data = link_state({}, ctx_for(plan, "link-down", "sn-xa-yt~sn-xa-a", Net(polls)))
    assert not ok and key == "sn-xa-a~sn-xa-yt"
    assert data["ends"]["sn-xa-yt eth1"] == "down, IS-IS down" and "out of service" in detail


def test_other_uplink_confirms_the_site_runs_on_its_second_link(plan, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)
    polls = {"sn-xa-yt": poll("sn-xa-yt", {"eth1": False, "eth2": True, "eth3": True, "eth4": True})}
    ok, detail, data = other_uplink({}, ctx_for(plan, "link-down", "sn-xa-yt~sn-xa-a", Net(polls, 1000)))
    assert ok, detail
    assert detail.startswith("sn-xa-yt runs on eth2 to sn-xa-b (up, IS-IS up, carrying")
    # both uplinks gone: the site is cut off, and the step says so
    polls = {"sn-xa-yt": poll("sn-xa-yt", {"eth1": False, "eth2": False, "eth3": True, "eth4": True})}
    ok, detail, _ = other_uplink({}, ctx_for(plan, "link-down", "sn-xa-yt~sn-xa-a", Net(polls)))
    assert not ok and "no working uplink left at sn-xa-yt" in detail


def test_snmp_silent_but_neighbours_see_it_is_a_management_fault(plan):
    node = plan.topology.nodes["sn-bj-a"]
    polls = {"sn-bj-a": poll("sn-bj-a", {}, ok=False)}
    for i in node.interfaces:
        far = next(j.name for j in plan.topology.nodes[i.peer].interfaces if j.link == i.link)
        polls[i.peer] = poll(i.peer, {far: True})
    ok, detail, _ = router_state({"expect": "forwarding"}, ctx_for(plan, "snmp-unreachable", "sn-bj-a", Net(polls)))
    assert ok and "a management fault, not an outage" in detail
    # the same silence with every neighbour having lost it is an outage
    for i in node.interfaces:
        far = next(j.name for j in plan.topology.nodes[i.peer].interfaces if j.link == i.link)
        polls[i.peer] = poll(i.peer, {far: False})
    ok, detail, _ = router_state({}, ctx_for(plan, "router-down", "sn-bj-a", Net(polls)))
    assert not ok and detail.endswith("the router is down")


def test_impact_of_a_router_comes_from_the_plan_graph(plan):
    ctx = ctx_for(plan, "router-down", "sn-xa-yt", Net({}))
    ok, detail, data = impact({}, ctx)
    assert not ok and data["cut_off"] == ["sn-xa-yt-t001"]  # a township with both links to one county router
    ok, detail, data = impact({}, ctx_for(plan, "router-down", "sn-bj-a", Net({})))
    assert ok and data["cut_off"] == [] and "dual-homed" in detail


def test_utilisation_against_the_threshold(plan, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)
    key, a, b = resolve_link(plan, "sn-xa-yt~sn-xa-a")
    polls = {e.router: poll(e.router, {e.ifname: True}, speed=10**6) for e in (a, b)}
    # 110,000 bytes a second each way through a 1 Mbit/s interface: 0.88 Mbit/s per direction, 88%
    ok, detail, data = utilisation({"gap": 0}, ctx_for(plan, "bandwidth-degraded", "sn-xa-yt~sn-xa-a",
                                                     Net(polls, 110_000)))
    assert not ok and "over the 80% threshold" in detail and "0.88 of 1 Mbit/s (88.0%)" in detail
    ok, detail, _ = utilisation({"gap": 0}, ctx_for(plan, "bandwidth-degraded", "sn-xa-yt~sn-xa-a",
                                                    Net(polls, 1_000)))
    assert ok and "(threshold 80%)" in detail
    # the link's capacity (the plan's bandwidth, or the lab's shaped rate) wins over ifHighSpeed
    ctx = ctx_for(plan, "bandwidth-degraded", "sn-xa-yt~sn-xa-a", Net(polls, 110_000))
    ctx.facts["tools"].capacity = lambda link: 10**7 if link == key else None
    ok, detail, _ = utilisation({"gap": 0}, ctx)
    assert ok and "0.88 of 10 Mbit/s (8.8%)" in detail


def test_bad_targets_are_one_line(plan):
    with pytest.raises(EgovError) as exc:
        resolve_link(plan, "sn-a~sn-xa-yt")
    assert "have no planned link" in str(exc.value.problems[0])
    r = egov("runbook", "run", "link-down", "--profile", "lab", "--target", "nowhere")
    assert r.returncode == 1 and r.stderr.strip().splitlines() == [
        "--target: nowhere: is not a link of the plan; fix: write it as ROUTER~ROUTER (e.g. sn-xa-yt~sn-xa-a) "
        "or a link key"]

"""The fault life cycle on the lab plan, driven by synthetic polls, traps and probes."""

from __future__ import annotations

import pytest

from egov.measure.faults import FaultEngine, Network
from egov.measure.model import IfState, Poll
from egov.measure.store import FaultStore, Window
from egov.topology.validate import build_plan

T0 = 1_800_000_000.0  # a fixed Unix time: polls, traps and clocks are all explicit


@pytest.fixture(scope="module")
def net() -> Network:
    return Network.from_topology(build_plan("lab").topology)


class Clock:
    def __init__(self, t: float = T0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def world(tmp_path, net):
    clock = Clock()
    store = FaultStore(tmp_path / "faults.sqlite")
    logs: list[str] = []
    engine = FaultEngine(store, "lab", net, clock=clock, log=logs.append)
    return store, engine, clock, logs


def healthy(net: Network, at: float, uptime_s: float = 86400.0, down: dict[str, dict[str, float]] | None = None,
            cut: dict[str, set[str]] | None = None, dead: set[str] = frozenset()) -> list[Poll]:
    """A poll of every router: all planned interfaces up with adjacencies, except as told.

    down: router -> {ifname: unix time it went down}; cut: router -> interfaces whose adjacency is gone;
    dead: routers that do not answer."""
    polls = []
    ticks = int(uptime_s * 100)
    for r in net.routers:
        if r in dead:
            polls.append(Poll(r, at, False, 2.0, "timeout", "no answer"))
            continue
        ifaces = {}
        for idx, (_nb, _nb_if, key) in enumerate(net.neighbours[r], start=2):
            link = net.links[key]
            name = link.a_if if link.a == r else link.b_if
            went = (down or {}).get(r, {}).get(name)
            last = ticks - int((at - went) * 100) if went is not None else 100
            ifaces[name] = IfState(index=idx, name=name, admin_up=True, oper_up=went is None, last_change=last)
        isis = {n: (n not in (cut or {}).get(r, set()) and ifaces[n].oper_up) for n in ifaces}
        polls.append(Poll(r, at, True, 0.01, uptime_ticks=ticks, interfaces=ifaces, isis=isis))
    return polls


def ifname(net: Network, router: str, peer: str) -> str:
    return next(i for nb, i2, key in net.neighbours[router] if nb == peer
                for i in [net.links[key].a_if if net.links[key].a == router else net.links[key].b_if])


def test_link_down_then_up_uses_the_devices_times(world, net):
    store, engine, clock, _ = world
    key = "sn-xa-yt~sn-xa-yt-t001"
    a_if = ifname(net, "sn-xa-yt", "sn-xa-yt-t001")
    engine.polls(healthy(net, T0))
    assert store.open_faults("lab") == []
    clock.t = T0 + 30
    engine.polls(healthy(net, T0 + 30, down={"sn-xa-yt": {a_if: T0 + 12}}))
    (f,) = store.open_faults("lab")
    assert (f.kind, f.target, f.detected_by) == ("link", key, "poll")
    assert f.start == pytest.approx(T0 + 12, abs=0.02) and f.detected == T0 + 30
    assert f.tier == "township" and f.city == "xa"
    assert f.affected["single_homed"] == ["sn-xa-yt-t001"] and f.affected["cut_off"] == []
    # it came back at T0+100 (ifLastChange), seen at T0+120
    clock.t = T0 + 120
    polls = healthy(net, T0 + 120)
    p = next(p for p in polls if p.router == "sn-xa-yt")
    p.interfaces[a_if].last_change = p.uptime_ticks - 20 * 100
    engine.polls(polls)
    (f,) = store.faults("lab")
    assert f.cleared == pytest.approx(T0 + 100, abs=0.02) and f.duration() == pytest.approx(88, abs=0.05)
    assert f.within_target() is True


def test_silent_cut_is_a_link_fault(world, net):
    store, engine, clock, _ = world
    a_if = ifname(net, "sn-bj-a", "sn-bj-jt")
    engine.polls(healthy(net, T0, cut={"sn-bj-a": {a_if}}))
    (f,) = store.open_faults("lab")
    assert (f.kind, f.target, f.start) == ("link", "sn-bj-a~sn-bj-jt", T0)


def test_router_down_when_its_neighbours_lose_it(world, net):
    store, engine, clock, _ = world
    gone = T0 - 5
    down: dict[str, dict[str, float]] = {}
    for nb, i, _ in net.neighbours["sn-xa-yt"]:
        down.setdefault(nb, {})[i] = gone
    engine.polls(healthy(net, T0, dead={"sn-xa-yt"}, down=down))
    (f,) = store.open_faults("lab")  # one router fault, none for its links
    assert (f.kind, f.target) == ("router", "sn-xa-yt")
    assert f.start == pytest.approx(gone, abs=0.02)
    assert f.affected["cut_off"] == ["sn-xa-yt-t001"]
    assert engine.router_state["sn-xa-yt"] == "down"
    # it comes back: the agent restarted 40 s before this poll
    clock.t = T0 + 300
    engine.polls(healthy(net, T0 + 300, uptime_s=40))
    (f,) = store.faults("lab")
    assert f.cleared == pytest.approx(T0 + 260, abs=0.02)


def test_unreachable_agent_with_neighbours_that_still_see_it_is_a_management_fault(world, net):
    store, engine, clock, _ = world
    engine.polls(healthy(net, T0, dead={"sn-bj-wb"}))
    assert store.open_faults("lab") == [] and engine.router_state["sn-bj-wb"] == "unknown"
    clock.t = T0 + 30
    engine.polls(healthy(net, T0 + 30, dead={"sn-bj-wb"}))
    (f,) = store.open_faults("lab")
    assert (f.kind, f.target) == ("management", "sn-bj-wb")
    clock.t = T0 + 60
    engine.polls(healthy(net, T0 + 60))
    assert store.open_faults("lab") == [] and engine.router_state["sn-bj-wb"] == "up"


def test_nothing_is_said_without_neighbours(world, net):
    store, engine, _, _ = world
    engine.polls(healthy(net, T0, dead=set(net.routers)))
    engine.polls(healthy(net, T0 + 30, dead=set(net.routers)))
    assert {f.kind for f in store.open_faults("lab")} <= {"management"}
    assert set(engine.router_state.values()) == {"unknown"}


def test_traps_open_and_close_at_once_and_polling_confirms(world, net):
    store, engine, clock, logs = world
    a_if = ifname(net, "sn-a", "sn-dfgw")
    engine.polls(healthy(net, T0))
    index = next(p for p in engine.last.values() if p.router == "sn-a").interfaces[a_if].index
    clock.t = T0 + 5.2
    f = engine.trap("sn-a", index, None, False, T0 + 5)
    assert (f.kind, f.target, f.start, f.detected_by) == ("link", "sn-a~sn-dfgw", T0 + 5, "trap")
    clock.t = T0 + 9
    engine.trap("sn-a", None, a_if, True, T0 + 9)
    assert store.open_faults("lab") == []
    # the next poll still sees it down: the same fault goes on, no second one
    clock.t = T0 + 30
    engine.polls(healthy(net, T0 + 30, down={"sn-a": {a_if: T0 + 5}}))
    assert [x.id for x in store.open_faults("lab")] == [f.id]
    assert any("reopened" in line for line in logs)
    clock.t = T0 + 60
    engine.polls(healthy(net, T0 + 60))
    assert len(store.faults("lab")) == 1 and store.open_faults("lab") == []


def test_a_restarted_engine_continues_and_closes_the_same_fault(tmp_path, net):
    """The exporter is killed during a fault, the fault clears meanwhile, the exporter restarts."""
    path = tmp_path / "faults.sqlite"
    a_if = ifname(net, "sn-b", "sn-xa-a")
    first = FaultEngine(FaultStore(path), "lab", net, clock=Clock(T0 + 30))
    first.polls(healthy(net, T0 + 30, down={"sn-b": {a_if: T0 + 10}}))
    del first  # SIGKILL: nothing of the engine survives but the database
    second = FaultEngine(FaultStore(path), "lab", net, clock=Clock(T0 + 400))
    second.polls(healthy(net, T0 + 400, down={"sn-b": {a_if: T0 + 10}}))  # still down: continued
    polls = healthy(net, T0 + 900)
    p = next(p for p in polls if p.router == "sn-b")
    p.interfaces[a_if].last_change = p.uptime_ticks - 600 * 100  # up again at T0+300, while we were away
    third = FaultEngine(FaultStore(path), "lab", net, clock=Clock(T0 + 900))
    third.polls(polls)
    (f,) = FaultStore(path).faults("lab")
    assert f.cleared == pytest.approx(T0 + 300, abs=0.02) and f.duration() == pytest.approx(290, abs=0.05)


def test_faults_in_a_planned_window_are_planned(world, net):
    store, engine, clock, _ = world
    store.add_window("lab", Window(T0 - 60, T0 + 600, ("sn-bj-*",), "IOS upgrade"))
    a_if = ifname(net, "sn-bj-a", "sn-bj-wb")
    b_if = ifname(net, "sn-xa-a", "sn-xa-ca")
    engine.polls(healthy(net, T0, down={"sn-bj-a": {a_if: T0}, "sn-xa-a": {b_if: T0}}))
    planned = {f.target: f.planned for f in store.open_faults("lab")}
    assert planned == {"sn-bj-a~sn-bj-wb": True, "sn-xa-a~sn-xa-ca": False}


def test_escalations_fire_once_each_before_the_target(world, net):
    store, engine, clock, logs = world
    engine.probe("portal", False, T0, "HTTP 503")
    for t, expected in ((T0 + 3600, []), (T0 + 7200, [2.0]), (T0 + 8000, [2.0]), (T0 + 9000, [2.0, 2.5]),
                        (T0 + 20000, [2.0, 2.5])):
        clock.t = t
        engine.tick()
        (f,) = store.open_faults("lab")
        assert f.escalations == expected
    assert sum("escalated" in line for line in logs) == 2
    assert f.within_target(T0 + 20000) is False
    engine.probe("portal", True, T0 + 20001)
    (f,) = store.faults("lab")
    assert (f.kind, f.cleared, f.within_target()) == ("service", T0 + 20001, False)


def test_a_router_back_without_routing_keeps_its_fault_until_is_is_is_up(world, net):
    """Daemons restart in seconds, IS-IS needs a few more: until one adjacency is up the router still
    routes nothing, so its fault stays open and its links raise no faults of their own."""
    store, engine, clock, _ = world
    r = "sn-bj-a"
    down = {nb: {i: T0 - 5} for nb, i, _ in net.neighbours[r]}
    engine.polls(healthy(net, T0, dead={r}, down=down))
    (f,) = store.open_faults("lab")
    # answers again (booted 3 s ago), every adjacency of its own still down
    clock.t = T0 + 60
    mine = {r: {ifname(net, r, nb) for nb, _i, _k in net.neighbours[r]}}
    neighbours_cut = {nb: {i} for nb, i, _ in net.neighbours[r]}
    engine.polls(healthy(net, T0 + 60, uptime_s=3, cut={**mine, **neighbours_cut}))
    assert [(x.kind, x.target) for x in store.open_faults("lab")] == [("router", r)]
    # one adjacency up, the others still coming: still recovering
    first_nb, first_if, _ = net.neighbours[r][0]
    partly = {r: mine[r] - {ifname(net, r, first_nb)},
              **{nb: {i} for nb, i, _ in net.neighbours[r] if nb != first_nb}}
    clock.t = T0 + 62
    engine.polls(healthy(net, T0 + 62, uptime_s=5, cut=partly))
    assert [(x.kind, x.target) for x in store.open_faults("lab")] == [("router", r)]
    # routing is back: cleared when that was seen, and no link fault was ever opened
    clock.t = T0 + 65
    engine.polls(healthy(net, T0 + 65, uptime_s=8))
    (f,) = store.faults("lab")
    assert f.cleared == pytest.approx(T0 + 65, abs=0.02)
    # a router that never gets an adjacency back is released after recovery_s: its links take over
    engine.recovery_s = 10
    clock.t = T0 + 100
    engine.polls(healthy(net, T0 + 100, dead={r}, down=down))
    clock.t = T0 + 200
    engine.polls(healthy(net, T0 + 200, uptime_s=30, cut={**mine, **neighbours_cut}))
    kinds = sorted(x.kind for x in store.open_faults("lab"))
    assert kinds and set(kinds) == {"link"}, kinds

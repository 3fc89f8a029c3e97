"""SLA maths on synthetic histories; every expected figure is computed by hand in the comments."""

from __future__ import annotations

import pytest

from egov.errors import EgovError
from egov.measure import sla
from egov.measure.store import Window
from egov.plan.schema import Target

from .sla_net import fault, net, t

H = 3600.0
YEAR_2024 = 366 * 86400  # leap year
YEAR_2023 = 365 * 86400


def run(faults, windows=(), period="2024", tz="UTC", now="2025-06-01T00:00:00+00:00"):
    n = net()
    p = sla.parse_period(period, tz)
    now_t = t(now)
    until = min(p.end, now_t)
    o = sla.outages(n, faults, list(windows), p.start, until, now_t)
    return p, sla.availability(n, o), sla.fault_handling(faults, list(windows), p.start, p.end, now_t), o


# --- periods ---------------------------------------------------------------------------------------------
def test_year_periods_are_calendar_years_in_the_profile_time_zone_and_leap_years_have_366_days():
    p24 = sla.parse_period("2024", "UTC")
    assert p24.seconds == YEAR_2024 and p24.start == t("2024-01-01T00:00:00+00:00")
    assert sla.parse_period("2023", "UTC").seconds == YEAR_2023
    assert sla.parse_period("2000", "UTC").seconds == 366 * 86400  # divisible by 400: leap
    assert sla.parse_period("2100", "UTC").seconds == 365 * 86400  # divisible by 100 only: not leap
    sh = sla.parse_period("2024", "Asia/Shanghai")
    assert sh.start == t("2023-12-31T16:00:00+00:00") and sh.seconds == YEAR_2024 and sh.year == 2024


def test_start_end_periods_need_offsets():
    p = sla.parse_period("2024-02-28T00:00:00+08:00/2024-03-01T00:00:00+08:00", "UTC")
    assert p.seconds == 2 * 86400  # 28 and 29 February 2024
    p = sla.parse_period("2024-02-01/2024-03-01", "Asia/Shanghai")  # bare dates: the profile's midnight
    assert p.start == t("2024-02-01T00:00:00+08:00") and p.seconds == 29 * 86400
    for bad, words in [("2024-01-01T00:00:00/2024-02-01T00:00:00+08:00", "no UTC offset"),
                       ("2024-03-01T00:00:00Z/2024-02-01T00:00:00Z", "ends before it starts"),
                       ("last year", "not a year or START/END"), ("2024-13-01T00:00:00Z/2025-01-01T00:00:00Z",
                                                                  "not an ISO 8601 time")]:
        with pytest.raises(EgovError) as e:
            sla.parse_period(bad, "UTC")
        line = str(e.value)
        assert words in line and "; fix: " in line and "\n" not in line


# --- availability ------------------------------------------------------------------------------------------
def test_overlapping_faults_merge_and_period_edges_cut():
    faults = [
        # router b: 10:00-12:00 and 11:00-13:00 overlap -> one 3 h outage
        fault("router", "b", "2024-03-01T10:00:00+00:00", "2024-03-01T12:00:00+00:00"),
        fault("router", "b", "2024-03-01T11:00:00+00:00", "2024-03-01T13:00:00+00:00"),
        # router d: straddles the start of 2024 (only the hour after midnight counts) ...
        fault("router", "d", "2023-12-31T23:00:00+00:00", "2024-01-01T01:00:00+00:00"),
        # ... and the end (only the 30 minutes before midnight)
        fault("router", "d", "2024-12-31T23:30:00+00:00", "2025-01-01T02:00:00+00:00"),
    ]
    _, av, fh, _ = run(faults)
    b, d = av["routers"]["b"], av["routers"]["d"]
    assert b["outage_s"] == 3 * H and b["outages"] == 1
    assert b["availability"] == pytest.approx(1 - 3 * H / YEAR_2024, abs=1e-15)
    assert d["outage_s"] == 1.5 * H and d["outages"] == 2
    # links at either end of a router fault are out with it; b's two uplinks for 3 h each
    assert av["links"]["a~b"]["outage_s"] == 3 * H and av["links"]["a~b#2"]["outage_s"] == 3 * H
    assert av["links"]["c1~a"]["outage_s"] == 0
    # the service on d ("web", cloud) is out while its router is
    assert av["services"]["web"]["outage_s"] == 1.5 * H
    # fault handling counts faults that *started* in 2024: three (the 2023 one is not), all within 3 h
    # (the last one took 2.5 h, cleared after the period: still met)
    assert (fh["met"], fh["missed"], fh["pending"]) == (3, 0, 0) and fh["rate"] == 1.0


def test_two_link_faults_cut_a_site_off_only_while_both_are_open():
    faults = [fault("link", "a~b", "2024-05-01T00:00:00+00:00", "2024-05-01T02:00:00+00:00"),
              fault("link", "a~b#2", "2024-05-01T01:00:00+00:00", "2024-05-01T04:00:00+00:00")]
    _, av, _, _ = run(faults)
    assert av["links"]["a~b"]["outage_s"] == 2 * H
    assert av["links"]["a~b#2"]["outage_s"] == 3 * H
    assert av["routers"]["b"]["outage_s"] == 1 * H  # 01:00-02:00, both uplinks down
    assert av["routers"]["a"]["outage_s"] == 0
    # a router fault cuts off what hangs below it: a down -> b is cut off (its uplinks both go via a)
    _, av, _, _ = run([fault("router", "a", "2024-05-02T00:00:00+00:00", "2024-05-02T00:10:00+00:00")])
    assert av["routers"]["b"]["outage_s"] == 600 and av["routers"]["a"]["outage_s"] == 600
    assert av["services"]["intranet"]["outage_s"] == 600
    assert av["routers"]["d"]["outage_s"] == 0


def test_tier_city_network_are_router_means_and_the_cloud_is_the_union_of_cloud_services():
    faults = [
        fault("router", "b", "2024-02-01T00:00:00+00:00", "2024-02-01T10:00:00+00:00"),        # b: 10 h
        fault("service", "portal", "2024-02-02T00:00:00+00:00", "2024-02-02T02:00:00+00:00"),  # portal 00-02
        fault("service", "web", "2024-02-02T01:00:00+00:00", "2024-02-02T03:00:00+00:00"),     # web 01-03
        fault("service", "intranet", "2024-02-03T00:00:00+00:00", "2024-02-03T05:00:00+00:00"),  # not cloud
    ]
    _, av, _, _ = run(faults)
    y = YEAR_2024
    b = 1 - 10 * H / y
    assert av["tiers"]["county"]["availability"] == pytest.approx((b + 1) / 2, abs=1e-15)  # b and d
    assert av["tiers"]["province"]["availability"] == 1.0
    assert av["cities"]["xa"]["availability"] == pytest.approx((1 + b) / 2, abs=1e-15)  # a and b
    assert av["network"]["availability"] == pytest.approx((4 + b) / 5, abs=1e-15) and av["network"]["routers"] == 5
    # cloud: portal 00-02 U web 01-03 = 3 h; intranet is not cloud
    assert av["cloud"]["outage_s"] == 3 * H and av["cloud"]["services"] == ["portal", "web"]
    assert av["cloud"]["availability"] == pytest.approx(1 - 3 * H / y, abs=1e-15)
    assert av["services"]["intranet"]["outage_s"] == 5 * H


def test_planned_faults_and_windows_are_excluded_management_faults_are_not_outages():
    w = Window(t("2024-04-01T22:00:00+00:00"), t("2024-04-02T02:00:00+00:00"), ("a",), "change 42")
    faults = [
        fault("router", "a", "2024-04-01T23:00:00+00:00", "2024-04-02T01:00:00+00:00"),   # starts in window
        fault("link", "a~b", "2024-04-01T23:30:00+00:00", "2024-04-02T08:00:00+00:00"),   # a~b: "a" end covered
        fault("router", "d", "2024-04-01T23:00:00+00:00", "2024-04-02T01:00:00+00:00"),   # d: not in the window
        fault("router", "a", "2024-04-01T21:00:00+00:00", "2024-04-01T21:30:00+00:00"),   # before the window
        fault("router", "b", "2024-06-01T00:00:00+00:00", "2024-06-01T09:00:00+00:00", planned=True),
        fault("management", "c2", "2024-07-01T00:00:00+00:00", "2024-07-03T00:00:00+00:00"),  # 48 h, silent agent
    ]
    _, av, fh, _ = run(faults, windows=[w])
    assert av["routers"]["a"]["outage_s"] == 1800   # only the one before the window
    assert av["routers"]["d"]["outage_s"] == 2 * H
    assert av["routers"]["b"]["outage_s"] == 1800   # cut off with a, not its planned 9 h
    assert av["links"]["a~b"]["outage_s"] == 1800   # its own fault is planned; a's unplanned one counts
    assert av["routers"]["c2"]["outage_s"] == 0     # management is not an outage
    assert (fh["met"], fh["missed"], fh["planned"], fh["management"]) == (2, 0, 3, 1)
    # without the window the same faults count: a~b took 8.5 h -> missed
    _, _, fh, _ = run(faults)
    assert (fh["met"], fh["missed"], fh["planned"]) == (3, 1, 1) and fh["rate"] == pytest.approx(3 / 4)


def test_open_faults_run_to_now_past_target_is_missed_within_target_is_pending():
    faults = [fault("router", "b", "2024-09-01T00:00:00+00:00", None),                     # open 4 h at now
              fault("router", "d", "2024-09-01T02:00:00+00:00", None),                     # open 2 h at now
              fault("link", "c1~a", "2024-08-01T00:00:00+00:00", "2024-08-01T02:59:59+00:00"),  # met, barely
              fault("link", "c2~a", "2024-08-02T00:00:00+00:00", "2024-08-02T03:00:01+00:00")]  # missed by 1 s
    p, av, fh, _ = run(faults, now="2024-09-01T04:00:00+00:00")
    measured = t("2024-09-01T04:00:00+00:00") - p.start
    assert av["routers"]["b"]["outage_s"] == 4 * H
    assert av["routers"]["b"]["availability"] == pytest.approx(1 - 4 * H / measured, abs=1e-15)
    assert (fh["met"], fh["missed"], fh["pending"]) == (1, 2, 1) and fh["rate"] == pytest.approx(1 / 3)
    outcome = {r["target"]: r["outcome"] for r in fh["faults"]}
    assert outcome == {"b": "missed", "d": "pending", "c1~a": "met", "c2~a": "missed"}
    # a fault cleared exactly at its target is met
    _, _, fh, _ = run([fault("router", "b", "2024-01-05T00:00:00+00:00", "2024-01-05T03:00:00+00:00")])
    assert fh["met"] == 1 and fh["rate"] == 1.0


def test_shanghai_year_edges_are_local_midnights():
    # 2024-01-01T07:00+08:00 is 2023-12-31T23:00Z: in the Shanghai year 2024, not in the UTC one
    faults = [fault("router", "b", "2023-12-31T23:00:00+00:00", "2023-12-31T23:30:00+00:00")]
    _, av, fh, _ = run(faults, tz="Asia/Shanghai")
    assert av["routers"]["b"]["outage_s"] == 1800 and fh["met"] == 1
    _, av, fh, _ = run(faults, tz="UTC")
    assert av["routers"]["b"]["outage_s"] == 0 and fh["met"] == 0


def test_unknown_targets_are_reported_not_invented():
    _, av, fh, o = run([fault("router", "gone", "2024-03-01T00:00:00+00:00", "2024-03-01T01:00:00+00:00")])
    assert o.unknown_targets == ["router:gone"] and "gone" not in av["routers"]
    assert fh["met"] == 1


# --- targets --------------------------------------------------------------------------------------------------
def test_targets_use_the_latest_year_at_or_before_the_period():
    targets = {2023: Target(platform_uptime=0.95, fault_handling_3h=0.95),
               2025: Target(platform_uptime=0.99, fault_handling_3h=0.99, bandwidth_support=1.0)}
    assert sla.target_for(targets, 2024, "platform_uptime") == (0.95, 2023)
    assert sla.target_for(targets, 2026, "bandwidth_support") == (1.0, 2025)
    assert sla.target_for(targets, 2024, "bandwidth_support") is None
    assert sla.target_for(targets, 2022, "platform_uptime") is None
    res, ok = sla.judge(targets, 2024, {"platform_uptime": 0.96, "fault_handling_3h": 0.94, "bandwidth_support": 0.5})
    assert res["platform_uptime"]["pass"] is True and res["fault_handling_3h"]["pass"] is False
    assert res["bandwidth_support"]["pass"] is None and ok is False
    res, ok = sla.judge(targets, 2025, {"platform_uptime": 0.99, "fault_handling_3h": None, "bandwidth_support": 1.0},
                        {"fault_handling_3h": True})
    assert ok is True and res["fault_handling_3h"]["pass"] is True  # no fault: nothing was late
    res, ok = sla.judge(targets, 2025, {"platform_uptime": 0.9899, "fault_handling_3h": None,
                                        "bandwidth_support": None})
    assert ok is False and res["bandwidth_support"]["pass"] is None
    assert sla.judge({}, 2025, {"platform_uptime": 1.0})[1] is None


def test_the_local_cut_off_search_agrees_with_network_impact():
    import random

    from egov.measure.faults import Network
    from egov.topology.validate import build_plan

    rnd = random.Random(8)
    for n in (net(), Network.from_topology(build_plan("lab").topology)):
        g = sla._Graph(n)
        routers, links = sorted(n.routers), sorted(n.links)
        for _ in range(400):
            dr = frozenset(rnd.sample(routers, rnd.choice([0, 0, 1, 2])))
            dl = frozenset(rnd.sample(links, min(len(links), rnd.choice([0, 1, 2, 3, 5, 8]))))
            assert g.cut_off(dr, dl) == n.impact(set(dr), set(dl))["cut_off"], (dr, dl)

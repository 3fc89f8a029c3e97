"""Counter rollups: exact 5-minute rates, daily histograms whose percentiles match the 5-minute ones,
counter wrap, agent and exporter restarts, gaps, pruning, and the bandwidth support rate built on them."""

from __future__ import annotations

import math
import sqlite3

import pytest

from egov.errors import EgovError
from egov.measure import sla
from egov.measure.model import IfState, Poll
from egov.measure.rollup import BINS, Percentile, ProfileRollups, Rollups, pack

from .sla_net import net, t

SPEED = 1_000_000_000
DAY0 = t("2024-03-10T00:00:00+00:00")


def poll(at: float, in_o: int, out_o: int, *, booted: float, router: str = "r1", ifname: str = "eth1",
         speed: int = SPEED) -> Poll:
    return Poll(router, at, True, 0.01, uptime_ticks=round((at - booted) * 100),
                interfaces={ifname: IfState(1, ifname, True, True, in_octets=in_o, out_octets=out_o,
                                            speed_bps=speed)})


def utils(n: int, seed: int = 7) -> list[float]:
    """n utilisations never on a 1 % bin edge: (10 m + 5) / 10000, m pseudo-random."""
    out, x = [], seed
    for _ in range(n):
        x = (x * 1103515245 + 12345) % 2**31
        out.append((10 * (x % 1000) + 5) / 10000)
    return out


class Feed:
    """Counters of one interface driven by a per-bucket utilisation (in = u, out = u / 2), polled every 60 s
    on bucket-aligned minutes so each bucket's average is exactly its utilisation."""

    def __init__(self, rollups: Rollups, start: float, *, in_o: int = 0, out_o: int = 0, router: str = "r1",
                 ifname: str = "eth1", profile: str = "p"):
        self.r, self.t, self.in_o, self.out_o = rollups, start, in_o, out_o
        self.booted = start - 1000.0
        self.router, self.ifname, self.profile = router, ifname, profile
        self.send()

    def send(self) -> None:
        self.r.record(self.profile, [poll(self.t, self.in_o % 2**64, self.out_o % 2**64, booted=self.booted,
                                          router=self.router, ifname=self.ifname)])

    def run(self, us: list[float], step: int = 60) -> None:
        for u in us:
            for _ in range(300 // step):
                self.in_o += round(u * SPEED * step / 8)
                self.out_o += round(u / 2 * SPEED * step / 8)
                self.t += step
                self.send()


def nearest_rank_upper_edge(values: list[float], q: float = 0.95) -> float:
    """The reference: nearest-rank quantile of the exact values, reported as its 1 % bin's upper edge."""
    v = sorted(values)[math.ceil(q * len(values)) - 1]
    return (math.floor(v * BINS) + 1) / BINS


@pytest.fixture
def rollups(tmp_path):
    r = Rollups(tmp_path / "rollups.sqlite", tz="UTC")
    yield r
    r.close()


def test_five_minute_rates_are_exact_and_daily_percentiles_match_them(rollups):
    us = utils(2 * 288)
    Feed(rollups, DAY0).run(us)
    rates = rollups.rates("p", "r1", "eth1", DAY0, DAY0 + 2 * 86400)
    assert len(rates) == 576
    for r, u in zip(rates, us):
        assert r.in_bps == pytest.approx(u * SPEED, rel=1e-12) and r.out_bps == pytest.approx(u / 2 * SPEED, rel=1e-12)
        assert r.covered_s == 300 and r.util == pytest.approx(u, rel=1e-12)
    days = rollups.days("p", "r1", "eth1", DAY0, DAY0 + 2 * 86400)
    assert [d.day for d in days] == ["2024-03-10", "2024-03-11"] and [d.samples for d in days] == [288, 288]
    assert days[0].util_max == pytest.approx(max(us[:288])) and days[1].in_max_bps == pytest.approx(max(us[288:]) * SPEED)
    day1 = rollups.percentile("p", "r1", "eth1", DAY0, DAY0 + 86400)
    both = rollups.percentile("p", "r1", "eth1", DAY0, DAY0 + 2 * 86400)
    assert day1.value == nearest_rank_upper_edge(us[:288]) and day1.samples == 288
    assert both.value == nearest_rank_upper_edge(us) and both.samples == 576 and not both.approximate
    assert both.avg == pytest.approx(sum(us) / 576) and both.max == pytest.approx(max(us))
    # a period cut inside both days reads the 5-minute rows of the cut days: exact
    lo, hi = DAY0 + 6 * 3600, DAY0 + 86400 + 18 * 3600
    part = rollups.percentile("p", "r1", "eth1", lo, hi)
    assert part.value == nearest_rank_upper_edge(us[72:288 + 216]) and part.samples == 288 - 72 + 216
    assert not part.approximate
    # whole days never need the 5-minute rows: prune them all, the figures stay
    assert rollups.prune(now=DAY0 + 100 * 86400) == 576
    assert rollups.rates("p", "r1", "eth1", DAY0, DAY0 + 2 * 86400) == []
    assert rollups.percentile("p", "r1", "eth1", DAY0, DAY0 + 2 * 86400) == both
    # a cut day without its 5-minute rows falls back to its whole day and says so
    approx = rollups.percentile("p", "r1", "eth1", lo, hi)
    assert approx.approximate and approx.value == both.value


def test_a_year_of_daily_rows_answers_from_daily_rows_only(rollups, monkeypatch):
    """365 daily rows (written directly: the year's report must not touch rate5m for whole days)."""
    us = utils(365 * 3, seed=11)
    db = rollups.db
    db.execute("INSERT INTO profile_tz VALUES ('p', 'UTC')")
    for d in range(365):
        day_us = us[3 * d:3 * d + 3]
        hist: dict[int, int] = {}
        for u in day_us:
            hist[math.floor(u * BINS)] = hist.get(math.floor(u * BINS), 0) + 1
        start = t("2023-01-01T00:00:00+00:00") + d * 86400
        db.execute("INSERT INTO daily VALUES ('p','r1','eth1',?,?,3,3,?,?,?,0,0,0,0,0,?)",
                   (int(start), f"d{d}", pack(hist), sum(day_us), max(day_us), SPEED))
    monkeypatch.setattr(rollups, "rates", lambda *a, **k: pytest.fail("read 5-minute rows for whole days"))
    p = sla.parse_period("2023", "UTC")
    got = rollups.percentile("p", "r1", "eth1", p.start, p.end)
    assert got.value == nearest_rank_upper_edge(us) and got.samples == 365 * 3 and got.days == 365


def test_counter_wrap_at_2_to_the_64(rollups):
    f = Feed(rollups, DAY0, in_o=2**64 - 10**10, out_o=2**64 - 10**9)
    f.run([0.5] * 6)  # 0.5 G in = 3.75 GB a minute: both counters wrap within the first buckets
    rates = rollups.rates("p", "r1", "eth1", DAY0, DAY0 + 3600)
    assert [round(r.in_bps) for r in rates] == [500_000_000] * 6
    assert [round(r.out_bps) for r in rates] == [250_000_000] * 6


def test_agent_reboot_counts_from_its_boot_and_snmpd_restart_keeps_counting(rollups):
    u = 0.2
    per_s = u * SPEED / 8
    f = Feed(rollups, DAY0)
    f.run([u] * 2)
    # the router reboots 40 s into the next minute: counters restart at zero, sysUpTime too
    boot = f.t + 40
    f.booted, f.t = boot, f.t + 60
    f.in_o, f.out_o = round(per_s * 20), round(per_s / 2 * 20)
    f.send()
    f.run([u] * 2)
    # then only snmpd restarts (sysUpTime resets, the kernel's counters go on): no reset, no gap
    f.booted = f.t + 30
    f.run([u] * 2)
    rates = rollups.rates("p", "r1", "eth1", DAY0, DAY0 + 3600)
    assert all(r.in_bps == pytest.approx(u * SPEED, rel=1e-9) for r in rates), [r.in_bps for r in rates]
    # the 40 s before the boot are unknown, not zero traffic; polls then run a minute past the boundaries
    assert [r.covered_s for r in rates] == pytest.approx([300, 300, 260, 300, 300, 300, 60])


def test_exporter_restart_loses_nothing(tmp_path):
    us = utils(288, seed=3)
    one = Rollups(tmp_path / "one.sqlite", tz="UTC")
    Feed(one, DAY0).run(us)
    path = tmp_path / "two.sqlite"
    a = Rollups(path, tz="UTC")
    f = Feed(a, DAY0)
    f.run(us[:100])
    a.close()  # the exporter stops; a new one opens the same file and polls on
    b = Rollups(path, tz="UTC")
    f.r = b
    f.run(us[100:])
    assert b.days("p", "r1", "eth1", DAY0, DAY0 + 86400) == one.days("p", "r1", "eth1", DAY0, DAY0 + 86400)
    assert len(b.rates("p", "r1", "eth1", DAY0, DAY0 + 86400)) == 288


def test_long_gaps_are_no_data_and_repeated_readings_change_nothing(rollups):
    f = Feed(rollups, DAY0)
    f.run([0.1] * 3)
    assert f.r.record("p", [poll(f.t, f.in_o, f.out_o, booted=f.booted)]) == 0  # the same reading again
    f.t += 2 * 3600  # the exporter was down 2 h (> max_gap 1 h): traffic in between is not spread
    f.in_o += 10**12
    f.send()
    f.run([0.3] * 3)
    rates = rollups.rates("p", "r1", "eth1", DAY0, DAY0 + 86400)
    assert [round(r.util, 6) for r in rates] == [0.1] * 3 + [0.3] * 3
    assert rollups.percentile("p", "r1", "eth1", DAY0, DAY0 + 86400).samples == 6
    f.in_o += 10**9
    f.t += 60
    f.send()  # a minute into a new bucket, then the interface is no longer polled
    assert rollups.percentile("p", "r1", "eth1", DAY0, DAY0 + 86400).samples == 6  # that bucket is open
    assert rollups.flush("p", now=f.t + 1800) == 0  # within max_gap a reading may still extend it
    assert rollups.flush("p", now=f.t + 7200) == 1
    assert rollups.percentile("p", "r1", "eth1", DAY0, DAY0 + 86400).samples == 7


def test_days_follow_the_profile_time_zone(tmp_path):
    r = Rollups(tmp_path / "r.sqlite", tz="Asia/Shanghai")
    Feed(r, t("2024-03-10T15:00:00+00:00")).run([0.1] * 24)  # 23:00 to 01:00 in Shanghai
    days = r.days("p", "r1", "eth1", t("2024-03-10T00:00:00+08:00"), t("2024-03-12T00:00:00+08:00"))
    assert [(d.day, d.samples) for d in days] == [("2024-03-10", 12), ("2024-03-11", 12)]
    assert days[1].day_start == t("2024-03-11T00:00:00+08:00")
    r.close()
    with pytest.raises(EgovError) as e:
        Rollups(tmp_path / "r.sqlite", tz="UTC").record("p", [poll(t("2024-03-12T00:00:00Z"), 0, 0, booted=0)])
    assert "days in Asia/Shanghai, not UTC" in str(e.value) and "\n" not in str(e.value)
    reader = Rollups(tmp_path / "r.sqlite")  # no zone given: the profile's own
    assert reader.tz_of("p") == "Asia/Shanghai" and len(reader.days("p", "r1", "eth1", 0, 2e9)) == 2


def test_bandwidth_support_from_rollups(rollups):
    n = net()
    # b: both uplinks measured at b's end, p95 60 % -> pass; d: one uplink at 90 % -> fail (measured at the
    # parent's end c1 only: the fallback); a: nothing -> no data
    Feed(rollups, DAY0, router="b", ifname="eth1").run([0.6] * 12)
    Feed(rollups, DAY0, router="b", ifname="eth2").run([0.2] * 12)
    Feed(rollups, DAY0, router="c1", ifname="eth3").run([0.9] * 12)
    Feed(rollups, DAY0, router="d", ifname="eth2").run([0.1] * 12)
    res = sla.bandwidth_support(n, ProfileRollups(rollups, "p"), DAY0, DAY0 + 86400, 0.8)
    by = res["by_site"]
    assert (by["b"]["status"], by["d"]["status"], by["a"]["status"]) == ("pass", "fail", "no_data")
    assert by["b"]["worst_p95"] == pytest.approx(0.61)  # upper edge of the 60 % bin
    d_up = {u["link"]: u for u in by["d"]["uplinks"]}
    assert d_up["c1~d"]["router"] == "c1" and d_up["c1~d"]["p95"] == pytest.approx(0.91)
    assert (res["pass"], res["fail"], res["no_data"], res["sites"]) == (1, 1, 1, 3)
    assert res["rate"] == pytest.approx(1 / 3)  # no data is not passing
    assert sla.bandwidth_support(n, ProfileRollups(rollups, "other"), DAY0, DAY0 + 86400, 0.8)["rate"] is None


def test_the_store_is_wal_and_one_transaction_per_record(rollups):
    assert rollups.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    f = Feed(rollups, DAY0)
    f.run([0.1])
    # a failure inside record() leaves the previous reading: nothing half-written
    before = rollups.db.execute("SELECT at FROM last_sample").fetchall()
    bad = poll(f.t + 60, 10**9, 10**9, booted=f.booted)
    bad.interfaces["eth1"].in_octets = "not a number"  # type: ignore[assignment]
    with pytest.raises((ValueError, TypeError, sqlite3.Error)):
        rollups.record("p", [poll(f.t + 30, f.in_o + 1, f.out_o + 1, booted=f.booted), bad])
    assert rollups.db.execute("SELECT at FROM last_sample").fetchall() == before


def test_threshold_tests_are_exact_at_whole_percent_bins(rollups):
    Feed(rollups, DAY0, router="x", ifname="under").run([0.7999] * 12)
    Feed(rollups, DAY0, router="x", ifname="at").run([0.8] * 12)
    under = rollups.percentile("p", "x", "under", DAY0, DAY0 + 86400)
    at = rollups.percentile("p", "x", "at", DAY0, DAY0 + 86400)
    assert under.value == pytest.approx(0.80) and under.under(0.8)  # every value in [79 %, 80 %)
    assert at.value == pytest.approx(0.81) and not at.under(0.8)     # 80 % is not under 80 %
    assert not under.under(0.795)  # a threshold inside the bin: conservative
    estimate = Percentile("x", "y", 0.95, 0.8, 1, None, None, 0, 0, False, 0.0)  # Prometheus: an estimate
    assert not estimate.under(0.8) and estimate.under(0.8001)

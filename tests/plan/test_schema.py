from __future__ import annotations

import pytest

from egov.errors import EgovError
from egov.plan.load import load_profile
from egov.plan.schema import format_bandwidth, parse_bandwidth


@pytest.mark.parametrize("text,bps", [("10G", 10**10), ("2G", 2 * 10**9), ("200M", 2 * 10**8),
                                      ("1.5G", 15 * 10**8), ("100Mbps", 10**8), (2_000_000_000, 2 * 10**9)])
def test_bandwidth_parsing(text, bps):
    assert parse_bandwidth(text) == bps
    assert parse_bandwidth(format_bandwidth(bps)) == bps


@pytest.mark.parametrize("bad", ["fast", "-1G", "10X", True, 0])
def test_bandwidth_rejects(bad):
    with pytest.raises(ValueError):
        parse_bandwidth(bad)


def test_shaanxi_profile_states_the_seed_numbers():
    prof = load_profile("shaanxi").profile
    t = prof.tiers
    assert (t["city"].bandwidth, t["county"].bandwidth, t["township"].bandwidth, t["department"].bandwidth) == (
        10**10, 2 * 10**9, 2 * 10**8, 2 * 10**9)
    assert t["province"].redundancy == "pair" and t["city"].redundancy == "pair"
    assert [c.id for c in prof.root.children["city"]] == ["xa", "tc", "bj", "xy", "wn", "ya", "yl", "hz", "ak",
                                                          "sl", "yll"]
    assert prof.targets[2025].platform_uptime == 0.99 and prof.targets[2025].fault_handling_3h == 0.99
    assert prof.targets[2023].platform_uptime == 0.95
    for pools in (prof.pools.loopback, prof.pools.p2p, prof.pools.mgmt):
        assert pools.ipv4 and pools.ipv6


def test_guangan_profile_tiers():
    prof = load_profile("guangan").profile
    assert prof.tiers["county"].bandwidth == 10**9 and prof.tiers["township"].bandwidth == 10**8
    assert len(prof.root.children["county"]) == 8  # 6 counties + 2 zones


def test_tier_keys_fold_into_children(tmp_path):
    p = tmp_path / "x.yaml"
    src = (load_profile("lab").path).read_text()
    p.write_text(src)
    prof = load_profile(str(p)).profile
    xa = prof.root.children["city"][0]
    assert xa.id == "xa" and [c.id for c in xa.children["county"]] == ["yt", "ca"]
    assert xa.children["county"][0].children["township"][0].id == "t001"


def test_profile_by_unknown_name_lists_known():
    with pytest.raises(EgovError) as exc:
        load_profile("nosuch")
    line = str(exc.value)
    assert "no profile named 'nosuch'" in line and "lab" in line and "shaanxi" in line

"""The expanded topology has the plan's exact counts; every router is dual-homed and dual-stack."""

from __future__ import annotations

import ipaddress
from collections import Counter

import pytest

from egov.topology.validate import build_plan


@pytest.fixture(scope="module")
def shaanxi():
    plan = build_plan("shaanxi")
    assert plan.problems == []
    return plan


def test_shaanxi_exact_counts(shaanxi):
    topo = shaanxi.topology
    per_tier = Counter(n.tier for n in topo.nodes.values())
    assert per_tier == {"province": 2, "city": 22, "county": 107, "township": 1768, "department": 45}
    counts = topo.counts()
    # pair links + full mesh of city pairs to the core pair; two uplinks per single router
    assert counts["province"]["links"] == 1
    assert counts["city"]["links"] == 11 * (4 + 1)
    assert counts["county"]["links"] == 107 * 2
    assert counts["township"]["links"] == 1768 * 2
    assert counts["department"]["links"] == 45 * 2
    assert len(topo.links) == 3896
    assert len({n.site for n in topo.nodes.values() if n.tier == "city"}) == 11


def test_committed_lock_is_current(shaanxi):
    """CI fails if someone edits a profile without committing its lock."""
    assert not shaanxi.allocation.changed


def test_every_router_dual_homed_and_dual_stack(shaanxi):
    topo = shaanxi.topology
    for node in topo.nodes.values():
        assert node.loopback4 and node.loopback6 and node.mgmt4 and node.mgmt6, node.hostname
        if node.tier != "province":
            ups = node.uplinks
            assert len(ups) >= 2, node.hostname
            parents = {i.peer for i in ups}
            parent_site_routers = {n for n in topo.nodes if topo.nodes[n].site == node.site.rsplit("/", 1)[0]}
            # to both routers of a parent pair when there is one
            assert parents == parent_site_routers, node.hostname
        for iface in node.interfaces:
            assert iface.ipv4 is not None and iface.ipv6 is not None, (node.hostname, iface.name)


def test_link_bandwidth_follows_tier(shaanxi):
    want = {"city": 10**10, "county": 2 * 10**9, "township": 2 * 10**8, "department": 2 * 10**9,
            "province": 10**10}
    for link in shaanxi.topology.links:
        assert link.bandwidth_bps == want[link.tier], link.key


def test_addresses_unique_and_inside_pools(shaanxi):
    prof = shaanxi.loaded.profile
    topo = shaanxi.topology
    seen = set()
    for n in topo.nodes.values():
        for a, pools in ((n.loopback4, prof.pools.loopback.ipv4), (n.loopback6, prof.pools.loopback.ipv6),
                         (n.mgmt4, prof.pools.mgmt.ipv4), (n.mgmt6, prof.pools.mgmt.ipv6)):
            assert any(a.ip in p for p in pools)
            assert a.ip not in seen
            seen.add(a.ip)
    nets = [link.ipv4 for link in topo.links] + [link.ipv6 for link in topo.links]
    assert len(set(nets)) == len(nets)
    for link in topo.links:
        assert link.ipv4.prefixlen == 31 and link.ipv6.prefixlen == 127
        a, b = topo.nodes[link.a], topo.nodes[link.b]
        ia = next(i for i in a.interfaces if i.link == link.key)
        ib = next(i for i in b.interfaces if i.link == link.key)
        assert ia.ipv4.network == ib.ipv4.network == link.ipv4 and ia.ipv4 != ib.ipv4
        assert ia.ipv6.network == ib.ipv6.network == link.ipv6 and ia.ipv6 != ib.ipv6
        assert ia.peer == b.hostname and ib.peer_name == ia.name


def test_isis_hierarchy(shaanxi):
    topo = shaanxi.topology
    xa_county = topo.nodes["sn-xa-x01"]
    assert xa_county.isis_level == "level-1" and xa_county.area == "49.0061.0001"
    assert {i.isis_circuit for i in xa_county.interfaces} == {"level-1"}
    core = topo.nodes["sn-a"]
    assert {i.isis_circuit for i in core.interfaces} == {"level-2-only"}
    assert core.net.startswith("49.0061.") and core.net.endswith(".00")
    assert len({n.net for n in topo.nodes.values()}) == len(topo.nodes)


def test_generated_township_totals_spread_earliest_first(shaanxi):
    towns = Counter(n.site.rsplit("/", 1)[0] for n in shaanxi.topology.nodes.values() if n.tier == "township")
    xa = sorted(v for k, v in towns.items() if k.startswith("sn/xa/"))
    assert sum(xa) == 214 and max(xa) - min(xa) <= 1


def test_lab_profile_is_small_and_complete():
    plan = build_plan("lab")
    assert plan.problems == [] and not plan.allocation.changed
    topo = plan.topology
    assert len(topo.nodes) == 15 and len(topo.links) == 29
    assert set(topo.tiers) == {n.tier for n in topo.nodes.values()}
    assert {n.platform for n in topo.nodes.values()} == {"frr"}
    for n in topo.nodes.values():
        assert all(len(i.name) <= 15 for i in n.interfaces)
        assert ipaddress.ip_address(n.mgmt4.ip) in ipaddress.ip_network("172.30.0.0/16")

"""Tenancy prefixes: allocated from the region's pools, locked, never moved by later edits."""

from __future__ import annotations

import ipaddress
import json

import pytest

from egov.cloud.config import load_stack
from egov.cloud.model import build_model
from egov.cloud.plan import load_model
from egov.errors import EgovError


def prefixes(model) -> dict[str, tuple[str, str]]:
    return {t.name: (str(t.ipv4), str(t.ipv6)) for t in model.tenancies.values()}


def test_first_plan_writes_the_lock_and_the_second_keeps_it(mini):
    model, note = load_model(str(mini.path), mini.catalogue)
    assert "updated" in note and mini.path.with_name("mini.lock.json").is_file()
    again, note2 = load_model(str(mini.path), mini.catalogue)
    assert note2 == "" and prefixes(again) == prefixes(model)
    for t in model.tenancies.values():
        region = model.region(t.region)
        assert any(t.ipv4.subnet_of(ipaddress.ip_network(str(p))) for p in region.pools.ipv4)
        assert t.ipv4.prefixlen == 24 and t.ipv6.prefixlen == 64


def test_reordering_and_adding_departments_moves_nothing(mini):
    before, _ = load_model(str(mini.path), mini.catalogue)
    depts = mini.config["egov:departments"]
    depts.reverse()
    depts.insert(0, {"id": "aaa", "region": "sn-prov"})
    mini.write()
    after, _ = load_model(str(mini.path), mini.catalogue)
    old = prefixes(before)
    new = prefixes(after)
    assert all(new[k] == v for k, v in old.items())
    assert new["sn-prov-aaa"] not in old.values()


def test_frozen_refuses_an_out_of_date_lock(mini):
    with pytest.raises(EgovError) as exc:
        load_model(str(mini.path), mini.catalogue, frozen=True)
    assert "mini.lock.json: out of date" in str(exc.value) and "run without --frozen" in str(exc.value)


def test_pinned_prefixes_win(mini):
    mini.dept("fgw")["ipv4"] = "10.62.30.0/24"
    mini.dept("fgw")["ipv6"] = "fd62:0:1:99::/64"
    mini.write()
    model, _ = load_model(str(mini.path), mini.catalogue)
    assert prefixes(model)["sn-prov-fgw"] == ("10.62.30.0/24", "fd62:0:1:99::/64")


def test_an_exhausted_pool_is_one_line(mini):
    mini.region("sn-prov")["pools"]["ipv4"] = ["10.62.16.0/24"]   # room for one tenancy, two are homed there
    mini.write()
    with pytest.raises(EgovError) as exc:
        build_model(load_stack(str(mini.path)), mini.catalogue, lock={"tenancies": {}})
    (line,) = [str(p) for p in exc.value.problems]
    assert "egov:regions[0].pools.ipv4: no free /24 left for 1 tenancy (first: sn-prov-fgw)" in line


def test_a_broken_lock_is_refused(mini):
    mini.path.with_name("mini.lock.json").write_text(json.dumps({"tenancies": {"x": {"ipv4": "nope"}}}))
    with pytest.raises(EgovError) as exc:
        load_model(str(mini.path), mini.catalogue)
    assert "tenancies.x: not an {ipv4, ipv6} prefix pair" in str(exc.value)

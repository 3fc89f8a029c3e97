"""The lock file keeps every allocated address and port when the plan changes around it."""

from __future__ import annotations

import json
import os

import pytest

from conftest import dump, egov, load
from egov.topology import addressing
from egov.topology.validate import build_plan


def _addresses(plan) -> dict[str, str]:
    out = {}
    for n in plan.topology.nodes.values():
        for k in ("loopback4", "loopback6", "mgmt4", "mgmt6"):
            out[f"{n.hostname}.{k}"] = str(getattr(n, k))
        for i in n.interfaces:
            out[f"{n.hostname}.{i.link}"] = f"{i.name} {i.ipv4} {i.ipv6}"
    return out


def _plan_and_lock(path):
    r = egov("plan", "show", "--profile", str(path))
    assert r.returncode == 0, r.stderr
    plan = build_plan(str(path))
    assert not plan.allocation.changed
    return plan


def _xa(data):
    return next(c for c in data["root"]["city"] if c["id"] == "xa")


def test_add_remove_reorder_townships_moves_nothing(lab_yaml):
    lab_yaml.with_name("lab.lock.json").unlink()  # start from a fresh allocation
    before = _addresses(_plan_and_lock(lab_yaml))

    data = load(lab_yaml)
    yt = _xa(data)["county"][0]
    yt["township"].insert(0, {"id": "t002", "name": "New township"})  # added in front
    dump(lab_yaml, data)
    added = _addresses(_plan_and_lock(lab_yaml))
    assert {k: v for k, v in added.items() if k in before} == before
    assert any(k.startswith("sn-xa-yt-t002.") for k in added)

    data = load(lab_yaml)
    data["root"]["city"].reverse()                     # reorder cities
    _xa(data)["county"].reverse()                      # and counties
    yt = next(c for c in _xa(data)["county"] if c["id"] == "yt")
    yt["township"] = [t for t in yt["township"] if t["id"] != "t001"]  # remove the original Yanta township
    dump(lab_yaml, data)
    after = _addresses(_plan_and_lock(lab_yaml))
    removed = {k for k in before if k.startswith("sn-xa-yt-t001.") or "~sn-xa-yt-t001" in k}
    assert removed and not (removed & after.keys())
    assert {k: v for k, v in after.items() if k in before} == {k: v for k, v in before.items() if k not in removed}
    lock = json.loads(lab_yaml.with_name("lab.lock.json").read_text())
    assert "sn-xa-yt-t001" not in lock["nodes"]  # released


def test_reorder_without_lock_would_renumber(lab_yaml):
    """Control: the lock is what keeps addresses; without it, order decides."""
    lab_yaml.with_name("lab.lock.json").unlink()
    first = _addresses(build_plan(str(lab_yaml)))
    data = load(lab_yaml)
    data["root"]["city"].reverse()
    dump(lab_yaml, data)
    assert _addresses(build_plan(str(lab_yaml))) != first


def test_frozen_refuses_a_stale_lock(lab_yaml):
    data = load(lab_yaml)
    _xa(data)["county"][0]["township"].append({"id": "t009"})
    dump(lab_yaml, data)
    before = lab_yaml.with_name("lab.lock.json").read_bytes()
    r = egov("plan", "show", "--profile", str(lab_yaml), "--frozen")
    assert r.returncode == 1 and "lab.lock.json: out of date" in r.stderr and "fix:" in r.stderr
    assert lab_yaml.with_name("lab.lock.json").read_bytes() == before


def test_lock_write_is_atomic(lab_yaml, monkeypatch):
    lock = lab_yaml.with_name("lab.lock.json")
    before = lock.read_bytes()
    plan = build_plan(str(lab_yaml))

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        addressing.write_lock(lock, plan.allocation.lock | {"profile": "changed"})
    assert lock.read_bytes() == before
    assert [p.name for p in lock.parent.iterdir() if p.name.startswith(".lab.lock.json")] == []


def test_corrupt_lock_is_one_line(lab_yaml):
    lab_yaml.with_name("lab.lock.json").write_text("{not json")
    r = egov("plan", "validate", "--profile", str(lab_yaml))
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[0].endswith(
        "lab.lock.json: malformed lock file (JSONDecodeError); fix: restore it from git "
        "(deleting it renumbers every router)")
    assert "Traceback" not in r.stderr


def test_locked_address_outside_pool_is_reported(lab_yaml):
    data = load(lab_yaml)
    data["pools"]["loopback"]["ipv4"] = ["10.254.0.0/24"]
    dump(lab_yaml, data)
    r = egov("plan", "validate", "--profile", str(lab_yaml))
    assert r.returncode == 1
    assert "sn-a.loopback4: 10.255.0.1/32 is outside pools.loopback.ipv4" in r.stderr

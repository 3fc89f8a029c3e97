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


@pytest.mark.parametrize("edit,fragment", [
    (lambda lock: lock["nodes"]["sn-a"].update(ports={"sn-a~sn-b": "1"}),
     "nodes.sn-a.ports.sn-a~sn-b: Input should be a valid integer"),
    (lambda lock: lock["nodes"]["sn-b"].update(loopback4=17),
     "nodes.sn-b.loopback4: Input should be a valid string"),
    (lambda lock: lock["links"].update({"sn-a~sn-b": ["10.0.0.0/31"]}),
     "links.sn-a~sn-b: Input should be a valid dictionary or instance of LinkLock"),
    (lambda lock: lock["nodes"]["sn-a"].update(colour="red"), "nodes.sn-a.colour: unknown field"),
    (lambda lock: lock.update(nodes=[]), "nodes: Input should be a valid dictionary"),
])
def test_lock_entries_of_the_wrong_type_are_one_line_each(lab_yaml, edit, fragment):
    path = lab_yaml.with_name("lab.lock.json")
    lock = json.loads(path.read_text())
    edit(lock)
    text = addressing.dump_lock(lock) if isinstance(lock["nodes"], dict) else json.dumps(lock)
    path.write_text(text)
    r = egov("plan", "validate", "--profile", str(lab_yaml))
    assert r.returncode == 1 and "Traceback" not in r.stderr and "internal error" not in r.stderr
    (line,) = [x for x in r.stderr.splitlines() if fragment in x]
    assert "lab.lock.json" in line and "fix: restore the lock from git" in line
    key = fragment.split(".")[1].split(":")[0] if "." in fragment.split(":")[0] else None
    if key:  # the line number points at the entry
        number = int(line.split("lab.lock.json:")[1].split(":")[0])
        assert f'"{key}"' in text.splitlines()[number - 1]


def test_shrunk_pool_refuses_network_and_broadcast_addresses(lab_yaml):
    data = load(lab_yaml)
    data["pools"]["mgmt"]["ipv4"] = ["172.30.0.0/28"]
    data["pools"]["mgmt"]["reserved"] = ["fd00:30::ffff"]
    dump(lab_yaml, data)
    r = egov("plan", "validate", "--profile", str(lab_yaml))
    assert r.returncode == 1
    lock = json.loads(lab_yaml.with_name("lab.lock.json").read_text())
    owner = next(h for h, rec in lock["nodes"].items() if rec["mgmt4"].startswith("172.30.0.15/"))
    assert (f"nodes.{owner}.mgmt4: 172.30.0.15/16 is the broadcast address of 172.30.0.0/28 (pools.mgmt.ipv4); "
            "fix: delete the entry to renumber it") in r.stderr
    assert r.stderr.count("mgmt4:") == 1  # the other 14 addresses still fit the /28


def test_network_address_in_lock_is_refused(lab_yaml):
    path = lab_yaml.with_name("lab.lock.json")
    lock = json.loads(path.read_text())
    lock["nodes"]["sn-a"]["loopback4"] = "10.255.0.0/32"
    path.write_text(addressing.dump_lock(lock))
    r = egov("plan", "validate", "--profile", str(lab_yaml))
    assert "nodes.sn-a.loopback4: 10.255.0.0/32 is the network address of 10.255.0.0/24" in r.stderr


def _remove_yanta_township(data):
    yt = next(c for c in _xa(data)["county"] if c["id"] == "yt")
    yt["township"] = [{"id": "t002", "name": "Replacement"}]


def test_released_addresses_are_quarantined_not_reused(lab_yaml):
    before = json.loads(lab_yaml.with_name("lab.lock.json").read_text())
    old = before["nodes"]["sn-xa-yt-t001"]
    old_links = {k: v for k, v in before["links"].items() if "sn-xa-yt-t001" in k}
    data = load(lab_yaml)
    _remove_yanta_township(data)  # one router leaves and another arrives in the same change
    dump(lab_yaml, data)
    r = egov("plan", "show", "--profile", str(lab_yaml))
    assert r.returncode == 0, r.stderr
    assert "addresses quarantined" in r.stderr
    lock = json.loads(lab_yaml.with_name("lab.lock.json").read_text())
    new = lock["nodes"]["sn-xa-yt-t002"]
    for kind in ("loopback4", "loopback6", "mgmt4", "mgmt6"):
        assert new[kind] != old[kind]
        assert lock["quarantine"][old[kind]]["owner"] == "sn-xa-yt-t001"
    new_links = {v["ipv4"] for k, v in lock["links"].items() if "sn-xa-yt-t002" in k}
    assert not new_links & {v["ipv4"] for v in old_links.values()}
    for rec in old_links.values():
        assert lock["quarantine"][rec["ipv4"]]["pool"] == "p2p4"
    # the quarantine is stable: planning again changes nothing
    assert not build_plan(str(lab_yaml)).allocation.changed


def test_quarantine_expires_and_release_frees_early(lab_yaml):
    import datetime as dt

    data = load(lab_yaml)
    _remove_yanta_township(data)
    dump(lab_yaml, data)
    assert egov("plan", "show", "--profile", str(lab_yaml)).returncode == 0
    lock = addressing.read_lock(lab_yaml.with_name("lab.lock.json"))
    held = set(lock["quarantine"])
    assert held
    # a further router added 31 days later may take them again (the default quarantine is 30 days)
    data = load(lab_yaml)
    _xa(data)["county"][1]["township"].append({"id": "t003"})
    dump(lab_yaml, data)
    plan = build_plan(str(lab_yaml))
    later = dt.date.fromisoformat(next(iter(lock["quarantine"].values()))["since"]) + dt.timedelta(days=31)
    from egov.topology.expand import expand

    topo, _ = expand(plan.loaded)
    alloc = addressing.allocate(plan.loaded, topo, lock, today=later)
    assert alloc.lock["quarantine"] == {}
    assert str(topo.nodes["sn-xa-ca-t003"].loopback4) in held
    # today, they stay held; `egov plan release` frees them at once
    assert str(build_plan(str(lab_yaml)).topology.nodes["sn-xa-ca-t003"].loopback4) not in held
    some = sorted(held)[0]
    r = egov("plan", "release", "--profile", str(lab_yaml), some.split("/")[0])
    assert r.returncode == 0 and f"released 1 address(es): {some}" in r.stdout
    assert some not in addressing.read_lock(lab_yaml.with_name("lab.lock.json"))["quarantine"]
    r = egov("plan", "release", "--profile", str(lab_yaml), "--all")
    assert r.returncode == 0
    assert addressing.read_lock(lab_yaml.with_name("lab.lock.json"))["quarantine"] == {}
    r = egov("plan", "release", "--profile", str(lab_yaml), "10.9.9.9")
    assert r.returncode == 1 and "no quarantined address matches 10.9.9.9; fix:" in r.stderr

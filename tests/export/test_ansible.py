"""The exported inventory is real Ansible inventory: ansible-inventory parses it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import egov

ANSIBLE_INVENTORY = Path(sys.executable).with_name("ansible-inventory")


def _list(tmp_path: Path, profile: str) -> dict:
    inv = tmp_path / f"{profile}.yml"
    r = egov("inventory", "export", "--profile", profile, "--out", str(inv), "--frozen")
    assert r.returncode == 0, r.stderr
    exe = str(ANSIBLE_INVENTORY) if ANSIBLE_INVENTORY.exists() else shutil.which("ansible-inventory")
    res = subprocess.run([exe, "-i", str(inv), "--list"], capture_output=True, text=True, timeout=120,
                         env={"PATH": f"{ANSIBLE_INVENTORY.parent}:/usr/bin:/bin", "HOME": str(tmp_path),
                              "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp")})
    assert res.returncode == 0, res.stderr
    assert "WARNING" not in res.stderr, res.stderr
    return json.loads(res.stdout)


def test_lab_inventory_parses(tmp_path):
    data = _list(tmp_path, "lab")
    hv = data["_meta"]["hostvars"]
    assert len(hv) == 15
    assert sorted(data["tier_province"]["hosts"]) == ["sn-a", "sn-b"]
    assert sorted(data["city_xa"]["hosts"]) == ["sn-xa-a", "sn-xa-b", "sn-xa-ca", "sn-xa-ca-t001", "sn-xa-yt",
                                                "sn-xa-yt-t001"]
    assert len(data["tier_township"]["hosts"]) == 4
    a = hv["sn-a"]
    assert a["ansible_host"] == "172.30.0.1" and a["egov_platform"] == "frr"
    assert a["napalm_driver"] == "frr" and a["netmiko_device_type"] == "cisco_ios"
    assert a["loopback_ipv6"] == "fd00:255::1"
    assert hv["sn-a"]["egov_profile"] == "lab"


def test_shaanxi_inventory_groups(tmp_path):
    data = _list(tmp_path, "shaanxi")
    hv = data["_meta"]["hostvars"]
    assert len(hv) == 1944
    assert len(data["tier_township"]["hosts"]) == 1768
    cities = [g for g in data if g.startswith("city_")]
    assert len(cities) == 11
    vendors = {h["egov_platform"]: (h["napalm_driver"], h["netmiko_device_type"]) for h in hv.values()}
    assert vendors["huawei_vrp"] == ("huawei_vrp8", "huawei_vrpv8")
    assert vendors["h3c_comware"][1] == "hp_comware"
    assert vendors["cisco_iosxe"] == ("ios", "cisco_xe") and vendors["juniper_junos"] == ("junos", "juniper_junos")
    assert len({h["ansible_host"] for h in hv.values()}) == 1944

"""Golden files for the vendor platforms: the lab plan rendered as if every router ran that OS.

Regenerate after an intended template change with ``EGOV_UPDATE_GOLDEN=1 pytest tests/render``
and review the diff like any other change. Beyond byte equality, each config is checked for the
plan's facts (addresses, hostname, SNMPv3 only, SSH only), so a golden file cannot silently
enshrine a broken config.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import INVENTORY, dump, load
from egov.render.engine import Renderer
from egov.render.secrets import placeholders
from egov.topology.validate import build_plan

GOLDEN = Path(__file__).parent / "golden"
VENDORS = ["huawei_vrp", "h3c_comware", "cisco_iosxe", "juniper_junos"]
HOSTS = ["sn-a", "sn-xa-b", "sn-xa-yt", "sn-xa-yt-t001", "sn-dfgw"]


def _plan_as(platform: str, tmp_path: Path):
    data = load(INVENTORY / "lab.yaml")
    for tier in data["tiers"].values():
        tier["platform"] = platform
    data["pools"]["mgmt"]["vrf"] = "MGMT"  # vendor platforms keep management in a VRF
    data["pools"]["mgmt"]["gateway4"] = "172.30.255.254"
    data["pools"]["mgmt"]["gateway6"] = "fd00:30::ffff"
    data["services"]["snmp"]["trap_targets"] = ["172.30.255.254"]
    data["services"]["ntp"] = ["172.30.255.254", "fd00:30::ffff"]
    p = tmp_path / "lab.yaml"
    dump(p, data)
    shutil.copy(INVENTORY / "lab.lock.json", tmp_path / "lab.lock.json")
    plan = build_plan(str(p))
    assert plan.problems == []
    return plan


@pytest.mark.parametrize("platform", VENDORS)
def test_golden(platform, tmp_path):
    plan = _plan_as(platform, tmp_path)
    r = Renderer(plan, placeholders())
    update = os.environ.get("EGOV_UPDATE_GOLDEN") == "1"
    for host in HOSTS:
        text = r.render_node(plan.topology.nodes[host])[f"{host}.cfg"]
        gold = GOLDEN / platform / f"{host}.cfg"
        if update:
            gold.parent.mkdir(parents=True, exist_ok=True)
            gold.write_text(text)
        assert gold.exists(), f"missing {gold}; run with EGOV_UPDATE_GOLDEN=1"
        assert text == gold.read_text(), f"{platform}/{host} differs from its golden file"


@pytest.mark.parametrize("platform", VENDORS)
def test_vendor_configs_carry_the_plan(platform, tmp_path):
    plan = _plan_as(platform, tmp_path)
    r = Renderer(plan, placeholders())
    for node in plan.topology.nodes.values():
        text = r.render_node(node)[f"{node.hostname}.cfg"]
        assert node.hostname in text
        assert "{'" not in text and "None" not in text, "a template printed a raw value"
        assert not re.search(r"[ \t]+$", text, re.M), "trailing whitespace"
        assert str(node.loopback4.ip) in text and str(node.loopback6.ip) in text
        for i in node.interfaces:
            assert i.name in text
            assert str(i.ipv4.ip) in text and str(i.ipv6.ip) in text, (node.hostname, i.name)
            assert i.description in text
        low = text.lower()
        assert "egov-nms" in text and "EGOV-PLACEHOLDER-snmp_priv_key" in text
        assert "community" not in low, "SNMP v1/v2c community configured"
        assert "telnet" not in low or re.search(r"(no|undo) telnet|telnet server disable|transport input ssh",
                                                 low), "telnet left enabled"


@pytest.mark.parametrize("platform", VENDORS + ["frr"])
def test_no_raw_values_in_any_file(platform, tmp_path):
    """Templates print addresses through an attribute; a whole value would show as a dict."""
    plan = _plan_as(platform, tmp_path)
    r = Renderer(plan, placeholders())
    for node in plan.topology.nodes.values():
        for name, text in r.render_node(node).items():
            assert "{'" not in text and "None" not in text, f"{name} printed a raw value"
            if platform == "frr" and name.endswith("snmpd.conf"):
                assert "udp:172.30.255.254:162" in text  # the trap target, printed as an address

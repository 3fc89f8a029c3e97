"""Getter parsers on real recorded VRP and Comware outputs (tests/fixtures/vrp_comware/README.md)."""

from __future__ import annotations

from pathlib import Path

from napalm_h3c_comware7 import parse as cw
from napalm_huawei_vrp8 import parse as vrp

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "vrp_comware"


def _raw(name: str) -> str:
    return (FIX / name).read_text()


def test_vrp_version():
    v = vrp.version(_raw("vrp_display_version.raw"))
    assert v["vrp_version"] == "8.100" and v["model"] == "CX600-M2E"


def test_vrp_interface_brief():
    rows = vrp.interface_brief(_raw("vrp_display_interface_brief.raw"))
    names = [r["interface"].strip() for r in rows]
    assert "Eth-Trunk2" in names and len(rows) > 10


def test_vrp8_isis_peer_and_wrapped_system_ids():
    peers = vrp.isis_peers(_raw("vrp8_display_isis_peer.raw"))
    assert [(p["system_id"], p["interface"], p["state"]) for p in peers] == [
        ("MA-JK4961-01H", "Eth-Trunk2", "Up"), ("PAG-JK1401-01H", "Eth-Trunk0", "Up")]
    wrapped = vrp.isis_peers(_raw("vrp_display_isis_peer_wrapped.raw"))
    assert wrapped[0]["system_id"] == "RR-BD3515597G9-01H" and wrapped[0]["interface"] == "GE0/2/0"


def test_vrp_ip_interface_brief():
    rows = vrp.ip_interface_brief(_raw("vrp_display_ip_interface_brief.raw"))
    by = {r["interface"]: r for r in rows}
    assert by["GigabitEthernet4/0/0"]["ip"] == "43.123.125.2/30"
    assert by["GigabitEthernet0/0/0"]["physical"] == "*down"
    assert by["LoopBack0"]["protocol"] == "up(s)"


def test_comware_interface_brief_version_and_ip_brief():
    rows = cw.interface_brief(_raw("comware_display_interface_brief.raw"))
    assert any(r["interface"] == "GE0/0/1" and r["link"] == "UP" for r in rows)
    v = cw.version(_raw("comware_display_version.raw"))
    assert v == {"version": "7.1.064", "release": "0821P18", "model": "MSR3600",
                 "uptime": "3 weeks, 5 days, 17 hours, 57 minutes"}
    ips = cw.ip_interface_brief(_raw("comware_display_ip_interface_brief.raw"))
    assert {"interface": "Loop0", "ip": "11.50.159.248"}.items() <= ips[0].items()


def test_simulator_output_parses_with_the_same_parsers():
    """The simulator's tables go through the same TextFSM templates as the real captures."""
    from egov.sim import outputs
    from egov.sim.vrp8 import Vrp8Device, Vrp8Session

    dev = Vrp8Device("r1")
    s = Vrp8Session(dev)
    s.handle("system-view")
    for ln in ("interface GigabitEthernet0/1/1", "ip address 10.0.0.1 31", "interface LoopBack0",
               "ip address 10.1.1.1 32", "commit"):
        s.handle(ln)
    assert {r["interface"].strip() for r in vrp.interface_brief(outputs.vrp_if_brief(dev))} == {
        "GigabitEthernet0/1/1", "LoopBack0"}
    assert vrp.ip_interface_brief(outputs.vrp_ip_brief(dev))[0]["ip"] == "10.0.0.1/31"
    assert vrp.version(s.handle("display version"))["vrp_version"] == "8.180"

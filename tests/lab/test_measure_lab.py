"""What the lab gives measurement (issue 8): SNMPv3 link traps, ISIS-MIB over AgentX, a hosted service to probe.

Everything is checked from the host, the way the exporter sees the lab: traps on the host's trap port,
SNMP and probes through the forwarder's 127.0.0.1 ports, faults through `egov lab fault`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import egov
from egov.topology.validate import build_plan

from .labkit import UP_OUTPUT, lab_up, status_json, wait_ok  # noqa: F401

pytestmark = pytest.mark.slow
pysnmp = pytest.importorskip("pysnmp", reason="pysnmp decodes the traps (pip install pysnmp)")

LINK_DOWN = "1.3.6.1.6.3.1.1.5.3"
LINK_UP = "1.3.6.1.6.3.1.1.5.4"
IF_INDEX = "1.3.6.1.2.1.2.2.1.1."
ADJ_STATE = "1.3.6.1.2.1.138.1.6.1.1.2"  # isisISAdjState: down(1) initializing(2) up(3) failed(4)
CIRC_IFINDEX = "1.3.6.1.2.1.138.1.3.2.1.2"  # isisCircIfIndex
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
ENGINE_BOOTS = "1.3.6.1.6.3.10.2.1.2.0"
IFTABLE_CACHE = "1.3.6.1.4.1.8072.1.5.3.1.2.1.3.6.1.2.1.2.2"  # NET-SNMP-AGENT-MIB::nsCacheTimeout of ifTable


@pytest.fixture(scope="module")
def plan():
    return build_plan("lab")


def engine_id(host: str) -> bytes:
    """What `engineID <host>` makes net-snmp use: enterprise 8072, format 4 (text), the name."""
    return bytes.fromhex("80001f8804") + host.encode()


@dataclass
class Trap:
    arrived: float
    engine_id: bytes
    boots: int
    oid: str | None = None  # snmpTrapOID.0, when the PDU could be decrypted
    if_index: int | None = None


def decode(datagram: bytes, arrived: float, priv_key: str | None = None) -> Trap:
    """The v3 header needs no keys; with the privacy key the PDU is decrypted too (AES-128-CFB, RFC 3826)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    try:  # cryptography >= 47 keeps CFB (SNMP's AES mode, RFC 3826) among its "decrepit" ciphers
        from cryptography.hazmat.decrepit.ciphers.modes import CFB
    except ImportError:
        from cryptography.hazmat.primitives.ciphers.modes import CFB
    from pyasn1.codec.ber import decoder
    from pyasn1.type import univ
    from pysnmp.proto.api import v2c
    from pysnmp.proto.mpmod.rfc3412 import ScopedPDU, SNMPv3Message
    from pysnmp.proto.secmod.rfc3414 import localkey
    from pysnmp.proto.secmod.rfc3414.service import UsmSecurityParameters

    msg, _ = decoder.decode(datagram, asn1Spec=SNMPv3Message())
    usm, _ = decoder.decode(bytes(msg["msgSecurityParameters"]), asn1Spec=UsmSecurityParameters())
    eid = bytes(usm["msgAuthoritativeEngineId"])
    trap = Trap(arrived, eid, int(usm["msgAuthoritativeEngineBoots"]))
    if priv_key is None:
        return trap
    key = localkey.password_to_key(priv_key, univ.OctetString(eid), hashlib.sha256).asOctets()[:16]
    iv = (trap.boots.to_bytes(4, "big") + int(usm["msgAuthoritativeEngineTime"]).to_bytes(4, "big")
          + bytes(usm["msgPrivacyParameters"]))
    plain = Cipher(algorithms.AES(key), CFB(iv)).decryptor().update(bytes(msg["msgData"]["encryptedPDU"]))
    scoped, _ = decoder.decode(plain, asn1Spec=ScopedPDU())
    for oid, val in v2c.apiPDU.get_varbinds(scoped["data"].getComponent()):
        if str(oid) == "1.3.6.1.6.3.1.1.4.1.0":
            trap.oid = str(val)
        elif str(oid).startswith(IF_INDEX):
            trap.if_index = int(val)
    return trap


class TrapSink:
    """The host's trap port, as the exporter's trap listener binds it."""

    def __init__(self, port: int, priv_key: str):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.priv_key = priv_key

    def drain(self) -> None:
        self.sock.settimeout(0.3)
        try:
            while True:
                self.sock.recv(65535)
        except TimeoutError:
            pass

    def collect(self, until: float) -> list[Trap]:
        got = []
        while (left := until - time.time()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                break
            got.append(decode(data, time.time(), self.priv_key))
        return got

    def close(self) -> None:
        self.sock.close()


def fault_time(state) -> float:
    """When the last fault happened, from the lab's fault log (what measurement is checked against)."""
    last = json.loads(Path(state.fault_log).read_text().splitlines()[-1])
    return dt.datetime.fromisoformat(last["ts"]).timestamp()


def snmp(state, host: str, oid: str, walk: bool = True) -> dict[str, str]:
    """SNMPv3 authPriv through the forwarder's port for ``host``, with the lab's secrets: {index: value}."""
    s = json.loads(Path(state.secrets_file).read_text())
    cmd = ["snmpbulkwalk" if walk else "snmpget", "-v3", "-l", "authPriv", "-u", s["snmp_user"], "-a", "SHA-256",
           "-A", s["snmp_auth_key"], "-x", "AES", "-X", s["snmp_priv_key"], "-On", "-Oq", "-t", "2", "-r", "1",
           f"udp:127.0.0.1:{state.routers[host].snmp_port}", oid]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                       env={"MIBS": "", "SNMP_PERSISTENT_DIR": "/tmp/egov-snmp-client", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, f"{host} {oid}: {r.stderr}"
    out = {}
    for line in r.stdout.splitlines():
        m = re.match(rf"^\.?{re.escape(oid)}\.?(\S*) (.*)$", line)
        if m and "No Such" not in m.group(2):
            out[m.group(1)] = m.group(2).strip('"')
    return out


def adjacencies(state, host: str) -> dict[str, int]:
    """ISIS-MIB, as the exporter reads it: interface name -> isisISAdjState of its adjacency."""
    names = snmp(state, host, IF_NAME)
    circuits = {idx: names.get(ifindex, f"ifIndex {ifindex}") for idx, ifindex in snmp(state, host, CIRC_IFINDEX).items()}
    return {circuits[idx.split(".")[0]]: int(v) for idx, v in snmp(state, host, ADJ_STATE).items()}


def http_probe(port: int, path: str, timeout: float = 3.0) -> int | None:
    """HTTP status through the probe port, or None when nothing answered."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.0\r\nHost: portal\r\n\r\n".encode())
            first = s.makefile("rb").readline(256).split()
    except OSError:
        return None
    return int(first[1]) if len(first) >= 2 and first[0].startswith(b"HTTP/") else None


def wait_for(check, timeout: float, step: float = 0.25):
    """Poll ``check`` until it returns something true; (value, seconds it took) or (last value, None)."""
    t0 = time.monotonic()
    while True:
        value = check()
        if value:
            return value, time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            return value, None
        time.sleep(step)


def test_up_and_status_name_trap_port_and_service(lab_up, plan):
    wait_ok()
    assert lab_up.trap_port == 10162
    out = UP_OUTPUT["stdout"]
    assert "relayed to 127.0.0.1:10162" in out and "udp/162" in out, out
    assert re.search(r"^service portal: 10\.0\.0\.\d+:8080 behind sn-a; probe 127\.0\.0\.1:\d+ from \S+$", out, re.M)
    rc, doc = status_json()
    assert rc == 0 and doc["ok"] and doc["trap_port"] == 10162, doc
    (portal,) = doc["services"]
    lan = next(v for v in plan.topology.services if v.service == "portal")
    sv = lab_up.services["portal"]
    assert (portal["name"], portal["router"], portal["address4"], portal["address6"], portal["port"]) == \
        ("portal", "sn-a", lan.address4, lan.address6, 8080)
    assert portal["up"] and portal["reachable"] and portal["probe_port"] == sv.probe_port
    # the vantage is far away: a township of a city, so probes cross the city and province core
    assert plan.topology.nodes[sv.vantage].tier == "township" and sv.vantage == portal["vantage"]
    assert sv.ns == "svc-portal" and sv.pid and Path(f"/run/netns/{sv.ns}").exists()


def test_link_traps_reach_the_host_within_two_seconds(lab_up, plan):
    """linkDown from both ends of a carrier loss, linkUp when it returns, each from the router's own engineID."""
    a, b = "sn-dfgw", "sn-a"
    priv = json.loads(Path(lab_up.secrets_file).read_text())["snmp_priv_key"]
    link = next(lk for lk in lab_up.links if {lk.a, lk.b} == {a, b})
    ends = {link.a: link.a_if, link.b: link.b_if}
    ifindex = {h: {v: int(k) for k, v in snmp(lab_up, h, IF_NAME).items()}[ifname] for h, ifname in ends.items()}
    sink = TrapSink(lab_up.trap_port, priv)
    try:
        sink.drain()
        for action, want in (("down", LINK_DOWN), ("up", LINK_UP)):
            assert egov("lab", "fault", "link", a, b, action).returncode == 0
            at = fault_time(lab_up)
            traps = [t for t in sink.collect(at + 2.5) if t.oid == want]
            for host in (a, b):
                mine = [t for t in traps if t.engine_id == engine_id(host) and t.if_index == ifindex[host]]
                assert mine, f"no {action} trap from {host} ({engine_id(host).hex()}) within 2 s: {traps}"
                delay = mine[0].arrived - at
                print(f"{action}: {host} {ends[host]} trap {delay * 1000:.0f} ms after the fault")
                assert delay < 2.0
    finally:
        sink.close()
        egov("lab", "fault", "link", a, b, "up")
    assert wait_ok()["ok"]


def test_engine_boots_count_restarts(lab_up):
    """snmpd keeps its persistent file: a node restart is a new engineBoots, as on a device; and the
    restarted agent gets the lab's 1 s ifTable cache again (what keeps link traps within a second)."""
    before = int(snmp(lab_up, "sn-dfgw", ENGINE_BOOTS, walk=False)[""])
    assert egov("lab", "fault", "node", "sn-dfgw", "down").returncode == 0
    assert egov("lab", "fault", "node", "sn-dfgw", "up").returncode == 0
    assert int(snmp(lab_up, "sn-dfgw", ENGINE_BOOTS, walk=False)[""]) == before + 1
    assert snmp(lab_up, "sn-dfgw", IFTABLE_CACHE, walk=False)[""] == "1"
    assert wait_ok()["ok"]


def test_isis_mib_has_an_up_adjacency_on_every_planned_interface(lab_up, plan):
    wait_ok()
    for node in plan.topology.nodes.values():
        adj = adjacencies(lab_up, node.hostname)
        for i in node.interfaces:
            assert adj.get(i.name) == 3, f"{node.hostname} {i.name}: isisISAdjState {adj.get(i.name)} ({adj})"


def test_isis_mib_adjacency_follows_a_silent_cut(lab_up, plan):
    """A cut keeps the carrier (no trap): ISIS-MIB is how the NMS sees it; BFD takes the adjacency down."""
    host, peer = "sn-xa-yt", "sn-xa-a"
    ifname = next(i.name for i in plan.topology.nodes[host].interfaces if i.peer == peer)
    assert egov("lab", "fault", "link", host, peer, "cut").returncode == 0
    try:
        _, took = wait_for(lambda: adjacencies(lab_up, host).get(ifname) != 3, timeout=5)
        assert took is not None, f"{host} {ifname}: adjacency still up in ISIS-MIB 5 s after the cut"
        print(f"cut: ISIS-MIB shows {host} {ifname} not up after {took:.1f} s")
        others = adjacencies(lab_up, host)
        assert all(others.get(i.name) == 3 for i in plan.topology.nodes[host].interfaces if i.name != ifname)
    finally:
        assert egov("lab", "fault", "link", host, peer, "heal").returncode == 0
    _, took = wait_for(lambda: adjacencies(lab_up, host).get(ifname) == 3, timeout=40, step=1)
    assert took is not None, f"{host} {ifname}: adjacency not back up in ISIS-MIB after heal"
    assert wait_ok()["ok"]


def test_service_probe_over_the_backbone(lab_up):
    sv = lab_up.services["portal"]
    assert http_probe(sv.probe_port, sv.path) == 200
    assert http_probe(sv.probe_port, "/nothing-here") == 404  # a real server answers, not the relay

    # the service host fails, the backbone is fine
    assert egov("lab", "fault", "service", "portal", "down").returncode == 0
    assert http_probe(sv.probe_port, sv.path) is None
    rc, doc = status_json()
    assert rc == 1 and not doc["services"][0]["up"] and not doc["services"][0]["reachable"]
    assert egov("lab", "fault", "service", "portal", "up").returncode == 0
    assert http_probe(sv.probe_port, sv.path) == 200
    log = [json.loads(x) for x in Path(lab_up.fault_log).read_text().splitlines()]
    assert [(e["kind"], e["action"], e["service"], e["router"]) for e in log[-2:]] == \
        [("service", "down", "portal", "sn-a"), ("service", "up", "portal", "sn-a")]

    # the service's router fails: the service runs, but the backbone no longer reaches it
    assert egov("lab", "fault", "node", "sn-a", "down").returncode == 0
    try:
        _, took = wait_for(lambda: http_probe(sv.probe_port, sv.path, timeout=2) is None, timeout=10)
        assert took is not None, "the portal still answered with its router down"
        print(f"node sn-a down: portal unreachable after {took:.1f} s")
    finally:
        assert egov("lab", "fault", "node", "sn-a", "up").returncode == 0
    _, took = wait_for(lambda: http_probe(sv.probe_port, sv.path, timeout=2) == 200, timeout=60, step=1)
    assert took is not None, "the portal did not come back after its router did"
    print(f"node sn-a up: portal answers again after {took:.1f} s")
    assert wait_ok()["ok"]


def test_bad_service_fault_arguments_are_one_line(lab_up):
    r = egov("lab", "fault", "service", "nope", "down")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().endswith("no such hosted service in the lab (it has: portal); fix: name one of the "
                                     "profile's hosted_services")
    r = egov("lab", "fault", "service", "portal", "sideways")
    assert r.returncode == 1 and "unknown action; fix: use down or up" in r.stderr

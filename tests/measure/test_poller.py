"""The poller against a real snmpd, and against peers that time out, refuse or answer garbage."""

from __future__ import annotations

import asyncio

from egov.measure.model import SnmpAuth
from egov.measure.snmp import Poller

from .conftest import AUTH_KEY, PRIV_KEY, USER


def _snmpget(agent, *oids: str) -> list[int]:
    """net-snmp's own client as the oracle."""
    import os
    import subprocess

    r = subprocess.run(["snmpget", "-v3", "-l", "authPriv", "-u", USER, "-a", "SHA-256", "-A", AUTH_KEY, "-x", "AES",
                        "-X", PRIV_KEY, "-Oqv", "-Oe", "-Ot", f"127.0.0.1:{agent.port}", *oids],
                       capture_output=True, text=True, env=dict(os.environ, MIBS=""), check=True)
    return [int(v) for v in r.stdout.split()]


def test_polls_if_mib_over_snmpv3(snmpd_agent):
    p = asyncio.run(Poller(timeout=1.0).poll(snmpd_agent.target()))
    assert p.ok, p.detail
    lo = p.interfaces["lo"]
    i = lo.index
    speed, admin, oper, octets = _snmpget(snmpd_agent, f"1.3.6.1.2.1.31.1.1.1.15.{i}", f"1.3.6.1.2.1.2.2.1.7.{i}",
                                          f"1.3.6.1.2.1.2.2.1.8.{i}", f"1.3.6.1.2.1.31.1.1.1.6.{i}")
    assert lo.speed_bps == speed * 1_000_000 and (lo.admin_up, lo.oper_up) == (admin == 1, oper == 1)
    assert 0 < lo.in_octets <= octets
    assert p.uptime_ticks and p.uptime_ticks > 0
    assert p.isis is None  # plain snmpd: no ISIS-MIB, and the poller says so rather than "no adjacencies"


def test_engine_id_is_discovered_when_not_known(snmpd_agent):
    t = snmpd_agent.target()
    t = type(t)(t.router, t.address, t.port, t.tier, t.city, t.interfaces, t.auth, None)

    async def run():
        poller = Poller(timeout=1.0)
        p = await poller.poll(t)
        return p, poller.engine_id(t.router)

    p, eid = asyncio.run(run())
    assert p.ok and eid == snmpd_agent.engine_id


def test_every_failure_has_a_reason_and_costs_only_its_own_slot(snmpd_agent, silent_peer, garbage_peer):
    good = snmpd_agent.target()
    wrong = snmpd_agent.target(SnmpAuth(user=USER, auth_key="not-the-right-key", priv_key=PRIV_KEY))
    wrong = type(wrong)("wrong-key", *[getattr(wrong, f) for f in ("address", "port", "tier", "city",
                                                                       "interfaces", "auth", "engine_id")])
    silent = type(good)("silent", "127.0.0.1", silent_peer.port, "county", "xa", (), good.auth, good.engine_id)
    garbage = type(good)("garbage", "127.0.0.1", garbage_peer.port, "county", "xa", (), good.auth, good.engine_id)
    closed_port = garbage_peer.port + 1 if garbage_peer.port < 65535 else 1
    closed = type(good)("closed", "127.0.0.1", closed_port, "county", "xa", (), good.auth, good.engine_id)
    polls = {p.router: p for p in asyncio.run(Poller(timeout=0.5, retries=1).poll_all(
        [silent, good, wrong, garbage, closed]))}
    assert polls["agent-1"].ok
    assert (polls["wrong-key"].ok, polls["wrong-key"].reason) == (False, "auth")
    assert (polls["silent"].ok, polls["silent"].reason) == (False, "timeout")
    assert silent_peer.seen >= 2  # asked again once (retries=1) before giving up
    assert polls["garbage"].reason in ("decode", "timeout") and not polls["garbage"].ok
    assert polls["closed"].reason in ("refused", "timeout")
    # the good router's answer was complete long before the silent one gave up
    end = {r: p.at + p.duration for r, p in polls.items()}
    assert end["agent-1"] < end["silent"]


def test_garbage_is_a_decode_error(snmpd_agent, garbage_peer):
    good = snmpd_agent.target()
    garbage = type(good)("garbage", "127.0.0.1", garbage_peer.port, "county", "xa", (), good.auth, None)
    p = asyncio.run(Poller(timeout=0.5, retries=0).poll(garbage))
    assert not p.ok and p.reason == "decode", (p.reason, p.detail)

"""The FRR driver's text functions, without a device (the lab tests are tests/lab/test_napalm_frr.py).

No __init__.py in this folder on purpose: as a package it would be imported as `napalm_frr` and
shadow the driver package itself.
"""

from __future__ import annotations

from pathlib import Path

import napalm

from napalm_frr import FRRDriver
from napalm_frr import parse

GOLDEN = Path(__file__).resolve().parents[1] / "render" / "golden"


def test_lookup_returns_the_driver_not_the_base_class():
    assert napalm.get_network_driver("frr") is FRRDriver
    import napalm_frr

    assert [n for n in dir(napalm_frr) if not n.startswith("_")] == ["FRRDriver", "frr", "parse", "pending"]


RENDERED = """!
frr version 8.4.4
frr defaults traditional
hostname r1
log syslog informational
service integrated-vtysh-config
!
router isis EGOV
 net 49.0001.0000.0000.0001.00
 topology ipv6-unicast
exit
!
interface eth1
 ip router isis EGOV
 isis metric 500
exit
!
interface lo
 isis passive
exit
!
bfd
 profile core
  detect-multiplier 5
 exit
 !
exit
!
end
"""

SHOW_RUN = """Building configuration...

Current configuration:
!
frr version 8.4.4
frr defaults traditional
hostname r1
log syslog informational
service integrated-vtysh-config
!
interface eth1
 ip router isis EGOV
 isis metric 500
exit
!
interface lo
 isis passive
exit
!
router isis EGOV
 net 49.0001.0000.0000.0001.00
 topology ipv6-unicast
exit
!
bfd
 profile core
  detect-multiplier 5
 exit
 !
exit
!
end
"""


def test_running_body_and_boot_order_give_the_rendered_form():
    body = parse.running_body(SHOW_RUN)
    assert body.startswith("!\nfrr version") and body.endswith("end\n")
    assert parse.boot_order(body) == RENDERED
    assert parse.boot_order(RENDERED) == RENDERED  # idempotent
    assert parse.boot_order("!\nhostname x\n!\nend\n") == "!\nhostname x\n!\nend\n"


RELOAD_TEST = """
Lines To Delete
===============
interface eth3
 no isis metric 500
router isis EGOV
 no is-type level-2-only
ip forwarding
no interface eth9

Lines To Add
============
interface eth3
 isis metric 400
bfd
 profile core
  detect-multiplier 4
"""


def test_reload_diff_is_unified_with_context():
    assert parse.reload_diff(RELOAD_TEST).splitlines() == [
        " interface eth3", "- isis metric 500", "+ isis metric 400",
        " router isis EGOV", "- is-type level-2-only",
        "-no ip forwarding",
        "-interface eth9",
        " bfd", "  profile core", "+  detect-multiplier 4",
    ]
    assert parse.reload_diff("") == ""
    assert parse.reload_diff("2024-01-01 10:00:00,000  INFO: Called via \"Namespace(...)\"\n") == ""


def test_merge_diff_and_check_errors():
    merge = "interface eth1\n isis metric 20\nexit\n!\n"
    assert parse.merge_diff(merge) == "+interface eth1\n+ isis metric 20\n"
    out = "line 27: % Unknown command[17]:  isis metrc 5\nline 40: % Unknown command[17]:  isis metrc 5\n"
    assert parse.check_errors(out) == ["line 27: % Unknown command[17]:  isis metrc 5",
                                       "line 40: % Unknown command[17]:  isis metrc 5"]
    assert parse.check_errors("") == []


def test_isis_neighbors_table():
    text = """Area EGOV:
 System Id           Interface   L  State        Holdtime SNPA
 sn-xa-a             eth1        2  Up            28       2020.2020.2020
 sn-xa-b             eth2        1  Up            9        2020.2020.2020
 sn-xa-b             eth2        2  Initializing  9        2020.2020.2020
"""
    assert parse.isis_neighbors(text) == {
        "eth1": {"neighbor": "sn-xa-a", "level": 2, "state": "Up", "holdtime": 28},
        "eth2": {"neighbor": "sn-xa-b", "level": 3, "state": "Initializing", "holdtime": 9},
    }


def test_ping_output():
    ok = """PING fd00::1(fd00::1) from fd00::2 : 100 data bytes
108 bytes from fd00::1: icmp_seq=1 ttl=64 time=0.051 ms
108 bytes from fd00::1: icmp_seq=2 ttl=64 time=0.060 ms

--- fd00::1 ping statistics ---
3 packets transmitted, 2 received, 33.3333% packet loss, time 404ms
rtt min/avg/max/mdev = 0.051/0.055/0.060/0.004 ms
"""
    res = parse.ping(ok, 3)["success"]
    assert res["probes_sent"] == 3 and res["packet_loss"] == 1 and res["rtt_max"] == 0.060
    assert res["results"] == [{"ip_address": "fd00::1", "rtt": 0.051},
                              {"ip_address": "fd00::1", "rtt": 0.060}]
    assert parse.ping("ping: connect: Network is unreachable\n", 3) == {
        "error": "ping: connect: Network is unreachable"}

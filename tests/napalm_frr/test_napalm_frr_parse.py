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


def test_ntp_servers_from_chrony_conf():
    from napalm.base import models
    from napalm.base.test.helpers import test_model

    conf = ("# comment\nserver 172.30.255.254 iburst\npool pool.example prefer port 1123 key 7\n"
            "server fd00:30::fe version 3\nbindacqaddress 172.30.0.4\nbindacqaddress fd00:30::4\n")
    got = parse.ntp_servers(conf)
    assert list(got) == ["172.30.255.254", "pool.example", "fd00:30::fe"]
    assert got["172.30.255.254"] | {} == {
        "address": "172.30.255.254", "port": 123, "version": 4, "association_type": "SERVER", "iburst": True,
        "prefer": False, "network_instance": "default", "source_address": "172.30.0.4", "key_id": -1}
    assert (got["pool.example"]["association_type"], got["pool.example"]["port"], got["pool.example"]["key_id"],
            got["pool.example"]["prefer"]) == ("POOL", 1123, 7, True)
    assert got["fd00:30::fe"]["source_address"] == "fd00:30::4" and got["fd00:30::fe"]["version"] == 3
    assert all(test_model(models.NTPServerDict, v) for v in got.values())
    assert parse.ntp_servers("") == {}


def test_snmp_information_never_returns_v3_keys():
    from napalm.base import models
    from napalm.base.test.helpers import test_model

    conf = ('engineID sn-xa-a\ncreateUser egov-nms SHA-256 "authsecret1" AES "privsecret1"\n'
            "sysLocation Xi'an, room 3\nsysContact noc@example\nrocommunity public 10.0.0.0/8\n"
            "rwcommunity6 private\n# rocommunity commented\n")
    got = parse.snmp_information(conf)
    assert got == {"chassis_id": "sn-xa-a", "contact": "noc@example", "location": "Xi'an, room 3",
                   "community": {"public": {"acl": "10.0.0.0/8", "mode": "ro"},
                                 "private": {"acl": "N/A", "mode": "rw"}}}
    assert "secret" not in repr(got)
    assert test_model(models.SNMPDict, got)
    assert all(test_model(models.SNMPCommunityDict, c) for c in got["community"].values())


def test_users_from_the_users_report():
    from napalm.base import models
    from napalm.base.test.helpers import test_model

    report = ("U root 0 /bin/bash\nG root\nP $6$salt$hash\nU netops 999 /usr/bin/frrsh\nG netops frrvty frr\nP \n"
              "K ssh-ed25519 AAAAC3 netops@lab\nK # a comment\nU guest 1001 /bin/sh\nG guest\nP !\n"
              "U daemon 1 /usr/sbin/nologin\nG daemon\nP *\n")
    got = parse.users(report)
    assert got == {"root": {"level": 15, "password": "$6$salt$hash", "sshkeys": []},
                   "netops": {"level": 15, "password": "", "sshkeys": ["ssh-ed25519 AAAAC3 netops@lab"]},
                   "guest": {"level": 1, "password": "", "sshkeys": []}}
    assert all(test_model(models.UsersDict, u) for u in got.values())


def test_reload_errors_unwraps_frr_reloads_bytes_literal():
    """frr-reload.py --test on a candidate vtysh refuses (FRR 8.4, recorded in the lab): the complaint
    arrives inside a logged Python bytes literal."""
    out = ("2026-11-29 11:40:47,491 \x1b[91m  ERROR\x1b[0m: vtysh failed to process new configuration: "
           "vtysh (mark file) exited with status 2:\n"
           "b'line 108: % Unknown command:  isis metrc 5\\n'\n")
    assert parse.reload_errors(out) == ["line 108: % Unknown command:  isis metrc 5"]
    assert parse.reload_errors("2026-11-29 INFO: Loading Config object from file x\n") == []

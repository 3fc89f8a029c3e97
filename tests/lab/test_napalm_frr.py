"""The NAPALM FRR driver (napalm_frr) against the real lab routers: getters, replace/merge, commit-confirm
with the router's own revert timer, rollback. Tests run in file order on one lab; every test that changes
a router leaves it running (and saving) its rendered config again.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from napalm import get_network_driver
from napalm.base.exceptions import CommitError, ConnectionException, ReplaceConfigException

from napalm_frr.pending import PendingStore
from egov.lab.build import users_for
from egov.render.engine import Renderer
from egov.render.secrets import placeholders
from egov.topology.validate import build_plan
from napalm_frr import FRRDriver
from napalm_frr.parse import boot_order

from .labkit import lab_up  # noqa: F401

pytestmark = pytest.mark.slow

HOST = "sn-xa-yt"  # city-county router: metric 500 on eth3/eth4, so the saved file's order matters
IFACE = "eth3"


@pytest.fixture(scope="module")
def plan():
    return build_plan("lab")


@pytest.fixture(scope="module")
def rendered(plan):
    r = Renderer(plan, placeholders())
    return {h: r.render_node(n)[f"{h}.cfg"] for h, n in plan.topology.nodes.items()}


@pytest.fixture(scope="module")
def journal_path(tmp_path_factory):
    return tmp_path_factory.mktemp("napalm-frr") / "pending.sqlite"


@pytest.fixture(scope="module")
def connect(lab_up, plan, journal_path):  # noqa: F811
    opened: list[FRRDriver] = []
    user = users_for(plan)[1]

    def _connect(host: str, **opts) -> FRRDriver:
        rs = lab_up.routers[host]
        cls = get_network_driver("frr")
        d = cls("127.0.0.1", user, "", timeout=30,
                optional_args={"port": rs.ssh_port, "key_file": str(lab_up.ssh_key),
                               "pending_store": str(journal_path), **opts})
        d.open()
        opened.append(d)
        return d

    yield _connect
    for d in opened:
        d.close()


@pytest.fixture(scope="module")
def dev(connect):
    return connect(HOST)


def with_metric(text: str, iface: str, old: int, new: int) -> str:
    """The rendered config with one interface's `isis metric` changed."""
    head, sep, tail = text.partition(f"\ninterface {iface}\n")
    body, end, rest = tail.partition("\nexit\n")
    assert f" isis metric {old}" in body
    return head + sep + body.replace(f" isis metric {old}", f" isis metric {new}") + end + rest


def timer_files(listing: str) -> list[str]:
    """A revert timer's files in a `ls` of the driver's work folder (its .log is kept on purpose)."""
    names = listing.split()
    return [f for f in names if f.startswith(("pending-", "reverting-", "timer-")) or f.endswith(".sh")]


def assert_original(d: FRRDriver, original: str) -> None:
    d.load_replace_candidate(config=original)
    assert d.compare_config() == ""
    d.discard_config()
    assert d.get_config(retrieve="startup")["startup"] == original


# --- 1-4: connection and getters ------------------------------------------------------------------

def test_lookup_open_close_and_facts(connect, lab_up, plan):  # noqa: F811
    assert get_network_driver("frr") is FRRDriver
    d = connect("sn-a")
    assert d.is_alive() == {"is_alive": True}
    assert d.pathspace == "sn-a" and d.config_file == "/etc/frr/sn-a/frr.conf"
    facts = d.get_facts()
    assert facts["hostname"] == "sn-a" and facts["vendor"] == "FRRouting" and facts["model"] == "FRR"
    assert facts["os_version"] == "8.4.4" and facts["uptime"] > 0 and facts["serial_number"] == ""
    assert {i.name for i in plan.topology.nodes["sn-a"].interfaces} <= set(facts["interface_list"])
    d.close()
    assert d.is_alive() == {"is_alive": False}
    # a refused login is one line, naming the device but no key material
    bad = get_network_driver("frr")("127.0.0.1", "nobody-here", "", timeout=10,
                                    optional_args={"port": lab_up.routers["sn-a"].ssh_port,
                                                   "key_file": str(lab_up.ssh_key)})
    with pytest.raises(ConnectionException) as e:
        bad.open()
    assert "\n" not in str(e.value) and "PRIVATE KEY" not in str(e.value)


def test_interfaces_and_addresses_match_the_plan(connect, plan):
    for host, node in plan.topology.nodes.items():
        d = connect(host)
        ifs, ips = d.get_interfaces(), d.get_interfaces_ip()
        for i in node.interfaces:
            assert ifs[i.name]["is_up"] and ifs[i.name]["is_enabled"], (host, i.name, ifs[i.name])
            assert ifs[i.name]["description"] == " ".join(i.description.split())
            assert ifs[i.name]["speed"] > 0 and ifs[i.name]["mtu"] >= 1500
            assert ips[i.name]["ipv4"][str(i.ipv4.ip)] == {"prefix_length": 31}, (host, i.name)
            assert ips[i.name]["ipv6"][str(i.ipv6.ip)] == {"prefix_length": 127}, (host, i.name)
        assert ips["lo"]["ipv4"][str(node.loopback4.ip)]["prefix_length"] == 32
        d.close()


def test_get_config_running_and_startup(dev, rendered):
    cfg = dev.get_config()
    assert f"\nhostname {HOST}\n" in cfg["running"] and not cfg["running"].startswith("Building")
    assert cfg["running"].startswith("!\n") and cfg["running"].endswith("end\n")
    assert boot_order(cfg["running"]) == rendered[HOST]  # rendered = FRR's form, router isis first
    assert cfg["startup"] == rendered[HOST]
    assert cfg["candidate"] == ""
    assert dev.get_config(retrieve="running")["startup"] == ""


def test_isis_neighbours_and_bfd_peers_up(connect, plan):
    for host, node in plan.topology.nodes.items():
        d = connect(host)
        neigh, bfd = d.get_isis_neighbors(), d.get_bfd_peers()
        bfd_by_if = {p.get("interface"): p for p in bfd}
        for i in node.interfaces:
            assert neigh[i.name]["neighbor"] == i.peer, (host, i.name, neigh)
            assert neigh[i.name]["state"] == "Up", (host, i.name, neigh)
            assert bfd_by_if[i.name]["status"] == "up", (host, i.name, bfd_by_if.get(i.name))
        d.close()


def test_ping_loopback(dev, plan):
    peer = plan.topology.nodes["sn-a"]
    res = dev.ping(str(peer.loopback6.ip), count=3, source=str(plan.topology.nodes[HOST].loopback6.ip))
    assert res["success"]["probes_sent"] == 3 and res["success"]["packet_loss"] == 0
    assert len(res["success"]["results"]) == 3
    assert "error" in dev.ping("192.0.2.1", count=1, timeout=1) or \
        dev.ping("192.0.2.1", count=1, timeout=1)["success"]["packet_loss"] == 1


# --- 5-6, 10: candidates ------------------------------------------------------------------------

def test_replace_with_the_rendered_config_is_no_change(dev, rendered):
    dev.load_replace_candidate(config=rendered[HOST])
    assert dev.compare_config() == ""
    assert dev.get_config(retrieve="candidate")["candidate"] == rendered[HOST]
    dev.discard_config()
    assert dev.compare_config() == "" and dev.get_config(retrieve="candidate")["candidate"] == ""


def test_one_metric_changed_shows_exactly_that(dev, rendered):
    dev.load_replace_candidate(config=with_metric(rendered[HOST], IFACE, 500, 400))
    assert dev.compare_config().splitlines() == [f" interface {IFACE}", "- isis metric 500",
                                                  "+ isis metric 400"]
    dev.discard_config()


def test_invalid_line_is_refused_and_nothing_changes(dev, rendered):
    bad = rendered[HOST].replace(" isis network point-to-point\n", " isis metrc 5\n", 1)
    with pytest.raises(ReplaceConfigException) as e:
        dev.load_replace_candidate(config=bad)
    assert "isis metrc 5" in str(e.value) and "line " in str(e.value)
    assert dev.get_config(retrieve="candidate")["candidate"] == ""
    with pytest.raises(CommitError):
        dev.commit_config()
    assert_original(dev, rendered[HOST])


def test_commit_rejected_by_frr_restores_the_router(dev, rendered, journal_path):
    """Valid syntax (passes vtysh -C) that FRR's YANG validation refuses: the commit fails, nothing stays."""
    original = rendered[HOST]
    bad = original.replace(" log-adjacency-changes\n",
                           " lsp-timers gen-interval 1 refresh-interval 900 max-lifetime 1000\n"
                           " log-adjacency-changes\n")
    dev.load_replace_candidate(config=bad)
    assert "+ lsp-timers gen-interval 1 refresh-interval 900 max-lifetime 1000" in dev.compare_config()
    with pytest.raises(CommitError, match="restored the previous config"):
        dev.commit_config(revert_in=30)
    assert not dev.has_pending_commit()
    assert PendingStore(journal_path).history(HOST)[-1][1] == "rolled_back"
    _, files, _ = dev._exec(f"ls -a {dev.workdir}")
    assert not timer_files(files), files
    assert_original(dev, original)


# --- 7-9, 11: commit, confirm, revert, rollback --------------------------------------------------

def test_commit_confirm_saves_the_candidate_itself(dev, rendered, journal_path):
    original, changed = rendered[HOST], with_metric(rendered[HOST], IFACE, 500, 400)
    dev.load_replace_candidate(config=changed)
    dev.commit_config(revert_in=60)
    assert dev.has_pending_commit()
    cid = PendingStore(journal_path).pending(HOST).change_id
    assert PendingStore(journal_path).pending(HOST).rollback == original
    dev.confirm_commit()
    assert not dev.has_pending_commit()
    assert PendingStore(journal_path).history(HOST)[-1] == (cid, "confirmed")
    running = dev.get_config(retrieve="running")["running"]
    assert f"interface {IFACE}\n" in running and " isis metric 400\n" in running
    startup = dev.get_config(retrieve="startup")["startup"]
    assert startup == changed and startup.index("router isis") < startup.index("interface eth1")
    # the timer is gone from the router: no marker, no script, no process
    _, files, _ = dev._exec(f"ls -a {dev.workdir}")
    assert not timer_files(files), files
    rc, _, _ = dev._exec(f"pgrep -f {dev.workdir}/revert-{cid}.sh")
    assert rc == 1
    with pytest.raises(CommitError):
        dev.confirm_commit()  # nothing pending any more
    # back to the rendered config, saved verbatim again
    dev.load_replace_candidate(config=original)
    assert dev.compare_config().splitlines() == [f" interface {IFACE}", "- isis metric 400",
                                                  "+ isis metric 500"]
    dev.commit_config()
    assert_original(dev, original)


def test_unconfirmed_commit_reverts_on_the_router_without_the_controller(dev, connect, rendered,
                                                                         journal_path):
    original, changed = rendered[HOST], with_metric(rendered[HOST], IFACE, 500, 400)
    dev.load_replace_candidate(config=changed)
    dev.commit_config(revert_in=8)
    t0 = time.monotonic()
    dev.close()  # the controller is gone
    d2 = connect(HOST)
    assert " isis metric 400\n" in d2.get_config(retrieve="running")["running"]  # still the change
    d2.close()
    time.sleep(max(0.0, 8.5 - (time.monotonic() - t0)))
    d3 = connect(HOST)
    deadline = time.monotonic() + 15
    while True:
        d3.load_replace_candidate(config=original)
        diff = d3.compare_config()
        startup = d3.get_config(retrieve="startup")["startup"]
        if (diff == "" and startup == original) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    d3.discard_config()
    assert diff == "" and startup == original, diff
    assert not d3.has_pending_commit()
    assert PendingStore(journal_path).history(HOST)[-1][1] == "reverted"
    dev.open()  # later tests use `dev` again


def test_rollback_restores_the_previous_config_exactly(dev, rendered, journal_path):
    original = rendered[HOST]
    dev.load_replace_candidate(config=with_metric(original, IFACE, 500, 300))
    dev.commit_config()
    assert " isis metric 300\n" in dev.get_config(retrieve="running")["running"]
    dev.rollback()
    assert_original(dev, original)
    # a merge: the lines are added, compare shows them as additions, the saved file boots safely
    dev.load_merge_candidate(config="interface eth4\n isis metric 450\nexit\n")
    assert dev.compare_config().splitlines() == ["+interface eth4", "+ isis metric 450"]
    dev.commit_config()
    cfg = dev.get_config()
    assert " isis metric 450\n" in cfg["running"]
    assert cfg["startup"] == boot_order(cfg["running"]) == with_metric(original, "eth4", 500, 450)
    dev.rollback()
    assert_original(dev, original)


def test_commit_while_pending_is_refused_and_the_change_stays(dev, rendered, journal_path):
    original = rendered[HOST]
    dev.load_replace_candidate(config=with_metric(original, IFACE, 500, 400))
    dev.commit_config(revert_in=60)
    dev.load_replace_candidate(config=with_metric(original, IFACE, 500, 200))
    with pytest.raises(CommitError, match="pending"):
        dev.commit_config()
    assert dev.has_pending_commit()
    running = dev.get_config(retrieve="running")["running"]
    assert " isis metric 400\n" in running and " isis metric 200\n" not in running
    dev.discard_config()
    dev.rollback()  # ends the pending commit: timer stopped, previous config back
    assert not dev.has_pending_commit()
    assert PendingStore(journal_path).history(HOST)[-1][1] == "rolled_back"
    _, files, _ = dev._exec(f"ls -a {dev.workdir}")
    assert not timer_files(files), files
    assert_original(dev, original)


# --- the getters a NOC needs, on a live router, against NAPALM's own model contract ----------------

def test_noc_getters_follow_napalm_models_on_the_lab(connect, lab_up, plan):  # noqa: F811
    from napalm.base import models
    from napalm.base.test.helpers import test_model

    host = "sn-xa-a"
    node = plan.topology.nodes[host]
    files = Renderer(plan, placeholders()).render_node(node)  # host configs as rendered (placeholder keys)
    rdir = lab_up.routers[host].dir
    d = connect(host, lldp_socket=f"{rdir}/lldpd.socket", authorized_keys=str(lab_up.root) + "/ssh/authorized_keys")
    for name in ("chrony.conf", "snmpd.conf"):
        d._put(f"{d.workdir}/{name}", files[f"{host}.d/{name}"])
    d.ntp_config, d.snmp_config = f"{d.workdir}/chrony.conf", f"{d.workdir}/snmpd.conf"
    peer4 = {i.name: str(next(a for a in i.ipv4.network if a != i.ipv4.ip)) for i in node.interfaces}  # /31
    for addr in peer4.values():  # neighbour entries exist for the addresses just used
        d.ping(addr, count=1, timeout=1)

    counters = d.get_interfaces_counters()
    arp, nd = d.get_arp_table(), d.get_ipv6_neighbors_table()
    routes = d.get_route_to(str(plan.topology.nodes["sn-a"].loopback4), protocol="isis")
    ntp, snmp, users = d.get_ntp_servers(), d.get_snmp_information(), d.get_users()
    deadline = time.monotonic() + 20
    while True:  # lldpd sends every 5 s in the lab
        lldp = d.get_lldp_neighbors()
        if all(i.name in lldp for i in node.interfaces) or time.monotonic() > deadline:
            break
        time.sleep(1)
    checks = [(models.InterfaceCounterDict, list(counters.values())), (models.ARPTableDict, arp),
              (models.IPV6NeighborDict, nd), (models.RouteDict, [r for v in routes.values() for r in v]),
              (models.LLDPNeighborDict, [n for v in lldp.values() for n in v]),
              (models.NTPServerDict, list(ntp.values())), (models.SNMPDict, [snmp]),
              (models.UsersDict, list(users.values()))]
    for model, entries in checks:
        assert entries and all(test_model(model, e) for e in entries), (model.__name__, entries)
    assert all(counters[i.name]["rx_octets"] > 0 and counters[i.name]["tx_octets"] > 0 for i in node.interfaces)
    assert set(peer4.values()) <= {e["ip"] for e in arp}
    assert {r["protocol"] for v in routes.values() for r in v} == {"isis"}
    for i in node.interfaces:
        assert lldp[i.name] == [{"hostname": i.peer, "port": i.peer_name}], (i.name, lldp)
    assert ntp["172.30.255.254"]["iburst"] and ntp["172.30.255.254"]["source_address"] == str(node.mgmt4.ip)
    assert snmp == {"chassis_id": host, "community": {}, "contact": plan.loaded.profile.services.snmp.contact,
                    "location": plan.loaded.profile.services.snmp.location}
    key = Path(str(lab_up.ssh_key) + ".pub").read_text().split()[1]
    for user in users_for(plan):  # the admin logins: FRR's vtysh group, the lab's key
        assert users[user]["level"] == 15, users.get(user)
        assert any(key in k for k in users[user]["sshkeys"]), users[user]
    d._exec(f"rm -f {d.workdir}/chrony.conf {d.workdir}/snmpd.conf")

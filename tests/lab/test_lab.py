"""The lab: real FRR routers from the `lab` plan, checked as an operator would check a backbone.

Tests run in file order on one lab; the last ones take it down and prove nothing is left behind.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import egov
from egov.topology.validate import build_plan

from .labkit import SSH_OPTS, in_router, lab_up, sh, status_json, wait_ok  # noqa: F401

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def plan():
    return build_plan("lab")


def test_every_adjacency_and_bfd_session_up(lab_up, plan):
    doc = wait_ok()
    assert doc["ok"], json.dumps(doc, indent=1)
    ends = 2 * len(plan.topology.links)
    assert sum(r["adjacencies_up"] for r in doc["routers"]) == ends == 58
    assert sum(r["bfd_up"] for r in doc["routers"]) == ends
    assert {r["router"] for r in doc["routers"]} == set(plan.topology.nodes)
    for r in doc["routers"]:
        assert all(r["daemons"].values()), r


def test_every_router_reaches_every_loopback_v4_and_v6(lab_up, plan):
    nodes = plan.topology.nodes.values()
    v4 = [str(n.loopback4.ip) for n in nodes]
    v6 = [str(n.loopback6.ip) for n in nodes]
    for n in nodes:
        for targets in (v4, v6):
            r = in_router(lab_up, n.hostname, ["fping", "-q", "-r", "3", "-t", "300", *targets], check=False)
            assert r.returncode == 0, f"{n.hostname}: unreachable: {r.stderr}"


def test_running_config_is_the_rendered_config(lab_up, plan):
    """FRR's own diff tool finds nothing between each router and its rendered file (canonical form)."""
    for host in plan.topology.nodes:
        r = in_router(lab_up, host, ["/usr/lib/frr/frr-reload.py", "--test", "-N", host, "--stdout",
                                     f"/etc/frr/{host}/frr.conf"])
        assert "Lines To" not in r.stdout, f"{host}:\n{r.stdout}"


def test_management_interface_is_the_rendered_one(lab_up, plan):
    """mgmt0 carries exactly the addresses of the router's rendered mgmt.network (issue 7, item 9)."""
    from egov.render.engine import Renderer
    from egov.render.secrets import placeholders

    renderer = Renderer(plan, placeholders())
    for node in plan.topology.nodes.values():
        rendered = renderer.render_node(node)[f"{node.hostname}.d/mgmt.network"]
        want = {line.split("=", 1)[1] for line in rendered.splitlines() if line.startswith("Address=")}
        assert want == {str(node.mgmt4), str(node.mgmt6)}
        r = in_router(lab_up, node.hostname, ["ip", "-j", "addr", "show", "dev", "mgmt0"])
        have = {f"{a['local']}/{a['prefixlen']}" for a in json.loads(r.stdout)[0]["addr_info"]
                if a.get("scope") == "global"}
        assert have == want, node.hostname


def test_ssh_through_host_port_runs_show_commands(lab_up, plan):
    rs = lab_up.routers["sn-xa-a"]
    r = sh(["ssh", *SSH_OPTS, "-i", str(lab_up.ssh_key), "-p", str(rs.ssh_port), "netops@127.0.0.1",
            "show isis neighbor"])
    neighbours = {i.peer for i in plan.topology.nodes["sn-xa-a"].interfaces}
    for peer in neighbours:
        assert re.search(rf"^ {re.escape(peer)}\s+eth\d+\s+2\s+Up", r.stdout, re.M), r.stdout
    r = sh(["ssh", *SSH_OPTS, "-i", str(lab_up.ssh_key), "-p", str(rs.ssh_port), "netops@127.0.0.1",
            "show running-config"])
    assert "hostname sn-xa-a" in r.stdout and "hostname vm" not in r.stdout
    # the file-transfer login is a shell on the same router
    r = sh(["ssh", *SSH_OPTS, "-i", str(lab_up.ssh_key), "-p", str(rs.ssh_port), "netops-sh@127.0.0.1",
            "hostname"])
    assert r.stdout.strip() == "sn-xa-a"
    # passwords are refused: keys only
    r = sh(["ssh", *SSH_OPTS, "-o", "PubkeyAuthentication=no", "-p", str(rs.ssh_port), "netops@127.0.0.1",
            "true"], check=False)
    assert r.returncode != 0


def _snmp(lab_up, port: int, oid: str, walk: bool = True, **over) -> subprocess.CompletedProcess[str]:
    s = lab_up.secrets()
    args = {"-u": s["snmp_user"], "-A": s["snmp_auth_key"], "-X": s["snmp_priv_key"], **over}
    cmd = ["snmpbulkwalk" if walk else "snmpget", "-v3", "-l", "authPriv", "-a", "SHA-256", "-x", "AES",
           "-On", "-t", "2", "-r", "1"]
    for k, v in args.items():
        cmd += [k, v]
    return subprocess.run([*cmd, f"udp:127.0.0.1:{port}", oid], capture_output=True, text=True, timeout=30,
                          env={"MIBS": "", "SNMP_PERSISTENT_DIR": "/tmp/egov-snmp-client", "PATH": "/usr/bin:/bin"})


def test_snmp_walks_ifmib_with_planned_speeds(lab_up, plan):
    for host in ("sn-a", "sn-xa-yt", "sn-xa-yt-t001"):
        port = lab_up.routers[host].snmp_port
        names = dict(re.findall(r"\.31\.1\.1\.1\.1\.(\d+) = STRING: \"?([\w-]+)", _snmp(lab_up, port,
                                "1.3.6.1.2.1.31.1.1.1.1").stdout))
        speeds = dict(re.findall(r"\.31\.1\.1\.1\.15\.(\d+) = Gauge32: (\d+)", _snmp(lab_up, port,
                                 "1.3.6.1.2.1.31.1.1.1.15").stdout))
        by_name = {names[i]: int(v) for i, v in speeds.items() if i in names}
        for iface in plan.topology.nodes[host].interfaces:
            assert by_name[iface.name] == iface.bandwidth_mbps, (host, iface.name, by_name)
        sysname = _snmp(lab_up, port, "1.3.6.1.2.1.1.5.0", walk=False).stdout
        assert f'"{host}"' in sysname
    # authPriv only: a wrong key is refused, v2c gets no answer
    port = lab_up.routers["sn-a"].snmp_port
    assert _snmp(lab_up, port, "1.3.6.1.2.1.1.5.0", walk=False, **{"-A": "wrong-key-123"}).returncode != 0
    v2 = subprocess.run(["snmpget", "-v2c", "-c", "public", "-t", "1", "-r", "0", f"udp:127.0.0.1:{port}",
                         "1.3.6.1.2.1.1.5.0"], capture_output=True, text=True, timeout=30,
                        env={"MIBS": "", "SNMP_PERSISTENT_DIR": "/tmp/egov-snmp-client", "PATH": "/usr/bin:/bin"})
    assert v2.returncode != 0 and "Timeout" in v2.stderr


def test_lab_exec_runs_inside_the_router(lab_up):
    r = egov("lab", "exec", "sn-a", "--", "vtysh", "-c", "show isis neighbor")
    assert r.returncode == 0 and " sn-b " in r.stdout
    r = egov("lab", "exec", "sn-dfgw", "--", "hostname")
    assert r.stdout.strip() == "sn-dfgw"


@pytest.mark.parametrize("family", [4, 6])
def test_silent_cut_reroutes_under_one_second(lab_up, plan, family):
    """Cut the uplink carrying the traffic, silently (carrier stays up): BFD must reroute in < 1 s."""
    from egov.lab.measure import failover

    wait_ok()
    f = failover(lab_up, plan.topology, "sn-xa-yt", "sn-a", family)
    print(f"IPv{family}: outage {f.outage_s * 1000:.0f} ms after cutting {f.cut_interface} to {f.cut_peer}")
    assert f.carried_before >= 20, f  # the cut link carried the ping flow
    assert f.moved_after >= 100, f"traffic did not move to the other uplink: {f}"
    assert f.replies > 100, f
    assert 0.05 < f.outage_s < 1.0, f"IPv{family} outage {f.outage_s:.3f}s after a silent cut"
    log = [json.loads(x) for x in Path(lab_up.fault_log).read_text().splitlines()]
    assert [e["action"] for e in log[-2:]] == ["cut", "heal"] and log[-2]["b_if"] == f.cut_interface
    assert wait_ok()["ok"]


def _iperf(state, server: str, server_ip: str, client: str, seconds: int = 3) -> float:
    srv = subprocess.Popen(["ip", "netns", "exec", server, "iperf3", "-s", "-1", "-B", server_ip],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        r = in_router(state, client, ["iperf3", "-c", server_ip, "-t", str(seconds), "-J"], timeout=30)
        return json.loads(r.stdout)["end"]["sum_received"]["bits_per_second"]
    finally:
        srv.kill()
        srv.wait()


def test_links_are_shaped_by_tier(lab_up, plan):
    """A city uplink (10G / 100) carries ~50x what a township uplink (200M / 100) does."""
    topo = plan.topology
    city = next(i for i in topo.nodes["sn-xa-a"].interfaces if i.peer == "sn-a")
    town = next(i for i in topo.nodes["sn-xa-yt-t001"].interfaces if i.peer == "sn-xa-yt")
    peer_city = next(i for i in topo.nodes["sn-a"].interfaces if i.link == city.link)
    peer_town = next(i for i in topo.nodes["sn-xa-yt"].interfaces if i.link == town.link)
    fast = _iperf(lab_up, "sn-a", str(peer_city.ipv4.ip), "sn-xa-a")
    slow = _iperf(lab_up, "sn-xa-yt", str(peer_town.ipv4.ip), "sn-xa-yt-t001")
    ratio = fast / slow
    print(f"city link {fast / 1e6:.1f} Mbit/s, township link {slow / 1e6:.2f} Mbit/s, ratio {ratio:.1f} (plan 50)")
    assert 80e6 < fast < 110e6 and 1.6e6 < slow < 2.3e6
    assert 35 < ratio < 65


def test_node_down_and_up(lab_up):
    r = egov("lab", "fault", "node", "sn-dfgw", "down")
    assert r.returncode == 0, r.stderr
    rc, doc = status_json()
    assert rc == 1
    dfgw = next(x for x in doc["routers"] if x["router"] == "sn-dfgw")
    assert not dfgw["ok"] and not any(dfgw["daemons"].values())
    r = egov("lab", "fault", "node", "sn-dfgw", "up")
    assert r.returncode == 0, r.stderr
    assert wait_ok()["ok"]
    log = [json.loads(x) for x in Path(lab_up.fault_log).read_text().splitlines()]
    assert [(e["kind"], e["action"], e["router"]) for e in log[-2:]] == [("node", "down", "sn-dfgw"),
                                                                          ("node", "up", "sn-dfgw")]


def test_link_carrier_down_and_up(lab_up):
    assert egov("lab", "fault", "link", "sn-dfgw", "sn-a", "down").returncode == 0
    rc, doc = status_json()
    assert rc == 1
    dfgw = next(x for x in doc["routers"] if x["router"] == "sn-dfgw")
    assert dfgw["adjacencies_up"] == 1 and dfgw["down_interfaces"]
    assert egov("lab", "fault", "link", "sn-dfgw", "sn-a", "up").returncode == 0
    assert wait_ok()["ok"]


def test_bad_fault_arguments_are_one_line(lab_up):
    r = egov("lab", "fault", "link", "sn-a", "sn-xa-yt", "cut")
    assert r.returncode == 1 and r.stderr.strip().endswith("these routers share no link; fix: name two neighbours")
    r = egov("lab", "fault", "node", "nope", "down")
    assert r.returncode == 1 and "no such router in the lab" in r.stderr and "Traceback" not in r.stderr

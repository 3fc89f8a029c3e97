"""Every rendered FRR configuration is accepted by FRR's own parser (vtysh -C), on the lab and the province."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import egov
from egov.topology.validate import build_plan

VTYSH = shutil.which("vtysh") or "/usr/bin/vtysh"
pytestmark = pytest.mark.skipif(not Path(VTYSH).exists(),
                                reason="Debian frr is not installed; run ./bootstrap.sh (it installs frr)")


def _render(profile: str, out: Path) -> None:
    r = egov("render", "--profile", profile, "--out", str(out), "--dry-run", "--frozen")
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def lab_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lab")
    _render("lab", out)
    return out


def _vtysh_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([VTYSH, "-C", "-f", str(path)], capture_output=True, text=True, timeout=60)


def test_every_lab_router_parses(lab_out):
    cfgs = sorted(lab_out.glob("*.cfg"))
    assert len(cfgs) == 15
    for cfg in cfgs:
        r = _vtysh_check(cfg)
        assert r.returncode == 0 and "% " not in r.stdout + r.stderr, f"{cfg.name}: {r.stdout}{r.stderr}"


def test_vtysh_check_catches_a_broken_line(lab_out, tmp_path):
    """Control: the parser check would fail if the template produced a bad line."""
    bad = tmp_path / "bad.cfg"
    bad.write_text((lab_out / "sn-a.cfg").read_text().replace(" isis network point-to-point",
                                                              " isis network point-to-nowhere", 1))
    r = _vtysh_check(bad)
    assert r.returncode != 0


def test_lab_configs_carry_the_plan(lab_out):
    plan = build_plan("lab")
    for node in plan.topology.nodes.values():
        text = (lab_out / f"{node.hostname}.cfg").read_text()
        assert f"hostname {node.hostname}\n" in text
        assert f" net {node.net.lower()}\n" in text
        assert f" ip address {node.loopback4.with_prefixlen}\n" in text
        assert f" ipv6 address {node.loopback6.with_prefixlen}\n" in text
        for i in node.interfaces:
            block = text.split(f"interface {i.name}\n", 1)[1].split("exit\n", 1)[0]
            assert f" ip address {i.ipv4.with_prefixlen}\n" in block
            assert f" ipv6 address {i.ipv6.with_prefixlen}\n" in block
            assert " ip router isis EGOV\n" in block and " ipv6 router isis EGOV\n" in block
            assert f" isis bfd profile {i.bfd_profile}\n" in block
            assert f" description {i.description}\n" in block
        assert " topology ipv6-unicast\n" in text


def test_frr_host_services(lab_out):
    d = lab_out / "sn-xa-a.d"
    snmpd = (d / "snmpd.conf").read_text()
    assert "rouser egov-nms priv" in snmpd or "rouser egov-nms authpriv" in snmpd.lower()
    live = [ln for ln in snmpd.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert not [ln for ln in live if "community" in ln.lower() or ln.startswith("com2sec")]
    assert any(ln.startswith("createUser egov-nms SHA-256 ") and " AES " in ln for ln in live)
    sshd = (d / "sshd_config").read_text()
    assert "PasswordAuthentication no" in sshd and "ListenAddress 172.30.0.3" in sshd


def test_province_frr_routers_parse(tmp_path):
    out = tmp_path / "sn"
    _render("shaanxi", out)
    plan = build_plan("shaanxi")
    frr = [n.hostname for n in plan.topology.nodes.values() if n.platform == "frr"]
    assert frr
    for host in frr:
        r = _vtysh_check(out / f"{host}.cfg")
        assert r.returncode == 0, f"{host}: {r.stdout}{r.stderr}"
    assert len(list(out.glob("*.cfg"))) == len(plan.topology.nodes)


def _networkd(text: str) -> dict[str, list[str]]:
    """key -> values of a systemd-networkd file (sections ignored: keys are unique across them here)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out.setdefault(k, []).append(v)
    return out


def test_frr_management_interface_without_vrf(lab_out):
    """Issue 7 item 9: what sshd and snmpd listen on is configured by the rendered files."""
    plan = build_plan("lab")
    assert plan.loaded.profile.pools.mgmt.vrf is None
    for node in plan.topology.nodes.values():
        d = lab_out / f"{node.hostname}.d"
        net = _networkd((d / "mgmt.network").read_text())
        assert net["Name"] == ["mgmt0"]
        assert net["Address"] == [str(node.mgmt4), str(node.mgmt6)]
        assert "Gateway" not in net and "VRF" not in net  # the lab plan has neither
        for f in ("mgmt-vrf.netdev", "ssh-vrf.conf", "snmpd-vrf.conf"):
            assert not (d / f).exists()
        nft = (d / "nftables.conf").read_text()
        assert 'iifname { "mgmt0" } ip saddr @mgmt_acl4 tcp dport 22 accept' in nft


def test_frr_management_vrf_and_gateway(tmp_path):
    """A plan with a management VRF and gateways puts mgmt0 in the VRF, routes it, runs sshd/snmpd in it."""
    from conftest import INVENTORY, dump, load

    data = load(INVENTORY / "lab.yaml")
    data["pools"]["mgmt"].update(vrf="OOB", gateway4="172.30.255.254", gateway6="fd00:30::ffff")
    p = tmp_path / "lab.yaml"
    dump(p, data)
    shutil.copy(INVENTORY / "lab.lock.json", tmp_path / "lab.lock.json")
    out = tmp_path / "out"
    _render(str(p), out)
    d = out / "sn-dfgw.d"
    net = _networkd((d / "mgmt.network").read_text())
    assert net["VRF"] == ["OOB"] and net["Gateway"] == ["172.30.255.254", "fd00:30::ffff"]
    vrf = _networkd((d / "mgmt-vrf.netdev").read_text())
    assert vrf["Name"] == ["OOB"] and vrf["Kind"] == ["vrf"] and vrf["Table"] == ["1000"]
    for svc, binary in (("ssh-vrf.conf", "/usr/sbin/sshd -D"), ("snmpd-vrf.conf", "/usr/sbin/snmpd ")):
        starts = _networkd((d / svc).read_text())["ExecStart"]
        assert starts[0] == "" and starts[1].startswith("/usr/bin/ip vrf exec OOB " + binary)
    nft = (d / "nftables.conf").read_text()
    assert 'iifname { "mgmt0", "OOB" } ip6 saddr @mgmt_acl6 tcp dport 22 accept' in nft
    if shutil.which("nft"):
        r = subprocess.run(["nft", "-c", "-f", str(d / "nftables.conf")], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr

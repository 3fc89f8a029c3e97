"""Hosted services: a LAN on their router, addressed from the plan and kept by the lock (issue 8)."""

from __future__ import annotations

import json

from conftest import dump, egov, load
from egov.topology.validate import build_plan


def test_lab_service_lan_is_planned_and_locked(lab_yaml):
    plan = build_plan(str(lab_yaml))
    assert plan.problems == []
    (svc,) = plan.topology.services
    assert (svc.service, svc.node, svc.kind, svc.service_port, svc.path) == ("portal", "sn-a", "http", 8080, "/healthz")
    sn_a = plan.topology.nodes["sn-a"]
    assert sn_a.services == [svc]
    assert svc.port not in {i.port for i in sn_a.interfaces} and svc.name == f"eth{svc.port}"
    assert svc.ipv4.network.prefixlen == 31 and svc.ipv6.network.prefixlen == 127
    assert svc.address4 == str(svc.ipv4.ip + 1) and svc.url() == f"http://{svc.address4}:8080/healthz"
    links4 = {str(link.ipv4) for link in plan.topology.links}
    assert str(svc.ipv4.network) not in links4  # its own block of the p2p pool
    lock = json.loads(lab_yaml.with_name("lab.lock.json").read_text())
    assert lock["services"]["portal"] == {"ipv4": str(svc.ipv4.network), "ipv6": str(svc.ipv6.network)}
    assert lock["nodes"]["sn-a"]["ports"]["svc:portal"] == svc.port


def test_removed_service_is_quarantined(lab_yaml):
    data = load(lab_yaml)
    before = json.loads(lab_yaml.with_name("lab.lock.json").read_text())["services"]["portal"]
    data["hosted_services"] = []
    dump(lab_yaml, data)
    assert egov("plan", "show", "--profile", str(lab_yaml)).returncode == 0
    lock = json.loads(lab_yaml.with_name("lab.lock.json").read_text())
    assert "services" not in lock or "portal" not in lock["services"]
    assert lock["quarantine"][before["ipv4"]]["owner"] == "portal"


def test_bad_service_entries_are_one_line_each(lab_yaml):
    data = load(lab_yaml)
    data["hosted_services"] = [{"name": "portal", "router": "sn-zz"},
                               {"name": "portal", "router": "sn-b"},
                               {"name": "x", "router": "sn-a", "path": "no-slash"}]
    dump(lab_yaml, data)
    r = egov("plan", "validate", "--profile", str(lab_yaml))
    assert r.returncode == 1
    assert "hosted_services[2].path: String should match pattern" in r.stderr
    data["hosted_services"] = data["hosted_services"][:2]
    dump(lab_yaml, data)
    r = egov("plan", "validate", "--profile", str(lab_yaml))
    assert "hosted_services[0].router: no router named 'sn-zz'; fix:" in r.stderr
    assert "hosted_services[1].name: duplicate service 'portal'; fix:" in r.stderr

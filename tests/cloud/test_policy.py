"""Each policy catches a stack made to break it, with one line per violation naming what to fix."""

from __future__ import annotations

from egov.cloud import policy
from egov.cloud.mockrun import Record
from egov.cloud.plan import violation_problem

from .stackkit import offline


def lines(stack, check: str) -> list[str]:
    model, _, violations = offline(stack)
    assert violations, "expected a violation"
    assert {v.check for v in violations} == {check}, violations
    return [str(violation_problem(model.stack, v)) for v in violations]


def test_single_stack_tenancy_is_caught(mini):
    mini.dept("jyt")["ipv6_mode"] = "off"
    found = lines(mini, "dual-stack")
    # the home tenancy and its two DR tenancies: one line each, all pointing at the department's line
    assert [x.split(": ")[1] for x in found] == ["sn-prov-ic-jyt-net", "sn-yl-jyt-net", "sn-edu-jyt-net"]
    assert all("[dual-stack] tenancy network has no IPv6 subnet" in x for x in found)
    n = int(found[0].split(":")[1])
    assert mini.path.read_text().splitlines()[n - 1].strip() == "ipv6_mode: 'off'"


def test_stateless_dhcpv6_is_caught(mini):
    mini.dept("dsj-xa")["ipv6_mode"] = "dhcpv6-stateless"
    found = lines(mini, "dual-stack")        # its home tenancy and the DR tenancy of its level 4 system
    assert [x.split(": ")[1] for x in found] == ["sn-prov-ic-dsj-xa-v6", "sn-xa-dsj-xa-v6"]
    assert all("[dual-stack] IPv6 address mode dhcpv6-stateless, RA mode dhcpv6-stateless" in x for x in found)


def test_ssh_to_the_world_is_caught(mini):
    mini.dept("fgw")["ingress"] = [{"protocol": "tcp", "ports": "22", "sources": ["0.0.0.0/0", "::/0"]}]
    found = lines(mini, "admin-ports")
    assert len(found) == 6                  # two rules in each of fgw's three tenancies (home and DR)
    assert any("sn-prov-fgw-sgr-app-0-0: [admin-ports] opens tcp/22 (SSH) to 0.0.0.0/0" in x for x in found)
    assert any("sn-yl-fgw-sgr-app-0-1: [admin-ports] opens tcp/22 (SSH) to ::/0" in x for x in found)


def test_databases_and_rdp_in_a_range_are_caught(mini):
    mini.config["egov:departments"].append(
        {"id": "spj", "region": "sn-xa", "ingress": [{"protocol": "tcp", "ports": "3000-3400", "sources": ["::/0"]}]})
    (line,) = lines(mini, "admin-ports")
    assert "sn-xa-spj-sgr-app-0-0: [admin-ports] opens tcp/3389 (RDP), tcp/3306 (MySQL) to ::/0" in line


def test_management_from_outside_the_ops_network_is_caught(mini):
    mini.config["egov:services"]["bastion"] = {"ipv4": ["172.16.0.0/24"], "ports": ["22"]}
    for d in ("dsj", "fgw", "jyt", "dsj-xa"):
        mini.dept(d)["services"] = ["dns", "monitoring"]
    mini.config["egov:departments"].append({"id": "spj", "region": "sn-xa"})     # all services
    (line,) = lines(mini, "admin-ports")
    assert "sn-xa-spj-sgr-svc-bastion-0: [admin-ports] opens tcp/22 (SSH) to 172.16.0.0/24, outside the ops" in line


def test_dr_level_5_without_a_remote_copy_is_caught(mini):
    # the "remote" centre in the same city as production: no copy leaves Xi'an
    mini.config["egov:sites"]["yl"]["city"] = "xa"
    found = lines(mini, "dr-replicas")
    level56 = [p for p in ("dsj-0001", "dsj-0002", "fgw-0005", "fgw-0006", "jyt-0002")]
    assert len(found) == len(level56)
    assert all("has no copy outside xa (no remote centre)" in x for x in found)


def test_dr_copies_outside_the_centres_are_caught(mini):
    mini.region("sn-edu")["dr_targets"] = ["sn-prov-ic", "sn-xa"]
    (line,) = lines(mini, "dr-replicas")
    assert "sn-edu-jyt-0002: [dr-replicas] DR level 5 has running copies in 1 DR centre(s)" in line


def test_quotas_over_capacity_are_caught(mini):
    mini.dept("dsj-xa")["reserve"] = {"vcpu": 500, "ram_gb": 100, "disk_gb": 100}
    (line,) = lines(mini, "quotas")
    # (500 reserved + 4 planned) x 1.2 headroom
    assert "sn-xa: [quotas] tenancy quotas add up to 605 vCPU, over the region's capacity of 400" in line
    n = int(line.split(":")[1])
    assert mini.path.read_text().splitlines()[n - 1].strip() == "capacity:"


def test_names_off_the_convention_are_caught(mini):
    mini.config["egov:departments"].append({"id": "XA_Data", "region": "sn-xa"})
    (line,) = lines(mini, "names")           # one line per tenancy, not one per resource
    assert "sn-xa-XA_Data: [names] name breaks the convention" in line


def test_too_long_names_are_caught(mini):
    mini.config["egov:departments"].append({"id": "j" * 40, "region": "sn-prov-ic"})
    (line,) = lines(mini, "names")
    assert f": sn-prov-ic-{'j' * 40}-" in line and "[names] name breaks the convention" in line
    n = int(line.split(":")[1])
    assert mini.path.read_text().splitlines()[n - 1].strip() == f"- id: {'j' * 40}"


def test_prefix_on_the_backbone_is_caught(mini):
    mini.dept("fgw")["ipv4"] = "10.61.64.0/24"       # inside the backbone's p2p pool
    found = lines(mini, "addressing")
    assert any("sn-prov-fgw-v4: [addressing] 10.61.64.0/24 is outside the stack's pools" in x for x in found)
    assert any("10.61.64.0/24 overlaps the backbone p2p pool 10.61.64.0/18" in x for x in found)


def test_overlapping_tenancies_are_caught(mini):
    mini.dept("fgw")["ipv6"] = "fd62:0:1:7::/64"
    mini.dept("dsj")["ipv6"] = "fd62:0:1:7::/64"
    (line,) = lines(mini, "addressing")
    assert "overlaps fd62:0:1:7::/64 of sn-prov-" in line


def test_prefix_outside_its_region_is_caught(mini):
    mini.dept("fgw")["ipv4"] = "10.62.80.0/24"       # inside sn-xa's pool, not sn-prov's
    (line,) = lines(mini, "addressing")          # and sn-xa's own tenancy is allocated around it
    assert "sn-prov-fgw-v4: [addressing] 10.62.80.0/24 is outside region sn-prov's pools" in line


def test_attachment_to_an_unknown_router_is_caught(mini):
    mini.region("sn-xa")["attach"] = ["sn-xa-a", "sn-zz-b"]
    (line,) = lines(mini, "attachment")
    assert "sn-xa: [attachment] router sn-zz-b is not in backbone plan shaanxi" in line


def test_default_group_rules(mini):
    model, records, _ = offline(mini)
    vm = next(r for r in records if r.type == policy.T_VM)
    vm.inputs["securityGroups"] = ["default"]
    sg = next(r for r in records if r.type == policy.T_SG)
    sg.inputs["deleteDefaultRules"] = False
    found = policy.default_group(policy.Index(records, model))
    assert {v.resource for v in found} == {vm.name, sg.name}


def test_every_check_runs_on_a_clean_stack(mini):
    _, records, violations = offline(mini)
    assert violations == []
    assert set(policy.CHECKS) == {"dual-stack", "dr-replicas", "admin-ports", "default-group", "quotas", "names",
                                  "addressing", "attachment"}
    assert isinstance(records[0], Record)

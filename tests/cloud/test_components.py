"""Each component under Pulumi's mocks: how many resources, and the properties that matter."""

from __future__ import annotations

import ipaddress
import json
from collections import Counter

import pytest

from egov.cloud import gbt20988
from egov.cloud.config import DEFAULT_FLAVORS
from egov.cloud.mockrun import Record, mock_id

from .stackkit import MiniStack, offline

T = "openstack:"


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    stack = MiniStack(tmp_path_factory.mktemp("mini"))
    model, records, violations = offline(stack)
    return model, records, violations


def under(records: list[Record], parent: str) -> list[Record]:
    return [r for r in records if r.parent_name == parent]


def by_name(records: list[Record]) -> dict[str, Record]:
    return {r.name: r for r in records}


def kinds(records: list[Record]) -> Counter[str]:
    return Counter(r.type.rsplit(":", 1)[-1] for r in records)


def test_the_mini_stack_is_clean(planned):
    _, _, violations = planned
    assert violations == []


def test_cloud_region(planned):
    model, records, _ = planned
    mine = under(records, "sn-prov")
    own = [r for r in mine if r.type.startswith(T) or r.type.startswith("pulumi:providers")]
    c = kinds(own)
    assert c["openstack"] == 1 and c["Flavor"] == len(DEFAULT_FLAVORS) and c["VolumeTypeV3"] == 3
    assert c["Network"] == 1 and c["Subnet"] == 2
    names = by_name(mine)
    assert names["sn-prov-admin"].inputs["cloud"] == "egov-sn-prov"
    assert names["sn-prov-admin"].inputs["authUrl"].startswith("https://keystone.sn-prov")
    specs = names["sn-prov-vt-replicated-sync"].inputs["extraSpecs"]
    assert specs["replication_enabled"] == "<is> True" and specs["replication_type"] == "<in> sync"
    net = names["sn-prov-extranet"].inputs
    assert net["external"] is True and net["segments"][0]["segmentationId"] == 3001.0
    assert net["segments"][0]["networkType"] == "vlan"
    v4 = names["sn-prov-extranet-v4"].inputs
    assert v4["enableDhcp"] is False and v4["gatewayIp"] == "10.63.255.17"
    assert names["sn-prov-extranet-v6"].inputs["gatewayIp"] == "fd62:0:ff:1::1"
    # every region hangs tenancies below it (home and DR)
    assert {r.name for r in records if r.type == "egov:cloud:Tenancy" and r.parent_name == "sn-prov-ic"} == {
        t for t in model.tenancies if t.startswith("sn-prov-ic-")}


def test_tenancy(planned):
    model, records, _ = planned
    t = model.tenancies["sn-prov-fgw"]
    mine = under(records, "sn-prov-fgw")
    c = kinds(mine)
    assert c == Counter({"Project": 1, "RoleAssignment": 1, "openstack": 1, "QuotaSetV2": 1, "QuotaV2": 1,
                         "QuoteSetV3": 1, "Network": 1, "Subnet": 2, "Router": 1, "RouterInterface": 2,
                         "SecGroup": 1, "SecGroupRule": c["SecGroupRule"], "ServerGroup": 1, "Container": 1})
    n = by_name(mine)
    pid = mock_id("sn-prov-fgw-project")
    assert n["sn-prov-fgw-project"].inputs["tags"] == ["region=sn-prov", "kind=provincial", "department=fgw",
                                                       "role=primary"]
    assert n["sn-prov-fgw-provider"].inputs["tenantId"] == pid
    q = t.quota
    assert n["sn-prov-fgw-quota-compute"].inputs["cores"] == q.cores
    assert n["sn-prov-fgw-quota-compute"].inputs["ram"] == q.ram_mb
    assert n["sn-prov-fgw-quota-volume"].inputs["gigabytes"] == q.gigabytes
    assert n["sn-prov-fgw-quota-network"].inputs["floatingip"] == 0
    v6 = n["sn-prov-fgw-v6"].inputs
    assert v6["ipVersion"] == 6 and v6["ipv6AddressMode"] == v6["ipv6RaMode"] == "dhcpv6-stateful"
    assert ipaddress.ip_network(v6["cidr"]).prefixlen == 64
    assert n["sn-prov-fgw-v4"].inputs["dnsNameservers"] == ["10.60.0.53"]
    router = n["sn-prov-fgw-router"].inputs
    assert router["enableSnat"] is False and router["externalNetworkId"] == mock_id("sn-prov-extranet")
    assert {r.inputs["subnetId"] for r in mine if r.type.endswith("RouterInterface")} == {
        mock_id("sn-prov-fgw-v4"), mock_id("sn-prov-fgw-v6")}
    assert n["sn-prov-fgw-base"].inputs["deleteDefaultRules"] is True
    vault = n["sn-prov-fgw-vault"].inputs
    assert vault["versioning"] is True
    assert vault["containerSyncTo"] == f"//egov/sn-yl/AUTH_{mock_id('sn-yl-backup-project')}/sn-yl-backup-fgw"


def test_security_rules_deny_inbound_by_default(planned):
    _, records, _ = planned
    rules = [r.inputs for r in under(records, "sn-prov-fgw") if r.type.endswith("SecGroupRule")]
    ingress = [r for r in rules if r["direction"] == "ingress"]
    ssh = [r for r in ingress if r.get("portRangeMin") == 22]
    assert {r["remoteIpPrefix"] for r in ssh} == {"10.60.0.0/24", "fd61:0:fffe::/64"}
    assert all(r.get("remoteIpPrefix") for r in ingress)   # every inbound rule names its source
    open_world = [r for r in ingress if r["remoteIpPrefix"] in ("0.0.0.0/0", "::/0")]
    assert open_world == []
    assert {r["remoteIpPrefix"] for r in ingress if r.get("portRangeMin") == 443} == {"10.0.0.0/8", "fd00::/8"}
    assert {r["ethertype"] for r in rules if r["direction"] == "egress"} == {"IPv4", "IPv6"}


def test_dr_component(planned):
    model, records, _ = planned
    mine = under(records, "dr")
    c = kinds(mine)
    assert c["Project"] == 1 and c["openstack"] == 1
    assert c["Container"] == len(model.layout.departments)
    assert c["ContainerObject"] == len(model.layout.departments)
    manifest = json.loads(by_name(mine)["sn-prov-fgw-dr-manifest"].inputs["content"])
    assert manifest["offsite"] == "sn-yl-backup-fgw"
    entries = {s["system"]: s for s in manifest["systems"]}
    assert set(entries) == {f"fgw-000{i}" for i in range(1, 7)}
    for e in entries.values():
        lv = gbt20988.LEVELS[e["dr_level"]]
        assert (e["rpo"], e["rto"]) == (lv.rpo, lv.rto)
        assert len(e["standby"]) == lv.replicas
    assert entries["fgw-0006"]["replication"]["mode"] == "sync" and entries["fgw-0006"]["rpo"] == "0"
    assert [s["centre"] for s in entries["fgw-0005"]["standby"]] == ["same_city", "remote"]
    assert entries["fgw-0001"]["backup"]["cron"] == "0 1 * * 0"


def test_migration_waves(planned):
    model, records, _ = planned
    waves = [r for r in records if r.type == "egov:cloud:MigrationWave"]
    assert [w.name for w in waves] == [f"wave-{i:02d}" for i in range(1, len(model.waves) + 1)]
    vms = [r for r in records if r.type.endswith("compute/instance:Instance")]
    primaries = [v for v in vms if v.inputs["metadata"]["egov-role"] == "primary"]
    standby = [v for v in vms if v.inputs["metadata"]["egov-role"] == "standby"]
    assert len(primaries) == len(model.placements)
    expected = sum(p.level.replicas for p in model.placements if p.level.standby == "instance")
    assert len(standby) == expected
    vols = [r for r in records if r.type.endswith("blockstorage/volume:Volume")]
    assert len(vols) == sum(p.level.replicas for p in model.placements if p.level.standby == "volume")
    n = by_name(vms)
    p4 = n["sn-prov-ic-fgw-0004"].inputs
    assert p4["powerState"] == "shutoff" and p4["metadata"]["egov-primary-region"] == "sn-prov"
    assert n["sn-yl-fgw-0006"].inputs["powerState"] == "active"
    vm = n["sn-prov-fgw-0006"].inputs
    assert vm["flavorName"] == "c8m32"                # 6 vCPU / 20 GB rounds up to a flavor
    boot, data = vm["blockDevices"]
    assert boot["sourceType"] == "image" and boot["bootIndex"] == 0 and boot["volumeSize"] == 40
    assert data["sourceType"] == "blank" and data["volumeType"] == "replicated-sync" and data["volumeSize"] == 300
    assert data["deleteOnTermination"] is False
    assert vm["securityGroups"] == ["sn-prov-fgw-base"]
    assert vm["metadata"]["egov-rpo"] == "0" and vm["metadata"]["egov-wave"] == str(model.placements[7].wave)
    assert all(w.parent_name == f"wave-{int(w.inputs['metadata']['egov-wave']):02d}" for w in vms)


def test_external_region_adds_no_platform(tmp_path):
    stack = MiniStack(tmp_path)
    r = stack.region("sn-yl")
    r["external"] = True
    r.pop("uplink")
    r["attach"] = []
    _, records, violations = offline(stack)
    assert violations == []
    own = [x for x in under(records, "sn-yl") if not x.type.startswith("egov:")]
    assert [x.name for x in own] == ["sn-yl-admin"]      # provider only; flavors, volume types, network are theirs


def test_fast_runner_registers_what_the_stock_mocks_do(tmp_path):
    from egov.cloud.mockrun import run_offline
    from egov.cloud.plan import load_model
    from egov.cloud.program import deploy

    stack = MiniStack(tmp_path)
    stack.write()
    model, _ = load_model(str(stack.path), stack.catalogue)
    fast = run_offline(lambda: deploy(model))
    slow = run_offline(lambda: deploy(model), fast=False)
    key = lambda r: (r.type, r.name, json.dumps(r.inputs, sort_keys=True), r.custom)
    assert sorted(map(key, fast)) == sorted(map(key, slow))


def test_shards_merge_to_the_single_run(tmp_path):
    from egov.cloud.mockrun import run_offline
    from egov.cloud.plan import load_model
    from egov.cloud.program import deploy
    from egov.cloud.shard import ShardedRun

    stack = MiniStack(tmp_path)
    stack.write()
    model, _ = load_model(str(stack.path), stack.catalogue)
    one = run_offline(lambda: deploy(model))
    two = ShardedRun(model, str(stack.path), stack.catalogue, 2).start().collect()
    key = lambda r: (r.type, r.name, json.dumps(r.inputs, sort_keys=True))
    assert sorted(map(key, one)) == sorted(map(key, two))


def test_expected_count_matches_the_program(planned):
    from egov.cloud.plan import expected_records

    model, records, _ = planned
    assert expected_records(model) == len(records)

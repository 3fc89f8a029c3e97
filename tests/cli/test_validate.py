"""Every class of bad input: one line naming file, field and fix; exit 1; nothing written; no traceback."""

from __future__ import annotations

import pytest

from conftest import dump, egov, load


def _county(data, city, county):
    c = next(c for c in data["root"]["city"] if c["id"] == city)
    return next(x for x in c["county"] if x["id"] == county)


def single_uplink(d):
    _county(d, "xa", "yt")["uplinks"] = 1


def slow_township(d):
    _county(d, "bj", "jt")["township"][0]["bandwidth"] = "100M"


def no_ipv6(d):
    _county(d, "xa", "ca")["ipv6"] = False


def overlapping_pools(d):
    d["pools"]["p2p"]["ipv4"] = ["10.255.0.0/23"]


def exhausted_pool(d):
    d["pools"]["loopback"]["ipv4"] = ["10.255.0.0/29"]


def duplicate_site(d):
    c = next(c for c in d["root"]["city"] if c["id"] == "bj")
    c["county"][1]["id"] = "jt"


def unknown_platform(d):
    d["tiers"]["county"]["platform"] = "huawei"


def bad_bandwidth(d):
    d["tiers"]["county"]["bandwidth"] = "fast"


def unknown_field(d):
    d["tiers"]["county"]["bandwith"] = "2G"


def frr_level1_border(d):
    d["tiers"]["city"]["isis_level"] = "level-1-2"
    d["tiers"]["county"]["isis_level"] = "level-1"
    d["tiers"]["township"]["isis_level"] = "level-1"


def lsp_lifetime(d):
    d["igp"]["max_lsp_lifetime"] = 1000


# --- issue 7: free text that would break out of its config line, unsafe or absurd values ---------

def newline_in_location(d):
    d["services"]["snmp"]["location"] = "lab\nrocommunity public default"


def nul_in_contact(d):
    d["services"]["snmp"]["contact"] = "noc\x00@lab"


def newline_in_site_name(d):
    _county(d, "xa", "yt")["name"] = "Yanta\nusername evil privilege 15 secret 0 x"


def bidi_in_site_name(d):
    _county(d, "bj", "jt")["name"] = "Jintai\u202e"


def newline_in_domain(d):
    d["services"]["domain"] = "lab.egov.local\nip http server"


def newline_in_id_prefix(d):
    d["tiers"]["county"]["id_prefix"] = "x\nusername"


def newline_in_tier_description(d):
    d["tiers"]["city"]["description"] = "city pair\r\nline two"


def help_char_in_location(d):
    d["services"]["snmp"]["location"] = "Xi'an, room 3?"


def long_chinese_location(d):
    d["services"]["snmp"]["location"] = "陕西省西安市雁塔区" * 12  # 108 characters, 324 octets in UTF-8


def unknown_timezone(d):
    d["services"]["timezone"] = "Europe/Moon"


def no_mgmt_acl(d):
    del d["services"]["mgmt_acl"]


def empty_mgmt_acl(d):
    d["services"]["mgmt_acl"] = []


def p2p_pool_host_route(d):
    d["pools"]["p2p"]["ipv4"] = ["10.0.0.1/32"]


def p2p_pool_v6_host_route(d):
    d["pools"]["p2p"]["ipv6"] = ["fd00:0:1::1/128"]


def pool_as_integer(d):
    d["pools"]["loopback"]["ipv4"] = [5]


def pool_with_host_bits(d):
    d["pools"]["p2p"]["ipv4"] = ["10.0.0.1/24"]


def negative_count(d):
    _county(d, "xa", "yt")["township"] = {"count": -2}


def negative_child_total(d):
    d["root"]["city"][1]["county"] = {"count": 2, "township": -3}


def absurd_child_total(d):
    d["root"]["city"][1]["county"] = {"count": 2, "township": 10**9}


def absurd_total_sites(d):
    d["root"]["city"][0]["county"] = {"count": 30000, "township": 30000}
    d["root"]["city"][1]["county"] = {"count": 30000, "township": 30000}


def gateway_outside_pool(d):
    d["pools"]["mgmt"]["gateway4"] = "10.9.9.9"


def gateway_is_network_address(d):
    d["pools"]["mgmt"]["gateway4"] = "172.30.0.0"


def vendor_without_vrf(d):
    d["tiers"]["county"]["platform"] = "huawei_vrp"


CASES = [
    # (mutation, expected line fragments)
    (newline_in_location, ["services.snmp.location: contains U+000A (line feed); free text must be one printable "
                           "line; fix: remove the control character"]),
    (nul_in_contact, ["services.snmp.contact: contains U+0000 (null)"]),
    (newline_in_site_name, ["root.city[0].county[0].name: contains U+000A"]),
    (bidi_in_site_name, ["root.city[1].county[0].name: contains U+202E (right-to-left override)"]),
    (newline_in_domain, ["services.domain: String should match pattern",
                         "fix: give a DNS domain like egov.local"]),
    (newline_in_id_prefix, ["tiers.county.id_prefix: String should match pattern"]),
    (newline_in_tier_description, ["tiers.city.description: contains U+000D (carriage return)"]),
    (help_char_in_location, ["services.snmp.location: contains '?', which frr's CLI reads as a command"]),
    (long_chinese_location, ["services.snmp.location: is 324 octets on frr (after transliteration), over its "
                             "limit of 255"]),
    (unknown_timezone, ["services.timezone: Input should be 'Asia/Shanghai' or 'UTC'"]),
    (no_mgmt_acl, ["services.mgmt_acl: Field required; fix: list the prefixes that may reach SSH and SNMP"]),
    (empty_mgmt_acl, ["services.mgmt_acl: List should have at least 1 item", "would lock everyone out"]),
    (p2p_pool_host_route, ["pools.p2p: ipv4 prefix 10.0.0.1/32 is smaller than one /31 link"]),
    (p2p_pool_v6_host_route, ["pools.p2p: ipv6 prefix fd00:0:1::1/128 is smaller than one /127 link"]),
    (pool_as_integer, ["pools.loopback.ipv4[0]: 5 is not a string; fix: write the value as a quoted string"]),
    (pool_with_host_bits, ["pools.p2p.ipv4[0]: ", "fix: give an IPv4 prefix with host bits zero"]),
    (negative_count, ["root.city[0].county[0].township.count: Input should be greater than or equal to 0"]),
    (negative_child_total, ["root.city[1].county.township: Input should be greater than or equal to 0"]),
    (absurd_child_total, ["root.city[1].county.township: Input should be less than or equal to 100000"]),
    (absurd_total_sites, ["the plan grows past 50,000 sites here; fix: check the counts"]),
    (gateway_outside_pool, ["pools.mgmt.gateway4: 10.9.9.9 is outside pools.mgmt.ipv4 (172.30.0.0/16)"]),
    (gateway_is_network_address, ["pools.mgmt.gateway4: 172.30.0.0 is the network address of 172.30.0.0/16"]),
    (vendor_without_vrf, ["pools.mgmt.vrf: huawei_vrp routers keep management in a VRF, and none is set"]),
    (single_uplink, ["lab.yaml:", "root.city[0].county[0].uplinks: sn-xa-yt has 1 uplink; every router must be "
                     "dual-homed; fix: set uplinks: 2"]),
    (slow_township, ["root.city[1].county[0].township[0].bandwidth: link sn-bj-jt~sn-bj-jt-t001 is 100M, below "
                     "tier township's 200M; fix: raise it to at least 200M"]),
    (no_ipv6, ["root.city[0].county[1].ipv6: sn-xa-ca eth1 (to sn-xa-a) has no IPv6; fix: set ipv6: true"]),
    (overlapping_pools, ["pools.p2p.ipv4: 10.255.0.0/23 overlaps 10.255.0.0/24 in pools.loopback.ipv4; fix: give "
                         "each pool its own"]),
    (exhausted_pool, ["pools.loopback.ipv4: pool exhausted: 9 more /32 needed; fix: add a prefix to "
                      "pools.loopback.ipv4"]),
    (duplicate_site, ["root.city[1].county[1].id: duplicate site id 'jt' under sn/bj; fix: give each sibling site "
                      "a unique id"]),
    (unknown_platform, ["tiers.county.platform: unknown platform 'huawei'; fix: use one of: frr, huawei_vrp, "
                        "h3c_comware, cisco_iosxe, juniper_junos"]),
    (bad_bandwidth, ["tiers.county.bandwidth: bandwidth 'fast' is not like 10G, 2G, 200M; fix: correct the value"]),
    (frr_level1_border, ["tiers.city.isis_level: sn-xa-a runs FRR 8.4 as a level-1/level-2 border"]),
    (lsp_lifetime, ["igp: max_lsp_lifetime must be at least lsp_refresh_interval + 300 seconds; fix: correct"]),
    (unknown_field, ["tiers.county.bandwith: unknown field; fix: remove it or check its spelling"]),
]


def _assert_clean_failure(r, tmp_path, before):
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written (no lock, no output)


@pytest.mark.parametrize("mutate,fragments", CASES, ids=[c[0].__name__ for c in CASES])
@pytest.mark.parametrize("command", [["plan", "validate"], ["render", "--dry-run", "--out", "OUT"]])
def test_bad_plan(lab_yaml, tmp_path, mutate, fragments, command):
    data = load(lab_yaml)
    mutate(data)
    dump(lab_yaml, data)
    lock = lab_yaml.with_name("lab.lock.json")
    lock_before = lock.read_bytes()
    before = sorted(p.name for p in tmp_path.iterdir())
    cmd = [str(tmp_path / "out") if c == "OUT" else c for c in command]
    r = egov(*cmd, "--profile", str(lab_yaml))
    _assert_clean_failure(r, tmp_path, before)
    assert lock.read_bytes() == lock_before
    lines = r.stderr.strip().splitlines()
    for frag in fragments:
        hits = [line for line in lines if frag in line]
        assert hits, f"{frag!r} not in:\n{r.stderr}"
        assert str(lab_yaml.name) in hits[0] and "fix:" in hits[0]


def test_all_violations_reported_at_once(lab_yaml, tmp_path):
    data = load(lab_yaml)
    for mutate in (single_uplink, slow_township, no_ipv6, overlapping_pools, unknown_platform):
        mutate(data)
    dump(lab_yaml, data)
    r = egov("plan", "validate", "--profile", str(lab_yaml))
    assert r.returncode == 1
    for frag in ("uplinks:", "bandwidth:", "has no IPv6", "overlaps", "unknown platform"):
        assert frag in r.stderr, frag
    problems = [line for line in r.stderr.splitlines() if "fix:" in line]
    assert len(problems) >= 5 and all(line.count("fix:") == 1 for line in problems)


def test_malformed_yaml(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("name: broken\ntiers:\n  core: {platform: frr\n  city: [\n")
    r = egov("plan", "validate", "--profile", str(p))
    _assert_clean_failure(r, tmp_path, ["broken.yaml"])
    line = r.stderr.strip().splitlines()[0]
    assert line.startswith(str(p)) or "broken.yaml:" in line
    assert "malformed YAML" in line and "fix: fix the YAML syntax at that line" in line
    assert "broken.yaml:4:" in line or "broken.yaml:5:" in line


def test_duplicate_yaml_key(lab_yaml, tmp_path):
    text = lab_yaml.read_text().replace("name: lab\n", "name: lab\nname: lab2\n", 1)
    lab_yaml.write_text(text)
    before = sorted(x.name for x in tmp_path.iterdir())
    r = egov("plan", "validate", "--profile", str(lab_yaml))
    _assert_clean_failure(r, tmp_path, before)
    assert "lab.yaml:4: name: duplicate key; fix: keep one of the two entries" in r.stderr


def test_missing_profile_file(tmp_path):
    r = egov("plan", "validate", "--profile", str(tmp_path / "nope.yaml"))
    assert r.returncode == 1 and "profile file not found; fix:" in r.stderr and "Traceback" not in r.stderr


def test_valid_profile_passes():
    r = egov("plan", "validate", "--profile", "lab")
    assert r.returncode == 0, r.stderr
    assert "valid: 15 routers, 29 links" in r.stdout

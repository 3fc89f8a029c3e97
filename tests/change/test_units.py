"""Change pipeline pieces that need no router: batching, masking, journal, backup store, post-check plans."""

from __future__ import annotations

import sqlite3
import time

import pytest

from egov.change.backup import BackupStore
from egov.change.expect import validation
from egov.change.journal import Journal
from egov.change.mask import MASK, mask
from egov.change.runner import rollout
from napalm_frr.pending import PendingStore
from egov.topology.validate import build_plan


def test_rollout_canary_then_batches_wave_by_wave():
    waves = [("province", ["a", "b"]), ("city", ["c1", "c2", "c3", "c4", "c5"]), ("county", ["x1"])]
    assert rollout(waves, batch=2, canary=1) == [
        ("province", [["a"], ["b"]]),
        ("city", [["c1", "c2"], ["c3", "c4"], ["c5"]]),
        ("county", [["x1"]]),
    ]
    assert rollout(waves, batch=10, canary=0)[1] == ("city", [["c1", "c2", "c3", "c4", "c5"]])


@pytest.mark.parametrize("line,secret", [
    ('createUser egov-nms SHA-256 "authkey123" AES "privkey123"', "authkey123"),
    ("snmp-agent usm-user v3 egov-nms authentication-mode sha2-256 cipher Auth-Secret-1", "Auth-Secret-1"),
    ("local-user netops password irreversible-cipher Admin-Pass-1", "Admin-Pass-1"),
    ("username netops privilege 15 algorithm-type scrypt secret Admin-Pass-2", "Admin-Pass-2"),
    ("username netops secret 9 $9$abcdefgh$xyz", "$9$abcdefgh$xyz"),
    ('                        authentication-password "Junos-Auth-1";', "Junos-Auth-1"),
    ("snmp-server user egov-nms EGOV v3 auth sha-2 256 Ios-Auth-1 priv aes 128 Ios-Priv-1", "Ios-Auth-1"),
])
def test_mask_hides_secret_positions(line, secret):
    out = mask(line)
    assert secret not in out and MASK in out


def test_mask_known_values_anywhere():
    assert mask("description key=supersecret9 here", ["supersecret9"]) == f"description key={MASK} here"
    assert mask("interface eth1\n ip address 10.0.0.0/31\n") == "interface eth1\n ip address 10.0.0.0/31\n"


def test_pending_commits_are_the_drivers_and_the_journal_reads_them(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    store = PendingStore(j.pending_path)  # what the driver gets as optional_args["pending_store"]
    assert j.pending("r1") is None
    store.record("r1", "c1", 1, "rollback text")
    p = j.pending("r1")
    assert p.change_id == "c1" and p.rollback == "rollback text" and not p.expired
    time.sleep(1.1)
    assert j.pending("r1").expired
    assert store.clear("r1", "reverted").change_id == "c1"
    assert j.pending("r1") is None and j.history("r1") == [("c1", "reverted")]
    assert store.clear("r1", "confirmed") is None


def test_journal_audit_log_and_atomicity(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    j.start_change("c9", "apply", "lab", who="tester")
    j.device_result("c9", "sn-a", "changed", "+ isis metric 600", wave="province")
    j.device_result("c9", "sn-b", "failed", error="commit failed: x", wave="province")
    j.finish_change("c9", "failed", {"changed": 1, "failed": 1})
    c = j.change("c9")
    assert c["who"] == "tester" and c["result"] == "failed" and c["window_start"] and c["window_end"]
    assert [(d["device"], d["status"]) for d in c["devices"]] == [("sn-a", "changed"), ("sn-b", "failed")]
    assert j.last_change("apply")["id"] == "c9"
    # a failing write leaves nothing half-written
    with pytest.raises(sqlite3.IntegrityError), j._db() as db:
        db.execute("INSERT INTO change_device VALUES ('c9','sn-c','','ok','','','now')")
        db.execute("INSERT INTO change (id) VALUES (NULL)")
    assert "sn-c" not in j.device_statuses("c9")


def test_backup_store_versions(tmp_path):
    store = BackupStore(tmp_path / "b")
    first = store.save({"r1": "hostname r1\n", "r2": "hostname r2\n"}, "run 1")
    second = store.save({"r1": "hostname r1\n!\ninterface eth1\n"}, "run 2")
    assert first != second and store.save({"r1": "hostname r1\n!\ninterface eth1\n"}, "run 3") == second
    assert store.get("r1", first) == "hostname r1\n" and "eth1" in store.get("r1")
    assert [m for _, m in store.log("r1")] == ["run 2", "run 1"]
    assert (tmp_path / "b" / "r1.cfg").stat().st_mode & 0o777 == 0o600


def _by_getter(doc):
    return {(g, e.get("_name", g)): e for entry in doc for g, e in entry.items()}


def _isis_peers(doc):
    isis = _by_getter(doc).get(("get_isis_neighbors", "get_isis_neighbors"), {})
    return {v["neighbor"].strip("^$").replace("\\", "") for k, v in isis.items() if k != "_mode"}


def test_validation_document_follows_configured_peers():
    topo = build_plan("lab").topology
    early = validation(topo, "sn-xa-a", configured={"sn-a"})
    assert _isis_peers(early) == {"sn-a"}
    assert ("ping", f"ping {topo.nodes['sn-a'].loopback6.ip}") in _by_getter(early)
    full = validation(topo, "sn-xa-a")
    assert _isis_peers(full) == {"sn-a", "sn-b", "sn-xa-b", "sn-xa-yt", "sn-xa-ca"}
    assert set(_by_getter(full)[("get_interfaces", "get_interfaces")]) == {
        i.name for i in topo.nodes["sn-xa-a"].interfaces}
    assert ("ping", f"ping {topo.nodes['sn-b'].loopback4.ip}") in _by_getter(full)
    assert _by_getter(full)[("get_isis_neighbors", "get_isis_neighbors")]["_mode"] == "strict"


def test_validation_document_runs_on_napalm_mock_style_data():
    """The document compares with NAPALM's own compare: a planned adjacency missing fails, an extra one
    too (strict), and addresses compare exactly."""
    from egov.change.verify import check_once

    topo = build_plan("lab").topology
    node = topo.nodes["sn-xa-a"]
    doc = validation(topo, "sn-xa-a", configured={"sn-a"})

    class Device:
        def get_interfaces(self):
            return {i.name: {"is_up": True} for i in node.interfaces} | {"lo": {"is_up": True}}

        def get_interfaces_ip(self):
            return {i.name: {f: {str(a.ip): {"prefix_length": a.network.prefixlen}}
                             for f, a in (("ipv4", i.ipv4), ("ipv6", i.ipv6)) if a} for i in node.interfaces}

        def get_isis_neighbors(self):
            return {i.name: {"neighbor": i.peer, "state": "Up"} for i in node.interfaces if i.peer == "sn-a"}

        def get_bfd_peers(self):
            return [{"interface": i.name, "status": "up"} for i in node.interfaces if i.peer == "sn-a"]

        def ping(self, destination, **_kw):
            return {"success": {"probes_sent": 2, "packet_loss": 1}}

    checks = check_once(Device(), doc)
    assert all(c["complies"] for c in checks), [c for c in checks if not c["complies"]]
    # mid-rollout, adjacencies to routers not yet done are fine; once every peer is expected, an
    # adjacency the plan does not have fails (strict)
    extra = Device()
    extra.get_isis_neighbors = lambda: {i.name: {"neighbor": i.peer, "state": "Up"} for i in node.interfaces} | {
        "eth99": {"neighbor": "rogue", "state": "Up"}}
    assert all(c["complies"] for c in check_once(extra, doc) if c["check"] == "isis")
    bad = [c for c in check_once(extra, validation(topo, "sn-xa-a")) if c["check"] == "isis" and not c["complies"]]
    assert len(bad) == 1 and bad[0]["detail"] == "extra eth99"


def test_playbooks_parse_for_plain_ansible(tmp_path):
    """Every playbook passes ansible-playbook's syntax check with the exported inventory (AWX-style use)."""
    import subprocess
    import sys
    from pathlib import Path

    from conftest import ROOT, egov

    inv = tmp_path / "hosts.yml"
    assert egov("inventory", "export", "--profile", "lab", "--out", str(inv), "--frozen").returncode == 0
    books = sorted((ROOT / "playbooks").glob("*.yml"))
    assert {b.stem for b in books} >= {"device", "backup", "plan", "apply", "verify", "rollback", "show"}
    exe = Path(sys.executable).with_name("ansible-playbook")
    r = subprocess.run([str(exe), "--syntax-check", "-i", str(inv), *map(str, books)], capture_output=True, text=True,
                       cwd=ROOT / "playbooks", timeout=120,
                       env={"PATH": f"{exe.parent}:/usr/bin:/bin", "HOME": str(tmp_path),
                            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "t")})
    assert r.returncode == 0, r.stdout + r.stderr


def test_apply_after_a_plan_reads_each_running_config_once(tmp_path):
    """The plan shown before confirming holds the running configs: they become the pre-change backup
    (no backup action runs), and a device the plan could not read is never touched."""
    from egov.change.contract import result
    from egov.change.runner import Change, Endpoint
    from egov.render.secrets import placeholders

    plan = build_plan("lab")
    hosts = ["sn-a", "sn-b", "sn-xa-a"]
    eps = {h: Endpoint("192.0.2.1", 22, "u") for h in plan.topology.nodes}
    ch = Change(plan, eps, placeholders(), journal=Journal(tmp_path / "j.sqlite"),
                store=BackupStore(tmp_path / "backups"))
    calls: list[tuple[str, tuple[str, ...], bool]] = []

    def run_devices(action, cid, requests):
        calls.append((action, tuple(requests), any(r.with_config for r in requests.values())))
        if action == "plan":
            return {h: (result(h, "unreachable", "unreachable: gone") if h == "sn-b" else
                        result(h, "changed", "1 line(s) differ", config=f"hostname {h}\n")) for h in requests}
        return {h: result(h, "changed", "done") for h in requests}

    ch.run_devices = run_devices
    shown = ch.plan_diff(hosts, with_config=True)
    out = ch.apply(hosts, batch=5, canary=1, failure_budget=1, planned=shown)
    assert [c[0] for c in calls] == ["plan", "apply", "apply"] and calls[0][2]
    assert "sn-b" not in {h for c in calls[1:] for h in c[1]}
    assert out.results["sn-b"]["status"] == "failed"
    assert out.results["sn-b"]["msg"] == "not changed: no pre-change backup from this run (unreachable: gone)"
    pre = ch.journal.last_change("backup")
    assert {d["device"]: d["status"] for d in pre["devices"]} == {"sn-a": "ok", "sn-b": "unreachable",
                                                                   "sn-xa-a": "ok"}
    assert ch.store.get("sn-xa-a", ch.store.log("sn-xa-a")[0][0]) == "hostname sn-xa-a\n"

"""Change pipeline pieces that need no router: batching, masking, journal, backup store, post-check plans."""

from __future__ import annotations

import sqlite3
import time

import pytest

from egov.change.backup import BackupStore
from egov.change.expect import expectations
from egov.change.journal import Journal
from egov.change.mask import MASK, mask
from egov.change.runner import rollout
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


def test_journal_pending_commits(tmp_path):
    j = Journal(tmp_path / "j.sqlite")
    assert j.pending("r1") is None
    j.record_pending("r1", "c1", 1, "rollback text")
    p = j.pending("r1")
    assert p.change_id == "c1" and p.rollback == "rollback text" and not p.expired
    time.sleep(1.1)
    assert j.pending("r1").expired
    assert j.clear_pending("r1", "reverted").change_id == "c1"
    assert j.pending("r1") is None and j.history("r1") == [("c1", "reverted")]
    assert j.clear_pending("r1", "confirmed") is None


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
    with pytest.raises(sqlite3.IntegrityError):  # a failing write leaves nothing half-written
        with j._db() as db:
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


def test_expectations_follow_configured_peers():
    topo = build_plan("lab").topology
    early = expectations(topo, "sn-xa-a", configured={"sn-a"})
    assert set(early["isis"].values()) == {"sn-a"}
    assert str(topo.nodes["sn-a"].loopback6.ip) in early["ping"]
    full = expectations(topo, "sn-xa-a")
    assert set(full["isis"].values()) == {"sn-a", "sn-b", "sn-xa-b", "sn-xa-yt", "sn-xa-ca"}
    assert set(full["interfaces"]) == {i.name for i in topo.nodes["sn-xa-a"].interfaces}
    assert str(topo.nodes["sn-b"].loopback4.ip) in full["ping"]


def test_playbooks_parse_for_plain_ansible(tmp_path):
    """Every playbook passes ansible-playbook's syntax check with the exported inventory (AWX-style use)."""
    import subprocess
    import sys
    from pathlib import Path

    from conftest import ROOT, egov

    inv = tmp_path / "hosts.yml"
    assert egov("inventory", "export", "--profile", "lab", "--out", str(inv), "--frozen").returncode == 0
    books = sorted((ROOT / "playbooks").glob("*.yml"))
    assert {b.stem for b in books} >= {"backup", "plan", "apply", "verify", "rollback", "show"}
    exe = Path(sys.executable).with_name("ansible-playbook")
    r = subprocess.run([str(exe), "--syntax-check", "-i", str(inv), *map(str, books)], capture_output=True, text=True,
                       cwd=ROOT / "playbooks", timeout=120,
                       env={"PATH": f"{exe.parent}:/usr/bin:/bin", "HOME": str(tmp_path),
                            "ANSIBLE_LOCAL_TEMP": str(tmp_path / "t")})
    assert r.returncode == 0, r.stdout + r.stderr

"""``egov cloud`` as an operator runs it: the Shaanxi stack end to end, JSON shapes, exit codes, and
one line for whatever is missing when the real engine is asked for."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import yaml
from conftest import egov

from .stackkit import HEADER, SYSTEMS, write_catalogue


@pytest.mark.slow
def test_shaanxi_end_to_end():
    r = egov("cloud", "plan", "--stack", "shaanxi", "--json", "--frozen")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["stack"] == "shaanxi" and doc["backbone"] == "shaanxi" and doc["violations"] == []
    assert doc["systems"] == 1000 and doc["waves"] >= 10
    kinds = [reg["kind"] for reg in doc["regions"]]
    assert kinds.count("provincial") == 2 and kinds.count("municipal") == 11 and kinds.count("industry") == 5
    by_name = {reg["name"]: reg for reg in doc["regions"]}
    assert sum(reg["systems"] for reg in doc["regions"]) == 1000
    assert by_name["sn-prov"]["tenancies"] == 40 and by_name["sn-prov-ic"]["standby_tenancies"] == 45
    assert by_name["sn-yl"]["attach"] == ["sn-yl-a", "sn-yl-b"]
    res = doc["resources"]
    assert res["openstack:compute/instance:Instance"] > 1000
    assert res["egov:cloud:Tenancy"] == len(doc["tenancies"])
    assert res["openstack:networking/subnet:Subnet"] == 2 * res["openstack:networking/network:Network"]
    assert doc["total"] == sum(res.values())
    for reg in doc["regions"]:
        for k in ("vcpu", "ram_gb", "disk_gb"):
            assert reg["quota"][k] <= reg["capacity"][k]


def test_plan_tables_and_summary(mini):
    r = egov("cloud", "plan", "--stack", str(mini.path), "--catalogue", str(mini.catalogue))
    assert r.returncode == 0, r.stderr
    assert "resources by type" in r.stdout and "by region" in r.stdout and "by tenancy" in r.stdout
    assert "sn-prov-fgw" in r.stdout
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("mini: ") and "8 policy checks, 0 violations" in last
    assert r.stderr.startswith("lock: ") and "\x1b[" not in r.stderr and "planning" not in r.stderr


def test_violations_exit_1_one_line_each(mini):
    mini.dept("fgw")["ingress"] = [{"protocol": "tcp", "ports": "3389", "sources": ["0.0.0.0/0"]}]
    mini.dept("jyt")["ipv6_mode"] = "off"
    mini.write()
    r = egov("cloud", "plan", "--stack", str(mini.path), "--catalogue", str(mini.catalogue), "--json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert {v["check"] for v in doc["violations"]} == {"admin-ports", "dual-stack"}
    lines = [x for x in r.stderr.splitlines() if "[admin-ports]" in x or "[dual-stack]" in x]
    assert len(lines) == len(doc["violations"]) == 6
    assert all(x.startswith(str(mini.path) + ":") and "; fix: " in x for x in lines)
    assert r.stderr.strip().splitlines()[-1].endswith(")") and "6 violations" in r.stderr


def test_migrate_plan_json(mini):
    r = egov("cloud", "migrate", "plan", "--stack", str(mini.path), "--catalogue", str(mini.catalogue), "--json")
    assert r.returncode == 0, r.stderr
    waves = json.loads(r.stdout)
    assert isinstance(waves, list) and all(isinstance(w, list) for w in waves)
    systems = [s for w in waves for s in w]
    assert sorted(s["system"] for s in systems) == sorted(row[0] for row in SYSTEMS)
    first = {s["system"]: (i, s) for i, w in enumerate(waves) for s in w}
    for i, s in first.values():
        assert s["tenancy"] == f"{s['region']}-{s['department']}"
        assert all(first[d][0] <= i for d in s["depends_on"])
    assert first["fgw-0006"][1]["standby"] == ["sn-prov-ic-fgw", "sn-yl-fgw"]
    assert not mini.path.with_name("mini.lock.json").exists()     # migrate plan writes nothing


def test_migrate_plan_table(mini):
    r = egov("cloud", "migrate", "plan", "--stack", str(mini.path), "--catalogue", str(mini.catalogue))
    assert r.returncode == 0, r.stderr
    assert "migration waves" in r.stdout and r.stdout.strip().endswith("with its region and tenancy")


def test_bad_catalogue_row_plans_nothing(mini):
    rows = [list(x) for x in SYSTEMS]
    rows[4][1] = "nosuch"
    bad = write_catalogue(mini.dir / "bad.csv", rows)
    r = egov("cloud", "migrate", "plan", "--stack", str(mini.path), "--catalogue", str(bad), "--json")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.splitlines()[0] == (f"{bad}:6: department: unknown department 'nosuch'; fix: use a department "
                                        "id from egov:departments in the stack file")
    r = egov("cloud", "plan", "--stack", str(mini.path), "--catalogue", str(bad))
    assert r.returncode == 1 and "unknown department 'nosuch'" in r.stderr and r.stdout == ""


def test_missing_column_via_cli(mini):
    bad = write_catalogue(mini.dir / "bad.csv", [r[:7] for r in SYSTEMS], HEADER[:7])
    r = egov("cloud", "migrate", "plan", "--stack", str(mini.path), "--catalogue", str(bad))
    assert r.returncode == 1
    assert r.stderr.splitlines()[0].startswith(f"{bad}:1: current_room: missing column; fix:")


@pytest.mark.parametrize("op", ["preview", "up", "destroy"])
def test_engine_without_cli_or_credentials_is_one_line(op, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "EGOV_STATE_DIR": str(tmp_path / "state")}
    r = egov("cloud", op, "--stack", "shaanxi", env=env)
    assert r.returncode == 1 and r.stdout == ""
    (line,) = r.stderr.splitlines()
    assert line.startswith(f"egov cloud {op}: --stack shaanxi: missing: the pulumi CLI (not on PATH); "
                           "EGOV_PULUMI_PASSPHRASE")
    assert "OpenStack credentials (no clouds.yaml entry for egov-sn-prov" in line and "; fix: " in line


def fake_cli(tmp_path: Path) -> dict[str, str]:
    """A `pulumi` that reports a version and fails everything else, plus credentials and a passphrase."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    cli = bindir / "pulumi"
    cli.write_text("#!/bin/sh\nif [ \"$1\" = version ]; then echo v3.272.0; exit 0; fi\n"
                   "echo 'error: failed to load the backend: ENGINE-SAYS-NO' >&2\nexit 255\n")
    cli.chmod(cli.stat().st_mode | stat.S_IEXEC)
    clouds = {"clouds": {f"egov-{r}": {"auth": {}} for r in ("ga-cloud", "ga-cloud-b", "sc-dr")}}
    (tmp_path / "clouds.yaml").write_text(yaml.safe_dump(clouds))
    return {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(tmp_path), "OS_CLIENT_CONFIG_FILE": str(tmp_path / "clouds.yaml"),
            "EGOV_PULUMI_PASSPHRASE": "correct-horse-battery-staple", "EGOV_STATE_DIR": str(tmp_path / "state")}


def test_engine_needs_the_vault_key_and_yes(tmp_path):
    env = fake_cli(tmp_path)
    r = egov("cloud", "up", "--stack", "guangan", env=env)
    (line,) = r.stderr.splitlines()
    assert r.returncode == 1 and "missing: the vaults' container-sync key (egov:vault_sync_key" in line
    r = egov("cloud", "destroy", "--stack", "guangan", env=env)
    (line,) = r.stderr.splitlines()
    assert r.returncode == 1 and line.startswith("egov cloud destroy: --yes: destroy changes the clouds")


def test_engine_failure_is_one_line_and_keeps_the_passphrase_secret(tmp_path):
    env = fake_cli(tmp_path)
    r = egov("cloud", "destroy", "--stack", "guangan", "--yes", env=env)
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("egov cloud destroy: --stack guangan: pulumi failed:") and "ENGINE-SAYS-NO" in last
    assert env["EGOV_PULUMI_PASSPHRASE"] not in r.stdout + r.stderr
    assert (tmp_path / "state" / "pulumi").is_dir()                 # the local file backend
    assert os.environ.get("PULUMI_CONFIG_PASSPHRASE") is None

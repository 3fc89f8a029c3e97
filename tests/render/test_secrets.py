"""Secrets come from the environment or an Ansible Vault, are never printed, and are required."""

from __future__ import annotations

import stat
import subprocess

import pytest
import yaml

from conftest import egov
from egov.errors import EgovError
from egov.render.secrets import load_secrets

GOOD = {"EGOV_SNMP_AUTH_KEY": "auth-key-for-tests", "EGOV_SNMP_PRIV_KEY": "priv-key-for-tests",
        "EGOV_ADMIN_PASSWORD": "admin-pass-for-tests"}


def _vault(tmp_path, data: dict, password: bytes = b"vault-pass"):
    from ansible.constants import DEFAULT_VAULT_ID_MATCH
    from ansible.parsing.vault import VaultLib, VaultSecret

    vault = tmp_path / "secrets.vault.yml"
    vault.write_bytes(VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(password))]).encrypt(yaml.safe_dump(data)))
    pw = tmp_path / "pw.txt"
    pw.write_bytes(password + b"\n")
    return vault, pw


def test_missing_secrets_fail_in_one_line_and_write_nothing(tmp_path):
    out = tmp_path / "out"
    r = egov("render", "--profile", "lab", "--out", str(out))
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0] == ("secrets: snmp_auth_key,snmp_priv_key,admin_password: not set (EGOV_SNMP_AUTH_KEY, "
                        "EGOV_SNMP_PRIV_KEY, EGOV_ADMIN_PASSWORD); fix: export them, pass --vault FILE, or use "
                        "--dry-run for marked placeholders")
    assert not out.exists()


def test_env_secrets_render_private_files(tmp_path):
    out = tmp_path / "out"
    r = egov("render", "--profile", "lab", "--out", str(out), env=GOOD)
    assert r.returncode == 0, r.stderr
    for f in out.rglob("*"):
        if f.is_file() and f.name != ".egov-render.json":
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    text = "\n".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert GOOD["EGOV_SNMP_AUTH_KEY"] in text and "EGOV-PLACEHOLDER" not in text
    for v in GOOD.values():
        assert v not in r.stdout + r.stderr


def test_dry_run_uses_marked_placeholders(tmp_path):
    out = tmp_path / "out"
    r = egov("render", "--profile", "lab", "--out", str(out), "--dry-run")
    assert r.returncode == 0, r.stderr
    text = "\n".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert "EGOV-PLACEHOLDER-snmp_auth_key" in text
    assert "placeholder" in r.stdout.lower()


def test_vault_secrets(tmp_path):
    vault, pw = _vault(tmp_path, {"snmp_auth_key": "vault-auth-key", "snmp_priv_key": "vault-priv-key",
                                  "admin_password": "vault-admin-pw"})
    s = load_secrets(vault, pw)
    assert (s.snmp_auth_key, s.snmp_priv_key, s.admin_password) == ("vault-auth-key", "vault-priv-key",
                                                                     "vault-admin-pw")
    assert "vault-auth-key" not in repr(s)
    out = tmp_path / "out"
    r = egov("render", "--profile", "lab", "--out", str(out), "--vault", str(vault), "--vault-password-file", str(pw))
    assert r.returncode == 0, r.stderr
    assert "vault-auth-key" in "\n".join(p.read_text() for p in out.rglob("*") if p.is_file())


def test_wrong_vault_password(tmp_path):
    vault, _ = _vault(tmp_path, {"snmp_auth_key": "x" * 10})
    bad = tmp_path / "bad.txt"
    bad.write_text("nope\n")
    with pytest.raises(EgovError) as exc:
        load_secrets(vault, bad)
    assert str(exc.value).endswith("cannot decrypt the vault; fix: check the vault password file, or re-create it "
                                   "with ansible-vault")


def test_short_or_spaced_keys_rejected_without_echo(monkeypatch):
    for k, v in GOOD.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("EGOV_SNMP_PRIV_KEY", "short")
    monkeypatch.setenv("EGOV_SNMP_AUTH_KEY", "has space inside")
    with pytest.raises(EgovError) as exc:
        load_secrets()
    msg = str(exc.value)
    assert "snmp_priv_key: shorter than 8 characters" in msg and "snmp_auth_key: contains spaces" in msg
    assert "short" not in msg.replace("shorter", "") and "has space inside" not in msg


def test_junos_hash_is_stable_and_hides_password(monkeypatch):
    for k, v in GOOD.items():
        monkeypatch.setenv(k, v)
    h1, h2 = load_secrets().admin_password_sha512, load_secrets().admin_password_sha512
    assert h1 == h2 and h1.startswith("$6$") and GOOD["EGOV_ADMIN_PASSWORD"] not in h1
    # an independent sha512-crypt (OpenSSL's; Python's crypt module is gone in 3.13) gives the same hash
    salt = h1.split("$")[2]
    r = subprocess.run(["openssl", "passwd", "-6", "-salt", salt, "-stdin"], input=GOOD["EGOV_ADMIN_PASSWORD"],
                       capture_output=True, text=True, check=True)
    assert r.stdout.strip() == h1

"""Secrets for rendering: from the environment or an Ansible Vault file, never from the repo.

Values are never printed: errors name the variable or vault key, not its value.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

from egov.errors import EgovError, Problem
from egov.render.sha512crypt import sha512_crypt

#: vault key -> environment variable
FIELDS = {
    "snmp_auth_key": "EGOV_SNMP_AUTH_KEY",
    "snmp_priv_key": "EGOV_SNMP_PRIV_KEY",
    "admin_password": "EGOV_ADMIN_PASSWORD",
}
PLACEHOLDER = "EGOV-PLACEHOLDER-{}"


@dataclass(frozen=True)
class Secrets:
    snmp_auth_key: str
    snmp_priv_key: str
    admin_password: str
    placeholder: bool = False

    def __repr__(self) -> str:  # never leak values into logs or tracebacks
        return f"Secrets(placeholder={self.placeholder})"

    @cached_property
    def admin_password_sha512(self) -> str:
        """SHA-512 crypt of the admin password with a salt derived from it: stable, so renders stay diff-free."""
        if self.placeholder:
            return PLACEHOLDER.format("admin_password_sha512")
        salt = hmac.new(self.admin_password.encode(), b"egov-junos-salt", hashlib.sha256).hexdigest()[:16]
        return sha512_crypt(self.admin_password, salt)

    def values(self) -> list[str]:
        """Every secret string, for masking in logs and backups."""
        return [] if self.placeholder else [self.snmp_auth_key, self.snmp_priv_key, self.admin_password]


def placeholders() -> Secrets:
    return Secrets(**{k: PLACEHOLDER.format(k) for k in FIELDS}, placeholder=True)


def _vault_values(vault: Path, password_file: Path | None) -> dict[str, str]:
    from ansible.constants import DEFAULT_VAULT_ID_MATCH
    from ansible.parsing.vault import AnsibleVaultError, VaultLib, VaultSecret

    pw_src = password_file or (Path(os.environ["EGOV_VAULT_PASSWORD_FILE"])
                               if os.environ.get("EGOV_VAULT_PASSWORD_FILE") else None)
    if pw_src is None:
        raise EgovError.one(str(vault), "", "no vault password given",
                            "pass --vault-password-file FILE or set EGOV_VAULT_PASSWORD_FILE")
    try:
        password = pw_src.read_bytes().strip()
        raw = vault.read_bytes()
    except OSError as exc:
        raise EgovError.one(str(exc.filename), "", f"cannot read ({exc.strerror})", "check the path") from None
    try:
        plain = VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(password))]).decrypt(raw)
    except AnsibleVaultError:
        raise EgovError.one(str(vault), "", "cannot decrypt the vault",
                            "check the vault password file, or re-create it with ansible-vault") from None
    try:
        data = yaml.safe_load(plain)
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict):
        raise EgovError.one(str(vault), "", "vault does not hold a YAML mapping",
                            f"put {', '.join(FIELDS)} in it as keys")
    return {k: str(v) for k, v in data.items() if k in FIELDS and v is not None}


def load_secrets(vault: Path | None = None, password_file: Path | None = None, dry_run: bool = False) -> Secrets:
    """Secrets from the vault (if given) overlaid by the environment; placeholders only under dry-run."""
    if dry_run:
        return placeholders()
    values = _vault_values(vault, password_file) if vault else {}
    for key, env in FIELDS.items():
        if os.environ.get(env):
            values[key] = os.environ[env]
    missing = [k for k in FIELDS if not values.get(k)]
    if missing:
        names = ", ".join(FIELDS[k] for k in missing)
        raise EgovError.one("secrets", ",".join(missing), f"not set ({names})",
                            "export them, pass --vault FILE, or use --dry-run for marked placeholders")
    problems = []
    for key in FIELDS:
        if len(values[key]) < 8:
            problems.append(Problem("secrets", key, "shorter than 8 characters (devices refuse it)",
                                    f"set {FIELDS[key]} to at least 8 characters"))
        if any(c.isspace() or c in "\"'" for c in values[key]):
            problems.append(Problem("secrets", key, "contains spaces or quotes",
                                    f"set {FIELDS[key]} without spaces or quotes"))
    if problems:
        raise EgovError(problems)
    return Secrets(snmp_auth_key=values["snmp_auth_key"], snmp_priv_key=values["snmp_priv_key"],
                   admin_password=values["admin_password"])

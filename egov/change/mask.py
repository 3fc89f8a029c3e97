"""Mask secrets in configurations before they are stored or shown (backups, diffs, logs)."""

from __future__ import annotations

import re

MASK = "<masked>"

# (pattern, group holding the secret): lines that carry secrets on the platforms we render
_PATTERNS = [
    re.compile(r'^(\s*createUser\s+\S+\s+\S+\s+)("[^"]*"|\S+)(\s+\S+\s+)("[^"]*"|\S+)', re.M),  # net-snmp
    re.compile(r"(\bcipher\s+)(\S+)"),                                        # Huawei VRP
    re.compile(r"(\bpassword\s+(?:simple|cipher|hash|irreversible-cipher)\s+)(\S+)"),  # VRP / Comware
    re.compile(r"(\b(?:secret|password)\s+\d+\s+)(\S+)"),                   # Cisco type N
    re.compile(r"(\bscrypt\s+secret\s+)(\S+)"),                             # Cisco scrypt
    re.compile(r'(\b(?:encrypted-password|authentication-password|privacy-password)\s+)("[^"]*"|\S+)'),  # Junos
    re.compile(r"(\b(?:auth|priv)\s+(?:sha(?:-2\s+256)?|aes\s+\d+)\s+)(\S+)"),  # Cisco snmp-server user
    re.compile(r"((?:authentication-mode|privacy-mode)\s+\S+\s+)(\S+)"),    # Comware usm-user simple
]


def mask(text: str, known: list[str] | tuple[str, ...] = ()) -> str:
    """Replace known secret values, then anything in a secret-bearing position, with <masked>."""
    for value in sorted((k for k in known if k and len(k) >= 4), key=len, reverse=True):
        text = text.replace(value, MASK)
    for pat in _PATTERNS:
        if pat.groups == 4:
            text = pat.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}{MASK}", text)
        else:
            text = pat.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return text

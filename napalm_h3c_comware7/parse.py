"""Pure parsers for Comware 7 outputs: TextFSM (ntc-templates) where a template exists, else regex."""

from __future__ import annotations

import re
from typing import Any

from ntc_templates.parse import parse_output


def interface_brief(text: str) -> list[dict[str, str]]:
    return parse_output(platform="hp_comware", command="display interface brief", data=text)


def version(text: str) -> dict[str, str]:
    """``display version`` (no upstream template): software version, release, model, uptime."""
    out = {}
    m = re.search(r"Comware Software, Version (\S+), Release (\S+)", text)
    if m:
        out["version"], out["release"] = m.group(1), m.group(2)
    m = re.search(r"^(?:H3C|HPE)\s+(\S+)\s+uptime is (.+)$", text, re.M)
    if m:
        out["model"], out["uptime"] = m.group(1), m.group(2).strip()
    return out


_IPBRIEF = re.compile(r"^(\S+)\s+(\S+)\s+(\S+)\s+(\d+\.\d+\.\d+\.\d+|--)\s+(\S+)\s*(.*)$")


def ip_interface_brief(text: str) -> list[dict[str, str]]:
    """``display ip interface brief`` (columns as in the recorded Comware output)."""
    out = []
    seen = False
    for line in text.splitlines():
        if line.startswith("Interface") and "IP address" in line:
            seen = True
            continue
        m = _IPBRIEF.match(line) if seen else None
        if m:
            out.append({"interface": m.group(1), "physical": m.group(2), "protocol": m.group(3), "ip": m.group(4),
                        "vpn": m.group(5), "description": m.group(6).strip()})
    return out


def isis_peers(text: str) -> list[dict[str, Any]]:
    """``display isis peer``: one block per peer (H3C command reference format; no real capture exists)."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        sid = re.search(r"System ID:\s*(\S+)", block)
        if not sid:
            continue
        iface = re.search(r"Interface:\s*(\S+)", block)
        state = re.search(r"State:\s*(\S+)", block)
        kind = re.search(r"Type:\s*(\S+)", block)
        out.append({"system_id": sid.group(1), "interface": iface.group(1) if iface else "",
                    "state": state.group(1) if state else "", "type": kind.group(1) if kind else ""})
    return out


_BFD = re.compile(r"^\s*(\d+)/(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")


def bfd_sessions(text: str) -> list[dict[str, str]]:
    """``display bfd session`` (H3C command reference format)."""
    out = []
    for line in text.splitlines():
        m = _BFD.match(line)
        if m:
            out.append({"local": m.group(3), "peer": m.group(4), "state": m.group(5), "interface": m.group(7)})
    return out

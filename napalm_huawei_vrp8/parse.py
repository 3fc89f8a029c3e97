"""Pure parsers for VRP8 outputs: TextFSM (ntc-templates) where a template exists, else regex."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ntc_templates.parse import parse_output


def version(text: str) -> dict[str, str]:
    rows = parse_output(platform="huawei_vrp", command="display version", data=text)
    return rows[0] if rows else {}


def interface_brief(text: str) -> list[dict[str, str]]:
    return parse_output(platform="huawei_vrp", command="display interface brief", data=text)


def isis_peers(text: str) -> list[dict[str, Any]]:
    """``display isis peer`` via ntc's template; a System Id wrapped onto a second line is rejoined."""
    try:
        rows = parse_output(platform="huawei_vrp", command="display isis peer", data=text)
    except Exception:  # noqa: BLE001 - ntc's TYPE is ((L\d)+): it refuses "L12", which VRP prints for L1/L2 peers
        rows = _isis_rows(text)
    out = []
    for r in rows:
        sid = r["system_id"]
        names = sid if isinstance(sid, list) else [sid]
        out.append({"system_id": "".join(names).rstrip("*"), "interface": r["interface"], "state": r["state"],
                    "hold_time": r["hold_time"], "type": r["type"]})
    return out


_ISIS_ROW = re.compile(r"^(\S+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(L\d+|(?:L\d)+)\s+(\S+)\s*$")


def _isis_rows(text: str) -> list[dict[str, Any]]:
    """The template's rows by regex, also for Type ``L12``; a System Id wrapped onto its own line is kept."""
    rows: list[dict[str, Any]] = []
    for line in text.splitlines():
        m = _ISIS_ROW.match(line)
        if m:
            rows.append({"system_id": [m.group(1)], "interface": m.group(2), "circuit_id": m.group(3),
                         "state": m.group(4), "hold_time": m.group(5), "type": m.group(6), "pri": m.group(7)})
        elif rows and re.match(r"^\S+\s*$", line) and not line.startswith(("-", "Total")):
            rows[-1]["system_id"].append(line.strip())
    return rows


_IPBRIEF = re.compile(r"^(\S+)\s+(\d+\.\d+\.\d+\.\d+/\d+|unassigned)\s+(\S+)\s+(\S+)\s*$")


def ip_interface_brief(text: str) -> list[dict[str, str]]:
    """``display ip interface brief`` (no upstream template; columns as in the recorded VRP output)."""
    out = []
    seen = False
    for line in text.splitlines():
        if line.startswith("Interface") and "IP Address/Mask" in line:
            seen = True
            continue
        m = _IPBRIEF.match(line) if seen else None
        if m:
            out.append({"interface": m.group(1), "ip": m.group(2), "physical": m.group(3), "protocol": m.group(4)})
    return out


_BFD = re.compile(r"^(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$")


def bfd_sessions(text: str) -> list[dict[str, str]]:
    """``display bfd session all`` (non-verbose; documentation format, see docs/vrp-comware.md)."""
    out = []
    for line in text.splitlines():
        m = _BFD.match(line.strip())
        if m:
            out.append({"local": m.group(1), "remote": m.group(2), "peer": m.group(3), "state": m.group(4),
                        "type": m.group(5), "interface": m.group(6)})
    return out


def config_addresses(config: str) -> dict[str, dict[str, dict[str, dict[str, int]]]]:
    """{interface: {"ipv4"|"ipv6": {address: {"prefix_length": n}}}} from a running config."""
    out: dict[str, dict[str, dict[str, dict[str, int]]]] = {}
    iface = None
    for line in config.splitlines():
        if line.startswith("interface "):
            iface = line.split()[1]
            continue
        if not line.startswith(" "):
            iface = None
            continue
        w = line.split()
        if iface and len(w) >= 4 and w[0] == "ip" and w[1] == "address" and "sub" not in w[4:]:
            net = ipaddress.IPv4Interface(f"{w[2]}/{w[3]}")
            out.setdefault(iface, {}).setdefault("ipv4", {})[str(net.ip)] = {"prefix_length": net.network.prefixlen}
        elif iface and len(w) >= 3 and w[0] == "ipv6" and w[1] == "address" and "/" in w[2]:
            net6 = ipaddress.IPv6Interface(w[2])
            out.setdefault(iface, {}).setdefault("ipv6", {})[str(net6.ip)] = {"prefix_length": net6.network.prefixlen}
    return out


def candidate_changes(text: str) -> str:
    """The +/- lines of ``display configuration candidate changes`` (headers and context dropped)."""
    lines = [ln for ln in text.splitlines() if ln.startswith(("+", "-", "  ")) and ln.strip() != "#"]
    return "\n".join(lines) if any(ln.startswith(("+", "-")) for ln in lines) else ""


def latest_commit(text: str) -> tuple[str, str] | None:
    """(commit id, label) of line 1 of ``display configuration commit list`` (NetNexus' regex)."""
    m = re.search(r"^\s*1\s+(\d{10})\*?\s+(\S+)", text, re.M)
    return (m.group(1), m.group(2)) if m else None

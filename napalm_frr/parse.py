"""Pure text functions of the FRR driver (no device): FRR output in, Python data or config text out."""

from __future__ import annotations

import re
from typing import Any

_PREAMBLE_END = "Current configuration:"


def running_body(show_run: str) -> str:
    """`show running-config` without FRR's "Building configuration..." preamble: from `!` to `end`."""
    lines = show_run.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == _PREAMBLE_END:
            lines = lines[i + 1:]
            break
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return "\n".join(lines) + "\n" if lines else ""


def _blocks(lines: list[str]) -> list[list[str]]:
    """Top-level blocks: a section (`interface X` .. `exit` + its `!`) or a single top-level line."""
    blocks: list[list[str]] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < n else ""
        opens = line and not line[0].isspace() and line not in ("!", "end", "exit") and (
            nxt.startswith(" ") or nxt == "exit")
        if not opens:
            blocks.append([line])
            i += 1
            continue
        j = i + 1
        while j < n and lines[j] != "exit":
            j += 1
        end = j + 1
        if end < n and lines[end] == "!":
            end += 1
        blocks.append(lines[i:end])
        i = end
    return blocks


def boot_order(config: str) -> str:
    """The config with every `router ...` section moved before the first `interface` section.

    FRR 8.4 prints (and `write memory` saves) interfaces first; booting that order silently drops
    `isis metric` > 63 (docs/frr-canonical.md, section 4). Applied to `show running-config`'s body
    this yields the rendered form byte for byte. Nothing else is reordered; frr-reload ignores order.
    """
    lines = config.splitlines()
    blocks = _blocks(lines)
    first_if = next((k for k, b in enumerate(blocks) if b[0].startswith("interface ") and len(b) > 1), None)
    if first_if is None:
        return config
    moved = [b for b in blocks[first_if:] if b[0].startswith("router ") and len(b) > 1]
    if not moved:
        return config
    rest = [b for b in blocks[first_if:] if not (b[0].startswith("router ") and len(b) > 1)]
    out = [line for b in blocks[:first_if] + moved + rest for line in b]
    return "\n".join(out) + ("\n" if config.endswith("\n") else "")


# --- frr-reload.py --test ---------------------------------------------------------------------------

def _entries(section: list[str]) -> list[tuple[tuple[str, ...], str]]:
    """Split one "Lines To ..." section into (context lines, leaf line) entries.

    frr-reload prints every entry as its context lines (indent = depth) followed by the line
    itself one level deeper; a line is a leaf when the next line is not deeper than it.
    """
    out: list[tuple[tuple[str, ...], str]] = []
    stack: list[str] = []
    lines = [ln for ln in section if ln.strip()]
    for k, line in enumerate(lines):
        depth = len(line) - len(line.lstrip(" "))
        stack = stack[:depth] + [line]
        nxt = lines[k + 1] if k + 1 < len(lines) else ""
        nxt_depth = len(nxt) - len(nxt.lstrip(" ")) if nxt else -1
        if nxt_depth <= depth:
            out.append((tuple(stack[:-1]), line))
    return out


def reload_diff(output: str) -> str:
    """frr-reload.py --test output as unified-style text; "" when it shows no difference.

    Context lines (e.g. `interface eth3`, `router isis EGOV`) start with a space, removed lines with
    "-" (the line as it is configured, not frr-reload's `no ...` form), added lines with "+".
    Entries are grouped per context in the order frr-reload reports them, deletions first.
    """
    sections: dict[str, list[str]] = {"del": [], "add": []}
    cur: list[str] | None = None
    for line in output.splitlines():
        s = line.strip()
        if s == "Lines To Delete":
            cur = sections["del"]
        elif s == "Lines To Add":
            cur = sections["add"]
        elif cur is not None and not re.fullmatch(r"=+", s):
            cur.append(line.rstrip())
    groups: dict[tuple[str, ...], list[str]] = {}
    for ctx, leaf in _entries(sections["del"]):
        indent = leaf[: len(leaf) - len(leaf.lstrip(" "))]
        body = leaf.lstrip(" ")
        # frr-reload prints a deletion as `no X`, and the deletion of a `no X` line as `X`
        orig = body[3:] if body.startswith("no ") else "no " + body
        groups.setdefault(ctx, []).append("-" + indent + orig)
    for ctx, leaf in _entries(sections["add"]):
        groups.setdefault(ctx, []).append("+" + leaf)
    out: list[str] = []
    for ctx, changes in groups.items():
        out.extend(" " + c for c in ctx)
        out.extend(changes)
    return "\n".join(out) + "\n" if out else ""


def merge_diff(merge: str) -> str:
    """A merge candidate shown as additions: every config line with "+" (no `!`, `exit`, `end`, blanks)."""
    out = ["+" + ln.rstrip() for ln in merge.splitlines() if ln.strip() not in ("", "!", "exit", "end")]
    return "\n".join(out) + "\n" if out else ""


def check_errors(output: str) -> list[str]:
    """`vtysh -C -f` / `vtysh -f` complaints: `line N: % Unknown command[..]: text` and other `%` lines."""
    errs = []
    for line in output.splitlines():
        s = line.strip()
        if re.match(r"line \d+:", s) or s.startswith("% ") or s.startswith("Must condition"):
            errs.append(s)
    return errs


def reload_errors(output: str) -> list[str]:
    """frr-reload.py's complaints about a candidate: it logs ``vtysh (mark file) exited with status N:``
    followed by vtysh's stderr as a Python bytes literal (``b'line 5: % Unknown command: ...\\n'``);
    unwrapped here into the ``line N: %`` lines ``check_errors`` knows."""
    text = output.replace("\\n", "\n")
    lines = []
    for line in text.splitlines():
        s = line.strip()
        if s[:2] in ("b'", 'b"'):
            s = s[2:]
        lines.append(s.rstrip("'\""))
    return check_errors("\n".join(lines))


# --- show commands ---------------------------------------------------------------------------------

_ISIS_NEIGH = re.compile(r"^\s+(?P<sys>\S+)\s+(?P<ifname>\S+)\s+(?P<level>\d)\s+(?P<state>\S+)"
                         r"\s+(?P<hold>\d+)")


def isis_neighbors(text: str) -> dict[str, dict[str, Any]]:
    """`show isis neighbor` (FRR 8.4 has no json for it) -> {interface: {neighbor, level, state}}.

    A circuit with a level-1 and a level-2 adjacency to the same neighbour is one entry with
    level 3 (as FRR's own "L" column for level-1-2), Up only if both are Up.
    """
    out: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        m = _ISIS_NEIGH.match(line)
        if not m or m["sys"] == "System":
            continue
        new = {"neighbor": m["sys"], "level": int(m["level"]), "state": m["state"],
               "holdtime": int(m["hold"])}
        old = out.get(m["ifname"])
        if old and old["neighbor"] == new["neighbor"] and old["level"] != new["level"]:
            new["level"] = old["level"] | new["level"]
            new["state"] = "Up" if old["state"] == new["state"] == "Up" else (
                new["state"] if old["state"] == "Up" else old["state"])
            new["holdtime"] = min(old["holdtime"], new["holdtime"])
        out[m["ifname"]] = new
    return out


def ping(text: str, count: int) -> dict[str, Any]:
    """Linux iputils ping output -> NAPALM's PingResultDict."""
    m = re.search(r"(\d+) packets transmitted, (\d+) (?:packets )?received", text)
    if not m:
        first = next((ln for ln in text.splitlines() if ln.strip()), "no output")
        return {"error": first.strip()}
    sent, received = int(m[1]), int(m[2])
    rtt = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", text)
    rmin, ravg, rmax, rdev = (float(x) for x in rtt.groups()) if rtt else (0.0, 0.0, 0.0, 0.0)
    results = [{"ip_address": r[1], "rtt": float(r[2])}
               for r in re.finditer(r"bytes from (\S+?):?\s+icmp_seq=\S+.*? time=([\d.]+) ms", text)]
    return {"success": {"probes_sent": sent or count, "packet_loss": sent - received, "rtt_min": rmin,
                        "rtt_max": rmax, "rtt_avg": ravg, "rtt_stddev": rdev, "results": results}}


# --- NAPALM getters from Linux (iproute2 JSON) and FRR (vtysh JSON) -------------------------------
def interfaces_counters(ip_s_link: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """``ip -j -s link`` -> NAPALM InterfaceCounterDict per interface. Linux counts received multicast
    only: unicast = packets - multicast; counters Linux does not keep are -1."""
    out: dict[str, dict[str, int]] = {}
    for link in ip_s_link:
        st = link.get("stats64") or link.get("stats") or {}
        rx, tx = st.get("rx", {}), st.get("tx", {})
        rx_mc = int(rx.get("multicast", 0))
        out[link["ifname"]] = {
            "tx_errors": int(tx.get("errors", 0)), "rx_errors": int(rx.get("errors", 0)),
            "tx_discards": int(tx.get("dropped", 0)), "rx_discards": int(rx.get("dropped", 0)),
            "tx_octets": int(tx.get("bytes", 0)), "rx_octets": int(rx.get("bytes", 0)),
            "tx_unicast_packets": int(tx.get("packets", 0)), "rx_unicast_packets": int(rx.get("packets", 0)) - rx_mc,
            "tx_multicast_packets": -1, "rx_multicast_packets": rx_mc,
            "tx_broadcast_packets": -1, "rx_broadcast_packets": -1,
        }
    return out


def _neighbours(ip_neigh: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries with a link-layer address (INCOMPLETE and FAILED ones have none)."""
    return [n for n in ip_neigh if n.get("lladdr") and n.get("dst") and n.get("dev")]


def arp_table(ip_neigh: list[dict[str, Any]], mac: Any = str) -> list[dict[str, Any]]:
    """``ip -j -4 neigh`` -> NAPALM ARPTableDict list (age unknown to iproute2: -1.0)."""
    return [{"interface": n["dev"], "mac": mac(n["lladdr"]), "ip": n["dst"], "age": -1.0}
            for n in _neighbours(ip_neigh)]


def ipv6_neighbors(ip_neigh: list[dict[str, Any]], mac: Any = str) -> list[dict[str, Any]]:
    """``ip -j -6 neigh`` -> NAPALM IPV6NeighborDict list; state as the kernel names it (REACHABLE, ...)."""
    return [{"interface": n["dev"], "mac": mac(n["lladdr"]), "ip": n["dst"], "age": -1.0,
             "state": "/".join(n.get("state") or []) or "UNKNOWN"} for n in _neighbours(ip_neigh)]


def _age(uptime: str) -> int:
    """FRR's route uptime (``01:02:03``, ``1d02h03m``, ``2w3d04h``) in seconds."""
    if re.fullmatch(r"\d+:\d+:\d+", uptime):
        h, m, s = (int(x) for x in uptime.split(":"))
        return h * 3600 + m * 60 + s
    units = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([wdhms])", uptime))


def route_to(show_route: dict[str, Any], protocol: str = "") -> dict[str, list[dict[str, Any]]]:
    """``show ip[v6] route [PREFIX [longer-prefixes]] json`` -> NAPALM RouteDict lists per prefix,
    one entry per next hop."""
    out: dict[str, list[dict[str, Any]]] = {}
    for prefix, routes in show_route.items():
        for r in routes if isinstance(routes, list) else []:
            proto = str(r.get("protocol", ""))
            if protocol and proto.lower() != protocol.lower():
                continue
            attrs: dict[str, Any] = {"metric": int(r.get("metric", 0))}
            if proto == "isis" and "table" not in r:
                attrs["level"] = 2 if "L2" in str(r.get("isisLevel", r.get("level", "L2"))) else 1
            for nh in r.get("nexthops") or [{}]:
                out.setdefault(prefix, []).append({
                    "protocol": proto, "current_active": bool(r.get("selected", False)),
                    "last_active": bool(r.get("selected", False)), "age": _age(str(r.get("uptime", "0:0:0"))),
                    "next_hop": str(nh.get("ip", "")), "outgoing_interface": str(nh.get("interfaceName", "")),
                    "selected_next_hop": bool(nh.get("active", False) and nh.get("fib", False)),
                    "preference": int(r.get("distance", 0)),
                    "inactive_reason": "" if r.get("selected") else "not selected",
                    "routing_table": str(r.get("vrfName", "default")), "protocol_attributes": attrs})
    return out


def lldp_neighbors(lldpcli: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """``lldpcli -f json0 show neighbors`` -> NAPALM LLDPNeighborDict lists per local port."""
    out: dict[str, list[dict[str, str]]] = {}
    for lldp in lldpcli.get("lldp", []):
        for iface in lldp.get("interface", []):
            name = iface.get("name", "")
            host = next((c.get("value", "") for ch in iface.get("chassis", []) for c in ch.get("name", [])), "")
            port = next((p.get("value", "") for pt in iface.get("port", []) for p in pt.get("id", [])), "")
            descr = next((d.get("value", "") for pt in iface.get("port", []) for d in pt.get("descr", [])), "")
            out.setdefault(name, []).append({"hostname": host, "port": descr or port})
    return out


# --- host services the NOC asks about: chrony, net-snmp, local users --------------------------------
def _config_lines(text: str) -> list[list[str]]:
    """Non-comment lines of a daemon config, split into words."""
    return [ln.split() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith(("#", "!", ";"))]


def ntp_servers(chrony_conf: str) -> dict[str, dict[str, Any]]:
    """chrony.conf ``server``/``pool``/``peer`` lines -> NAPALM NTPServerDict per address; the source
    address is chrony's ``bindacqaddress`` of the server's family."""
    lines = _config_lines(chrony_conf)
    bind = {("6" if ":" in w[1] else "4"): w[1] for w in lines if w[0] == "bindacqaddress" and len(w) > 1}
    out: dict[str, dict[str, Any]] = {}
    for w in lines:
        if w[0] not in ("server", "pool", "peer") or len(w) < 2:
            continue
        opts, addr = w[2:], w[1]
        out[addr] = {"address": addr, "port": _option(opts, "port", 123), "version": _option(opts, "version", 4),
                     "association_type": w[0].upper(), "iburst": "iburst" in opts, "prefer": "prefer" in opts,
                     "network_instance": "default", "source_address": bind.get("6" if ":" in addr else "4", ""),
                     "key_id": _option(opts, "key", -1)}
    return out


def _option(words: list[str], name: str, default: int) -> int:
    """The number after ``name`` in a config line's options, else ``default``."""
    i = words.index(name) if name in words else -1
    return int(words[i + 1]) if 0 <= i < len(words) - 1 and words[i + 1].isdigit() else default


def snmp_information(snmpd_conf: str) -> dict[str, Any]:
    """snmpd.conf -> NAPALM SNMPDict: engineID as chassis id, sysContact, sysLocation, and the
    v1/v2c communities (``rocommunity``/``rwcommunity``[6] NAME [SOURCE]); SNMPv3 users are not listed."""
    out: dict[str, Any] = {"chassis_id": "", "community": {}, "contact": "", "location": ""}
    for ln in snmpd_conf.splitlines():
        s = ln.strip()
        if not s or s.startswith("#"):
            continue
        key, _, rest = s.partition(" ")
        rest = rest.strip()
        if key == "engineID":
            out["chassis_id"] = rest
        elif key == "sysContact":
            out["contact"] = rest
        elif key == "sysLocation":
            out["location"] = rest
        elif key in ("rocommunity", "rwcommunity", "rocommunity6", "rwcommunity6") and rest:
            w = rest.split()
            out["community"][w[0]] = {"acl": w[1] if len(w) > 1 else "N/A", "mode": key[:2]}
    return out


#: login shells that cannot log in
_NO_LOGIN = ("nologin", "false", "sync", "halt", "shutdown")
#: groups whose members may change the router (FRR's vtysh group, sudo): privilege 15
ADMIN_GROUPS = frozenset({"root", "sudo", "wheel", "frrvty"})


def users(report: str) -> dict[str, dict[str, Any]]:
    """The users script's report (``U name uid shell`` / ``G groups`` / ``P hash`` / ``K key`` per user)
    -> NAPALM UsersDict: users with a login shell; level 15 for uid 0 or an admin group, else 1;
    password: the shadow hash when readable, else ""."""
    out: dict[str, dict[str, Any]] = {}
    cur: dict[str, Any] | None = None
    for ln in report.splitlines():
        tag, _, rest = ln.partition(" ")
        if tag == "U":
            w = rest.split()
            if len(w) < 3 or w[2].rsplit("/", 1)[-1] in _NO_LOGIN:
                cur = None
                continue
            cur = out[w[0]] = {"level": 15 if w[1] == "0" else 1, "password": "", "sshkeys": []}
        elif cur is None:
            continue
        elif tag == "G" and ADMIN_GROUPS & set(rest.split()):
            cur["level"] = 15
        elif tag == "P" and rest not in ("", "*", "!", "!!", "x") and not rest.startswith("!"):
            cur["password"] = rest
        elif tag == "K" and rest.strip() and not rest.lstrip().startswith("#"):
            cur["sshkeys"].append(rest.strip())
    return out

"""``display`` commands, shaped like the recorded real outputs (the same TextFSM templates parse both).

Interface tables and protocol state are computed from the running configs of both ends of each
planned link (egov/sim/fabric.py), so a wrong address or a missing IS-IS line on one side shows
as a missing adjacency, the way a NOC engineer would see it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from egov.sim.model import Node, diff_trees

if TYPE_CHECKING:
    from egov.sim.comware7 import ComwareSession
    from egov.sim.vrp8 import Vrp8Session


def short_if(name: str) -> str:
    """The abbreviations both vendors use in tables: GigabitEthernet0/1/1 -> GE0/1/1."""
    for long, short in (("GigabitEthernet", "GE"), ("M-GigabitEthernet", "MGE"), ("LoopBack", "Loop"),
                        ("Ten-GigabitEthernet", "XGE"), ("Vlan-interface", "Vlan")):
        if name.startswith(long):
            return short + name[len(long):]
    if name.startswith("M-GE"):
        return "MGE" + name[4:]
    return name


def _filter(text: str, line: str) -> str:
    m = re.search(r"\|\s*(include|inc|i|exclude|exc|e|begin|b)\s+(.+)$", line)
    if not m:
        return text
    how, pat = m.group(1)[0], m.group(2).strip()
    rx = re.compile(pat)
    lines = text.splitlines()
    if how == "i":
        lines = [ln for ln in lines if rx.search(ln)]
    elif how == "e":
        lines = [ln for ln in lines if not rx.search(ln)]
    else:
        for i, ln in enumerate(lines):
            if rx.search(ln):
                lines = lines[i:]
                break
        else:
            lines = []
    return "\n".join(lines)


def _words(line: str) -> list[str]:
    return line.split("|")[0].split()


def _match(words: list[str], *spec: str) -> bool:
    """``display ver`` matches ``display version``: each typed word a prefix of the spec's word."""
    if len(words) != len(spec):
        return False
    return all(s.startswith(w.lower()) for w, s in zip(words, spec))


def _uptime(seconds: float) -> str:
    s = int(max(seconds, 60))
    days, rem = divmod(s, 86400)
    return f"{days} days, {rem // 3600} hours, {rem % 3600 // 60} minutes"


# --- VRP8 ---------------------------------------------------------------------------------------

def vrp_display(sess: "Vrp8Session", line: str) -> str:
    dev = sess.device
    w = _words(line)
    if len(w) >= 2 and _match(w[:2], "display", "current-configuration"):
        text = dev.render(dev.running)
        if len(w) == 4 and w[2].startswith("interface"):
            text = _section(dev.running, f"interface {w[3]}", dev.render)
        return _filter(text, line)
    if _match(w, "display", "this"):
        if sess.mode == "user":
            return sess._error(line, 1, "unrecognized")
        root = sess.candidate if sess.candidate is not None else dev.running
        node = sess.cursor.node(root)
        return _this(node, sess.cursor.path())
    if len(w) >= 3 and _match(w[:2], "display", "configuration"):
        return _vrp_configuration(sess, w[2:], line)
    if _match(w, "display", "version"):
        from egov.sim.vrp8 import VERSION
        return VERSION.format(uptime=_uptime(dev.clock.now() - dev.booted))
    if _match(w, "display", "ip", "interface", "brief"):
        return vrp_ip_brief(dev)
    if _match(w, "display", "ipv6", "interface", "brief"):
        return vrp_ipv6_brief(dev)
    if _match(w, "display", "interface", "brief"):
        return vrp_if_brief(dev)
    if _match(w, "display", "isis", "peer"):
        return vrp_isis_peer(dev)
    if _match(w, "display", "bfd", "session", "all"):
        return vrp_bfd(dev)
    if _match(w, "display", "clock"):
        return dev.stamp()
    return sess._error(line, min(1, len(w) - 1), "unrecognized")


def _this(node: Node, path: list[str]) -> str:
    out = ["#"]
    if path:
        out.append(path[-1])
        for c in node.children:
            out.append(" " + c.text)
    else:
        out.extend(c.text for c in node.children if not c.view)
    out.append("#")
    out.append("return")
    return "\n".join(out)


def _section(root: Node, text: str, render) -> str:
    n = root.child(text)
    if n is None:
        return ""
    r = Node("")
    r.children = [n]
    return render(r)


def _vrp_diff(old: Node, new: Node) -> list[str]:
    # VRP prints a marker column, then a space, then the line with its own indentation
    return [d[0] + " " + d[1:] for d in diff_trees(old, new)]


def _vrp_configuration(sess: "Vrp8Session", rest: list[str], line: str) -> str:
    dev = sess.device
    if rest[0].startswith("candidate"):
        if sess.mode == "user":
            return sess._error(line, 2, "unrecognized")
        cand = sess.candidate if sess.candidate is not None else dev.running
        if len(rest) > 1 and "changes".startswith(rest[1]):
            lines = _vrp_diff(dev.running, cand)
            return "Building configuration\n" + "\n".join(lines) if lines else ""
        if len(rest) > 1 and "merge".startswith(rest[1]):
            return dev.render(cand)
        return "\n".join(" " + ln[2:] for ln in _vrp_diff(dev.running, cand) if ln.startswith("+"))
    if rest[0].startswith("commit") and len(rest) >= 2 and "list".startswith(rest[1]):
        verbose = len(rest) > 2 and "verbose".startswith(rest[2])
        nums = [int(x) for x in rest[2:] if x.isdigit()]
        items = list(reversed(dev.history))[: nums[0] if nums else None]
        if verbose:
            out = []
            for i, c in enumerate(items, 1):
                out += [f"{i}) CommitId: {c.id}", f"        Label: {c.label}", f"        User: {c.user}",
                        "        User-Intf: VTY 0", f"        Type: {c.kind}",
                        f"        TimeStamp: {dev.stamp(c.when)[:19]}", f"        Description: {c.description}"]
            return "\n".join(out)
        out = ["-" * 80, "No.  CommitId      Label                User            TimeStamp", "-" * 80]
        for i, c in enumerate(items, 1):
            out.append(f"{i:<4} {c.id:<13} {c.label:<20} {c.user:<15} {dev.stamp(c.when)}")
        return "\n".join(out)
    if rest[0].startswith("commit") and len(rest) >= 2 and "changes".startswith(rest[1]):
        hist = dev.history
        sel = hist
        if len(rest) >= 4 and rest[2] == "at":
            sel = [c for c in hist if c.id == rest[3]]
        elif len(rest) >= 4 and rest[2] == "since":
            ids = [c.id for c in hist]
            sel = hist[ids.index(rest[3]):] if rest[3] in ids else []
        elif len(rest) >= 4 and rest[2] == "last":
            sel = hist[-int(rest[3]):]
        if not sel and len(rest) >= 4:
            return "Error: The commit ID does not exist."
        out = ["Building configuration..."]
        for c in reversed(sel):
            out.append(f"Commit changes of commitId {c.id} {dev.stamp(c.when)}")
            out.extend(_vrp_diff(c.before, c.after))
        return "\n".join(out)
    if rest[0].startswith("trial"):
        if dev.trial:
            left = max(0, int(dev.trial.deadline - dev.clock.now()))
            return f"Trial status: ACTIVE\nTrial time left (sec): {left}"
        return "Trial status: INACTIVE"
    if rest[0].startswith("rollback"):
        if dev.rollback_left:
            return "!There are still several differences as follow:\n" + "\n".join(dev.rollback_left)
        return "Info: No difference was found after the rollback."
    if rest[0].startswith("replace") and len(rest) > 1 and rest[1].startswith("failed"):
        failed = getattr(dev, "replace_failed", [])
        return "\n".join(f"{no}: {text}  ({why})" for no, text, why in failed)
    return sess._error(line, 2, "unrecognized")


def _ifaces(root: Node) -> list[tuple[str, Node]]:
    return [(n.text[10:], n) for n in root.children if n.view and n.text.startswith("interface ")]


def _state(dev, name: str, node: Node) -> tuple[str, str]:
    """(physical, protocol) of one interface, from both ends' configs."""
    texts = {c.text for c in node.children}
    if "shutdown" in texts:
        return "*down", "down"
    loop = name.lower().startswith("loop")
    phys = "up"
    if not loop and dev.fabric is not None:
        phys = "up" if dev.fabric.link_up(dev.hostname, name) else "down"
    has_ip = any(t.startswith("ip address ") or t.startswith("ipv6 address ") for t in texts)
    proto = "up" if phys == "up" and has_ip else "down"
    if loop and proto == "up":
        proto = "up(s)"
    return phys, proto


def vrp_ip_brief(dev) -> str:
    rows = []
    up = {"phy": 0, "proto": 0}
    for name, node in _ifaces(dev.running):
        addr = next((c.text.split()[2:4] for c in node.children if c.text.startswith("ip address ")), None)
        ip = "unassigned"
        if addr:
            import ipaddress
            ip = f"{addr[0]}/{ipaddress.IPv4Network(f'0.0.0.0/{addr[1]}').prefixlen}"
        phys, proto = _state(dev, name, node)
        up["phy"] += phys == "up"
        up["proto"] += proto.startswith("up")
        rows.append(f"{name:<34}{ip:<21}{phys:<11}{proto:<10}")
    total = len(rows)
    head = ["*down: administratively down", "!down: FIB overload down", "^down: standby", "(l): loopback",
            "(s): spoofing", "(d): Dampening Suppressed", "(E): E-Trunk down",
            f"The number of interface that is UP in Physical is {up['phy']}",
            f"The number of interface that is DOWN in Physical is {total - up['phy']}",
            f"The number of interface that is UP in Protocol is {up['proto']}",
            f"The number of interface that is DOWN in Protocol is {total - up['proto']}",
            "", f"{'Interface':<34}{'IP Address/Mask':<21}{'Physical':<11}{'Protocol':<10}"]
    return "\n".join(head + rows)


def vrp_ipv6_brief(dev) -> str:
    out = ["*down: administratively down", "(l): loopback", "(s): spoofing",
           f"{'Interface':<34}{'Physical':<22}Protocol"]
    for name, node in _ifaces(dev.running):
        addrs = [c.text.split()[2] for c in node.children if c.text.startswith("ipv6 address ")]
        if not addrs:
            continue
        phys, proto = _state(dev, name, node)
        out.append(f"{name:<34}{phys:<22}{proto}")
        for a in addrs:
            out.append(f"[IPv6 Address] {a.split('/')[0].upper()}")
    return "\n".join(out)


def vrp_if_brief(dev) -> str:
    head = ["PHY: Physical", "*down: administratively down", "^down: standby", "(l): loopback", "(s): spoofing",
            "(E): E-Trunk down", "(b): BFD down", "(B): Bit-error-detection down", "(e): ETHOAM down",
            "(d): Dampening Suppressed", "InUti/OutUti: input utility/output utility",
            "Interface                   PHY   Protocol  InUti OutUti   inErrors  outErrors"]
    rows = []
    for name, node in _ifaces(dev.running):
        phys, proto = _state(dev, name, node)
        rows.append(f"{name:<28}{phys:<6}{proto:<9}{'0%':>6}{'0%':>7}{0:>11}{0:>11}")
    return "\n".join(head + rows)


def vrp_isis_peer(dev) -> str:
    peers = dev.fabric.isis_peers(dev.hostname) if dev.fabric is not None else []
    out = ["                          Peer information for ISIS(1)", "",
           "  System Id     Interface          Circuit Id        State HoldTime Type     PRI",
           "-" * 80]
    for i, p in enumerate(peers, 1):
        sid = p["name"]
        first, rest = sid[:15], sid[15:]
        out.append(f"{first:<15} {short_if(p['interface']):<18} {i:010d}         Up   {p['hold']}s      "
                   f"{p['type']:<8} --")
        if rest:
            out.append(rest)
    out += ["", f"Total Peer(s): {len(peers)}"]
    return "\n".join(out)


def vrp_bfd(dev) -> str:
    sessions = dev.fabric.bfd_sessions(dev.hostname) if dev.fabric is not None else []
    out = ["(w): State in WTR", "(*): State is invalid", "-" * 80,
           "Local      Remote     PeerIpAddr      State     Type        InterfaceName", "-" * 80]
    for i, s in enumerate(sessions):
        out.append(f"{16385 + i:<11}{16385 + i:<11}{s['peer']:<16}{'Up':<10}{'D_IP_IF':<12}{s['interface']}")
    out += ["-" * 80, f"     Total UP/DOWN Session Number : {len(sessions)}/0"]
    return "\n".join(out)


# --- Comware 7 ----------------------------------------------------------------------------------

def comware_display(sess: "ComwareSession", line: str) -> str:
    dev = sess.device
    w = _words(line)
    if len(w) >= 2 and _match(w[:2], "display", "current-configuration"):
        if len(w) >= 3 and "diff".startswith(w[2]):
            saved = dev.files.get("startup.cfg", "")
            tree, _ = dev.parse(saved)
            return "\n".join(diff_trees(tree, dev.running))
        return _filter(dev.render(dev.running), line)
    if _match(w, "display", "this"):
        if sess.mode == "user":
            return sess._error(line, 1, "unrecognized")
        return _this(sess.cursor.node(dev.running), sess.cursor.path())
    if _match(w, "display", "version"):
        from egov.sim.comware7 import VERSION
        return VERSION.format(uptime=_cw_uptime(dev.clock.now() - dev.booted))
    if _match(w, "display", "interface", "brief"):
        return comware_if_brief(dev)
    if _match(w, "display", "ip", "interface", "brief"):
        return comware_ip_brief(dev)
    if _match(w, "display", "isis", "peer"):
        return comware_isis_peer(dev)
    if _match(w, "display", "bfd", "session"):
        return comware_bfd(dev)
    if _match(w, "display", "archive", "configuration"):
        rows = ["Location: flash:/archive", f"Filename prefix: {dev.hostname}", "Archive interval: 0 minutes",
                "Maximum number of archive files: 5", "Saved archive files:",
                "  No. TimeStamp                 FileName"]
        for i, (name, when) in enumerate(dev.archives, 1):
            rows.append(f"  {i:<3} {when:<25} {name}")
        return "\n".join(rows)
    if len(w) >= 3 and _match(w[:2], "display", "diff"):
        return _cw_diff(sess, w[2:], line)
    if _match(w, "display", "clock"):
        return dev.stamp()
    return sess._error(line, min(1, len(w) - 1), "unrecognized")


def _cw_uptime(seconds: float) -> str:
    s = int(max(seconds, 60))
    weeks, rem = divmod(s, 604800)
    days, rem = divmod(rem, 86400)
    return f"{weeks} weeks, {days} days, {rem // 3600} hours, {rem % 3600 // 60} minutes"


def _cw_diff(sess: "ComwareSession", rest: list[str], line: str) -> str:
    dev = sess.device

    def tree(spec: list[str]) -> Node | None:
        if spec[0].startswith("current"):
            return dev.running
        if spec[0].startswith("startup"):
            return dev.parse(dev.files.get("startup.cfg", ""))[0]
        if spec[0].startswith("configfile") and len(spec) > 1:
            name = spec[1].split(":", 1)[-1].lstrip("/")
            if name not in dev.files:
                return None
            return dev.parse(dev.files[name])[0]
        return None

    # display diff current-configuration configfile F | display diff configfile A configfile B ...
    first = rest[:2] if rest[0].startswith("configfile") else rest[:1]
    second = rest[len(first):]
    a, b = tree(first), tree(second) if second else None
    if a is None or b is None:
        return sess._error(line, 2 + len(first), "wrong")
    return "\n".join(diff_trees(a, b))


def comware_if_brief(dev) -> str:
    out = ["Brief information on interfaces in route mode:", "Link: ADM - administratively down; Stby - standby",
           "Protocol: (s) - spoofing", "Interface            Link Protocol Primary IP        Description"]
    for name, node in _ifaces(dev.running):
        phys, proto = _state(dev, name, node)
        link = {"*down": "ADM", "up": "UP", "down": "DOWN"}[phys]
        ip = next((c.text.split()[2] for c in node.children if c.text.startswith("ip address ")), "--")
        desc = next((c.text[12:] for c in node.children if c.text.startswith("description ")), "")
        out.append(f"{short_if(name):<21}{link:<5}{proto.upper():<9}{ip:<18}{desc[:27]}".rstrip())
    return "\n".join(out)


def comware_ip_brief(dev) -> str:
    out = ["*down: administratively down", "(s): spoofing  (l): loopback",
           "Interface           Physical Protocol IP address      VPN instance Description  "]
    for name, node in _ifaces(dev.running):
        texts = [c.text for c in node.children]
        ip = next((t.split()[2] for t in texts if t.startswith("ip address ")), None)
        if ip is None:
            continue
        phys, proto = _state(dev, name, node)
        vpn = next((t.split()[-1] for t in texts if t.startswith("ip binding vpn-instance ")), "--")
        desc = next((t[12:] for t in texts if t.startswith("description ")), "--")
        desc = desc if len(desc) <= 12 else desc[:9] + "..."
        out.append(f"{short_if(name):<20}{phys:<9}{proto:<9}{ip:<16}{vpn[:12]:<13}{desc}")
    return "\n".join(out)


def comware_isis_peer(dev) -> str:
    peers = dev.fabric.isis_peers(dev.hostname) if dev.fabric is not None else []
    out = ["", "                         Peer information for IS-IS(1)",
           "                         ----------------------------", ""]
    for p in peers:
        out += [f" System ID: {p['name']}",
                f" Interface: {short_if(p['interface']):<24}Circuit Id:  ---",
                f" State: Up     HoldTime: {p['hold']}s        Type: {p['type']}          PRI: --",
                ""]
    return "\n".join(out)


def comware_bfd(dev) -> str:
    sessions = dev.fabric.bfd_sessions(dev.hostname) if dev.fabric is not None else []
    v4 = [s for s in sessions if ":" not in s["peer"]]
    out = ["", f" Total Session Num: {len(v4)}     Up Session Num: {len(v4)}     Init Mode: Active", ""]
    if v4:
        out += [" IPv4 session working in control packet mode:", "",
                " LD/RD            SourceAddr      DestAddr        State  Holdtime    Interface"]
        for i, s in enumerate(v4):
            ld = f"{513 + i}/{513 + i}"
            out.append(f" {ld:<17}{s['local']:<16}{s['peer']:<16}{'Up':<7}{s['hold_ms']}ms      "
                       f"{short_if(s['interface'])}")
    return "\n".join(out)


def stamp_now(when: float) -> str:
    return dt.datetime.fromtimestamp(when).strftime("%Y-%m-%d %H:%M:%S")


# --- ping (both vendors) ------------------------------------------------------------------------

_PING = re.compile(r"^ping(?P<v6> ipv6)?(?P<opts>(?: -(?:a|c|t|s|m) \S+)*) (?P<dest>[0-9A-Fa-f:.]+)$")


def ping(dev, line: str, vendor: str) -> str | None:
    """``ping [ipv6] [-a SRC] [-c N] [-t MS] DEST``: replies when the fabric has an IS-IS path between the
    two routers with both addresses advertised (egov.sim.fabric.Fabric.reachable); None if malformed.
    The text follows the vendors' documented examples (no real capture; docs/vrp-comware.md)."""
    m = _PING.match(" ".join(line.split()))
    if not m:
        return None
    opts = dict(zip(*[iter(m.group("opts").split())] * 2))
    dest, src = m.group("dest"), opts.get("-a", "")
    count = int(opts.get("-c", "5"))
    if not 1 <= count <= 4294967295:
        return None
    ok = dev.fabric is not None and dev.fabric.reachable(dev.hostname, dest, src)
    got = count if ok else 0
    loss = 100.0 * (count - got) / count
    if vendor == "huawei_vrp":
        out = [f"  PING {dest}: 56  data bytes, press CTRL_C to break"]
        out += [f"    Reply from {dest}: bytes=56 Sequence={i} ttl=255 time=1 ms" if ok else "    Request time out"
                for i in range(1, count + 1)]
        out += ["", f"  --- {dest} ping statistics ---", f"    {count} packet(s) transmitted",
                f"    {got} packet(s) received", f"    {loss:.2f}% packet loss"]
        if ok:
            out.append("    round-trip min/avg/max = 1/1/1 ms")
        return "\n".join(out)
    out = [f"Ping{'6' if m.group('v6') else ''} {dest} ({dest}){f' from {src}' if src else ''}: 56 data bytes, "
           "press CTRL_C to break"]
    out += [f"56 bytes from {dest}: icmp_seq={i} ttl=255 time=1.000 ms" if ok else "Request time out"
            for i in range(count)]
    out += ["", f"--- Ping statistics for {dest} ---",
            f"{count} packet(s) transmitted, {got} packet(s) received, {loss:.1f}% packet loss"]
    if ok:
        out.append("round-trip min/avg/max/std-dev = 1.000/1.000/1.000/0.000 ms")
    return "\n".join(out)

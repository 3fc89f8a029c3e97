"""An H3C Comware 7 router (SR/MSR): changes take effect at once; commit delay is the safety net.

Behaviour and wording from ../shared/notes/chinese-nos.md section 2 (H3C Comware 7
"Configuration file management" guide; HPE FlexNetwork 5510 HI manual, Release 1121+) and the
H3C command references cited per command in :data:`SYNTAX`. Only the subset of the command
reference the egov templates use is written down; anything else is rejected with Comware's own
``%`` error, so a template line outside this subset shows up in tests instead of on a router.
"""

from __future__ import annotations

import itertools
import re
from functools import cache

from egov.sim import outputs
from egov.sim.cli import Cursor, View, ViewRule
from egov.sim.grammar import Command, Grammar, caret_column
from egov.sim.model import Device, Node, Question, Revert, SimClock, flash_name, render_blocks

#: (view, syntax). Notation as in the H3C command references; a parameter is written
#: ``<name:rule>`` with the rule of egov/sim/grammar.py (i:LO:HI, s:LO:HI, S:LO:HI, v4, v6, v6p, t, if).
#: Sources (H3C Comware 7 command references, MSR/SR routers, R06xx/R07xx releases, sections named):
#: Fundamentals (sysname, clock timezone, line vty, authentication-mode, protocol inbound,
#: idle-timeout, user-role, configuration commit delay, archive, save), Layer 3 IP Services (ip
#: address, ipv6 address, ip binding vpn-instance), MPLS L3VPN (ip vpn-instance, description),
#: Layer 3 IP Routing (ip route-static, ipv6 route-static, router id), IS-IS (isis, is-level,
#: cost-style, timer *, network-entity, is-name, address-family ipv6, multi-topology, isis enable,
#: isis ipv6 enable, isis circuit-type/-level, isis cost, isis ipv6 cost, isis timer hello/holding-
#: multiplier, isis bfd enable, isis ipv6 bfd enable, isis silent), High Availability (bfd
#: min-transmit-interval, bfd min-receive-interval, bfd detect-multiplier), Network Management and
#: Monitoring (info-center, snmp-agent *, ntp-service *), ACL and QoS (acl basic, acl ipv6 basic,
#: rule, description), Security (local-user, password, service-type, authorization-attribute,
#: ssh server *), Interface (interface, description, bandwidth, shutdown). Ranges are the
#: documented ones; where the notes have no source the rule is permissive and marked ``a``.
SYNTAX: list[tuple[str, str]] = [
    ("system", "sysname <sysname:S:1:64>"),
    ("system", "clock timezone <zone-name:s:1:32> { add | minus } <zone-offset:t>"),
    ("system", "router id <router-id:v4>"),
    ("system", "ip vpn-instance <vpn-instance-name:s:1:31>"),
    ("system", "isis [ <process-id:i:1:65535> ] [ vpn-instance <vpn-instance-name:s:1:31> ]"),
    ("system", "interface <interface-name:if>"),
    ("system", "ip route-static vpn-instance <vpn:s:1:31> <dest-address:v4> { <mask:v4> | <mask-length:i:0:32> } "
               "<next-hop-address:v4> [ preference <preference:i:1:255> ] [ description <text:S:1:60> ]"),
    ("system", "ipv6 route-static vpn-instance <vpn:s:1:31> <ipv6-address:v6> <prefix-length:i:0:128> "
               "<next-hop-address:v6> [ preference <preference:i:1:255> ] [ description <text:S:1:60> ]"),
    ("system", "info-center enable"),
    ("system", "info-center loghost [ vpn-instance <vpn:s:1:31> ] { <host:v4> | ipv6 <host6:v6> } "
               "[ port <port:i:1:65535> ] [ facility { kern | user | mail | daemon | auth | syslog | lpr | news "
               "| uucp | cron | authpriv | ftp | local0 | local1 | local2 | local3 | local4 | local5 | local6 "
               "| local7 } ]"),
    ("system", "snmp-agent"),
    ("system", "snmp-agent sys-info { contact <contact:S:1:255> | location <location:S:1:255> }"),
    ("system", "snmp-agent sys-info version { all | { v1 | v2c | v3 } * }"),
    ("system", "snmp-agent mib-view { excluded | included } <view-name:s:1:32> <oid-tree:s:1:255>"),
    ("system", "snmp-agent group v3 <group-name:s:1:32> [ authentication | privacy ] [ read-view <rv:s:1:32> ] "
               "[ write-view <wv:s:1:32> ] [ notify-view <nv:s:1:32> ] [ acl <acl:i:2000:3999> ] "
               "[ acl ipv6 <acl6:i:2000:3999> ]"),
    ("system", "snmp-agent usm-user v3 <user-name:s:1:32> <group-name:s:1:32> [ { cipher | simple } "
               "authentication-mode { md5 | sha | sha224 | sha256 | sha384 | sha512 } <auth-password:s:1:73> "
               "[ privacy-mode { 3des | aes128 | aes192 | aes256 | des56 } <priv-password:s:1:73> ] ] "
               "[ acl <acl:i:2000:3999> ] [ acl ipv6 <acl6:i:2000:3999> ]"),
    ("system", "snmp-agent target-host trap address udp-domain { <ip:v4> | ipv6 <ip6:v6> } [ udp-port <port:i:1:65535> ] "
               "[ vpn-instance <vpn:s:1:31> ] params securityname <name:s:1:32> [ v1 | v2c | v3 "
               "[ authentication | privacy ] ]"),
    ("system", "snmp-agent trap enable"),
    ("system", "ntp-service enable"),
    ("system", "ntp-service unicast-server <ip:v4> [ vpn-instance <vpn:s:1:31> ] [ priority ]"),
    ("system", "ntp-service ipv6 unicast-server <ip6:v6> [ vpn-instance <vpn:s:1:31> ] [ priority ]"),
    ("system", "acl basic <acl-number:i:2000:2999> [ match-order { auto | config } ]"),
    ("system", "acl number <acl-number:i:2000:2999> [ match-order { auto | config } ]"),
    ("system", "acl ipv6 basic <acl-number:i:2000:2999> [ match-order { auto | config } ]"),
    ("system", "line vty <first:i:0:63> [ <last:i:0:63> ]"),
    ("system", "telnet server enable"),
    ("system", "ip http enable"),
    ("system", "ip https enable"),
    ("system", "ssh server enable"),
    ("system", "ssh server acl <acl:i:2000:3999>"),
    ("system", "ssh server ipv6 acl ipv6 <acl:i:2000:3999>"),
    ("system", "local-user <user-name:s:1:55> [ class { manage | network } ]"),
    ("vpn", "description <text:S:1:79>"),
    ("vpn", "route-distinguisher <rd:s:3:21>"),
    ("isis", "is-level { level-1 | level-1-2 | level-2 }"),
    ("isis", "cost-style { narrow | wide | wide-compatible | { compatible | narrow-compatible } [ relax-spf-limit ] }"),
    ("isis", "timer lsp-generation <max:i:1:120> [ <initial:i:1:60000> [ <incremental:i:1:60000> ] ] "
             "[ level-1 | level-2 ]"),
    ("isis", "timer lsp-max-age <seconds:i:1:65535>"),
    ("isis", "timer lsp-refresh <seconds:i:1:65534>"),
    ("isis", "timer spf <max:i:1:120> [ <min:i:1:60000> [ <incr:i:1:60000> ] ]"),
    ("isis", "network-entity <net:a>"),
    ("isis", "is-name <sys-name:s:1:64>"),
    ("isis", "address-family ipv6 [ unicast ]"),
    ("isis-ipv6", "multi-topology [ compatible ]"),
    ("if", "description <text:S:1:255>"),
    ("if", "bandwidth <bandwidth-value:i:1:400000000>"),
    ("if", "shutdown"),
    ("if", "ip address <ip-address:v4> { <mask:v4> | <mask-length:i:0:32> } [ sub ]"),
    ("if", "ipv6 address { <ipv6-address:v6> <prefix-length:i:1:128> | <ipv6-address/prefix-length:v6p> }"),
    ("if", "ip binding vpn-instance <vpn:s:1:31>"),
    ("if", "isis enable [ <process-id:i:1:65535> ]"),
    ("if", "isis ipv6 enable [ <process-id:i:1:65535> ]"),
    ("if", "isis circuit-type p2p"),
    ("if", "isis circuit-level [ level-1 | level-1-2 | level-2 ]"),
    ("if", "isis cost <cost:i:0:16777215> [ level-1 | level-2 ]"),
    ("if", "isis ipv6 cost <cost:i:0:16777215> [ level-1 | level-2 ]"),
    ("if", "isis timer hello <seconds:i:3:255> [ level-1 | level-2 ]"),
    ("if", "isis timer holding-multiplier <value:i:3:1000> [ level-1 | level-2 ]"),
    ("if", "isis bfd enable"),
    ("if", "isis ipv6 bfd enable"),
    ("if", "isis silent"),
    ("if", "bfd min-transmit-interval <interval:i:3:10000>"),
    ("if", "bfd min-receive-interval <interval:i:3:10000>"),
    ("if", "bfd detect-multiplier <value:i:3:50>"),
    ("acl", "description <text:S:1:127>"),
    ("acl", "rule [ <rule-id:i:0:65534> ] { deny | permit } [ counting | fragment | logging | source "
            "{ <source-address:v4> <source-wildcard:v4> | any } | time-range <tr:s:1:32> "
            "| vpn-instance <vpn:s:1:31> ] *"),
    ("acl6", "description <text:S:1:127>"),
    ("acl6", "rule [ <rule-id:i:0:65534> ] { deny | permit } [ counting | fragment | logging | source "
             "{ <source-address:v6> <source-prefix:i:1:128> | <source-address/source-prefix:v6p> | any } "
             "| time-range <tr:s:1:32> | vpn-instance <vpn:s:1:31> ] *"),
    ("vty", "authentication-mode { none | password | scheme }"),
    ("vty", "protocol inbound { all | pad | ssh | telnet }"),
    ("vty", "idle-timeout <minutes:i:0:35791> [ <seconds:i:0:59> ]"),
    ("vty", "user-role <role:s:1:63>"),
    ("user", "password [ { hash | simple } <password:s:1:63> ]"),
    ("user", "service-type { ftp | { http | https | ssh | telnet | terminal } * }"),
    ("user", "authorization-attribute user-role <role:s:1:63>"),
]

_PARAM = re.compile(r"<([^:>]+):([^>]+)>")


def _undo(syntax: str) -> list[str]:
    """Comware's undo forms: the whole line, or its leading keywords alone."""
    words = syntax.split()
    lead = []
    for w in words:
        if w.startswith("<") or w in ("[", "{"):
            break
        lead.append(w)
    out = ["undo " + syntax]
    if lead and len(lead) < len(words):
        out.append("undo " + " ".join(lead))
    return out


@cache
def comware_grammar() -> Grammar:
    """The written-down subset, compiled once per process."""
    cmds = []
    for view, syntax in SYNTAX:
        rules = {name: rule for name, rule in _PARAM.findall(syntax)}
        plain = _PARAM.sub(lambda m: f"<{m.group(1)}>", syntax)
        cmds.append((Command(syntax.split("<")[0].strip(), [plain] + _undo(plain), rules), [view]))
    return Grammar(cmds)


def _if_view(m: re.Match[str], parent: View) -> View:
    name = m.group(1)
    return View(("if",), f"-{name}", m.group(0))


SYSTEM = View(("system",), "")
RULES: list[ViewRule] = [
    (re.compile(r"^interface (\S+)$"), "system", _if_view),
    (re.compile(r"^isis(?: (\d+))?(?: vpn-instance \S+)?$"), "system",
     lambda m, p: View(("isis",), f"-isis-{m.group(1) or 1}", m.group(0))),
    (re.compile(r"^address-family ipv6(?: unicast)?$"), "isis",
     lambda m, p: View(("isis-ipv6",), f"{p.suffix}-ipv6", m.group(0))),
    (re.compile(r"^ip vpn-instance (\S+)$"), "system",
     lambda m, p: View(("vpn",), f"-vpn-instance-{m.group(1)}", m.group(0))),
    (re.compile(r"^acl (?:basic|number) (\d+)"), "system",
     lambda m, p: View(("acl",), f"-acl-ipv4-basic-{m.group(1)}", m.group(0))),
    (re.compile(r"^acl ipv6 basic (\d+)"), "system",
     lambda m, p: View(("acl6",), f"-acl-ipv6-basic-{m.group(1)}", m.group(0))),
    (re.compile(r"^line vty (\d+)(?: (\d+))?$"), "system",
     lambda m, p: View(("vty",), f"-line-vty{m.group(1)}" + (f"-{m.group(2)}" if m.group(2) else ""),
                       m.group(0))),
    (re.compile(r"^local-user (\S+)(?: class \S+)?$"), "system",
     lambda m, p: View(("user",), f"-luser-{'manage' if 'manage' in m.group(0) else 'network'}-{m.group(1)}",
                       m.group(0))),
]

ERRORS = {
    "unrecognized": " % Unrecognized command found at '^' position.",
    "wrong": " % Wrong parameter found at '^' position.",
    "incomplete": " % Incomplete command found at '^' position.",
    "too-many": " % Too many parameters found at '^' position.",
}
VERSION = ("H3C Comware Software, Version 7.1.064, Release 0821P18\n"
           "Copyright (c) 2004-2021 New H3C Technologies Co., Ltd. All rights reserved.\n"
           "H3C MSR3600 uptime is {uptime}\n"
           "Last reboot reason : Power on\n")
RELEASE = " version 7.1.064, Release 0821P18"


def render(root: Node) -> str:
    """``display current-configuration``: global lines indented one space, views at column 0."""
    return render_blocks(root, ["#", RELEASE], " ")


class ComwareDevice(Device):
    """Running config (edited in place), the commit delay and archives of a Comware router."""

    platform = "h3c_comware"
    error_texts = ERRORS
    header_prefixes = ("version ",)

    def __init__(self, hostname: str, clock: SimClock | None = None, fabric: object | None = None):
        self.delay: Revert | None = None
        self.archives: list[tuple[str, str]] = []
        self.archive_location = ""
        self.archive_prefix = ""
        super().__init__(hostname, clock, fabric)

    def cursor(self) -> Cursor:
        return Cursor(comware_grammar(), RULES, SYSTEM)

    def render(self, root: Node) -> str:
        return render(root)

    def stamp(self, when: float | None = None) -> str:
        t = self.local_time(when)
        return t.strftime("%H:%M:%S.%f")[:12] + t.strftime(" CST %a %m/%d/%Y")

    def timer(self) -> Revert | None:
        return self.delay

    def expire(self, timer: Revert) -> None:
        self.running = timer.before
        self.delay = None
        self.log.append(f"{self.stamp()} configuration commit delay expired: rolled back")


class ComwareSession:
    """One CLI session on a :class:`ComwareDevice`."""

    _ids = itertools.count(1)

    def __init__(self, device: ComwareDevice, user: str = "netops"):
        self.device = device
        self.user = user
        self.id = next(self._ids)
        self.mode = "user"
        self.cursor = device.cursor()
        self.question: Question | None = None
        self.config_lines = 0
        self.closed = False
        self.drop = False

    def prompt(self) -> str:
        if self.question:
            return ""
        host = self.device.sysname
        if self.mode == "user":
            return f"<{host}>"
        return f"[{host}{self.cursor.view.suffix}]"

    def banner(self) -> str:
        return ("\n******************************************************************************\n"
                "* Copyright (c) 2004-2021 New H3C Technologies Co., Ltd. All rights reserved.*\n"
                "* Without the owner's prior written consent,                                 *\n"
                "* no decompiling or reverse-engineering shall be allowed.                    *\n"
                "******************************************************************************\n")

    def ask(self, text: str, answer) -> str:
        self.question = Question(text, "YN", answer)
        return text

    def handle(self, raw: str) -> str:
        dev = self.device
        dev.tick()
        with dev.lock:
            if self.question:
                q = self.question
                ans = raw.strip().upper()
                if ans in ("Y", "YES", "N", "NO"):
                    self.question = None
                    return q.answer(ans[0])
                return q.text
            line = " ".join(raw.split())
            if not line:
                return ""
            return self._dispatch(line, raw)

    def _error(self, line: str, word: int, kind: str) -> str:
        col = len(self.prompt()) + caret_column(line, word)
        return " " * col + "^\n" + ERRORS[kind]

    def _dispatch(self, line: str, raw: str) -> str:
        dev = self.device
        low = line.lower()
        if low.startswith("display ") or low.startswith("dis "):
            return outputs.comware_display(self, line)
        if low.startswith("ping "):
            text = outputs.ping(self.device, line, "h3c_comware")
            return text if text is not None else self._error(line, 1, "wrong")
        if low in ("screen-length disable",):
            return "" if self.mode == "user" else self._error(line, 0, "unrecognized")
        if low.startswith("terminal language"):
            return ""
        if line.startswith("save"):
            return self._save(line)
        if line.startswith("dir"):
            rows = ["Directory of flash:", *(f"   {i} -rw- {len(t):>9} Nov 29 2026 08:00:00   {n}"
                                             for i, (n, t) in enumerate(sorted(dev.files.items())))]
            return "\n".join(rows)
        m = re.match(r"^delete(?: /unreserved)? (\S+)$", line)
        if m:
            name = flash_name(m.group(1))
            if dev.files.pop(name, None) is None:
                return f"Error: File flash:/{name} does not exist."
            return f"Deleting file flash:/{name}... Done."
        if self.mode == "user":
            if line in ("system-view", "sys"):
                self.mode = "system"
                self.cursor.reset()
                self.config_lines = 0
                return "System View: return to User View with Ctrl+Z."
            if line in ("quit", "exit"):
                self.closed = True
                return ""
            if line == "archive configuration":
                return self._archive()
            if line == "return":
                return ""
            return self._error(line, 0, "unrecognized")
        if line == "return" or (line == "quit" and len(self.cursor.stack) == 1):
            self.mode = "user"
            self.cursor.reset()
            return ""
        if line == "quit":
            self.cursor.stack.pop()
            return ""
        m = re.match(r"^configuration commit delay (\d+)$", line)
        if m and len(self.cursor.stack) == 1:
            minutes = int(m.group(1))
            if not 1 <= minutes <= 65535:
                return self._error(line, 3, "wrong")
            if dev.delay:
                dev.delay.deadline = dev.clock.now() + 60 * minutes
            else:
                dev.delay = Revert(dev.clock.now() + 60 * minutes, dev.snapshot())
            return ""
        if line == "configuration commit" and len(self.cursor.stack) == 1:
            if dev.faults.fail_commit:
                return " % Failed to commit the configuration."
            dev.delay = None
            return ""
        m = re.match(r"^configuration replace file (\S+)$", line)
        if m and len(self.cursor.stack) == 1:
            return self._replace(flash_name(m.group(1)))
        m = re.match(r"^archive configuration location (\S+) filename-prefix (\S+)$", line)
        if m:
            dev.archive_location = m.group(1)
            dev.archive_prefix = m.group(2)
            return ""
        self.config_lines += 1
        if dev.faults.reject_line and self.config_lines == dev.faults.reject_line:
            return self._error(line, 0, "unrecognized")
        verdict, _ = self.cursor.apply(dev.running, raw)
        dev.version += 1  # edited in place
        if not verdict.ok:
            return self._error(line, verdict.pos, verdict.kind)
        return ""

    def _save(self, line: str) -> str:
        dev = self.device
        m = re.match(r"^save(?: (\S+\.cfg))?(?: force)?$", line)
        if not m:
            return self._error(line, 1, "wrong")
        name = flash_name(m.group(1)) if m.group(1) else "startup.cfg"

        def go(ans: str) -> str:
            if ans == "N":
                return ""
            dev.write_running(name)
            return ("Validating file. Please wait...\n"
                    "Saved the current configuration to mainboard device successfully.")
        if line.endswith(" force"):
            return go("Y")
        return self.ask("The current configuration will be written to the device. Are you sure? [Y/N]:", go)

    def _archive(self) -> str:
        dev = self.device
        if not dev.archive_location:
            return "Error: Please specify the archive file location first."

        def go(ans: str) -> str:
            if ans == "N":
                return ""
            prefix = dev.archive_prefix or dev.hostname
            name = f"{flash_name(dev.archive_location).rstrip('/')}/{prefix}_{len(dev.archives) + 1}.cfg"
            dev.write_running(name)
            dev.archives.append((name, dev.stamp()))
            return f"The archive file flash:/{name} is saved."
        return self.ask("Save the running configuration to an archive file. Continue? [Y/N]:", go)

    def _replace(self, name: str) -> str:
        dev = self.device
        if name not in dev.files:
            return f"Error: File flash:/{name} does not exist."
        tree, errors = dev.read_file(name)

        def go(ans: str) -> str:
            if errors:
                no, text, why = errors[0]
                return (f" % Failed to replace the running configuration: line {no} ({text}): {why} "
                        f"({len(errors)} invalid line(s)); the running configuration is unchanged.")
            dev.running = tree
            return ("Now replacing the current configuration. Please wait...\n"
                    f"Succeeded in replacing current configuration with the file flash:/{name}.")
        # H3C's own Ansible module answers this question; its exact text is unverified (notes §2)
        return self.ask("Current configuration will be lost, save current configuration? [Y/N]:", go)

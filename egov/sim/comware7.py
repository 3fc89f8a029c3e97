"""An H3C Comware 7 router (SR/MSR): changes take effect at once; commit delay is the safety net.

Behaviour and wording from ../shared/notes/chinese-nos.md section 2 (H3C Comware 7
"Configuration file management" guide; HPE FlexNetwork 5510 HI manual, Release 1121+) and the
H3C command references cited per command in :data:`SYNTAX`. Only the subset of the command
reference the egov templates use is written down; anything else is rejected with Comware's own
``%`` error, so a template line outside this subset shows up in tests instead of on a router.
"""

from __future__ import annotations

import re
from functools import cache

from egov.sim import outputs
from egov.sim.cli import Cursor, View, ViewRule
from egov.sim.grammar import Command, Grammar, Verdict
from egov.sim.model import Device, Node, Revert, Session, SimClock, command, flash_name, render_blocks

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
        self.archive_prefix = ""  # archive file names: the host name until one is set
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


class ComwareSession(Session[ComwareDevice]):
    """One CLI session on a :class:`ComwareDevice`: configuration lines change running at once."""

    BANNER = ("\n******************************************************************************\n"
              "* Copyright (c) 2004-2021 New H3C Technologies Co., Ltd. All rights reserved.*\n"
              "* Without the owner's prior written consent,                                 *\n"
              "* no decompiling or reverse-engineering shall be allowed.                    *\n"
              "******************************************************************************\n")
    ENTER_SYSTEM = "System View: return to User View with Ctrl+Z."
    COMMANDS = [
        command("any", r"^(?:display|dis) ", "_display", nocase=True),
        command("any", r"^ping ", "_ping", nocase=True),
        command("any", r"^screen-length disable$", "_screen_length", nocase=True),
        command("any", r"^terminal language", "_nothing", nocase=True),
        command("any", r"^save", "_save"),
        command("any", r"^dir", "_dir"),
        command("any", r"^delete(?: /unreserved)? (\S+)$", "_delete"),
        command("user", r"^(?:system-view|sys)$", "_system_view"),
        command("user", r"^(?:quit|exit)$", "_close"),
        command("user", r"^archive configuration$", "_archive"),
        command("user", r"^return$", "_nothing"),
        command("system", r"^return$", "_return"),
        command("system", r"^quit$", "_quit"),
        command("system", r"^configuration commit delay (\d+)$", "_commit_delay"),
        command("system", r"^configuration commit$", "_commit"),
        command("system", r"^configuration replace file (\S+)$", "_replace_line"),
        command("system", r"^archive configuration location (\S+) filename-prefix (\S+)$", "_archive_location"),
    ]

    def _display(self, m: re.Match[str]) -> str:
        return outputs.comware_display(self, m.string)

    def _screen_length(self, m: re.Match[str]) -> str:
        return "" if self.mode == "user" else self._error(m.string, 0, "unrecognized")

    def _apply(self, raw: str) -> Verdict:
        """A configuration line takes effect at once (the commit delay is the only way back)."""
        verdict, _ = self.cursor.apply(self.device.running, raw)
        self.device.version += 1  # edited in place
        return verdict

    def _top(self) -> bool:
        """The configuration-management commands exist in the system view only."""
        return len(self.cursor.stack) == 1

    # --- commit delay ---------------------------------------------------------------------------
    def _commit_delay(self, m: re.Match[str]) -> str | None:
        """``configuration commit delay N``: running reverts in N minutes unless committed; a second
        one moves the deadline and keeps the first rollback point."""
        if not self._top():
            return None
        dev = self.device
        minutes = int(m.group(1))
        if not 1 <= minutes <= 65535:
            return self._error(m.string, 3, "wrong")
        if dev.delay:
            dev.delay.deadline = dev.clock.now() + 60 * minutes
        else:
            dev.delay = Revert(dev.clock.now() + 60 * minutes, dev.snapshot())
        return ""

    def _commit(self, m: re.Match[str]) -> str | None:
        """``configuration commit``: keep what the commit delay would revert."""
        if not self._top():
            return None
        if self.device.faults.fail_commit:
            return " % Failed to commit the configuration."
        self.device.delay = None
        return ""

    # --- files on flash -------------------------------------------------------------------------
    def _dir(self, m: re.Match[str]) -> str:
        rows = ["Directory of flash:", *(f"   {i} -rw- {len(t):>9} Nov 29 2026 08:00:00   {n}"
                                         for i, (n, t) in enumerate(sorted(self.device.files.items())))]
        return "\n".join(rows)

    def _delete(self, m: re.Match[str]) -> str:
        name = flash_name(m.group(1))
        if self.device.files.pop(name, None) is None:
            return f"Error: File flash:/{name} does not exist."
        return f"Deleting file flash:/{name}... Done."

    def _save(self, m: re.Match[str]) -> str:
        """``save [file] [force]``: asks first unless forced."""
        dev = self.device
        line = m.string
        sm = re.match(r"^save(?: (\S+\.cfg))?(?: force)?$", line)
        if not sm:
            return self._error(line, 1, "wrong")
        name = flash_name(sm.group(1)) if sm.group(1) else "startup.cfg"

        def go(ans: str) -> str:
            if ans == "N":
                return ""
            dev.write_running(name)
            return ("Validating file. Please wait...\n"
                    "Saved the current configuration to mainboard device successfully.")
        if line.endswith(" force"):
            return go("Y")
        return self.ask("The current configuration will be written to the device. Are you sure? [Y/N]:", go)

    def _archive_location(self, m: re.Match[str]) -> str:
        self.device.archive_location = m.group(1)
        self.device.archive_prefix = m.group(2)
        return ""

    def _archive(self, m: re.Match[str]) -> str:
        """``archive configuration``: running saved as the next numbered archive file."""
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

    def _replace_line(self, m: re.Match[str]) -> str | None:
        return self._replace(flash_name(m.group(1))) if self._top() else None

    def _replace(self, name: str) -> str:
        """``configuration replace file F``: running becomes the file, all or nothing."""
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

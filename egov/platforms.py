"""What the toolkit knows about each network OS: names, drivers, transports, secrets, getters.

One small table instead of per-vendor branches in code; templates hold the
syntax, this holds the facts every stage needs (interface naming for the plan,
the main template and password hashing for render, drivers, transports, the
running-config command, secret masking and the getters verification may use
for change). A new vendor is a row here, a template folder and a NAPALM driver.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from anyascii import anyascii

#: where free text lands in a config: an interface description, SNMP sysLocation/sysContact
#: (DisplayString, at most 255 octets, RFC 2579), or a comment line naming the site
TextSlot = str
SLOTS: tuple[TextSlot, ...] = ("description", "snmp", "comment")


@dataclass(frozen=True, slots=True)
class TextRule:
    """What one platform accepts in free text (see docs/free-text.md for the sources).

    ``utf8``: non-ASCII text is kept (else transliterated to ASCII, 西安 -> XiAn); ``limits``: the
    longest value per slot, in characters (octets for SNMP); ``drop``: characters the platform's CLI
    reads as something other than text (``?`` asks for help on every interactive CLI)."""

    utf8: bool
    limits: dict[TextSlot, int]
    drop: str = "?"


_WS = re.compile(r"\s+")

#: how egov talks to a device: a transactional NAPALM driver, or netmiko (backup and show only)
Transport = Literal["napalm", "netmiko"]
#: NAPALM getters every core driver has; verification uses them where the plan expects state
CORE_GETTERS = ("get_facts", "get_interfaces", "get_interfaces_ip", "ping")
#: post-check name (``--accept-unchecked``) -> the getters it needs
CHECK_GETTERS: dict[str, tuple[str, ...]] = {
    "interfaces": ("get_interfaces", "get_interfaces_ip"),
    "isis": ("get_isis_neighbors",),
    "bfd": ("get_bfd_peers",),
    "ping": ("ping",),
}

#: config lines that carry secrets, per syntax family: (pattern, groups holding a secret)
_NET_SNMP = r'^(\s*createUser\s+\S+\s+\S+\s+)("[^"]*"|\S+)(\s+\S+\s+)("[^"]*"|\S+)'
MASKS: dict[str, tuple[str, ...]] = {
    "frr": (_NET_SNMP, r"(\b(?:secret|password)\s+\d+\s+)(\S+)"),
    # [ \t], not \s: a match must not run onto the next line ("authentication-mode scheme\n protocol ...")
    # (and only the key after "cipher": "ssh server cipher aes256_gcm ..." names algorithms)
    "huawei_vrp": (r"(\b(?:authentication-mode|privacy-mode)[ \t]+\S+[ \t]+(?:cipher|simple|plain)[ \t]+)(\S+)",
                   r"(\bpassword[ \t]+(?:simple|cipher|hash|irreversible-cipher)[ \t]+)(\S+)",
                   # a keyed mode (OSPF "authentication-mode md5 1 cipher KEY"): the key, not its id
                   r"(\bauthentication-mode[ \t]+\S+[ \t]+\d+[ \t]+(?:cipher|plain|simple)[ \t]+)(\S+)"),
    "h3c_comware": (r"(\bpassword[ \t]+(?:simple|cipher|hash|irreversible-cipher)[ \t]+)(\S+)",
                    # not VRP8's "authentication-mode sha2-256 cipher KEY": its keyword stays, "cipher" masks KEY;
                    # nor a keyed mode's id ("md5 1 cipher KEY": the pattern above masks KEY)
                    r"((?:authentication-mode|privacy-mode)[ \t]+\S+[ \t]+)"
                    r"(?!cipher\b|simple\b|plain\b|\d+[ \t]+(?:cipher|plain|simple)\b)(\S+)"),
    "cisco_iosxe": (r"(\b(?:secret|password)\s+\d+\s+)(\S+)", r"(\bscrypt\s+secret\s+)(\S+)",
                    r"(\b(?:auth|priv)\s+(?:sha(?:-2\s+256)?|aes\s+\d+)\s+)(\S+)"),
    "juniper_junos": (r'(\b(?:encrypted-password|authentication-password|privacy-password|authentication-key'
                      r'|secret)[ \t]+)("[^"]*"|\S+)',),
}


@dataclass(frozen=True, slots=True)
class Platform:
    name: str
    vendor: str
    os: str
    port_format: str
    loopback: str
    mgmt_interface: str
    napalm_driver: str
    netmiko_device_type: str
    ansible_network_os: str
    text: TextRule
    #: napalm (transactional: plan, apply, verify, rollback) or netmiko (backup and show only)
    transport: Transport = "napalm"
    #: the command that prints the running configuration (netmiko backups)
    show_running: str = "show running-config"
    #: the template in templates/<name>/ that becomes <hostname>.cfg
    main_template: str = "device.j2"
    #: the admin password goes into the config as a SHA-512 crypt hash (else the template hashes)
    password_hash: bool = False
    #: the NAPALM getters its driver implements, beyond CORE_GETTERS
    extra_getters: tuple[str, ...] = ()

    @property
    def getters(self) -> tuple[str, ...]:
        return CORE_GETTERS + self.extra_getters

    @property
    def checks(self) -> tuple[str, ...]:
        """The post-checks (interfaces, isis, bfd, ping) its getters can run."""
        return tuple(c for c, need in CHECK_GETTERS.items() if all(g in self.getters for g in need))

    @property
    def masks(self) -> tuple[str, ...]:
        """Regexes of its secret-bearing config lines (egov.change.mask applies them)."""
        return MASKS.get(self.name, ())

    def port_name(self, port: int) -> str:
        return self.port_format.format(port=port)

    def config_text(self, slot: TextSlot, value: str) -> str:
        """``value`` as it may appear on one config line of this platform: never more than one line.

        The plan refuses control characters and over-long values before anything renders (this is
        the second defence): any character that is not printable becomes a space, runs of
        whitespace collapse, text is transliterated where the platform is ASCII-only, and the
        result is cut to the slot's limit."""
        rule = self.text
        out = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in value)
        if not rule.utf8:
            out = anyascii(out)
        out = "".join(c for c in out if c not in rule.drop)
        out = _WS.sub(" ", out).strip()
        limit = rule.limits[slot]
        if slot == "snmp":  # octets, not characters
            return out.encode()[:limit].decode(errors="ignore").rstrip()
        return out[:limit].rstrip()

    def text_problem(self, slot: TextSlot, value: str) -> str | None:
        """Why ``value`` would not land intact in this platform's config, or None."""
        dropped = sorted({c for c in value if c in self.text.drop})
        if dropped:
            return f"contains {', '.join(map(repr, dropped))}, which {self.name}'s CLI reads as a command"
        shown = " ".join((value if self.text.utf8 else anyascii(value)).split())
        size = len(shown.encode()) if slot == "snmp" else len(shown)
        limit = self.text.limits[slot]
        if size > limit:
            unit = "octets" if slot == "snmp" else "characters"
            return f"is {size} {unit} on {self.name} (after transliteration), over its limit of {limit}"
        return None


#: what napalm_huawei_vrp8 and napalm_h3c_comware7 implement beyond CORE_GETTERS (issue 12)
VRP_COMWARE_GETTERS = ("get_isis_neighbors", "get_bfd_peers", "get_config")

PLATFORMS: dict[str, Platform] = {
    p.name: p
    for p in (
        # FRR on Linux (white-box and the lab): vtysh is the CLI; netmiko drives it as IOS-like.
        Platform("frr", "FRRouting", "FRR 8.4 on Debian 12", "eth{port}", "lo", "mgmt0",
                 "frr", "cisco_ios", "frr.frr.frr",
                 TextRule(True, {"description": 200, "snmp": 255, "comment": 200}),
                 main_template="frr.conf.j2", extra_getters=(
                     "get_isis_neighbors", "get_bfd_peers", "get_interfaces_counters", "get_arp_table",
                     "get_ipv6_neighbors_table", "get_lldp_neighbors", "get_route_to", "get_ntp_servers",
                     "get_snmp_information", "get_users", "get_config")),
        Platform("huawei_vrp", "Huawei", "VRP 8 (NE40E/NE8000)", "GigabitEthernet0/1/{port}",
                 "LoopBack0", "GigabitEthernet0/0/0", "huawei_vrp8", "huawei_vrpv8", "community.network.ce",
                 TextRule(False, {"description": 242, "snmp": 255, "comment": 200}),
                 show_running="display current-configuration", extra_getters=VRP_COMWARE_GETTERS),
        Platform("h3c_comware", "H3C", "Comware 7 (SR/MSR)", "GigabitEthernet1/0/{port}",
                 "LoopBack0", "M-GigabitEthernet0/0/0", "h3c_comware7", "hp_comware", "community.network.comware",
                 TextRule(False, {"description": 255, "snmp": 255, "comment": 200}),
                 show_running="display current-configuration", extra_getters=VRP_COMWARE_GETTERS),
        Platform("cisco_iosxe", "Cisco", "IOS-XE 17", "GigabitEthernet0/0/{port}",
                 "Loopback0", "GigabitEthernet0", "ios", "cisco_xe", "cisco.ios.ios",
                 TextRule(False, {"description": 200, "snmp": 255, "comment": 200})),
        Platform("juniper_junos", "Juniper", "Junos 23 (MX)", "ge-0/0/{port}",
                 "lo0", "fxp0", "junos", "juniper_junos", "junipernetworks.junos.junos",
                 TextRule(False, {"description": 900, "snmp": 255, "comment": 200}), password_hash=True),
    )
}

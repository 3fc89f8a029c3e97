"""What the toolkit knows about each network OS: names, drivers, transports.

One small table instead of per-vendor branches in code; templates hold the
syntax, this holds the facts every stage needs (interface naming for the plan,
drivers for change, transports for backups).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

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


PLATFORMS: dict[str, Platform] = {
    p.name: p
    for p in (
        # FRR on Linux (white-box and the lab): vtysh is the CLI; netmiko drives it as IOS-like.
        Platform("frr", "FRRouting", "FRR 8.4 on Debian 12", "eth{port}", "lo", "mgmt0",
                 "frr", "cisco_ios", "frr.frr.frr",
                 TextRule(True, {"description": 200, "snmp": 255, "comment": 200})),
        Platform("huawei_vrp", "Huawei", "VRP 8 (NE40E/NE8000)", "GigabitEthernet0/1/{port}",
                 "LoopBack0", "GigabitEthernet0/0/0", "huawei_vrp", "huawei_vrpv8", "community.network.ce",
                 TextRule(False, {"description": 242, "snmp": 255, "comment": 200})),
        Platform("h3c_comware", "H3C", "Comware 7 (SR/MSR)", "GigabitEthernet1/0/{port}",
                 "LoopBack0", "M-GigabitEthernet0/0/0", "h3c_comware", "hp_comware", "community.network.comware",
                 TextRule(False, {"description": 255, "snmp": 255, "comment": 200})),
        Platform("cisco_iosxe", "Cisco", "IOS-XE 17", "GigabitEthernet0/0/{port}",
                 "Loopback0", "GigabitEthernet0", "ios", "cisco_xe", "cisco.ios.ios",
                 TextRule(False, {"description": 200, "snmp": 255, "comment": 200})),
        Platform("juniper_junos", "Juniper", "Junos 23 (MX)", "ge-0/0/{port}",
                 "lo0", "fxp0", "junos", "juniper_junos", "junipernetworks.junos.junos",
                 TextRule(False, {"description": 900, "snmp": 255, "comment": 200})),
    )
}

"""What the toolkit knows about each network OS: names, drivers, transports.

One small table instead of per-vendor branches in code; templates hold the
syntax, this holds the facts every stage needs (interface naming for the plan,
drivers for change, transports for backups).
"""

from __future__ import annotations

from dataclasses import dataclass


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

    def port_name(self, port: int) -> str:
        return self.port_format.format(port=port)


PLATFORMS: dict[str, Platform] = {
    p.name: p
    for p in (
        # FRR on Linux (white-box and the lab): vtysh is the CLI; netmiko drives it as IOS-like.
        Platform("frr", "FRRouting", "FRR 8.4 on Debian 12", "eth{port}", "lo", "mgmt0",
                 "frr", "cisco_ios", "frr.frr.frr"),
        Platform("huawei_vrp", "Huawei", "VRP 8 (NE40E/NE8000)", "GigabitEthernet0/1/{port}",
                 "LoopBack0", "GigabitEthernet0/0/0", "huawei_vrp", "huawei_vrpv8", "community.network.ce"),
        Platform("h3c_comware", "H3C", "Comware 7 (SR/MSR)", "GigabitEthernet1/0/{port}",
                 "LoopBack0", "M-GigabitEthernet0/0/0", "h3c_comware", "hp_comware", "community.network.comware"),
        Platform("cisco_iosxe", "Cisco", "IOS-XE 17", "GigabitEthernet0/0/{port}",
                 "Loopback0", "GigabitEthernet0", "ios", "cisco_xe", "cisco.ios.ios"),
        Platform("juniper_junos", "Juniper", "Junos 23 (MX)", "ge-0/0/{port}",
                 "lo0", "fxp0", "junos", "juniper_junos", "junipernetworks.junos.junos"),
    )
}

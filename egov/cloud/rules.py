"""Baseline security group rules of a tenancy, as plain data (the Tenancy makes one resource each).

Inbound is denied by default: the group is created without OpenStack's default rules and every
allowed flow is one rule naming its source. Management (SSH, ping) comes only from the operations
networks; shared services reach only the ports they need, from their own addresses; applications
publish their ports to the extranet (or the sources the department names). Outbound is open.
Neutron's port security already admits IPv6 neighbour discovery and router advertisements from the
subnet's router, so SLAAC needs no rule here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from egov.cloud.config import Department, Layout, port_range


@dataclass(frozen=True, slots=True)
class Rule:
    suffix: str
    direction: str
    ethertype: str
    protocol: str | None
    port_min: int | None
    port_max: int | None
    remote: str
    description: str


def _family(prefix: str) -> tuple[str, str]:
    v = ipaddress.ip_network(prefix).version
    return ("IPv4", "icmp") if v == 4 else ("IPv6", "ipv6-icmp")


def baseline_rules(layout: Layout, dept: Department) -> list[Rule]:
    out = [
        Rule("egress-v4", "egress", "IPv4", None, None, None, "0.0.0.0/0", "outbound"),
        Rule("egress-v6", "egress", "IPv6", None, None, None, "::/0", "outbound"),
    ]
    for i, net in enumerate(layout.ops_networks):
        eth, icmp = _family(str(net))
        out.append(Rule(f"mgmt-ssh-{i}", "ingress", eth, "tcp", 22, 22, str(net), "SSH from the ops network"))
        out.append(Rule(f"mgmt-ping-{i}", "ingress", eth, icmp, None, None, str(net), "ping from the ops network"))
    used = layout.services if dept.services is None else {k: layout.services[k] for k in dept.services}
    for name, svc in used.items():
        n = 0
        for net in [*svc.ipv4, *svc.ipv6]:
            for ports in svc.ports:
                lo, hi = port_range(ports)
                eth, _ = _family(str(net))
                out.append(Rule(f"svc-{name}-{n}", "ingress", eth, svc.protocol, lo, hi, str(net),
                                f"shared service {name}"))
                n += 1
    ingress = layout.default_ingress if dept.ingress is None else dept.ingress
    for k, ing in enumerate(ingress):
        lo, hi = port_range(ing.ports)
        for j, net in enumerate(ing.sources if ing.sources is not None else layout.extranet):
            eth, _ = _family(str(net))
            out.append(Rule(f"app-{k}-{j}", "ingress", eth, ing.protocol, lo, hi, str(net),
                            ing.description or f"application {ing.protocol}/{ing.ports}"))
    return out

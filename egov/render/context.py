"""The variables a device template sees: plain, JSON-compatible data.

Plain data (dicts, lists, strings, numbers) rather than Python objects, so the
same templates render identically in egov's engine, in Ansible's ``template``
module and in AWX (``egov`` writes these as host vars when asked). Addresses
keep the attribute names of Python's ``ipaddress`` (``.ip``, ``.with_prefixlen``,
``.netmask``, ``.network.prefixlen``...), so templates read naturally.

Rules for template authors (checked by tests): print addresses through an
attribute (``iface.ipv4.with_prefixlen``, ``iface.ipv4.ip``), never the whole
value; tell families apart with ``x.version``.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from egov.platforms import PLATFORMS, Platform
from egov.render.secrets import Secrets
from egov.topology.model import Interface, Node
from egov.topology.validate import Plan

_IfaceT = ipaddress.IPv4Interface | ipaddress.IPv6Interface
_NetT = ipaddress.IPv4Network | ipaddress.IPv6Network
_AddrT = ipaddress.IPv4Address | ipaddress.IPv6Address


def address(a: _AddrT) -> dict[str, Any]:
    return {"ip": str(a), "compressed": a.compressed, "exploded": a.exploded, "version": a.version}


def network(n: _NetT) -> dict[str, Any]:
    return {
        "network_address": str(n.network_address),
        "prefixlen": n.prefixlen,
        "netmask": str(n.netmask),
        "hostmask": str(n.hostmask),
        "with_prefixlen": n.with_prefixlen,
        "with_netmask": n.with_netmask,
        "with_hostmask": n.with_hostmask,
        "version": n.version,
    }


def interface_address(i: _IfaceT | None) -> dict[str, Any] | None:
    if i is None:
        return None
    return {
        "ip": str(i.ip),
        "prefixlen": i.network.prefixlen,
        "netmask": str(i.netmask),
        "with_prefixlen": i.with_prefixlen,
        "with_netmask": i.with_netmask,
        "network": network(i.network),
        "version": i.version,
    }


def _iface(i: Interface, p: Platform) -> dict[str, Any]:
    return {
        "name": i.name,
        "port": i.port,
        "role": i.role,
        "peer": i.peer,
        "peer_name": i.peer_name,
        "link": i.link,
        "tier": i.tier,
        "description": p.config_text("description", i.description),
        "bandwidth": i.bandwidth,
        "bandwidth_bps": i.bandwidth_bps,
        "bandwidth_kbps": i.bandwidth_kbps,
        "bandwidth_mbps": i.bandwidth_mbps,
        "metric": i.metric,
        "bfd_profile": i.bfd_profile,
        "isis_circuit": i.isis_circuit,
        "ipv4": interface_address(i.ipv4),
        "ipv6": interface_address(i.ipv6),
    }


def _plain(value: Any) -> Any:
    """pydantic models and ipaddress values -> plain data."""
    if hasattr(value, "model_dump"):
        return {k: _plain(getattr(value, k)) for k in type(value).model_fields}
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return address(value)
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return network(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def platform_vars(p: Platform) -> dict[str, Any]:
    """The platform's names for templates (its text rules are applied before values reach them)."""
    return {f: getattr(p, f) for f in p.__dataclass_fields__ if f != "text"}


class ContextBuilder:
    """Builds per-router variables; the parts shared by every router are converted once."""

    def __init__(self, plan: Plan, secrets: Secrets):
        prof = plan.loaded.profile
        common = {
            "profile_name": prof.name,
            "igp": _plain(prof.igp),
            "mgmt": _plain(prof.pools.mgmt),
        }
        # free text goes through each platform's text rules (one line, its charset, its limits)
        self.shared: dict[str, dict[str, Any]] = {}
        for name, p in PLATFORMS.items():
            services = _plain(prof.services)
            for key in ("location", "contact"):
                services["snmp"][key] = p.config_text("snmp", services["snmp"][key])
            self.shared[name] = {**common, "services": services}
        self.bfd = {name: _plain(b) for name, b in plan.topology.bfd.items()}
        self.secrets = secrets
        self._platforms = {name: platform_vars(p) for name, p in PLATFORMS.items()}

    def secret_vars(self, needs_hash: bool) -> dict[str, str]:
        s = self.secrets
        out = {"snmp_auth_key": s.snmp_auth_key, "snmp_priv_key": s.snmp_priv_key,
               "admin_password": s.admin_password}
        out["admin_password_sha512"] = s.admin_password_sha512 if needs_hash else ""
        return out

    def node_vars(self, node: Node) -> dict[str, Any]:
        p = PLATFORMS[node.platform]
        ifaces = [_iface(i, p) for i in node.interfaces]
        n = {
            "hostname": node.hostname,
            "tier": node.tier,
            "site": node.site,
            "site_name": p.config_text("comment", node.site_name),
            "member": node.member,
            "platform": node.platform,
            "region": node.region,
            "isis_level": node.isis_level,
            "area": node.area,
            "system_id": node.system_id,
            "net": node.net,
            "loopback4": interface_address(node.loopback4),
            "loopback6": interface_address(node.loopback6),
            "mgmt4": interface_address(node.mgmt4),
            "mgmt6": interface_address(node.mgmt6),
            "interfaces": ifaces,
            "services": [{"name": v.name, "port": v.port, "service": v.service,
                          "description": p.config_text("description", v.description),
                          "ipv4": interface_address(v.ipv4), "ipv6": interface_address(v.ipv6)}
                         for v in node.services],
            "bfd_profiles": node.bfd_profiles,
        }
        return {
            **self.shared[node.platform],
            "node": n,
            "platform": self._platforms[node.platform],
            "bfd": {name: self.bfd[name] for name in node.bfd_profiles},
        }

    def context(self, node: Node) -> dict[str, Any]:
        """Everything one template render needs, secrets included (never logged)."""
        ctx = self.node_vars(node)
        ctx["secrets"] = self.secret_vars(PLATFORMS[node.platform].password_hash)
        return ctx

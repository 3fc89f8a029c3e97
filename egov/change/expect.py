"""What a device must show after a change, derived from the plan: a validation document.

The document is NAPALM's ``compliance_report`` format (a list of ``{getter: expected}``, with
``_name``, ``_kwargs`` and ``_mode: strict``), so it reads like any NAPALM validation file and the
comparison is NAPALM's own (``napalm.base.validate.compare``, run by egov.change.verify).

During a rollout only links whose far end is already configured can form adjacencies, so the
document is computed against the set of routers done so far; the final `verify` uses every router.
"""

from __future__ import annotations

import re
from typing import Any

from egov.topology.model import Topology

#: a ping passes with at least one reply of two (as NAPALM counts: lost packets)
PING = {"count": 2, "timeout": 1}


def _exactly(text: str) -> str:
    """NAPALM compares strings as regular expressions: anchor and escape plan values."""
    return f"^{re.escape(text)}$"


def validation(topo: Topology, host: str, configured: set[str] | None = None) -> list[dict[str, Any]]:
    """Interfaces up with their addresses; IS-IS (strict when every peer is expected: no unplanned
    adjacency) and BFD up to configured peers; their loopbacks and the province core's reachable from this router's loopback, both families."""
    node = topo.nodes[host]
    done = set(topo.nodes) if configured is None else configured | {host}
    peers = {i.name: i.peer for i in node.interfaces if i.peer in done}
    doc: list[dict[str, Any]] = [
        {"get_interfaces": {i.name: {"is_up": True} for i in node.interfaces}},
        {"get_interfaces_ip": {i.name: {fam: {str(a.ip): {"prefix_length": a.network.prefixlen}}
                                        for fam, a in (("ipv4", i.ipv4), ("ipv6", i.ipv6)) if a is not None}
                               for i in node.interfaces if i.ipv4 or i.ipv6}},
    ]
    if peers:
        # strict (no adjacency the plan does not have) once every planned peer is expected; during a
        # rollout over a running network, adjacencies to routers not yet done are up and fine
        every = len(peers) == sum(1 for i in node.interfaces if i.peer)
        doc.append({"get_isis_neighbors": {**({"_mode": "strict"} if every else {}), **{
            ifname: {"neighbor": _exactly(peer), "state": "^Up$"} for ifname, peer in peers.items()}}})
        doc.append({"get_bfd_peers": {"list": [{"interface": _exactly(i), "status": "^up$"} for i in sorted(peers)]}})
    targets = [topo.nodes[p] for p in dict.fromkeys(peers.values())]
    # every router also checks the province core (the roots), both families, when they are done
    roots = [n for n in topo.nodes.values() if n.tier == topo.tiers[0] and n.hostname in done and n.hostname != host]
    for n in [*targets, *[r for r in roots if r not in targets]]:
        for lo, src in ((n.loopback4, node.loopback4), (n.loopback6, node.loopback6)):
            if lo is not None:
                doc.append({"ping": {"_name": f"ping {lo.ip}", "_kwargs": {
                    "destination": str(lo.ip), "source": str(src.ip) if src else "", **PING},
                    "success": {"packet_loss": f"0<->{PING['count'] - 1}"}}})
    return doc

"""What a device must show after a change, derived from the plan (post-checks).

During a rollout only links whose far end is already configured can form
adjacencies, so expectations are computed against the set of routers done so
far; the final `verify` uses every router.
"""

from __future__ import annotations

from typing import Any

from egov.topology.model import Topology


def expectations(topo: Topology, host: str, configured: set[str] | None = None) -> dict[str, Any]:
    """Interfaces up with their addresses; IS-IS and BFD up to configured peers; their loopbacks reachable."""
    node = topo.nodes[host]
    done = set(topo.nodes) if configured is None else configured | {host}
    peers = {i.name: i.peer for i in node.interfaces if i.peer in done}
    ping: list[str] = []
    targets = [topo.nodes[p] for p in dict.fromkeys(peers.values())]
    # every router also checks the province core (the roots), both families, when they are done
    roots = [n for n in topo.nodes.values() if n.tier == topo.tiers[0] and n.hostname in done and n.hostname != host]
    for n in [*targets, *[r for r in roots if r not in targets]]:
        for lo in (n.loopback4, n.loopback6):
            if lo is not None:
                ping.append(str(lo.ip))
    return {
        "interfaces": {i.name: {"ipv4": str(i.ipv4) if i.ipv4 else None, "ipv6": str(i.ipv6) if i.ipv6 else None}
                       for i in node.interfaces},
        "isis": peers,
        "bfd": sorted(peers),
        "ping": ping,
        "source4": str(node.loopback4.ip) if node.loopback4 else None,
        "source6": str(node.loopback6.ip) if node.loopback6 else None,
    }

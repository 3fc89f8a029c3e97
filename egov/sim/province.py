"""Every VRP8 and Comware router of a profile as simulated devices sharing one clock and fabric."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from collections.abc import Callable

from egov.platforms import PLATFORMS
from egov.sim.comware7 import ComwareDevice, ComwareSession
from egov.sim.fabric import Fabric
from egov.sim.model import Device, Node, SimClock
from egov.sim.vrp8 import Vrp8Device, Vrp8Session

SIMULATED = {"huawei_vrp": (Vrp8Device, Vrp8Session), "h3c_comware": (ComwareDevice, ComwareSession)}

#: what a bare router keeps: its name and the way in (management VRF, interface, users, SSH, VTYs)
_BARE = ("sysname ", "ip vpn-instance ", "aaa", "local-user ", "ssh ", "stelnet ", "user-interface ",
         "line vty ", "undo telnet")


def bare(tree: Node, platform: str) -> Node:
    mgmt = f"interface {PLATFORMS[platform].mgmt_interface}"
    out = Node("")
    out.children = [n for n in tree.children if n.text == mgmt or n.text.startswith(_BARE)]
    return out


@dataclass
class Province:
    clock: SimClock
    devices: dict[str, Device] = field(default_factory=dict)
    fabric: Fabric | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # hostname -> platform it runs

    def session(self, host: str):
        dev = self.devices[host]
        return SIMULATED[dev.platform][1](dev)


def build(plan, limit: list[str] | None = None, bare_start: bool = False,
          progress: Callable[[int], None] | None = None, clock: SimClock | None = None) -> Province:
    """Devices for the plan's VRP8/Comware routers (matching ``limit`` globs), started from the
    rendered configs (placeholder secrets) or, with ``bare_start``, from name and management only."""
    from egov.render.engine import Renderer
    from egov.render.secrets import placeholders

    prov = Province(clock or SimClock())
    nodes = []
    for node in plan.topology.nodes.values():
        if limit and not any(fnmatch.fnmatch(node.hostname, g) for g in limit):
            continue
        if node.platform in SIMULATED:
            nodes.append(node)
        else:
            prov.skipped[node.hostname] = node.platform
    renderer = Renderer(plan, placeholders())
    res = renderer.render(nodes, progress=None)
    prov.fabric = Fabric(plan, prov.devices)
    for node in nodes:
        cls = SIMULATED[node.platform][0]
        dev = cls(node.hostname, prov.clock, prov.fabric)
        tree, errors = dev.parse(res.files[f"{node.hostname}.cfg"])
        dev.running = bare(tree, node.platform) if bare_start else tree
        dev.startup_errors = errors  # type: ignore[attr-defined]
        prov.devices[node.hostname] = dev
        if progress:
            progress(1)
    return prov

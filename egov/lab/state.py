"""What the lab made, recorded as it is made, so `down` removes exactly that and nothing else."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from egov.atomic import write_atomic

RUN_DIR = Path("/run/egov/lab")
STATE_FILE = RUN_DIR / "state.json"
FAULT_LOG_DIR = Path("/var/log/egov")


@dataclass
class RouterState:
    ns: str
    uts: str
    dir: str
    index: int
    ssh_port: int
    snmp_port: int
    mgmt4: str
    mgmt6: str
    hub_if: str


@dataclass
class LinkState:
    key: str
    a: str
    a_if: str
    b: str
    b_if: str
    rate_bit: int
    bandwidth_bps: int


@dataclass
class ServiceState:
    """A hosted service of the plan, run in a namespace of its own behind its router."""

    ns: str  # its network namespace, svc-<name>
    router: str  # the plan router it hangs off (its veth end there is the plan's service interface)
    interface: str  # that interface's name on the router
    kind: str  # http or tcp
    path: str  # what an http probe asks for
    address4: str | None  # where it listens, the service LAN's second address
    address6: str | None
    port: int
    probe_port: int  # 127.0.0.1 TCP port on the host, relayed to address:port from inside the vantage router
    vantage: str  # the router probes start from, far from the service: the path crosses the backbone
    pid: int | None = None  # the server process; None while `egov lab fault service NAME down`


def _known(cls: type, raw: dict[str, Any]) -> dict[str, Any]:
    """Only the fields ``cls`` has: a state file written by a newer or older egov still loads."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in raw.items() if k in names}


@dataclass
class LabState:
    profile: str
    profile_path: str
    root: str
    hub: str
    bare: bool
    created: str
    routers: dict[str, RouterState] = field(default_factory=dict)
    links: list[LinkState] = field(default_factory=list)
    users_created: list[str] = field(default_factory=list)
    made_run_sshd: bool = False
    forwarder_pid: int | None = None
    #: 127.0.0.1 UDP port on the host that every router's SNMPv3 traps are relayed to (the trap
    #: receiver binds it; the routers send to the hub, where the forwarder picks them up)
    trap_port: int = 10162
    services: dict[str, ServiceState] = field(default_factory=dict)
    phase: str = "building"

    def save(self) -> None:
        write_atomic(STATE_FILE, json.dumps(asdict(self), indent=1), mode=0o600)

    @property
    def fault_log(self) -> Path:
        return FAULT_LOG_DIR / f"lab-{self.profile}-faults.jsonl"

    @property
    def secrets_file(self) -> Path:
        return Path(self.root) / "secrets.json"

    @property
    def ssh_key(self) -> Path:
        return Path(self.root) / "ssh" / "id_ed25519"

    def secrets(self) -> dict[str, str]:
        return json.loads(self.secrets_file.read_text())

    @classmethod
    def load(cls) -> "LabState | None":
        try:
            raw: dict[str, Any] = json.loads(STATE_FILE.read_text())
        except (OSError, ValueError):
            return None
        raw["routers"] = {k: RouterState(**_known(RouterState, v)) for k, v in raw.get("routers", {}).items()}
        raw["links"] = [LinkState(**_known(LinkState, v)) for v in raw.get("links", [])]
        raw["services"] = {k: ServiceState(**_known(ServiceState, v)) for k, v in raw.get("services", {}).items()}
        return cls(**_known(cls, raw))

"""What the lab made, recorded as it is made, so `down` removes exactly that and nothing else."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
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
        raw["routers"] = {k: RouterState(**v) for k, v in raw.get("routers", {}).items()}
        raw["links"] = [LinkState(**v) for v in raw.get("links", [])]
        return cls(**raw)

"""Where a device's management SSH is: the one shape every source of endpoints hands to change.

The plan gives production endpoints (``egov.change.runner.network_endpoints``); the lab gives its
forwarders (``egov.lab.access.lab_endpoints``). Change only ever sees this record, never the lab.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    address: str
    port: int
    username: str
    key_file: str | None = None
    password: str = ""

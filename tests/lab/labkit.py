"""The lab fixture: the `lab` profile as real FRR routers, built once per module through the real CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import egov

NEEDED = ["vtysh", "snmpd", "sshd", "ip", "nft", "iperf3", "fping", "snmpbulkwalk", "ssh"]
#: stdout of the last `egov lab up` of the fixture (its summary lines are part of the contract)
UP_OUTPUT: dict[str, str] = {}
SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]


def lab_available() -> str | None:
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces, veths, daemons)"
    missing = [t for t in NEEDED if not (shutil.which(t) or Path("/usr/sbin", t).exists())]
    if missing:
        return f"missing {', '.join(missing)}; run ./bootstrap.sh (it installs them)"
    if not Path("/usr/lib/frr/frrinit.sh").exists():
        return "Debian frr is not installed; run ./bootstrap.sh"
    if next(Path("/usr/lib").glob("*/frr/modules/isisd_snmp.so"), None) is None:
        return "Debian frr-snmp is not installed; run ./bootstrap.sh"
    return None


def sh(cmd: list[str], timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def in_router(state, host: str, cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:
    from egov.lab.host import in_router as argv

    return sh(argv(host, state.routers[host].uts, cmd), **kw)


def status_json() -> tuple[int, dict]:
    r = egov("lab", "status", "--json")
    return r.returncode, (json.loads(r.stdout) if r.stdout.strip().startswith("{") else {})


def wait_ok(timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        rc, doc = status_json()
        if rc == 0 or time.monotonic() > deadline:
            return doc
        time.sleep(1)


@pytest.fixture(scope="module")
def lab_up():
    """Bring the lab up once for the session; always take it down at the end."""
    why = lab_available()
    if why:
        pytest.skip(why)
    r = egov("lab", "up", "--profile", "lab", "--wait", "90")
    UP_OUTPUT["stdout"] = r.stdout
    if r.returncode != 0:
        egov("lab", "down")
        raise AssertionError(f"egov lab up failed:\n{r.stdout}\n{r.stderr}")
    from egov.lab.state import LabState

    state = LabState.load()
    yield state
    egov("lab", "down")

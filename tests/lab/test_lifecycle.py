"""Lab lifecycle: a half-built lab is cleaned and rebuilt, bare routers, and `down` leaves nothing behind."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import egov
from egov.errors import EgovError
from egov.topology.validate import build_plan

from .labkit import SSH_OPTS, lab_available, sh

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def needs_lab():
    why = lab_available()
    if why:
        pytest.skip(why)
    yield
    egov("lab", "down")


def _netns() -> set[str]:
    return {line.split()[0] for line in sh(["ip", "netns", "list"]).stdout.splitlines() if line.strip()}


def _lab_processes(routers: set[str]) -> list[str]:
    """Processes of the lab: FRR daemons of its pathspaces, its sshd/snmpd, its forwarder, its services."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if ("/run/egov/lab" in cmd or "egov.lab.forward" in cmd or "egov.lab.service" in cmd
                or any(f"-N {r} " in cmd + " " for r in routers)):
            found.append(f"{pid}: {cmd}")
    return found


def test_half_built_lab_is_cleaned_and_rebuilt(monkeypatch):
    from egov.lab import build

    plan = build_plan("lab")
    real_run = build.run
    made = []

    def crash_after_five(cmd, *a, **kw):
        if cmd[:3] == ["ip", "netns", "add"]:
            made.append(cmd[3])
            if len(made) > 5:
                raise EgovError.one("test", "", "simulated crash while building", "none")
        return real_run(cmd, *a, **kw)

    monkeypatch.setattr(build, "run", crash_after_five)
    with pytest.raises(EgovError):
        build.up(plan)
    monkeypatch.undo()
    assert {"egov-mgmt", *made[1:5]} <= _netns()  # a half-built lab is really there
    r = egov("lab", "up", "--profile", "lab", "--bare")
    assert r.returncode == 0, r.stdout + r.stderr
    assert _netns() >= set(plan.topology.nodes) | {"egov-mgmt"}


def test_bare_routers_have_only_hostname_and_management(needs_lab):
    from egov.lab.state import LabState

    state = LabState.load()
    assert state is not None and state.bare
    rs = state.routers["sn-xa-yt"]
    r = sh(["ssh", *SSH_OPTS, "-i", str(state.ssh_key), "-p", str(rs.ssh_port), "netops@127.0.0.1",
            "show running-config"])
    assert "hostname sn-xa-yt" in r.stdout
    assert "router isis" not in r.stdout and "ip address" not in r.stdout
    addrs = sh(["ip", "-n", "sn-xa-yt", "-o", "addr", "show"]).stdout
    assert not re.search(r"eth\d+\s+inet (?!fe80)|eth\d+\s+inet6 (?!fe80)", addrs)  # link-local only
    assert re.search(r"mgmt0\s+inet 172\.30\.", addrs)
    assert "eth1" in sh(["ip", "-n", "sn-xa-yt", "link", "show"]).stdout  # links exist, unconfigured
    doc = egov("lab", "status", "--json")
    assert doc.returncode == 0, doc.stdout  # a bare lab expects no adjacencies
    # the portal runs, but nothing routes to it until the change pipeline configures its router
    (portal,) = json.loads(doc.stdout)["services"]
    assert portal["name"] == "portal" and portal["up"] and not portal["reachable"]


def test_down_removes_everything_and_only_that():
    from egov.lab.state import STATE_FILE, LabState

    state = LabState.load()
    assert state is not None
    routers = set(state.routers)
    services = {sv.ns for sv in state.services.values()}
    assert services == {"svc-portal"}  # the lab profile's hosted service runs in the bare lab too
    sh(["ip", "netns", "add", "egov-test-bystander"])  # not the lab's: must survive
    try:
        r = egov("lab", "down")
        assert r.returncode == 0 and "15 routers removed" in r.stdout
        left = _netns()
        assert not (left & (routers | services | {"egov-mgmt"})) and "egov-test-bystander" in left
        assert _lab_processes(routers) == []
        assert not [h for h in routers if Path(f"/etc/frr/{h}").exists() or Path(f"/var/run/frr/{h}").exists()]
        assert not Path(state.root).exists() and not STATE_FILE.exists()
        for user in state.users_created:
            assert subprocess.run(["id", user], capture_output=True).returncode != 0
        veths = sh(["ip", "-o", "link", "show", "type", "veth"]).stdout
        assert not re.search(r"\b(mgmt0|mg\d+|eth\d+)@", veths)
        again = egov("lab", "down")
        assert again.returncode == 0 and "no lab was up" in again.stdout
    finally:
        sh(["ip", "netns", "del", "egov-test-bystander"], check=False)


def test_a_plan_with_a_management_vrf_is_refused_before_anything_is_built(tmp_path):
    """The lab kernel has no VRF support: say so in one line instead of building a lab that lies."""
    from conftest import INVENTORY, dump, load

    data = load(INVENTORY / "lab.yaml")
    data["pools"]["mgmt"]["vrf"] = "MGMT"
    dump(tmp_path / "lab.yaml", data)
    (tmp_path / "lab.lock.json").write_bytes((INVENTORY / "lab.lock.json").read_bytes())
    egov("lab", "down")
    before = _netns()
    r = egov("lab", "up", "--profile", str(tmp_path / "lab.yaml"))
    assert r.returncode == 1
    (line,) = r.stderr.strip().splitlines()
    assert "pools.mgmt.vrf: the plan puts management in VRF MGMT, and the lab kernel has no VRF support" in line
    assert "fix: set pools.mgmt.vrf: null" in line
    assert _netns() == before

"""Real SNMP agents for the measurement tests: Debian's snmpd on 127.0.0.1, plus misbehaving peers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from egov.measure.model import PlannedInterface, SnmpAuth, Target

USER, AUTH_KEY, PRIV_KEY = "egov-nms", "test-auth-key-1234", "test-priv-key-1234"


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Agent:
    name: str
    port: int
    proc: subprocess.Popen
    engine_id: bytes

    def target(self, auth: SnmpAuth | None = None, interfaces: tuple[str, ...] = ("lo",)) -> Target:
        return Target(self.name, "127.0.0.1", self.port, "county", "xa",
                      tuple(PlannedInterface(i, "peer", f"{self.name}~peer") for i in interfaces),
                      auth or good_auth(), self.engine_id)


def good_auth() -> SnmpAuth:
    return SnmpAuth(user=USER, auth_key=AUTH_KEY, priv_key=PRIV_KEY)


@pytest.fixture(scope="session")
def snmpd_agent(tmp_path_factory) -> Iterator[Agent]:
    """One net-snmp agent, SNMPv3 authPriv SHA-256/AES like the lab's, engineID in text form."""
    if not shutil.which("snmpd") and not Path("/usr/sbin/snmpd").exists():
        pytest.skip("Debian snmpd is not installed; run ./bootstrap.sh (it installs snmpd)")
    d = tmp_path_factory.mktemp("snmpd")
    port = free_port()
    (d / "persist").mkdir()
    (d / "snmpd.conf").write_text(
        f"agentAddress udp:127.0.0.1:{port}\nengineID egov-test-agent\n"
        f'createUser {USER} SHA-256 "{AUTH_KEY}" AES "{PRIV_KEY}"\nrouser {USER} priv\n'
        "interface lo 24 1000000000\n")
    env = dict(os.environ, MIBS="", SNMP_PERSISTENT_DIR=str(d / "persist"))
    proc = subprocess.Popen(["/usr/sbin/snmpd", "-f", "-C", "-c", f"{d / 'snmpd.conf'},{d / 'persist' / 'snmpd.conf'}",
                             "-Lf", str(d / "log"), "-I", "-smux,mteTrigger,mteTriggerConf"], env=env)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = subprocess.run(["snmpget", "-v3", "-l", "authPriv", "-u", USER, "-a", "SHA-256", "-A", AUTH_KEY, "-x",
                            "AES", "-X", PRIV_KEY, "-t", "0.5", "-r", "0", f"127.0.0.1:{port}", "1.3.6.1.2.1.1.3.0"],
                           capture_output=True, env=env)
        if r.returncode == 0:
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"snmpd did not answer: {(d / 'log').read_text() if (d / 'log').exists() else ''}")
    yield Agent("agent-1", port, proc, bytes.fromhex("80001f8804") + b"egov-test-agent")
    proc.terminate()
    proc.wait(5)


class UdpPeer:
    """A UDP port that never answers (silent) or answers every datagram with garbage."""

    def __init__(self, garbage: bool):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.garbage = garbage
        self.seen = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
            except OSError:
                return
            self.seen += 1
            if self.garbage:
                self.sock.sendto(b"\x30\x82\xff\xffthis is not BER at all" + data[:7], addr)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def silent_peer() -> Iterator[UdpPeer]:
    p = UdpPeer(garbage=False)
    yield p
    p.close()


@pytest.fixture
def garbage_peer() -> Iterator[UdpPeer]:
    p = UdpPeer(garbage=True)
    yield p
    p.close()

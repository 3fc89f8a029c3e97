"""Running commands on the host and inside lab routers (network + UTS namespace)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

from egov.errors import EgovError


def run(cmd: Sequence[str], check: bool = True, timeout: float = 60, env: dict[str, str] | None = None,
        input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise one line naming the command and its first error line."""
    full_env = dict(os.environ, **env) if env else None
    try:
        r = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, env=full_env, input=input)
    except FileNotFoundError:
        raise EgovError.one(cmd[0], "", "command not found", "run ./bootstrap.sh (it installs the lab's packages)") \
            from None
    except subprocess.TimeoutExpired:
        raise EgovError.one(" ".join(cmd[:4]), "", f"timed out after {timeout:.0f}s", "check the lab host load") \
            from None
    if check and r.returncode != 0:
        first = (r.stderr.strip() or r.stdout.strip() or f"exit {r.returncode}").splitlines()[0]
        raise EgovError.one(" ".join(cmd[:6]), "", f"failed: {first}", "see `egov lab status`; "
                            "`egov lab down` cleans up")
    return r


def in_router(ns: str, uts: str, cmd: Sequence[str]) -> list[str]:
    """argv that runs ``cmd`` inside router ``ns``: its network namespace and its own hostname."""
    return ["ip", "netns", "exec", ns, "nsenter", f"--uts={uts}", *cmd]


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def read_pid(path: str) -> int | None:
    try:
        with open(path) as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def require_root() -> None:
    if os.geteuid() != 0:
        raise EgovError.one("egov lab", "", "needs root (network namespaces, veths, daemons)",
                            "run it as root (sudo .venv/bin/egov lab ...)")

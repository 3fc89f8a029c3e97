"""Versioned config store: a git repository of running configs, one commit per backup run.

Configs are stored masked (see ``mask``), one file per device, so `git log -p DEVICE.cfg` is the
device's change history and a rollback can name any commit.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from egov.atomic import write_atomic
from egov.errors import EgovError
from egov.paths import state_dir

GIT_ENV = {"GIT_AUTHOR_NAME": "egov", "GIT_AUTHOR_EMAIL": "egov@localhost", "GIT_COMMITTER_NAME": "egov",
           "GIT_COMMITTER_EMAIL": "egov@localhost"}


def default_store() -> Path:
    """$EGOV_STATE_DIR/backups, else .egov/backups in the project root."""
    return state_dir() / "backups"


class BackupStore:
    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else default_store()
        if not (self.path / ".git").exists():
            self.path.mkdir(parents=True, exist_ok=True)
            self._git("init", "-q", "-b", "main")

    def _git(self, *args: str, check: bool = True) -> str:
        try:
            r = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True,
                               env={**os.environ, **GIT_ENV}, timeout=120)
        except FileNotFoundError:
            raise EgovError.one("git", "", "not installed", "run ./bootstrap.sh (it installs git)") from None
        if check and r.returncode != 0:
            raise EgovError.one(str(self.path), "git " + args[0], (r.stderr.strip() or "failed").splitlines()[0],
                                "check the backup store (a git repository)")
        return r.stdout

    def save(self, configs: dict[str, str], message: str) -> str:
        """Write every device's config and commit once; returns the commit id (unchanged store: HEAD)."""
        for host, text in configs.items():
            write_atomic(self.path / f"{host}.cfg", text if text.endswith("\n") else text + "\n", mode=0o600)
        self._git("add", "-A")
        if self._git("status", "--porcelain").strip():
            self._git("commit", "-q", "-m", message)
        return self.head()

    def head(self) -> str:
        return self._git("rev-parse", "HEAD", check=False).strip()

    def get(self, host: str, ref: str = "HEAD") -> str:
        try:
            return self._git("show", f"{ref}:{host}.cfg")
        except EgovError:
            raise EgovError.one(str(self.path), f"{ref}:{host}.cfg", "no such backup",
                                "list backups with `git -C STORE log --oneline -- HOST.cfg`") from None

    def log(self, host: str | None = None) -> list[tuple[str, str]]:
        out = self._git("log", "--format=%H %s", *(["--", f"{host}.cfg"] if host else []), check=False)
        return [tuple(line.split(" ", 1)) for line in out.splitlines() if line]  # type: ignore[misc]

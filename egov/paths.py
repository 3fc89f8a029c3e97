"""Where egov keeps things: the project root (inventory/, templates/) and its state directory."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The folder holding inventory/ and templates/: $EGOV_HOME, the cwd, or the source checkout."""
    env = os.environ.get("EGOV_HOME")
    if env:
        return Path(env)
    cwd = Path.cwd()
    if (cwd / "inventory").is_dir() and (cwd / "templates").is_dir():
        return cwd
    return Path(__file__).resolve().parents[1]


def state_dir() -> Path:
    """$EGOV_STATE_DIR, else .egov/ in the project root: journal, backups, faults, rollups."""
    env = os.environ.get("EGOV_STATE_DIR")
    return Path(env) if env else project_root() / ".egov"

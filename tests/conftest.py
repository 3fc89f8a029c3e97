"""Shared helpers: run the real CLI in a subprocess (as an operator would), copy profiles."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
INVENTORY = ROOT / "inventory"


def egov(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None,
         timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run ``egov`` exactly as the console script does."""
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("EGOV_")}
    full_env.update(env or {})
    full_env.setdefault("EGOV_HOME", str(ROOT))
    return subprocess.run([sys.executable, "-m", "egov.cli.main", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def lab_yaml(tmp_path: Path) -> Path:
    """A private copy of the lab profile (and its lock), so tests never touch the repo's files."""
    dst = tmp_path / "lab.yaml"
    shutil.copy(INVENTORY / "lab.yaml", dst)
    shutil.copy(INVENTORY / "lab.lock.json", tmp_path / "lab.lock.json")
    return dst


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def dump(path: Path, data: dict) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False))

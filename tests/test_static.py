"""Static checks, run by the README's test command (so by .ci/run): ruff, mypy, ansible-lint.

Their configuration is in pyproject.toml ([tool.ruff], [tool.mypy]) and playbooks/.ansible-lint;
bootstrap.sh installs the tools (the ``lint`` extra). Each test prints the tool's findings on failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(args: list[str], cwd: Path = ROOT, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    tool = BIN / args[0]
    if not tool.exists():
        pytest.fail(f"{tool} is missing; fix: run ./bootstrap.sh (it installs the lint extra)")
    env = {**os.environ, "NO_COLOR": "1", "PY_COLORS": "0", "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run([str(tool), *args[1:]], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=env, check=False)


def test_ruff_check_is_clean():
    r = _run(["ruff", "check", "--no-cache", "--output-format", "concise", "."])
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_is_clean():
    r = _run(["mypy", "--no-incremental", "egov", "napalm_frr"])
    assert r.returncode == 0, r.stdout + r.stderr


def test_ansible_lint_is_clean_on_the_playbooks():
    r = _run(["ansible-lint", "--offline", "--nocolor", "."], cwd=ROOT / "playbooks")
    assert r.returncode == 0, r.stdout + r.stderr

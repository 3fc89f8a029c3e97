"""Fixtures for the cloud tests; the helpers live in stackkit.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from .stackkit import MiniStack


@pytest.fixture
def mini(tmp_path: Path) -> MiniStack:
    """A private copy of the small test stack (and its catalogue) in a temp dir."""
    m = MiniStack(tmp_path)
    m.write()
    return m


def pytest_configure(config: pytest.Config) -> None:
    # pulumi_openstack warns about its own deprecated aliases when it is imported; not ours to fix
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pulumi_openstack.*")

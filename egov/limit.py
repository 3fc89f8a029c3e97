"""``--limit``: comma-separated globs over router names, the same on every command."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable


def match_limit(names: Iterable[str], limit: str | None) -> list[str]:
    """The names matching any glob of ``limit`` ("sn-xa-*,sn-bj-a"), in their order; all without one."""
    if not limit:
        return list(names)
    pats = [p.strip() for p in limit.split(",") if p.strip()]
    return [n for n in names if any(fnmatch.fnmatch(n, p) for p in pats)]

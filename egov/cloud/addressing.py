"""Tenancy prefixes: pinned in the stack file, or allocated from the region's pools and locked.

A tenancy's subnets are routed through the extranet without NAT, so its prefixes are part of the
one address plan; changing one replaces the tenancy's network. As with the backbone's lock file,
``stacks/<stack>.lock.json`` records every allocation: what it records is kept, only new tenancies
get new prefixes (lowest free first), and reordering or adding departments never moves one.
``egov cloud plan`` brings the lock up to date (``--frozen`` refuses instead); commit it.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egov.atomic import write_atomic
from egov.cloud.config import Layout, Region
from egov.errors import EgovError, Problem
from egov.plan.load import display_path

IPNet = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Want:
    """A tenancy that needs prefixes: its region and any prefixes pinned in the stack file."""

    tenancy: str
    region: str
    ipv4: ipaddress.IPv4Network | None = None
    ipv6: ipaddress.IPv6Network | None = None


@dataclass(slots=True)
class Allocation:
    prefixes: dict[str, dict[str, IPNet]]
    lock: dict[str, Any]
    added: int = 0
    released: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.released)


def read_lock(path: Path) -> dict[str, Any]:
    """The lock file, or an empty one; a broken lock is one line, never a silent re-allocation."""
    if not path.is_file():
        return {"tenancies": {}}
    shown = display_path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EgovError.one(shown, "", f"unreadable lock file ({exc.__class__.__name__})",
                            "restore it from git; deleting it re-allocates every prefix") from None
    ten = data.get("tenancies") if isinstance(data, dict) else None
    if not isinstance(ten, dict):
        raise EgovError.one(shown, "tenancies", "missing", "restore the lock file from git")
    for name, entry in ten.items():
        try:
            ipaddress.IPv4Network(entry["ipv4"])
            ipaddress.IPv6Network(entry["ipv6"])
        except (KeyError, TypeError, ValueError):
            raise EgovError.one(shown, f"tenancies.{name}", "not an {ipv4, ipv6} prefix pair",
                                "restore the lock file from git") from None
    return {"tenancies": ten}


def write_lock(path: Path, lock: dict[str, Any]) -> None:
    doc = {"comment": "tenancy prefixes allocated by egov cloud plan; commit this file",
           "tenancies": dict(sorted(lock["tenancies"].items()))}
    write_atomic(path, json.dumps(doc, indent=1) + "\n")


def allocate(layout: Layout, wants: list[Want], old: dict[str, Any],
             where: Callable[[str], str] = str) -> Allocation:
    """Give every tenancy one IPv4 and one IPv6 prefix; keep what the lock holds.

    ``where`` turns a config field path into ``file:line`` for messages."""
    regions = {r.name: r for r in layout.regions}
    lengths = {4: layout.tenancy_prefix.ipv4, 6: layout.tenancy_prefix.ipv6}
    locked = old.get("tenancies", {})
    taken = _uplinks(layout)
    # pinned first, then what the lock still holds, then fresh allocations: an entry is never
    # displaced by one that comes later in the file
    out = _pinned(wants, taken)
    pending = _keep_locked(wants, regions, lengths, locked, out, taken)
    added, short = _allocate_fresh(pending, regions, lengths, out, taken)
    problems = _shortages(layout, lengths, short, where)
    new_lock = {w.tenancy: {k: str(v) for k, v in sorted(out[w.tenancy].items())}
                for w in wants if len(out[w.tenancy]) == 2}
    released = len(set(locked) - set(new_lock))
    changed_entries = sum(1 for k, v in new_lock.items() if locked.get(k) != v)
    return Allocation(prefixes=out, lock={"tenancies": new_lock}, added=max(added, changed_entries),
                      released=released, problems=problems)


def _uplinks(layout: Layout) -> list[IPNet]:
    """The regions' uplink prefixes: the start of the one taken list of the whole stack.

    One list for every region: a prefix pinned (or locked) anywhere is never handed out again, even
    when it was pinned outside its own region's pools (the addressing policy reports that)."""
    claimed: list[IPNet] = []
    for r in layout.regions:
        claimed += [ipaddress.ip_network(str(n)) for n in ((r.uplink.ipv4, r.uplink.ipv6) if r.uplink else ())]
    return claimed


def _pinned(wants: list[Want], taken: list[IPNet]) -> dict[str, dict[str, IPNet]]:
    """The prefixes the stack file pins, by tenancy; they go first, so nothing else can take them."""
    out: dict[str, dict[str, IPNet]] = {}
    for w in wants:
        out[w.tenancy] = {}
        for fam in (4, 6):
            pinned = w.ipv4 if fam == 4 else w.ipv6
            if pinned is not None:
                out[w.tenancy][f"ipv{fam}"] = pinned
                taken.append(pinned)
    return out


def _keep_locked(wants: list[Want], regions: dict[str, Region], lengths: dict[int, int],
                 locked: dict[str, Any], out: dict[str, dict[str, IPNet]],
                 taken: list[IPNet]) -> list[tuple[Want, int]]:
    """Keep each locked prefix that still fits (length, region pools, no clash) so edits never move
    one; return the (tenancy, family) pairs that still need a fresh prefix."""
    pending: list[tuple[Want, int]] = []
    for w in wants:
        pools = regions[w.region].pools
        for fam in (4, 6):
            key = f"ipv{fam}"
            if key in out[w.tenancy]:
                continue
            text = (locked.get(w.tenancy) or {}).get(key)
            net = ipaddress.ip_network(text) if text else None
            if (net is not None and net.prefixlen == lengths[fam]
                    and any(net.subnet_of(p) for p in getattr(pools, key))  # type: ignore[arg-type]
                    and not any(net.overlaps(t) for t in taken)):  # type: ignore[arg-type]
                out[w.tenancy][key] = net
                taken.append(net)
            else:
                pending.append((w, fam))
    return pending


def _allocate_fresh(pending: list[tuple[Want, int]], regions: dict[str, Region], lengths: dict[int, int],
                    out: dict[str, dict[str, IPNet]],
                    taken: list[IPNet]) -> tuple[int, dict[tuple[str, int], list[str]]]:
    """Hand out the lowest free prefix to each pending pair, in file order; return how many were
    added and, per (region, family), the tenancies its pools had no room for."""
    added = 0
    short: dict[tuple[str, int], list[str]] = {}
    for w, fam in pending:
        key = f"ipv{fam}"
        net = _first_free(getattr(regions[w.region].pools, key), lengths[fam], taken)
        if net is None:
            short.setdefault((w.region, fam), []).append(w.tenancy)
            continue
        out[w.tenancy][key] = net
        taken.append(net)
        added += 1
    return added, short


def _shortages(layout: Layout, lengths: dict[int, int], short: dict[tuple[str, int], list[str]],
               where: Callable[[str], str]) -> list[Problem]:
    """One problem per exhausted pool, naming the region's pool field so the fix is one edit."""
    problems: list[Problem] = []
    for (region, fam), names in short.items():
        index = next(i for i, r in enumerate(layout.regions) if r.name == region)
        path = f"egov:regions[{index}].pools.ipv{fam}"
        problems.append(Problem(where(path), path, f"no free /{lengths[fam]} left for {len(names)} "
                                f"tenanc{'y' if len(names) == 1 else 'ies'} (first: {names[0]})",
                                f"add a prefix to the pool of region {region}"))
    return problems


def _first_free(pools: list[IPNet], prefixlen: int, taken: list[IPNet]) -> IPNet | None:
    for pool in pools:
        if pool.prefixlen > prefixlen:
            continue
        step = 1 << (pool.max_prefixlen - prefixlen)
        base = int(pool.network_address)
        end = base + pool.num_addresses
        clash = sorted((int(t.network_address), int(t.broadcast_address)) for t in taken if t.overlaps(pool))  # type: ignore[arg-type]
        cur = base
        for lo, hi in clash:
            if cur + step - 1 < lo:
                break
            if hi >= cur:
                cur = ((hi + 1 - base + step - 1) // step) * step + base
        if cur + step <= end:
            return ipaddress.ip_network((cur, prefixlen))
    return None

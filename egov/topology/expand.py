"""Profile -> routers and links (no addresses yet; see ``addressing``).

Every site becomes one router ("dual-homed") or two ("pair"). Each router gets
``uplinks`` links spread over its parent site's routers: to both routers of a
parent pair, or as parallel primary/backup links to a single parent. Problems
that only show once expanded (duplicate names, tiers nested wrongly, IS-IS
levels that cannot form an adjacency) are collected, not raised, so
``validate`` can report all of them at once.
"""

from __future__ import annotations

from typing import Literal

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from egov.errors import Problem
from egov.plan.load import LoadedProfile
from egov.plan.schema import CountBlock, Profile, Site, Tier
from egov.topology.model import Link, Node, ServiceLan, Topology

#: far beyond any province (Shaanxi: ~1,900 routers), small enough to refuse a typo'd count at once
MAX_SITES = 50_000
_LEVELS = {"level-1": {1}, "level-1-2": {1, 2}, "level-2-only": {2}}


@dataclass(slots=True)
class _SiteCtx:
    site: Site
    tier: str
    path: tuple[str, ...]
    source: str
    parent: "_SiteCtx | None"
    area: str
    routers: list[str]


def _generated(tier_name: str, tier: Tier, count: int, totals: dict[str, int]) -> list[Site]:
    """Sites for a ``count`` entry: ids prefix01..prefixNN, child totals spread earliest-first."""
    prefix = tier.id_prefix or tier_name[0]
    sites = []
    for i in range(count):
        children = {t: n // count + (1 if i < n % count else 0) for t, n in totals.items()} if count else {}
        sites.append(Site(id=f"{prefix}{i + 1:0{tier.id_width}d}", children=children))
    return sites


def _circuit(a: str, b: str) -> str | None:
    common = _LEVELS[a] & _LEVELS[b]
    if not common:
        return None
    return {frozenset({1}): "level-1", frozenset({2}): "level-2-only"}.get(frozenset(common), "level-1-2")


def expand(loaded: LoadedProfile) -> tuple[Topology, list[Problem]]:
    """Expand the profile's site tree; return the topology and the problems found on the way."""
    prof: Profile = loaded.profile
    where = loaded.where
    problems: list[Problem] = []
    tiers = prof.tiers
    root_tier = prof.root_tier
    nodes: dict[str, Node] = {}
    links: list[Link] = []
    seen_links: set[str] = set()

    root = _SiteCtx(prof.root, root_tier, (prof.root.id,), "root", None, prof.root.area or prof.igp.area, [])
    queue: deque[_SiteCtx] = deque([root])
    while queue:
        ctx = queue.popleft()
        tier = tiers[ctx.tier]
        site = ctx.site
        platform = site.platform or tier.platform
        region = ctx.path[1] if len(ctx.path) > 1 else ctx.path[0]
        members = ["a", "b"] if tier.redundancy == "pair" else [""]
        uplinks = tier.uplinks if site.uplinks is None else site.uplinks
        for m in members:
            host = "-".join(ctx.path) + (f"-{m}" if m else "")
            if host in nodes:
                problems.append(Problem(where(ctx.source + ".id"), ctx.source + ".id", f"duplicate router name {host!r}",
                                        "give each site a unique id among its siblings"))
                continue
            if len(host) > 63:
                problems.append(Problem(where(ctx.source + ".id"), ctx.source + ".id", f"router name {host!r} is over 63 characters",
                                        "shorten the site ids on its path"))
            nodes[host] = Node(
                hostname=host, tier=ctx.tier, site="/".join(ctx.path), site_name=site.name or site.id,
                member=m, platform=platform, region=region, isis_level=tier.isis_level, area=ctx.area,
                source=ctx.source, uplinks_wanted=uplinks if ctx.parent else 0, ipv6_wanted=site.ipv6,
            )
            ctx.routers.append(host)

        # the pair's own link between its two routers
        if len(ctx.routers) == 2 and tier.peer_link:
            bw = tier.bandwidth or max((t.bandwidth or 0) for t in tiers.values()) or 10**9
            _add_link(links, seen_links, problems, where, ctx, nodes, ctx.routers[0], ctx.routers[1], 1,
                      "peer", tier, ctx.tier, bw, bw, prof)

        # uplinks to the parent site's routers
        if ctx.parent is not None:
            parents = ctx.parent.routers
            required = tier.bandwidth or 0
            bw = site.bandwidth or required
            for host in ctx.routers:
                for k in range(uplinks):
                    if not parents:
                        break
                    parent = parents[k % len(parents)]
                    _add_link(links, seen_links, problems, where, ctx, nodes, parent, host,
                              k // len(parents) + 1, "uplink", tier, ctx.tier, bw, required, prof)

        # children
        for child_tier, value in site.children.items():
            field = f"{ctx.source}.{child_tier}"
            if child_tier not in tiers:
                problems.append(Problem(where(field), field, f"unknown tier {child_tier!r}",
                                        f"use one of: {', '.join(tiers)}"))
                continue
            if tiers[child_tier].parent != ctx.tier:
                problems.append(Problem(
                    where(field), field,
                    f"tier {child_tier!r} hangs under {tiers[child_tier].parent!r}, not {ctx.tier!r}",
                    f"move these sites under a {tiers[child_tier].parent} site"))
                continue
            n_kids = len(value) if isinstance(value, list) else (
                value.count if isinstance(value, CountBlock) else value)
            if len(nodes) + len(queue) + n_kids > MAX_SITES:
                problems.append(Problem(where(field), field, f"the plan grows past {MAX_SITES:,} sites here",
                                        "check the counts (a whole province has about 2,000 routers)"))
                queue.clear()
                break
            if isinstance(value, list):
                kids = [(s, f"{field}[{i}]") for i, s in enumerate(value)]
            else:
                totals = value.children if isinstance(value, CountBlock) else {}
                for t in totals:
                    if t not in tiers or tiers[t].parent != child_tier:
                        problems.append(Problem(where(f"{field}.{t}"), f"{field}.{t}",
                                                f"{t!r} is not a child tier of {child_tier!r}",
                                                f"nest only tiers whose parent is {child_tier}"))
                totals = {t: n for t, n in totals.items() if t in tiers and tiers[t].parent == child_tier}
                gen = _generated(child_tier, tiers[child_tier], n_kids, totals)
                kids = [(s, f"{field}[{i}]") for i, s in enumerate(gen)]
            ids: set[str] = set()
            for s, src in kids:
                if s.id in ids:
                    problems.append(Problem(where(src + ".id"), src + ".id",
                                            f"duplicate site id {s.id!r} under {'/'.join(ctx.path)}",
                                            "give each sibling site a unique id"))
                    continue
                ids.add(s.id)
                queue.append(_SiteCtx(s, child_tier, ctx.path + (s.id,), src, ctx, s.area or ctx.area, []))

    services: list[ServiceLan] = []
    names: set[str] = set()
    for i, svc in enumerate(prof.hosted_services):
        field = f"hosted_services[{i}]"
        if svc.name in names:
            problems.append(Problem(where(field + ".name"), field + ".name", f"duplicate service {svc.name!r}",
                                    "give each hosted service its own name"))
            continue
        names.add(svc.name)
        if svc.router not in nodes:
            problems.append(Problem(where(field + ".router"), field + ".router", f"no router named {svc.router!r}",
                                    "name a router of the plan (see `egov plan show --json`)"))
            continue
        services.append(ServiceLan(service=svc.name, node=svc.router, kind=svc.kind, service_port=svc.port,
                                   path=svc.path, cloud=svc.cloud))
    bfd = {name: t.bfd for name, t in tiers.items()}
    order = list(tiers)
    return Topology(profile=prof.name, tiers=order, nodes=nodes, links=links, bfd=bfd, services=services), problems


def _add_link(links: list[Link], seen: set[str], problems: list[Problem], where: Callable[[str], str], ctx: _SiteCtx,
              nodes: dict[str, Node], a: str, b: str, n: int, kind: Literal["uplink", "peer"], tier: Tier, tier_name: str,
              bw: int, required: int, prof: Profile) -> None:
    if a not in nodes or b not in nodes:
        return
    key = f"{a}~{b}" + (f"#{n}" if n > 1 else "")
    if key in seen:
        return
    seen.add(key)
    na, nb = nodes[a], nodes[b]
    if _circuit(na.isis_level, nb.isis_level) is None:
        problems.append(Problem(where(f"tiers.{tier_name}.isis_level"), f"tiers.{tier_name}.isis_level",
                                f"{a} ({na.isis_level}) and {b} ({nb.isis_level}) share no IS-IS level",
                                "make one side level-1-2"))
    elif _circuit(na.isis_level, nb.isis_level) == "level-1" and na.area != nb.area:
        problems.append(Problem(where(ctx.source + ".area"), ctx.source + ".area",
                                f"level-1 link {a}~{b} joins areas {na.area} and {nb.area}",
                                "put both in one area or make the upper router level-1-2"))
    metric = tier.metric or max(1, min(16777214, prof.igp.reference_bandwidth // max(bw, 1)))
    links.append(Link(key=key, a=a, b=b, kind=kind, tier=tier_name, bandwidth_bps=bw, required_bps=required,
                      metric=metric, bfd=tier.bfd, ipv6_wanted=na.ipv6_wanted and nb.ipv6_wanted))


def circuit_level(a: Node, b: Node) -> str:
    return _circuit(a.isis_level, b.isis_level) or "level-2-only"

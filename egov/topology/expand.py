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
    return _Expander(loaded).run()


class _Expander:
    """One expansion: breadth-first over the site tree, collecting routers, links and problems."""

    def __init__(self, loaded: LoadedProfile) -> None:
        self.prof: Profile = loaded.profile
        self.where = loaded.where
        self.tiers = self.prof.tiers
        self.problems: list[Problem] = []
        self.nodes: dict[str, Node] = {}
        self.links: list[Link] = []
        self.seen_links: set[str] = set()
        self.queue: deque[_SiteCtx] = deque()

    def problem(self, field: str, what: str, fix: str) -> None:
        self.problems.append(Problem(self.where(field), field, what, fix))

    def run(self) -> tuple[Topology, list[Problem]]:
        prof = self.prof
        self.queue.append(_SiteCtx(prof.root, prof.root_tier, (prof.root.id,), "root", None,
                                   prof.root.area or prof.igp.area, []))
        while self.queue:
            ctx = self.queue.popleft()
            self._routers(ctx)
            self._links(ctx)
            self._children(ctx)
        services = self._services()
        bfd = {name: t.bfd for name, t in self.tiers.items()}
        return Topology(profile=prof.name, tiers=list(self.tiers), nodes=self.nodes, links=self.links, bfd=bfd,
                        services=services), self.problems

    def _routers(self, ctx: _SiteCtx) -> None:
        """The site's router (dual-homed) or two (pair), named by the site path."""
        tier, site = self.tiers[ctx.tier], ctx.site
        platform = site.platform or tier.platform
        region = ctx.path[1] if len(ctx.path) > 1 else ctx.path[0]
        uplinks = tier.uplinks if site.uplinks is None else site.uplinks
        for m in ["a", "b"] if tier.redundancy == "pair" else [""]:
            host = "-".join(ctx.path) + (f"-{m}" if m else "")
            if host in self.nodes:
                self.problem(ctx.source + ".id", f"duplicate router name {host!r}",
                             "give each site a unique id among its siblings")
                continue
            if len(host) > 63:
                self.problem(ctx.source + ".id", f"router name {host!r} is over 63 characters",
                             "shorten the site ids on its path")
            self.nodes[host] = Node(
                hostname=host, tier=ctx.tier, site="/".join(ctx.path), site_name=site.name or site.id,
                member=m, platform=platform, region=region, isis_level=tier.isis_level, area=ctx.area,
                source=ctx.source, uplinks_wanted=uplinks if ctx.parent else 0, ipv6_wanted=site.ipv6,
            )
            ctx.routers.append(host)

    def _link(self, ctx: _SiteCtx, a: str, b: str, n: int, kind: Literal["uplink", "peer"], bw: int,
              required: int) -> None:
        _add_link(self.links, self.seen_links, self.problems, self.where, ctx, self.nodes, a, b, n, kind,
                  self.tiers[ctx.tier], ctx.tier, bw, required, self.prof)

    def _links(self, ctx: _SiteCtx) -> None:
        """A pair's own link, then the uplinks spread over the parent site's routers."""
        tier, site = self.tiers[ctx.tier], ctx.site
        if len(ctx.routers) == 2 and tier.peer_link:
            bw = tier.bandwidth or max((t.bandwidth or 0) for t in self.tiers.values()) or 10**9
            self._link(ctx, ctx.routers[0], ctx.routers[1], 1, "peer", bw, bw)
        if ctx.parent is None:
            return
        uplinks = tier.uplinks if site.uplinks is None else site.uplinks
        parents = ctx.parent.routers
        required = tier.bandwidth or 0
        bw = site.bandwidth or required
        for host in ctx.routers:
            for k in range(uplinks):
                if not parents:
                    break
                self._link(ctx, parents[k % len(parents)], host, k // len(parents) + 1, "uplink", bw, required)

    def _children(self, ctx: _SiteCtx) -> None:
        """Queue the child sites (listed, or generated from a count); stop growing past MAX_SITES."""
        tiers = self.tiers
        for child_tier, value in ctx.site.children.items():
            field = f"{ctx.source}.{child_tier}"
            if child_tier not in tiers:
                self.problem(field, f"unknown tier {child_tier!r}", f"use one of: {', '.join(tiers)}")
                continue
            if tiers[child_tier].parent != ctx.tier:
                self.problem(field, f"tier {child_tier!r} hangs under {tiers[child_tier].parent!r}, not {ctx.tier!r}",
                             f"move these sites under a {tiers[child_tier].parent} site")
                continue
            n_kids = len(value) if isinstance(value, list) else (
                value.count if isinstance(value, CountBlock) else value)
            if len(self.nodes) + len(self.queue) + n_kids > MAX_SITES:
                self.problem(field, f"the plan grows past {MAX_SITES:,} sites here",
                             "check the counts (a whole province has about 2,000 routers)")
                self.queue.clear()
                return
            if isinstance(value, list):
                kids = [(s, f"{field}[{i}]") for i, s in enumerate(value)]
            else:
                kids = self._generated_kids(field, child_tier, value, n_kids)
            self._queue_kids(ctx, child_tier, kids)

    def _generated_kids(self, field: str, child_tier: str, value: CountBlock | int, n_kids: int
                        ) -> list[tuple[Site, str]]:
        tiers = self.tiers
        totals = value.children if isinstance(value, CountBlock) else {}
        for t in totals:
            if t not in tiers or tiers[t].parent != child_tier:
                self.problem(f"{field}.{t}", f"{t!r} is not a child tier of {child_tier!r}",
                             f"nest only tiers whose parent is {child_tier}")
        totals = {t: n for t, n in totals.items() if t in tiers and tiers[t].parent == child_tier}
        gen = _generated(child_tier, tiers[child_tier], n_kids, totals)
        return [(s, f"{field}[{i}]") for i, s in enumerate(gen)]

    def _queue_kids(self, ctx: _SiteCtx, child_tier: str, kids: list[tuple[Site, str]]) -> None:
        ids: set[str] = set()
        for s, src in kids:
            if s.id in ids:
                self.problem(src + ".id", f"duplicate site id {s.id!r} under {'/'.join(ctx.path)}",
                             "give each sibling site a unique id")
                continue
            ids.add(s.id)
            self.queue.append(_SiteCtx(s, child_tier, ctx.path + (s.id,), src, ctx, s.area or ctx.area, []))

    def _services(self) -> list[ServiceLan]:
        services: list[ServiceLan] = []
        names: set[str] = set()
        for i, svc in enumerate(self.prof.hosted_services):
            field = f"hosted_services[{i}]"
            if svc.name in names:
                self.problem(field + ".name", f"duplicate service {svc.name!r}",
                             "give each hosted service its own name")
                continue
            names.add(svc.name)
            if svc.router not in self.nodes:
                self.problem(field + ".router", f"no router named {svc.router!r}",
                             "name a router of the plan (see `egov plan show --json`)")
                continue
            services.append(ServiceLan(service=svc.name, node=svc.router, kind=svc.kind, service_port=svc.port,
                                       path=svc.path, cloud=svc.cloud))
        return services


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

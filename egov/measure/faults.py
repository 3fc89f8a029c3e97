"""The fault life cycle: what the polls, traps and probes say, turned into faults in the store.

Rules (a NOC's, written down):
- **router** down: its agent does not answer and every neighbour that does answer has lost it
  (the interface toward it is down, or its IS-IS adjacency there is gone). If a neighbour still
  sees it, the router is *unknown*: a **management** fault (the agent or the management path),
  not an outage; opened only after two polls in a row, so a router that is dying is not first
  called a management fault. With no neighbour answering, nothing can be said: unknown.
- **link** down: a planned link one of whose ends reports its interface down, or its IS-IS
  adjacency gone while the interface is up (a silent cut). Links of a router that is down belong
  to the router fault and open nothing of their own.
- **service** down: its probe failed.
A trap opens or closes a link fault at once; the next poll confirms it, and reopens a fault that a
linkUp trap closed too early. Start and clear times come from the device where it says
(ifLastChange, the agent's restart time), so an exporter restarted after a fault has cleared still
records the right duration. Each fault records what it cut off or left on one uplink, whether it
started inside a planned window, and escalations as it nears its target.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from egov.measure.model import Poll
from egov.measure.store import Fault, FaultStore, Kind, Window
from egov.topology.model import Topology


@dataclass(frozen=True, slots=True)
class NetLink:
    key: str
    a: str
    a_if: str
    b: str
    b_if: str
    kind: str
    tier: str


@dataclass(slots=True)
class Network:
    """The planned backbone as the fault engine needs it: who connects to whom, and through what."""

    routers: dict[str, tuple[str, str]]  # router -> (tier, city)
    links: dict[str, NetLink]
    core: set[str]
    services: dict[str, tuple[str, bool]]  # service -> (router, counts for the cloud target)
    by_end: dict[tuple[str, str], NetLink] = field(default_factory=dict)
    neighbours: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)  # r -> (nb, nb_if, link)

    @classmethod
    def from_topology(cls, topo: Topology) -> Network:
        names = {(i.node, i.link): i.name for n in topo.nodes.values() for i in n.interfaces}
        links = {l.key: NetLink(l.key, l.a, names[(l.a, l.key)], l.b, names[(l.b, l.key)], l.kind, l.tier)
                 for l in topo.links}
        root = topo.tiers[0]
        net = cls(routers={h: (n.tier, n.region) for h, n in topo.nodes.items()}, links=links,
                  core={h for h, n in topo.nodes.items() if n.tier == root},
                  services={s.service: (s.node, s.cloud) for s in topo.services})
        for l in links.values():
            net.by_end[(l.a, l.a_if)] = l
            net.by_end[(l.b, l.b_if)] = l
            net.neighbours.setdefault(l.a, []).append((l.b, l.b_if, l.key))
            net.neighbours.setdefault(l.b, []).append((l.a, l.a_if, l.key))
        return net

    def impact(self, down_routers: set[str], down_links: set[str]) -> dict[str, list[str]]:
        """Routers cut off from the core, routers left on one uplink, services unreachable."""
        adj: dict[str, list[str]] = {r: [] for r in self.routers}
        for l in self.links.values():
            if l.key not in down_links and l.a not in down_routers and l.b not in down_routers:
                adj[l.a].append(l.b)
                adj[l.b].append(l.a)
        seen = {r for r in self.core if r not in down_routers}
        queue = deque(seen)
        while queue:
            for nb in adj[queue.popleft()]:
                if nb not in seen:
                    seen.add(nb)
                    queue.append(nb)
        cut = sorted(r for r in self.routers if r not in seen and r not in down_routers)
        uplinks: dict[str, int] = {}
        for l in self.links.values():
            if l.kind == "uplink" and l.key not in down_links and l.a not in down_routers:
                uplinks[l.b] = uplinks.get(l.b, 0) + 1
        planned_up: dict[str, int] = {}
        for l in self.links.values():
            if l.kind == "uplink":
                planned_up[l.b] = planned_up.get(l.b, 0) + 1
        single = sorted(r for r, n in planned_up.items()
                        if r in seen and r not in down_routers and n >= 2 and uplinks.get(r, 0) == 1)
        services = sorted(s for s, (r, _) in self.services.items() if r in down_routers or r in cut)
        return {"cut_off": cut, "single_homed": single, "services": services}


class FaultEngine:
    """Observations in, faults out (into the store). One engine per exporter and profile."""

    def __init__(self, store: FaultStore, profile: str, net: Network, *, target_s: float = 10800.0,
                 escalate_h: tuple[float, ...] = (2.0, 2.5), windows: Callable[[], list[Window]] | None = None,
                 log: Callable[[str], None] | None = None, clock: Callable[[], float] = time.time,
                 recovery_s: float = 180.0):
        self.store = store
        self.profile = profile
        self.net = net
        self.target_s = target_s
        self.escalate_h = escalate_h
        self.windows = windows or (lambda: store.windows(profile))
        self.log = log or (lambda _msg: None)
        self.clock = clock
        self.recovery_s = recovery_s
        self._ifs: dict[str, list[tuple[str, str]]] = {}
        self._held: set[str] = set()  # routers back from a fault, held until IS-IS is up
        self.last: dict[str, Poll] = {}
        self.router_state: dict[str, str] = {}  # up | down | unknown
        self._unknown_streak: dict[str, int] = {}
        self._trap_cleared: dict[str, int] = {}  # link -> fault id a linkUp trap closed

    # --- helpers ----------------------------------------------------------------------------------
    def _open(self) -> dict[tuple[str, str], Fault]:
        return {(f.kind, f.target): f for f in self.store.open_faults(self.profile)}

    def _planned(self, target: str, at: float) -> bool:
        return any(w.covers(target, at) for w in self.windows())

    def _raise(self, kind: Kind, target: str, start: float, by: str, extra_down: tuple[set[str], set[str]]) -> Fault:
        now = self.clock()
        opened = self._open()
        down_r = {t for (k, t) in opened if k == "router"} | extra_down[0]
        down_l = {t for (k, t) in opened if k == "link"} | extra_down[1]
        affected = self.net.impact(down_r, down_l) if kind in ("router", "link") else (
            {"services": [target]} if kind == "service" else {})
        tier, city = self._where(kind, target)
        fault, new = self.store.open(self.profile, kind, target, start=start, detected=now, by=by,
                                     target_s=self.target_s, tier=tier, city=city, affected=affected,
                                     planned=self._planned(target, start))
        if new:
            cut = affected.get("cut_off") or []
            self.log(f"fault {fault.id} opened: {kind} {target} (by {by}"
                     + (f"; cuts off {len(cut)} router(s)" if cut else "")
                     + ("; planned" if fault.planned else "") + ")")
        return fault

    def _where(self, kind: str, target: str) -> tuple[str, str]:
        if kind in ("router", "management"):
            return self.net.routers.get(target, ("", ""))
        if kind == "link":
            link = self.net.links.get(target)
            return (link.tier, self.net.routers.get(link.b, ("", ""))[1]) if link else ("", "")
        router = self.net.services.get(target, ("", False))[0]
        return self.net.routers.get(router, ("", ""))

    def _clear(self, fault: Fault, at: float, by: str) -> None:
        self.store.clear(fault.id, at, by)
        d = max(0.0, at - fault.start)
        self.log(f"fault {fault.id} cleared: {fault.kind} {fault.target} after {d:.1f} s (by {by})")

    # --- polls --------------------------------------------------------------------------------------
    def polls(self, polls: list[Poll], share: bool = False, max_age: float = 120.0) -> None:
        """One poll cycle (any subset of routers): update router, management and link faults.

        ``share``: exporters of one state directory (shards) publish their latest polls in the store
        and judge their routers with the neighbours' polls of the other shards."""
        for p in polls:
            self.last[p.router] = p
        if share:
            self.store.save_observations(self.profile, [(p.router, p.at, p.summary()) for p in polls])
            mine = {p.router for p in polls}
            for router, text in self.store.observations(self.profile, self.clock() - max_age).items():
                if router not in mine:
                    self.last[router] = Poll.from_summary(router, text)
        opened = self._open()
        now = self.clock()
        down_now: set[str] = set()
        for p in polls:
            state, start = self._router_state(p)
            self.router_state[p.router] = state
            r_fault, m_fault = opened.get(("router", p.router)), opened.get(("management", p.router))
            if state == "up":
                self._unknown_streak.pop(p.router, None)
                back = p.booted_at if p.booted_at is not None else p.at
                if r_fault and self._recovering(p, back):
                    self._held.add(p.router)
                    down_now.add(p.router)  # answers, but routes nothing yet: still the router fault
                elif r_fault:
                    # back when it booted, or, if it was held while IS-IS came up, when routing returned
                    recovered = p.at if p.router in self._held else back
                    self._held.discard(p.router)
                    self._clear(r_fault, recovered if recovered > r_fault.start else p.at, "poll")
                if m_fault:
                    self._clear(m_fault, p.at, "poll")
            elif state == "down":
                down_now.add(p.router)
                if not r_fault:
                    self._raise("router", p.router, start, "poll", ({p.router}, set()))
            else:
                streak = self._unknown_streak[p.router] = self._unknown_streak.get(p.router, 0) + 1
                if streak >= 2 and not m_fault:
                    self._raise("management", p.router, p.at, "poll", (set(), set()))
        opened = self._open()
        down_routers = {t for (k, t) in opened if k == "router"} | down_now
        polled = {p.router for p in polls}
        for link in self.net.links.values():
            if link.a not in polled and link.b not in polled:
                continue
            self._link(link, opened.get(("link", link.key)), down_routers, now)

    def _own_ifs(self, router: str) -> list[tuple[str, str]]:
        """(interface, peer) of the router's planned links."""
        if not self._ifs:
            for lk in self.net.links.values():
                self._ifs.setdefault(lk.a, []).append((lk.a_if, lk.b))
                self._ifs.setdefault(lk.b, []).append((lk.b_if, lk.a))
        return self._ifs.get(router, [])

    def _adjacencies_checked(self, p: Poll) -> bool:
        """The poll shows IS-IS state for the router's planned links (an ISIS-MIB agent)."""
        return p.isis is not None and bool(self._own_ifs(p.router))

    def _recovering(self, p: Poll, back: float) -> bool:
        """A router back from a fault is still recovering while an IS-IS adjacency to a neighbour that
        answers is not up yet: its fault stays open (and its links raise no faults of their own, they
        are converging) until routing is back, or for at most ``recovery_s`` after it came back."""
        if not self._adjacencies_checked(p) or p.at - back > self.recovery_s:
            return False
        return any(self._end_down(p, ifname) for ifname, peer in self._own_ifs(p.router)
                   if (q := self.last.get(peer)) is not None and q.ok)

    def _router_state(self, p: Poll) -> tuple[str, float]:
        if p.ok:
            return "up", p.at
        seen = lost = 0
        starts: list[float] = []
        for nb, nb_if, _link in self.net.neighbours.get(p.router, []):
            q = self.last.get(nb)
            if q is None or not q.ok:
                continue
            if self._end_down(q, nb_if):
                lost += 1
                t = q.changed_at(nb_if)
                if t is not None and not q.interfaces[nb_if].up:
                    starts.append(t)
            else:
                seen += 1
        if lost and not seen:
            return "down", min(starts) if starts else p.at
        return "unknown", p.at

    @staticmethod
    def _end_down(q: Poll, ifname: str) -> bool:
        i = q.interfaces.get(ifname)
        if i is None or not i.up:
            return True
        return q.isis is not None and not q.isis.get(ifname, False)

    def _link(self, link: NetLink, fault: Fault | None, down_routers: set[str], now: float) -> None:
        if link.a in down_routers or link.b in down_routers:
            return  # the router fault covers it
        ends = [(r, i) for r, i in ((link.a, link.a_if), (link.b, link.b_if))
                if (q := self.last.get(r)) is not None and q.ok]
        if not ends:
            return
        down = [(r, i) for r, i in ends if self._end_down(self.last[r], i)]
        reopened = self._trap_cleared.pop(link.key, None)
        if down:
            if fault is None and reopened is not None and self.store.reopen(reopened):
                self.log(f"fault {reopened} reopened: link {link.key} still down after its linkUp trap")
                return
            if fault is None:
                starts = [t for r, i in down if (t := self.last[r].changed_at(i)) is not None
                          and not self.last[r].interfaces[i].up]
                at = self.last[down[0][0]].at
                self._raise("link", link.key, min(starts) if starts else at, "poll", (set(), {link.key}))
            return
        if fault is not None:
            ups = [t for r, i in ends if (t := self.last[r].changed_at(i)) is not None and fault.start < t <= now]
            self._clear(fault, max(ups) if ups else max(self.last[r].at for r, _ in ends), "poll")

    # --- traps and probes -----------------------------------------------------------------------------
    def trap(self, router: str, if_index: int | None, ifname: str | None, up: bool, at: float) -> Fault | None:
        """linkDown/linkUp from a router: open or clear the planned link's fault at once."""
        if ifname is None and if_index is not None and router in self.last:
            ifname = next((n for n, s in self.last[router].interfaces.items() if s.index == if_index), None)
        link = self.net.by_end.get((router, ifname or ""))
        if link is None:
            return None
        opened = self._open()
        fault = opened.get(("link", link.key))
        if not up:
            if fault is None and ("router", link.a) not in opened and ("router", link.b) not in opened:
                return self._raise("link", link.key, at, "trap", (set(), {link.key}))
            return fault
        if fault is not None:
            self._clear(fault, at, "trap")
            self._trap_cleared[link.key] = fault.id
        return fault

    def probe(self, service: str, ok: bool, at: float, detail: str = "") -> None:
        fault = self._open().get(("service", service))
        if ok and fault is not None:
            self._clear(fault, at, "probe")
        elif not ok and fault is None:
            f = self._raise("service", service, at, "probe", (set(), set()))
            if detail:
                self.log(f"fault {f.id}: {service}: {detail}")

    # --- time -----------------------------------------------------------------------------------------
    def tick(self) -> list[tuple[Fault, float]]:
        """Escalate open, unplanned faults as they approach their target (each level once)."""
        now = self.clock()
        fired = []
        for f in self.store.open_faults(self.profile):
            if f.planned:
                continue
            for level in self.escalate_h:
                if level not in f.escalations and now - f.start >= level * 3600:
                    self.store.escalated(f.id, level)
                    due = f.start + f.target_s
                    self.log(f"fault {f.id} escalated: {f.kind} {f.target} open {level:g} h; its "
                             f"{f.target_s / 3600:g} h target is at {time.strftime('%H:%M:%S', time.localtime(due))}")
                    fired.append((f, level))
        return fired

    def state(self) -> dict[str, Any]:
        return {"routers": dict(self.router_state)}

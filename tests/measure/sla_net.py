"""A small planned network and fault factory for the SLA tests (values are easy to compute by hand).

    c1 ==== c2          province core pair (city "p")
     \\ \\  / /
      \\  a  (xa)       city router, uplinks c1~a, c2~a; hosts service "intranet" (not cloud)
       \\  ||
        \\ b (xa)       county, two uplinks to a: a~b and a~b#2
         d (bj)        county, uplinks c1~d, c2~d; hosts cloud service "web"
    c1 hosts the cloud service "portal".
"""

from __future__ import annotations

import datetime as dt

from egov.measure.faults import NetLink, Network
from egov.measure.store import Fault


def net() -> Network:
    routers = {"c1": ("province", "p"), "c2": ("province", "p"), "a": ("city", "xa"), "b": ("county", "xa"),
               "d": ("county", "bj")}
    links = [NetLink("c1~c2", "c1", "eth1", "c2", "eth1", "peer", "province"),
             NetLink("c1~a", "c1", "eth2", "a", "eth1", "uplink", "city"),
             NetLink("c2~a", "c2", "eth2", "a", "eth2", "uplink", "city"),
             NetLink("a~b", "a", "eth3", "b", "eth1", "uplink", "county"),
             NetLink("a~b#2", "a", "eth4", "b", "eth2", "uplink", "county"),
             NetLink("c1~d", "c1", "eth3", "d", "eth1", "uplink", "county"),
             NetLink("c2~d", "c2", "eth3", "d", "eth2", "uplink", "county")]
    n = Network(routers=routers, links={l.key: l for l in links}, core={"c1", "c2"},
                services={"portal": ("c1", True), "web": ("d", True), "intranet": ("a", False)})
    for l in links:
        n.by_end[(l.a, l.a_if)] = l
        n.by_end[(l.b, l.b_if)] = l
        n.neighbours.setdefault(l.a, []).append((l.b, l.b_if, l.key))
        n.neighbours.setdefault(l.b, []).append((l.a, l.a_if, l.key))
    return n


def t(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


_ids = iter(range(1, 1_000_000))


def fault(kind: str, target: str, start: str, cleared: str | None, *, planned: bool = False,
          target_s: float = 10800.0) -> Fault:
    s = t(start)
    return Fault(id=next(_ids), profile="test", kind=kind, target=target, start=s, detected=s, detected_by="test",
                 cleared=t(cleared) if cleared else None, cleared_by="test" if cleared else None, planned=planned,
                 target_s=target_s)

"""napalm_frr's getters on recorded router output (NAPALM's mocked_data layout), checked against
NAPALM's own model contract (``napalm.base.test.helpers.test_model``); no lab needed."""

from __future__ import annotations

import json

import pytest
from napalm.base import models
from napalm.base.test.helpers import test_model as complies_with

from replay import MOCKED, ReplayDriver

#: getter -> (NAPALM model of one entry, how entries sit in the answer)
MODELS = {
    "get_interfaces_counters": (models.InterfaceCounterDict, "dict"),
    "get_arp_table": (models.ARPTableDict, "list"),
    "get_ipv6_neighbors_table": (models.IPV6NeighborDict, "list"),
    "get_route_to": (models.RouteDict, "dict of lists"),
    "get_interfaces": (models.InterfaceDict, "dict"),
    "get_facts": (models.FactsDict, "one"),
    "get_lldp_neighbors": (models.LLDPNeighborDict, "dict of lists"),
    "get_ntp_servers": (models.NTPServerDict, "dict"),
    "get_snmp_information": (models.SNMPDict, "one"),
    "get_users": (models.UsersDict, "dict"),
}
CASES = sorted(p for p in MOCKED.glob("*/*") if (p / "expected_result.json").exists())


def _entries(answer, shape):
    if shape == "one":
        return [answer]
    if shape == "list":
        return list(answer)
    if shape == "dict":
        return list(answer.values())
    return [e for v in answer.values() for e in v]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_getter_on_recorded_output(case):
    getter = case.parent.name
    kwargs = json.loads((case / "kwargs.json").read_text()) if (case / "kwargs.json").exists() else {}
    got = getattr(ReplayDriver(case), getter)(**kwargs)
    assert json.loads(json.dumps(got)) == json.loads((case / "expected_result.json").read_text())
    if getter in MODELS:
        model, shape = MODELS[getter]
        entries = _entries(got, shape)
        assert entries, "a recorded case with no entries proves nothing"
        assert all(complies_with(model, e) for e in entries)


def test_every_noc_getter_has_a_recorded_case():
    recorded = {c.parent.name for c in CASES}
    assert set(MODELS) <= recorded

"""Free text (site names, SNMP location and contact) never adds, removes or splits a config line.

Issue 7, item 1: the plan refuses what cannot land intact (control characters, a platform's
CLI characters, over-long values), and rendering escapes what reaches a template anyway, on
every platform. Chinese names stay where the platform takes UTF-8 (FRR) and are transliterated
elsewhere (docs/free-text.md).
"""

from __future__ import annotations

import dataclasses
import shutil
import unicodedata
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import INVENTORY, dump, load
from egov.errors import EgovError
from egov.render.engine import Renderer
from egov.render.secrets import placeholders
from egov.topology.validate import build_plan

PLATFORMS = ["frr", "huawei_vrp", "h3c_comware", "cisco_iosxe", "juniper_junos"]
HOSTS = ["sn-a", "sn-xa-yt"]  # the root site (Shaanxi (lab)) and a county whose name we vary
MARK = "XMARKX"


def _set(data: dict, value: str) -> None:
    data["services"]["snmp"]["location"] = value
    data["services"]["snmp"]["contact"] = value
    data["root"]["name"] = value
    next(c for c in next(c for c in data["root"]["city"] if c["id"] == "xa")["county"]
         if c["id"] == "yt")["name"] = value


def _plan(platform: str, value: str, where: Path):
    data = load(INVENTORY / "lab.yaml")
    for tier in data["tiers"].values():
        tier["platform"] = platform
    if platform != "frr":
        data["pools"]["mgmt"]["vrf"] = "MGMT"
    _set(data, value)
    where.mkdir(parents=True, exist_ok=True)
    dump(where / "lab.yaml", data)
    shutil.copy(INVENTORY / "lab.lock.json", where / "lab.lock.json")
    try:
        return build_plan(str(where / "lab.yaml"))
    except EgovError as exc:  # refused while loading: the same one-line problems, no plan
        return SimpleNamespace(problems=exc.problems)


def _render(plan) -> dict[str, str]:
    r = Renderer(plan, placeholders())
    out: dict[str, str] = {}
    for h in HOSTS:
        out.update(r.render_node(plan.topology.nodes[h]))
    return out


@cache
def _baseline(platform: str, tmp: str) -> dict[str, str]:
    plan = _plan(platform, MARK, Path(tmp) / f"base-{platform}")
    assert plan.problems == []
    files = _render(plan)
    assert any(MARK in text for text in files.values())
    return files


def _same_lines(base: str, text: str, name: str) -> None:
    a, b = base.splitlines(), text.splitlines()
    assert len(a) == len(b), f"{name}: {len(b)} lines instead of {len(a)}"
    for x, y in zip(a, b):
        if MARK in x:
            head, _, tail = x.partition(MARK)
            assert y.startswith(head) and y.endswith(tail), f"{name}: {y!r} is not {x!r} with the value"
            assert not any(unicodedata.category(c)[0] == "C" for c in y), f"{name}: control character in {y!r}"
        else:
            assert x == y, f"{name}: {y!r} instead of {x!r}"


hostile = st.one_of(
    st.text(max_size=40),
    st.text(min_size=250, max_size=400),
    st.text(alphabet="西安雁塔小寨陕西省 \n\r\t\x00\x1b\x85\u2028\u202e?[]{}\"\\'#!;:", max_size=60),
    st.sampled_from(["lab\nrocommunity public default", "Xi'an\r\nusername evil privilege 15",
                     "雁塔区小寨街道", "a" * 255, "quote \" and \\ backslash", "[bold]x[/bold] :100:"]),
)


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(value=hostile)
def test_free_text_lands_on_exactly_its_own_lines(tmp_path_factory, value):
    assume(value.split())  # all-blank text renders no line at all (the templates skip empty values)
    tmp = tmp_path_factory.getbasetemp() / "free-text"
    for platform in PLATFORMS:
        plan = _plan(platform, value, tmp / "case")
        if plan.problems:  # refused: one line each, naming one of the fields we set
            assert all("\n" not in str(p) and "; fix: " in str(p) for p in plan.problems)
            assert any(p.field in ("services.snmp.location", "services.snmp.contact", "root.name",
                                   "root.city[0].county[0].name") for p in plan.problems), plan.problems
            continue
        files = _render(plan)
        base = _baseline(platform, str(tmp))
        assert files.keys() == base.keys()
        for name, text in files.items():
            _same_lines(base[name], text, f"{platform} {name}")


def test_chinese_names_per_platform(tmp_path):
    """UTF-8 kept on FRR, transliterated on the ASCII-only platforms (Cisco shows it in its header)."""
    plan = _plan("cisco_iosxe", "雁塔区", tmp_path / "c")
    assert plan.problems == []
    text = _render(plan)["sn-xa-yt.cfg"]
    assert "! sn-xa-yt (county, YanTaQu) - rendered by egov" in text
    plan = _plan("frr", "陕西 雁塔", tmp_path / "f")
    snmpd = _render(plan)["sn-a.d/snmpd.conf"]
    assert "sysLocation 陕西 雁塔\n" in snmpd


def test_second_defence_when_validation_is_bypassed(tmp_path):
    """Values that never went through the schema still cannot add a line to any platform's config."""
    evil = "x\nusername evil privilege 15 secret 0 pwned\n"
    for platform in PLATFORMS:
        plan = _plan(platform, MARK, tmp_path / platform)
        base = _render(plan)
        for node in plan.topology.nodes.values():
            node.site_name = evil
        services = plan.loaded.profile.services
        snmp = services.snmp.model_copy(update={"location": evil, "contact": evil})
        profile = plan.loaded.profile.model_copy(update={"services": services.model_copy(update={"snmp": snmp})})
        plan.loaded = dataclasses.replace(plan.loaded, profile=profile)
        files = _render(plan)
        for name, text in files.items():
            assert "username evil" not in text.splitlines(), (platform, name)
            assert not any(line.startswith("username evil") for line in text.splitlines())
            assert len(text.splitlines()) == len(base[name].splitlines()), (platform, name)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_platform_has_a_text_rule_for_every_slot(platform):
    from egov.platforms import PLATFORMS as TABLE, SLOTS

    rule = TABLE[platform].text
    assert set(rule.limits) == set(SLOTS) and all(n > 0 for n in rule.limits.values())

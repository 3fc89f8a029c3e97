"""Stack files: the three committed stacks load; mistakes are one line naming file, line and field."""

from __future__ import annotations

import pytest

from egov.cloud.config import load_stack
from egov.errors import EgovError

from .stackkit import MiniStack


@pytest.mark.parametrize("name", ["shaanxi", "guangan", "seed002"])
def test_committed_stacks_load(name):
    s = load_stack(name)
    assert s.name == name and s.layout.backbone == name
    assert s.layout.catalogue and s.resolve(s.layout.catalogue).is_file()


def test_shaanxi_is_1_plus_11_plus_n():
    layout = load_stack("shaanxi").layout
    kinds = [r.kind for r in layout.regions]
    assert kinds.count("municipal") == 11 and kinds.count("industry") >= 1
    assert {layout.dr.production, layout.dr.same_city, layout.dr.remote} == {"sn-prov", "sn-prov-ic", "sn-yl"}


def test_seed002_is_1_plus_18():
    layout = load_stack("seed002").layout
    assert [r.kind for r in layout.regions].count("municipal") == 18
    assert len([d for d in layout.departments if layout.region(d.region).kind == "provincial"]) == 45


def problems(stack: MiniStack) -> list[str]:
    stack.write()
    with pytest.raises(EgovError) as exc:
        load_stack(str(stack.path))
    return [str(p) for p in exc.value.problems]


def test_unknown_key_names_file_line_and_field(mini):
    mini.region("sn-yl")["capacty"] = {"vcpu": 1}
    (line,) = problems(mini)
    assert line.startswith(f"{mini.path}:")
    assert "egov:regions[2].capacty: unknown field; fix:" in line
    n = int(line.split(":")[1])
    assert "capacty" in mini.path.read_text().splitlines()[n - 1]


def test_bad_values_each_get_a_line(mini):
    mini.region("sn-prov")["capacity"]["vcpu"] = -1
    mini.dept("fgw")["ipv6_mode"] = "dhcp"
    mini.config["egov:pools"]["ipv4"] = ["10.62.0.1/15"]
    lines = problems(mini)
    assert len(lines) == 3
    assert any("egov:regions[0].capacity.vcpu:" in x for x in lines)
    assert any("egov:departments[1].ipv6_mode:" in x for x in lines)
    assert any("egov:pools.ipv4[0]:" in x for x in lines)


def test_references_must_resolve(mini):
    mini.dept("jyt")["region"] = "sn-nowhere"
    mini.dept("fgw")["services"] = ["monitoring", "teleport"]
    mini.region("sn-xa")["site"] = "mars"
    lines = problems(mini)
    assert any("egov:departments[2].region: unknown region 'sn-nowhere'" in x for x in lines)
    assert any("egov:departments[1].services[1]: unknown service 'teleport'" in x for x in lines)
    assert any("egov:regions[4].site: unknown site 'mars'" in x for x in lines)


def test_dr_centres_are_three_sites(mini):
    mini.region("sn-prov-ic")["site"] = "xc"
    (line,) = problems(mini)
    assert "egov:dr: two DR centres share a data centre" in line


def test_a_region_attaches_to_a_pair(mini):
    mini.region("sn-edu")["attach"] = ["sn-a"]
    (line,) = problems(mini)
    assert "egov:regions[3].attach: region sn-edu attaches to 1 backbone routers, not a pair" in line


def test_missing_stack_names_the_known_ones():
    with pytest.raises(EgovError) as exc:
        load_stack("atlantis")
    assert "no stack named 'atlantis'" in str(exc.value) and "shaanxi" in str(exc.value)

"""Loading a profile: hostile YAML is refused with one line, and every problem carries its line."""

from __future__ import annotations

import pytest

from conftest import dump, egov, load
from egov.errors import EgovError
from egov.plan.load import MAX_VALUES, SourceMap, load_profile


def _bomb(levels: int, fan: int = 9) -> str:
    """A 'billion laughs' profile: each anchor is a list of ``fan`` aliases of the one before."""
    lines = ['name: bomb', 'l0: &l0 ["lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [{', '.join(f'*l{i - 1}' for _ in range(fan))}]")
    lines.append(f"tiers: {{core: {{platform: frr, description: *l{levels - 1}}}}}")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_before_it_expands(tmp_path):
    p = tmp_path / "bomb.yaml"
    p.write_text(_bomb(10))  # 9**9 = 387 million strings once expanded, from about 350 bytes
    assert p.stat().st_size < 4096
    with pytest.raises(EgovError) as exc:
        load_profile(str(p))
    (problem,) = exc.value.problems
    assert problem.file.endswith("bomb.yaml") and problem.field == "(top)"
    assert f"YAML aliases expand to more than {MAX_VALUES:,} values" in problem.message
    r = egov("plan", "validate", "--profile", str(p))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "YAML aliases expand" in r.stderr  # one line, nothing else


def test_modest_aliases_are_fine(lab_yaml):
    text = lab_yaml.read_text().replace("    bfd: {interval_ms: 100, multiplier: 3}\n    description: provincial",
                                        "    bfd: &fast {interval_ms: 100, multiplier: 3}\n    description: provincial")
    text = text.replace("    id_prefix: c\n    bfd: {interval_ms: 100, multiplier: 3}", "    id_prefix: c\n    bfd: *fast")
    assert "*fast" in text
    lab_yaml.write_text(text)
    prof = load_profile(str(lab_yaml)).profile
    assert prof.tiers["city"].bfd.interval_ms == 100


def test_source_map_finds_lines_of_nested_fields(lab_yaml):
    loaded = load_profile(str(lab_yaml))
    lines = lab_yaml.read_text().splitlines()
    line = loaded.source.line("root.city[1].county[0].township[0]")
    assert "Zhongshan" in lines[line - 1]
    assert loaded.where("services.snmp.location").endswith(f"lab.yaml:{_line_of(lines, 'location:')}")
    assert SourceMap("a: [1, 2\n").line("a") is None  # malformed YAML: no line, no exception


def _line_of(lines: list[str], needle: str) -> int:
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_problems_found_after_loading_carry_their_line(lab_yaml):
    data = load(lab_yaml)
    bj = data["root"]["city"][1]
    bj["county"][1]["id"] = "jt"                       # duplicate site
    data["root"]["city"][0]["department"] = [{"id": "x"}]  # a tier under the wrong parent
    dump(lab_yaml, data)
    r = egov("plan", "validate", "--profile", str(lab_yaml))
    lines = lab_yaml.read_text().splitlines()
    dup = next(x for x in r.stderr.splitlines() if "duplicate site id 'jt'" in x)
    misplaced = next(x for x in r.stderr.splitlines() if "tier 'department' hangs under" in x)
    for message, needle in ((dup, "id: jt"), (misplaced, "id: x")):
        where = message.split(": ")[0]
        assert where.startswith(str(lab_yaml) + ":"), message
        line = int(where.rsplit(":", 1)[1])
        assert needle in lines[line - 1] or needle in lines[line], (message, lines[line - 1])

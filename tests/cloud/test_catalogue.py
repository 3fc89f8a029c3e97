"""Every class of bad catalogue row gets one line naming file, row and column; nothing is planned."""

from __future__ import annotations

import pytest

from egov.cloud.config import load_stack
from egov.cloud.model import build_model
from egov.errors import EgovError

from .stackkit import HEADER, SYSTEMS, MiniStack, write_catalogue


def lines_for(mini: MiniStack, rows: list[list[str]], header: list[str] | None = None) -> list[str]:
    path = write_catalogue(mini.dir / "bad.csv", rows, header)
    with pytest.raises(EgovError) as exc:
        build_model(load_stack(str(mini.path)), path, lock={"tenancies": {}})
    return [str(p) for p in exc.value.problems]


def row(**kw: str) -> list[str]:
    base = dict(zip(HEADER, ["new-0001", "fgw", "3", "4", "8", "100", "", "fgw-r09"]))
    base.update(kw)
    return [base[c] for c in HEADER]


CASES = [
    ("unknown department", row(department="nosuch"), "department", "unknown department 'nosuch'"),
    ("dr level out of range", row(dr_level="7"), "dr_level", "'7' is not a DR level"),
    ("dr level not a number", row(dr_level="high"), "dr_level", "'high' is not a DR level"),
    ("vcpu not a number", row(vcpu="4.5"), "vcpu", "'4.5' is not a whole number"),
    ("ram zero", row(ram_gb="0"), "ram_gb", "0 is out of range"),
    ("disk absurd", row(disk_gb="99999999"), "disk_gb", "99999999 is out of range"),
    ("bad system id", row(system="Bad System"), "system", "'Bad System' is not a system id"),
    ("unknown dependency", row(depends_on="fgw-0001;ghost-0001"), "depends_on", "depends on unknown system ghost-0001"),
    ("self dependency", row(depends_on="new-0001"), "depends_on", "new-0001 depends on itself"),
    ("bad room", row(current_room="room 1"), "current_room", "'room 1' is not a room id"),
    ("larger than any flavor", row(vcpu="128", ram_gb="512"), "vcpu", "more than any flavor"),
    ("larger than any region", row(disk_gb="900000"), "disk_gb", "is larger than any region"),
]


@pytest.mark.parametrize("what, bad, column, message", CASES, ids=[c[0] for c in CASES])
def test_bad_row_is_one_line(mini, what, bad, column, message):
    rows = [list(r) for r in SYSTEMS] + [bad]
    (line,) = lines_for(mini, rows)
    assert line.startswith(f"{mini.dir / 'bad.csv'}:{len(SYSTEMS) + 2}: {column}: "), line
    assert message in line and "; fix: " in line


def test_a_system_too_big_for_its_own_region(mini):
    mini.region("sn-edu")["capacity"] = {"vcpu": 40, "ram_gb": 160, "disk_gb": 4000}
    mini.write()
    (line,) = lines_for(mini, [row(department="jyt", vcpu="32", ram_gb="64")])
    assert ":2: vcpu: new-0001 does not fit region sn-edu: it needs 32 vCPU" in line
    assert "at most 20 per wave (capacity 40 x wave_share 0.5)" in line


def test_a_dr_copy_too_big_for_the_dr_centre(mini):
    mini.region("sn-yl")["capacity"] = {"vcpu": 40, "ram_gb": 160, "disk_gb": 4000}
    mini.write()
    (line,) = lines_for(mini, [row(dr_level="5", vcpu="32", ram_gb="64")])
    assert "does not fit region sn-yl: its DR copy (level 5) needs 32 vCPU" in line


def test_missing_and_unknown_columns(mini):
    header = [c for c in HEADER if c != "current_room"] + ["owner"]
    lines = lines_for(mini, [r[:-1] + ["x"] for r in SYSTEMS], header)
    assert any(x.startswith(f"{mini.dir / 'bad.csv'}:1: current_room: missing column") for x in lines)
    assert any(":1: owner: unknown column" in x for x in lines)
    assert len(lines) == 2


def test_wrong_number_of_fields(mini):
    rows = [list(r) for r in SYSTEMS]
    rows[3] = rows[3][:5]
    (line,) = lines_for(mini, rows)
    assert ":5: (row): 5 fields, the header has 8" in line


def test_duplicate_system(mini):
    rows = [list(r) for r in SYSTEMS] + [list(SYSTEMS[2])]
    (line,) = lines_for(mini, rows)
    assert f":{len(SYSTEMS) + 2}: system: fgw-0001 is already on row 4" in line


def test_dependency_cycle_is_one_line_with_the_cycle(mini):
    rows = [list(r) for r in SYSTEMS]
    rows[2][6] = "fgw-0004"          # fgw-0001 -> fgw-0004 -> fgw-0003 -> fgw-0001
    (line,) = lines_for(mini, rows)
    assert ":4: depends_on: dependency cycle fgw-0001 -> fgw-0004 -> fgw-0003 -> fgw-0001" in line


def test_every_bad_row_is_reported_not_just_the_first(mini):
    rows = [list(r) for r in SYSTEMS] + [row(system="a-1", dr_level="0"), row(system="a-2", vcpu="x")]
    lines = lines_for(mini, rows)
    assert len(lines) == 2


def test_empty_file_and_missing_file(mini):
    (mini.dir / "empty.csv").write_text("")
    with pytest.raises(EgovError) as exc:
        build_model(load_stack(str(mini.path)), mini.dir / "empty.csv", lock={"tenancies": {}})
    assert "empty catalogue" in str(exc.value)
    with pytest.raises(EgovError) as exc:
        build_model(load_stack(str(mini.path)), mini.dir / "nope.csv", lock={"tenancies": {}})
    assert "catalogue file not found" in str(exc.value)

"""Migration waves respect dependency order and region capacity (per wave and in total)."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from egov.cloud.config import load_stack
from egov.cloud.model import build_model
from egov.cloud.waves import Demand, budgets
from egov.errors import EgovError

from .stackkit import HEADER, write_catalogue


def check_waves(model) -> None:
    layout = model.layout
    total, per_wave = budgets(layout)
    wave_of = {p.id: p.wave for p in model.placements}
    boot = layout.boot_volume_gb
    used: dict[str, Demand] = defaultdict(Demand)
    for n, wave in enumerate(model.waves, start=1):
        assert 0 < len(wave) <= layout.migration.max_systems_per_wave
        this: dict[str, Demand] = defaultdict(Demand)
        for p in wave:
            assert p.wave == n
            for dep in p.system.depends_on:
                assert wave_of[dep] <= n, f"{p.id} (wave {n}) moves before {dep} (wave {wave_of[dep]})"
            for region, d in p.demands(boot).items():
                this[region] = this[region] + d
        for region, d in this.items():
            assert d.fits(per_wave[region]), (n, region, d, per_wave[region])
            used[region] = used[region] + d
    for region, d in used.items():
        assert d.fits(total[region]), (region, d, total[region])


def random_catalogue(path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    rows = []
    depts = ["dsj", "fgw", "jyt", "dsj-xa"]
    for i in range(n):
        deps = rng.sample([r[0] for r in rows], k=min(len(rows), rng.choice((0, 0, 1, 2, 3))))
        rows.append([f"s-{i:04d}", rng.choice(depts), str(rng.randint(1, 6)), str(rng.choice((1, 2, 4, 8))),
                     str(rng.choice((2, 4, 8, 16))), str(rng.choice((50, 100, 200))), ";".join(deps),
                     f"room-{rng.randint(1, 12)}"])
    write_catalogue(path, rows)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_catalogues_respect_dependencies_and_capacity(mini, seed):
    for r in mini.config["egov:regions"]:
        r["capacity"] = {"vcpu": 2000, "ram_gb": 8000, "disk_gb": 200000}
    mini.config["egov:migration"] = {"max_systems_per_wave": 40, "wave_share": 0.1, "quota_headroom": 0.2}
    mini.write()
    random_catalogue(mini.dir / "r.csv", 300, seed)
    model = build_model(load_stack(str(mini.path)), mini.dir / "r.csv", lock={"tenancies": {}})
    assert len(model.placements) == 300
    assert len(model.waves) >= 300 // 40
    check_waves(model)


def test_the_mini_catalogue(mini):
    model = build_model(load_stack(str(mini.path)), mini.catalogue, lock={"tenancies": {}})
    check_waves(model)
    wave = {p.id: p.wave for p in model.placements}
    assert wave["dsj-0001"] <= wave["dsj-0002"] <= wave["fgw-0003"] <= wave["fgw-0004"]
    # a room is reported emptied in the wave its last system moves
    closed = {room: n for n, rooms in enumerate(model.rooms_closed, start=1) for room in rooms}
    last = defaultdict(int)
    for p in model.placements:
        last[p.system.room] = max(last[p.system.room], p.wave)
    assert closed == dict(last)


def test_per_wave_share_spreads_a_region_over_waves(mini):
    # sn-edu takes 400 x 0.5 = 200 vCPU a wave: eight 40-vCPU systems cannot all move at once
    mini.config["egov:migration"]["max_systems_per_wave"] = 100
    mini.write()
    rows = [[f"big-{i}", "jyt", "1", "32", "64", "100", "", "jyt-r01"] for i in range(8)]
    write_catalogue(mini.dir / "big.csv", rows)
    model = build_model(load_stack(str(mini.path)), mini.dir / "big.csv", lock={"tenancies": {}})
    assert [len(w) for w in model.waves] == [6, 2]
    check_waves(model)


def test_a_full_region_is_one_line_and_nothing_is_planned(mini):
    rows = [[f"big-{i}", "jyt", "1", "32", "64", "100", "", "jyt-r01"] for i in range(12)]
    rows.append(["after", "fgw", "1", "1", "2", "50", "big-11", "fgw-r01"])
    write_catalogue(mini.dir / "full.csv", rows)
    with pytest.raises(EgovError) as exc:
        build_model(load_stack(str(mini.path)), mini.dir / "full.csv", lock={"tenancies": {}})
    (line,) = [str(p) for p in exc.value.problems]
    assert f"{mini.path}:" in line and "egov:regions[3].capacity: region sn-edu is full: 2 systems do not fit" in line
    assert "and 1 more depend on them" in line


def test_waves_are_deterministic(mini):
    a = build_model(load_stack(str(mini.path)), mini.catalogue, lock={"tenancies": {}})
    b = build_model(load_stack(str(mini.path)), mini.catalogue, lock={"tenancies": {}})
    assert [[p.id for p in w] for w in a.waves] == [[p.id for p in w] for w in b.waves]


def test_shaanxi_waves(tmp_path):
    model = build_model(load_stack("shaanxi"), lock={"tenancies": {}})
    assert len(model.placements) == 1000
    check_waves(model)
    assert sum(len(r) for r in model.rooms_closed) == len({p.system.room for p in model.placements})


def test_unused_header_order_does_not_matter(mini):
    cols = list(reversed(HEADER))
    from .stackkit import SYSTEMS

    write_catalogue(mini.dir / "rev.csv", [list(reversed(r)) for r in SYSTEMS], cols)
    model = build_model(load_stack(str(mini.path)), mini.dir / "rev.csv", lock={"tenancies": {}})
    assert len(model.placements) == len(SYSTEMS)

"""The render engine: parallel equals serial, template errors write nothing, stale files are cleaned."""

from __future__ import annotations

import shutil

from conftest import ROOT, dump, egov, load
from egov.render.engine import Renderer
from egov.render.secrets import placeholders
from egov.topology.validate import build_plan


def test_parallel_render_equals_serial():
    plan = build_plan("shaanxi")
    r = Renderer(plan, placeholders())
    nodes = list(plan.topology.nodes.values())
    par = r.render(nodes, workers=2)
    ser = r.render(nodes[:300], workers=1)
    assert par.routers == 1944 and len(par.files) >= 1944
    for name, text in ser.files.items():
        assert par.files[name] == text


def test_template_error_writes_nothing(tmp_path):
    home = tmp_path / "home"
    shutil.copytree(ROOT / "inventory", home / "inventory")
    shutil.copytree(ROOT / "templates", home / "templates")
    tpl = home / "templates" / "frr" / "frr.conf.j2"
    tpl.write_text(tpl.read_text().replace("{% endfor %}", "{% endfor", 1))
    out = tmp_path / "out"
    r = egov("render", "--profile", "lab", "--out", str(out), "--dry-run", env={"EGOV_HOME": str(home)})
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "templates/frr/frr.conf.j2:" in r.stderr and "template error" in r.stderr and "fix:" in r.stderr
    assert not out.exists()


def test_stale_configs_removed_foreign_files_kept(lab_yaml, tmp_path):
    out = tmp_path / "out"
    assert egov("render", "--profile", str(lab_yaml), "--out", str(out), "--dry-run").returncode == 0
    (out / "notes.txt").write_text("operator's file")
    assert (out / "sn-bj-wb-t001.cfg").exists() and (out / "sn-bj-wb-t001.d" / "snmpd.conf").exists()
    data = load(lab_yaml)
    bj = next(c for c in data["root"]["city"] if c["id"] == "bj")
    bj["county"][1]["township"] = [{"id": "t002"}]
    dump(lab_yaml, data)
    r = egov("render", "--profile", str(lab_yaml), "--out", str(out), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "stale removed" in r.stdout
    assert not (out / "sn-bj-wb-t001.cfg").exists() and not (out / "sn-bj-wb-t001.d").exists()
    assert (out / "sn-bj-wb-t002.cfg").exists() and (out / "notes.txt").read_text() == "operator's file"
    assert not [p for p in out.iterdir() if p.name.startswith(".egov-stage")]


def test_plan_show_json(tmp_path):
    import json

    r = egov("plan", "show", "--profile", "lab", "--json", "--frozen")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["totals"] == {"routers": 15, "links": 29}
    a = next(n for n in doc["nodes"] if n["hostname"] == "sn-a")
    assert a["loopback6"] == "fd00:255::1/128" and len(a["interfaces"]) == 6
    link = doc["links"][0]
    assert link["a_interface"].startswith("eth") and link["ipv4"].endswith("/31") and link["ipv6"].endswith("/127")

"""Prometheus rules and the NOC dashboard in exporters/: checked and unit-tested with Debian's promtool.

- ``promtool check rules`` on exporters/rules/*.yml;
- ``promtool test rules`` on every exporters/tests/*.yml (hand-computed values on synthetic series);
- every PromQL expression of exporters/dashboards/egov-noc.json parses (``promtool check rules`` on a
  throwaway rules file holding them, Grafana's variables substituted);
- the conventions the files promise: names that resolve, the burn-rate table of the SRE workbook,
  runbook links, every rule and alert exercised by a unit test, and a harness that does fail when a
  rule or an expected value is wrong.

promtool comes from Debian's ``prometheus`` package, which bootstrap.sh installs; without it the
tests that run it are skipped with that reason.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXPORTERS = ROOT / "exporters"
RULE_FILES = sorted((EXPORTERS / "rules").glob("*.yml"))
TEST_FILES = sorted((EXPORTERS / "tests").glob("*.yml"))
DASHBOARD = EXPORTERS / "dashboards" / "egov-noc.json"
METRICS_DOC = ROOT / "docs" / "metrics.md"

RUNBOOK_IDS = {"link-down", "router-down", "bandwidth-degraded", "change-failed", "snmp-unreachable",
               "service-down", "dr-switchover"}
FAULT_KINDS = ("link", "router", "service")  # fault kinds held to the 3-hour target
#: (burn rate, long window, short window, severity): Google SRE workbook, error budget 1%
BURN_TABLE = [("14.4", "1h", "5m", "page"), ("6", "6h", "30m", "page"),
              ("3", "1d", "2h", "ticket"), ("1", "3d", "6h", "ticket")]
WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]
AVAILABILITY_LEVELS = ["service", "cloud", "router", "tier", "city", "network", "link"]
#: Grafana variables and what stands in for them when an expression is parsed
GRAFANA_VARS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1d", "city": ".*", "tier": ".*",
                "year": "2025"}


def _promtool() -> str:
    path = shutil.which("promtool") or ("/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None)
    if path is None:
        pytest.skip("promtool is not installed: it comes from Debian's prometheus package "
                    "(sudo ./bootstrap.sh installs it)")
    return path


@pytest.fixture(scope="module")
def promtool() -> str:
    return _promtool()


def _run(*args: str, cwd: Path | None = None, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=False, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _out(r: subprocess.CompletedProcess[str]) -> str:
    return f"exit {r.returncode}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _rules() -> list[dict]:
    return [r for f in RULE_FILES for g in _load(f)["groups"] for r in g["rules"]]


def _records() -> set[str]:
    return {r["record"] for r in _rules() if "record" in r}


def _alerts() -> list[dict]:
    return [r for r in _rules() if "alert" in r]


def _dashboard_exprs() -> list[str]:
    """Every PromQL expression of the dashboard: panel targets (rows included), annotation queries and
    the series selectors inside the template variables' label_values()."""
    dash = json.loads(DASHBOARD.read_text())
    exprs: list[str] = []

    def walk(panels: list[dict]) -> None:
        for p in panels:
            exprs.extend(t["expr"] for t in p.get("targets", []) if t.get("expr"))
            walk(p.get("panels", []))

    walk(dash["panels"])
    exprs.extend(a["expr"] for a in dash["annotations"]["list"] if a.get("expr"))
    for v in dash["templating"]["list"]:
        if v["type"] != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\((?:(.+),\s*)?(\w+)\)", q.strip())
        assert m, f"variable {v['name']}: unexpected query {q!r}"
        if m.group(1):
            exprs.append(m.group(1))
    return exprs


def _substitute(expr: str) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        assert name in GRAFANA_VARS, f"unknown Grafana variable ${name} in {expr!r}"
        return GRAFANA_VARS[name]
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", sub, expr)


def _ts(d: str) -> int:
    """A promtool duration (1h2m30s) in seconds."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+)([dhms])", d)
    assert "".join(n + u for n, u in parts) == d, d
    return sum(int(n) * units[u] for n, u in parts)


# --------------------------------------------------------------------------- promtool

def test_rule_files_pass_promtool_check(promtool: str) -> None:
    r = _run(promtool, "check", "rules", *map(str, RULE_FILES))
    assert r.returncode == 0, _out(r)
    found = sum(int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", r.stdout))
    assert found == len(_rules()) and found > 80, _out(r)


@pytest.mark.slow
@pytest.mark.parametrize("test_file", TEST_FILES, ids=[f.name for f in TEST_FILES])
def test_promtool_unit_tests(promtool: str, test_file: Path) -> None:
    r = _run(promtool, "test", "rules", test_file.name, cwd=test_file.parent)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, _out(r)


def test_dashboard_expressions_parse(promtool: str, tmp_path: Path) -> None:
    exprs = _dashboard_exprs()
    assert len(exprs) >= 30
    rules = {"groups": [{"name": "dashboard-expressions", "rules": [
        {"record": f"dashboard:expr_{i}:check", "expr": _substitute(e)} for i, e in enumerate(exprs)]}]}
    path = tmp_path / "dashboard-exprs.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    r = _run(promtool, "check", "rules", str(path))
    assert r.returncode == 0 and f"SUCCESS: {len(exprs)} rules found" in r.stdout, _out(r)


def test_a_broken_expression_fails_the_dashboard_check(promtool: str, tmp_path: Path) -> None:
    """The dashboard check is not vacuous: promtool refuses a malformed expression the same way."""
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [
        {"record": "dashboard:expr_0:check", "expr": _substitute('sum by (city (egov_router_up{city=~"$city"})')}]}]}))
    r = _run(promtool, "check", "rules", str(path))
    assert r.returncode != 0, _out(r)


@pytest.mark.slow
@pytest.mark.parametrize("what,file,old,new,expect", [
    # a broken rule: EgovRouterDown waits 2 minutes instead of 1
    ("rule", "rules/egov-alerts.yml", "        expr: egov_router_up == 0\n        for: 1m",
     "        expr: egov_router_up == 0\n        for: 2m", "alertname: EgovRouterDown"),
    # a wrong expected value: 90% utilisation written as 90.0001%
    ("expected value", "tests/noc-alerts.yml", "value: 900000  #", "value: 900001  #",
     "egov:interface_utilisation:ratio_rate5m"),
])
def test_promtool_harness_fails_on_a_broken_rule_or_value(promtool: str, tmp_path: Path, what: str, file: str,
                                                          old: str, new: str, expect: str) -> None:
    copy = tmp_path / "exporters"
    shutil.copytree(EXPORTERS / "rules", copy / "rules")
    shutil.copytree(EXPORTERS / "tests", copy / "tests")
    target = copy / file
    text = target.read_text()
    assert text.count(old) == 1, f"{what}: {old!r} not found once in {file}"
    target.write_text(text.replace(old, new))
    r = _run(promtool, "test", "rules", "noc-alerts.yml", cwd=copy / "tests")
    assert r.returncode != 0 and "FAILED" in r.stderr and expect in r.stderr, _out(r)


# --------------------------------------------------------------------------- conventions

def test_dashboard_is_a_grafana_dashboard() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert 36 <= dash["schemaVersion"] <= 41 and dash["uid"] and dash["title"]
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for name in ("city", "tier"):
        assert variables[name]["type"] == "query" and variables[name]["includeAll"] and variables[name]["multi"]
        assert variables[name]["datasource"]["uid"] == "${datasource}"

    def walk(panels: list[dict]) -> list[dict]:
        return [q for p in panels for q in [p, *walk(p.get("panels", []))]]

    panels = walk(dash["panels"])
    assert len({p["id"] for p in panels}) == len(panels), "panel ids must be unique"
    for p in panels:
        if p["type"] == "row":
            continue
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        assert p["targets"] and all(t["datasource"]["uid"] == "${datasource}" for t in p["targets"]), p["title"]
    text = " ".join(_dashboard_exprs())
    for shown in ("egov:cloud_errors:ratio_rate30d", "egov:fault_handling_errors:ratio_rate30d", "egov_faults_open",
                  "egov_router_up", "egov_router_unknown", "egov_interface_speed_bps", "egov_poll_errors_total",
                  'indicator="platform_uptime"', 'indicator="fault_handling_3h"'):
        assert shown in text, shown
    assert re.search(r"rate\(egov_interface_receive_bytes_total\{[^}]*\}\[\$__rate_interval\]\) \* 8 / "
                     r"\(egov_interface_speed_bps", text), "utilisation is rate(bytes) x 8 / speed"


def test_names_resolve() -> None:
    """Every egov:* name used is recorded; every raw egov_* metric is in the contract (docs/metrics.md)."""
    records = _records()
    used = " ".join([a["expr"] for a in _alerts()] + _dashboard_exprs()
                    + [r["expr"] for r in _rules() if "record" in r])
    for f in TEST_FILES:
        for tg in _load(f)["tests"]:
            used += " ".join(t["expr"] for t in tg.get("promql_expr_test", []))
    missing = sorted(set(re.findall(r"egov:[a-z0-9_]+:[a-z0-9_]+", used)) - records)
    assert not missing, f"used but never recorded: {missing}"

    contract = set(re.findall(r"`(egov_[a-z0-9_]+)", METRICS_DOC.read_text()))
    raw = set(re.findall(r"\begov_[a-z0-9_]+", used))
    for f in TEST_FILES:
        for tg in _load(f)["tests"]:
            raw |= {s["series"].split("{")[0] for s in tg.get("input_series", [])}
    raw = {m for m in raw if m.startswith("egov_")}

    def base(m: str) -> str:
        return re.sub(r"_(bucket|count|sum)$", "", m) if m not in contract else m

    unknown = sorted(m for m in raw if base(m) not in contract)
    assert not unknown, f"not in docs/metrics.md: {unknown}"


def test_recording_rule_set() -> None:
    records = _records()
    expected = {f"egov:{lvl}_errors:ratio_rate{w}" for lvl in AVAILABILITY_LEVELS for w in WINDOWS}
    expected |= {f"egov:fault_handling_errors{s}:ratio_rate{w}" for s in ("", "_by_kind") for w in WINDOWS}
    expected.add("egov:interface_utilisation:ratio_rate5m")
    assert records == expected
    for r in _rules():
        if "record" in r:
            m = re.fullmatch(r"egov:(\w+):ratio_rate(\d+[mhd])", r["record"])
            assert m, r["record"]
            # a rule reads its own window only: raw ranges and the rules it builds on
            ranges = set(re.findall(r"\[(\w+)\]", r["expr"]))
            sources = {s.rsplit("ratio_rate", 1)[1] for s in re.findall(r"egov:\w+:ratio_rate\w+", r["expr"])}
            assert (ranges | sources) == {m.group(2)}, r["record"]
            if "fault_handling" in r["record"]:
                assert r["expr"].count('kind!="management"') == 3 and 'le="10800.0"' in r["expr"], r["record"]
    for f in RULE_FILES:
        for g in _load(f)["groups"]:
            if "interval" in g:  # anything an alert or a dashboard reads must stay inside the 5-minute lookback
                assert _ts(g["interval"]) < 300, g["name"]


def test_burn_rate_alerts_follow_the_sre_workbook() -> None:
    """Both 99% targets: 14.4x over 1h and 5m, 6x over 6h and 30m (page), 3x over 1d and 2h, 1x over 3d
    and 6h (ticket), both windows over burn x 1% of error budget."""
    for name, sli in (("EgovServiceErrorBudgetBurn", "egov:service_errors"),
                      ("EgovFaultHandlingErrorBudgetBurn", "egov:fault_handling_errors_by_kind")):
        rules = [a for a in _alerts() if a["alert"] == name]
        got = sorted((a["labels"]["burn_rate"], a["labels"]["long_window"], a["labels"]["short_window"],
                      a["labels"]["severity"]) for a in rules)
        assert got == sorted(BURN_TABLE), name
        for a in rules:
            b, lw, sw = a["labels"]["burn_rate"], a["labels"]["long_window"], a["labels"]["short_window"]
            expr = re.sub(r"\s+", " ", a["expr"]).strip()
            assert expr == (f"{sli}:ratio_rate{lw} > ({b} * 0.01) and {sli}:ratio_rate{sw} > ({b} * 0.01)"), expr
            assert "for" not in a, f"{name} {b}x: the short window already debounces; no `for`"


def test_alert_labels_and_annotations() -> None:
    names = set()
    for a in _alerts():
        names.add(a["alert"])
        assert a["labels"]["severity"] in ("page", "ticket"), a["alert"]
        ann = a["annotations"]
        assert ann.get("summary") and ann.get("description"), a["alert"]
        url = ann["runbook_url"]
        if "{{ $labels.kind }}" in url:
            # only kinds held to the 3-hour target: management faults are left out (docs/sla.md)
            assert ('kind!="management"' in a["expr"]
                    or "egov:fault_handling_errors_by_kind:" in a["expr"]), a["alert"]
            urls = [url.replace("{{ $labels.kind }}", k) for k in FAULT_KINDS]
        else:
            urls = [url]
        for u in urls:
            m = re.fullmatch(r"runbooks/([a-z0-9-]+)\.md", u)
            assert m and m.group(1) in RUNBOOK_IDS, f"{a['alert']}: {u}"
    assert {"EgovRouterDown", "EgovRouterUnknown", "EgovLinkDown", "EgovIsisAdjacencyDown", "EgovFaultNearTarget",
            "EgovPollErrors", "EgovPollTargetMissing", "EgovExporterDown"} <= names
    unknown = next(a for a in _alerts() if a["alert"] == "EgovRouterUnknown")
    down = next(a for a in _alerts() if a["alert"] == "EgovRouterDown")
    assert (unknown["labels"]["severity"], down["labels"]["severity"]) == ("ticket", "page")


def test_every_rule_and_alert_is_unit_tested() -> None:
    """Each recording rule's value is checked by a promql_expr_test; each alert is seen firing and seen
    quiet; each burn-rate pair of both targets is seen firing."""
    exprs, firing, quiet, burns = "", set(), set(), set()
    for f in TEST_FILES:
        for tg in _load(f)["tests"]:
            for t in tg.get("promql_expr_test", []):
                assert t.get("exp_samples"), f"{f.name}: {t['expr']} checks nothing"
                exprs += " " + t["expr"]
            for t in tg.get("alert_rule_test", []):
                if t.get("exp_alerts"):
                    firing.add(t["alertname"])
                    burns |= {(t["alertname"], a["exp_labels"].get("burn_rate")) for a in t["exp_alerts"]}
                else:
                    quiet.add(t["alertname"])
    untested = sorted(r for r in _records() if not re.search(re.escape(r) + r"\b", exprs))
    assert not untested, f"recording rules without a value test: {untested}"
    names = {a["alert"] for a in _alerts()}
    assert names <= firing, f"never seen firing: {sorted(names - firing)}"
    assert names <= quiet, f"never seen quiet: {sorted(names - quiet)}"
    for name in ("EgovServiceErrorBudgetBurn", "EgovFaultHandlingErrorBudgetBurn"):
        assert {(name, b) for b, *_ in BURN_TABLE} <= burns, name


def test_unit_tests_order_the_rule_groups() -> None:
    """promtool evaluates groups in a random order unless told; recording groups must come first so an
    alert reads this evaluation's ratios."""
    groups = [(g["name"], any("record" in r for r in g["rules"])) for f in RULE_FILES for g in _load(f)["groups"]]
    for f in TEST_FILES:
        t = _load(f)
        assert sorted(t["rule_files"]) == sorted(f"../rules/{p.name}" for p in RULE_FILES), f.name
        order = t["group_eval_order"]
        assert sorted(order) == sorted(n for n, _ in groups), f.name
        kinds = [dict(groups)[n] for n in order]
        assert kinds == sorted(kinds, reverse=True), f"{f.name}: recording groups first"


def test_checks_end_in_30s_where_windows_matter() -> None:
    """Samples are one a minute; a check at hh:mm:30 keeps every window's edges off samples, so the
    values hold for Prometheus 2 (both edges in) and 3 (left edge out) alike."""
    for f in TEST_FILES:
        t = _load(f)
        step = _ts(t.get("evaluation_interval", "1m"))
        for tg in t["tests"]:
            assert _ts(tg["interval"]) == 60, f.name
            for case in tg.get("promql_expr_test", []) + tg.get("alert_rule_test", []):
                at = _ts(case["eval_time"])
                assert at % step == 0, f"{f.name}: {case['eval_time']} is not an evaluation time"
                if f.name != "noc-alerts.yml":
                    assert at % 60 == 30, f"{f.name}: {case['eval_time']}"


def test_bootstrap_installs_promtool() -> None:
    text = (ROOT / "bootstrap.sh").read_text()
    block = text[text.index("APT_PACKAGES=("):]
    block = block[:block.index("\n)")]
    packages = {w for line in block.splitlines()[1:] for w in line.split("#")[0].split()}
    assert {"prometheus", "prometheus-snmp-exporter", "frr-snmp"} <= packages

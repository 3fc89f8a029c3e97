"""The exporter on the real lab, scraped by a real Prometheus (issue 8, "How it is checked").

One lab, one exporter (``egov exporter --lab``, polling every 5 s, traps on the lab's relay), one
Debian Prometheus loaded with ``egov exporter prometheus-config`` and the rules in exporters/rules.
Faults are injected with ``egov lab fault`` and judged against the lab's own fault log.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT, egov
from egov.topology.validate import build_plan

from .labkit import lab_up  # noqa: F401

pytestmark = pytest.mark.slow
INTERVAL = 5.0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 20) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


class Exporter:
    """``egov exporter --lab`` as a child process with its own state directory."""

    def __init__(self, state_dir: Path, log: Path):
        self.state_dir = state_dir
        self.port = _free_port()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EGOV_")}
        return {**env, "EGOV_HOME": str(ROOT), "EGOV_STATE_DIR": str(self.state_dir)}

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "egov.cli.main", "exporter", "--profile", "lab", "--lab", "--listen",
             f"127.0.0.1:{self.port}", "--interval", str(INTERVAL), "--timeout", "1"],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT, env=self.env, cwd=ROOT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if 'egov_router_up{' in _get(f"http://127.0.0.1:{self.port}/metrics", 5):
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise AssertionError(f"exporter exited: {self.log.read_text()[-3000:]}")
            time.sleep(0.5)
        raise AssertionError(f"exporter never served routers: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def samples(self) -> list[tuple[str, dict[str, str], float]]:
        text = _get(f"http://127.0.0.1:{self.port}/metrics")
        return [(s.name, s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples]

    def faults(self) -> list[dict]:
        r = subprocess.run([sys.executable, "-m", "egov.cli.main", "faults", "list", "--profile", "lab", "--lab",
                            "--json"], capture_output=True, text=True, env=self.env, cwd=ROOT, timeout=120)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)


@pytest.fixture(scope="module")
def exporter(lab_up, tmp_path_factory) -> Iterator[Exporter]:  # noqa: F811 - the lab fixture
    d = tmp_path_factory.mktemp("exporter")
    ex = Exporter(d / "state", d / "exporter.log")
    ex.start()
    yield ex
    ex.stop()


@pytest.fixture(scope="module")
def prometheus(exporter, tmp_path_factory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if not binary:
        pytest.skip("Debian prometheus is not installed; run ./bootstrap.sh (it installs prometheus)")
    d = tmp_path_factory.mktemp("prometheus")
    r = egov("exporter", "prometheus-config", "--profile", "lab", "--exporters", f"127.0.0.1:{exporter.port}",
             "--out", str(d), "--interval", "5s")
    assert r.returncode == 0, r.stderr
    port = _free_port()
    proc = subprocess.Popen([binary, f"--config.file={d / 'prometheus.yml'}", f"--storage.tsdb.path={d / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=(d / "log").open("wb"), stderr=subprocess.STDOUT, cwd=d)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                _get(f"{url}/-/ready", 2)
                break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


def _fault_log(since: str) -> list[dict]:
    path = Path("/var/log/egov/lab-lab-faults.jsonl")
    return [e for e in map(json.loads, path.read_text().splitlines()) if e["ts"] >= since]


def _ts(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def _wait_for(pred, timeout: float, every: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(every)


def _fault(exporter: Exporter, kind: str, target: str, *, after: float, cleared: bool | None = None) -> dict | None:
    for f in exporter.faults():
        if (f["kind"] == kind and f["target"] == target and _ts(f["start"]) >= after - INTERVAL - 2
                and (cleared is None or (f["cleared"] is not None) == cleared)):
            return f
    return None


def test_every_lab_interface_with_its_planned_speed(exporter):
    plan = build_plan("lab")
    s = exporter.samples()
    speeds = {(lab["router"], lab["interface"]): v for n, lab, v in s if n == "egov_interface_speed_bps"}
    for node in plan.topology.nodes.values():
        for i in node.interfaces:
            assert speeds.get((node.hostname, i.name)) == i.bandwidth_bps, (node.hostname, i.name)
    up = {lab["router"]: v for n, lab, v in s if n == "egov_router_up"}
    assert up == {h: 1 for h in plan.topology.nodes}
    adj = [v for n, _, v in s if n == "egov_isis_adjacency_up"]
    assert len(adj) == 2 * len(plan.topology.links) and all(v == 1 for v in adj)
    assert [v for n, lab, v in s if n == "egov_service_up" and lab["service"] == "portal"] == [1]


def test_link_down_is_a_fault_within_2s_by_trap_and_clears_with_the_right_duration(exporter):
    a, b = "sn-bj-wb", "sn-bj-wb-t001"
    mark = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
    assert egov("lab", "fault", "link", a, b, "down").returncode == 0
    down = next(e for e in _fault_log(mark) if e.get("action") == "down")
    injected = _ts(down["ts"])
    f = _wait_for(lambda: _fault(exporter, "link", f"{a}~{b}", after=injected), 15)
    assert f, "no link fault"
    assert f["detected_by"] == "trap" and _ts(f["detected"]) - injected <= 2.0, f
    time.sleep(2 * INTERVAL)  # a poll confirms it: still one open fault
    assert _fault(exporter, "link", f"{a}~{b}", after=injected, cleared=False)
    assert egov("lab", "fault", "link", a, b, "up").returncode == 0
    up = next(e for e in _fault_log(mark) if e.get("action") == "up")
    done = _wait_for(lambda: _fault(exporter, "link", f"{a}~{b}", after=injected, cleared=True), 3 * INTERVAL)
    assert done, "the link fault did not clear"
    truth = _ts(up["ts"]) - injected
    assert abs(done["duration_s"] - truth) <= INTERVAL, (done, truth)
    assert done["within_target"] is True and done["planned"] is False


def test_node_fault_opens_a_router_fault_and_clears(exporter):
    node = "sn-xa-ca-t001"
    mark = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
    assert egov("lab", "fault", "node", node, "down").returncode == 0
    injected = _ts(_fault_log(mark)[-1]["ts"])
    f = _wait_for(lambda: _fault(exporter, "router", node, after=injected), 4 * INTERVAL)
    assert f, "no router fault"
    assert _ts(f["detected"]) - injected <= 3 * INTERVAL
    down = {lab["router"]: v for n, lab, v in exporter.samples() if n == "egov_router_up"}
    assert down.get(node) == 0
    assert not [x for x in exporter.faults() if x["kind"] == "link" and node in x["target"]
                and _ts(x["start"]) >= injected - 1]  # its links belong to the router fault
    assert egov("lab", "fault", "node", node, "up").returncode == 0
    up = _ts(_fault_log(mark)[-1]["ts"])
    done = _wait_for(lambda: _fault(exporter, "router", node, after=injected, cleared=True), 6 * INTERVAL)
    assert done, "the router fault did not clear"
    # it counts as down until it routes again (its IS-IS adjacencies back), not only until its agent
    # answers: a few seconds after the daemons are up, plus up to one poll
    assert -INTERVAL <= done["duration_s"] - (up - injected) <= 3 * INTERVAL, done


def test_service_fault(exporter):
    mark = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
    assert egov("lab", "fault", "service", "portal", "down").returncode == 0
    injected = _ts(_fault_log(mark)[-1]["ts"])
    f = _wait_for(lambda: _fault(exporter, "service", "portal", after=injected), 3 * INTERVAL)
    assert f and _ts(f["detected"]) - injected <= 2 * INTERVAL, f
    assert egov("lab", "fault", "service", "portal", "up").returncode == 0
    up = _ts(_fault_log(mark)[-1]["ts"])
    done = _wait_for(lambda: _fault(exporter, "service", "portal", after=injected, cleared=True), 3 * INTERVAL)
    assert done and abs(done["duration_s"] - (up - injected)) <= 2 * INTERVAL, done


def test_prometheus_scrapes_and_evaluates_the_rules(exporter, prometheus):
    def query(q: str) -> list[dict]:
        doc = json.loads(_get(f"{prometheus}/api/v1/query?query={urllib.parse.quote(q)}"))
        assert doc["status"] == "success", doc
        return doc["data"]["result"]

    got = _wait_for(lambda: query("egov:router_errors:ratio_rate5m"), 60, every=2)
    assert {r["metric"]["router"] for r in got} == set(build_plan("lab").topology.nodes)
    assert _wait_for(lambda: query("egov:service_errors:ratio_rate5m{service=\"portal\"}"), 60, every=2)
    up = query('up{job=~"egov.*"}')
    assert up and all(r["value"][1] == "1" for r in up)


def test_exporter_killed_during_a_fault_counts_it_once_with_the_right_duration(exporter):
    a, b = "sn-xa-yt", "sn-xa-yt-t001"
    mark = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
    assert egov("lab", "fault", "link", a, b, "down").returncode == 0
    injected = _ts(_fault_log(mark)[-1]["ts"])
    assert _wait_for(lambda: _fault(exporter, "link", f"{a}~{b}", after=injected), 3 * INTERVAL)
    exporter.kill()  # SIGKILL: nothing gets to clean up
    assert egov("lab", "fault", "link", a, b, "up").returncode == 0
    cleared = _ts(_fault_log(mark)[-1]["ts"])
    time.sleep(INTERVAL)
    exporter.start()
    done = _wait_for(lambda: _fault(exporter, "link", f"{a}~{b}", after=injected, cleared=True), 4 * INTERVAL)
    assert done, "the fault was not closed after the restart"
    mine = [f for f in exporter.faults() if f["target"] == f"{a}~{b}" and _ts(f["start"]) >= injected - INTERVAL]
    assert len(mine) == 1
    assert abs(done["duration_s"] - (cleared - injected)) <= INTERVAL, (done, cleared - injected)


def test_silent_cut_is_seen_through_is_is(exporter):
    """Carrier stays up, so no trap and no interface down: the IS-IS adjacency (ISIS-MIB) tells."""
    a, b = "sn-bj-a", "sn-bj-jt"
    mark = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
    assert egov("lab", "fault", "link", a, b, "cut").returncode == 0
    injected = _ts(_fault_log(mark)[-1]["ts"])
    try:
        f = _wait_for(lambda: _fault(exporter, "link", f"{a}~{b}", after=injected), 3 * INTERVAL)
        assert f and f["detected_by"] == "poll", f
    finally:
        assert egov("lab", "fault", "link", a, b, "heal").returncode == 0
    assert _wait_for(lambda: _fault(exporter, "link", f"{a}~{b}", after=injected, cleared=True), 4 * INTERVAL)

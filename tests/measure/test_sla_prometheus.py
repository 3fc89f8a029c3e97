"""``egov sla report --prometheus``: the figures from a real Prometheus (Debian's) holding a day of
synthetic metrics, backfilled with ``promtool tsdb create-blocks-from openmetrics``."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time

import httpx
import pytest

from conftest import egov
from egov.measure.faults import Network
from egov.topology.validate import build_plan

START = 1710028800  # 2024-03-10T00:00:00Z
STEP = 60
N = 1440  # one day of samples, at START + 30 + 60 k: none on the period's edges
PERIOD = "2024-03-10T00:00:00Z/2024-03-11T00:00:00Z"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def labels(**kw: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in kw.items()) + "}"


def openmetrics(net: Network) -> str:
    """A day as the exporter would have served it (docs/metrics.md names and labels)."""
    out: list[str] = []

    def series(name: str, lab: str, value) -> None:
        for k in range(N):
            v = value(k)
            if v is not None:
                out.append(f"{name}{lab} {v} {START + 30 + STEP * k}")

    # the portal is down for 120 samples (2 h)
    series("egov_service_up", labels(service="portal", router="sn-a", city="sn"),
           lambda k: 0 if 600 <= k < 720 else 1)
    for r, (tier, city) in sorted(net.routers.items()):
        lab = labels(router=r, tier=tier, city=city)
        if r == "sn-xa-yt":
            series("egov_router_up", lab, lambda k: 0 if 100 <= k < 160 else 1)  # 1 h down
        elif r == "sn-dfgw":
            series("egov_router_up", lab, lambda k: None if k < 720 else 1)  # unknown half the day: not down
        elif r != "sn-bj-wb-t001":  # never answered: no figure
            series("egov_router_up", lab, lambda k: 1)
    for key, l in sorted(net.links.items()):
        for r, i in ((l.a, l.a_if), (l.b, l.b_if)):
            lab = labels(router=r, interface=i, peer=l.b if r == l.a else l.a, link=key)
            if key == "sn-a~sn-xa-a" and r == "sn-xa-a":
                series("egov_interface_up", lab, lambda k: 0 if 200 <= k < 230 else 1)  # 30 min, one end
            else:
                series("egov_interface_up", lab, lambda k: 1)
    # traffic on the county sn-xa-yt's uplinks (2G: 40 % and 70 % in, a quarter of it out) and the
    # department sn-dfgw's (2G: 90 % out, seen at the core's end only)
    traffic = {("sn-xa-yt", "eth1", "sn-xa-a~sn-xa-yt"): (0.4, 0.1), ("sn-xa-yt", "eth2", "sn-xa-b~sn-xa-yt"): (0.7, 0.1),
               ("sn-a", "eth6", "sn-a~sn-dfgw"): (0.05, 0.9)}
    for (r, i, link), (rx, tx) in traffic.items():
        lab = labels(router=r, interface=i, link=link)
        series("egov_interface_speed_bps", lab, lambda k: 2_000_000_000)
        for name, share in (("egov_interface_receive_bytes_total", rx), ("egov_interface_transmit_bytes_total", tx)):
            per_step = int(share * 2e9 * STEP / 8)
            series(name, lab, lambda k, per_step=per_step: 10**12 + per_step * k)
    # faults: 5 observed before, 9 by the end (4 in the period); 4 of the first 5 and 7 of all 9 within 3 h
    for le, before, after in (("10800.0", 4, 7), ("+Inf", 5, 9)):
        series("egov_fault_resolution_seconds_bucket", labels(kind="link", le=le),
               lambda k, b=before, a=after: b if k < 700 else (b + a) // 2 if k < 1000 else a)
    series("egov_fault_resolution_seconds_count", labels(kind="link"), lambda k: 5 if k < 700 else 7 if k < 1000 else 9)
    return "\n".join(out) + "\n# EOF\n"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    if not shutil.which("prometheus") or not shutil.which("promtool"):
        pytest.skip("Debian prometheus is not installed (apt-get install prometheus)")
    d = tmp_path_factory.mktemp("prom")
    net = Network.from_topology(build_plan("lab").topology)
    (d / "day.om").write_text(openmetrics(net))
    r = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(d / "day.om"), str(d / "data")],
                       check=False, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (d / "prometheus.yml").write_text("global: {scrape_interval: 60s}\nscrape_configs: []\n")
    port = free_port()
    with open(d / "log", "w") as log:
        proc = subprocess.Popen(["prometheus", f"--config.file={d / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={d / 'data'}", "--storage.tsdb.retention.time=100y",
                                 f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail(f"prometheus did not start: {(d / 'log').read_text()[-2000:]}")
    yield url
    proc.terminate()
    proc.wait(10)


def test_report_from_prometheus(prometheus, lab_yaml, tmp_path):
    html = tmp_path / "prom.html"
    r = egov("sla", "report", "--profile", str(lab_yaml), "--period", PERIOD, "--json", "--prometheus", prometheus,
             "--html", str(html))
    assert r.returncode == 0, r.stderr
    page = html.read_text()
    assert "Prometheus queries" in page and "quantile_over_time(0.95" in page and "Per-fault durations" in page
    doc = json.loads(r.stdout)
    assert doc["source"] == f"prometheus {prometheus}" and doc["period"]["seconds"] == 86400
    av = doc["availability"]
    assert av["services"]["portal"]["availability"] == pytest.approx(1 - 120 / 1440)
    assert av["cloud"]["availability"] == pytest.approx(1 - 120 / 1440, abs=1e-3)  # 1-minute subquery
    assert av["routers"]["sn-xa-yt"]["availability"] == pytest.approx(1 - 60 / 1440)
    assert av["routers"]["sn-dfgw"]["availability"] == 1.0  # unknown is not down
    assert av["routers"]["sn-bj-wb-t001"]["availability"] is None
    assert av["links"]["sn-a~sn-xa-a"]["availability"] == pytest.approx(1 - 30 / 1440)  # the lower end
    assert av["tiers"]["county"]["availability"] == pytest.approx((3 + 1 - 60 / 1440) / 4)
    assert av["tiers"]["township"]["routers"] == 3  # one never answered
    assert av["network"]["routers"] == 14
    assert doc["fault_handling_rate"] == pytest.approx(3 / 4)
    assert (doc["fault_handling"]["met"], doc["fault_handling"]["missed"]) == (3, 1)
    bw = doc["bandwidth"]["by_site"]
    assert bw["sn-xa-yt"]["status"] == "pass" and bw["sn-xa-yt"]["worst_p95"] == pytest.approx(0.7)
    assert bw["sn-dfgw"]["status"] == "fail" and bw["sn-dfgw"]["worst_p95"] == pytest.approx(0.9)
    assert {u["router"] for u in bw["sn-dfgw"]["uplinks"] if u["p95"] is not None} == {"sn-a"}
    assert bw["sn-xa-ca"]["status"] == "no_data"
    assert doc["bandwidth_support_rate"] == pytest.approx(1 / 13)
    assert doc["targets"]["year"] == 2024 and doc["pass"] is False
    assert set(doc["queries"]) >= {"services", "cloud", "routers", "links", "fault_handling_met",
                                   "fault_handling_all", "bandwidth_p95_bps", "bandwidth_speed_bps"}


def test_prometheus_errors_are_one_line(lab_yaml):
    r = egov("sla", "report", "--profile", str(lab_yaml), "--period", PERIOD, "--prometheus",
             f"http://127.0.0.1:{free_port()}")
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1
    assert "--prometheus: cannot query (ConnectError" in r.stderr and "; fix: check the URL" in r.stderr

"""The exporter over HTTP: /metrics and /probe, with a real agent, a silent one and real probes."""

from __future__ import annotations

import asyncio
import http.server
import threading
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from egov.measure.exporter import Exporter, ExporterConfig, serve
from egov.measure.faults import FaultEngine, Network
from egov.measure.model import PlannedInterface, Target
from egov.measure.probes import ServiceTarget
from egov.measure.store import FaultStore
from egov.topology.validate import build_plan

from .conftest import free_port, good_auth


def _samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, s.labels, s.value) for fam in text_string_to_metric_families(text) for s in fam.samples]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture
def web_service():
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()


def test_metrics_and_probe_endpoints(tmp_path, snmpd_agent, silent_peer, web_service):
    net = Network.from_topology(build_plan("lab").topology)
    a = snmpd_agent
    good = Target("sn-xa-yt", "127.0.0.1", a.port, "county", "xa",
                  (PlannedInterface("lo", "sn-xa-a", "sn-xa-a~sn-xa-yt"),), good_auth(), a.engine_id)
    silent = Target("sn-bj-wb", "127.0.0.1", silent_peer.port, "county", "bj", (), good_auth(), a.engine_id)
    services = [ServiceTarget("portal", "sn-a", "sn", f"http://127.0.0.1:{web_service}/healthz"),
                ServiceTarget("archive", "sn-b", "sn", f"http://127.0.0.1:{free_port(1)}/")]
    store = FaultStore(tmp_path / "faults.sqlite")
    engine = FaultEngine(store, "lab", net)
    ex = Exporter(ExporterConfig("lab", timeout=0.4, retries=0, plan_targets={("platform_uptime", 2025): 0.99}),
                  [good, silent], services, net, store, engine)
    port = free_port(1)
    server, _ = serve(ex, "127.0.0.1", port)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    try:
        asyncio.run_coroutine_threadsafe(ex.cycle(), loop).result(30)
        ex.loop = loop
        status, text = _get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        s = _samples(text)

        def value(name, **labels):
            hits = [v for n, l, v in s if n == name and all(l.get(k) == w for k, w in labels.items())]
            assert len(hits) == 1, (name, labels, hits)
            return hits[0]

        assert value("egov_router_up", router="sn-xa-yt", tier="county", city="xa") == 1
        assert not [1 for n, l, _ in s if n == "egov_router_up" and l["router"] == "sn-bj-wb"]  # unknown: absent
        assert value("egov_router_unknown", router="sn-bj-wb") == 1
        assert value("egov_interface_up", router="sn-xa-yt", interface="lo", peer="sn-xa-a") == 1
        assert value("egov_interface_speed_bps", router="sn-xa-yt", interface="lo") > 0
        assert value("egov_interface_receive_bytes_total", router="sn-xa-yt", interface="lo") > 0
        assert value("egov_poll_errors_total", target="sn-bj-wb", reason="timeout") == 1
        assert value("egov_service_up", service="portal") == 1 and value("egov_service_up", service="archive") == 0
        assert value("egov_faults_open", kind="service") == 1
        assert value("egov_faults_total", kind="service", planned="false") == 1
        assert value("egov_fault_resolution_seconds_bucket", kind="link", le="10800.0") == 0
        assert value("egov_plan_target_ratio", indicator="platform_uptime", year="2025") == 0.99
        status, text = _get(f"http://127.0.0.1:{port}/probe?target=sn-xa-yt")
        assert status == 200
        names = {n for n, _, _ in _samples(text)}
        assert "egov_interface_up" in names and "egov_faults_total" not in names
        assert _get(f"http://127.0.0.1:{port}/probe?target=sn-nowhere")[0] == 400
    finally:
        server.shutdown()
        loop.call_soon_threadsafe(loop.stop)

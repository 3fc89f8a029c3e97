"""A small stack on the Shaanxi backbone (five regions, four departments, a dozen systems) that tests
copy and break, plus helpers that run the offline plan in-process (``from .stackkit import ...``)."""

from __future__ import annotations

import copy
import csv
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]

HEADER = ["system", "department", "dr_level", "vcpu", "ram_gb", "disk_gb", "depends_on", "current_room"]

#: dsj-0001 is a shared platform; levels 1-6 all appear; fgw-0003 depends across departments
SYSTEMS = [
    ["dsj-0001", "dsj", "6", "16", "64", "200", "", "dsj-r01"],
    ["dsj-0002", "dsj", "5", "8", "32", "100", "dsj-0001", "dsj-r01"],
    ["fgw-0001", "fgw", "1", "2", "4", "50", "", "fgw-r01"],
    ["fgw-0002", "fgw", "2", "4", "8", "100", "fgw-0001", "fgw-r01"],
    ["fgw-0003", "fgw", "3", "4", "16", "200", "fgw-0001;dsj-0002", "fgw-r02"],
    ["fgw-0004", "fgw", "4", "8", "32", "500", "fgw-0003", "fgw-r02"],
    ["fgw-0005", "fgw", "5", "8", "32", "500", "", "fgw-r02"],
    ["fgw-0006", "fgw", "6", "6", "20", "300", "fgw-0005", "fgw-r03"],
    ["jyt-0001", "jyt", "3", "4", "8", "100", "dsj-0001", "jyt-r01"],
    ["jyt-0002", "jyt", "5", "2", "8", "100", "jyt-0001", "jyt-r01"],
    ["jyt-0003", "jyt", "2", "1", "2", "50", "", "jyt-r02"],
    ["xa-0001", "dsj-xa", "4", "4", "16", "200", "", "xa-r01"],
]


def region(name: str, kind: str, site: str, attach: list[str], vlan: int, n: int, cap: int = 400) -> dict[str, Any]:
    return {"name": name, "kind": kind, "site": site, "auth_url": f"https://keystone.{name}.example.cn:5000/v3",
            "attach": attach, "uplink": {"vlan": vlan, "ipv4": f"10.63.255.{16 * n}/28", "ipv6": f"fd62:0:ff:{n}::/64"},
            "capacity": {"vcpu": cap, "ram_gb": cap * 4, "disk_gb": cap * 100},
            "pools": {"ipv4": [f"10.62.{16 * n}.0/20"], "ipv6": [f"fd62:0:{n}::/48"]}}


MINI: dict[str, Any] = {"config": {
    "pulumi:disable-default-providers": ["openstack"],
    "egov:backbone": "shaanxi",
    "egov:image": "kylin-v10",
    "egov:pools": {"ipv4": ["10.62.0.0/15"], "ipv6": ["fd62::/32"]},
    "egov:extranet": ["10.0.0.0/8", "fd00::/8"],
    "egov:ops_networks": ["10.60.0.0/24", "fd61:0:fffe::/64"],
    "egov:services": {
        "dns": {"ipv4": ["10.60.0.53/32"], "ipv6": ["fd61:0:fffe::53/128"]},
        "monitoring": {"ipv4": ["10.60.0.64/28"], "ipv6": ["fd61:0:fffe::60/124"], "ports": ["9100"]},
    },
    "egov:sites": {
        "xc": {"city": "xa"}, "ic": {"city": "xa"}, "yl": {"city": "yl"}, "edu": {"city": "xa"},
        "xa": {"city": "xa"},
    },
    "egov:dr": {"production": "sn-prov", "same_city": "sn-prov-ic", "remote": "sn-yl"},
    "egov:migration": {"max_systems_per_wave": 4, "wave_share": 0.5, "quota_headroom": 0.2},
    "egov:regions": [
        region("sn-prov", "provincial", "xc", ["sn-a", "sn-b"], 3001, 1),
        region("sn-prov-ic", "provincial", "ic", ["sn-a", "sn-b"], 3002, 2),
        region("sn-yl", "municipal", "yl", ["sn-yl-a", "sn-yl-b"], 3003, 3),
        region("sn-edu", "industry", "edu", ["sn-a", "sn-b"], 3004, 4),
        region("sn-xa", "municipal", "xa", ["sn-xa-a", "sn-xa-b"], 3005, 5),
    ],
    "egov:departments": [
        {"id": "dsj", "name": "政务大数据服务中心", "region": "sn-prov"},
        {"id": "fgw", "name": "发展和改革委员会", "region": "sn-prov", "ipv6_mode": "dhcpv6-stateful"},
        {"id": "jyt", "name": "教育厅", "region": "sn-edu"},
        {"id": "dsj-xa", "region": "sn-xa", "reserve": {"vcpu": 20, "ram_gb": 80, "disk_gb": 2000}},
    ],
}}


def write_catalogue(path: Path, rows: list[list[str]], header: list[str] | None = None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header or HEADER)
        w.writerows(rows)
    return path


class MiniStack:
    """A writable copy of MINI in a temp dir: change ``config``, then ``write()``."""

    def __init__(self, tmp: Path):
        self.dir = tmp
        self.doc = copy.deepcopy(MINI)
        self.path = tmp / "Pulumi.mini.yaml"
        self.catalogue = write_catalogue(tmp / "mini.csv", SYSTEMS)

    @property
    def config(self) -> dict[str, Any]:
        return self.doc["config"]

    def dept(self, ident: str) -> dict[str, Any]:
        return next(d for d in self.config["egov:departments"] if d["id"] == ident)

    def region(self, name: str) -> dict[str, Any]:
        return next(r for r in self.config["egov:regions"] if r["name"] == name)

    def write(self) -> Path:
        self.path.write_text(yaml.safe_dump(self.doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
        return self.path


@lru_cache(maxsize=4)
def backbone(name: str = "shaanxi"):
    from egov.topology.validate import build_plan

    return build_plan(name)


def offline(stack: MiniStack, catalogue: Path | None = None):
    """Model, records and violations of a stack, in this process (backbone plan cached)."""
    from egov.cloud import policy
    from egov.cloud.mockrun import run_offline
    from egov.cloud.plan import load_model
    from egov.cloud.program import deploy

    stack.write()
    model, _ = load_model(str(stack.path), catalogue or stack.catalogue)
    records = run_offline(lambda: deploy(model), stack=model.stack.name)
    return model, records, policy.run(records, model, backbone(model.layout.backbone))

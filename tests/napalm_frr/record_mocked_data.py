#!/usr/bin/env python3
"""Record the outputs the NOC getters read, from one router of a running lab, into mocked_data/.

    flock /tmp/egov-lab.lock .venv/bin/python tests/napalm_frr/record_mocked_data.py [ROUTER]

Each getter runs against the router through a driver that also writes what every command printed;
the getter's answer becomes ``expected_result.json``. The chrony and snmpd configs read are the
router's rendered ones with placeholder secrets (uploaded to the driver's work folder), so no lab key
is ever recorded. Review the diff before committing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from replay import MOCKED, command_file  # noqa: E402

from egov.lab.state import LabState  # noqa: E402
from egov.render.engine import Renderer  # noqa: E402
from egov.render.secrets import placeholders  # noqa: E402
from egov.topology.validate import build_plan  # noqa: E402
from napalm_frr import FRRDriver  # noqa: E402

#: getter -> kwargs of the recorded case "normal"
CASES: dict[str, dict[str, Any]] = {
    "get_interfaces_counters": {}, "get_arp_table": {}, "get_ipv6_neighbors_table": {},
    "get_route_to": {"destination": "", "protocol": "isis"}, "get_interfaces": {}, "get_interfaces_ip": {},
    "get_isis_neighbors": {}, "get_bfd_peers": {}, "get_facts": {}, "get_lldp_neighbors": {},
    "get_ntp_servers": {}, "get_snmp_information": {}, "get_users": {},
}
#: optional_args a getter's case needs (paths on the router; {w} is the driver's work folder)
OPTIONS: dict[str, dict[str, str]] = {
    "get_ntp_servers": {"ntp_config": "{w}/chrony.conf"},
    "get_snmp_information": {"snmp_config": "{w}/snmpd.conf"},
    "get_users": {"authorized_keys": "/run/egov/lab/lab/ssh/authorized_keys"},
    "get_lldp_neighbors": {"lldp_socket": "/run/egov/lab/lab/r/{host}/lldpd.socket"},
}


class Recording(FRRDriver):
    folder: Path

    def _exec(self, command: str, timeout: float | None = None) -> tuple[int, str, str]:
        rc, out, err = super()._exec(command, timeout)
        if rc == 0 and getattr(self, "folder", None):
            (self.folder / command_file(command)).write_text(out)
        return rc, out, err


def main() -> None:
    router = sys.argv[1] if len(sys.argv) > 1 else "sn-xa-a"
    st = LabState.load()
    if st is None:
        sys.exit("no lab is up; fix: egov lab up --profile lab")
    plan = build_plan("lab")
    rendered = Renderer(plan, placeholders()).render_node(plan.topology.nodes[router])
    rs = st.routers[router]
    args = {"port": rs.ssh_port, "key_file": str(st.ssh_key)}
    dev = Recording("127.0.0.1", "netops-sh", "", optional_args=args)
    dev.open()
    for name in ("chrony.conf", "snmpd.conf"):
        dev._put(f"{dev.workdir}/{name}", rendered[f"{router}.d/{name}"])
    try:
        for getter, kwargs in CASES.items():
            opts = {k: v.format(w=dev.workdir, host=router) for k, v in OPTIONS.get(getter, {}).items()}
            for k, v in opts.items():  # the driver attributes of these optional_args have their names
                setattr(dev, k, v)
            dev.folder = MOCKED / getter / "normal"
            dev.folder.mkdir(parents=True, exist_ok=True)
            for old in dev.folder.glob("*.txt"):
                old.unlink()
            try:
                res = getattr(dev, getter)(**kwargs)
            except NotImplementedError as e:
                print(f"{getter}: not recorded: {e}")
                continue
            (dev.folder / "kwargs.json").write_text(json.dumps(kwargs) + "\n")
            if opts:
                (dev.folder / "optional_args.json").write_text(json.dumps(opts, indent=1, sort_keys=True) + "\n")
            (dev.folder / "expected_result.json").write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
            print(f"{getter}: {len(res)} entries")
    finally:
        dev.folder = Path()
        dev._exec(f"rm -f {dev.workdir}/chrony.conf {dev.workdir}/snmpd.conf")
        dev.close()


if __name__ == "__main__":
    main()

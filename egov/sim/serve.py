"""The simulator process: ``python -m egov.sim.serve --profile P [--limit G] [--bare]`` (started by
``egov sim up``). Writes its ports and login to the state file (mode 0600) once it is serving."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

from egov.atomic import write_atomic
from egov.sim.province import build
from egov.sim.server import SimServer, sim_dir, state_file


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", required=True)
    ap.add_argument("--limit", default="")
    ap.add_argument("--bare", action="store_true")
    ap.add_argument("--base-port", type=int, default=0)
    args = ap.parse_args(argv)
    from egov.topology.validate import build_plan

    t0 = time.time()
    plan = build_plan(args.profile)
    limit = [g for g in args.limit.split(",") if g] or None
    prov = build(plan, limit, args.bare)
    server = SimServer(prov, password=os.environ.get("EGOV_SIM_PASSWORD") or None)
    server.listen(args.base_port)
    server.start()
    d = sim_dir()
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)
    control = d / "control.sock"
    state = {"pid": os.getpid(), "profile": args.profile, "profile_name": plan.loaded.profile.name, "bare": args.bare, "host": server.host,
             "user": server.user, "password": server.password, "control": str(control),
             "ports": server.ports, "platforms": {h: dv.platform for h, dv in prov.devices.items()},
             "skipped": prov.skipped, "started": time.time(), "build_seconds": round(time.time() - t0, 2)}
    write_atomic(state_file(), json.dumps(state, indent=1) + "\n", mode=0o600)
    signal.signal(signal.SIGTERM, lambda *_: server.control({"op": "down"}))
    try:
        server.serve_control(control)
    finally:
        try:
            st = json.loads(state_file().read_text())
            if st.get("pid") == os.getpid():
                state_file().unlink()
        except (OSError, ValueError):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The running simulator as change targets: its SSH ports, its login and render secrets (``--sim``).

Lives with the simulator so that ``egov.change`` never imports it: the CLI resolves these and hands
them to ``egov.change.runner.Change``, as it does for the lab (egov.lab.access).
"""

from __future__ import annotations

import hashlib

from egov.endpoints import Endpoint
from egov.errors import EgovError
from egov.render.secrets import Secrets
from egov.topology.validate import Plan


def _derived(password: str, what: str) -> str:
    """A per-simulator secret: stable while it runs (so a second plan is empty), never in the repo."""
    return hashlib.sha256(f"egov-sim:{what}:{password}".encode()).hexdigest()[:24]


def sim_endpoints(plan: Plan) -> tuple[dict[str, Endpoint], Secrets]:
    """The served routers' SSH ports and the render secrets; one line when no simulator of this
    profile is up. Routers it does not serve have no endpoint (the CLI reports them as skipped)."""
    from egov.sim.server import read_state

    st = read_state()
    name = plan.loaded.profile.name
    if st is None or st.get("profile_name", st.get("profile")) != name:
        running = f" (the simulator serves {st['profile']!r})" if st else ""
        raise EgovError.one("egov change", "--sim", f"no simulator of profile {name!r} is up{running}",
                            f"run `egov sim up --profile {name} --bare` first")
    pw = str(st["password"])
    eps = {h: Endpoint(str(st["host"]), int(port), str(st["user"]), None, pw) for h, port in st["ports"].items()
           if h in plan.topology.nodes}
    return eps, Secrets(snmp_auth_key=_derived(pw, "snmp-auth"), snmp_priv_key=_derived(pw, "snmp-priv"),
                        admin_password="Sim-" + _derived(pw, "admin")[:16])

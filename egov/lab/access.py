"""The running lab as change targets: its SSH forwarders and its secrets (``--lab``).

Lives with the lab so that ``egov.change`` never imports the lab: the CLI resolves these and hands
them to ``egov.change.runner.Change``.
"""

from __future__ import annotations

from egov.endpoints import Endpoint
from egov.errors import EgovError
from egov.render.secrets import Secrets
from egov.topology.validate import Plan


def lab_endpoints(plan: Plan) -> tuple[dict[str, Endpoint], Secrets]:
    """The lab's SSH forwarders and secrets; one line when no lab of this profile is up."""
    from egov.lab.state import LabState

    st = LabState.load()
    name = plan.loaded.profile.name
    if st is None or st.profile != name:
        raise EgovError.one("egov change", "--lab", f"no lab of profile {name!r} is up",
                            f"run `egov lab up --profile {name}` first")
    user = f"{plan.loaded.profile.services.admin_user}-sh"
    eps = {h: Endpoint("127.0.0.1", rs.ssh_port, user, str(st.ssh_key)) for h, rs in st.routers.items()}
    s = st.secrets()
    return eps, Secrets(snmp_auth_key=s["snmp_auth_key"], snmp_priv_key=s["snmp_priv_key"],
                        admin_password="lab-" + s["snmp_auth_key"][:12])

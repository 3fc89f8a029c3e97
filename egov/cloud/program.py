"""The Pulumi program: model -> component resources. The same function runs offline and for real.

``deploy(model)`` creates, in order: every region (``CloudRegion``), the central backup centre
(``DR``), every tenancy (home and standby, ``Tenancy``), the migration waves with each system and its
DR copies (``MigrationWave``) and the departments' DR manifests. ``main()`` is what
``stacks/__main__.py`` runs under ``pulumi up``: it builds the model from the stack file, the
catalogue and the lock file, exactly as ``egov cloud plan`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from egov.cloud.dr import DR
from egov.cloud.model import CloudModel
from egov.cloud.region import CloudRegion
from egov.cloud.tenancy import VAULT_SYNC_KEY_PLACEHOLDER, Tenancy
from egov.cloud.wave import MigrationWave


@dataclass(slots=True)
class Deployed:
    regions: dict[str, CloudRegion]
    tenancies: dict[str, Tenancy]
    dr: DR
    waves: list[MigrationWave]


def deploy(model: CloudModel, *, sync_key: pulumi.Input[str] = VAULT_SYNC_KEY_PLACEHOLDER,
           through_wave: int | None = None, departments: set[str] | None = None) -> Deployed:
    """Create every resource of the model (systems up to ``through_wave`` if given).

    ``departments`` limits tenancies, systems and manifests to those departments (the regions and
    the central backup centre are always created): the offline plan runs shards of departments in
    parallel processes and merges what they register (``egov.cloud.shard``)."""
    layout = model.layout
    mine = (lambda d: True) if departments is None else (lambda d: d in departments)
    regions = {r.name: CloudRegion(r, layout) for r in layout.regions}
    dr = DR(model, regions, sync_key=sync_key)
    tenancies: dict[str, Tenancy] = {}
    for t in model.tenancies.values():
        if not mine(t.department.id):
            continue
        primary = t.role == "primary"
        tenancies[t.name] = Tenancy(t, regions[t.region], layout,
                                    vault_sync_to=dr.sync_to(t.department.id) if primary else None,
                                    vault_sync_key=sync_key if primary else None)
    waves = []
    for i, placements in enumerate(model.waves, start=1):
        if through_wave is not None and i > through_wave:
            break
        these = [p for p in placements if mine(p.system.department)]
        if these:
            waves.append(MigrationWave(i, these, model, regions, tenancies))
    for t in model.tenancies.values():
        ten = tenancies.get(t.name)
        if ten is not None and ten.vault is not None:
            dr.manifest(t, ten.vault, ten.provider)
    return Deployed(regions=regions, tenancies=tenancies, dr=dr, waves=waves)


def backbone_routes(model: CloudModel) -> dict[str, list[str]]:
    """Per backbone router: the tenancy prefixes it must route into the cloud (no NAT)."""
    out: dict[str, list[str]] = {}
    for t in model.tenancies.values():
        for router in model.region(t.region).attach:
            out.setdefault(router, []).extend([str(t.ipv4), str(t.ipv6)])
    return {k: sorted(v) for k, v in sorted(out.items())}


def main() -> None:
    """Entry point for ``pulumi up`` (stacks/__main__.py)."""
    from egov.cloud.config import load_stack
    from egov.cloud.model import build_model
    from egov.errors import EgovError

    cfg = pulumi.Config("egov")
    try:
        model = build_model(load_stack(pulumi.get_stack()))
    except EgovError as exc:
        for p in exc.problems:
            pulumi.log.error(str(p))
        raise pulumi.RunError(f"{len(exc.problems)} problem(s) in the stack; run `egov cloud plan` for details") from None
    if model.allocation.changed:
        raise pulumi.RunError(f"{model.stack.lock_path.name} is out of date; run `egov cloud plan --stack "
                              f"{model.stack.name}` and commit the lock file first")
    key = cfg.get_secret("vault_sync_key")
    if key is None:
        raise pulumi.RunError("egov:vault_sync_key is not set; run `pulumi config set --secret "
                              "egov:vault_sync_key <key>` (the Swift container-sync key of the vaults)")
    deploy(model, sync_key=key, through_wave=model.layout.through_wave)
    pulumi.export("backbone_routes", backbone_routes(model))
    pulumi.export("waves", len(model.waves))
    pulumi.export("tenancies", {t.name: {"region": t.region, "role": t.role, "ipv4": str(t.ipv4),
                                         "ipv6": str(t.ipv6)} for t in model.tenancies.values()})

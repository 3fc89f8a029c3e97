"""DR: "two sites, three centres" for the stack, and each system's copies per its GB/T 20988 level.

* Central backup centre: a project in the backup region with one container per department; each
  department's vault (in its home tenancy) is synced there by Swift container sync, so every
  backup is also offsite (all six levels keep backup media offsite).
* Standby copies: a level 3 system keeps a replicated volume in the nearest other centre, level 4 a
  stopped standby instance there, levels 5 and 6 running standby instances in both other centres
  (one of them in another city). They are created with the system's migration wave (``wave``).
* The DR manifest: ``dr/manifest.json`` in each department's vault lists, per system, the level,
  its RPO and RTO, the snapshot and backup schedule and retention, the replication mode and where
  the standby copies are. pulumi-openstack has no snapshot or backup resource; the operator's backup
  job reads this manifest and runs them (docs/cloud-dr.md), and DR drills check against it.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_openstack as openstack
from pulumi import ResourceOptions

from egov.cloud import gbt20988
from egov.cloud.model import CloudModel, Placement, TenancyPlan
from egov.cloud.region import CloudRegion

#: Swift container-sync realm the clusters share (container-sync-realms.conf on every proxy)
SYNC_REALM = "egov"


def centre_role(model: CloudModel, region: str) -> str:
    dr = model.layout.dr
    for role in ("production", "same_city", "remote"):
        if getattr(dr, role) == region:
            return role
    return "none"


class DR(pulumi.ComponentResource):
    """The stack's DR set-up: the central backup centre and the departments' DR manifests."""

    def __init__(self, model: CloudModel, regions: dict[str, CloudRegion], *,
                 sync_key: pulumi.Input[str], opts: ResourceOptions | None = None):
        super().__init__("egov:cloud:DR", "dr", None, opts)
        self.model = model
        self.sync_key = sync_key
        backup = regions[model.backup_region]
        b = model.backup_region
        admin = ResourceOptions(parent=self, provider=backup.provider)
        self.project = openstack.identity.Project(
            f"{b}-backup-project", name=f"{b}-backup", enabled=True,
            description="central backup centre: offsite copies of every department's vault",
            tags=["role=backup", f"region={b}"], opts=admin)
        role = openstack.identity.RoleAssignment(
            f"{b}-backup-automation", project_id=self.project.id, user_id=backup.automation_user_id,
            role_id=backup.admin_role_id, opts=admin)
        self.provider = openstack.Provider(
            f"{b}-backup-provider", auth_url=backup.region.auth_url, cloud=backup.cloud,
            region=backup.region.openstack_region, tenant_id=self.project.id,
            opts=ResourceOptions(parent=self, depends_on=[role]))
        own = ResourceOptions(parent=self, provider=self.provider)
        self.targets: dict[str, pulumi.Output[str]] = {}
        for d in model.layout.departments:
            name = f"{b}-backup-{d.id}"
            openstack.objectstorage.Container(
                name, name=name, versioning=True, container_sync_key=sync_key,
                metadata={"egov-purpose": "offsite-backup", "egov-department": d.id}, opts=own)
            self.targets[d.id] = pulumi.Output.concat(
                f"//{SYNC_REALM}/{b}/AUTH_", self.project.id, f"/{name}")
        self.register_outputs({"backup_region": b})

    def sync_to(self, department: str) -> pulumi.Output[str]:
        return self.targets[department]

    def manifest(self, tenancy: TenancyPlan, vault: openstack.objectstorage.Container,
                 provider: openstack.Provider) -> None:
        """Write the department's DR manifest into its vault (one object per department)."""
        body = manifest(self.model, tenancy)
        openstack.objectstorage.ContainerObject(
            f"{tenancy.name}-dr-manifest", container_name=vault.name, name="dr/manifest.json",
            content_type="application/json", content=body,
            opts=ResourceOptions(parent=self, provider=provider))


def manifest(model: CloudModel, tenancy: TenancyPlan) -> str:
    """The manifest's JSON (deterministic: sorted keys, systems in catalogue order)."""
    by_id = {p.id: p for p in model.placements}
    systems = [system_entry(model, by_id[s]) for s in tenancy.systems]
    doc = {"department": tenancy.department.id, "tenancy": tenancy.name, "region": tenancy.region,
           "vault": f"{tenancy.name}-vault", "offsite": f"{model.backup_region}-backup-{tenancy.department.id}",
           "generated_by": "egov cloud (docs/cloud-dr.md)", "systems": systems}
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def system_entry(model: CloudModel, p: Placement) -> dict[str, object]:
    entry: dict[str, object] = {"system": p.id, "wave": p.wave, "room": p.system.room, "region": p.region,
                                "flavor": p.flavor.name, "data_gb": p.system.disk_gb}
    entry.update(gbt20988.manifest_entry(p.level.level))
    entry["standby"] = [standby_entry(model, p, r) for r in p.standby]
    return entry


def standby_entry(model: CloudModel, p: Placement, region: str) -> dict[str, object]:
    site = model.region(region).site
    return {"region": region, "centre": centre_role(model, region), "site": site,
            "city": model.layout.sites[site].city, "kind": p.level.standby,
            "power": p.level.standby_power if p.level.standby == "instance" else None}

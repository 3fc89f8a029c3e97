"""MigrationWave: the systems that move together, with their DR copies.

One component per wave (``wave-01``, ...); each system becomes an instance booted from a volume
with its data volume (typed by its DR level, so the storage backend replicates it) in its home
tenancy, and its standby copies in the DR centres' tenancies. Resource names do not contain the
wave (nor does the URN: Pulumi URNs carry the parent's type, not its name), so replanning a system
into another wave moves it between components without replacing anything.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_openstack as openstack
from pulumi import ResourceOptions

from egov.cloud.dr import centre_role
from egov.cloud.model import CloudModel, Placement, tenancy_name
from egov.cloud.region import CloudRegion
from egov.cloud.tenancy import Tenancy


def wave_name(n: int) -> str:
    return f"wave-{n:02d}"


class MigrationWave(pulumi.ComponentResource):
    def __init__(self, number: int, placements: list[Placement], model: CloudModel,
                 regions: Mapping[str, CloudRegion], tenancies: Mapping[str, Tenancy],
                 opts: ResourceOptions | None = None):
        super().__init__("egov:cloud:MigrationWave", wave_name(number), None, opts)
        self.number = number
        for p in placements:
            self._system(p, model, regions, tenancies)
        self.register_outputs({"systems": [p.id for p in placements]})

    def _system(self, p: Placement, model: CloudModel, regions: Mapping[str, CloudRegion],
                tenancies: Mapping[str, Tenancy]) -> None:
        boot = model.layout.boot_volume_gb
        home = tenancies[p.tenancy]
        meta = {"egov-system": p.id, "egov-department": p.system.department, "egov-wave": str(p.wave),
                "egov-dr-level": str(p.level.level), "egov-rpo": p.level.rpo, "egov-rto": p.level.rto,
                "egov-room": p.system.room,
                "egov-snapshot": (f"every {p.level.snapshot_hours}h keep {p.level.snapshot_keep}"
                                  if p.level.snapshot_hours else "none"),
                "egov-backup": f"{p.level.backup_cron} keep {p.level.backup_keep}"}
        _instance(f"{p.region}-{p.id}", p, regions[p.region], home, boot,
                  {**meta, "egov-role": "primary", "egov-region": p.region,
                   "egov-centre": centre_role(model, p.region)}, "active", self)
        for r in p.standby:
            dr_home = tenancies[tenancy_name(r, p.system.department)]
            stand_meta = {**meta, "egov-role": "standby", "egov-region": r, "egov-centre": centre_role(model, r),
                          "egov-primary-region": p.region}
            if p.level.standby == "instance":
                _instance(f"{r}-{p.id}", p, regions[r], dr_home, boot, stand_meta, p.level.standby_power, self)
            else:
                openstack.blockstorage.Volume(
                    f"{r}-{p.id}-data", name=f"{r}-{p.id}-data", size=p.system.disk_gb,
                    volume_type=p.level.volume_type, metadata=stand_meta,
                    description=f"DR copy of {p.id} (level {p.level.level})",
                    opts=ResourceOptions(parent=self, provider=dr_home.provider))


def _instance(name: str, p: Placement, region: CloudRegion, tenancy: Tenancy, boot_gb: int,
              metadata: dict[str, str], power: str, parent: pulumi.Resource) -> openstack.compute.Instance:
    return openstack.compute.Instance(
        name, name=name, flavor_name=p.flavor.name, power_state=power, metadata=metadata,
        tags=[f"wave-{p.wave}", f"dr-{p.level.level}", metadata["egov-role"]],
        block_devices=[
            openstack.compute.InstanceBlockDeviceArgs(
                source_type="image", uuid=region.image_id, destination_type="volume", volume_size=boot_gb,
                volume_type="standard", boot_index=0, delete_on_termination=True),
            openstack.compute.InstanceBlockDeviceArgs(
                source_type="blank", destination_type="volume", volume_size=p.system.disk_gb,
                volume_type=p.level.volume_type, boot_index=-1, delete_on_termination=False),
        ],
        networks=[openstack.compute.InstanceNetworkArgs(uuid=tenancy.network.id)],
        security_groups=[tenancy.secgroup.name],
        scheduler_hints=[openstack.compute.InstanceSchedulerHintArgs(group=tenancy.server_group.id)],
        opts=ResourceOptions(parent=parent, provider=tenancy.provider))

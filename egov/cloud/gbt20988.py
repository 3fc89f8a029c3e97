"""Disaster recovery levels of GB/T 20988-2007 (annex A) and what each one means on this cloud.

The standard grades DR capability 1 to 6 by its elements (data backup, standby data processing,
standby network, ...) and the commonly cited RTO/RPO per level (see docs/cloud-dr.md for the table
and its sources). pulumi-openstack has no snapshot or backup *resource* (only data sources and
quotas), so a level is expressed with what does exist:

* replication: the data volume's type (``replicated-async`` / ``replicated-sync``: the storage
  backend mirrors it to the DR centre), plus standby instances or volumes in the DR centres;
* snapshots and backups: the schedule written into instance metadata and into the department's
  DR manifest (``dr/manifest.json`` in its backup vault), plus quotas sized for the retention;
  the operator's backup job executes them (docs/cloud-dr.md says what it must do);
* offsite copies: the vault is a Swift container synced to the central backup centre.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Power = Literal["active", "shutoff"]


@dataclass(frozen=True, slots=True)
class DrLevel:
    level: int
    name: str
    #: as commonly cited from the standard's annex (docs/cloud-dr.md)
    rto: str
    rpo: str
    #: full backup: cron schedule (Asia/Shanghai) and how many are kept
    backup_cron: str
    backup_keep: int
    #: volume snapshots: every N hours (0: none) and how many are kept
    snapshot_hours: int
    snapshot_keep: int
    #: the data volume's type: storage replication of the data to the DR centres
    volume_type: str
    #: DR centres that hold a standby copy (0, 1: the nearest other centre, 2: both other centres)
    replicas: int
    #: what the standby copy is: a volume only (partial equipment) or a whole instance
    standby: Literal["none", "volume", "instance"]
    standby_power: Power = "shutoff"


LEVELS: dict[int, DrLevel] = {
    1: DrLevel(1, "basic support", rto="2 days or more", rpo="1 to 7 days",
               backup_cron="0 1 * * 0", backup_keep=4, snapshot_hours=0, snapshot_keep=0,
               volume_type="standard", replicas=0, standby="none"),
    2: DrLevel(2, "backup site support", rto="24 hours or more", rpo="1 to 7 days",
               backup_cron="0 1 * * *", backup_keep=7, snapshot_hours=0, snapshot_keep=0,
               volume_type="standard", replicas=0, standby="none"),
    3: DrLevel(3, "electronic transmission and partial equipment support", rto="12 hours or more",
               rpo="hours to 1 day", backup_cron="0 1 * * *", backup_keep=7, snapshot_hours=6,
               snapshot_keep=8, volume_type="replicated-async", replicas=1, standby="volume"),
    4: DrLevel(4, "electronic transmission and complete equipment support", rto="hours to 2 days",
               rpo="hours to 1 day", backup_cron="0 1 * * *", backup_keep=14, snapshot_hours=2,
               snapshot_keep=24, volume_type="replicated-async", replicas=1, standby="instance",
               standby_power="shutoff"),
    5: DrLevel(5, "real-time data transmission and complete equipment support", rto="minutes to 2 days",
               rpo="0 to 30 minutes", backup_cron="0 1 * * *", backup_keep=30, snapshot_hours=1,
               snapshot_keep=48, volume_type="replicated-async", replicas=2, standby="instance",
               standby_power="active"),
    6: DrLevel(6, "zero data loss and remote cluster support", rto="minutes", rpo="0",
               backup_cron="0 1 * * *", backup_keep=30, snapshot_hours=1, snapshot_keep=48,
               volume_type="replicated-sync", replicas=2, standby="instance", standby_power="active"),
}

#: region volume types and their Cinder extra specs (replication is a backend property, not a resource)
VOLUME_TYPES: dict[str, dict[str, str]] = {
    "standard": {"volume_backend_name": "egov-standard"},
    "replicated-async": {"volume_backend_name": "egov-replicated", "replication_enabled": "<is> True",
                         "replication_type": "<in> async"},
    "replicated-sync": {"volume_backend_name": "egov-replicated", "replication_enabled": "<is> True",
                        "replication_type": "<in> sync"},
}


def level(n: int) -> DrLevel:
    return LEVELS[n]


def manifest_entry(n: int) -> dict[str, object]:
    """The part of a system's DR manifest that follows from its level alone."""
    lv = LEVELS[n]
    return {
        "dr_level": lv.level, "dr_level_name": lv.name, "rto": lv.rto, "rpo": lv.rpo,
        "backup": {"cron": lv.backup_cron, "timezone": "Asia/Shanghai", "keep": lv.backup_keep,
                   "offsite": True},
        "snapshot": ({"every_hours": lv.snapshot_hours, "keep": lv.snapshot_keep} if lv.snapshot_hours else None),
        "replication": {"volume_type": lv.volume_type,
                        "mode": lv.volume_type.removeprefix("replicated-") if lv.replicas else "none"},
    }

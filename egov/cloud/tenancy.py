"""Tenancy: a department's space in one region (its home, or a DR centre that holds its copies).

A project with quotas for compute, network and block storage; a project-scoped provider (instances,
volumes and containers have no tenant input, so they land in the provider's project, and the
automation user gets the admin role on the project to use it); a dual-stack network (IPv4 and an
IPv6 /64 with SLAAC or DHCPv6 stateful) routed to the extranet without NAT; a security group that
denies inbound by default, with one resource per allowed rule (``rules``); a soft anti-affinity
server group; and, for the home tenancy, the backup vault: a versioned Swift container synced to the
central backup centre.
"""

from __future__ import annotations

import pulumi
import pulumi_openstack as openstack
from pulumi import ResourceOptions

from egov.cloud.config import Layout
from egov.cloud.model import TenancyPlan
from egov.cloud.region import CloudRegion
from egov.cloud.rules import baseline_rules

VAULT_SYNC_KEY_PLACEHOLDER = "EGOV-PLACEHOLDER-vault-sync-key"


class Tenancy(pulumi.ComponentResource):
    provider: openstack.Provider
    network: openstack.networking.Network
    secgroup: openstack.networking.SecGroup
    server_group: openstack.compute.ServerGroup
    vault: openstack.objectstorage.Container | None

    def __init__(self, plan: TenancyPlan, region: CloudRegion, layout: Layout, *,
                 vault_sync_to: pulumi.Input[str] | None = None,
                 vault_sync_key: pulumi.Input[str] | None = None,
                 opts: ResourceOptions | None = None):
        super().__init__("egov:cloud:Tenancy", plan.name, None,
                         ResourceOptions.merge(ResourceOptions(parent=region), opts))
        self.plan = plan
        assert plan.quota is not None and plan.ipv4 is not None and plan.ipv6 is not None
        admin = ResourceOptions(parent=self, provider=region.provider)
        self.project, self.provider = self._project(region, admin)
        pid = self.project.id
        self._quotas(region, pid, admin)
        self.network, self.router = self._network(region, layout, pid, admin)
        self.secgroup = self._secgroup(layout, pid, admin)
        own = ResourceOptions(parent=self, provider=self.provider)
        self.server_group = openstack.compute.ServerGroup(
            f"{plan.name}-spread", name=f"{plan.name}-spread", policies="soft-anti-affinity", opts=own)  # a str in 5.x
        self.vault = self._vault(vault_sync_to, vault_sync_key, own) if plan.role == "primary" else None
        self.register_outputs({"project_id": pid, "network_id": self.network.id,
                               "ipv4": str(plan.ipv4), "ipv6": str(plan.ipv6)})

    def _project(self, region: CloudRegion,
                 admin: ResourceOptions) -> tuple[openstack.identity.Project, openstack.Provider]:
        """The project, the automation user's admin role on it, and the provider scoped to it: instances,
        volumes and containers have no tenant input, so they land in the provider's project."""
        plan, k, r = self.plan, self.plan.name, region.region
        project = openstack.identity.Project(
            f"{k}-project", name=k, enabled=True,
            description=(plan.department.name or plan.department.id)[:255],
            tags=[f"region={r.name}", f"kind={r.kind}", f"department={plan.department.id}", f"role={plan.role}"],
            opts=admin)
        pid = project.id
        role = openstack.identity.RoleAssignment(
            f"{k}-automation", project_id=pid, user_id=region.automation_user_id, role_id=region.admin_role_id,
            opts=admin)
        provider = openstack.Provider(
            f"{k}-provider", auth_url=r.auth_url, cloud=region.cloud, region=r.openstack_region, tenant_id=pid,
            opts=ResourceOptions(parent=self, depends_on=[role]))
        return project, provider

    def _quotas(self, region: CloudRegion, pid: pulumi.Input[str], admin: ResourceOptions) -> None:
        """Compute, network and block storage quotas: the department's share of the region, sized by the plan."""
        k, r, q = self.plan.name, region.region, self.plan.quota
        assert q is not None
        openstack.compute.QuotaSetV2(
            f"{k}-quota-compute", project_id=pid, region=r.openstack_region, instances=q.instances, cores=q.cores,
            ram=q.ram_mb, key_pairs=10, server_groups=10, server_group_members=max(10, q.instances), opts=admin)
        openstack.networking.QuotaV2(
            f"{k}-quota-network", project_id=pid, region=r.openstack_region, network=2, subnet=4, router=1,
            port=q.ports, floatingip=0, security_group=10, security_group_rule=q.security_group_rules, opts=admin)
        openstack.blockstorage.QuoteSetV3(  # sic: pulumi-openstack spells it "Quote"
            f"{k}-quota-volume", project_id=pid, region=r.openstack_region, volumes=q.volumes,
            gigabytes=q.gigabytes, snapshots=q.snapshots, backups=q.backups, backup_gigabytes=q.backup_gigabytes,
            opts=admin)

    def _network(self, region: CloudRegion, layout: Layout, pid: pulumi.Input[str],
                 admin: ResourceOptions) -> tuple[openstack.networking.Network, openstack.networking.Router]:
        """The dual-stack network and its router to the extranet, without SNAT: the tenancy's prefixes are
        part of the one address plan, routed as they are."""
        plan, k = self.plan, self.plan.name
        network = openstack.networking.Network(
            f"{k}-net", name=f"{k}-net", tenant_id=pid, admin_state_up=True, opts=admin)
        dns4 = [str(n.network_address) for s in _dns(layout) for n in s if n.version == 4]
        dns6 = [str(n.network_address) for s in _dns(layout) for n in s if n.version == 6]
        subnets = [openstack.networking.Subnet(
            f"{k}-v4", name=f"{k}-v4", network_id=network.id, tenant_id=pid, cidr=str(plan.ipv4),
            ip_version=4, enable_dhcp=True, dns_nameservers=dns4 or None, opts=admin)]
        mode = plan.department.ipv6_mode
        if mode != "off":
            subnets.append(openstack.networking.Subnet(
                f"{k}-v6", name=f"{k}-v6", network_id=network.id, tenant_id=pid, cidr=str(plan.ipv6),
                ip_version=6, enable_dhcp=True, ipv6_address_mode=mode, ipv6_ra_mode=mode,
                dns_nameservers=dns6 or None, opts=admin))
        router = openstack.networking.Router(
            f"{k}-router", name=f"{k}-router", tenant_id=pid, admin_state_up=True,
            external_network_id=region.extranet_network_id, enable_snat=False, opts=admin)
        for sn in subnets:
            openstack.networking.RouterInterface(
                f"{sn._name}-rif", router_id=router.id, subnet_id=sn.id, opts=admin)
        return network, router

    def _secgroup(self, layout: Layout, pid: pulumi.Input[str],
                  admin: ResourceOptions) -> openstack.networking.SecGroup:
        """The baseline security group: inbound denied by default, one resource per allowed rule."""
        k = self.plan.name
        secgroup = openstack.networking.SecGroup(
            f"{k}-base", name=f"{k}-base", tenant_id=pid, delete_default_rules=True,
            description="egov baseline: inbound denied unless a rule allows it", opts=admin)
        for rule in baseline_rules(layout, self.plan.department):
            openstack.networking.SecGroupRule(
                f"{k}-sgr-{rule.suffix}", security_group_id=secgroup.id, tenant_id=pid,
                direction=rule.direction, ethertype=rule.ethertype, protocol=rule.protocol,
                port_range_min=rule.port_min, port_range_max=rule.port_max, remote_ip_prefix=rule.remote,
                description=rule.description, opts=admin)
        return secgroup

    def _vault(self, sync_to: pulumi.Input[str] | None, sync_key: pulumi.Input[str] | None,
               own: ResourceOptions) -> openstack.objectstorage.Container:
        """The home tenancy's backup vault: a versioned Swift container synced to the central backup centre."""
        k = self.plan.name
        return openstack.objectstorage.Container(
            f"{k}-vault", name=f"{k}-vault", versioning=True, container_sync_to=sync_to, container_sync_key=sync_key,
            metadata={"egov-purpose": "backup", "egov-department": self.plan.department.id}, opts=own)


def _dns(layout: Layout) -> list[list]:
    svc = layout.services.get("dns")
    return [list(svc.ipv4) + list(svc.ipv6)] if svc else []

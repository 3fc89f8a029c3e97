"""CloudRegion: one cloud of the "1+11+N" layout, as the platform team sets it up.

The region's admin provider (credentials from the clouds.yaml entry ``cloud``), the lookups every
tenancy needs (the automation user, the admin role, the base image) and, unless another stack runs
the region, its platform catalogue: flavors, the volume types that carry DR replication, and the
extranet network (a provider VLAN to the backbone router pair) that tenancy routers use as their
gateway.
"""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_openstack as openstack
from pulumi import InvokeOptions, ResourceOptions

from egov.cloud import gbt20988
from egov.cloud.config import Layout, Region


class CloudRegion(pulumi.ComponentResource):
    provider: openstack.Provider
    extranet_network_id: pulumi.Output[str]
    image_id: pulumi.Output[str]
    automation_user_id: pulumi.Output[str]
    admin_role_id: pulumi.Output[str]

    def __init__(self, region: Region, layout: Layout, opts: ResourceOptions | None = None):
        super().__init__("egov:cloud:CloudRegion", region.name, None, opts)
        self.region = region
        self.layout = layout
        n = region.name
        self.cloud = region.cloud or f"egov-{n}"
        self.provider = openstack.Provider(
            f"{n}-admin", auth_url=region.auth_url, cloud=self.cloud, region=region.openstack_region,
            opts=ResourceOptions(parent=self))
        invoke = InvokeOptions(provider=self.provider, parent=self)
        self.automation_user_id = openstack.identity.get_user_output(
            name=layout.automation_user, opts=invoke).id
        self.admin_role_id = openstack.identity.get_role_output(name="admin", opts=invoke).id
        self.image_id = openstack.images.get_image_output(name=layout.image, most_recent=True, opts=invoke).id
        child = ResourceOptions(parent=self, provider=self.provider)
        if region.external:
            # the other stack's region: use its extranet network, add nothing to its platform
            self.extranet_network_id = openstack.networking.get_network_output(
                name=region.extranet_network, external=True, opts=invoke).id
        else:
            self._platform(child)
        self.register_outputs({"extranet_network_id": self.extranet_network_id, "kind": region.kind,
                               "site": region.site, "capacity": region.capacity.model_dump(),
                               "attach": list(region.attach)})

    def _platform(self, child: ResourceOptions) -> None:
        region, n = self.region, self.region.name
        for f in self.layout.flavors:
            openstack.compute.Flavor(f"{n}-flavor-{f.name.replace('.', '-')}", name=f.name, vcpus=f.vcpu,
                                     ram=f.ram_gb * 1024, disk=0, is_public=True, opts=child)
        for vt, specs in gbt20988.VOLUME_TYPES.items():
            openstack.blockstorage.VolumeTypeV3(f"{n}-vt-{vt}", name=vt, is_public=True, extra_specs=specs,
                                                description=f"egov {vt} volumes", opts=child)
        up = region.uplink
        assert up is not None  # the schema requires it unless external
        net = openstack.networking.Network(
            f"{n}-extranet", name=region.extranet_network, external=True, shared=False,
            admin_state_up=True, description=f"extranet to {', '.join(region.attach)}",
            segments=[openstack.networking.NetworkSegmentArgs(
                network_type="vlan", physical_network=up.physical_network, segmentation_id=up.vlan)],
            opts=child)
        for fam, prefix in ((4, up.ipv4), (6, up.ipv6)):
            cidr = ipaddress.ip_network(str(prefix))
            openstack.networking.Subnet(
                f"{n}-extranet-v{fam}", name=f"{region.extranet_network}-v{fam}", network_id=net.id,
                cidr=str(cidr), ip_version=fam, enable_dhcp=False,
                # the backbone pair answers on the first address (VRRP)
                gateway_ip=str(next(cidr.hosts()) if fam == 4 else cidr.network_address + 1),
                opts=child)
        self.extranet_network_id = net.id

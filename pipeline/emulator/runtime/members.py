"""The seam between compute and network: a scale-set instance as a load balancer sees it.

Compute answers `pool_members(pool_id)` / `nat_members(nat_pool_id)` with these; network never looks inside
a scale set, and compute never looks inside a load balancer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Member:
    ip_configuration_id: str   # .../virtualMachineScaleSets/{vmss}/virtualMachines/{id}/networkInterfaces/{nic}/ipConfigurations/{ipc}
    address: str               # the instance's own loopback address (its "private IP")
    instance_key: str          # "{resource group}/{scale set}/{instance id}", lower-case: stable across restarts
    running: bool              # its process is up (a stopped or dead VM is still a member, just unhealthy)
    subnet_id: str = ""        # the ip configuration's subnet (its network security group is on the flow's path)
    nsg_id: str = ""           # the NIC configuration's networkSecurityGroup, if any (second on the path)

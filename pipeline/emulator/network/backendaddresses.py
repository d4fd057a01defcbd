"""A backend pool's `loadBalancerBackendAddresses` as Azure shows them, and the write Azure refuses.

Since network API 2020-05-01 Azure lists, in a pool whose members join through their NICs (scale-set
instances here), one address per member NIC ip configuration, named by a GUID, whose only property is the
read-only `networkInterfaceIPConfiguration` (recorded GETs: azure-rest-api-specs #10104 at 2020-05-01; an AKS
scale-set pool at 2025-05-01). A load balancer or pool PUT that carries such an address back for a NIC that
is a member anyway is refused: 400 InvalidRequestFormat "Cannot parse the request." with one
DuplicateIpConfigurationReferenceOnBackendAddressPool detail per address (terraform-provider-azurerm #7691,
#7741). IP-based addresses (ipAddress + virtualNetwork) are the client's own and are kept as sent.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from ..core.errors import ArmError, InvalidParameter
from ..core.ids import key
from .resources import NetworkResource

if TYPE_CHECKING:
    from ..runtime.members import Member
    from .models import NetworkBackend

ADDRESS_TYPE = "Microsoft.Network/loadBalancers/backendAddressPools/loadBalancerBackendAddresses"
# Azure names a NIC member's address by a GUID of its own; here a stable one derived from the ip configuration.
_NAMESPACE = uuid.UUID("6f1d0d6e-3b7a-4c47-9a59-2f3c0b0e5a11")
# How Azure spells the pool address that a NIC's own reference stands for, in its duplicate message.
_IMPLICIT = ("/subscriptions//resourceGroups//providers/Microsoft.Network/loadBalancers//backendAddressPools//"
             "loadBalancerBackendAddresses/")


def member_address_name(ip_configuration_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, key(ip_configuration_id)))


def member_addresses(lb: NetworkResource, pool: str, members: list["Member"]) -> list[dict]:
    """The rendered addresses of a pool's NIC members."""
    pool_id = lb.child_id("backendAddressPools", pool)
    return [{"name": (name := member_address_name(m.ip_configuration_id)),
             "id": f"{pool_id}/loadBalancerBackendAddresses/{name}", "etag": lb.etag, "type": ADDRESS_TYPE,
             "properties": {"provisioningState": lb.child_state,
                            "networkInterfaceIPConfiguration": {"id": m.ip_configuration_id}}}
            for m in members]


def _azure_spelling(ip_configuration_id: str) -> str:
    """A scale-set NIC's ip configuration as Azure's network provider names it in messages."""
    head, sep, tail = ip_configuration_id.partition("/providers/Microsoft.Compute/")
    if not sep or "/ipConfigurations/" not in tail:
        return ip_configuration_id
    nic, _, ipc = tail.rpartition("/ipConfigurations/")
    return f"{head}/providers/Microsoft.Network/networkInterfaces/|providers|Microsoft.Compute|" \
           f"{nic.replace('/', '|')}/ipConfigurations/{ipc}"


def check_no_nic_addresses(backend: "NetworkBackend", lb: NetworkResource, pool: dict, path: str) -> None:
    """Refuse a pool's addresses that name a NIC ip configuration: Azure computes those from the NICs.

    `path` is the pool's place in the request ("properties.backendAddressPools[0]", or "" for a pool PUT)."""
    addresses = pool["properties"].get("loadBalancerBackendAddresses") or []
    if not isinstance(addresses, list):
        return
    pool_id = lb.child_id("backendAddressPools", pool["name"])
    members = {key(m.ip_configuration_id) for m in backend.pool_members(pool_id)}
    duplicates, others = [], []
    for j, address in enumerate(addresses):
        props = address.get("properties") if isinstance(address, dict) else None
        ref = props.get("networkInterfaceIPConfiguration") if isinstance(props, dict) else None
        nic = ref.get("id") if isinstance(ref, dict) else None
        if not isinstance(nic, str) or not nic:
            continue
        if key(nic) in members:
            where = f"{pool_id}/loadBalancerBackendAddresses/{address.get('name') or ''}"
            duplicates.append({"code": "DuplicateIpConfigurationReferenceOnBackendAddressPool",
                               "message": f"Found duplicate ipConfiguration reference {_azure_spelling(nic)} on "
                                          f"backend pool addresses {_IMPLICIT} and {where}."})
        else:
            others.append(f"{path + '.' if path else ''}properties.loadBalancerBackendAddresses[{j}]")
    if duplicates:
        raise ArmError("Cannot parse the request.", code="InvalidRequestFormat", details=duplicates)
    if others:
        raise InvalidParameter(f"Backend address {others[0]} references a network interface IP configuration: "
                               f"networkInterfaceIPConfiguration is read-only; a NIC joins a backend pool through "
                               f"its own ipConfigurations[].loadBalancerBackendAddressPools.")

"""The Azure RBAC actions the pipeline needs, derived from the ARM operations it calls (pure; no SDK).

    actions_for("PUT", "LoadBalancers_CreateOrUpdate")
        -> frozenset({"Microsoft.Network/loadBalancers/write", "Microsoft.Network/publicIPAddresses/join/action"})
    used_actions(counters)      # the local cloud's GET /_emulator/counters "value" -> the actions a run performed
    role_actions()              # every action of deploy/azure-role.json: used ARM actions + STORAGE_ACTIONS

Every ARM route of the local cloud (`pipeline/emulator/*/urls.py`, named by Azure's operationId) has an entry in
ARM_ACTIONS, so a request the emulator counted always maps to the actions Azure would check for it.

Linked access checks: Azure also checks the caller on resources a request body *references*. The entries
include them for the bodies this pipeline sends:

- a scale set PUT (pipeline/fleet.py) names a subnet, a backend pool, an inbound NAT pool and a gallery image
  version: `.../subnets/join/action`, `.../backendAddressPools/join/action`, `.../inboundNatPools/join/action`,
  `Microsoft.Compute/galleries/images/versions/read`;
- a load balancer PUT (pipeline/infra.py, every traffic swap) names its frontend public IP:
  `Microsoft.Network/publicIPAddresses/join/action`;
- a gallery image version PUT names its source; on Azure that is the managed image Packer made (the re-tag after
  a bake): `Microsoft.Compute/images/read`. (The local cloud publishes from a VHD blob instead; the emulator does
  not check storage access for it.)

Operation-status reads (`Operations_GetStatus`, `Operations_GetResult`, the `Azure-AsyncOperation` and
`Location` URLs of a long-running operation) need no action of their own: ARM lets the caller who started an
operation poll it, covered by the permission that started it (and the resource's read). They sit at
subscription scope (`/subscriptions/{id}/providers/Microsoft.*/locations/{loc}/operations/{id}`), which a role
assigned on a resource group could not reach anyway.

What the emulator cannot count: Blob storage (Azurite) is not behind the ARM emulator. STORAGE_ACTIONS and
STORAGE_DATA_ACTIONS list what the ledger, the release lock and the package upload use; they are written down
here by hand from pipeline/azure/storage.py and pipeline/lock.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

__all__ = [
    "ARM_ACTIONS",
    "NO_ACTION",
    "STORAGE_ACTIONS",
    "STORAGE_DATA_ACTIONS",
    "UnmappedOperation",
    "actions_for",
    "role_actions",
    "used_actions",
]

C = "Microsoft.Compute"
N = "Microsoft.Network"
VMSS = f"{C}/virtualMachineScaleSets"
VM = f"{VMSS}/virtualMachines"
LB = f"{N}/loadBalancers"
RG = "Microsoft.Resources/subscriptions/resourceGroups"

NO_ACTION: frozenset[str] = frozenset()

# What a scale set PUT references besides itself (see the module docstring).
SCALE_SET_JOINS = frozenset({
    f"{N}/virtualNetworks/subnets/join/action",
    f"{LB}/backendAddressPools/join/action",
    f"{LB}/inboundNatPools/join/action",
    f"{C}/galleries/images/versions/read",
})


def _one(action: str) -> frozenset[str]:
    return frozenset({action})


_ARM: dict[tuple[str, str], frozenset[str]] = {
    # --- resource groups --------------------------------------------------------------------------------
    ("PUT", "ResourceGroups_CreateOrUpdate"): _one(f"{RG}/write"),
    ("GET", "ResourceGroups_Get"): _one(f"{RG}/read"),
    ("HEAD", "ResourceGroups_CheckExistence"): _one(f"{RG}/read"),
    ("DELETE", "ResourceGroups_Delete"): _one(f"{RG}/delete"),
    ("GET", "ResourceGroups_List"): _one(f"{RG}/read"),
    # --- long-running operation status: covered by the call that started the operation -------------------
    ("GET", "Operations_GetStatus"): NO_ACTION,
    ("GET", "Operations_GetResult"): NO_ACTION,
    # --- network: load balancer and its children ----------------------------------------------------------
    ("PUT", "LoadBalancers_CreateOrUpdate"): frozenset({f"{LB}/write", f"{N}/publicIPAddresses/join/action"}),
    ("GET", "LoadBalancers_Get"): _one(f"{LB}/read"),
    ("PATCH", "LoadBalancers_UpdateTags"): _one(f"{LB}/write"),
    ("DELETE", "LoadBalancers_Delete"): _one(f"{LB}/delete"),
    ("GET", "LoadBalancers_List"): _one(f"{LB}/read"),
    ("GET", "LoadBalancers_ListAll"): _one(f"{LB}/read"),
    ("PUT", "LoadBalancerBackendAddressPools_CreateOrUpdate"): _one(f"{LB}/backendAddressPools/write"),
    ("GET", "LoadBalancerBackendAddressPools_Get"): _one(f"{LB}/backendAddressPools/read"),
    ("DELETE", "LoadBalancerBackendAddressPools_Delete"): _one(f"{LB}/backendAddressPools/delete"),
    ("GET", "LoadBalancerBackendAddressPools_List"): _one(f"{LB}/backendAddressPools/read"),
    ("GET", "LoadBalancerLoadBalancingRules_Get"): _one(f"{LB}/loadBalancingRules/read"),
    ("GET", "LoadBalancerLoadBalancingRules_List"): _one(f"{LB}/loadBalancingRules/read"),
    ("POST", "LoadBalancerLoadBalancingRules_Health"): _one(f"{LB}/loadBalancingRules/health/action"),
    ("GET", "LoadBalancerProbes_Get"): _one(f"{LB}/probes/read"),
    ("GET", "LoadBalancerProbes_List"): _one(f"{LB}/probes/read"),
    ("GET", "LoadBalancerFrontendIPConfigurations_Get"): _one(f"{LB}/frontendIPConfigurations/read"),
    ("GET", "LoadBalancerFrontendIPConfigurations_List"): _one(f"{LB}/frontendIPConfigurations/read"),
    ("GET", "InboundNatRules_List"): _one(f"{LB}/inboundNatRules/read"),
    # --- network: public IP, virtual network, subnets -----------------------------------------------------
    ("PUT", "PublicIPAddresses_CreateOrUpdate"): _one(f"{N}/publicIPAddresses/write"),
    ("GET", "PublicIPAddresses_Get"): _one(f"{N}/publicIPAddresses/read"),
    ("DELETE", "PublicIPAddresses_Delete"): _one(f"{N}/publicIPAddresses/delete"),
    ("GET", "PublicIPAddresses_List"): _one(f"{N}/publicIPAddresses/read"),
    ("GET", "PublicIPAddresses_ListAll"): _one(f"{N}/publicIPAddresses/read"),
    ("PUT", "VirtualNetworks_CreateOrUpdate"): _one(f"{N}/virtualNetworks/write"),
    ("GET", "VirtualNetworks_Get"): _one(f"{N}/virtualNetworks/read"),
    ("DELETE", "VirtualNetworks_Delete"): _one(f"{N}/virtualNetworks/delete"),
    ("GET", "VirtualNetworks_List"): _one(f"{N}/virtualNetworks/read"),
    ("GET", "VirtualNetworks_ListAll"): _one(f"{N}/virtualNetworks/read"),
    ("PUT", "Subnets_CreateOrUpdate"): _one(f"{N}/virtualNetworks/subnets/write"),
    ("GET", "Subnets_Get"): _one(f"{N}/virtualNetworks/subnets/read"),
    ("DELETE", "Subnets_Delete"): _one(f"{N}/virtualNetworks/subnets/delete"),
    ("GET", "Subnets_List"): _one(f"{N}/virtualNetworks/subnets/read"),
    # --- compute: scale sets ------------------------------------------------------------------------------
    ("PUT", "VirtualMachineScaleSets_CreateOrUpdate"): _one(f"{VMSS}/write") | SCALE_SET_JOINS,
    # A PATCH that changed the network profile or the image would need SCALE_SET_JOINS too; none does.
    ("PATCH", "VirtualMachineScaleSets_Update"): _one(f"{VMSS}/write"),
    ("GET", "VirtualMachineScaleSets_Get"): _one(f"{VMSS}/read"),
    ("DELETE", "VirtualMachineScaleSets_Delete"): _one(f"{VMSS}/delete"),
    ("GET", "VirtualMachineScaleSets_List"): _one(f"{VMSS}/read"),
    ("GET", "VirtualMachineScaleSets_ListAll"): _one(f"{VMSS}/read"),
    ("GET", "VirtualMachineScaleSets_GetInstanceView"): _one(f"{VMSS}/instanceView/read"),
    ("POST", "VirtualMachineScaleSets_UpdateInstances"): _one(f"{VMSS}/manualUpgrade/action"),
    ("POST", "VirtualMachineScaleSets_Reimage"): _one(f"{VMSS}/reimage/action"),
    ("POST", "VirtualMachineScaleSets_ReimageAll"): _one(f"{VMSS}/reimageall/action"),
    ("POST", "VirtualMachineScaleSets_Restart"): _one(f"{VMSS}/restart/action"),
    ("POST", "VirtualMachineScaleSets_DeleteInstances"): _one(f"{VMSS}/delete/action"),
    ("POST", "VirtualMachineScaleSets_PowerOff"): _one(f"{VMSS}/powerOff/action"),
    ("POST", "VirtualMachineScaleSets_Start"): _one(f"{VMSS}/start/action"),
    # --- compute: scale-set instances and their NIC views -------------------------------------------------
    ("GET", "VirtualMachineScaleSetVMs_List"): _one(f"{VM}/read"),
    ("GET", "VirtualMachineScaleSetVMs_Get"): _one(f"{VM}/read"),
    ("DELETE", "VirtualMachineScaleSetVMs_Delete"): _one(f"{VM}/delete"),
    ("GET", "VirtualMachineScaleSetVMs_GetInstanceView"): _one(f"{VM}/instanceView/read"),
    ("POST", "VirtualMachineScaleSetVMs_RetrieveBootDiagnosticsData"):
        _one(f"{VM}/retrieveBootDiagnosticsData/action"),
    ("POST", "VirtualMachineScaleSetVMs_Reimage"): _one(f"{VM}/reimage/action"),
    ("POST", "VirtualMachineScaleSetVMs_ReimageAll"): _one(f"{VM}/reimageall/action"),
    ("POST", "VirtualMachineScaleSetVMs_Restart"): _one(f"{VM}/restart/action"),
    ("POST", "VirtualMachineScaleSetVMs_PowerOff"): _one(f"{VM}/powerOff/action"),
    ("POST", "VirtualMachineScaleSetVMs_Start"): _one(f"{VM}/start/action"),
    ("GET", "NetworkInterfaces_ListVirtualMachineScaleSetVMNetworkInterfaces"): _one(f"{VM}/networkInterfaces/read"),
    ("GET", "NetworkInterfaces_GetVirtualMachineScaleSetNetworkInterface"): _one(f"{VM}/networkInterfaces/read"),
    ("GET", "NetworkInterfaces_ListVirtualMachineScaleSetNetworkInterfaces"): _one(f"{VMSS}/networkInterfaces/read"),
    # --- compute: managed images (Packer's output on Azure) -----------------------------------------------
    ("PUT", "Images_CreateOrUpdate"): _one(f"{C}/images/write"),
    ("GET", "Images_Get"): _one(f"{C}/images/read"),
    ("DELETE", "Images_Delete"): _one(f"{C}/images/delete"),
    ("GET", "Images_ListByResourceGroup"): _one(f"{C}/images/read"),
    ("GET", "Images_List"): _one(f"{C}/images/read"),
    # --- compute: gallery, image definition, image versions -----------------------------------------------
    ("PUT", "Galleries_CreateOrUpdate"): _one(f"{C}/galleries/write"),
    ("GET", "Galleries_Get"): _one(f"{C}/galleries/read"),
    ("DELETE", "Galleries_Delete"): _one(f"{C}/galleries/delete"),
    ("GET", "Galleries_ListByResourceGroup"): _one(f"{C}/galleries/read"),
    ("GET", "Galleries_List"): _one(f"{C}/galleries/read"),
    ("PUT", "GalleryImages_CreateOrUpdate"): _one(f"{C}/galleries/images/write"),
    ("GET", "GalleryImages_Get"): _one(f"{C}/galleries/images/read"),
    ("DELETE", "GalleryImages_Delete"): _one(f"{C}/galleries/images/delete"),
    ("GET", "GalleryImages_ListByGallery"): _one(f"{C}/galleries/images/read"),
    ("PUT", "GalleryImageVersions_CreateOrUpdate"): frozenset({f"{C}/galleries/images/versions/write",
                                                              f"{C}/images/read"}),
    ("GET", "GalleryImageVersions_Get"): _one(f"{C}/galleries/images/versions/read"),
    ("DELETE", "GalleryImageVersions_Delete"): _one(f"{C}/galleries/images/versions/delete"),
    ("GET", "GalleryImageVersions_ListByGalleryImage"): _one(f"{C}/galleries/images/versions/read"),
}
ARM_ACTIONS: Mapping[tuple[str, str], frozenset[str]] = MappingProxyType(_ARM)

# Blob storage through Entra ID (DefaultAzureCredential): the emulator cannot count these (Azurite serves blobs).
# Management-plane actions that the blob data plane checks:
STORAGE_ACTIONS: Mapping[str, str] = MappingProxyType({
    "Microsoft.Storage/storageAccounts/blobServices/containers/write":
        "create the ledger, packages and images containers when missing (storage.ensure_container)",
    "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action":
        "the user-delegation key that signs the read-only SAS URL handed to Packer for the app package",
})
# Data actions used by the ledger, the release lock and the package upload:
STORAGE_DATA_ACTIONS: Mapping[str, str] = MappingProxyType({
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read":
        "read the ledger and the lock holder's metadata; download the boot log is by SAS and needs none",
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write":
        "write the ledger (If-Match), create the lock blob and acquire/renew/release/break its lease, set its "
        "metadata, upload the app package (and, locally, the image VHD)",
})


class UnmappedOperation(KeyError):
    """A counted request whose (method, operationId) has no entry in ARM_ACTIONS."""


def actions_for(method: str, operation: str) -> frozenset[str]:
    """The RBAC actions Azure checks for one ARM request; raises UnmappedOperation when unknown."""
    try:
        return ARM_ACTIONS[(method.upper(), operation)]
    except KeyError:
        raise UnmappedOperation(f"no RBAC mapping for {method.upper()} {operation}: add it to pipeline/rbac.py") \
            from None


def used_actions(counters: Iterable[Mapping[str, object]]) -> frozenset[str]:
    """The actions behind the emulator's counters (GET /_emulator/counters "value": {method, operation, status,
    count} rows).

    Every counted request counts, whatever its status: Azure checks the caller's role before the resource
    provider answers, so a 404 existence check, a 409 or a 412 of a stale If-Match needed the action too.
    Rows of the emulator's control API ("Control_*") and rows with count 0 are ignored. A request the emulator
    could not route (operation "Unknown") raises UnmappedOperation: the pipeline called something unmapped.
    """
    used: set[str] = set()
    for row in counters:
        operation = str(row["operation"])
        if operation.startswith("Control_") or int(str(row.get("count", 1))) <= 0:
            continue
        used |= actions_for(str(row["method"]), operation)
    return frozenset(used)


def role_actions(arm_used: Iterable[str]) -> tuple[list[str], list[str]]:
    """(Actions, DataActions) of the pipeline's role: the ARM actions a run used plus the storage ones, sorted."""
    return sorted(set(arm_used) | set(STORAGE_ACTIONS)), sorted(STORAGE_DATA_ACTIONS)

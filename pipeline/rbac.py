"""The Azure RBAC actions behind every ARM operation, and role definitions (pure; no SDK, no emulator).

    actions_for("PUT", "LoadBalancers_CreateOrUpdate")   -> {"Microsoft.Network/loadBalancers/write"}
    linked_actions(body, own_id)        # the linked access checks a request body triggers, {action: [scopes]}
    Role.from_json(json.load(f))        # a role definition as `az role definition create` takes it
    role.allows("Microsoft.Compute/virtualMachineScaleSets/read")     # Actions/NotActions with wildcards

ONE mapping, used by both sides: the local cloud's RBAC enforcement (pipeline/emulator/core/authorization.py)
imports this module to decide what a request needs, and the role test (tests/ci/test_role.py) reads what the
emulator checked. STYLE.md forbids pipeline/ importing the emulator; the emulator importing this stdlib-only
module is the one allowed direction. Adding a route is two lines: the route in `pipeline/emulator/*/urls.py`
(named by Azure's operationId) and its action here (tests/ci/test_rbac.py fails until both exist).

Every ARM route of the local cloud has an entry in ARM_ACTIONS: the action Azure checks on the request's own
scope. Linked access checks: Azure also checks the caller on resources a request body *references* (a scale set
PUT naming a subnet needs `Microsoft.Network/virtualNetworks/subnets/join/action` on that subnet, or Azure
answers 403 LinkedAuthorizationFailed). LINKED_ACTIONS maps a referenced resource type to the action checked on
it; `linked_actions` finds the references (every `"id"` in a PUT/PATCH body that names another resource). So a
body that stops referencing a NAT pool stops needing `inboundNatPools/join/action`, as on Azure.

Operation-status polling needs actions of its own (Microsoft Learn, "Track asynchronous Azure operations",
section "Permission for tracking async status"): the `Azure-AsyncOperation` / `Location` URLs sit at
`/subscriptions/{id}/providers/Microsoft.Compute/locations/{loc}/operations/{id}` (compute: status, and with
`monitor=true` the result), `.../Microsoft.Network/locations/{loc}/operations/{id}` (status) and
`.../operationResults/{id}` (result); polling them needs `Microsoft.Compute/locations/operations/read`,
`Microsoft.Network/locations/operations/read` and `Microsoft.Network/locations/operationResults/read`.

What the emulator cannot check is written down by hand: AZURE_ONLY_ACTIONS (what only an Azure run does, with
why), and Blob storage (Azurite is not behind the ARM emulator): STORAGE_ACTIONS and STORAGE_DATA_ACTIONS list
what the ledger, the release lock and the package upload use, from pipeline/azure/storage.py and pipeline/lock.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = [
    "ARM_ACTIONS",
    "AZURE_ONLY_ACTIONS",
    "LINKED_ACTIONS",
    "NO_ACTION",
    "STORAGE_ACTIONS",
    "STORAGE_DATA_ACTIONS",
    "Role",
    "RoleError",
    "UnmappedOperation",
    "actions_for",
    "linked_actions",
    "load_role",
    "role_actions",
]

C = "Microsoft.Compute"
N = "Microsoft.Network"
VMSS = f"{C}/virtualMachineScaleSets"
VM = f"{VMSS}/virtualMachines"
LB = f"{N}/loadBalancers"
NSG = f"{N}/networkSecurityGroups"
RG = "Microsoft.Resources/subscriptions/resourceGroups"

NO_ACTION: frozenset[str] = frozenset()

def _one(action: str) -> frozenset[str]:
    return frozenset({action})


_ARM: dict[tuple[str, str], frozenset[str]] = {
    # --- resource groups --------------------------------------------------------------------------------
    ("PUT", "ResourceGroups_CreateOrUpdate"): _one(f"{RG}/write"),
    ("GET", "ResourceGroups_Get"): _one(f"{RG}/read"),
    ("HEAD", "ResourceGroups_CheckExistence"): _one(f"{RG}/read"),
    ("DELETE", "ResourceGroups_Delete"): _one(f"{RG}/delete"),
    ("GET", "ResourceGroups_List"): _one(f"{RG}/read"),
    # --- long-running operation status (the Azure-AsyncOperation and Location URLs) ------------------------
    ("GET", "ComputeOperations_GetStatus"): _one(f"{C}/locations/operations/read"),
    ("GET", "NetworkOperations_GetStatus"): _one(f"{N}/locations/operations/read"),
    ("GET", "NetworkOperations_GetResult"): _one(f"{N}/locations/operationResults/read"),
    ("GET", "SubscriptionOperations_GetResult"): _one("Microsoft.Resources/subscriptions/operationresults/read"),
    # --- authorization: what the caller may do ("Lists all the permissions the caller has at a given scope") --
    ("GET", "Permissions_ListForResourceGroup"): _one("Microsoft.Authorization/permissions/read"),
    # --- network: load balancer and its children ----------------------------------------------------------
    ("PUT", "LoadBalancers_CreateOrUpdate"): _one(f"{LB}/write"),
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
    ("GET", "InboundNatRules_Get"): _one(f"{LB}/inboundNatRules/read"),
    ("PUT", "InboundNatRules_CreateOrUpdate"): _one(f"{LB}/inboundNatRules/write"),
    ("DELETE", "InboundNatRules_Delete"): _one(f"{LB}/inboundNatRules/delete"),
    # smoke's per-instance ports: the inbound NAT rule V2 port mappings of one backend address
    ("POST", "LoadBalancers_ListInboundNatRulePortMappings"):
        _one(f"{LB}/backendAddressPools/queryInboundNatRulePortMapping/action"),
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
    # --- network: security groups (a subnet or scale set that names one also needs its join action) --------
    ("PUT", "NetworkSecurityGroups_CreateOrUpdate"): _one(f"{NSG}/write"),
    ("GET", "NetworkSecurityGroups_Get"): _one(f"{NSG}/read"),
    ("DELETE", "NetworkSecurityGroups_Delete"): _one(f"{NSG}/delete"),
    ("GET", "NetworkSecurityGroups_List"): _one(f"{NSG}/read"),
    ("GET", "NetworkSecurityGroups_ListAll"): _one(f"{NSG}/read"),
    ("PUT", "SecurityRules_CreateOrUpdate"): _one(f"{NSG}/securityRules/write"),
    ("GET", "SecurityRules_Get"): _one(f"{NSG}/securityRules/read"),
    ("DELETE", "SecurityRules_Delete"): _one(f"{NSG}/securityRules/delete"),
    ("GET", "SecurityRules_List"): _one(f"{NSG}/securityRules/read"),
    ("GET", "DefaultSecurityRules_Get"): _one(f"{NSG}/defaultSecurityRules/read"),
    ("GET", "DefaultSecurityRules_List"): _one(f"{NSG}/defaultSecurityRules/read"),
    # --- compute: scale sets ------------------------------------------------------------------------------
    ("PUT", "VirtualMachineScaleSets_CreateOrUpdate"): _one(f"{VMSS}/write"),
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
    ("PUT", "GalleryImageVersions_CreateOrUpdate"): _one(f"{C}/galleries/images/versions/write"),
    ("PATCH", "GalleryImageVersions_Update"): _one(f"{C}/galleries/images/versions/write"),
    ("GET", "GalleryImageVersions_Get"): _one(f"{C}/galleries/images/versions/read"),
    ("DELETE", "GalleryImageVersions_Delete"): _one(f"{C}/galleries/images/versions/delete"),
    ("GET", "GalleryImageVersions_ListByGalleryImage"): _one(f"{C}/galleries/images/versions/read"),
    # --- subscription-scope reads of `invoke doctor` (a role assigned on the resource group cannot grant them:
    # doctor reports them as not checked, WARN, when Azure answers 403) --------------------------------------
    ("GET", "Subscriptions_Get"): _one("Microsoft.Resources/subscriptions/read"),
    ("GET", "Providers_List"): _one("Microsoft.Resources/subscriptions/providers/read"),
    ("GET", "Providers_Get"): _one("Microsoft.Resources/subscriptions/providers/read"),
    ("GET", "ResourceSkus_List"): _one(f"{C}/skus/read"),
    ("GET", "Usage_List"): _one(f"{C}/locations/usages/read"),
}
ARM_ACTIONS: Mapping[tuple[str, str], frozenset[str]] = MappingProxyType(_ARM)

# ARM actions the pipeline needs on Azure that the local lifecycle cannot exercise, written down by hand with why
# (the role test adds them to what the emulator checked, and cannot prove them minimal):
# None today: on Azure, Packer publishes the image version straight to the gallery under its own principal
# (packer/azure), and the pipeline's provenance PATCH needs versions/write, which the local run uses too.
AZURE_ONLY_ACTIONS: Mapping[str, str] = MappingProxyType({})

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


# --- linked access checks -----------------------------------------------------------------------------------
# A referenced resource type (as in its id) -> the action Azure checks on it when a body references it.
LINKED_ACTIONS: Mapping[str, str] = MappingProxyType({
    f"{N}/virtualNetworks/subnets": f"{N}/virtualNetworks/subnets/join/action",
    f"{N}/networkSecurityGroups": f"{N}/networkSecurityGroups/join/action",
    f"{N}/publicIPAddresses": f"{N}/publicIPAddresses/join/action",
    f"{N}/publicIPPrefixes": f"{N}/publicIPPrefixes/join/action",
    f"{LB}/backendAddressPools": f"{LB}/backendAddressPools/join/action",
    f"{LB}/inboundNatPools": f"{LB}/inboundNatPools/join/action",
    f"{LB}/inboundNatRules": f"{LB}/inboundNatRules/join/action",
    f"{LB}/probes": f"{LB}/probes/join/action",
    f"{LB}/frontendIPConfigurations": f"{LB}/frontendIPConfigurations/join/action",
    f"{C}/galleries/images/versions": f"{C}/galleries/images/versions/read",
    f"{C}/galleries/images": f"{C}/galleries/images/read",
    f"{C}/images": f"{C}/images/read",
})
_LINKED = {k.lower(): v for k, v in LINKED_ACTIONS.items()}


def resource_type(resource_id: str) -> tuple[str, str] | None:
    """(type, top-level resource id) of an ARM resource id, e.g. ("Microsoft.Network/loadBalancers/probes",
    ".../loadBalancers/lb"); None when it is not a resource-group-scoped provider resource."""
    parts = resource_id.split("?")[0].strip("/").split("/")
    if len(parts) < 8 or [p.lower() for p in (parts[0], parts[2], parts[4])] != \
            ["subscriptions", "resourcegroups", "providers"]:
        return None
    rest = parts[6:]
    if len(rest) % 2:
        return None
    return f"{parts[5]}/{'/'.join(rest[0::2])}", "/" + "/".join(parts[:8])


def _ids(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for name, item in value.items():
            if name == "id" and isinstance(item, str):
                yield item
            else:
                yield from _ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from _ids(item)


def linked_actions(body: Any, own_id: str) -> dict[str, list[str]]:
    """{action: [linked scopes]} for the resources a PUT/PATCH body references outside its own resource
    (`own_id`, the top-level resource the request writes: references to its own children are not linked)."""
    own = own_id.rstrip("/").lower()
    found: dict[str, list[str]] = {}
    for ref in _ids(body):
        if ref.lower() == own or ref.lower().startswith(own + "/"):
            continue
        typed = resource_type(ref)
        action = _LINKED.get(typed[0].lower()) if typed else None
        if action and ref not in found.setdefault(action, []):
            found[action].append(ref)
    return {action: scopes for action, scopes in found.items() if scopes}


# --- role definitions ---------------------------------------------------------------------------------------
class RoleError(ValueError):
    """A role definition that does not parse; the message is one line naming what is wrong."""


_ROLE_KEYS = {"name": "Name", "id": "Id", "iscustom": "IsCustom", "description": "Description",
              "actions": "Actions", "notactions": "NotActions", "dataactions": "DataActions",
              "notdataactions": "NotDataActions", "assignablescopes": "AssignableScopes"}
_ACTION_TEXT = re.compile(r"^(\*|[A-Za-z0-9.*-]+(/[A-Za-z0-9.*_-]+)*)$")


@lru_cache(maxsize=1024)
def _pattern(action: str) -> re.Pattern:
    return re.compile("^" + ".*".join(re.escape(part) for part in action.split("*")) + "$", re.IGNORECASE)


@dataclass(frozen=True)
class Role:
    """A role definition (Actions, NotActions, DataActions, NotDataActions), evaluated as Azure does: an action
    is granted when some Actions entry matches it and no NotActions entry does; `*` matches any run of
    characters (`*`, `Microsoft.Compute/*`, `*/read`); matching ignores case."""

    name: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> "Role":
        if not isinstance(data, dict):
            raise RoleError("a role definition is a JSON object with Actions, NotActions, DataActions, "
                            "NotDataActions")
        fields: dict[str, Any] = {}
        for key, value in data.items():
            canonical = _ROLE_KEYS.get(str(key).lower())
            if canonical is None:
                raise RoleError(f"unknown member {key!r}; a role definition has {', '.join(_ROLE_KEYS.values())}")
            fields[canonical] = value
        lists = {}
        for key in ("Actions", "NotActions", "DataActions", "NotDataActions"):
            value = fields.get(key, [])
            if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
                raise RoleError(f"{key} must be a list of action strings")
            bad = [a for a in value if not _ACTION_TEXT.match(a)]
            if bad:
                raise RoleError(f"{key} has an invalid action {bad[0]!r} (Provider.Namespace/type/operation, "
                                f"wildcard *)")
            lists[key] = tuple(value)
        if not lists["Actions"] and not lists["DataActions"]:
            raise RoleError("the role grants nothing: Actions and DataActions are both empty")
        name = fields.get("Name", "")
        return cls(name=str(name), actions=lists["Actions"], not_actions=lists["NotActions"],
                   data_actions=lists["DataActions"], not_data_actions=lists["NotDataActions"])

    def allows(self, action: str) -> bool:
        return (any(_pattern(a).match(action) for a in self.actions)
                and not any(_pattern(a).match(action) for a in self.not_actions))

    def allows_data(self, action: str) -> bool:
        return (any(_pattern(a).match(action) for a in self.data_actions)
                and not any(_pattern(a).match(action) for a in self.not_data_actions))

    def without(self, action: str) -> "Role":
        """The same role minus one exact Actions entry (the role test's minimality check)."""
        return Role(self.name, tuple(a for a in self.actions if a != action), self.not_actions,
                    self.data_actions, self.not_data_actions)

    def to_json(self) -> dict:
        return {"Name": self.name, "Actions": list(self.actions), "NotActions": list(self.not_actions),
                "DataActions": list(self.data_actions), "NotDataActions": list(self.not_data_actions)}


def load_role(path: str | Path) -> Role:
    """The role definition in a JSON file; RoleError (one line naming the file) when it cannot be used."""
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise RoleError(f"role file {path}: cannot read it ({err.strerror or err})") from None
    try:
        data = json.loads(text)
    except ValueError as err:
        raise RoleError(f"role file {path}: not JSON ({err})") from None
    try:
        return Role.from_json(data)
    except RoleError as err:
        raise RoleError(f"role file {path}: {err}") from None


def role_actions(arm_used: Iterable[str]) -> tuple[list[str], list[str]]:
    """(Actions, DataActions) of the pipeline's role: the ARM actions a run used plus the Azure-only and storage
    ones, sorted."""
    return sorted(set(arm_used) | set(AZURE_ONLY_ACTIONS) | set(STORAGE_ACTIONS)), sorted(STORAGE_DATA_ACTIONS)

"""The subscription's state: provider registration, the VM sizes offered per region and their restrictions,
quota limits. Usage (`currentValue`) is computed from the compute backend's scale sets, never stored.

Defaults are those of a healthy pay-as-you-go subscription: the providers the pipeline needs are
Registered, every size of SKU_CATALOG is offered in every region of REGIONS without restriction, and the
limits are DEFAULT_LIMITS. `configure()` (the control API) changes any of them; `reset()` restores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.errors import InvalidParameter, NotFound
from ..core.ids import key

if TYPE_CHECKING:
    from ..cloud import Cloud

REGISTRATION_STATES = ("Registered", "NotRegistered", "Registering", "Unregistering")
# Providers the emulator knows, registered by default (a new subscription has these registered once a
# resource of theirs was created; the emulator starts from the state a team that ran `invoke infra` has).
PROVIDERS = ("Microsoft.Compute", "Microsoft.Network", "Microsoft.Storage", "Microsoft.Resources",
             "Microsoft.Authorization")
RESTRICTION_REASONS = ("NotAvailableForSubscription", "QuotaId")
NOT_OFFERED = "NotOffered"       # the control API's way to drop a size from a region's list altogether

REGIONS = ("westeurope", "northeurope", "uksouth", "francecentral", "germanywestcentral", "swedencentral",
           "eastus", "eastus2", "centralus", "westus2", "westus3", "southeastasia", "australiaeast", "japaneast")


@dataclass(frozen=True)
class VmSize:
    name: str
    family: str
    vcpus: int
    memory_gb: str
    generations: str          # HyperVGenerations capability: "V1", "V2" or "V1,V2"
    trusted_launch: bool = True

    @property
    def tier(self) -> str:
        return self.name.split("_", 1)[0]

    @property
    def size(self) -> str:
        return self.name.split("_", 1)[1]


# A few sizes of the families teams pick for small fleets (vCPUs and memory as Azure lists them).
SKU_CATALOG: tuple[VmSize, ...] = (
    VmSize("Standard_B1s", "standardBSFamily", 1, "1", "V1,V2"),
    VmSize("Standard_B1ms", "standardBSFamily", 1, "2", "V1,V2"),
    VmSize("Standard_B2s", "standardBSFamily", 2, "4", "V1,V2"),
    VmSize("Standard_B2ms", "standardBSFamily", 2, "8", "V1,V2"),
    VmSize("Standard_D2s_v5", "standardDSv5Family", 2, "8", "V1,V2"),
    VmSize("Standard_D4s_v5", "standardDSv5Family", 4, "16", "V1,V2"),
    VmSize("Standard_D2as_v5", "standardDASv5Family", 2, "8", "V1,V2"),
    VmSize("Standard_F2s_v2", "standardFSv2Family", 2, "4", "V1,V2"),
    VmSize("Standard_A1_v2", "standardAv2Family", 1, "2", "V1", trusted_launch=False),
)
FAMILY_NAMES = {"standardBSFamily": "Standard BS Family vCPUs", "standardDSv5Family": "Standard DSv5 Family vCPUs",
                "standardDASv5Family": "Standard DASv5 Family vCPUs",
                "standardFSv2Family": "Standard FSv2 Family vCPUs", "standardAv2Family": "Standard Av2 Family vCPUs"}
# Quota names as Usage_List spells them; limits generous enough for any test fleet unless a test lowers them.
DEFAULT_LIMITS = {"cores": 100, "virtualMachines": 25000, "virtualMachineScaleSets": 2500,
                  **{family: 100 for family in FAMILY_NAMES}}
USAGE_NAMES = {"cores": "Total Regional vCPUs", "virtualMachines": "Virtual Machines",
               "virtualMachineScaleSets": "Virtual Machine Scale Sets", **FAMILY_NAMES}


def size_named(name: str) -> VmSize | None:
    return next((s for s in SKU_CATALOG if key(s.name) == key(name)), None)


class SubscriptionBackend:
    def __init__(self, cloud: "Cloud"):
        self.cloud = cloud
        self.reset()

    def reset(self) -> None:
        self.registration = {key(p): "Registered" for p in PROVIDERS}
        self.sku_states: dict[str, str] = {}            # size (lower-case) -> restriction reason or NOT_OFFERED
        self.limits: dict[str, int] = dict(DEFAULT_LIMITS)

    # --- the subscription -----------------------------------------------------------------------------------
    def render(self) -> dict:
        sub, tenant = self.cloud.options.subscription_id, self.cloud.options.tenant_id
        return {"id": f"/subscriptions/{sub}", "subscriptionId": sub, "tenantId": tenant,
                "displayName": "Local cloud", "state": "Enabled",
                "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01",
                                         "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
                "authorizationSource": "RoleBased", "managedByTenants": [], "tags": {}}

    # --- providers ------------------------------------------------------------------------------------------
    def provider(self, namespace: str) -> dict:
        state = self.registration.get(key(namespace))
        if state is None:
            raise NotFound(f"The resource namespace '{namespace}' is invalid.", code="InvalidResourceNamespace")
        name = next(p for p in PROVIDERS if key(p) == key(namespace))
        sub = self.cloud.options.subscription_id
        return {"id": f"/subscriptions/{sub}/providers/{name}", "namespace": name, "registrationState": state,
                "registrationPolicy": "RegistrationRequired", "resourceTypes": []}

    def providers(self) -> list[dict]:
        return [self.provider(p) for p in PROVIDERS]

    # --- resource SKUs --------------------------------------------------------------------------------------
    def skus(self, location: str | None) -> list[dict]:
        regions = [r for r in REGIONS if location is None or key(r) == key(location)]
        out = []
        for size in SKU_CATALOG:
            state = self.sku_states.get(key(size.name))
            offered = regions if state != NOT_OFFERED else []
            if not offered:
                continue
            restrictions = []
            if state in RESTRICTION_REASONS:
                restrictions = [{"type": "Location", "values": list(offered),
                                 "restrictionInfo": {"locations": list(offered)}, "reasonCode": state}]
            capabilities = [("vCPUs", str(size.vcpus)), ("vCPUsAvailable", str(size.vcpus)),
                            ("MemoryGB", size.memory_gb), ("HyperVGenerations", size.generations),
                            ("MaxNetworkInterfaces", "2"), ("PremiumIO", "True")]
            if not size.trusted_launch:
                capabilities.append(("TrustedLaunchDisabled", "True"))
            out.append({"resourceType": "virtualMachines", "name": size.name, "tier": size.tier,
                        "size": size.size, "family": size.family, "locations": list(offered),
                        "locationInfo": [{"location": r, "zones": ["1", "2", "3"], "zoneDetails": []}
                                         for r in offered],
                        "capabilities": [{"name": n, "value": v} for n, v in capabilities],
                        "restrictions": restrictions})
        return out

    # --- usages ---------------------------------------------------------------------------------------------
    def knows_region(self, location: str) -> bool:
        return key(location) in (key(r) for r in REGIONS)

    def usages(self, location: str) -> list[dict]:
        used = {name: 0 for name in self.limits}
        for ss in self.cloud.compute.scale_sets.values():
            if key(ss.location) != key(location):
                continue
            used["virtualMachineScaleSets"] = used.get("virtualMachineScaleSets", 0) + 1
            used["virtualMachines"] = used.get("virtualMachines", 0) + ss.capacity
            size = size_named(str(ss.sku.get("name") or ""))
            if size is not None:
                used["cores"] = used.get("cores", 0) + ss.capacity * size.vcpus
                used[size.family] = used.get(size.family, 0) + ss.capacity * size.vcpus
        return [{"unit": "Count", "currentValue": used.get(name, 0), "limit": limit,
                 "name": {"value": name, "localizedValue": USAGE_NAMES.get(name, name)}}
                for name, limit in self.limits.items()]

    # --- the control API ------------------------------------------------------------------------------------
    def configure(self, body: dict) -> dict:
        """Apply {"providers": {ns: state}, "skus": {size: reason|NotOffered|null}, "limits": {name: int}}."""
        unknown = set(body) - {"providers", "skus", "limits"}
        if unknown:
            raise InvalidParameter(f"Unknown subscription settings {sorted(unknown)}; allowed: providers, skus, "
                                   f"limits.")
        providers, skus, limits = body.get("providers") or {}, body.get("skus") or {}, body.get("limits") or {}
        if not all(isinstance(x, dict) for x in (providers, skus, limits)):
            raise InvalidParameter("providers, skus and limits must be objects.")
        for namespace, state in providers.items():
            if key(namespace) not in self.registration or state not in REGISTRATION_STATES:
                raise InvalidParameter(f"Provider {namespace!r} / state {state!r}: providers are {list(PROVIDERS)}, "
                                       f"states {list(REGISTRATION_STATES)}.")
        for name, state in skus.items():
            if size_named(name) is None or state not in (*RESTRICTION_REASONS, NOT_OFFERED, None):
                raise InvalidParameter(f"Size {name!r} / state {state!r}: sizes are "
                                       f"{[s.name for s in SKU_CATALOG]}, states {[*RESTRICTION_REASONS, NOT_OFFERED]} "
                                       f"or null.")
        for name, limit in limits.items():
            if name not in USAGE_NAMES or isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise InvalidParameter(f"Limit {name!r}={limit!r}: names are {sorted(USAGE_NAMES)}, limits whole "
                                       f"numbers >= 0.")
        for namespace, state in providers.items():
            self.registration[key(namespace)] = state
        for name, state in skus.items():
            if state is None:
                self.sku_states.pop(key(name), None)
            else:
                self.sku_states[key(name)] = state
        self.limits.update(limits)
        return self.describe()

    def describe(self) -> dict:
        return {"providers": {p: self.registration[key(p)] for p in PROVIDERS},
                "skus": {s.name: self.sku_states[key(s.name)] for s in SKU_CATALOG if key(s.name) in self.sku_states},
                "limits": dict(self.limits)}

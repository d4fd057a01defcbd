"""Scale sets and their instances as plain state, plus the pure decisions about them.

Decisions kept here and free of I/O: which instance ids a scale-out allocates (overprovisioning), which
instances a scale-in removes (Azure's default scale-in policy), update/fault-domain placement, computer
names, and which resources a model references (for the network seam).
"""

from __future__ import annotations

import copy
import json
import math
import random
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from ..core.ids import key
from ..core.operations import utcnow

APP_HEALTH_PUBLISHER = "microsoft.managedservices"
APP_HEALTH_TYPES = ("applicationhealthlinux", "applicationhealthwindows")
OVERPROVISION_SHARE = 0.25   # extra instances created per requested one on create/scale-out (at least one)


def base36(number: int, width: int = 6) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out.rjust(width, "0")


def computer_name(prefix: str, instance_id: str) -> str:
    return f"{prefix}{base36(int(instance_id))}"


def canonical(profile: dict) -> str:
    return json.dumps(profile, sort_keys=True)


@dataclass
class Vm:
    instance_id: str
    computer_name: str
    update_domain: int
    fault_domain: int
    model: dict                  # the virtualMachineProfile it was created from (its applied model)
    model_version: int
    image: dict                  # resolved image: {"uri", "reference", "version_id", "exact_version"}
    address: str | None = None
    vm_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    provisioning_state: str = "Creating"
    power_state: str = "starting"        # starting | running | stopping | stopped
    health: str = "unknown"              # unknown | healthy | unhealthy (Application Health extension)
    time_created: str = field(default_factory=utcnow)
    status_time: str = field(default_factory=utcnow)
    generation: int = 0                  # bumped each time the VM is (re)booted

    def dump(self) -> dict:
        return asdict(self)

    @classmethod
    def load(cls, data: dict) -> "Vm":
        return cls(**data)


@dataclass
class ScaleSet:
    subscription: str
    resource_group: str
    name: str
    location: str
    sku: dict
    properties: dict             # as written (virtualMachineProfile kept with its secrets; render strips them)
    tags: dict = field(default_factory=dict)
    zones: list | None = None
    identity: dict | None = None
    plan: dict | None = None
    unique_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time_created: str = field(default_factory=utcnow)
    provisioning_state: str = "Creating"
    model_version: int = 1
    next_instance: int = 0
    etag: int = 1
    vms: dict[str, Vm] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.Compute/virtualMachineScaleSets/{self.name}")

    @property
    def profile(self) -> dict:
        return self.properties.setdefault("virtualMachineProfile", {})

    @property
    def capacity(self) -> int:
        return int(self.sku.get("capacity", 0) or 0)

    @property
    def upgrade_mode(self) -> str:
        return ((self.properties.get("upgradePolicy") or {}).get("mode") or "Manual").capitalize()

    @property
    def overprovision(self) -> bool:
        value = self.properties.get("overprovision")
        return True if value is None else bool(value)

    def sorted_vms(self) -> list[Vm]:
        return sorted(self.vms.values(), key=lambda vm: int(vm.instance_id))

    def vm(self, instance_id: str) -> Vm | None:
        return self.vms.get(str(instance_id).strip())

    def latest_model_applied(self, vm: Vm) -> bool:
        return vm.model_version == self.model_version

    def dump(self) -> dict:
        data = asdict(self)
        data["vms"] = [vm.dump() for vm in self.sorted_vms()]
        return data

    @classmethod
    def load(cls, data: dict) -> "ScaleSet":
        data = dict(data)
        vms = {v["instance_id"]: Vm.load(v) for v in data.pop("vms", [])}
        return cls(**data, vms=vms)


# --- placement --------------------------------------------------------------------------------------------
def least_used(counts: dict[int, int], domains: int) -> int:
    return min(range(domains), key=lambda d: (counts.get(d, 0), d))


def place(existing: list[Vm], *, update_domains: int, fault_domains: int) -> tuple[int, int]:
    uds: dict[int, int] = {}
    fds: dict[int, int] = {}
    for vm in existing:
        uds[vm.update_domain] = uds.get(vm.update_domain, 0) + 1
        fds[vm.fault_domain] = fds.get(vm.fault_domain, 0) + 1
    return least_used(uds, max(1, update_domains)), least_used(fds, max(1, fault_domains))


def allocate_ids(next_instance: int, count: int, *, overprovision: bool, rng: random.Random) -> tuple[list[str], int]:
    """(kept instance ids, new next_instance). With overprovisioning Azure creates extra VMs and deletes the
    ones that finish last, so the ids that remain are not contiguous."""
    if count <= 0:
        return [], next_instance
    extra = max(1, math.ceil(count * OVERPROVISION_SHARE)) if overprovision else 0
    ids = list(range(next_instance, next_instance + count + extra))
    if extra:
        pool = ids[1:-1] if len(ids) - 2 >= extra else ids[:-1]   # keep both ends: the kept ids have a gap
        discarded = set(rng.sample(pool, min(extra, len(pool))))
        ids = [i for i in ids if i not in discarded][:count]
    return [str(i) for i in ids], next_instance + count + extra


def scale_in_victims(vms: list[Vm], count: int, rules: list[str]) -> list[Vm]:
    """Which instances a scale-in removes. Default: balance across fault domains, then the newest (highest
    id) in the fullest fault domain; NewestVM / OldestVM: by instance id across the whole set."""
    remaining = sorted(vms, key=lambda vm: int(vm.instance_id))
    rule = (rules or ["Default"])[0].lower()
    victims: list[Vm] = []
    for _ in range(min(count, len(remaining))):
        if rule == "oldestvm":
            victim = remaining[0]
        elif rule == "newestvm":
            victim = remaining[-1]
        else:
            by_fd: dict[int, list[Vm]] = {}
            for vm in remaining:
                by_fd.setdefault(vm.fault_domain, []).append(vm)
            fullest = max(by_fd.values(), key=lambda group: (len(group), int(group[-1].instance_id)))
            victim = fullest[-1]
        remaining.remove(victim)
        victims.append(victim)
    return victims


# --- what a model references -----------------------------------------------------------------------------
def ip_configurations(profile: dict) -> list[tuple[dict, dict]]:
    """[(nic configuration, ip configuration)] of a virtualMachineProfile."""
    out = []
    network = profile.get("networkProfile") or {}
    for nic in network.get("networkInterfaceConfigurations") or []:
        for ipc in (nic.get("properties") or {}).get("ipConfigurations") or []:
            out.append((nic, ipc))
    return out


def refs(ipc: dict, name: str) -> list[str]:
    return [r.get("id", "") for r in ((ipc.get("properties") or {}).get(name) or []) if isinstance(r, dict)]


def subnet_of(ipc: dict) -> str | None:
    return ((ipc.get("properties") or {}).get("subnet") or {}).get("id")


def nsg_of(nic: dict) -> str | None:
    """The NIC configuration's networkSecurityGroup id."""
    return (((nic.get("properties") or {}).get("networkSecurityGroup")) or {}).get("id")


def referenced_ids(profile: dict) -> list[str]:
    found = [n for nic in (profile.get("networkProfile") or {}).get("networkInterfaceConfigurations") or []
             if (n := nsg_of(nic))]
    for _, ipc in ip_configurations(profile):
        subnet = subnet_of(ipc)
        if subnet:
            found.append(subnet)
        for name in ("loadBalancerBackendAddressPools", "loadBalancerInboundNatPools",
                     "applicationGatewayBackendAddressPools"):
            found.extend(refs(ipc, name))
    return found


def under(resource_id: str, prefix: str) -> bool:
    a, b = key(resource_id).rstrip("/"), key(prefix).rstrip("/")
    return a == b or a.startswith(b + "/")


def app_health_extension(profile: dict) -> dict | None:
    for ext in ((profile.get("extensionProfile") or {}).get("extensions") or []):
        props = ext.get("properties") or {}
        if key(props.get("publisher", "")) == APP_HEALTH_PUBLISHER and key(props.get("type", "")) in APP_HEALTH_TYPES:
            return ext
    return None


def snapshot(profile: dict) -> dict:
    return copy.deepcopy(profile)


def merge_patch(target: Any, patch: Any) -> Any:
    """Azure's PATCH: objects merge recursively, arrays and scalars replace, null leaves the value as is."""
    if not isinstance(target, dict) or not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target)
    for name, value in patch.items():
        if value is None:
            continue
        out[name] = merge_patch(out.get(name), value) if isinstance(value, dict) else copy.deepcopy(value)
    return out

"""Writes to scale sets: create/update (capacity, model, upgrade policy), delete, and the instance actions.

Handlers call `write_scale_set` / `begin_action` / `begin_delete` synchronously (validation, ids, placement
happen before the reply) and run the returned work as the long-running operation. One operation at a time
per scale set; instance actions on disjoint instances may overlap, as on Azure.
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core.errors import (Conflict, InvalidParameter, OperationNotAllowed, PatchResourceNotFound, PreconditionFailed,
                           ResourceNotFound)
from ..core.ids import key
from ..core.seams import NetworkForCompute
from . import trusted
from . import validation as v
from .scalesets import (OVERPROVISION_SHARE, ScaleSet, Vm, allocate_ids, canonical, ip_configurations,
                        merge_patch, nsg_of, refs, scale_in_victims, subnet_of)

if TYPE_CHECKING:
    from ..cloud import Cloud



ACTION_NAMES = {"manualupgrade": "Update Virtual Machine Scale Set VMs", "reimage": "Reimage",
                "reimageall": "Reimage All", "restart": "Restart", "delete": "Delete", "poweroff": "Power Off",
                "start": "Start"}


def check_preconditions(headers: dict[str, str], existing: ScaleSet | None) -> None:
    """If-Match (a stale ETag, or any on a missing scale set: 412) and If-None-Match: * (412 when it exists)."""
    if_match, if_none_match = headers.get("if-match"), headers.get("if-none-match")
    if if_none_match is not None and if_none_match.strip() == "*" and existing is not None:
        raise PreconditionFailed(f"The resource '{existing.name}' already exists and the request carries "
                                 f"If-None-Match: *.")
    if if_match is None or if_match.strip() == "*" and existing is not None:
        return
    wanted = if_match.strip().removeprefix("W/").strip('"')
    if existing is None:
        raise PreconditionFailed(f"Etag provided in if-match header {json.dumps(wanted)} does not match: the "
                                 f"resource does not exist.")
    if wanted != str(existing.etag):
        raise PreconditionFailed(f"Etag provided in if-match header {json.dumps(wanted)} does not match etag "
                                 f"{json.dumps(str(existing.etag))} of resource.")


@dataclass
class Plan:
    new: list[Vm] = field(default_factory=list)
    victims: list[Vm] = field(default_factory=list)
    upgrades: list[Vm] = field(default_factory=list)


@dataclass
class Busy:
    model: bool = False
    instances: set[str] = field(default_factory=set)


async def _all(coros) -> None:
    """Run steps concurrently; after all have ended, raise the first failure."""
    results = await asyncio.gather(*coros, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


class ScaleSetOperations:
    network: NetworkForCompute   # set by ComputeBackend (core/seams.py)
    cloud: "Cloud"
    scale_sets: dict[str, ScaleSet]
    busy: dict[str, Busy]
    rng: random.Random

    # --- lookups ------------------------------------------------------------------------------------------
    def find_scale_set(self, subscription: str, resource_group: str, name: str) -> ScaleSet | None:
        return self.scale_sets.get(key(f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
                                       f"/providers/Microsoft.Compute/virtualMachineScaleSets/{name}"))

    def scale_set(self, subscription: str, resource_group: str, name: str) -> ScaleSet:
        ss = self.find_scale_set(subscription, resource_group, name)
        if ss is None:
            self.cloud.resources.require(subscription, resource_group)
            raise ResourceNotFound(f"The Resource 'Microsoft.Compute/virtualMachineScaleSets/{name}' under resource "
                                   f"group '{resource_group}' was not found. For more details please go to "
                                   f"https://aka.ms/ARMResourceNotFoundFix")
        return ss

    def instance(self, ss: ScaleSet, instance_id: str) -> Vm:
        vm = ss.vm(instance_id)
        if vm is None:
            raise ResourceNotFound(f"The Resource 'Microsoft.Compute/virtualMachineScaleSets/{ss.name}/virtualMachines/"
                                   f"{instance_id}' under resource group '{ss.resource_group}' was not found. For "
                                   f"more details please go to https://aka.ms/ARMResourceNotFoundFix")
        return vm

    # --- concurrency -------------------------------------------------------------------------------------------
    def check_idle(self, ss: ScaleSet, instance_ids: list[str] | None = None, *,
                   operation: str = "Update Virtual Machine Scale Set") -> None:
        """A scale set being deleted refuses for good (409 OperationNotAllowed); one running another operation
        refuses for now (409 Conflict, retryable): distinct codes, as on Azure."""
        if ss.provisioning_state == "Deleting":
            raise OperationNotAllowed(f"Operation '{operation}' is not allowed on Virtual Machine Scale Set "
                                      f"'{ss.name}' since it is marked for deletion. For more information on your "
                                      f"operations, please refer to https://aka.ms/activitylog.")
        busy = self.busy.get(key(ss.id))
        if busy is None:
            return
        clash = busy.model or (busy.instances and (instance_ids is None or busy.instances & set(instance_ids)))
        if clash:
            raise Conflict("The request failed due to conflict with a concurrent request. To resolve it, please "
                           "refer to https://aka.ms/activitylog to get more details on the conflicting requests.")

    def _hold(self, ss: ScaleSet, instance_ids: list[str] | None = None) -> None:
        busy = self.busy.setdefault(key(ss.id), Busy())
        if instance_ids is None:
            busy.model = True
        else:
            busy.instances |= set(instance_ids)

    def release(self, ss: ScaleSet, instance_ids: list[str] | None = None) -> None:
        busy = self.busy.get(key(ss.id))
        if busy is None:
            return
        if instance_ids is None:
            busy.model = False
        else:
            busy.instances -= set(instance_ids)
        if not busy.model and not busy.instances:
            self.busy.pop(key(ss.id), None)

    # --- create / update ---------------------------------------------------------------------------------------
    def check_network_refs(self, profile: dict) -> None:
        network = self.network
        checks = ((network.require_subnet, lambda ipc: [s] if (s := subnet_of(ipc)) else []),
                  (network.require_backend_pool, lambda ipc: refs(ipc, "loadBalancerBackendAddressPools")),
                  (network.require_nat_pool, lambda ipc: refs(ipc, "loadBalancerInboundNatPools")))
        for _, ipc in ip_configurations(profile):
            for check, found in checks:
                for ref in found(ipc):
                    check(ref)
        for nic in (profile.get("networkProfile") or {}).get("networkInterfaceConfigurations") or []:
            if nsg_of(nic):
                network.require_nsg(nsg_of(nic))

    def check_nat_capacity(self, subscription: str, resource_group: str, name: str, existing: ScaleSet | None,
                           body: dict) -> None:
        """Azure blocks a write whose instances would get no port of a NAT pool the model references (port =
        range start + instance id; new and overprovisioned instances included) or of a V2 inbound NAT rule on a
        pool they join (one port per member)."""
        current = [vm for vm in existing.sorted_vms() if vm.provisioning_state != "Deleting"] if existing else []
        capacity = int((body.get("sku") or {}).get("capacity") or 0)
        missing = capacity - len(current)
        overprovision = body["properties"].get("overprovision", True) is not False
        extra = max(1, math.ceil(missing * OVERPROVISION_SHARE)) if overprovision and missing > 0 else 0
        next_instance = existing.next_instance if existing else 0
        highest = max([int(vm.instance_id) for vm in current if vm.instance_id.isdigit()]
                      + ([next_instance + missing + extra - 1] if missing > 0 else []), default=-1)
        profile = body["properties"]["virtualMachineProfile"]
        nat_pools = [r for _, ipc in ip_configurations(profile) for r in refs(ipc, "loadBalancerInboundNatPools")]
        pools = [r for _, ipc in ip_configurations(profile) for r in refs(ipc, "loadBalancerBackendAddressPools")]
        mine = f"{resource_group}/{name}/".lower()
        after = {key(p): len([m for m in self.network.pool_members(p) if not m.instance_key.startswith(mine)])
                 + max(capacity, len(current)) + extra for p in pools}
        self.network.check_nat_capacity(nat_pool_ids=nat_pools, pool_ids=pools, highest_instance=highest,
                                        members_after=after)

    def write_scale_set(self, subscription: str, resource_group: str, name: str, body: dict, *,
                        patch: bool, headers: dict[str, str] | None = None) -> tuple[ScaleSet, bool, Plan]:
        self.cloud.resources.require(subscription, resource_group)
        existing = self.find_scale_set(subscription, resource_group, name)
        if patch and existing is None:
            raise PatchResourceNotFound(f"The Resource 'Microsoft.Compute/virtualMachineScaleSets/{name}' under "
                                        f"resource group '{resource_group}' was not found. For more details please "
                                        f"go to https://aka.ms/ARMResourceNotFoundFix")
        check_preconditions(headers or {}, existing)
        if existing is not None:
            self.check_idle(existing)
        if patch:
            body = merge_patch(self.as_body(existing), body)
        body = copy.deepcopy(body)
        reference = v.dig(body, "properties.virtualMachineProfile.storageProfile.imageReference")
        definition = self.images.definition_of(reference) if isinstance(reference, dict) else None
        specialized = definition is not None and str(definition.properties.get("osState", "")).lower() == "specialized"
        v.validate_scale_set(body, existing, specialized=specialized)
        props = body["properties"]
        props["orchestrationMode"] = v.orchestration_mode(props)
        profile = props["virtualMachineProfile"]
        if existing is not None and "osProfile" in profile:   # secrets are write-only: an update keeps them
            old_os = existing.profile.get("osProfile") or {}
            for secret in ("adminPassword", "customData"):
                if secret in old_os and secret not in profile["osProfile"]:
                    profile["osProfile"][secret] = old_os[secret]
        image = self.images.resolve(profile["storageProfile"]["imageReference"], body["location"])
        trusted.check_scale_set(profile, **self.images.security_facts(profile["storageProfile"]["imageReference"]),
                                existing_profile=existing.profile if existing is not None else None)
        self.check_network_refs(profile)
        self.check_nat_capacity(subscription, resource_group, name, existing, body)
        for computed in ("provisioningState", "uniqueId", "timeCreated"):
            props.pop(computed, None)
        profile.pop("timeCreated", None)
        created = existing is None
        if created:
            ss = ScaleSet(subscription, resource_group, name, body["location"], body["sku"], props,
                          tags=body.get("tags") or {}, zones=body.get("zones"), identity=body.get("identity"),
                          plan=body.get("plan"))
            self.scale_sets[key(ss.id)] = ss
            model_changed = False
        else:
            ss = existing
            model_changed = canonical(ss.profile) != canonical(profile)
            ss.sku, ss.properties, ss.tags = body["sku"], props, body.get("tags") or {}
            ss.zones, ss.identity = body.get("zones"), body.get("identity")
            if model_changed:
                ss.model_version += 1
            ss.provisioning_state = "Updating"
            ss.etag += 1
        plan = self._plan(ss, image, model_changed)
        self._hold(ss)
        self.cloud.changed()
        return ss, created, plan

    def as_body(self, ss: ScaleSet) -> dict:
        body = {"location": ss.location, "tags": ss.tags, "sku": ss.sku, "properties": ss.properties}
        for name in ("zones", "identity", "plan"):
            if getattr(ss, name) is not None:
                body[name] = getattr(ss, name)
        return copy.deepcopy(body)

    def _plan(self, ss: ScaleSet, image: dict, model_changed: bool) -> Plan:
        plan = Plan()
        current = [vm for vm in ss.sorted_vms() if vm.provisioning_state != "Deleting"]
        missing = ss.capacity - len(current)
        if missing > 0:
            ids, ss.next_instance = allocate_ids(ss.next_instance, missing, overprovision=ss.overprovision,
                                                 rng=self.rng)
            plan.new = [self.new_vm(ss, i, image) for i in ids]
        elif missing < 0:
            rules = (ss.properties.get("scaleInPolicy") or {}).get("rules") or ["Default"]
            plan.victims = scale_in_victims(current, -missing, rules)
            for vm in plan.victims:
                vm.provisioning_state = "Deleting"
        if model_changed and ss.upgrade_mode in ("Automatic", "Rolling"):
            plan.upgrades = [vm for vm in current if vm not in plan.victims]
        return plan

    async def apply(self, ss: ScaleSet, plan: Plan) -> None:
        try:
            await _all(self.remove(ss, vm) for vm in plan.victims)
            await _all(self.boot(ss, vm) for vm in plan.new)
            if ss.upgrade_mode == "Rolling":   # batches of 20%, one after another
                size = max(1, len(plan.upgrades) // 5)
                for start in range(0, len(plan.upgrades), size):
                    await _all(self.upgrade(ss, vm) for vm in plan.upgrades[start:start + size])
            else:
                await _all(self.upgrade(ss, vm) for vm in plan.upgrades)
            ss.provisioning_state = "Succeeded"
        finally:
            self.release(ss)
            self.cloud.changed()

    def failed(self, ss: ScaleSet, instance_ids: list[str] | None = None) -> None:
        if instance_ids is None:
            ss.provisioning_state = "Failed"
        self.release(ss, instance_ids)
        self.cloud.changed()

    # --- delete -------------------------------------------------------------------------------------------
    def begin_delete(self, ss: ScaleSet) -> None:
        if ss.provisioning_state == "Deleting":   # already going: come back when it is gone
            raise Conflict("The request failed due to conflict with a concurrent request. To resolve it, please "
                           "refer to https://aka.ms/activitylog to get more details on the conflicting requests.")
        self.check_idle(ss)
        self._hold(ss)
        ss.provisioning_state = "Deleting"
        self.cloud.changed()

    async def finish_delete(self, ss: ScaleSet) -> None:
        try:
            await _all(self.remove(ss, vm) for vm in ss.sorted_vms())
            self.scale_sets.pop(key(ss.id), None)
        finally:
            self.release(ss)
            self.membership_changed()

    # --- instance actions -------------------------------------------------------------------------------------
    def require_uniform(self, ss: ScaleSet, operation: str) -> None:
        """Scale-set VM operations exist only for Uniform scale sets; Flexible ones expose plain VMs instead."""
        if v.orchestration_mode(ss.properties) == "Flexible":
            raise OperationNotAllowed(f"Operation '{operation}' is not allowed on Virtual Machine Scale Set "
                                      f"'{ss.name}' since it uses Flexible orchestration mode; use the Virtual "
                                      f"Machine APIs on its virtual machines instead.")

    def begin_action(self, ss: ScaleSet, action: str, body: dict, *, single: str | None = None) -> list[str]:
        if single is not None or action != "delete":   # batch delete is the one Flexible supports
            self.require_uniform(ss, ACTION_NAMES.get(action, action))
        if single is not None:
            self.instance(ss, single)
            ids = [single]
        else:
            raw = body.get("instanceIds")
            if raw is None and action == "manualupgrade":
                raise v.missing("instanceIds")
            if raw is not None and not isinstance(raw, list):
                raise v.invalid("instanceIds", raw)
            live = [vm.instance_id for vm in ss.sorted_vms() if vm.provisioning_state != "Deleting"]
            ids = live if raw is None else [str(i).strip() for i in raw]
            for instance_id in ids:
                vm = ss.vm(instance_id)
                if vm is None or vm.provisioning_state == "Deleting":
                    raise InvalidParameter(f"The provided instanceId {instance_id} is not an active Virtual Machine "
                                           f"Scale Set VM instanceId.", details=[{"target": "instanceIds"}])
        ids = list(dict.fromkeys(ids))
        self.check_idle(ss, ids)
        self._hold(ss, ids)
        if action == "delete":
            for instance_id in ids:
                ss.vms[instance_id].provisioning_state = "Deleting"
            ss.sku = {**ss.sku, "capacity": max(0, ss.capacity - len(ids))}
        self.cloud.changed()
        return ids

    async def run_action(self, ss: ScaleSet, action: str, ids: list[str]) -> None:
        steps = {"manualupgrade": self.upgrade, "reimage": self.reimage, "reimageall": self.reimage,
                 "restart": self.restart, "delete": self.remove, "poweroff": self.halt, "start": self.boot}
        step = steps[action]
        try:
            await _all(step(ss, ss.vms[i]) for i in ids if i in ss.vms)
        finally:
            self.release(ss, ids)
            self.cloud.changed()

"""Writes to scale sets: create/update (capacity, model, upgrade policy), delete, and the instance actions.

Handlers call `write_scale_set` / `begin_action` / `begin_delete` synchronously (validation, ids, placement
happen before the reply) and run the returned work as the long-running operation. One operation at a time
per scale set; instance actions on disjoint instances may overlap, as on Azure.
"""

from __future__ import annotations

import asyncio
import copy
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..core.errors import Conflict, InvalidParameter, ResourceNotFound
from ..core.ids import key
from . import validation as v
from .scalesets import (ScaleSet, Vm, allocate_ids, canonical, ip_configurations, merge_patch, nsg_of, refs,
                        scale_in_victims, subnet_of)

if TYPE_CHECKING:
    from ..cloud import Cloud



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
    def check_idle(self, ss: ScaleSet, instance_ids: list[str] | None = None) -> None:
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
        network = self.cloud.network
        checks = (("require_subnet", lambda ipc: [s] if (s := subnet_of(ipc)) else []),
                  ("require_backend_pool", lambda ipc: refs(ipc, "loadBalancerBackendAddressPools")),
                  ("require_nat_pool", lambda ipc: refs(ipc, "loadBalancerInboundNatPools")))
        for _, ipc in ip_configurations(profile):
            for method, found in checks:
                check = getattr(network, method, None)
                if check is None:
                    continue
                for ref in found(ipc):
                    check(ref)
        require_nsg = getattr(network, "require_nsg", None)
        for nic in (profile.get("networkProfile") or {}).get("networkInterfaceConfigurations") or []:
            if require_nsg is not None and nsg_of(nic):
                require_nsg(nsg_of(nic))

    def write_scale_set(self, subscription: str, resource_group: str, name: str, body: dict, *,
                        patch: bool) -> tuple[ScaleSet, bool, Plan]:
        self.cloud.resources.require(subscription, resource_group)
        existing = self.find_scale_set(subscription, resource_group, name)
        if patch and existing is None:
            self.scale_set(subscription, resource_group, name)
        if existing is not None:
            self.check_idle(existing)
        if patch:
            body = merge_patch(self.as_body(existing), body)
        body = copy.deepcopy(body)
        v.validate_scale_set(body, existing)
        props = body["properties"]
        profile = props["virtualMachineProfile"]
        if existing is not None:   # secrets are write-only: an update that omits them keeps them
            old_os = existing.profile.get("osProfile") or {}
            for secret in ("adminPassword", "customData"):
                if secret in old_os and secret not in profile["osProfile"]:
                    profile["osProfile"][secret] = old_os[secret]
        image = self.images.resolve(profile["storageProfile"]["imageReference"], body["location"])
        self.check_network_refs(profile)
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
    def begin_action(self, ss: ScaleSet, action: str, body: dict, *, single: str | None = None) -> list[str]:
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

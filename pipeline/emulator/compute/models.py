"""Microsoft.Compute state and behaviour: scale sets with real instance processes, managed images, galleries.

ComputeBackend = ScaleSetOperations (writes) + InstanceRuntime (per-instance steps) + what this module adds:
the seam the network reads (pool_members / nat_members / scale_sets_using), persistence, lifecycle, the
control API's describe/kill.
"""

from __future__ import annotations

import asyncio
import logging
import random
import shutil
from typing import TYPE_CHECKING

from ..core.ids import key, same
from ..core.seams import NetworkForCompute
from ..runtime.images import ImageStore
from ..runtime.instances import InstanceProcess
from ..runtime.members import Member
from .health import HealthProber
from .images import ImageCatalog
from .instances import InstanceRuntime
from .scaleset_ops import Busy, ScaleSetOperations
from .scalesets import ScaleSet, Vm, ip_configurations, nsg_of, referenced_ids, refs, subnet_of, under
from .views import nic_id

if TYPE_CHECKING:
    from ..cloud import Cloud

log = logging.getLogger(__name__)


class ComputeBackend(ScaleSetOperations, InstanceRuntime):
    def __init__(self, cloud: "Cloud", *, network: NetworkForCompute):
        self.cloud = cloud
        self.network = network   # the seam compute calls (core/seams.py)
        self.images = ImageCatalog(cloud)
        self.image_store = ImageStore(cloud.options.state_dir, lambda: self.cloud.options.blob_connection_string)
        self.scale_sets: dict[str, ScaleSet] = {}
        self.processes: dict[tuple[str, str], InstanceProcess] = {}
        self.busy: dict[str, Busy] = {}
        self.rng = random.Random(cloud.options.seed)
        self.prober = HealthProber(self)

    # --- the seam the network reads ----------------------------------------------------------------------
    def _members(self, collection: str, target_id: str) -> list[Member]:
        out = []
        for ss in sorted(self.scale_sets.values(), key=lambda s: key(s.id)):
            for vm in ss.sorted_vms():
                for nic, ipc in ip_configurations(vm.model):
                    if any(same(ref, target_id) for ref in refs(ipc, collection)):
                        out.append(Member(
                            ip_configuration_id=f"{nic_id(ss, vm, nic['name'])}/ipConfigurations/{ipc['name']}",
                            address=vm.address or "", running=self.app_alive(ss, vm),
                            instance_key=f"{ss.resource_group}/{ss.name}/{vm.instance_id}".lower(),
                            subnet_id=subnet_of(ipc) or "", nsg_id=nsg_of(nic) or ""))
        return out

    def pool_members(self, pool_id: str) -> list[Member]:
        """Every instance whose applied model puts an ip configuration in this backend pool (stable order)."""
        return self._members("loadBalancerBackendAddressPools", pool_id)

    def nat_members(self, nat_pool_id: str) -> list[Member]:
        return self._members("loadBalancerInboundNatPools", nat_pool_id)

    def nics_with_nsg(self, nsg_id: str) -> list[str]:
        """NIC ids of the instances whose applied model puts this network security group on a NIC."""
        return [nic_id(ss, vm, nic["name"]) for ss in sorted(self.scale_sets.values(), key=lambda s: key(s.id))
                for vm in ss.sorted_vms() for nic in (vm.model.get("networkProfile") or {}).get(
                    "networkInterfaceConfigurations") or [] if same(nsg_of(nic) or "", nsg_id)]

    def scale_sets_using(self, resource_id: str) -> list[str]:
        """Scale sets whose model or any instance's applied model references the resource (an LB, pool, NAT pool,
        vnet or subnet: id prefix match, case-insensitive)."""
        users = []
        for ss in sorted(self.scale_sets.values(), key=lambda s: key(s.id)):
            models = [ss.profile] + [vm.model for vm in ss.vms.values()]
            if any(under(ref, resource_id) for model in models for ref in referenced_ids(model)):
                users.append(ss.id)
        return users

    # --- persistence ---------------------------------------------------------------------------------------
    def dump(self) -> dict:
        return {"images": self.images.dump(), "scale_sets": [ss.dump() for ss in self.scale_sets.values()],
                "next_seed": self.rng.random()}

    def load(self, data: dict) -> None:
        self.images.load(data.get("images", []))
        self.scale_sets = {}
        self.busy = {}
        self.processes = {}
        self.prober.forget()
        for raw in data.get("scale_sets", []):
            ss = ScaleSet.load(raw)
            for vm in list(ss.vms.values()):
                if vm.provisioning_state == "Deleting":
                    del ss.vms[vm.instance_id]
                    continue
                if vm.address:
                    self.cloud.addresses.instances.claim(vm.address)
            if ss.provisioning_state == "Deleting":
                for vm in ss.vms.values():
                    self.cloud.addresses.instances.release(vm.address)
                continue
            self.scale_sets[key(ss.id)] = ss
        if "next_seed" in data:
            self.rng.seed(data["next_seed"])

    # --- lifecycle -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Bring back the instances that were running (or booting) when the state was saved."""
        boots = []
        for ss in self.scale_sets.values():
            for vm in ss.sorted_vms():
                if vm.power_state in ("running", "starting") and vm.provisioning_state != "Failed":
                    boots.append(self._reboot(ss, vm))
            if ss.provisioning_state in ("Creating", "Updating"):
                ss.provisioning_state = "Succeeded"
        await asyncio.gather(*boots)
        self.prober.start()

    async def _reboot(self, ss: ScaleSet, vm: Vm) -> None:
        try:
            await self.boot(ss, vm)
        except Exception as err:  # one broken image must not keep the cloud from starting
            log.warning("instance %s of %s did not come back: %s", vm.instance_id, ss.name, err)

    async def stop(self) -> None:
        await self.prober.stop()
        await self.stop_all_processes()

    async def delete_group(self, subscription: str, resource_group: str) -> None:
        for ss in [s for s in self.scale_sets.values() if key(s.resource_group) == key(resource_group)]:
            for vm in ss.sorted_vms():
                proc = self.processes.pop((key(ss.id), vm.instance_id), None)
                if proc is not None:
                    await proc.stop()
                self.cloud.addresses.instances.release(vm.address)
            self.scale_sets.pop(key(ss.id), None)
            self.busy.pop(key(ss.id), None)
            shutil.rmtree(self.cloud.options.state_dir / "instances" / key(resource_group), ignore_errors=True)
        for item in [i for i in self.images.items.values() if key(i.resource_group) == key(resource_group)]:
            self.images.remove(item)
        self.membership_changed()

    # --- control API -------------------------------------------------------------------------------------------
    def describe_instances(self) -> list[dict]:
        out = []
        for ss in sorted(self.scale_sets.values(), key=lambda s: key(s.id)):
            for vm in ss.sorted_vms():
                proc = self.process(ss, vm)
                out.append({"resource_group": ss.resource_group, "vm_scale_set": ss.name,
                            "instance_id": vm.instance_id, "computer_name": vm.computer_name,
                            "address": vm.address, "port": vm.image.get("port"),
                            "pid": proc.pid if proc and proc.alive else None, "app_alive": self.app_alive(ss, vm),
                            "power_state": vm.power_state, "provisioning_state": vm.provisioning_state,
                            "health": vm.health, "latest_model_applied": ss.latest_model_applied(vm),
                            "image": vm.image.get("version_id") or vm.image.get("reference"),
                            "app_version": vm.image.get("app_version"),
                            "update_domain": vm.update_domain, "fault_domain": vm.fault_domain,
                            "console_log": str(self.workdir(ss, vm) / "console.log")})
        return out

    async def kill_instance(self, resource_group: str, vm_scale_set: str, instance_id: str) -> None:
        ss = self.scale_set(self.cloud.options.subscription_id, resource_group, vm_scale_set)
        self.kill(ss, self.instance(ss, instance_id))

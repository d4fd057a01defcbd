"""What happens to one scale-set instance: boot its process, stop it, kill it, reimage, upgrade, remove.

A mixin of ComputeBackend, which owns `processes` (runtime only) and the scale sets (persisted).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import ArmError
from ..core.ids import key
from ..core.seams import NetworkForCompute
from ..core.operations import utcnow
from ..runtime.images import ImageError
from ..runtime.instances import InstanceProcess, LaunchSpec
from .health import is_rich
from .scalesets import ScaleSet, Vm, app_health_extension, computer_name, place, snapshot

if TYPE_CHECKING:
    from ..cloud import Cloud

log = logging.getLogger(__name__)


def decode_custom_data(profile: dict) -> bytes | None:
    import base64
    import binascii

    raw = (profile.get("osProfile") or {}).get("customData")
    if not raw:
        return None
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return raw.encode()


class InstanceRuntime:
    network: NetworkForCompute   # set by ComputeBackend (core/seams.py)
    cloud: "Cloud"
    processes: dict[tuple[str, str], InstanceProcess]

    # --- helpers -------------------------------------------------------------------------------------------
    def workdir(self, ss: ScaleSet, vm: Vm) -> Path:
        return (self.cloud.options.state_dir / "instances" / key(ss.resource_group) / key(ss.name)
                / vm.instance_id)

    def process(self, ss: ScaleSet, vm: Vm) -> InstanceProcess | None:
        return self.processes.get((key(ss.id), vm.instance_id))

    def app_alive(self, ss: ScaleSet, vm: Vm) -> bool:
        proc = self.process(ss, vm)
        return proc is not None and proc.alive and vm.power_state == "running"

    def membership_changed(self) -> None:
        self.network.membership_changed()
        self.cloud.changed()

    def new_vm(self, ss: ScaleSet, instance_id: str, image: dict) -> Vm:
        ud, fd = place(list(ss.vms.values()), update_domains=self.cloud.options.update_domains,
                       fault_domains=int(ss.properties.get("platformFaultDomainCount")
                                         or self.cloud.options.fault_domains))
        prefix = (ss.profile.get("osProfile") or {}).get("computerNamePrefix") or ss.name
        vm = Vm(instance_id=instance_id, computer_name=computer_name(prefix, instance_id), update_domain=ud,
                fault_domain=fd, model=snapshot(ss.profile), model_version=ss.model_version, image=image,
                address=self.cloud.addresses.instances.allocate())
        ss.vms[instance_id] = vm
        return vm

    def _set(self, vm: Vm, *, provisioning: str | None = None, power: str | None = None) -> None:
        if provisioning:
            vm.provisioning_state = provisioning
        if power:
            vm.power_state = power
        vm.status_time = utcnow()
        self.cloud.changed()

    # --- the steps -------------------------------------------------------------------------------------------
    async def boot(self, ss: ScaleSet, vm: Vm, *, fresh_disk: bool = False) -> None:
        """Fetch the instance's image and start its process; provisioning ends when the process has started."""
        if vm.provisioning_state != "Creating":
            self._set(vm, provisioning="Updating")
        self._set(vm, power="starting")
        vm.health = "initializing" if is_rich(app_health_extension(vm.model)) else "unknown"
        if self.cloud.options.vm_create_seconds:
            await asyncio.sleep(self.cloud.options.vm_create_seconds)
        try:
            image = await self.image_store.fetch(vm.image["uri"])
        except ImageError as err:
            self._set(vm, provisioning="Failed", power="stopped")
            raise ArmError(f"VM '{vm.computer_name}' could not be provisioned from its image: {err}",
                           code="OSProvisioningClientError", status=200) from None
        workdir = self.workdir(ss, vm)
        if fresh_disk and workdir.exists():
            shutil.rmtree(workdir, ignore_errors=True)
        spec = LaunchSpec(image=image, address=vm.address, instance_id=vm.instance_id,
                          computer_name=vm.computer_name, workdir=workdir,
                          custom_data=decode_custom_data(vm.model))
        old = self.processes.pop((key(ss.id), vm.instance_id), None)
        if old is not None:
            await old.stop()
        proc = InstanceProcess(spec)
        proc.start()
        self.processes[(key(ss.id), vm.instance_id)] = proc
        vm.generation += 1
        vm.image = {**vm.image, "app_version": image.app_version, "port": image.port}
        self._set(vm, provisioning="Succeeded", power="running")
        self.membership_changed()

    async def halt(self, ss: ScaleSet, vm: Vm) -> None:
        proc = self.processes.pop((key(ss.id), vm.instance_id), None)
        if vm.power_state == "running":
            self._set(vm, power="stopping")
        if proc is not None:
            await proc.stop()
        self._set(vm, power="stopped")
        self.membership_changed()

    def kill(self, ss: ScaleSet, vm: Vm) -> None:
        """The VM dies: its process is killed at once, it reads stopped and unhealthy."""
        proc = self.processes.pop((key(ss.id), vm.instance_id), None)
        if proc is not None:
            proc.kill()
        vm.health = "unhealthy"
        self._set(vm, power="stopped")
        self.membership_changed()

    async def restart(self, ss: ScaleSet, vm: Vm) -> None:
        await self.halt(ss, vm)
        await self.boot(ss, vm)

    async def reimage(self, ss: ScaleSet, vm: Vm) -> None:
        """Azure reimages to the instance's existing OS image version, not to the scale set's latest model."""
        await self.halt(ss, vm)
        await self.boot(ss, vm, fresh_disk=True)

    async def upgrade(self, ss: ScaleSet, vm: Vm) -> None:
        """Bring the instance to the scale set's current model (manualupgrade, or Automatic/Rolling policy)."""
        image = self.images.resolve((ss.profile.get("storageProfile") or {}).get("imageReference"), ss.location)
        await self.halt(ss, vm)
        vm.model, vm.model_version, vm.image = snapshot(ss.profile), ss.model_version, image
        prefix = (vm.model.get("osProfile") or {}).get("computerNamePrefix") or ss.name
        vm.computer_name = computer_name(prefix, vm.instance_id)
        await self.boot(ss, vm, fresh_disk=True)

    async def remove(self, ss: ScaleSet, vm: Vm) -> None:
        self._set(vm, provisioning="Deleting")
        await self.halt(ss, vm)
        self.cloud.addresses.instances.release(vm.address)
        ss.vms.pop(vm.instance_id, None)
        shutil.rmtree(self.workdir(ss, vm), ignore_errors=True)
        self.membership_changed()

    async def stop_all_processes(self) -> None:
        procs, self.processes = list(self.processes.values()), {}
        await asyncio.gather(*(p.stop(grace=3.0) for p in procs), return_exceptions=True)

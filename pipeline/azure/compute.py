"""Scale-set calls: create a fleet, read its instances with their health, delete it, read boot diagnostics;
for in-place rollouts, point the model at another image and manualupgrade chosen instances."""

from __future__ import annotations

import logging
import time
from typing import Callable

from pipeline.azure.clients import Clients
from pipeline.azure.errors import (authorization_message, azure_call, is_not_found, is_transient_conflict,
                                   none_if_missing, status_of)
from pipeline.errors import AzureError
from pipeline.facts import Instance, ScaleSet
from pipeline.retry import on_throttle, while_busy

log = logging.getLogger(__name__)


def _status(statuses, prefix: str) -> str:
    for status in statuses or []:
        code = status.code or ""
        if code.startswith(prefix + "/"):
            return code.split("/", 1)[1].lower()
    return "unknown"


def _instance(scale_set_id: str, vm) -> Instance:
    view = vm.instance_view
    statuses = view.statuses if view else []
    health = ""
    if view and view.vm_health and view.vm_health.status:
        health = (view.vm_health.status.code or "").split("/", 1)[-1].lower()
    nic_configs = []
    profile = vm.network_profile_configuration
    if profile and profile.network_interface_configurations:
        nic_configs = profile.network_interface_configurations
    nic = nic_configs[0].name if nic_configs else "nic"
    ipc = nic_configs[0].ip_configurations[0].name if nic_configs and nic_configs[0].ip_configurations else "ipconfig"
    reference = vm.storage_profile.image_reference if vm.storage_profile else None
    return Instance(
        instance_id=vm.instance_id, name=vm.name, computer_name=(vm.os_profile.computer_name if vm.os_profile else ""),
        provisioning=(vm.provisioning_state or _status(statuses, "ProvisioningState")).lower(),
        power=_status(statuses, "PowerState"), health=health,
        latest_model=bool(vm.latest_model_applied),
        update_domain=view.platform_update_domain if view else None,
        ip_configuration_id=f"{scale_set_id}/virtualMachines/{vm.instance_id}/networkInterfaces/{nic}"
                            f"/ipConfigurations/{ipc}",
        image_id=(reference.id or "") if reference else "",
    )


def create_scale_set(clients: Clients, name: str, body: dict) -> dict:
    """PUT (create or converge) and wait. A transient 409 (an operation a killed run started still runs on it):
    wait for that to end, then PUT again; a permanent 409 (a property Azure does not let change) fails at once."""
    s = clients.settings
    with azure_call(f"creating scale set {name}",
                    missing="check that the image version exists (`invoke status`) and run `invoke infra`"):
        return while_busy(is_busy=is_transient_conflict)(lambda: clients.compute.virtual_machine_scale_sets.begin_create_or_update(
            s.resource_group, name, body).result()).as_dict()


def find_scale_set(clients: Clients, name: str) -> dict | None:
    """The scale set as REST JSON, or None when it does not exist."""
    with azure_call(f"reading scale set {name}"):
        found = none_if_missing(
            lambda: clients.compute.virtual_machine_scale_sets.get(clients.settings.resource_group, name))
    return found.as_dict() if found is not None else None


def list_scale_sets(clients: Clients) -> list[dict]:
    s = clients.settings
    with azure_call(f"listing scale sets in {s.resource_group}", missing="run `invoke infra` first"):
        return [v.as_dict() for v in clients.compute.virtual_machine_scale_sets.list(s.resource_group)]


def delete_scale_set(clients: Clients, name: str) -> bool:
    """Delete and wait; False when it was already gone (deleting is idempotent)."""
    from azure.core.exceptions import HttpResponseError

    s = clients.settings
    try:
        while_busy(is_busy=is_transient_conflict)(
            lambda: clients.compute.virtual_machine_scale_sets.begin_delete(s.resource_group, name).result())
        return True
    except HttpResponseError as err:
        if is_not_found(err):
            return False
        with azure_call(f"deleting scale set {name}"):
            raise


def instances(clients: Clients, name: str, scale_set_id: str, *, sdk_retries_on_429: bool = True) -> list[Instance]:
    """The fleet's instances with their instance views. Pollers pass `sdk_retries_on_429=False`: a 429 then
    raises Throttled at once and the poller waits its Retry-After within the step's timeout (the SDK's own
    retries would wait past it: Azure throttles this listing with Retry-After of minutes)."""
    s = clients.settings
    options = {} if sdk_retries_on_429 else {"retry_status": 0}
    with azure_call(f"listing instances of {name}", missing="the fleet is gone; run `invoke status`"):
        vms = clients.compute.virtual_machine_scale_set_vms.list(s.resource_group, name, expand="instanceView",
                                                                 **options)
        return sorted((_instance(scale_set_id, vm) for vm in vms), key=lambda i: int(i.instance_id))


def boot_log_tail(clients: Clients, name: str, instance_id: str, *, lines: int = 15) -> str:
    """The last lines of an instance's serial console (boot diagnostics); '' when unavailable, and the one-line
    reason when the role does not allow reading it (so the missing action shows under the step's error)."""
    from azure.core.exceptions import AzureError as SdkError
    from azure.storage.blob import BlobClient

    try:
        data = clients.compute.virtual_machine_scale_set_vms.retrieve_boot_diagnostics_data(
            clients.settings.resource_group, name, instance_id)
        uri = data.serial_console_log_blob_uri
        if not uri:
            return ""
        text = BlobClient.from_blob_url(uri).download_blob().readall().decode("utf-8", "replace")
    except SdkError as err:
        denied = authorization_message(f"boot log of {name}/{instance_id} unavailable", err)
        if denied:
            return denied
        log.debug("boot diagnostics of %s/%s unavailable: %s", name, instance_id, type(err).__name__)
        return ""
    return "\n".join(text.splitlines()[-lines:])


def model_image_id(scale_set: dict) -> str:
    """The imageReference id of a scale set's model (as returned by find_scale_set)."""
    return ScaleSet(scale_set).model_image


def set_image(clients: Clients, name: str, image_id: str, *, sleep: Callable[[float], None] = time.sleep) -> dict:
    """PATCH the scale set model's imageReference (instances keep running the old one until manualupgrade).
    A PATCH: the SDK does not retry its 429s, so we do, honouring Retry-After."""
    s = clients.settings
    body = {"properties": {"virtualMachineProfile": {"storageProfile": {"imageReference": {"id": image_id}}}}}
    with azure_call(f"setting the image of scale set {name}", missing="the fleet is gone; run `invoke status`"):
        return on_throttle(sleep=sleep)(lambda: clients.compute.virtual_machine_scale_sets.begin_update(
            s.resource_group, name, body).result()).as_dict()


def manual_upgrade(clients: Clients, name: str, instance_ids: list[str], *,
                   sleep: Callable[[float], None] = time.sleep) -> None:
    """POST manualupgrade for exactly `instance_ids` and wait for the operation. A 429 on the POST (which the
    SDK does not retry) is retried honouring Retry-After; a transient 409 (an operation still running on those
    instances, e.g. one a killed run started) is retried until that operation ends (pipeline/retry.py `while_busy`). A failed operation is logged, not raised: the health gate
    that follows sees the instances' state and decides."""
    from azure.core.exceptions import HttpResponseError

    s = clients.settings
    vmss = clients.compute.virtual_machine_scale_sets
    with azure_call(f"upgrading instances {', '.join(instance_ids)} of {name}",
                    missing="the fleet or an instance is gone; run `invoke status`"):
        poller = while_busy(is_busy=is_transient_conflict, sleep=sleep)(lambda: on_throttle(sleep=sleep)(
            lambda: vmss.begin_update_instances(s.resource_group, name, {"instanceIds": list(instance_ids)})))
    try:
        poller.result()
    except HttpResponseError as err:
        denied = authorization_message(f"upgrading instances {', '.join(instance_ids)} of {name}", err)
        if denied:   # polling refused: the health gate cannot tell, the role must be fixed
            raise AzureError(denied) from err
        log.warning("manualupgrade of %s %s ended with %s; the health gate decides", name, instance_ids,
                    status_of(err) or type(err).__name__)

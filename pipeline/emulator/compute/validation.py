"""Request checks worded as Azure's Compute resource provider words them."""

from __future__ import annotations

import re
from typing import Any

from ..core.errors import ArmError, InvalidParameter
from ..core.shapes import check_shapes

GALLERY_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._]{0,78}[A-Za-z0-9])?$")
CHILD_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,78}[A-Za-z0-9])?$")
VERSION_NAME = re.compile(r"^(\d{1,9})\.(\d{1,9})\.(\d{1,9})$")
UPGRADE_MODES = ("Manual", "Automatic", "Rolling")


def missing(path: str) -> InvalidParameter:
    return InvalidParameter(f"Required parameter '{path}' is missing (null).", details=[{"target": path}])


def invalid(path: str, value: Any, why: str = "") -> InvalidParameter:
    return InvalidParameter(f"The value '{value}' of parameter '{path}' is not allowed.{(' ' + why) if why else ''}",
                            details=[{"target": path}])


def dig(body: Any, path: str) -> Any:
    node = body
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def require(body: dict, path: str, *, report_as: str | None = None) -> Any:
    value = dig(body, path)
    if value is None or value == "" or value == []:
        raise missing(report_as or path)
    return value


def require_location(body: dict) -> str:
    location = body.get("location")
    if not location or not isinstance(location, str):
        raise ArmError("The location property is required for this definition.", code="LocationRequired")
    return location


def object_body(body: Any, what: str) -> dict:
    if not isinstance(body, dict):
        raise ArmError(f"The request content was invalid and could not be deserialized: '{what}' must be an "
                       f"object.", code="InvalidRequestContent")
    return body


def not_changed(old: Any, new: Any, path: str) -> None:
    if new is not None and old is not None and new != old:
        raise ArmError(f"Changing property '{path}' is not allowed.", code="PropertyChangeNotAllowed", status=409,
                       details=[{"target": path}])


def check_gallery_name(name: str) -> None:
    if not GALLERY_NAME.match(name):
        raise InvalidParameter(f"The gallery name '{name}' is invalid. The name can contain only alphanumeric "
                               f"characters, underscores and periods, cannot start or end with a period, and is "
                               f"at most 80 characters long.", details=[{"target": "galleryName"}])


def check_child_name(name: str, what: str) -> None:
    if not CHILD_NAME.match(name):
        raise InvalidParameter(f"The {what} name '{name}' is invalid. The name can contain only alphanumeric "
                               f"characters, underscores, hyphens and periods, cannot start or end with a "
                               f"special character, and is at most 80 characters long.",
                               details=[{"target": what}])


def check_version_name(name: str) -> None:
    match = VERSION_NAME.match(name)
    if not match or any(int(p) > 2**31 - 1 for p in match.groups()):
        raise InvalidParameter(f"The gallery image version name '{name}' is invalid. It must follow the "
                               f"Major(int32).Minor(int32).Patch(int32) format, e.g. 1.0.0.",
                               details=[{"target": "galleryImageVersionName"}])


# --- JSON types of what the emulator reads ------------------------------------------------------------------------
_VM = "properties.virtualMachineProfile"
_IPC = _VM + ".networkProfile.networkInterfaceConfigurations[].properties.ipConfigurations[]"
_EXT = _VM + ".extensionProfile.extensions[]"
SCALE_SET_SHAPES: dict[str, type] = {
    "sku": dict, "sku.name": str, "sku.tier": str, "sku.capacity": int, "properties": dict,
    "properties.upgradePolicy": dict, "properties.upgradePolicy.mode": str, "properties.overprovision": bool,
    "properties.platformFaultDomainCount": int, "properties.singlePlacementGroup": bool,
    "properties.scaleInPolicy": dict, "properties.scaleInPolicy.rules": list, "properties.scaleInPolicy.rules[]": str,
    _VM: dict, _VM + ".userData": str,
    _VM + ".storageProfile": dict, _VM + ".storageProfile.imageReference": dict,
    _VM + ".storageProfile.imageReference.id": str, _VM + ".storageProfile.osDisk": dict,
    _VM + ".osProfile": dict, _VM + ".osProfile.computerNamePrefix": str, _VM + ".osProfile.adminUsername": str,
    _VM + ".osProfile.adminPassword": str, _VM + ".osProfile.customData": str,
    _VM + ".osProfile.linuxConfiguration": dict, _VM + ".osProfile.linuxConfiguration.disablePasswordAuthentication":
        bool, _VM + ".osProfile.linuxConfiguration.ssh": dict, _VM + ".osProfile.linuxConfiguration.ssh.publicKeys":
        list,
    _VM + ".networkProfile": dict, _VM + ".networkProfile.networkInterfaceConfigurations": list,
    _VM + ".networkProfile.networkInterfaceConfigurations[]": dict,
    _VM + ".networkProfile.networkInterfaceConfigurations[].name": str,
    _VM + ".networkProfile.networkInterfaceConfigurations[].properties": dict,
    _VM + ".networkProfile.networkInterfaceConfigurations[].properties.primary": bool,
    _VM + ".networkProfile.networkInterfaceConfigurations[].properties.networkSecurityGroup": dict,
    _VM + ".networkProfile.networkInterfaceConfigurations[].properties.networkSecurityGroup.id": str,
    _VM + ".networkProfile.networkInterfaceConfigurations[].properties.ipConfigurations": list,
    _IPC: dict, _IPC + ".name": str, _IPC + ".properties": dict, _IPC + ".properties.primary": bool,
    _IPC + ".properties.subnet": dict, _IPC + ".properties.subnet.id": str,
    **{f"{_IPC}.properties.{refs}": list for refs in ("loadBalancerBackendAddressPools", "loadBalancerInboundNatPools",
                                                       "applicationGatewayBackendAddressPools")},
    **{f"{_IPC}.properties.{refs}[]": dict for refs in ("loadBalancerBackendAddressPools",
                                                         "loadBalancerInboundNatPools",
                                                         "applicationGatewayBackendAddressPools")},
    **{f"{_IPC}.properties.{refs}[].id": str for refs in ("loadBalancerBackendAddressPools",
                                                           "loadBalancerInboundNatPools",
                                                           "applicationGatewayBackendAddressPools")},
    _VM + ".extensionProfile": dict, _VM + ".extensionProfile.extensions": list, _EXT: dict, _EXT + ".name": str,
    _EXT + ".properties": dict, _EXT + ".properties.publisher": str, _EXT + ".properties.type": str,
    _EXT + ".properties.typeHandlerVersion": str, _EXT + ".properties.settings": dict,
}
IMAGE_SHAPES: dict[str, type] = {
    "properties": dict, "properties.storageProfile": dict, "properties.storageProfile.osDisk": dict,
    "properties.storageProfile.osDisk.blobUri": str, "properties.storageProfile.osDisk.osType": str,
    "properties.storageProfile.osDisk.osState": str, "properties.storageProfile.osDisk.diskSizeGB": int,
    "properties.storageProfile.dataDisks": list, "properties.storageProfile.dataDisks[]": dict,
    "properties.storageProfile.dataDisks[].lun": int, "properties.storageProfile.dataDisks[].diskSizeGB": int,
}
GALLERY_SHAPES: dict[str, type] = {"properties": dict}
DEFINITION_SHAPES: dict[str, type] = {"properties": dict, "properties.identifier": dict,
                                      "properties.osType": str, "properties.osState": str}
_PUB = "properties.publishingProfile"
_STORAGE = "properties.storageProfile"
VERSION_SHAPES: dict[str, type] = {
    "properties": dict, _PUB: dict, _PUB + ".targetRegions": list, _PUB + ".targetRegions[]": dict,
    _PUB + ".targetRegions[].name": str, _PUB + ".replicaCount": int, _PUB + ".storageAccountType": str,
    _PUB + ".excludeFromLatest": bool, _STORAGE: dict, _STORAGE + ".source": dict, _STORAGE + ".source.id": str,
    _STORAGE + ".osDiskImage": dict, _STORAGE + ".osDiskImage.source": dict,
    _STORAGE + ".osDiskImage.source.uri": str, _STORAGE + ".osDiskImage.source.storageAccountId": str,
    _STORAGE + ".dataDiskImages": list, _STORAGE + ".dataDiskImages[]": dict,
    "properties.safetyProfile": dict,
}


def check_types(body: dict, spec: dict[str, type]) -> None:
    check_shapes(body, spec)


# --- scale sets ------------------------------------------------------------------------------------------------
def validate_scale_set(body: dict, existing=None) -> None:
    """Required fields and unchangeable ones, in the order Azure reports them."""
    check_types(body, SCALE_SET_SHAPES)
    location = require_location(body)
    if existing is not None and location.replace(" ", "").lower() != existing.location.replace(" ", "").lower():
        raise ArmError(f"The resource '{existing.name}' already exists in location '{existing.location}' in "
                       f"resource group '{existing.resource_group}'. A resource with the same name cannot be "
                       f"created in location '{location}'. Please select a new resource name.",
                       code="InvalidResourceLocation")
    sku = require(body, "sku")
    object_body(sku, "sku")
    capacity = sku.get("capacity", 0)
    if not isinstance(capacity, int) or isinstance(capacity, bool) or not 0 <= capacity <= 1000:
        raise invalid("sku.capacity", capacity, "The capacity must be between 0 and 1000.")
    props = object_body(body.get("properties") or {}, "properties")
    profile = require(props, "virtualMachineProfile")
    require(profile, "storageProfile.imageReference", report_as="virtualMachineProfile.storageProfile.imageReference")
    os_profile = require(profile, "osProfile", report_as="virtualMachineProfile.osProfile")
    require(os_profile, "computerNamePrefix", report_as="virtualMachineProfile.osProfile.computerNamePrefix")
    require(os_profile, "adminUsername", report_as="virtualMachineProfile.osProfile.adminUsername")
    linux = os_profile.get("linuxConfiguration") or {}
    if existing is None:
        if linux.get("disablePasswordAuthentication"):
            require(os_profile, "linuxConfiguration.ssh.publicKeys",
                    report_as="virtualMachineProfile.osProfile.linuxConfiguration.ssh.publicKeys")
        elif not os_profile.get("adminPassword") and not dig(linux, "ssh.publicKeys"):
            raise missing("adminPassword")
    nics = require(profile, "networkProfile.networkInterfaceConfigurations",
                   report_as="virtualMachineProfile.networkProfile")
    for i, nic in enumerate(nics):
        where = f"virtualMachineProfile.networkProfile.networkInterfaceConfigurations[{i}]"
        require(nic, "name", report_as=f"{where}.name")
        ipcs = require(nic, "properties.ipConfigurations", report_as=f"{where}.properties.ipConfigurations")
        for j, ipc in enumerate(ipcs):
            require(ipc, "name", report_as=f"{where}.properties.ipConfigurations[{j}].name")
    if len(nics) > 1 and sum(1 for n in nics if (n.get("properties") or {}).get("primary")) != 1:
        raise InvalidParameter("Virtual Machine Scale Set with more than one network interface configuration must "
                               "have exactly one primary network interface configuration.",
                               details=[{"target": "networkInterfaceConfigurations"}])
    mode = (props.get("upgradePolicy") or {}).get("mode")
    if mode is not None and str(mode).capitalize() not in UPGRADE_MODES:
        raise invalid("upgradePolicy.mode", mode, f"Allowed values: {', '.join(UPGRADE_MODES)}.")
    if existing is not None:
        old = existing.profile.get("osProfile") or {}
        for name in ("computerNamePrefix", "adminUsername"):
            not_changed(old.get(name), os_profile.get(name), name)

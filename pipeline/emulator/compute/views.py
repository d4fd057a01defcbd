"""How scale sets, their VMs, instance views and VM NICs read over the API (secrets stripped)."""

from __future__ import annotations

import copy
from collections import Counter
from typing import TYPE_CHECKING

from ..core.ids import parse
from .scalesets import ScaleSet, Vm, app_health_extension, ip_configurations, refs, subnet_of

if TYPE_CHECKING:
    from .models import ComputeBackend

PROVISIONING_TEXT = {"succeeded": "Provisioning succeeded", "creating": "Creating", "updating": "Updating",
                     "deleting": "Deleting", "failed": "Provisioning failed"}
POWER_TEXT = {"running": "VM running", "starting": "VM starting", "stopping": "VM stopping",
              "stopped": "VM stopped"}
HEALTH_TEXT = {"healthy": "The VM is reported healthy", "unhealthy": "The VM is reported unhealthy",
               "unknown": "The VM health is unknown", "initializing": "The VM health is initializing"}


def strip_secrets(profile: dict, *, user_data: bool = False) -> dict:
    out = copy.deepcopy(profile)
    os_profile = out.get("osProfile") or {}
    os_profile.pop("adminPassword", None)
    os_profile.pop("customData", None)
    os_profile.setdefault("secrets", [])
    if not user_data:
        out.pop("userData", None)
    for ext in ((out.get("extensionProfile") or {}).get("extensions") or []):
        (ext.get("properties") or {}).pop("protectedSettings", None)
    return out


def status(code: str, display: str, *, time: str | None = None, level: str = "Info", message: str | None = None):
    out = {"code": code, "level": level, "displayStatus": display}
    if message:
        out["message"] = message
    if time:
        out["time"] = time
    return out


def with_defaults(profile: dict) -> dict:
    """The defaults Azure fills into a scale set's (and an instance's) model when it reads it back: per NIC
    configuration dnsSettings, enableAcceleratedNetworking and enableIPForwarding; per ip configuration
    privateIPAddressVersion (Azure's example responses, api 2025-04-01); uefiSettings for Trusted Launch."""
    network = profile.get("networkProfile") or {}
    for nic in network.get("networkInterfaceConfigurations") or []:
        props = nic.setdefault("properties", {})
        props.setdefault("dnsSettings", {"dnsServers": []})
        props.setdefault("enableAcceleratedNetworking", False)
        props.setdefault("enableIPForwarding", False)
        for ipc in props.get("ipConfigurations") or []:
            ipc.setdefault("properties", {}).setdefault("privateIPAddressVersion", "IPv4")
    security = profile.get("securityProfile")
    if isinstance(security, dict) and security.get("securityType") in ("TrustedLaunch", "ConfidentialVM"):
        uefi = security.setdefault("uefiSettings", {})
        uefi.setdefault("secureBootEnabled", False)
        uefi.setdefault("vTpmEnabled", True)
    return profile


def scale_set(ss: ScaleSet, *, user_data: bool = False, fault_domains: int = 5) -> dict:
    props = copy.deepcopy(ss.properties)
    props["virtualMachineProfile"] = with_defaults(strip_secrets(ss.profile, user_data=user_data))
    props.setdefault("orchestrationMode", "Uniform")
    props["virtualMachineProfile"]["timeCreated"] = ss.time_created
    props.setdefault("upgradePolicy", {"mode": "Manual"})
    props.setdefault("overprovision", True)
    props.setdefault("doNotRunExtensionsOnOverprovisionedVMs", False)
    props.setdefault("singlePlacementGroup", True)
    props.setdefault("platformFaultDomainCount", fault_domains)
    props.update({"provisioningState": ss.provisioning_state, "uniqueId": ss.unique_id,
                  "timeCreated": ss.time_created})
    body = {"id": ss.id, "name": ss.name, "type": "Microsoft.Compute/virtualMachineScaleSets",
            "location": ss.location, "sku": {"tier": "Standard", **ss.sku}, "etag": f'"{ss.etag}"',
            "properties": props}
    for name in ("zones", "identity", "plan"):
        if getattr(ss, name) is not None:
            body[name] = getattr(ss, name)
    if ss.tags:
        body["tags"] = ss.tags
    return body


def nic_id(ss: ScaleSet, vm: Vm, nic_name: str) -> str:
    return f"{ss.id}/virtualMachines/{vm.instance_id}/networkInterfaces/{nic_name}"


def nat_rule_ids(vm: Vm, ipc: dict) -> list[str]:
    """Azure gives each instance one inbound NAT rule per NAT pool, named '<pool>.<instance id>'."""
    out = []
    for pool_id in refs(ipc, "loadBalancerInboundNatPools"):
        parsed = parse(pool_id)
        if parsed and len(parsed.names) == 2:
            lb = str(parsed.parent())
            out.append(f"{lb}/inboundNatRules/{parsed.name}.{vm.instance_id}")
    return out


def vm_instance_view(backend: "ComputeBackend", ss: ScaleSet, vm: Vm) -> dict:
    state = vm.provisioning_state.lower()
    statuses = [status(f"ProvisioningState/{state}", PROVISIONING_TEXT.get(state, vm.provisioning_state),
                       time=vm.status_time, level="Error" if state == "failed" else "Info"),
                status(f"PowerState/{vm.power_state}", POWER_TEXT.get(vm.power_state, vm.power_state))]
    view = {"platformUpdateDomain": vm.update_domain, "platformFaultDomain": vm.fault_domain,
            "computerName": vm.computer_name, "osName": "linux", "osVersion": "local",
            "vmAgent": {"vmAgentVersion": "2.local", "statuses": [status(
                "ProvisioningState/succeeded", "Ready", message="GuestAgent is running and processing the extensions.",
                time=vm.status_time)], "extensionHandlers": []},
            "disks": [{"name": os_disk_name(ss, vm), "statuses": [status("ProvisioningState/succeeded",
                                                                        "Provisioning succeeded",
                                                                        time=vm.time_created)]}],
            "statuses": statuses}
    health = app_health_extension(vm.model)
    extensions = [e for e in ((vm.model.get("extensionProfile") or {}).get("extensions") or [])
                  if isinstance(e, dict)]
    for ext in extensions:   # every extension of the model is reported; only Application Health really runs
        props = ext.get("properties") or {}
        handler = f"{props.get('publisher')}.{props.get('type')}"
        version = props.get("typeHandlerVersion", "1.0")
        view["vmAgent"]["extensionHandlers"].append({"type": handler, "typeHandlerVersion": version,
                                                     "status": status("Ready", "Ready", time=vm.status_time,
                                                                     message="Plugin enabled")})
        entry = {"name": ext.get("name"), "type": handler, "typeHandlerVersion": version,
                 "statuses": [status("ProvisioningState/succeeded", "Provisioning succeeded", time=vm.status_time,
                                     message=f"Application health: {vm.health}" if ext is health
                                     else "Enable succeeded.")]}
        if ext is health:
            entry["substatuses"] = [status(f"ComponentStatus/ApplicationHealthState/{vm.health}",
                                           vm.health.capitalize(), time=vm.status_time)]
        view.setdefault("extensions", []).append(entry)
    if health is not None:
        view["vmHealth"] = {"status": status(f"HealthState/{vm.health}", HEALTH_TEXT[vm.health],
                                             level="Info" if vm.health == "healthy" else "Warning",
                                             time=vm.status_time)}
    return view


def os_disk_name(ss: ScaleSet, vm: Vm) -> str:
    return f"{ss.name}_{vm.instance_id}_OsDisk_1_{vm.vm_id.replace('-', '')[:32]}"


def vm(backend: "ComputeBackend", ss: ScaleSet, vm: Vm, *, expand_instance_view: bool = False) -> dict:
    model = strip_secrets(vm.model)
    storage = copy.deepcopy(model.get("storageProfile") or {})
    storage["imageReference"] = {**storage.get("imageReference", {})}
    if vm.image.get("exact_version"):
        storage["imageReference"]["exactVersion"] = vm.image["exact_version"]
    storage["osDisk"] = {"osType": "Linux", "name": os_disk_name(ss, vm), "createOption": "FromImage",
                         "caching": "ReadWrite", "diskSizeGB": 30,
                         **{k: val for k, val in (storage.get("osDisk") or {}).items() if k != "createOption"}}
    storage["osDisk"]["managedDisk"] = {"storageAccountType": "Standard_LRS",
                                        **(storage["osDisk"].get("managedDisk") or {}),
                                        "id": f"/subscriptions/{ss.subscription}/resourceGroups/"
                                              f"{ss.resource_group.upper()}/providers/Microsoft.Compute/disks/"
                                              f"{os_disk_name(ss, vm)}"}
    storage.setdefault("dataDisks", [])
    os_profile = {k: val for k, val in (model.get("osProfile") or {}).items() if k != "computerNamePrefix"}
    os_profile.update({"computerName": vm.computer_name, "allowExtensionOperations": True,
                       "requireGuestProvisionSignal": True})
    nics = [{"id": nic_id(ss, vm, nic["name"]), "properties": {"primary": bool((nic.get("properties") or {}).get(
        "primary", True))}} for nic in ((model.get("networkProfile") or {}).get("networkInterfaceConfigurations") or [])]
    props = {"latestModelApplied": ss.latest_model_applied(vm), "modelDefinitionApplied": "VirtualMachineScaleSet",
             "vmId": vm.vm_id, "hardwareProfile": {"vmSize": ss.sku.get("name")}, "storageProfile": storage,
             "osProfile": os_profile, "networkProfile": {"networkInterfaces": nics},
             "networkProfileConfiguration": with_defaults(
                 {"networkProfile": copy.deepcopy(model.get("networkProfile") or {})})["networkProfile"],
             "provisioningState": vm.provisioning_state, "timeCreated": vm.time_created}
    for name in ("diagnosticsProfile", "securityProfile"):
        if name in model:
            props[name] = copy.deepcopy(model[name])
    with_defaults(props)
    if expand_instance_view:
        props["instanceView"] = vm_instance_view(backend, ss, vm)
    resources = []
    for ext in ((model.get("extensionProfile") or {}).get("extensions") or []):
        resources.append({"id": f"{ss.id}/virtualMachines/{vm.instance_id}/extensions/{ext.get('name')}",
                          "name": ext.get("name"), "type": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/extensions",
                          "location": ss.location,
                          "properties": {**(ext.get("properties") or {}), "provisioningState": "Succeeded"}})
    body = {"id": f"{ss.id}/virtualMachines/{vm.instance_id}", "name": f"{ss.name}_{vm.instance_id}",
            "type": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines", "location": ss.location,
            "etag": f'"{vm.model_version + vm.generation}"',
            "instanceId": vm.instance_id, "sku": {"name": ss.sku.get("name"), "tier": ss.sku.get("tier", "Standard")},
            "properties": props}
    if resources:
        body["resources"] = resources
    if ss.tags:
        body["tags"] = ss.tags
    return body


def scale_set_instance_view(backend: "ComputeBackend", ss: ScaleSet) -> dict:
    vms = ss.sorted_vms()
    summary = Counter(f"ProvisioningState/{vm.provisioning_state.lower()}" for vm in vms)
    state = ss.provisioning_state.lower()
    view = {"virtualMachine": {"statusesSummary": [{"code": c, "count": n} for c, n in sorted(summary.items())]},
            "statuses": [status(f"ProvisioningState/{state}", PROVISIONING_TEXT.get(state, ss.provisioning_state),
                                time=ss.time_created)],
            "orchestrationServices": [{"serviceName": "AutomaticRepairs", "serviceState": "NotRunning"}]}
    extensions = {}
    for vm in vms:
        for ext in ((vm.model.get("extensionProfile") or {}).get("extensions") or []):
            if isinstance(ext, dict):
                extensions.setdefault(ext.get("name"), Counter())["ProvisioningState/succeeded"] += 1
    view["extensions"] = [{"name": name, "statusesSummary": [{"code": c, "count": n} for c, n in counts.items()]}
                          for name, counts in extensions.items()]
    return view


def network_interfaces(ss: ScaleSet, vm: Vm) -> list[dict]:
    out = []
    network = vm.model.get("networkProfile") or {}
    for nic in network.get("networkInterfaceConfigurations") or []:
        nic_props = nic.get("properties") or {}
        base = nic_id(ss, vm, nic["name"])
        ipcs = []
        for _, ipc in [(n, i) for n, i in ip_configurations(vm.model) if n is nic]:
            ipc_props = ipc.get("properties") or {}
            body = {"privateIPAddress": vm.address, "privateIPAllocationMethod": "Dynamic",
                    "privateIPAddressVersion": ipc_props.get("privateIPAddressVersion", "IPv4"),
                    "primary": bool(ipc_props.get("primary", True)), "provisioningState": "Succeeded"}
            subnet = subnet_of(ipc)
            if subnet:
                body["subnet"] = {"id": subnet}
            pools = refs(ipc, "loadBalancerBackendAddressPools")
            if pools:
                body["loadBalancerBackendAddressPools"] = [{"id": p} for p in pools]
            nat_rules = nat_rule_ids(vm, ipc)
            if nat_rules:
                body["loadBalancerInboundNatRules"] = [{"id": r} for r in nat_rules]
            ipcs.append({"id": f"{base}/ipConfigurations/{ipc['name']}", "name": ipc["name"],
                         "etag": f'W/"{vm.vm_id}"', "properties": body})
        mac = "".join(f"{b:02X}" for b in bytes.fromhex(vm.vm_id.replace("-", "")[:12]))
        out.append({"id": base, "name": nic["name"], "etag": f'W/"{vm.vm_id}"',
                    "properties": {"provisioningState": "Succeeded", "resourceGuid": vm.vm_id,
                                   "ipConfigurations": ipcs,
                                   "dnsSettings": {"dnsServers": [], "appliedDnsServers": []},
                                   "macAddress": mac, "primary": bool(nic_props.get("primary", True)),
                                   "enableAcceleratedNetworking": bool(nic_props.get("enableAcceleratedNetworking")),
                                   "enableIPForwarding": bool(nic_props.get("enableIPForwarding")),
                                   "virtualMachine": {"id": f"{ss.id}/virtualMachines/{vm.instance_id}"}}})
    return out

"""Azure's official compute and gallery examples (tests/emulator/azure_examples/{compute,gallery}, from ../shared) replayed
against the local cloud, field by field.

For each example: the resources it references are created (names and subscription substituted, blob URIs
served by Azurite under the example's own container/blob path), its request is sent over raw HTTPS at the
example's api-version, and every key path of its example response must be present in ours, recursively and
through lists (values may differ). What we do not return is listed per example in an explicit, commented
allow-list; each entry is written in pipeline/emulator/DIVERGENCES.md. Nothing is skipped silently: an
allow-listed path that we *do* return fails the test too, so the lists stay current.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tests.emulator.test_frontdoor import raw
from tests.fixtures.images import build_image, wait_until

EXAMPLES = Path(__file__).parent / "azure_examples"
SUB = "{subscription-id}"


# --- the comparison ---------------------------------------------------------------------------------------------
def key_paths(expected, actual, path: str = "") -> set[str]:
    """Key paths of `expected` that `actual` lacks. Lists: an expected item is compared with the actual item
    of the same name, else the one at its position, else the last one; an empty actual list where the example
    shows items is reported as `path[]`. A null in the example is an unset optional field: not required."""
    if expected is None:   # the examples print unset optional fields as null: nothing to look for
        return set()
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return {path or "."}
        out: set[str] = set()
        for name, value in expected.items():
            where = f"{path}.{name}" if path else name
            if value is None:
                continue
            if name not in actual:
                out.add(where)
            else:
                out |= key_paths(value, actual[name], where)
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return {path}
        if expected and not actual:
            return {f"{path}[]"}
        out = set()
        for i, item in enumerate(expected):
            match = None
            if isinstance(item, dict) and "name" in item:
                match = next((a for a in actual if isinstance(a, dict) and a.get("name") == item["name"]), None)
            if match is None:
                match = actual[i] if i < len(actual) else actual[-1]
            out |= key_paths(item, match, f"{path}[]")
        return out
    return set()


def assert_replayed(expected: dict, actual: dict, allowed: dict[str, str]) -> None:
    """Every field of the example is ours, except the allow-listed gaps; allow-list entries must be real gaps."""
    missing = key_paths(expected, actual)
    unexplained = sorted(p for p in missing if not any(p == a or p.startswith(a + ".") or p.startswith(a + "[")
                                                       for a in allowed))
    assert unexplained == [], f"fields of the example missing from our reply: {unexplained}"
    stale = sorted(a for a in allowed if not any(p == a or p.startswith(a + ".") or p.startswith(a + "[")
                                                 for p in missing))
    assert stale == [], f"allow-listed but present now (remove from the list): {stale}"


# --- set-up helpers -------------------------------------------------------------------------------------------------
def example(name: str, arm) -> dict:
    text = (EXAMPLES / name).read_text()
    for placeholder in ("{subscription-id}", "{subscriptionId}"):
        text = text.replace(placeholder, arm.subscription_id)
    return json.loads(text)


def api_version(ex: dict) -> str:
    params = ex["parameters"]
    return params.get("api-version") or params["version"]   # the gallery examples name it "version"


def compute_path(arm, rg: str, *parts: str) -> str:
    return f"/subscriptions/{arm.subscription_id}/resourceGroups/{rg}/providers/Microsoft.Compute/" + "/".join(parts)


def call(arm, method: str, path: str, version: str, body: dict | None = None, query: str = ""):
    status, headers, reply = raw(arm, method, f"{path}?api-version={version}{query}", body=body)
    assert status < 300, (status, reply)
    op = headers.get("Azure-AsyncOperation")
    if op:
        wait_until(lambda: raw(arm, "GET", op[len(arm.endpoint):])[2]["status"] != "InProgress", what="operation")
        assert raw(arm, "GET", op[len(arm.endpoint):])[2]["status"] == "Succeeded"
    return status, headers, reply


@pytest.fixture
def blob_at(blob_service):
    """Upload a local image to Azurite at an example's own container/blob path; return the example's URI."""
    def upload(uri: str, version: str = "1.0.0") -> str:
        container, blob = uri.split(".blob.core.windows.net/", 1)[1].split("/", 1)
        client = blob_service.get_container_client(container)
        if not client.exists():
            client.create_container()
        client.upload_blob(blob, build_image(version), overwrite=True)
        return uri

    return upload


def group(arm, name: str, location: str = "westus") -> None:
    arm.resources.resource_groups.create_or_update(name, {"location": location})


def subnet(arm, rg: str, vnet: str, name: str, location: str = "westus") -> str:
    """A subnet, and the network security group the examples' NIC configurations name (a reference the local
    cloud checks, as Azure does)."""
    arm.network.network_security_groups.begin_create_or_update(rg, "myNetworkSecurityGroup", {
        "location": location, "properties": {}}).result()
    network = arm.network.virtual_networks.begin_create_or_update(rg, vnet, {
        "location": location, "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                                             "subnets": [{"name": name, "properties": {"addressPrefix": "10.0.0.0/24"}}]}}
    ).result()
    return network.subnets[0].id


def managed_image(arm, rg: str, uri: str, name: str = "localImage", location: str = "westus", *,
                  data_disk: bool = False) -> str:
    storage: dict = {"osDisk": {"osType": "Linux", "osState": "Generalized", "blobUri": uri, "diskSizeGB": 10}}
    if data_disk:   # what the gallery examples' source image has: one 10 GB data disk at lun 1
        storage["dataDisks"] = [{"lun": 1, "blobUri": uri, "diskSizeGB": 10}]
    return arm.compute.images.begin_create_or_update(rg, name, {"location": location, "properties": {
        "storageProfile": storage}}).result().id


IMAGE_URI = "https://mystorageaccount.blob.core.windows.net/osimages/osimage.vhd"
READ_ONLY = ("provisioningState", "timeCreated", "uniqueId")


def scale_set_from_response(body: dict, *, image_id: str, subnet_id: str) -> dict:
    """A PUT body that asks for what an example GET response shows: read-only fields dropped, the platform
    image replaced by a local one, the subnet by a real one, a password added (responses never show it)."""
    request = {k: copy.deepcopy(v) for k, v in body.items() if k in ("location", "tags", "sku", "properties")}
    props = request["properties"]
    for name in READ_ONLY:
        props.pop(name, None)
    profile = props["virtualMachineProfile"]
    profile.pop("timeCreated", None)
    profile["storageProfile"]["imageReference"] = {"id": image_id}
    profile["osProfile"]["adminPassword"] = "Passw0rd!local"
    for nic in profile["networkProfile"]["networkInterfaceConfigurations"]:
        for ipc in nic["properties"]["ipConfigurations"]:
            ipc["properties"]["subnet"] = {"id": subnet_id}
    request["sku"]["capacity"] = 1
    props["overprovision"] = False
    return request


# --- scale sets ------------------------------------------------------------------------------------------------------
# The example's platform image (publisher/offer/sku/version) is replaced by a managed image: the local cloud
# boots only local images (DIVERGENCES: Compute, Images).
PLATFORM_IMAGE = {
    "properties.virtualMachineProfile.storageProfile.imageReference.publisher": "platform image substituted",
    "properties.virtualMachineProfile.storageProfile.imageReference.offer": "platform image substituted",
    "properties.virtualMachineProfile.storageProfile.imageReference.sku": "platform image substituted",
    "properties.virtualMachineProfile.storageProfile.imageReference.version": "platform image substituted",
}


@pytest.mark.parametrize("name", ["VirtualMachineScaleSet_Get.json", "VirtualMachineScaleSet_Get_WithUserData.json"])
def test_scale_set_get(arm, cloud, blob_at, name):
    ex = example(f"compute/{name}", arm)
    params, expected = ex["parameters"], ex["responses"]["200"]["body"]
    rg, vmss = params["resourceGroupName"], params["vmScaleSetName"]
    group(arm, rg)
    image_id = managed_image(arm, rg, blob_at(IMAGE_URI))
    subnet_id = subnet(arm, rg, "myVNet", "mySubnet")
    body = scale_set_from_response(expected, image_id=image_id, subnet_id=subnet_id)
    call(arm, "PUT", compute_path(arm, rg, "virtualMachineScaleSets", vmss), "2026-04-01", body)
    expand = f"&$expand={params['$expand']}" if "$expand" in params else ""
    _, _, got = call(arm, "GET", compute_path(arm, rg, "virtualMachineScaleSets", vmss), api_version(ex),
                     query=expand)
    allowed = dict(PLATFORM_IMAGE)
    if not expand:
        # The plain Get example shows userData, which Azure returns with $expand=userData only (its own
        # reference says so; the WithUserData example is the one that asks for it). DIVERGENCES: Compute.
        allowed["properties.virtualMachineProfile.userData"] = "returned with $expand=userData only"
    assert_replayed(expected, got, allowed)
    if expand:
        assert got["properties"]["virtualMachineProfile"]["userData"] == "RXhhbXBsZSBVc2VyRGF0YQ=="


def scale_set_with_health(arm, rg: str, name: str, *, subnet_id: str, image_id: str, capacity: int = 1) -> None:
    from tests.fixtures.images import vmss_body

    body = vmss_body(image_id, capacity=capacity, subnet=subnet_id, health_port=8080, location="westus",
                     overprovision=False)
    call(arm, "PUT", compute_path(arm, rg, "virtualMachineScaleSets", name), "2026-04-01", body)


def test_scale_set_instance_view(arm, cloud, blob_at):
    ex = example("compute/VirtualMachineScaleSet_GetInstanceView_MaximumSet_Gen.json", arm)
    params = ex["parameters"]
    rg, vmss = params["resourceGroupName"], params["vmScaleSetName"]
    group(arm, rg)
    scale_set_with_health(arm, rg, vmss, subnet_id=subnet(arm, rg, "vnet", "default"),
                          image_id=managed_image(arm, rg, blob_at(IMAGE_URI)))
    _, _, got = call(arm, "GET", compute_path(arm, rg, "virtualMachineScaleSets", vmss, "instanceView"),
                     api_version(ex))
    assert_replayed(ex["responses"]["200"]["body"], got, {
        # AutomaticRepairs never ran locally: Azure leaves these out too until the service has run once.
        # DIVERGENCES: Compute, Instance view.
        "orchestrationServices[].lastStatusChangeTime": "automatic repairs not modelled",
        "orchestrationServices[].latestOperationStatus": "automatic repairs not modelled",
        # A status carries a message only when it has something to say (errors, agent text), as on Azure;
        # the generated example fills every field.
        "statuses[].message": "message only on errors",
    })


def test_scale_set_vm_instance_view(arm, cloud, blob_at):
    ex = example("compute/VirtualMachineScaleSetVM_Get_InstanceViewAutoPlacedOnDedicatedHostGroup.json", arm)
    params = ex["parameters"]
    rg, vmss = params["resourceGroupName"], params["vmScaleSetName"]
    group(arm, rg)
    scale_set_with_health(arm, rg, vmss, subnet_id=subnet(arm, rg, "vnet", "default"),
                          image_id=managed_image(arm, rg, blob_at(IMAGE_URI)))
    instance = arm.compute.virtual_machine_scale_set_vms.list(rg, vmss).next().instance_id
    _, _, got = call(arm, "GET", compute_path(arm, rg, "virtualMachineScaleSets", vmss, "virtualMachines", instance,
                                              "instanceView"), api_version(ex))
    assert_replayed(ex["responses"]["200"]["body"], got, {
        # No dedicated hosts locally (the example's other host-group fields are null). DIVERGENCES: Compute.
        "assignedHost": "no dedicated hosts",
    })


def vm_model_from_example(vm: dict, *, image_id: str, subnet_id: str) -> dict:
    """The scale-set model an example VM was made from: its networkProfileConfiguration becomes the
    networkProfile; OS, storage, security and diagnostics profiles are the VM's own (Linux only, local image)."""
    props = copy.deepcopy(vm["properties"])
    network = props["networkProfileConfiguration"]
    group_id = subnet_id.split("/providers/")[0] + "/providers/Microsoft.Network/networkSecurityGroups/" \
        "myNetworkSecurityGroup"
    for nic in network["networkInterfaceConfigurations"]:
        if nic["properties"].get("networkSecurityGroup"):  # it names an availability set: the one subnet() made
            nic["properties"]["networkSecurityGroup"] = {"id": group_id}
        for ipc in nic["properties"]["ipConfigurations"]:
            ipc["properties"]["subnet"] = {"id": subnet_id}
            for name in ("loadBalancerBackendAddressPools", "loadBalancerInboundNatPools"):
                ipc["properties"].pop(name, None)   # they name availability sets: no such pools
    os_profile = {k: v for k, v in props["osProfile"].items()
                  if k in ("adminUsername", "linuxConfiguration", "allowExtensionOperations",
                           "requireGuestProvisionSignal")}
    os_profile.update(computerNamePrefix="vmss", adminPassword="Passw0rd!local")
    os_profile["linuxConfiguration"]["disablePasswordAuthentication"] = False
    storage = props["storageProfile"]
    os_disk = {k: v for k, v in storage["osDisk"].items() if k in ("caching", "createOption", "diskSizeGB",
                                                                    "writeAcceleratorEnabled", "deleteOption")}
    model = {"storageProfile": {"imageReference": {"id": image_id}, "osDisk": os_disk},
             "osProfile": os_profile, "networkProfile": {"networkInterfaceConfigurations":
                                                         network["networkInterfaceConfigurations"]},
             "securityProfile": props["securityProfile"], "diagnosticsProfile": props["diagnosticsProfile"],
             "userData": props["userData"]}
    return model


# The VM list example is a generated "MaximumSet": every field of the schema, Windows and Linux at once.
# What it shows that a local instance cannot have, grouped by reason (each is in DIVERGENCES: Compute).
VM_LIST_GAPS = {
    # a local image, not a marketplace plan or platform image
    "value[].plan": "no marketplace plans",
    "value[].properties.storageProfile.imageReference.publisher": "platform image substituted",
    "value[].properties.storageProfile.imageReference.offer": "platform image substituted",
    "value[].properties.storageProfile.imageReference.sku": "platform image substituted",
    "value[].properties.storageProfile.imageReference.version": "platform image substituted",
    "value[].properties.storageProfile.imageReference.sharedGalleryImageId": "platform image substituted",
    # disks are synthetic: no managed disk resources, encryption, ephemeral disks or data disks
    "value[].properties.storageProfile.osDisk.managedDisk": "no managed disk resources",
    "value[].properties.storageProfile.osDisk.encryptionSettings": "no disk encryption",
    "value[].properties.storageProfile.osDisk.diffDiskSettings": "no ephemeral OS disks",
    "value[].properties.storageProfile.osDisk.image": "no user-image VHD OS disks",
    "value[].properties.storageProfile.osDisk.vhd": "no unmanaged disks",
    "value[].properties.storageProfile.dataDisks[]": "no data disks",
    "value[].properties.instanceView.disks[].encryptionSettings": "no disk encryption",
    # placement and hardware Azure decides
    "value[].zones": "no zones",
    "value[].properties.availabilitySet": "no availability sets",
    "value[].properties.hardwareProfile.vmSizeProperties": "no VM size customisation",
    "value[].properties.additionalCapabilities": "not modelled",
    "value[].properties.licenseType": "no licensing (Windows only)",
    "value[].properties.protectionPolicy": "instance protection not modelled",
    "value[].properties.instanceView.assignedHost": "no dedicated hosts",
    "value[].properties.instanceView.placementGroupId": "no placement groups",
    "value[].properties.instanceView.rdpThumbPrint": "no RDP",
    "value[].properties.instanceView.maintenanceRedeployStatus": "no maintenance",
    "value[].properties.instanceView.bootDiagnostics": "boot diagnostics through retrieveBootDiagnosticsData",
    # Windows settings on a Linux-only cloud
    "value[].properties.osProfile.windowsConfiguration": "Linux only",
    # secrets and network details never returned / not modelled
    "value[].properties.osProfile.customData": "customData is write-only (never returned)",
    "value[].properties.networkProfile.networkApiVersion": "no NIC resources: compute-managed NICs only",
    "value[].properties.networkProfile.networkInterfaceConfigurations": "no NIC resources: compute-managed NICs only",
    "value[].properties.networkProfile.networkInterfaces[].properties.deleteOption": "compute-managed NICs only",
    "value[].properties.userData": "returned with $expand=userData only",
    # extension instance views: only the Application Health extension is reported, in the VM instance view
    "value[].resources[].properties.instanceView": "extension instance views only in the VM instance view",
    "value[].resources[].properties.suppressFailures": "extension settings echoed as written",
    "value[].resources[].properties.enableAutomaticUpgrade": "extension settings echoed as written",
    "value[].resources[].properties.forceUpdateTag": "extension settings echoed as written",
    "nextLink": "lists are never paged",
    # The example's pool ids name availability sets; no load balancer can have them, so the replayed model
    # joins no pools (pool membership is covered by test_instances / the data-plane tests).
    "value[].properties.networkProfileConfiguration.networkInterfaceConfigurations[].properties.ipConfigurations[]"
    ".properties.loadBalancerBackendAddressPools": "substituted: no such pools",
    "value[].properties.networkProfileConfiguration.networkInterfaceConfigurations[].properties.ipConfigurations[]"
    ".properties.loadBalancerInboundNatPools": "substituted: no such NAT pools",
    # exactVersion is reported for gallery images only; a managed image has no versions.
    "value[].properties.storageProfile.imageReference.exactVersion": "managed image substituted",
    "value[].properties.instanceView.vmHealth": "reported with the Application Health extension only (as Azure)",
    "value[].properties.instanceView.statuses[].message": "message only on errors",
    "value[].properties.instanceView.disks[].statuses[].message": "message only on errors",
    "value[].properties.instanceView.extensions[].substatuses": "substatuses from Application Health only",
    "value[].resources[].properties.protectedSettings": "write-only, as on Azure",
    "value[].resources[].tags": "extension resources carry no tags",
    "value[].sku.capacity": "a VM's sku has no capacity",
}


def test_scale_set_vm_list(arm, cloud, blob_at):
    ex = example("compute/VirtualMachineScaleSetVM_List_MaximumSet_Gen.json", arm)
    params, expected = ex["parameters"], ex["responses"]["200"]["body"]
    rg, vmss = params["resourceGroupName"], params["virtualMachineScaleSetName"]
    group(arm, rg)
    subnet_id = subnet(arm, rg, "vn4071", "sn5503")
    image_id = managed_image(arm, rg, blob_at(IMAGE_URI))
    model = vm_model_from_example(expected["value"][0], image_id=image_id, subnet_id=subnet_id)
    model["extensionProfile"] = {"extensions": [{"name": r["name"], "properties": {
        k: v for k, v in r["properties"].items() if k in ("publisher", "type", "typeHandlerVersion", "settings",
                                                           "autoUpgradeMinorVersion", "protectedSettings")}}
        for r in expected["value"][0]["resources"]]}
    body = {"location": "westus", "tags": {"example": "vm-list"}, "sku": {"name": "Basic_A0", "tier": "Basic", "capacity": 1},
            "properties": {"overprovision": False, "upgradePolicy": {"mode": "Manual"}, "virtualMachineProfile": model}}
    call(arm, "PUT", compute_path(arm, rg, "virtualMachineScaleSets", vmss), "2026-04-01", body)
    # $filter/$select/$expand hold generated placeholders ("aaaa"); the meaningful expansion is instanceView.
    _, _, got = call(arm, "GET", compute_path(arm, rg, "virtualMachineScaleSets", vmss, "virtualMachines"),
                     api_version(ex), query="&$expand=instanceView")
    assert_replayed(expected, got, VM_LIST_GAPS)


def test_update_instances(arm, cloud, blob_at):
    ex = example("compute/VirtualMachineScaleSet_UpdateInstances_MaximumSet_Gen.json", arm)
    params = ex["parameters"]
    rg, vmss = params["resourceGroupName"], params["vmScaleSetName"]
    group(arm, rg)
    image_id = managed_image(arm, rg, blob_at(IMAGE_URI))
    scale_set_with_health(arm, rg, vmss, subnet_id=subnet(arm, rg, "vnet", "default"), image_id=image_id)
    instance = arm.compute.virtual_machine_scale_set_vms.list(rg, vmss).next().instance_id
    body = copy.deepcopy(params["vmInstanceIDs"])
    body["instanceIds"] = [instance]   # the example's id is a generated placeholder
    status, headers, _ = call(arm, "POST", compute_path(arm, rg, "virtualMachineScaleSets", vmss, "manualupgrade"),
                              api_version(ex), body)
    assert str(status) in ex["responses"]
    if status == 202:
        assert "Location" in headers and headers["Location"].startswith(arm.endpoint)


# --- managed images ---------------------------------------------------------------------------------------------------
def test_image_create_from_a_blob(arm, cloud, blob_at):
    ex = example("compute/Image_CreateFromABlob.json", arm)
    params = ex["parameters"]
    group(arm, params["resourceGroupName"])
    blob_at(params["parameters"]["properties"]["storageProfile"]["osDisk"]["blobUri"])
    status, _, got = call(arm, "PUT", compute_path(arm, params["resourceGroupName"], "images", params["imageName"]),
                          api_version(ex), params["parameters"])
    assert str(status) in ex["responses"]
    assert_replayed(ex["responses"][str(status)]["body"], got, {})


def test_image_get(arm, cloud, blob_at):
    ex = example("compute/Image_Get.json", arm)
    params, expected = ex["parameters"], ex["responses"]["200"]["body"]
    rg = params["resourceGroupName"]
    group(arm, rg)
    request = {"location": expected["location"], "properties": copy.deepcopy(expected["properties"])}
    request["properties"].pop("provisioningState")
    os_disk = request["properties"]["storageProfile"]["osDisk"]
    os_disk["osType"] = "Linux"
    blob_at(os_disk["blobUri"])
    call(arm, "PUT", compute_path(arm, rg, "images", params["imageName"]), "2026-04-01", request)
    _, _, got = call(arm, "GET", compute_path(arm, rg, "images", params["imageName"]), api_version(ex))
    assert_replayed(expected, got, {})


# --- galleries -------------------------------------------------------------------------------------------------------
def test_gallery_create(arm, cloud):
    ex = example("gallery/Gallery_Create.json", arm)
    params = ex["parameters"]
    group(arm, params["resourceGroupName"])
    status, _, got = call(arm, "PUT", compute_path(arm, params["resourceGroupName"], "galleries",
                                                   params["galleryName"]), api_version(ex), params["gallery"])
    assert str(status) in ex["responses"]
    assert_replayed(ex["responses"][str(status)]["body"], got, {})


def make_gallery(arm, rg: str, gallery: str = "myGalleryName") -> None:
    call(arm, "PUT", compute_path(arm, rg, "galleries", gallery), "2026-03-03", {"location": "West US"})


def test_gallery_image_create(arm, cloud):
    ex = example("gallery/GalleryImage_Create.json", arm)
    params = ex["parameters"]
    rg = params["resourceGroupName"]
    group(arm, rg)
    make_gallery(arm, rg, params["galleryName"])
    status, _, got = call(arm, "PUT", compute_path(arm, rg, "galleries", params["galleryName"], "images",
                                                   params["galleryImageName"]), api_version(ex), params["galleryImage"])
    assert str(status) in ex["responses"]
    assert_replayed(ex["responses"][str(status)]["body"], got, {})


def make_definition(arm, rg: str) -> None:
    make_gallery(arm, rg)
    call(arm, "PUT", compute_path(arm, rg, "galleries", "myGalleryName", "images", "myGalleryImageName"),
         "2026-03-03", {"location": "West US", "properties": {
             "osType": "Linux", "osState": "Generalized",
             "identifier": {"publisher": "myPublisherName", "offer": "myOfferName", "sku": "mySkuName"}}})


VERSION_GAPS = {
    # Image safety scans do not run locally (DIVERGENCES: Compute, gallery image versions).
    "properties.safetyProfile.policyViolations": "no image safety scans",
}


@pytest.mark.parametrize("name", ["GalleryImageVersion_Create.json", "GalleryImageVersion_Create_WithVHD.json"])
def test_gallery_image_version_create(arm, cloud, blob_at, name):
    ex = example(f"gallery/{name}", arm)
    params = ex["parameters"]
    rg = params["resourceGroupName"]
    group(arm, rg)
    make_definition(arm, rg)
    body = copy.deepcopy(params["galleryImageVersion"])
    storage = body["properties"]["storageProfile"]
    if "source" in storage:   # the example's source is a placeholder managed image id
        storage["source"]["id"] = managed_image(arm, rg, blob_at(IMAGE_URI), location="West US", data_disk=True)
    for disk in [storage.get("osDiskImage")] + storage.get("dataDiskImages", []):
        if disk and "uri" in disk.get("source", {}):
            blob_at(disk["source"]["uri"])
    status, _, got = call(arm, "PUT", compute_path(arm, rg, "galleries", params["galleryName"], "images",
                                                   params["galleryImageName"], "versions",
                                                   params["galleryImageVersionName"]), api_version(ex), body)
    assert str(status) in ex["responses"]
    assert_replayed(ex["responses"][str(status)]["body"], got, VERSION_GAPS)
    final = arm.compute.gallery_image_versions.get(rg, params["galleryName"], params["galleryImageName"],
                                                   params["galleryImageVersionName"])
    assert final.provisioning_state == "Succeeded"


def test_gallery_image_version_get(arm, cloud, blob_at):
    ex = example("gallery/GalleryImageVersion_Get.json", arm)
    params, expected = ex["parameters"], ex["responses"]["200"]["body"]
    rg = params["resourceGroupName"]
    group(arm, rg)
    make_definition(arm, rg)
    # The version the example shows was made from a managed image with one data disk (lun 1, 10 GB).
    image_id = managed_image(arm, rg, blob_at(IMAGE_URI), location="West US", data_disk=True)
    request = {"location": "West US", "properties": copy.deepcopy(expected["properties"])}
    props = request["properties"]
    props.pop("provisioningState")
    props["publishingProfile"].pop("publishedDate")
    props["publishingProfile"].pop("replicaCount")
    props["safetyProfile"] = {k: v for k, v in props["safetyProfile"].items()
                              if k in ("allowDeletionOfReplicatedLocations", "blockDeletionBeforeEndOfLife")}
    props["storageProfile"] = {"source": {"id": image_id}, "osDiskImage": {"hostCaching": "ReadOnly"},
                               "dataDiskImages": [{"lun": 1, "hostCaching": "None"}]}
    path = compute_path(arm, rg, "galleries", params["galleryName"], "images", params["galleryImageName"], "versions",
                        params["galleryImageVersionName"])
    call(arm, "PUT", path, "2026-03-03", request)
    _, _, got = call(arm, "GET", path, api_version(ex))
    assert_replayed(expected, got, VERSION_GAPS)

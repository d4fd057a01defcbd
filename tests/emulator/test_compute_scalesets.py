"""Scale sets through the real SDK: lifecycle, LROs, overprovisioning, domains, scaling, validation, examples."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from tests.emulator.test_frontdoor import raw
from tests.fixtures.images import app_version, vmss_body, wait_until

EXAMPLES = Path(__file__).parent / "azure_examples" / "compute"


def base(arm, rg: str) -> str:
    return f"/subscriptions/{arm.subscription_id}/resourceGroups/{rg}/providers/Microsoft.Compute"


def create(arm, rg, name, body):
    return arm.compute.virtual_machine_scale_sets.begin_create_or_update(rg, name, body).result()


def vms(arm, rg, name):
    return list(arm.compute.virtual_machine_scale_set_vms.list(rg, name))


def instances(cloud, name):
    return {i["instance_id"]: i for i in cloud.cloud.compute.describe_instances() if i["vm_scale_set"] == name}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def make_subnet(arm, rg: str, location: str = "westeurope") -> str:
    vnet = arm.network.virtual_networks.begin_create_or_update(rg, "vnet", {
        "location": location, "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                                             "subnets": [{"name": "default",
                                                          "properties": {"addressPrefix": "10.0.0.0/24"}}]}}).result()
    return vnet.subnets[0].id


def test_create_get_list_delete(arm, cloud, resource_group, managed_image):
    image_id = managed_image()
    path = f"{base(arm, resource_group)}/virtualMachineScaleSets/web?api-version=2026-04-01"
    status, headers, body = raw(arm, "PUT", path, body=vmss_body(image_id, capacity=2, overprovision=False))
    assert status == 201 and body["properties"]["provisioningState"] == "Creating"
    assert headers["Azure-AsyncOperation"].startswith(arm.endpoint)
    op_url = headers["Azure-AsyncOperation"].replace(arm.endpoint, "")
    wait_until(lambda: raw(arm, "GET", op_url)[2]["status"] == "Succeeded", what="create LRO")
    ss = arm.compute.virtual_machine_scale_sets.get(resource_group, "web")
    assert ss.provisioning_state == "Succeeded" and ss.sku.capacity == 2 and ss.unique_id
    assert ss.virtual_machine_profile.os_profile.admin_password is None      # secrets are write-only
    assert [s.name for s in arm.compute.virtual_machine_scale_sets.list(resource_group)] == ["web"]
    assert [s.name for s in arm.compute.virtual_machine_scale_sets.list_all()] == ["web"]
    running = instances(cloud, "web")
    assert sorted(running) == ["0", "1"] and all(pid_alive(i["pid"]) for i in running.values())
    arm.compute.virtual_machine_scale_sets.begin_delete(resource_group, "web").result()
    with pytest.raises(ResourceNotFoundError) as err:
        arm.compute.virtual_machine_scale_sets.get(resource_group, "web")
    assert err.value.error.code == "ResourceNotFound"
    assert not any(pid_alive(i["pid"]) for i in running.values())
    assert instances(cloud, "web") == {}


def test_overprovision_domains_and_names(arm, cloud, resource_group, managed_image):
    create(arm, resource_group, "web", vmss_body(managed_image(), capacity=5, prefix="webvm"))
    listed = vms(arm, resource_group, "web")
    ids = sorted(int(v.instance_id) for v in listed)
    assert len(ids) == 5 and ids != list(range(ids[0], ids[0] + 5))     # overprovisioned: gaps in the ids
    view = {v.instance_id: arm.compute.virtual_machine_scale_set_vms.get_instance_view(resource_group, "web",
                                                                                       v.instance_id) for v in listed}
    assert sorted(v.platform_update_domain for v in view.values()) == [0, 1, 2, 3, 4]
    for vm in listed:
        assert vm.os_profile.computer_name.startswith("webvm") and len(vm.os_profile.computer_name) == 11
        assert int(vm.os_profile.computer_name[5:], 36) == int(vm.instance_id)
        assert vm.name == f"web_{vm.instance_id}" and vm.latest_model_applied is True


def test_scale_out_and_in(arm, cloud, resource_group, managed_image):
    create(arm, resource_group, "web", vmss_body(managed_image(), capacity=2, overprovision=False))
    arm.compute.virtual_machine_scale_sets.begin_update(resource_group, "web", {"sku": {"capacity": 4}}).result()
    now = instances(cloud, "web")
    assert sorted(now) == ["0", "1", "2", "3"] and all(pid_alive(i["pid"]) for i in now.values())
    for info in now.values():
        assert wait_until(lambda: app_version(info["address"]), what="app")["instance_id"] == info["instance_id"]
    arm.compute.virtual_machine_scale_sets.begin_update(resource_group, "web", {"sku": {"capacity": 1}}).result()
    left = instances(cloud, "web")
    assert len(left) == 1
    gone = [i for k, i in now.items() if k not in left]
    assert not any(pid_alive(i["pid"]) for i in gone)
    assert arm.compute.virtual_machine_scale_sets.get(resource_group, "web").sku.capacity == 1


def test_scale_in_removes_newest_balanced_across_fault_domains(arm, cloud, resource_group, managed_image):
    create(arm, resource_group, "web", vmss_body(managed_image(), capacity=6, overprovision=False))
    arm.compute.virtual_machine_scale_sets.begin_update(resource_group, "web", {"sku": {"capacity": 5}}).result()
    assert sorted(instances(cloud, "web"), key=int) == ["0", "1", "2", "3", "4"]   # 0 and 5 shared a fault domain


def test_instance_view_and_get_vm(arm, cloud, resource_group, managed_image):
    create(arm, resource_group, "web", vmss_body(managed_image(), capacity=2, overprovision=False))
    view = arm.compute.virtual_machine_scale_sets.get_instance_view(resource_group, "web")
    assert view.statuses[0].code == "ProvisioningState/succeeded"
    assert [(s.code, s.count) for s in view.virtual_machine.statuses_summary] == [("ProvisioningState/succeeded", 2)]
    listed = list(arm.compute.virtual_machine_scale_set_vms.list(resource_group, "web", expand="instanceView"))
    assert all(v.instance_view.statuses[1].code == "PowerState/running" for v in listed)
    one = arm.compute.virtual_machine_scale_set_vms.get(resource_group, "web", "1")
    assert one.instance_id == "1" and one.provisioning_state == "Succeeded"
    with pytest.raises(ResourceNotFoundError) as err:
        arm.compute.virtual_machine_scale_set_vms.get(resource_group, "web", "77")
    assert err.value.error.code == "ResourceNotFound"


def test_validation_errors(arm, resource_group, managed_image):
    image_id = managed_image()
    ops = arm.compute.virtual_machine_scale_sets

    def error_of(body, rg=resource_group):
        with pytest.raises(HttpResponseError) as err:
            ops.begin_create_or_update(rg, "web", body)
        return err.value

    body = vmss_body(image_id)
    del body["sku"]
    assert "sku" in error_of(body).error.message
    body = vmss_body(image_id)
    del body["properties"]["virtualMachineProfile"]["storageProfile"]["imageReference"]
    assert error_of(body).error.code == "InvalidParameter"
    body = vmss_body(image_id)
    del body["properties"]["virtualMachineProfile"]["osProfile"]["computerNamePrefix"]
    assert "computerNamePrefix" in error_of(body).error.message
    body = vmss_body(image_id)
    del body["properties"]["virtualMachineProfile"]["osProfile"]["adminUsername"]
    assert "adminUsername" in error_of(body).error.message
    body = vmss_body(image_id)
    del body["properties"]["virtualMachineProfile"]["networkProfile"]
    assert "networkProfile" in error_of(body).error.message
    err = error_of(vmss_body(image_id.replace("/images/img", "/images/nope")))
    assert err.status_code == 404 and err.error.code == "NotFound" and "cannot be found" in err.error.message
    err = error_of(vmss_body(image_id, location="eastus"))       # a managed image is regional
    assert err.error.code == "NotFound"
    err = error_of(vmss_body(image_id), rg="rg-nope")
    assert err.error.code == "ResourceGroupNotFound"
    with pytest.raises(ResourceNotFoundError) as nf:
        ops.begin_update(resource_group, "nope", {"sku": {"capacity": 1}})
    assert nf.value.error.code == "PatchResourceNotFound"   # ARM: a PATCH of a missing resource
    create(arm, resource_group, "web", vmss_body(image_id, capacity=0))
    changed = vmss_body(image_id, capacity=0, prefix="other")
    assert error_of(changed).error.code == "PropertyChangeNotAllowed"


def test_write_while_an_operation_runs_is_409(arm, cloud, resource_group, managed_image):
    image_id = managed_image()
    create(arm, resource_group, "web", vmss_body(image_id, capacity=1))
    cloud.call(_set_timing(cloud, vm_create_seconds=1.0))
    try:
        poller = arm.compute.virtual_machine_scale_sets.begin_update(resource_group, "web", {"sku": {"capacity": 2}})
        with pytest.raises(ResourceExistsError) as err:
            arm.compute.virtual_machine_scale_sets.begin_update(resource_group, "web", {"sku": {"capacity": 3}})
        assert err.value.error.code == "Conflict"
        with pytest.raises(ResourceExistsError):
            arm.compute.virtual_machine_scale_sets.begin_delete(resource_group, "web")
        poller.result()
    finally:
        cloud.call(_set_timing(cloud, vm_create_seconds=0.0))
    arm.compute.virtual_machine_scale_sets.begin_update(resource_group, "web", {"sku": {"capacity": 1}}).result()


async def _set_timing(cloud, **values):
    from dataclasses import replace

    cloud.cloud.options = replace(cloud.cloud.options, **values)


def test_injected_provisioning_failure_marks_the_scale_set_failed(arm, cloud, resource_group, managed_image):
    from tests.emulator.test_frontdoor import raw as raw_request

    image_id = managed_image()
    raw_request(arm, "POST", "/_emulator/faults", body={"kind": "fail_provisioning", "count": 1,
                                                       "operation": "VirtualMachineScaleSets_CreateOrUpdate"})
    with pytest.raises(HttpResponseError) as err:
        create(arm, resource_group, "web", vmss_body(image_id, capacity=1))
    assert "ProvisioningFailed" in str(err.value)
    assert arm.compute.virtual_machine_scale_sets.get(resource_group, "web").provisioning_state == "Failed"
    create(arm, resource_group, "web", vmss_body(image_id, capacity=1))     # a retry converges


def test_examples_replayed(arm, cloud, resource_group, managed_image, local_image):
    image_id = managed_image("img", location="westus")
    ex = json.loads((EXAMPLES / "VirtualMachineScaleSet_Create_FromACustomImage.json").read_text())
    body = copy.deepcopy(ex["parameters"]["parameters"])
    body["properties"]["virtualMachineProfile"]["storageProfile"]["imageReference"]["id"] = image_id
    body["sku"]["capacity"] = 1
    subnet = make_subnet(arm, resource_group, "westus")
    body["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]["properties"][
        "ipConfigurations"][0]["properties"]["subnet"]["id"] = subnet
    create(arm, resource_group, "vmss1", body)
    status, _, ours = raw(arm, "GET", f"{base(arm, resource_group)}/virtualMachineScaleSets/vmss1?api-version=2026-04-01")
    from tests.emulator.test_compute_images import assert_fields_present

    assert_fields_present(ours, ex["responses"]["201"]["body"], allowed_gaps={
        "properties.virtualMachineProfile.osProfile.linuxConfiguration",
        "properties.virtualMachineProfile.networkProfile.networkInterfaceConfigurations"})
    # a generalized gallery image
    arm.compute.galleries.begin_create_or_update(resource_group, "gal", {"location": "westus"}).result()
    arm.compute.gallery_images.begin_create_or_update(resource_group, "gal", "app", {"location": "westus", "properties": {
        "osType": "Linux", "osState": "Generalized", "identifier": {"publisher": "p", "offer": "o", "sku": "s"}}}).result()
    version = arm.compute.gallery_image_versions.begin_create_or_update(resource_group, "gal", "app", "1.0.0", {
        "location": "westus", "properties": {"storageProfile": {"source": {"id": image_id}}}}).result()
    ex = json.loads((EXAMPLES / "VirtualMachineScaleSet_Create_FromAGeneralizedSharedImage.json").read_text())
    body = copy.deepcopy(ex["parameters"]["parameters"])
    body["properties"]["virtualMachineProfile"]["storageProfile"]["imageReference"]["id"] = version.id
    body["sku"]["capacity"] = 1
    body["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]["properties"][
        "ipConfigurations"][0]["properties"]["subnet"]["id"] = subnet
    assert create(arm, resource_group, "vmss2", body).provisioning_state == "Succeeded"
    ex = json.loads((EXAMPLES / "VirtualMachineScaleSet_Update_MinimumSet_Gen.json").read_text())
    assert arm.compute.virtual_machine_scale_sets.begin_update(resource_group, "vmss2",
                                                               ex["parameters"]["parameters"]).result().name == "vmss2"
    ex = json.loads((EXAMPLES / "VirtualMachineScaleSet_GetInstanceView_MaximumSet_Gen.json").read_text())
    _, _, view = raw(arm, "GET", f"{base(arm, resource_group)}/virtualMachineScaleSets/vmss2/instanceView"
                                 f"?api-version=2026-04-01")
    assert_fields_present(view, ex["responses"]["200"]["body"], allowed_gaps={"extensions"})
    ex = json.loads((EXAMPLES / "VirtualMachineScaleSetVM_Get_InstanceViewAutoPlacedOnDedicatedHostGroup.json").read_text())
    vm_id = vms(arm, resource_group, "vmss2")[0].instance_id
    _, _, vm_view = raw(arm, "GET", f"{base(arm, resource_group)}/virtualMachineScaleSets/vmss2/virtualMachines/"
                                    f"{vm_id}/instanceView?api-version=2026-04-01")
    assert_fields_present(vm_view, ex["responses"]["200"]["body"], allowed_gaps={"assignedHost", "rdpThumbPrint",
                                                                                 "extensions", "bootDiagnostics"})
    ex = json.loads((EXAMPLES / "VirtualMachineScaleSet_Delete_Force.json").read_text())
    arm.compute.virtual_machine_scale_sets.begin_delete(resource_group, "vmss1", force_deletion=True).result()

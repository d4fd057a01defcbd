"""Scale-set instances as real processes: upgrades, reimage, restart, delete, kill, health, boot diagnostics,
NIC views, the network seam, persistence across a restart."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from azure.core.exceptions import HttpResponseError

from pipeline.emulator.server import ThreadedEmulator
from tests.emulator.test_compute_scalesets import create, instances, pid_alive
from tests.emulator.test_frontdoor import raw
from tests.fixtures.images import app_version, http_get, vmss_body, wait_until
from tests.fixtures.localcloud import build_clients, emulator_options


def health_of(arm, rg, name, instance_id):
    view = arm.compute.virtual_machine_scale_set_vms.get_instance_view(rg, name, instance_id)
    return view.vm_health.status.code if view.vm_health else None


def test_model_change_then_manual_upgrade(arm, cloud, resource_group, managed_image):
    v1, v2 = managed_image("img1", "1.0.0"), managed_image("img2", "2.0.0")
    create(arm, resource_group, "web", vmss_body(v1, capacity=2, overprovision=False))
    before = instances(cloud, "web")
    body = vmss_body(v2, capacity=2, overprovision=False)
    arm.compute.virtual_machine_scale_sets.begin_create_or_update(resource_group, "web", body).result()
    listed = list(arm.compute.virtual_machine_scale_set_vms.list(resource_group, "web"))
    assert [v.latest_model_applied for v in listed] == [False, False]
    assert all(wait_until(lambda: app_version(i["address"]))["version"] == "1.0.0" for i in before.values())
    arm.compute.virtual_machine_scale_sets.begin_update_instances(resource_group, "web", {"instanceIds": ["0"]}).result()
    after = instances(cloud, "web")
    assert not pid_alive(before["0"]["pid"]) and pid_alive(after["0"]["pid"])
    assert after["0"]["address"] == before["0"]["address"]        # the NIC keeps its private IP
    assert wait_until(lambda: app_version(after["0"]["address"]))["version"] == "2.0.0"
    assert after["1"]["pid"] == before["1"]["pid"]
    states = {v.instance_id: v.latest_model_applied for v in arm.compute.virtual_machine_scale_set_vms.list(
        resource_group, "web")}
    assert states == {"0": True, "1": False}
    vm0 = arm.compute.virtual_machine_scale_set_vms.get(resource_group, "web", "0")
    assert vm0.storage_profile.image_reference.id == v2
    # reimage keeps the instance's own image (Azure: "the existing version of the OS disk"), not the new model
    arm.compute.virtual_machine_scale_sets.begin_reimage(resource_group, "web", {"instanceIds": ["1"]}).result()
    assert wait_until(lambda: app_version(after["1"]["address"]))["version"] == "1.0.0"
    assert arm.compute.virtual_machine_scale_set_vms.get(resource_group, "web", "1").latest_model_applied is False


def test_automatic_upgrade_policy_recreates_all(arm, cloud, resource_group, managed_image):
    v1, v2 = managed_image("img1", "1.0.0"), managed_image("img2", "2.0.0")
    create(arm, resource_group, "web", vmss_body(v1, capacity=2, upgrade="Automatic", overprovision=False))
    create(arm, resource_group, "web", vmss_body(v2, capacity=2, upgrade="Automatic", overprovision=False))
    for info in instances(cloud, "web").values():
        assert info["latest_model_applied"] and wait_until(lambda: app_version(info["address"]))["version"] == "2.0.0"


def test_restart_delete_and_unknown_ids(arm, cloud, resource_group, managed_image):
    create(arm, resource_group, "web", vmss_body(managed_image(), capacity=3, overprovision=False))
    before = instances(cloud, "web")
    ops = arm.compute.virtual_machine_scale_sets
    ops.begin_restart(resource_group, "web", {"instanceIds": ["1"]}).result()
    assert not pid_alive(before["1"]["pid"]) and pid_alive(instances(cloud, "web")["1"]["pid"])
    ops.begin_delete_instances(resource_group, "web", {"instanceIds": ["2"]}).result()
    assert sorted(instances(cloud, "web")) == ["0", "1"] and not pid_alive(before["2"]["pid"])
    assert ops.get(resource_group, "web").sku.capacity == 2
    for call in (lambda: ops.begin_update_instances(resource_group, "web", {"instanceIds": ["9"]}),
                 lambda: ops.begin_reimage(resource_group, "web", {"instanceIds": ["9"]})):
        with pytest.raises(HttpResponseError) as err:
            call()
        assert err.value.status_code == 400 and err.value.error.code == "InvalidParameter"
    with pytest.raises(HttpResponseError) as err:
        ops.begin_update_instances(resource_group, "web", {})
    assert "instanceIds" in err.value.error.message


def test_action_lro_headers(arm, cloud, resource_group, managed_image):
    create(arm, resource_group, "web", vmss_body(managed_image(), capacity=1, overprovision=False))
    path = (f"/subscriptions/{arm.subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Compute/"
            f"virtualMachineScaleSets/web/manualupgrade?api-version=2026-04-01")
    status, headers, _ = raw(arm, "POST", path, body={"instanceIds": ["0"]})
    assert status == 202 and "Location" in headers and "Azure-AsyncOperation" in headers
    wait_until(lambda: raw(arm, "GET", headers["Azure-AsyncOperation"].replace(arm.endpoint, ""))[2]["status"]
               == "Succeeded", what="upgrade LRO")


def test_kill_via_control_api_and_recovery(arm, cloud, resource_group, managed_image):
    create(arm, resource_group, "web", vmss_body(managed_image(), capacity=1, health_port=8080, overprovision=False))
    pid = instances(cloud, "web")["0"]["pid"]
    wait_until(lambda: health_of(arm, resource_group, "web", "0") == "HealthState/healthy", what="healthy")
    status, _, _ = raw(arm, "POST", "/_emulator/kill", body={"resource_group": resource_group, "vm_scale_set": "web",
                                                              "instance_id": "0"})
    assert status == 204 and not pid_alive(pid)
    view = arm.compute.virtual_machine_scale_set_vms.get_instance_view(resource_group, "web", "0")
    assert view.statuses[1].code == "PowerState/stopped" and view.vm_health.status.code == "HealthState/unhealthy"
    arm.compute.virtual_machine_scale_sets.begin_restart(resource_group, "web", {"instanceIds": ["0"]}).result()
    wait_until(lambda: health_of(arm, resource_group, "web", "0") == "HealthState/healthy", what="healthy again")


def test_app_health_unhealthy_and_app_exit(arm, cloud, resource_group, managed_image):
    create(arm, resource_group, "sick", vmss_body(managed_image("bad", healthy=False), capacity=1,
                                                  health_port=8080, overprovision=False))
    wait_until(lambda: health_of(arm, resource_group, "sick", "0") == "HealthState/unhealthy", what="unhealthy")
    view = arm.compute.virtual_machine_scale_sets.get_instance_view(resource_group, "sick")
    assert view.extensions[0].name == "health"
    create(arm, resource_group, "ok", vmss_body(managed_image("good"), capacity=1, health_port=8080,
                                                overprovision=False))
    wait_until(lambda: health_of(arm, resource_group, "ok", "0") == "HealthState/healthy", what="healthy")
    os.kill(instances(cloud, "ok")["0"]["pid"], 9)         # the app dies by itself; the VM keeps running
    wait_until(lambda: health_of(arm, resource_group, "ok", "0") == "HealthState/unhealthy", what="app death seen")
    view = arm.compute.virtual_machine_scale_set_vms.get_instance_view(resource_group, "ok", "0")
    assert view.statuses[1].code == "PowerState/running"


def test_boot_diagnostics_and_custom_data(arm, cloud, resource_group, managed_image):
    from azure.storage.blob import BlobClient

    create(arm, resource_group, "web", vmss_body(managed_image(), capacity=1, overprovision=False,
                                                 custom_data="#cloud-config\nhello"))
    address = instances(cloud, "web")["0"]["address"]
    assert wait_until(lambda: http_get(address, 8080, "/custom-data"))[1] == "#cloud-config\nhello"
    result = arm.compute.virtual_machine_scale_set_vms.retrieve_boot_diagnostics_data(resource_group, "web", "0")
    log = BlobClient.from_blob_url(result.serial_console_log_blob_uri).download_blob().readall().decode()
    assert "listening on" in log and address in log
    assert BlobClient.from_blob_url(result.console_screenshot_blob_uri).download_blob().readall()[:2] == b"BM"


def test_nic_views_and_seam(arm, cloud, resource_group, managed_image):
    pool = (f"/subscriptions/{arm.subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Network/"
            f"loadBalancers/lb/backendAddressPools/blue")
    compute = cloud.cloud.compute
    body = vmss_body(managed_image(), capacity=2, overprovision=False, pools=[pool])
    if hasattr(cloud.cloud.network, "require_backend_pool"):   # the network service checks pools exist
        body["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0][
            "properties"]["ipConfigurations"][0]["properties"].pop("loadBalancerBackendAddressPools")
    create(arm, resource_group, "web", body)
    nics = arm.network.network_interfaces
    vm_nics = list(nics.list_virtual_machine_scale_set_vm_network_interfaces(resource_group, "web", "1"))
    assert len(vm_nics) == 1 and vm_nics[0].ip_configurations[0].private_ip_address == instances(cloud, "web")["1"]["address"]
    one = nics.get_virtual_machine_scale_set_network_interface(resource_group, "web", "1", "nic1")
    assert one.id.endswith("/virtualMachines/1/networkInterfaces/nic1")
    assert len(list(nics.list_virtual_machine_scale_set_network_interfaces(resource_group, "web"))) == 2
    # the seam, with the pool written straight into the model (the network may not be there to check it)
    ss = compute.find_scale_set(arm.subscription_id, resource_group, "web")
    for vm in ss.vms.values():
        vm.model["networkProfile"]["networkInterfaceConfigurations"][0]["properties"]["ipConfigurations"][0][
            "properties"]["loadBalancerBackendAddressPools"] = [{"id": pool}]
    members = compute.pool_members(pool.upper())
    assert [m.instance_key for m in members] == [f"{resource_group}/web/0", f"{resource_group}/web/1"]
    assert all(m.running for m in members) and members[0].ip_configuration_id.endswith("/ipConfigurations/ipconfig1")
    assert compute.scale_sets_using(pool.rsplit("/backendAddressPools", 1)[0]) == [ss.id]
    assert compute.scale_sets_using(pool.rsplit("/backendAddressPools", 1)[0] + "x") == []


def test_instances_come_back_after_restart(tmp_path, azurite, local_image):
    options = emulator_options(tmp_path, blob_connection_string=azurite.connection_string)
    options = replace(options, loopback_block=options.loopback_block - 60 if options.loopback_block > 160
                      else options.loopback_block + 60)
    url = local_image("3.0.0")
    with ThreadedEmulator(options) as emu:
        arm = build_clients(emu)
        arm.resources.resource_groups.create_or_update("rg", {"location": "westeurope"})
        image = arm.compute.images.begin_create_or_update("rg", "img", {"location": "westeurope", "properties": {
            "storageProfile": {"osDisk": {"osType": "Linux", "osState": "Generalized", "blobUri": url}}}}).result()
        create(arm, "rg", "web", vmss_body(image.id, capacity=2))
        before = {i["instance_id"]: i for i in emu.cloud.compute.describe_instances()}
    assert not any(pid_alive(i["pid"]) for i in before.values())
    with ThreadedEmulator(replace(options, token=emu.options.token)) as emu:
        after = {i["instance_id"]: i for i in emu.cloud.compute.describe_instances()}
        assert sorted(after) == sorted(before)
        for instance_id, info in after.items():
            assert info["address"] == before[instance_id]["address"] and pid_alive(info["pid"])
            assert wait_until(lambda: app_version(info["address"]))["instance_id"] == instance_id
        pids = [i["pid"] for i in after.values()]
    assert not any(pid_alive(p) for p in pids)

"""A first end-to-end: image -> scale set -> processes answering."""

from tests.fixtures.images import app_version, vmss_body, wait_until


def test_scale_set_instances_answer(arm, cloud, resource_group, managed_image):
    image_id = managed_image("img1", "1.0.0")
    ss = arm.compute.virtual_machine_scale_sets.begin_create_or_update(
        resource_group, "web", vmss_body(image_id, capacity=2)).result()
    assert ss.provisioning_state == "Succeeded"
    vms = list(arm.compute.virtual_machine_scale_set_vms.list(resource_group, "web"))
    assert len(vms) == 2
    for vm in vms:
        nics = list(arm.network.network_interfaces.list_virtual_machine_scale_set_vm_network_interfaces(
            resource_group, "web", vm.instance_id))
        address = nics[0].ip_configurations[0].private_ip_address
        info = wait_until(lambda: app_version(address), what="app answers")
        assert info["instance_id"] == vm.instance_id and info["version"] == "1.0.0"

"""Inbound NAT against the real SDK: the rules Azure derives from NAT pools (V1) named "<pool>.<instance id>" on
port start + instance id, the scale-set NIC view agreeing with the load balancer; inbound NAT rules V2 (backend
pool + frontend port range) inline and as child resources, Azure's validation, the port-mapping query, and real
TCP forwarded from each mapped port to its own instance."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.emulator.test_compute_scalesets import create
from tests.fixtures.network import open_subnet
from tests.emulator.test_network import lb_body, lb_id, public_ip
from tests.fixtures.images import app_version, vmss_body, wait_until

FE = "frontendIPConfigurations/fe"


def v2_rule(arm, name: str, pool: str, start: int, end: int, *, backend_port: int = 8080, **extra) -> dict:
    base = lb_id(arm)
    props = {"frontendIPConfiguration": {"id": f"{base}/{FE}"}, "protocol": "Tcp",
             "backendAddressPool": {"id": f"{base}/backendAddressPools/{pool}"},
             "frontendPortRangeStart": start, "frontendPortRangeEnd": end, "backendPort": backend_port, **extra}
    return {"name": name, "properties": props}


def error_code(call) -> str:
    with pytest.raises(HttpResponseError) as info:
        call()
    assert info.value.status_code == 400, info.value
    return info.value.error.code


def mappings(arm, rg: str, pool: str, ip_configuration_id: str) -> list[dict]:
    result = arm.network.load_balancers.begin_list_inbound_nat_rule_port_mappings(
        rg, "lb", pool, {"ipConfiguration": {"id": ip_configuration_id}}).result()
    return [m.as_dict() for m in result.inbound_nat_rule_port_mappings]


def nic_ip_configurations(arm, rg: str, vmss: str) -> dict[str, dict]:
    """{instance id: the primary ip configuration of its NIC view} (REST JSON)."""
    out = {}
    for vm in arm.compute.virtual_machine_scale_set_vms.list(rg, vmss):
        nics = list(arm.network.network_interfaces.list_virtual_machine_scale_set_vm_network_interfaces(
            rg, vmss, vm.instance_id))
        out[vm.instance_id] = nics[0].ip_configurations[0].as_dict()
    return out


@pytest.fixture
def lb_v2(arm, resource_group):
    """A load balancer with pools blue and green and a V2 rule per pool (blue 52000-52009, green 52010-52019)."""
    pip = public_ip(arm)
    body = lb_body(arm, pip.id)
    body["properties"]["inboundNatRules"] = [v2_rule(arm, "nat-blue", "blue", 52000, 52009),
                                             v2_rule(arm, "nat-green", "green", 52010, 52019)]
    lb = arm.network.load_balancers.begin_create_or_update(resource_group, "lb", body).result()
    return {"lb": lb, "body": body, "address": pip.ip_address}


# --- V1: NAT pools ------------------------------------------------------------------------------------------
def test_nat_pool_rules_are_named_by_instance_id_and_the_nic_view_agrees(arm, resource_group, managed_image):
    pip = public_ip(arm)
    lb_def = lb_body(arm, pip.id, nat=True)
    lb_def["properties"]["inboundNatPools"][0]["properties"]["backendPort"] = 8080   # the app's port
    arm.network.load_balancers.begin_create_or_update(resource_group, "lb", lb_def).result()
    body = vmss_body(managed_image(), capacity=3, subnet=open_subnet(arm, resource_group), overprovision=True)
    ipc = body["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]
    ipc["properties"]["ipConfigurations"][0]["properties"]["loadBalancerInboundNatPools"] = [
        {"id": f"{lb_id(arm)}/inboundNatPools/ssh"}]
    create(arm, resource_group, "web", body)
    ids = sorted(int(vm.instance_id) for vm in arm.compute.virtual_machine_scale_set_vms.list(resource_group, "web"))
    assert ids != list(range(3)), "overprovisioning leaves a gap in the instance ids"

    lb = arm.network.load_balancers.get(resource_group, "lb")
    rules = {r.name: r for r in lb.inbound_nat_rules}
    assert sorted(rules) == sorted(f"ssh.{i}" for i in ids)
    for i in ids:
        assert rules[f"ssh.{i}"].frontend_port == 50000 + i and rules[f"ssh.{i}"].backend_port == 8080
        got = wait_until(lambda port=50000 + i: app_version(pip.ip_address, port), what=f"port {50000 + i}")
        assert got["instance_id"] == str(i)   # each derived port reaches its own instance
    by_ipc = {r.backend_ip_configuration.id.lower(): r.id for r in lb.inbound_nat_rules}
    for instance, ipc_view in nic_ip_configurations(arm, resource_group, "web").items():
        on_nic = [r["id"] for r in ipc_view["properties"]["loadBalancerInboundNatRules"]]
        assert on_nic == [by_ipc[ipc_view["id"].lower()]]
        assert on_nic[0].endswith(f"/inboundNatRules/ssh.{instance}")
    single = arm.network.inbound_nat_rules.get(resource_group, "lb", f"ssh.{ids[-1]}")
    assert single.frontend_port == 50000 + ids[-1]
    assert error_code(lambda: arm.network.inbound_nat_rules.begin_delete(resource_group, "lb",
                                                                         f"ssh.{ids[0]}").result()) == \
        "CannotDeleteInboundNatRuleCreatedByNatPool"


def test_a_scale_out_beyond_the_nat_pool_range_is_refused(arm, resource_group, managed_image):
    pip = public_ip(arm)
    body = lb_body(arm, pip.id, nat=True)
    body["properties"]["inboundNatPools"][0]["properties"]["frontendPortRangeEnd"] = 50002   # 3 ports
    arm.network.load_balancers.begin_create_or_update(resource_group, "lb", body).result()
    scale_set = vmss_body(managed_image(), capacity=3, subnet=open_subnet(arm, resource_group), overprovision=True)
    ipc = scale_set["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]
    ipc["properties"]["ipConfigurations"][0]["properties"]["loadBalancerInboundNatPools"] = [
        {"id": f"{lb_id(arm)}/inboundNatPools/ssh"}]
    assert error_code(lambda: create(arm, resource_group, "web", scale_set)) == \
        "InboundNatPoolFrontendPortRangeSmallerThanRequestedPorts"
    with pytest.raises(ResourceNotFoundError):
        arm.compute.virtual_machine_scale_sets.get(resource_group, "web")


def test_a_nat_pool_in_use_by_a_scale_set_cannot_be_removed(arm, resource_group, managed_image):
    pip = public_ip(arm)
    arm.network.load_balancers.begin_create_or_update(resource_group, "lb", lb_body(arm, pip.id, nat=True)).result()
    scale_set = vmss_body(managed_image(), capacity=1, subnet=open_subnet(arm, resource_group), overprovision=False)
    ipc = scale_set["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]
    ipc["properties"]["ipConfigurations"][0]["properties"]["loadBalancerInboundNatPools"] = [
        {"id": f"{lb_id(arm)}/inboundNatPools/ssh"}]
    create(arm, resource_group, "web", scale_set)
    without = lb_body(arm, pip.id)
    assert error_code(lambda: arm.network.load_balancers.begin_create_or_update(
        resource_group, "lb", without).result()) == "LoadBalancerInUseByVirtualMachineScaleSet"


# --- V2: a backend pool and a frontend port range ---------------------------------------------------------
def test_v2_rules_inline_and_as_child_resources(arm, resource_group, lb_v2):
    rules = {r.name: r for r in lb_v2["lb"].inbound_nat_rules}
    assert sorted(rules) == ["nat-blue", "nat-green"]
    blue = rules["nat-blue"]
    assert (blue.frontend_port_range_start, blue.frontend_port_range_end, blue.backend_port) == (52000, 52009, 8080)
    assert blue.backend_address_pool.id == f"{lb_id(arm)}/backendAddressPools/blue"
    assert blue.idle_timeout_in_minutes == 4 and blue.enable_floating_ip is False
    pools = {p.name: p for p in lb_v2["lb"].backend_address_pools}
    assert [r.id for r in pools["blue"].inbound_nat_rules] == [blue.id]

    nat = arm.network.inbound_nat_rules
    made = nat.begin_create_or_update(resource_group, "lb", "nat-extra", v2_rule(
        arm, "nat-extra", "blue", 53000, 53004, backend_port=22)).result()
    assert made.frontend_port_range_start == 53000 and made.provisioning_state == "Succeeded"
    assert nat.get(resource_group, "lb", "nat-extra").backend_port == 22
    assert sorted(r.name for r in nat.list(resource_group, "lb")) == ["nat-blue", "nat-extra", "nat-green"]
    nat.begin_delete(resource_group, "lb", "nat-extra").result()
    with pytest.raises(ResourceNotFoundError):
        nat.get(resource_group, "lb", "nat-extra")
    nat.begin_delete(resource_group, "lb", "nat-extra").result()   # already gone: still a success


@pytest.mark.parametrize("change, code", [
    (lambda r, arm: r["properties"].pop("frontendPortRangeEnd"), "MissedInboundNatRuleV2Properties"),
    (lambda r, arm: r["properties"].update(frontendPort=22),
     "UnsupportedSetOfInboundNatRulePropertiesWhenFrontendPortIsSpecified"),
    (lambda r, arm: r["properties"].update(backendAddressPool={"id": f"{lb_id(arm)}/backendAddressPools/nope"}),
     "InvalidResourceReference"),
    (lambda r, arm: r["properties"].update(frontendPortRangeStart=52015, frontendPortRangeEnd=52012),
     "InvalidParameter"),
    (lambda r, arm: r["properties"].update(frontendPortRangeStart=52005),
     "RulesUseSameFrontendIPConfigurationProtocolAndPort"),
    (lambda r, arm: r["properties"].update(frontendPortRangeStart=18080, frontendPortRangeEnd=18085),
     "RulesUseSameFrontendIPConfigurationProtocolAndPort"),
    (lambda r, arm: r["properties"].pop("backendPort"), "InvalidParameter"),
])
def test_v2_rules_are_validated_as_azure_does(arm, resource_group, lb_v2, change, code):
    rule = v2_rule(arm, "nat-green", "green", 52010, 52019)
    change(rule, arm)
    put = lambda: arm.network.inbound_nat_rules.begin_create_or_update(  # noqa: E731
        resource_group, "lb", "nat-green", rule).result()
    assert error_code(put) == code
    stored = arm.network.inbound_nat_rules.get(resource_group, "lb", "nat-green")
    assert (stored.frontend_port_range_start, stored.frontend_port_range_end) == (52010, 52019)   # unchanged


def test_v2_overlap_with_a_nat_pool_is_refused(arm, resource_group):
    pip = public_ip(arm)
    body = lb_body(arm, pip.id, nat=True)
    body["properties"]["inboundNatRules"] = [v2_rule(arm, "nat-blue", "blue", 50050, 50149)]
    assert error_code(lambda: arm.network.load_balancers.begin_create_or_update(
        resource_group, "lb", body).result()) == "RulesUseSameFrontendIPConfigurationProtocolAndPort"


def test_each_member_gets_its_own_port_and_traffic_reaches_it(arm, cloud, resource_group, managed_image, lb_v2):
    pools = {p.name: p.id for p in lb_v2["lb"].backend_address_pools}
    body = vmss_body(managed_image(), capacity=3, subnet=open_subnet(arm, resource_group), pools=[pools["blue"]])
    create(arm, resource_group, "web", body)
    ports = {}
    for instance, ipc in nic_ip_configurations(arm, resource_group, "web").items():
        found = mappings(arm, resource_group, "blue", ipc["id"])
        assert len(found) == 1 and found[0]["inboundNatRuleName"] == "nat-blue"
        assert found[0]["backendPort"] == 8080 and found[0]["protocol"] == "Tcp"
        ports[instance] = found[0]["frontendPort"]
        by_address = arm.network.load_balancers.begin_list_inbound_nat_rule_port_mappings(
            resource_group, "lb", "blue", {"ipAddress": ipc["properties"]["privateIPAddress"]}).result()
        assert by_address.inbound_nat_rule_port_mappings[0].frontend_port == ports[instance]
    assert sorted(ports.values()) == [52000, 52001, 52002]
    for instance, port in ports.items():
        got = wait_until(lambda p=port: app_version(lb_v2["address"], p), what=f"port {port}")
        assert got["instance_id"] == instance

    # Scale in: the remaining members keep their ports; the freed port answers nothing.
    victim = max(ports, key=int)
    arm.compute.virtual_machine_scale_sets.begin_delete_instances(
        resource_group, "web", {"instanceIds": [victim]}).result()
    for instance, port in ports.items():
        if instance != victim:
            ipc = nic_ip_configurations(arm, resource_group, "web")[instance]["id"]
            assert mappings(arm, resource_group, "blue", ipc)[0]["frontendPort"] == port
    wait_until(lambda: app_version(lb_v2["address"], ports[victim]) is None, what="freed port closed")


def test_the_mapping_query_refuses_what_is_not_a_member(arm, resource_group, lb_v2):
    query = arm.network.load_balancers.begin_list_inbound_nat_rule_port_mappings
    assert error_code(lambda: query(resource_group, "lb", "blue", {"ipAddress": "10.9.9.9"}).result()) == \
        "InvalidParameter"
    assert error_code(lambda: query(resource_group, "lb", "blue", {}).result()) == "InvalidParameter"
    with pytest.raises(ResourceNotFoundError):
        query(resource_group, "lb", "nope", {"ipAddress": "10.9.9.9"}).result()


def test_a_scale_out_beyond_the_v2_range_is_refused(arm, resource_group, managed_image, lb_v2):
    pools = {p.name: p.id for p in lb_v2["lb"].backend_address_pools}
    body = vmss_body(managed_image(), capacity=9, subnet=open_subnet(arm, resource_group), pools=[pools["blue"]],
                     overprovision=True)   # 9 + 3 overprovisioned > 10 ports
    assert error_code(lambda: create(arm, resource_group, "web", body)) == \
        "InboundNatRuleFrontendPortRangeSmallerThanRequestedPorts"


def test_v2_ports_survive_a_restart(tmp_path, azurite, local_image):
    """Ports are kept while members stay, across a restart too: after a scale-in frees the first port, the
    remaining instance keeps the second one (a fresh allocation would hand it the first)."""
    from dataclasses import replace

    from pipeline.emulator.server import ThreadedEmulator
    from tests.emulator.test_restart import own_block
    from tests.fixtures.localcloud import build_clients, emulator_options

    options = emulator_options(tmp_path / "state", blob_connection_string=azurite.connection_string)
    options = replace(options, loopback_block=own_block(options, 40))
    rg = "rg-test"
    with ThreadedEmulator(options) as emu:
        arm = build_clients(emu)
        arm.resources.resource_groups.create_or_update(rg, {"location": "westeurope"})
        pip = public_ip(arm)
        body = lb_body(arm, pip.id)
        body["properties"]["inboundNatRules"] = [v2_rule(arm, "nat-blue", "blue", 52000, 52009)]
        lb = arm.network.load_balancers.begin_create_or_update(rg, "lb", body).result()
        image = arm.compute.images.begin_create_or_update(rg, "img", {"location": "westeurope", "properties": {
            "storageProfile": {"osDisk": {"osType": "Linux", "osState": "Generalized",
                                          "blobUri": local_image("5.0.0")}}}}).result()
        create(arm, rg, "web", vmss_body(image.id, capacity=2, overprovision=False, pools=[
            next(p.id for p in lb.backend_address_pools if p.name == "blue")], subnet=open_subnet(arm, rg)))
        ports = {i: mappings(arm, rg, "blue", ipc["id"])[0]["frontendPort"]
                 for i, ipc in nic_ip_configurations(arm, rg, "web").items()}
        first = min(ports, key=ports.get)
        assert sorted(ports.values()) == [52000, 52001]
        arm.compute.virtual_machine_scale_sets.begin_delete_instances(rg, "web", {"instanceIds": [first]}).result()
        [(kept, port)] = [(i, p) for i, p in ports.items() if i != first]
    with ThreadedEmulator(options) as emu:
        arm = build_clients(emu)
        [(instance, ipc)] = nic_ip_configurations(arm, rg, "web").items()
        assert instance == kept
        assert mappings(arm, rg, "blue", ipc["id"])[0]["frontendPort"] == port == 52001
        got = wait_until(lambda: app_version(pip.ip_address, port), what=f"NAT port {port} after the restart")
        assert got["instance_id"] == kept

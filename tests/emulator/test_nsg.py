"""Network security groups through the real SDK: CRUD, Azure's default rules, rules as child resources,
validation with Azure's codes, association with subnets and scale-set NICs, and the in-use delete."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.emulator.test_network import error_code
from tests.fixtures.network import allow_rule, nsg_body

DEFAULTS = {"AllowVnetInBound": (65000, "Inbound", "Allow", "VirtualNetwork"),
            "AllowAzureLoadBalancerInBound": (65001, "Inbound", "Allow", "AzureLoadBalancer"),
            "DenyAllInBound": (65500, "Inbound", "Deny", "*"),
            "AllowVnetOutBound": (65000, "Outbound", "Allow", "VirtualNetwork"),
            "AllowInternetOutBound": (65001, "Outbound", "Allow", "*"),
            "DenyAllOutBound": (65500, "Outbound", "Deny", "*")}


def nsg_id(arm, name="nsg", rg="rg-test") -> str:
    return f"/subscriptions/{arm.subscription_id}/resourceGroups/{rg}/providers/Microsoft.Network/" \
           f"networkSecurityGroups/{name}"


def create(arm, body=None, name="nsg"):
    return arm.network.network_security_groups.begin_create_or_update("rg-test", name, body or nsg_body()).result()


def test_create_get_list_delete_with_defaults(arm, resource_group):
    body = nsg_body(["Internet"], ports=["8080"])
    poller = arm.network.network_security_groups.begin_create_or_update(resource_group, "nsg", body)
    created = poller.result()
    assert created.id == nsg_id(arm) and created.provisioning_state == "Succeeded" and created.etag.startswith('W/"')
    assert created.type == "Microsoft.Network/networkSecurityGroups" and created.resource_guid
    [rule] = created.security_rules
    assert (rule.name, rule.priority, rule.source_address_prefix, rule.destination_port_range) == \
        ("allow-0", 100, "Internet", "8080")
    assert rule.id == f"{nsg_id(arm)}/securityRules/allow-0"
    defaults = {r.name: (r.priority, r.direction, r.access, r.source_address_prefix)
                for r in created.default_security_rules}
    assert defaults == DEFAULTS
    assert created.default_security_rules[0].id == f"{nsg_id(arm)}/defaultSecurityRules/AllowVnetInBound"
    got = arm.network.network_security_groups.get(resource_group, "nsg")
    assert got.etag == created.etag and got.subnets is None and got.network_interfaces is None
    assert [n.name for n in arm.network.network_security_groups.list(resource_group)] == ["nsg"]
    assert [n.name for n in arm.network.network_security_groups.list_all()] == ["nsg"]
    default = arm.network.default_security_rules.get(resource_group, "nsg", "DenyAllInBound")
    assert default.access == "Deny" and default.priority == 65500
    assert len(list(arm.network.default_security_rules.list(resource_group, "nsg"))) == 6
    again = arm.network.network_security_groups.begin_create_or_update(resource_group, "nsg", body).result()
    assert again.etag != created.etag  # a write changes the ETag even when nothing else changed
    arm.network.network_security_groups.begin_delete(resource_group, "nsg").result()
    with pytest.raises(ResourceNotFoundError):
        arm.network.network_security_groups.get(resource_group, "nsg")
    arm.network.network_security_groups.begin_delete(resource_group, "nsg").result()  # already gone: no error


def test_security_rules_as_child_resources(arm, resource_group):
    create(arm)
    rules = arm.network.security_rules
    added = rules.begin_create_or_update(resource_group, "nsg", "staging", allow_rule(
        "staging", 200, source="10.1.0.0/16", ports=["8081", "50000-50199"])).result()
    assert added.destination_port_ranges == ["8081", "50000-50199"] and added.priority == 200
    assert sorted(r.name for r in rules.list(resource_group, "nsg")) == ["allow-0", "staging"]
    assert rules.get(resource_group, "nsg", "staging").source_address_prefix == "10.1.0.0/16"
    with pytest.raises(HttpResponseError) as err:  # same priority and direction as allow-0
        rules.begin_create_or_update(resource_group, "nsg", "clash", allow_rule("clash", 100))
    assert err.value.status_code == 400 and error_code(err) == "SecurityRuleConflict"
    assert "Rules cannot have the same Priority and Direction" in err.value.error.message
    outbound = allow_rule("out", 100)
    outbound["properties"]["direction"] = "Outbound"
    assert rules.begin_create_or_update(resource_group, "nsg", "out", outbound).result().priority == 100
    rules.begin_delete(resource_group, "nsg", "staging").result()
    with pytest.raises(ResourceNotFoundError):
        rules.get(resource_group, "nsg", "staging")
    rules.begin_delete(resource_group, "nsg", "staging").result()


@pytest.mark.parametrize("change, code", [
    ({"priority": 99}, "SecurityRuleInvalidPriority"),
    ({"priority": 4097}, "SecurityRuleInvalidPriority"),
    ({"sourceAddressPrefix": "any"}, "SecurityRuleInvalidAddressPrefix"),
    ({"sourceAddressPrefix": "10.0.0.0/33"}, "SecurityRuleInvalidAddressPrefix"),
    ({"sourceAddressPrefix": "50.206.209.68/27"}, "SecurityRuleInvalidAddressPrefix"),  # host bits set
    ({"sourceAddressPrefix": None, "sourceAddressPrefixes": ["Internet"]},
     "SecurityRuleParameterContainsUnsupportedValue"),
    ({"destinationPortRange": "80-70"}, "SecurityRuleInvalidPortRange"),
    ({"destinationPortRange": "65536"}, "SecurityRuleInvalidPortRange"),
    ({"destinationPortRange": "http"}, "SecurityRuleInvalidPortRange"),
    ({"protocol": "Gre"}, "InvalidParameter"),
    ({"access": "Maybe"}, "InvalidParameter"),
])
def test_bad_rules_get_azures_codes(arm, resource_group, change, code):
    rule = allow_rule("bad", 200)
    rule["properties"].update(change)
    rule["properties"] = {k: v for k, v in rule["properties"].items() if v is not None}
    with pytest.raises(HttpResponseError) as err:
        arm.network.network_security_groups.begin_create_or_update(
            resource_group, "nsg", {"location": "westeurope", "properties": {"securityRules": [rule]}})
    assert err.value.status_code == 400 and error_code(err) == code
    with pytest.raises(ResourceNotFoundError):  # nothing was stored
        arm.network.network_security_groups.get(resource_group, "nsg")


def test_unknown_member_and_duplicate_priority_in_one_body(arm, resource_group):
    body = nsg_body(["Internet", "10.0.0.0/8"])
    body["properties"]["securityRules"][1]["properties"]["priority"] = 100
    with pytest.raises(HttpResponseError) as err:
        arm.network.network_security_groups.begin_create_or_update(resource_group, "nsg", body)
    assert error_code(err) == "SecurityRuleConflict"
    from tests.emulator.test_frontdoor import raw
    status, _, reply = raw(arm, "PUT", nsg_id(arm) + "?api-version=2026-03-01",
                           body={"location": "westeurope", "properties": {"securityRulez": []}})
    assert status == 400 and reply["error"]["code"] == "InvalidRequestFormat"


def test_subnet_association_back_references_and_in_use_delete(arm, resource_group):
    group = create(arm)
    vnets = arm.network.virtual_networks
    with pytest.raises(HttpResponseError) as err:  # the reference is checked
        vnets.begin_create_or_update(resource_group, "vnet", {"location": "westeurope", "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [{"name": "app", "properties": {
                "addressPrefix": "10.0.1.0/24", "networkSecurityGroup": {"id": nsg_id(arm, "missing")}}}]}})
    assert error_code(err) == "InvalidResourceReference"
    network = vnets.begin_create_or_update(resource_group, "vnet", {"location": "westeurope", "properties": {
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [{"name": "app", "properties": {
            "addressPrefix": "10.0.1.0/24", "networkSecurityGroup": {"id": group.id}}}]}}).result()
    assert network.subnets[0].network_security_group.id == group.id
    assert [s.id for s in arm.network.network_security_groups.get(resource_group, "nsg").subnets] == \
        [network.subnets[0].id]
    with pytest.raises(HttpResponseError) as err:
        arm.network.network_security_groups.begin_delete(resource_group, "nsg")
    assert err.value.status_code == 400 and error_code(err) == "InUseNetworkSecurityGroupCannotBeDeleted"
    assert network.subnets[0].id in err.value.error.message
    subnet = arm.network.subnets.get(resource_group, "vnet", "app")
    assert subnet.network_security_group.id == group.id
    subnet.network_security_group = None
    arm.network.subnets.begin_create_or_update(resource_group, "vnet", "app", subnet).result()
    assert arm.network.network_security_groups.get(resource_group, "nsg").subnets is None
    arm.network.network_security_groups.begin_delete(resource_group, "nsg").result()
    with pytest.raises(HttpResponseError) as err:  # a subnet PUT naming a missing group
        arm.network.subnets.begin_create_or_update(resource_group, "vnet", "app", {"properties": {
            "addressPrefix": "10.0.1.0/24", "networkSecurityGroup": {"id": group.id}}})
    assert error_code(err) == "InvalidResourceReference"


def test_scale_set_nic_association(arm, resource_group, managed_image):
    from tests.fixtures.images import vmss_body
    from tests.fixtures.network import open_subnet

    subnet = open_subnet(arm, resource_group, nsg="nsg-subnet")
    group = create(arm, name="nsg-nic")
    body = vmss_body(managed_image(), capacity=1, subnet=subnet)
    nic = body["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]
    nic["properties"]["networkSecurityGroup"] = {"id": nsg_id(arm, "nowhere")}
    with pytest.raises(HttpResponseError) as err:
        arm.compute.virtual_machine_scale_sets.begin_create_or_update(resource_group, "web", body)
    assert error_code(err) == "InvalidResourceReference"
    nic["properties"]["networkSecurityGroup"] = {"id": group.id}
    arm.compute.virtual_machine_scale_sets.begin_create_or_update(resource_group, "web", body).result()
    nics = arm.network.network_security_groups.get(resource_group, "nsg-nic").network_interfaces
    assert len(nics) == 1 and nics[0].id.endswith("/networkInterfaces/nic1") and "/web/virtualMachines/" in nics[0].id
    with pytest.raises(HttpResponseError) as err:
        arm.network.network_security_groups.begin_delete(resource_group, "nsg-nic")
    assert error_code(err) == "InUseNetworkSecurityGroupCannotBeDeleted"

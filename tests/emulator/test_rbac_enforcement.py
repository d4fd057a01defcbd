"""RBAC in the local cloud, through the real SDKs over HTTPS: off by default; with a role enforced, a request
whose action (or linked action) the role does not grant gets Azure's 403; polling needs its own actions; the
Microsoft.Authorization permissions API answers the enforced role."""

from __future__ import annotations

import re

import pytest
from azure.core.exceptions import HttpResponseError

from pipeline.emulator.options import DEFAULT_PRINCIPAL
from tests.emulator.test_compute_scalesets import make_subnet
from tests.emulator.test_frontdoor import raw
from tests.emulator.test_network import lb_body, public_ip
from tests.fixtures.images import vmss_body
from tests.fixtures.localcloud import authorizations, control, enforced_role

RG_READ = "Microsoft.Resources/subscriptions/resourceGroups/read"
NETWORK = ["Microsoft.Network/loadBalancers/*", "Microsoft.Network/publicIPAddresses/read",
           "Microsoft.Network/publicIPAddresses/write", "Microsoft.Network/publicIPAddresses/join/action",
           "Microsoft.Network/locations/operations/read", RG_READ]


def authorization_client(arm):
    from azure.mgmt.authorization import AuthorizationManagementClient

    from tests.fixtures.localcloud import SCOPES, StaticToken

    return AuthorizationManagementClient(StaticToken(arm.token), arm.subscription_id, base_url=arm.endpoint,
                                         credential_scopes=SCOPES, connection_verify=arm.ca_file)


def permissions(arm, rg):
    return [p.as_dict() for p in authorization_client(arm).permissions.list_for_resource_group(rg)]


def test_permissions_api_answers_everything_when_off_and_the_role_when_enforced(arm, cloud, resource_group):
    assert permissions(arm, resource_group) == [{"actions": ["*"], "not_actions": [], "data_actions": ["*"],
                                                 "not_data_actions": []}]
    role = {"Name": "r", "Actions": ["Microsoft.Authorization/permissions/read", "Microsoft.Compute/*"],
            "NotActions": ["Microsoft.Compute/*/delete"], "DataActions": ["Microsoft.Storage/*/blobs/read"]}
    with enforced_role(cloud, role):
        assert permissions(arm, resource_group) == [{
            "actions": role["Actions"], "not_actions": role["NotActions"], "data_actions": role["DataActions"],
            "not_data_actions": []}]
    with enforced_role(cloud, {"Actions": ["Microsoft.Compute/*"]}):   # reading them needs permissions/read
        with pytest.raises(HttpResponseError) as err:
            permissions(arm, resource_group)
    assert err.value.status_code == 403 and err.value.error.code == "AuthorizationFailed"
    assert "'Microsoft.Authorization/permissions/read'" in err.value.error.message
    with pytest.raises(HttpResponseError) as err:
        permissions(arm, "rg-missing")
    assert err.value.status_code == 404 and err.value.error.code == "ResourceGroupNotFound"


def test_off_by_default_everything_is_allowed_and_still_recorded(arm, cloud, resource_group):
    assert control(cloud, "GET", "role") == {"enforcing": False, "role": None}
    arm.resources.resource_groups.get(resource_group)
    seen = authorizations(cloud)
    assert seen[RG_READ]["denied"] == 0 and seen[RG_READ]["granted"] >= 1
    assert seen[RG_READ]["first"]["operation"] in ("ResourceGroups_CreateOrUpdate", "ResourceGroups_Get")


def test_a_denied_action_is_azures_403_with_who_what_and_where(arm, cloud, resource_group):
    pip = public_ip(arm)
    with enforced_role(cloud, {"Actions": ["Microsoft.Network/*/read", RG_READ]}):
        arm.network.public_ip_addresses.get(resource_group, "pip")   # granted by the wildcard
        with pytest.raises(HttpResponseError) as err:
            arm.network.public_ip_addresses.begin_delete(resource_group, "pip").result()
    error = err.value.error
    assert err.value.status_code == 403 and error.code == "AuthorizationFailed"
    assert error.message == (
        f"The client '{DEFAULT_PRINCIPAL}' with object id '{DEFAULT_PRINCIPAL}' does not have authorization to "
        f"perform action 'Microsoft.Network/publicIPAddresses/delete' over scope '{pip.id}' or the scope is "
        f"invalid. If access was recently granted, please refresh your credentials.")
    assert arm.network.public_ip_addresses.get(resource_group, "pip").id == pip.id   # nothing was deleted
    assert authorizations(cloud)["Microsoft.Network/publicIPAddresses/delete"]["denied"] == 1


def test_not_actions_subtract_from_wildcards(arm, cloud, resource_group):
    public_ip(arm)
    with enforced_role(cloud, {"Actions": ["*"], "NotActions": ["Microsoft.Network/publicIPAddresses/delete"]}):
        arm.network.public_ip_addresses.get(resource_group, "pip")
        with pytest.raises(HttpResponseError) as err:
            arm.network.public_ip_addresses.begin_delete(resource_group, "pip").result()
    assert err.value.status_code == 403 and "publicIPAddresses/delete" in err.value.error.message


def test_a_missing_resource_is_403_before_404_as_azure_checks_the_role_first(arm, cloud, resource_group):
    with enforced_role(cloud, {"Actions": [RG_READ]}):
        with pytest.raises(HttpResponseError) as err:
            arm.network.load_balancers.get(resource_group, "nothing-here")
    assert err.value.status_code == 403 and err.value.error.code == "AuthorizationFailed"


def test_polling_a_network_operation_needs_its_own_read_action(arm, cloud, resource_group):
    pip = public_ip(arm)
    role = {"Actions": [a for a in NETWORK if "operations" not in a]}
    with enforced_role(cloud, role):
        poller = arm.network.load_balancers.begin_create_or_update(resource_group, "lb", lb_body(arm, pip.id))
        with pytest.raises(HttpResponseError) as err:
            poller.result()
    assert err.value.status_code == 403
    assert re.search(r"action 'Microsoft.Network/locations/operations/read' over scope "
                     r"'/subscriptions/[^/]+/providers/Microsoft.Network/locations/westeurope/operations/[^']+'",
                     err.value.error.message)
    other = public_ip(arm, "pip2")
    with enforced_role(cloud, {"Actions": NETWORK}):   # with the action, the same poll succeeds
        lb = arm.network.load_balancers.begin_create_or_update(resource_group, "lb2", lb_body(
            arm, other.id, name="lb2")).result()
    assert lb.provisioning_state == "Succeeded"


def test_operation_urls_take_azures_shapes(arm, cloud, resource_group):
    pip = public_ip(arm)
    path = f"/subscriptions/{arm.subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Network"
    status, headers, _ = raw(arm, "PUT", f"{path}/loadBalancers/lb?api-version=2026-03-01",
                             body=lb_body(arm, pip.id))
    assert status == 201
    assert re.search(r"/subscriptions/[^/]+/providers/Microsoft.Network/locations/westeurope/operations/[0-9a-f-]+"
                     r"\?api-version=2026-03-01$", headers["Azure-AsyncOperation"])
    status, headers, _ = raw(arm, "POST", f"{path}/loadBalancers/lb/loadBalancingRules/web/health"
                                          f"?api-version=2026-03-01")
    assert status == 202
    assert re.search(r"/providers/Microsoft.Network/locations/westeurope/operationResults/[0-9a-f-]+\?",
                     headers["Location"])
    # A network operation is not found under Microsoft.Compute (each provider keeps its own).
    op_id = headers["Location"].split("/operationResults/")[1].split("?")[0]
    status, _, body = raw(arm, "GET", f"/subscriptions/{arm.subscription_id}/providers/Microsoft.Compute/locations/"
                                      f"westeurope/operations/{op_id}?api-version=2026-04-01")
    assert status == 404 and body["error"]["code"] == "OperationNotFound"


def test_compute_location_is_the_operation_url_with_monitor_true(arm, cloud, resource_group, managed_image):
    image_id = managed_image()
    arm.compute.virtual_machine_scale_sets.begin_create_or_update(
        resource_group, "web", vmss_body(image_id, capacity=1, overprovision=False)).result()
    path = f"/subscriptions/{arm.subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Compute"
    status, headers, _ = raw(arm, "POST", f"{path}/virtualMachineScaleSets/web/restart?api-version=2026-04-01",
                             body={"instanceIds": ["0"]})
    assert status == 202
    pattern = r"/providers/Microsoft.Compute/locations/westeurope/operations/([0-9a-f-]+)"
    assert re.search(pattern + r"\?api-version=", headers["Azure-AsyncOperation"])
    assert re.search(pattern + r"\?monitor=true&api-version=", headers["Location"])
    with enforced_role(cloud, {"Actions": ["Microsoft.Compute/virtualMachineScaleSets/*"]}):
        status, _, body = raw(arm, "GET", headers["Location"].split(arm.endpoint)[1])
    assert status == 403 and "'Microsoft.Compute/locations/operations/read'" in body["error"]["message"]


def test_a_body_reference_needs_its_linked_action(arm, cloud, resource_group, managed_image):
    image_id = managed_image()
    subnet = make_subnet(arm, resource_group)
    compute = ["Microsoft.Compute/*", RG_READ, "Microsoft.Compute/images/read"]
    with enforced_role(cloud, {"Actions": compute}):
        with pytest.raises(HttpResponseError) as err:
            arm.compute.virtual_machine_scale_sets.begin_create_or_update(
                resource_group, "web", vmss_body(image_id, capacity=1, subnet=subnet)).result()
    error = err.value.error
    assert err.value.status_code == 403 and error.code == "LinkedAuthorizationFailed"
    assert "has permission to perform action 'Microsoft.Compute/virtualMachineScaleSets/write'" in error.message
    assert (f"does not have permission to perform action(s) 'Microsoft.Network/virtualNetworks/subnets/join/action'"
            f" on the linked scope(s) '{subnet}'") in error.message
    assert list(arm.compute.virtual_machine_scale_sets.list(resource_group)) == []
    control(cloud, "DELETE", "authorizations")
    with enforced_role(cloud, {"Actions": compute + ["Microsoft.Network/virtualNetworks/subnets/join/action"]}):
        arm.compute.virtual_machine_scale_sets.begin_create_or_update(
            resource_group, "web", vmss_body(image_id, capacity=1, subnet=subnet)).result()
    # The image the body names is a linked read, checked on the image's own scope.
    assert authorizations(cloud)["Microsoft.Compute/images/read"]["first"] == {
        "method": "PUT", "operation": "VirtualMachineScaleSets_CreateOrUpdate", "scope": image_id}


def test_a_load_balancer_naming_a_public_ip_needs_join_but_not_for_its_own_children(arm, cloud, resource_group):
    pip = public_ip(arm)
    actions = [a for a in NETWORK if not a.endswith("join/action")]
    with enforced_role(cloud, {"Actions": actions}):
        with pytest.raises(HttpResponseError) as err:
            arm.network.load_balancers.begin_create_or_update(resource_group, "lb", lb_body(arm, pip.id)).result()
    assert err.value.error.code == "LinkedAuthorizationFailed"
    assert "'Microsoft.Network/publicIPAddresses/join/action'" in err.value.error.message
    with enforced_role(cloud, {"Actions": actions + ["Microsoft.Network/publicIPAddresses/join/action"]}):
        arm.network.load_balancers.begin_create_or_update(resource_group, "lb", lb_body(arm, pip.id)).result()
    # The rule's references to the load balancer's own pool, probe and frontend are not linked checks.
    assert not any("backendAddressPools/join" in a or "probes/join" in a for a in authorizations(cloud))


def test_a_role_that_does_not_parse_is_400_and_changes_nothing(arm, cloud):
    status, _, body = raw(arm, "PUT", "/_emulator/role", body={"Actions": "Microsoft.Compute/*"})
    assert status == 400 and body["error"]["code"] == "InvalidParameter"
    assert "Actions must be a list" in body["error"]["message"]
    status, _, body = raw(arm, "PUT", "/_emulator/role", body={"Actions": ["Microsoft.Compute/a b"]})
    assert status == 400 and "invalid action" in body["error"]["message"]
    assert control(cloud, "GET", "role")["enforcing"] is False


def test_reset_puts_back_the_role_the_emulator_started_with(arm, cloud):
    control(cloud, "PUT", "role", {"Actions": ["Microsoft.Compute/*"]})
    assert control(cloud, "GET", "role")["enforcing"] is True
    control(cloud, "POST", "reset")
    assert control(cloud, "GET", "role") == {"enforcing": False, "role": None}


def test_the_pipeline_reports_a_refusal_in_one_line_naming_the_action(arm, cloud, resource_group, managed_image):
    from pipeline.azure.errors import azure_call
    from pipeline.errors import AzureError

    image_id = managed_image()
    subnet = make_subnet(arm, resource_group)
    with enforced_role(cloud, {"Actions": ["Microsoft.Compute/*", RG_READ]}):
        with pytest.raises(AzureError) as denied:
            with azure_call("reading load balancer lb"):
                arm.network.load_balancers.get(resource_group, "lb")
        with pytest.raises(AzureError) as linked:
            with azure_call("creating scale set web"):
                arm.compute.virtual_machine_scale_sets.begin_create_or_update(
                    resource_group, "web", vmss_body(image_id, capacity=1, subnet=subnet)).result()
    lb = f"/subscriptions/{arm.subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Network/" \
         f"loadBalancers/lb"
    assert str(denied.value) == (
        f"reading load balancer lb: 403 AuthorizationFailed: the pipeline's identity may not perform "
        f"Microsoft.Network/loadBalancers/read on {lb}; give it the role in deploy/azure-role.json on the resource "
        f"group (or add the action to the role) and run the step again")
    assert denied.value.exit_code == 3
    assert str(linked.value).startswith("creating scale set web: 403 LinkedAuthorizationFailed: the pipeline's "
                                        "identity may not perform Microsoft.Network/virtualNetworks/subnets/join/action"
                                        f" on {subnet};")
    assert "\n" not in str(linked.value)

"""pipeline/rbac.py: every ARM route of the local cloud maps to the Azure RBAC actions it needs; the role file
has the shape `az role definition create` takes and nothing outside the map."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline import rbac

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "deploy" / "azure-role.json"
ACTION = re.compile(r"^Microsoft\.[A-Za-z]+(/[A-Za-z]+)+/(read|write|delete|action)$")


def emulator_routes():
    """The ARM router's routes, from the same lists pipeline/emulator/cloud.py builds it from."""
    from pipeline.emulator.authorization.urls import routes as authorization
    from pipeline.emulator.compute.urls import routes as compute
    from pipeline.emulator.core.status import routes as status
    from pipeline.emulator.network.urls import routes as network
    from pipeline.emulator.resources.urls import routes as resources
    from pipeline.emulator.subscription.urls import routes as subscription

    return status() + resources() + network() + compute() + authorization() + subscription()


def test_every_emulator_route_has_a_mapping():
    missing = [f"{r.method} {r.operation} ({r.template})" for r in emulator_routes()
               if (r.method, r.operation) not in rbac.ARM_ACTIONS]
    assert not missing, "routes without an RBAC mapping in pipeline/rbac.py:\n" + "\n".join(missing)


def test_the_map_has_no_entry_for_a_route_that_does_not_exist():
    routes = {(r.method, r.operation) for r in emulator_routes()}
    stale = sorted(set(rbac.ARM_ACTIONS) - routes)
    assert not stale, f"mappings for routes the emulator does not have: {stale}"


def test_every_operation_needs_an_action_polls_included():
    empty = sorted(op for (_, op), actions in rbac.ARM_ACTIONS.items() if not actions)
    assert empty == []
    assert rbac.actions_for("GET", "ComputeOperations_GetStatus") == {"Microsoft.Compute/locations/operations/read"}
    assert rbac.actions_for("GET", "NetworkOperations_GetStatus") == {"Microsoft.Network/locations/operations/read"}
    assert rbac.actions_for("GET", "NetworkOperations_GetResult") == {
        "Microsoft.Network/locations/operationResults/read"}


def test_an_unmapped_operation_is_an_error_not_a_silent_gap():
    with pytest.raises(rbac.UnmappedOperation, match="add it to pipeline/rbac.py"):
        rbac.actions_for("GET", "Unknown")


def test_actions_are_well_formed():
    every = (set().union(*rbac.ARM_ACTIONS.values()) | set(rbac.LINKED_ACTIONS.values()) | set(rbac.STORAGE_ACTIONS)
             | set(rbac.STORAGE_DATA_ACTIONS))
    bad = sorted(a for a in every if not ACTION.match(a))
    assert not bad, bad


def test_linked_access_checks_come_from_what_a_body_references():
    sub = "/subscriptions/s/resourceGroups/rg/providers"
    vmss = f"{sub}/Microsoft.Compute/virtualMachineScaleSets/web"
    lb = f"{sub}/Microsoft.Network/loadBalancers/lb"
    version = f"{sub}/Microsoft.Compute/galleries/g/images/app/versions/1.0.0"
    subnet = f"{sub}/Microsoft.Network/virtualNetworks/vnet/subnets/app"
    body = {"properties": {"virtualMachineProfile": {
        "storageProfile": {"imageReference": {"id": version}},
        "networkProfile": {"networkInterfaceConfigurations": [{"name": "nic", "properties": {"ipConfigurations": [
            {"name": "ip", "properties": {
                "subnet": {"id": subnet},
                "loadBalancerBackendAddressPools": [{"id": f"{lb}/backendAddressPools/blue"}],
                "loadBalancerInboundNatPools": [{"id": f"{lb}/inboundNatPools/ssh"}]}}]}}]}}}}
    assert rbac.linked_actions(body, vmss) == {
        "Microsoft.Compute/galleries/images/versions/read": [version],
        "Microsoft.Network/virtualNetworks/subnets/join/action": [subnet],
        "Microsoft.Network/loadBalancers/backendAddressPools/join/action": [f"{lb}/backendAddressPools/blue"],
        "Microsoft.Network/loadBalancers/inboundNatPools/join/action": [f"{lb}/inboundNatPools/ssh"],
    }
    # A load balancer's references to its own children are not linked; its public IP is; unknown types are not.
    lb_body = {"properties": {
        "frontendIPConfigurations": [{"name": "fe", "properties": {
            "publicIPAddress": {"id": f"{sub}/Microsoft.Network/publicIPAddresses/pip"}}}],
        "backendAddressPools": [{"name": "blue", "properties": {"backendIPConfigurations": [
            {"id": f"{vmss}/virtualMachines/0/networkInterfaces/nic/ipConfigurations/ip"}]}}],
        "loadBalancingRules": [{"name": "web", "properties": {
            "backendAddressPool": {"id": f"{lb}/backendAddressPools/blue"},
            "probe": {"id": f"{lb.upper()}/probes/x"}}}]}}
    assert rbac.linked_actions(lb_body, lb) == {
        "Microsoft.Network/publicIPAddresses/join/action": [f"{sub}/Microsoft.Network/publicIPAddresses/pip"]}


def test_roles_evaluate_wildcards_and_not_actions_as_azure_does():
    role = rbac.Role.from_json({"Name": "r", "actions": ["Microsoft.Compute/*", "*/read"],
                                "NotActions": ["Microsoft.Compute/*/delete"]})
    assert role.allows("microsoft.compute/virtualMachineScaleSets/write")
    assert role.allows("Microsoft.Network/loadBalancers/read")
    assert not role.allows("Microsoft.Compute/virtualMachineScaleSets/delete")
    assert not role.allows("Microsoft.Network/loadBalancers/write")
    assert rbac.Role.from_json({"Actions": ["*"]}).allows("Microsoft.Anything/at/all")
    assert not role.without("*/read").allows("Microsoft.Network/loadBalancers/read")


@pytest.mark.parametrize("text, says", [
    ("[]", "JSON object"), ('{"Actions": "x"}', "Actions must be a list"), ('{"Actions": []}', "grants nothing"),
    ('{"Actions": ["a b"]}', "invalid action"), ('{"Actons": ["*"]}', "unknown member 'Actons'"), ("{", "not JSON"),
])
def test_a_role_file_that_does_not_parse_is_one_line_naming_the_file(tmp_path, text, says):
    path = tmp_path / "role.json"
    path.write_text(text)
    with pytest.raises(rbac.RoleError) as err:
        rbac.load_role(path)
    assert str(err.value).startswith(f"role file {path}: ") and says in str(err.value)
    assert "\n" not in str(err.value)


def test_the_shipped_role_parses():
    assert rbac.load_role(ROLE).allows("Microsoft.Compute/virtualMachineScaleSets/write")


def test_the_role_file_has_the_shape_az_takes_and_only_mapped_actions():
    role = json.loads(ROLE.read_text())
    assert set(role) == {"Name", "IsCustom", "Description", "Actions", "NotActions", "DataActions", "NotDataActions",
                         "AssignableScopes"}
    assert role["IsCustom"] is True and role["Name"] and role["Description"]
    assert role["NotActions"] == [] and role["NotDataActions"] == []
    assert role["AssignableScopes"] == ["/subscriptions/<subscription-id>/resourceGroups/<resource-group>"]
    known = set().union(*rbac.ARM_ACTIONS.values()) | set(rbac.LINKED_ACTIONS.values()) | set(rbac.STORAGE_ACTIONS)
    assert not set(role["Actions"]) - known, set(role["Actions"]) - known
    assert set(rbac.STORAGE_ACTIONS) | set(rbac.AZURE_ONLY_ACTIONS) <= set(role["Actions"])
    assert sorted(role["DataActions"]) == sorted(rbac.STORAGE_DATA_ACTIONS)
    assert role["Actions"] == sorted(set(role["Actions"])), "keep Actions sorted and unique"
    assert not any("*" in a for a in role["Actions"] + role["DataActions"]), "no wildcards in a least-privilege role"

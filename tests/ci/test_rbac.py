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
    from pipeline.emulator.compute.urls import routes as compute
    from pipeline.emulator.core.status import routes as status
    from pipeline.emulator.network.urls import routes as network
    from pipeline.emulator.resources.urls import routes as resources
    from pipeline.emulator.subscription.urls import routes as subscription

    return status() + resources() + network() + compute() + subscription()


def test_every_emulator_route_has_a_mapping():
    missing = [f"{r.method} {r.operation} ({r.template})" for r in emulator_routes()
               if (r.method, r.operation) not in rbac.ARM_ACTIONS]
    assert not missing, "routes without an RBAC mapping in pipeline/rbac.py:\n" + "\n".join(missing)


def test_the_map_has_no_entry_for_a_route_that_does_not_exist():
    routes = {(r.method, r.operation) for r in emulator_routes()}
    stale = sorted(set(rbac.ARM_ACTIONS) - routes)
    assert not stale, f"mappings for routes the emulator does not have: {stale}"


def test_only_operation_status_reads_need_no_action():
    empty = sorted(op for (_, op), actions in rbac.ARM_ACTIONS.items() if not actions)
    assert empty == ["Operations_GetResult", "Operations_GetStatus"]


def test_actions_are_well_formed():
    every = set().union(*rbac.ARM_ACTIONS.values()) | set(rbac.STORAGE_ACTIONS) | set(rbac.STORAGE_DATA_ACTIONS)
    bad = sorted(a for a in every if not ACTION.match(a))
    assert not bad, bad


def test_linked_access_checks_of_the_bodies_the_pipeline_sends():
    vmss = rbac.actions_for("PUT", "VirtualMachineScaleSets_CreateOrUpdate")
    assert {"Microsoft.Compute/virtualMachineScaleSets/write",
            "Microsoft.Network/virtualNetworks/subnets/join/action",
            "Microsoft.Network/loadBalancers/backendAddressPools/join/action",
            "Microsoft.Network/loadBalancers/inboundNatPools/join/action",
            "Microsoft.Compute/galleries/images/versions/read"} == vmss
    assert rbac.actions_for("put", "LoadBalancers_CreateOrUpdate") == {
        "Microsoft.Network/loadBalancers/write", "Microsoft.Network/publicIPAddresses/join/action"}
    assert rbac.actions_for("HEAD", "ResourceGroups_CheckExistence") == {
        "Microsoft.Resources/subscriptions/resourceGroups/read"}


def test_used_actions_from_counters():
    counters = [
        {"method": "PUT", "operation": "LoadBalancers_CreateOrUpdate", "status": 412, "count": 1},
        {"method": "GET", "operation": "Operations_GetStatus", "status": 200, "count": 9},
        {"method": "GET", "operation": "Control_Counters", "status": 200, "count": 1},
        {"method": "GET", "operation": "Images_Get", "status": 200, "count": 0},
        {"method": "GET", "operation": "VirtualNetworks_Get", "status": 404, "count": 1},
    ]
    assert rbac.used_actions(counters) == {"Microsoft.Network/loadBalancers/write",
                                           "Microsoft.Network/publicIPAddresses/join/action",
                                           "Microsoft.Network/virtualNetworks/read"}


def test_an_unrouted_request_is_an_error_not_a_silent_gap():
    with pytest.raises(rbac.UnmappedOperation, match="Unknown"):
        rbac.used_actions([{"method": "GET", "operation": "Unknown", "status": 404, "count": 1}])


def test_the_role_file_has_the_shape_az_takes_and_only_mapped_actions():
    role = json.loads(ROLE.read_text())
    assert set(role) == {"Name", "IsCustom", "Description", "Actions", "NotActions", "DataActions", "NotDataActions",
                         "AssignableScopes"}
    assert role["IsCustom"] is True and role["Name"] and role["Description"]
    assert role["NotActions"] == [] and role["NotDataActions"] == []
    assert role["AssignableScopes"] == ["/subscriptions/<subscription-id>/resourceGroups/<resource-group>"]
    known = set().union(*rbac.ARM_ACTIONS.values()) | set(rbac.STORAGE_ACTIONS)
    assert not set(role["Actions"]) - known, set(role["Actions"]) - known
    assert set(rbac.STORAGE_ACTIONS) <= set(role["Actions"])
    assert sorted(role["DataActions"]) == sorted(rbac.STORAGE_DATA_ACTIONS)
    assert role["Actions"] == sorted(set(role["Actions"])), "keep Actions sorted and unique"
    assert not any("*" in a for a in role["Actions"] + role["DataActions"]), "no wildcards in a least-privilege role"

"""Fault injection through the control API, seen by the real SDK: every kind, one-shot and by rate."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ServiceResponseError

from tests.emulator.test_frontdoor import raw
from tests.fixtures.images import wait_until
from tests.fixtures.localcloud import SCOPES, StaticToken

RG_PATH = "/subscriptions/{sub}/resourcegroups/{rg}?api-version=2025-04-01"


def add_fault(arm, **rule) -> dict:
    status, _, body = raw(arm, "POST", "/_emulator/faults", body=rule)
    assert status == 201, body
    return body


def counts(arm) -> dict:
    _, _, body = raw(arm, "GET", "/_emulator/counters")
    return {(c["method"], c["operation"], c["status"]): c["count"] for c in body["value"]}


def resources_client(cloud, **kwargs):
    from azure.mgmt.resource.resources import ResourceManagementClient

    return ResourceManagementClient(StaticToken(cloud.options.token), cloud.options.subscription_id,
                                    base_url=cloud.endpoint, credential_scopes=SCOPES,
                                    connection_verify=str(cloud.server.ca_file), polling_interval=0.05, **kwargs)


def test_one_shot_throttle_is_retried_by_the_sdk_honouring_retry_after(arm):
    arm.resources.resource_groups.create_or_update("rg-f", {"location": "westeurope"})
    rule = add_fault(arm, kind="throttle", operation="ResourceGroups_Get", count=1, retry_after=1)
    assert arm.resources.resource_groups.get("rg-f").name == "rg-f"
    seen = counts(arm)
    assert seen[("GET", "ResourceGroups_Get", 429)] == 1 and seen[("GET", "ResourceGroups_Get", 200)] == 1
    _, _, listed = raw(arm, "GET", "/_emulator/faults")
    assert listed["value"][0]["id"] == rule["id"] and listed["value"][0]["fired"] == 1


def test_a_throttled_post_reaches_the_caller_with_retry_after(arm, resource_group):
    add_fault(arm, kind="throttle", method="POST", resource="loadBalancingRules", retry_after=7)
    path = (f"/subscriptions/{arm.subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Network"
            f"/loadBalancers/lb/loadBalancingRules/r/health?api-version=2026-03-01")
    status, headers, body = raw(arm, "POST", path)
    assert status == 429 and headers["Retry-After"] == "7" and body["error"]["code"] == "TooManyRequests"


def test_injected_500_by_rate_and_its_error_code(cloud, arm):
    no_retry = resources_client(cloud, retry_total=0)
    add_fault(arm, kind="error", operation="ResourceGroups_CreateOrUpdate", status=503, code="ServerBusy")
    with pytest.raises(HttpResponseError) as caught:
        no_retry.resource_groups.create_or_update("rg-e", {"location": "westeurope"})
    assert caught.value.status_code == 503 and caught.value.error.code == "ServerBusy"
    raw(arm, "DELETE", "/_emulator/faults")
    assert no_retry.resource_groups.create_or_update("rg-e", {"location": "westeurope"}).name == "rg-e"


def test_rate_zero_never_fires_and_rate_one_always_does(arm):
    arm.resources.resource_groups.create_or_update("rg-r", {"location": "westeurope"})
    add_fault(arm, kind="error", operation="ResourceGroups_Get", rate=0.0)
    for _ in range(5):
        assert arm.resources.resource_groups.get("rg-r")
    raw(arm, "DELETE", "/_emulator/faults")
    add_fault(arm, kind="error", operation="ResourceGroups_Get", rate=1.0, status=400, code="Injected")
    for _ in range(3):
        with pytest.raises(HttpResponseError, match="Injected"):
            arm.resources.resource_groups.get("rg-r")


def test_connection_reset_is_seen_as_a_dropped_connection(cloud, arm):
    arm.resources.resource_groups.create_or_update("rg-c", {"location": "westeurope"})
    add_fault(arm, kind="reset", operation="ResourceGroups_Get", count=1)
    with pytest.raises(ServiceResponseError):
        resources_client(cloud, retry_total=0).resource_groups.get("rg-c")
    # the next request (and a retrying client) are fine
    assert arm.resources.resource_groups.get("rg-c").name == "rg-c"
    add_fault(arm, kind="reset", operation="ResourceGroups_Get", count=1)
    assert arm.resources.resource_groups.get("rg-c").name == "rg-c"


def test_slow_fault_keeps_the_operation_in_progress_until_it_ends(arm):
    raw(arm, "PUT", RG_PATH.format(sub=arm.subscription_id, rg="rg-s"), body={"location": "westeurope"})
    add_fault(arm, kind="slow", operation="ResourceGroups_Delete", delay=1.5, count=1)
    status, headers, _ = raw(arm, "DELETE", RG_PATH.format(sub=arm.subscription_id, rg="rg-s"))
    assert status == 202
    assert "Azure-AsyncOperation" not in headers   # a resource group delete answers with Location only
    result_path = headers["Location"][len(arm.endpoint):]
    assert result_path.startswith(f"/subscriptions/{arm.subscription_id}/operationresults/")
    assert raw(arm, "GET", result_path)[0] == 202

    wait_until(lambda: raw(arm, "GET", result_path)[0] in (200, 204), timeout=30, what="slow delete")
    assert arm.resources.resource_groups.check_existence("rg-s") is False


def test_failed_provisioning_fails_the_long_running_operation(arm):
    arm.resources.resource_groups.create_or_update("rg-p", {"location": "westeurope"})
    add_fault(arm, kind="fail_provisioning", operation="ResourceGroups_Delete", code="InternalOperationError",
              count=1)
    with pytest.raises(HttpResponseError, match="InternalOperationError"):
        arm.resources.resource_groups.begin_delete("rg-p").result()
    assert arm.resources.resource_groups.check_existence("rg-p") is True


def test_failed_provisioning_marks_a_network_resource_failed(arm, resource_group):
    add_fault(arm, kind="fail_provisioning", operation="PublicIPAddresses_CreateOrUpdate", count=1)
    body = {"location": "westeurope", "sku": {"name": "Standard"},
            "properties": {"publicIPAllocationMethod": "Static"}}
    with pytest.raises(HttpResponseError):
        arm.network.public_ip_addresses.begin_create_or_update(resource_group, "pip-f", body).result()
    assert arm.network.public_ip_addresses.get(resource_group, "pip-f").provisioning_state == "Failed"
    # a second PUT (no fault left) succeeds: a failed resource can be repaired by re-running
    fixed = arm.network.public_ip_addresses.begin_create_or_update(resource_group, "pip-f", body).result()
    assert fixed.provisioning_state == "Succeeded"


def test_bad_fault_rules_are_rejected_and_rules_can_be_removed_one_by_one(arm):
    status, _, body = raw(arm, "POST", "/_emulator/faults", body={"kind": "meteor"})
    assert status == 400 and "unknown fault kind" in body["error"]["message"]
    status, _, body = raw(arm, "POST", "/_emulator/faults", body={"kind": "error", "colour": "red"})
    assert status == 400 and "unknown fault fields" in body["error"]["message"]
    rule = add_fault(arm, kind="error", operation="Nothing_Matches")
    status, _, _ = raw(arm, "DELETE", f"/_emulator/faults/{rule['id']}")
    assert status == 204
    status, _, _ = raw(arm, "DELETE", f"/_emulator/faults/{rule['id']}")
    assert status == 404


def test_control_api_needs_the_token_except_health(arm):
    status, _, _ = raw(arm, "GET", "/_emulator/counters", token=None)
    assert status == 401
    status, _, body = raw(arm, "GET", "/_emulator/health", token=None)
    assert status == 200 and body["status"] == "ok"

"""Read-only fields as Azure treats them, through the real SDK over HTTPS: a pool with scale-set members lists
them in loadBalancerBackendAddresses, a PUT that carries them back is refused, and the contract guard counts
every read-only or unknown member any request body carries (GET /_emulator/counters "contract")."""

from __future__ import annotations

import copy
import json
import logging

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from pipeline.azure.writable import writable_load_balancer
from pipeline.emulator.core.contract import BODY_MODELS, body_model
from tests.emulator.test_compute_scalesets import make_subnet
from tests.emulator.test_frontdoor import raw
from tests.emulator.test_network import API, lb_body, lb_id, public_ip
from tests.fixtures.images import vmss_body, wait_until


def raw_bytes(arm, method: str, path: str, data: bytes) -> tuple[int, dict]:
    """One HTTPS request with a body that is not (valid) JSON: (status, json reply)."""
    import ssl
    import urllib.error
    import urllib.request

    request = urllib.request.Request(arm.endpoint + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {arm.token}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=arm.ca_file)) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def contract(arm) -> list[dict]:
    return raw(arm, "GET", "/_emulator/counters")[2]["contract"]


def reset_counters(arm) -> None:
    raw(arm, "DELETE", "/_emulator/counters")


@pytest.fixture
def lb_with_members(arm, resource_group, managed_image):
    """Load balancer "lb" whose pool blue has the two instances of scale set "web" as NIC members."""
    pip = public_ip(arm)
    arm.network.load_balancers.begin_create_or_update(resource_group, "lb", lb_body(arm, pip.id)).result()
    subnet = make_subnet(arm, resource_group)
    blue = f"{lb_id(arm)}/backendAddressPools/blue"
    arm.compute.virtual_machine_scale_sets.begin_create_or_update(
        resource_group, "web", vmss_body(managed_image(), capacity=2, overprovision=False, pools=[blue],
                                         subnet=subnet)).result()
    wait_until(lambda: len(arm.network.load_balancer_backend_address_pools.get(
        resource_group, "lb", "blue").backend_ip_configurations or []) == 2, what="two members in pool blue")
    return blue


def test_nic_members_are_listed_as_backend_addresses(arm, resource_group, lb_with_members):
    pool = arm.network.load_balancer_backend_address_pools.get(resource_group, "lb", "blue")
    members = sorted(c.id for c in pool.backend_ip_configurations)
    addresses = pool.load_balancer_backend_addresses
    assert sorted(a.network_interface_ip_configuration.id for a in addresses) == members
    for address in addresses:
        # id, etag and type are in Azure's replies (recorded at 2025-05-01) but not in the SDK's model
        assert address["id"] == f"{lb_with_members}/loadBalancerBackendAddresses/{address.name}"
        assert address["type"] == "Microsoft.Network/loadBalancers/backendAddressPools/loadBalancerBackendAddresses"
        assert len(address.name) == 36 and address.ip_address is None  # a GUID; NIC members carry no ipAddress
    again = arm.network.load_balancer_backend_address_pools.get(resource_group, "lb", "blue")
    assert [a.name for a in again.load_balancer_backend_addresses] == [a.name for a in addresses]  # stable


def test_a_load_balancer_put_echoing_its_get_is_refused(arm, resource_group, lb_with_members):
    path = lb_id(arm) + API
    _, headers, read = raw(arm, "GET", path)
    status, _, body = raw(arm, "PUT", path, body=read, headers={"If-Match": read["etag"]})
    assert status == 400, body
    assert body["error"]["code"] == "InvalidRequestFormat" and body["error"]["message"] == "Cannot parse the request."
    details = body["error"]["details"]
    assert len(details) == 2 and {d["code"] for d in details} == {"DuplicateIpConfigurationReferenceOnBackendAddressPool"}
    assert all(d["message"].startswith("Found duplicate ipConfiguration reference /subscriptions/") for d in details)
    assert "|virtualMachineScaleSets|web|virtualMachines|" in details[0]["message"]
    assert f"{lb_with_members}/loadBalancerBackendAddresses/" in details[0]["message"]
    # nothing changed: the ETag is the one read
    assert raw(arm, "GET", path)[2]["etag"] == read["etag"]


def test_a_pool_put_echoing_its_get_is_refused(arm, resource_group, lb_with_members):
    path = lb_with_members + API
    _, _, read = raw(arm, "GET", path)
    status, _, body = raw(arm, "PUT", path, body=read)
    assert status == 400 and body["error"]["code"] == "InvalidRequestFormat", body
    assert body["error"]["details"][0]["code"] == "DuplicateIpConfigurationReferenceOnBackendAddressPool"


def test_a_nic_address_of_no_member_is_refused(arm, resource_group, lb_with_members):
    pip = public_ip(arm, "pip2")
    body = lb_body(arm, pip.id, name="lb2")
    body["properties"]["backendAddressPools"][0]["properties"] = {"loadBalancerBackendAddresses": [
        {"name": "a", "properties": {"networkInterfaceIPConfiguration": {"id": "/subscriptions/x/nic/ipConfigurations/y"}}}]}
    with pytest.raises(HttpResponseError) as err:
        arm.network.load_balancers.begin_create_or_update(resource_group, "lb2", body).result()
    assert err.value.status_code == 400 and err.value.error.code == "InvalidParameter"
    assert "networkInterfaceIPConfiguration is read-only" in err.value.error.message


def test_the_writable_body_is_accepted_and_sends_nothing_read_only(arm, resource_group, lb_with_members):
    read = arm.network.load_balancers.get(resource_group, "lb").as_dict()
    reset_counters(arm)
    written = arm.network.load_balancers.begin_create_or_update(
        resource_group, "lb", writable_load_balancer(read), headers={"If-Match": read["etag"]}).result()
    assert contract(arm) == []
    pool = next(p for p in written.backend_address_pools if p.name == "blue")
    wait_until(lambda: len(arm.network.load_balancer_backend_address_pools.get(
        resource_group, "lb", "blue").backend_ip_configurations or []) == 2, what="members kept")
    assert pool.name == "blue"


def test_the_guard_counts_read_only_and_unknown_members_per_operation(arm, resource_group, caplog):
    caplog.set_level(logging.WARNING, logger="pipeline.emulator.core.contract")
    pip = public_ip(arm)
    arm.network.load_balancers.begin_create_or_update(resource_group, "lb", lb_body(arm, pip.id)).result()
    read = arm.network.load_balancers.get(resource_group, "lb").as_dict()
    reset_counters(arm)
    arm.network.load_balancers.begin_create_or_update(resource_group, "lb", read).result()  # accepted: no members
    bogus = copy.deepcopy(read)
    bogus["properties"]["bogus"] = 1
    status, _, body = raw(arm, "PUT", lb_id(arm) + API, body=bogus)
    assert status == 400 and body["error"]["code"] == "InvalidRequestFormat"  # Azure's parser refuses it ...
    found = {(c["operation"], c["kind"], c["path"]): c["count"] for c in contract(arm)}
    op = "LoadBalancers_CreateOrUpdate"
    assert found[(op, "unknown", "properties.bogus")] == 1  # ... and the guard saw it first
    # counted per occurrence: two requests, two pools, one probe, one frontend
    expected = {"etag": 2, "name": 2, "type": 2, "properties.provisioningState": 2, "properties.resourceGuid": 2,
                "properties.backendAddressPools[].etag": 4, "properties.probes[].properties.loadBalancingRules": 2,
                "properties.frontendIPConfigurations[].properties.loadBalancingRules": 2}
    for path, count in expected.items():
        assert found[(op, "readonly", path)] == count, path
    assert not any(key[1] == "unknown" and key[2] != "properties.bogus" for key in found)
    logged = [r.getMessage() for r in caplog.records if r.name == "pipeline.emulator.core.contract"]
    assert any(m.startswith("LoadBalancers_CreateOrUpdate body carries") and "unknown properties.bogus" in m
               for m in logged), logged


def test_the_guard_never_fails_a_request(arm, resource_group):
    reset_counters(arm)
    path = lb_id(arm) + API
    for raw_body in (b"[1, 2]", b"{not json", b'"text"'):
        status, body = raw_bytes(arm, "PUT", path, raw_body)
        assert status == 400 and body["error"]["code"] in ("InvalidRequestFormat", "InvalidRequestContent"), body
    assert contract(arm) == []


def test_every_write_route_has_a_body_model(cloud):
    """A new PUT/PATCH route must name the SDK model of its body in core/contract.py BODY_MODELS."""
    unmapped = sorted({r.operation for r in cloud.server.cloud.router.routes if r.method in ("PUT", "PATCH")
                       and r.family != "control"} - set(BODY_MODELS))
    assert unmapped == []
    for operation in BODY_MODELS:
        assert body_model(operation) is not None, operation


# --- LoadBalancers_UpdateTags -------------------------------------------------------------------------------
def test_update_tags_replaces_the_tags(arm, resource_group):
    pip = public_ip(arm)
    body = {**lb_body(arm, pip.id), "tags": {"a": "1", "b": "2"}}
    before = arm.network.load_balancers.begin_create_or_update(resource_group, "lb", body).result()
    after = arm.network.load_balancers.update_tags(resource_group, "lb", {"tags": {"c": "3"}})
    assert after.tags == {"c": "3"} and after.etag != before.etag
    assert arm.network.load_balancers.get(resource_group, "lb").tags == {"c": "3"}
    assert [r.name for r in after.load_balancing_rules] == ["web"]  # nothing else changed


def test_update_tags_of_a_missing_load_balancer_is_patch_resource_not_found(arm, resource_group):
    with pytest.raises(ResourceNotFoundError) as err:
        arm.network.load_balancers.update_tags(resource_group, "nope", {"tags": {"c": "3"}})
    assert err.value.status_code == 404 and err.value.error.code == "PatchResourceNotFound"
    assert "Microsoft.Network/loadBalancers/nope" in err.value.error.message


def test_update_tags_refuses_what_a_tags_object_does_not_have(arm, resource_group):
    pip = public_ip(arm)
    arm.network.load_balancers.begin_create_or_update(resource_group, "lb", lb_body(arm, pip.id)).result()
    for bad in ({"tags": {"a": 1}}, {"tags": ["a"]}, {"location": "westeurope"}):
        status, _, body = raw(arm, "PATCH", lb_id(arm) + API, body=bad)
        assert status == 400 and body["error"]["code"] == "InvalidRequestFormat", (bad, body)


# --- Retry-After ------------------------------------------------------------------------------------------------
def test_long_running_replies_carry_retry_after_in_whole_seconds(arm, resource_group):
    path = f"/subscriptions/{arm.subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Network/" \
           f"publicIPAddresses/pip{API}"
    status, headers, _ = raw(arm, "PUT", path, body={"location": "westeurope", "sku": {"name": "Standard"},
                                                     "properties": {"publicIPAllocationMethod": "Static"}})
    headers = {k.lower(): v for k, v in headers.items()}
    assert status == 201 and headers["retry-after"].isdigit()
    assert int(headers["retry-after"]) == round(int(headers["retry-after-ms"]) / 1000)
    poll = headers["azure-asyncoperation"][len(arm.endpoint):]
    _, poll_headers, poll_body = raw(arm, "GET", poll)
    if poll_body["status"] == "InProgress":
        assert {k.lower() for k in poll_headers} >= {"retry-after", "retry-after-ms"}


# --- paging -----------------------------------------------------------------------------------------------------
def test_lists_are_paged_with_next_link(arm, resource_group):
    for name in ("pip1", "pip2", "pip3"):
        public_ip(arm, name)
    base = f"/subscriptions/{arm.subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Network/" \
           f"publicIPAddresses"
    _, _, first = raw(arm, "GET", base + API)
    assert len(first["value"]) == 2 and first["nextLink"].startswith(arm.endpoint + base)
    _, _, second = raw(arm, "GET", first["nextLink"][len(arm.endpoint):])
    assert len(second["value"]) == 1 and "nextLink" not in second
    names = [p["name"] for p in first["value"] + second["value"]]
    assert sorted(names) == ["pip1", "pip2", "pip3"]
    assert sorted(p.name for p in arm.network.public_ip_addresses.list(resource_group)) == names and len(names) == 3


def test_top_caps_the_items_returned_in_all(arm, resource_group):
    for name in ("pip1", "pip2", "pip3"):
        public_ip(arm, name)
    base = f"/subscriptions/{arm.subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Network/" \
           f"publicIPAddresses{API}"
    _, _, one = raw(arm, "GET", base + "&$top=1")
    assert len(one["value"]) == 1 and "nextLink" not in one
    _, _, capped = raw(arm, "GET", base + "&$top=3")
    assert len(capped["value"]) == 2 and "%24top=3" in capped["nextLink"] or "$top=3" in capped["nextLink"]
    for bad in ("&$top=0", "&$top=x", "&$skiptoken=-1", "&$skiptoken=abc"):
        status, _, body = raw(arm, "GET", base + bad)
        assert status == 400 and body["error"]["code"] == "InvalidParameter", (bad, body)


def test_sdk_pagers_see_every_resource_group_and_instance(arm, resource_group, managed_image):
    for name in ("rg-page-a", "rg-page-b"):
        arm.resources.resource_groups.create_or_update(name, {"location": "westeurope"})
    groups = {g.name for g in arm.resources.resource_groups.list()}
    assert {resource_group, "rg-page-a", "rg-page-b"} <= groups and len(groups) >= 3
    arm.compute.virtual_machine_scale_sets.begin_create_or_update(
        resource_group, "web", vmss_body(managed_image(), capacity=3, overprovision=False)).result()
    vms = list(arm.compute.virtual_machine_scale_set_vms.list(resource_group, "web", expand="instanceView"))
    assert len(vms) == 3 and all(vm.instance_view is not None for vm in vms)

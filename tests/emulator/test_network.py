"""Microsoft.Network control plane through the real SDK (raw HTTPS where the SDK cannot say it): virtual
networks, subnets, public IPs, load balancers and their children; LROs, ETags, back-references, errors."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from tests.emulator.test_frontdoor import raw

API = "?api-version=2026-03-01"
LOC = "westeurope"


def ids(arm, rg="rg-test"):
    base = f"/subscriptions/{arm.subscription_id}/resourceGroups/{rg}/providers/Microsoft.Network"
    return base


def lb_id(arm, name="lb", rg="rg-test"):
    return f"{ids(arm, rg)}/loadBalancers/{name}"


def public_ip(arm, name="pip", rg="rg-test"):
    return arm.network.public_ip_addresses.begin_create_or_update(
        rg, name, {"location": LOC, "sku": {"name": "Standard"},
                   "properties": {"publicIPAllocationMethod": "Static"}}).result()


def lb_body(arm, pip_id: str, *, name="lb", rg="rg-test", port=18080, pool="blue", pools=("blue", "green"),
            probe_port=8080, nat: bool = False, rules: list | None = None) -> dict:
    lb = lb_id(arm, name, rg)
    body = {"location": LOC, "sku": {"name": "Standard"}, "properties": {
        "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": pip_id}}}],
        "backendAddressPools": [{"name": p} for p in pools],
        "probes": [{"name": "http", "properties": {"protocol": "Http", "port": probe_port, "requestPath": "/health",
                                                   "intervalInSeconds": 5, "probeThreshold": 1}}],
        "loadBalancingRules": rules if rules is not None else [rule(arm, "web", port, pool, lb=name, rg=rg)],
    }}
    if nat:
        body["properties"]["inboundNatPools"] = [{"name": "ssh", "properties": {
            "frontendIPConfiguration": {"id": f"{lb}/frontendIPConfigurations/fe"}, "protocol": "Tcp",
            "frontendPortRangeStart": 50000, "frontendPortRangeEnd": 50099, "backendPort": 2222}}]
    return body


def rule(arm, name: str, port: int, pool: str, *, backend_port=8080, probe="http", lb="lb", rg="rg-test") -> dict:
    base = lb_id(arm, lb, rg)
    props = {"frontendIPConfiguration": {"id": f"{base}/frontendIPConfigurations/fe"},
             "backendAddressPool": {"id": f"{base}/backendAddressPools/{pool}"}, "protocol": "Tcp",
             "frontendPort": port, "backendPort": backend_port}
    if probe:
        props["probe"] = {"id": f"{base}/probes/{probe}"}
    return {"name": name, "properties": props}


@pytest.fixture
def lb(arm, resource_group):
    pip = public_ip(arm)
    return arm.network.load_balancers.begin_create_or_update(resource_group, "lb", lb_body(arm, pip.id)).result()


def wait_operation(arm, url: str, attempts: int = 200) -> str:
    """Poll an Azure-AsyncOperation URL until it ends (bounded); its final status."""
    import time

    for _ in range(attempts):
        _, _, body = raw(arm, "GET", url[len(arm.endpoint):])
        if body["status"] != "InProgress":
            return body["status"]
        time.sleep(0.02)
    raise AssertionError(f"operation {url} still in progress")


def error_code(excinfo) -> str:
    return excinfo.value.error.code


# --- virtual networks and subnets ---------------------------------------------------------------------------
def test_virtual_network_with_subnets_inline_and_as_children(arm, resource_group):
    net = arm.network.virtual_networks.begin_create_or_update(resource_group, "vnet", {
        "location": LOC, "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                                        "subnets": [{"name": "a", "properties": {"addressPrefix": "10.0.1.0/24"}}]},
    }).result()
    assert net.provisioning_state == "Succeeded" and net.etag.startswith('W/"')
    assert net.subnets[0].id == f"{ids(arm)}/virtualNetworks/vnet/subnets/a"
    assert net.subnets[0].etag == net.etag and net.subnets[0].provisioning_state == "Succeeded"
    sub = arm.network.subnets.begin_create_or_update(resource_group, "VNET", "b",
                                                     {"properties": {"addressPrefix": "10.0.2.0/24"}}).result()
    assert sub.name == "b" and sub.address_prefix == "10.0.2.0/24"
    assert sorted(s.name for s in arm.network.subnets.list(resource_group, "vnet")) == ["a", "b"]
    assert arm.network.subnets.get(resource_group, "vnet", "B").name == "b"
    after = arm.network.virtual_networks.get(resource_group, "vnet")
    assert after.etag != net.etag  # a subnet write changes the network's ETag
    assert [n.name for n in arm.network.virtual_networks.list(resource_group)] == ["vnet"]
    assert [n.name for n in arm.network.virtual_networks.list_all()] == ["vnet"]
    arm.network.subnets.begin_delete(resource_group, "vnet", "b").result()
    with pytest.raises(ResourceNotFoundError) as err:
        arm.network.subnets.get(resource_group, "vnet", "b")
    assert error_code(err) == "NotFound"
    arm.network.virtual_networks.begin_delete(resource_group, "vnet").result()
    with pytest.raises(ResourceNotFoundError) as err:
        arm.network.virtual_networks.get(resource_group, "vnet")
    assert error_code(err) == "ResourceNotFound"


@pytest.mark.parametrize("subnets, code", [
    ([{"name": "a", "properties": {"addressPrefix": "10.1.0.0/24"}}], "NetcfgSubnetRangeOutsideVnet"),
    ([{"name": "a", "properties": {"addressPrefix": "10.0.0.0/24"}},
      {"name": "b", "properties": {"addressPrefix": "10.0.0.128/25"}}], "NetcfgSubnetRangesOverlap"),
    ([{"name": "a", "properties": {"addressPrefix": "10.0.0.0/33"}}], "InvalidAddressPrefixFormat"),
])
def test_subnet_ranges_are_checked(arm, resource_group, subnets, code):
    with pytest.raises(HttpResponseError) as err:
        arm.network.virtual_networks.begin_create_or_update(resource_group, "vnet", {
            "location": LOC, "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                                            "subnets": subnets}}).result()
    assert err.value.status_code == 400 and error_code(err) == code


def test_a_subnet_used_by_a_frontend_cannot_be_deleted(arm, resource_group):
    net = arm.network.virtual_networks.begin_create_or_update(resource_group, "vnet", {
        "location": LOC, "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                                        "subnets": [{"name": "a", "properties": {"addressPrefix": "10.0.1.0/24"}}]},
    }).result()
    arm.network.load_balancers.begin_create_or_update(resource_group, "ilb", {"location": LOC, "properties": {
        "frontendIPConfigurations": [{"name": "fe", "properties": {"subnet": {"id": net.subnets[0].id}}}]}}).result()
    ilb = arm.network.load_balancers.get(resource_group, "ilb")
    private = ilb.frontend_ip_configurations[0].private_ip_address
    assert ipaddress.ip_address(private).is_loopback  # the address its listeners bind
    assert arm.network.subnets.get(resource_group, "vnet", "a").ip_configurations[0].id.endswith(
        "/loadBalancers/ilb/frontendIPConfigurations/fe")
    for delete in (lambda: arm.network.subnets.begin_delete(resource_group, "vnet", "a").result(),
                   lambda: arm.network.virtual_networks.begin_delete(resource_group, "vnet").result()):
        with pytest.raises(HttpResponseError) as err:
            delete()
        assert err.value.status_code == 400 and error_code(err) == "InUseSubnetCannotBeDeleted"


# --- public IPs ---------------------------------------------------------------------------------------------
def test_public_ip_gets_a_loopback_frontend_address(arm, cloud, resource_group):
    pip = public_ip(arm)
    block = cloud.options.loopback_block
    assert pip.ip_address.startswith(f"127.{block}.") and pip.public_ip_allocation_method == "Static"
    assert pip.sku.name == "Standard" and pip.public_ip_address_version == "IPv4"
    other = public_ip(arm, "pip2")
    assert other.ip_address != pip.ip_address
    assert sorted(p.name for p in arm.network.public_ip_addresses.list(resource_group)) == ["pip", "pip2"]
    assert len(list(arm.network.public_ip_addresses.list_all())) == 2
    again = public_ip(arm)  # an update keeps the address
    assert again.ip_address == pip.ip_address and again.etag != pip.etag
    arm.network.public_ip_addresses.begin_delete(resource_group, "pip2").result()
    assert [p.name for p in arm.network.public_ip_addresses.list(resource_group)] == ["pip"]


def test_a_public_ip_used_by_a_load_balancer_cannot_be_deleted(arm, lb, resource_group):
    pip = arm.network.public_ip_addresses.get(resource_group, "pip")
    assert pip.ip_configuration.id == lb.frontend_ip_configurations[0].id
    with pytest.raises(HttpResponseError) as err:
        arm.network.public_ip_addresses.begin_delete(resource_group, "pip").result()
    assert err.value.status_code == 400 and error_code(err) == "PublicIPAddressCannotBeDeleted"


def test_a_public_ip_cannot_serve_two_load_balancers(arm, lb, resource_group):
    pip = arm.network.public_ip_addresses.get(resource_group, "pip")
    with pytest.raises(HttpResponseError) as err:
        arm.network.load_balancers.begin_create_or_update(resource_group, "lb2", lb_body(arm, pip.id, name="lb2"))
    assert error_code(err) == "PublicIPAddressInUse"


# --- load balancers: lifecycle, LRO, ETags ------------------------------------------------------------------
def test_load_balancer_lifecycle_with_the_sdk(arm, lb, resource_group):
    assert lb.provisioning_state == "Succeeded" and lb.sku.name == "Standard"
    assert lb.etag.startswith('W/"') and all(c.etag == lb.etag for c in lb.backend_address_pools + lb.probes)
    got = arm.network.load_balancers.get(resource_group, "LB")  # names are case-insensitive
    assert got.name == "lb" and got.id == lb_id(arm)
    assert [x.name for x in arm.network.load_balancers.list(resource_group)] == ["lb"]
    assert [x.name for x in arm.network.load_balancers.list_all()] == ["lb"]
    rule_ = got.load_balancing_rules[0]
    assert rule_.type == "Microsoft.Network/loadBalancers/loadBalancingRules"
    assert rule_.idle_timeout_in_minutes == 4 and rule_.load_distribution == "Default"
    assert rule_.backend_address_pools[0].id == rule_.backend_address_pool.id  # Azure mirrors the pool
    arm.network.load_balancers.begin_delete(resource_group, "lb").result()
    with pytest.raises(ResourceNotFoundError) as err:
        arm.network.load_balancers.get(resource_group, "lb")
    assert error_code(err) == "ResourceNotFound"
    status, _, _ = raw(arm, "DELETE", lb_id(arm) + API)  # already gone: 204
    assert status == 204


def test_put_is_a_long_running_operation_and_reads_updating_first(arm, cloud, resource_group):
    pip = public_ip(arm)
    status, headers, body = raw(arm, "PUT", lb_id(arm) + API, body=lb_body(arm, pip.id))
    assert status == 201 and headers["Azure-AsyncOperation"].startswith(arm.endpoint)
    assert body["properties"]["provisioningState"] == "Updating"
    assert wait_operation(arm, headers["Azure-AsyncOperation"]) == "Succeeded"
    poller = arm.network.load_balancers.begin_create_or_update(resource_group, "lb", lb_body(arm, pip.id))
    assert poller.result().provisioning_state == "Succeeded"
    status, headers, body = raw(arm, "DELETE", lb_id(arm) + API)
    assert status == 202 and headers["Location"].startswith(arm.endpoint)


def test_every_write_changes_the_etag_and_if_match_guards_it(arm, lb, resource_group):
    stale = lb.etag
    newer = arm.network.load_balancers.begin_create_or_update(resource_group, "lb", lb).result()
    assert newer.etag != stale
    status, _, body = raw(arm, "PUT", lb_id(arm) + API, body=lb.as_dict(), headers={"If-Match": stale})
    assert status == 412 and body["error"]["code"] == "PreconditionFailed"
    status, _, body = raw(arm, "PUT", lb_id(arm) + API, body=lb.as_dict(), headers={"If-None-Match": "*"})
    assert status == 412
    status, _, body = raw(arm, "DELETE", lb_id(arm) + API, headers={"If-Match": stale})
    assert status == 412
    done = arm.network.load_balancers.begin_create_or_update(resource_group, "lb", lb,
                                                             headers={"If-Match": newer.etag}).result()
    assert done.etag != newer.etag
    pool_etag = arm.network.load_balancer_backend_address_pools.get(resource_group, "lb", "blue").etag
    assert pool_etag == done.etag
    status, _, _ = raw(arm, "PUT", lb_id(arm) + "/backendAddressPools/blue" + API, body={"properties": {}},
                       headers={"If-Match": stale})
    assert status == 412
    status, _, _ = raw(arm, "PUT", lb_id(arm) + "/backendAddressPools/new" + API, body={"properties": {}},
                       headers={"If-Match": done.etag})
    assert status == 412  # If-Match on a child that does not exist


def test_a_write_during_another_is_another_operation_in_progress(arm, cloud, lb, resource_group):
    cloud.cloud.options = replace(cloud.cloud.options, provisioning_seconds=5)
    try:
        status, _, _ = raw(arm, "PUT", lb_id(arm) + API, body=lb.as_dict())
        assert status == 200
        status, _, body = raw(arm, "PUT", lb_id(arm) + API, body=lb.as_dict())
        assert status == 409 and body["error"]["code"] == "AnotherOperationInProgress"
        assert "/operations/" in body["error"]["message"]
        status, _, body = raw(arm, "DELETE", lb_id(arm) + "/backendAddressPools/green" + API)
        assert status == 409
        assert arm.network.load_balancers.get(resource_group, "lb").provisioning_state == "Updating"
    finally:
        cloud.cloud.options = replace(cloud.cloud.options, provisioning_seconds=0.05)


# --- back-references ----------------------------------------------------------------------------------------
def test_back_references_are_computed_and_never_taken_from_input(arm, lb, resource_group):
    web = f"{lb_id(arm)}/loadBalancingRules/web"
    blue = arm.network.load_balancer_backend_address_pools.get(resource_group, "lb", "blue")
    assert [r.id for r in blue.load_balancing_rules] == [web]
    assert not arm.network.load_balancer_backend_address_pools.get(resource_group, "lb", "green").load_balancing_rules
    assert [r.id for r in arm.network.load_balancer_probes.get(resource_group, "lb", "http").load_balancing_rules] == [web]
    assert [r.id for r in lb.frontend_ip_configurations[0].load_balancing_rules] == [web]
    body = lb.as_dict()
    body["properties"]["backendAddressPools"][1]["properties"]["loadBalancingRules"] = [{"id": web}]
    body["properties"]["backendAddressPools"][1]["properties"]["backendIPConfigurations"] = [{"id": "/x"}]
    body["properties"]["provisioningState"] = "Failed"
    after = arm.network.load_balancers.begin_create_or_update(resource_group, "lb", body).result()
    green = next(p for p in after.backend_address_pools if p.name == "green")
    assert not green.load_balancing_rules and not green.backend_ip_configurations
    assert after.provisioning_state == "Succeeded"


def test_nat_pools_derive_one_nat_rule_per_member(arm, cloud, resource_group):
    from pipeline.emulator.runtime.members import Member

    pip = public_ip(arm)
    arm.network.load_balancers.begin_create_or_update(resource_group, "lb", lb_body(arm, pip.id, nat=True)).result()
    nat_pool = f"{lb_id(arm)}/inboundNatPools/ssh"
    vmss = f"/subscriptions/{arm.subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Compute/" \
           "virtualMachineScaleSets/web"
    members = [Member(f"{vmss}/virtualMachines/{i}/networkInterfaces/nic/ipConfigurations/ip", f"127.0.0.{i + 10}",
                      f"{resource_group}/web/{i}", True) for i in range(2)]

    async def add():
        cloud.cloud.network.extra_members[nat_pool.lower()] = members
        cloud.cloud.network.membership_changed()

    cloud.call(add())
    got = arm.network.load_balancers.get(resource_group, "lb")
    rules = {r.name: r for r in got.inbound_nat_rules}
    assert sorted(rules) == ["ssh.0", "ssh.1"]
    assert rules["ssh.1"].frontend_port == 50001 and rules["ssh.1"].backend_port == 2222
    assert rules["ssh.0"].backend_ip_configuration.id == members[0].ip_configuration_id
    assert sorted(r.id.rsplit("/", 1)[-1] for r in got.frontend_ip_configurations[0].inbound_nat_rules) == \
        ["ssh.0", "ssh.1"]
    assert [p.id for p in got.frontend_ip_configurations[0].inbound_nat_pools] == [nat_pool]
    again = arm.network.load_balancers.begin_create_or_update(resource_group, "lb", got).result()  # sent back
    assert sorted(r.name for r in again.inbound_nat_rules) == ["ssh.0", "ssh.1"]


# --- child routes -------------------------------------------------------------------------------------------
def test_backend_pool_child_routes(arm, lb, resource_group):
    pools = arm.network.load_balancer_backend_address_pools
    assert sorted(p.name for p in pools.list(resource_group, "lb")) == ["blue", "green"]
    created = pools.begin_create_or_update(resource_group, "lb", "Staging", {"properties": {}}).result()
    assert created.name == "Staging" and created.id == f"{lb_id(arm)}/backendAddressPools/Staging"
    assert pools.get(resource_group, "lb", "staging").name == "Staging"
    pools.begin_delete(resource_group, "lb", "staging").result()
    with pytest.raises(ResourceNotFoundError) as err:
        pools.get(resource_group, "lb", "staging")
    assert error_code(err) == "NotFound"
    pools.begin_delete(resource_group, "lb", "staging").result()  # already gone: fine
    with pytest.raises(HttpResponseError) as err:
        pools.begin_delete(resource_group, "lb", "blue").result()  # the rule needs it
    assert error_code(err) == "InvalidResourceReference"


def test_rule_and_probe_child_routes(arm, lb, resource_group):
    rules = arm.network.load_balancer_load_balancing_rules
    assert [r.name for r in rules.list(resource_group, "lb")] == ["web"]
    assert rules.get(resource_group, "lb", "WEB").frontend_port == 18080
    assert [p.name for p in arm.network.load_balancer_probes.list(resource_group, "lb")] == ["http"]
    probe = arm.network.load_balancer_probes.get(resource_group, "lb", "http")
    assert probe.interval_in_seconds == 5 and probe.number_of_probes == 2
    for get in (lambda: rules.get(resource_group, "lb", "nope"),
                lambda: arm.network.load_balancer_probes.get(resource_group, "lb", "nope")):
        with pytest.raises(ResourceNotFoundError) as err:
            get()
        assert error_code(err) == "NotFound"


def test_rule_health_is_a_long_running_post_with_a_location(arm, lb, resource_group):
    status, headers, body = raw(arm, "POST", f"{lb_id(arm)}/loadBalancingRules/web/health{API}")
    assert status == 202 and headers["Location"].startswith(arm.endpoint) and body is None
    health = arm.network.load_balancer_load_balancing_rules.begin_health(resource_group, "lb", "web").result()
    assert health.up == 0 and health.down == 0 and health.load_balancer_backend_addresses == []
    with pytest.raises(ResourceNotFoundError):
        arm.network.load_balancer_load_balancing_rules.begin_health(resource_group, "lb", "nope")


# --- errors -------------------------------------------------------------------------------------------------
def test_missing_group_and_missing_load_balancer(arm, resource_group):
    with pytest.raises(ResourceNotFoundError) as err:
        arm.network.load_balancers.get("rg-nowhere", "lb")
    assert error_code(err) == "ResourceGroupNotFound"
    with pytest.raises(ResourceNotFoundError) as err:
        arm.network.load_balancers.begin_create_or_update("rg-nowhere", "lb", {"location": LOC})
    assert error_code(err) == "ResourceGroupNotFound"
    with pytest.raises(ResourceNotFoundError) as err:
        arm.network.load_balancers.get(resource_group, "missing")
    assert error_code(err) == "ResourceNotFound"
    with pytest.raises(ResourceNotFoundError) as err:
        arm.network.load_balancer_backend_address_pools.get(resource_group, "missing", "p")
    assert error_code(err) == "ResourceNotFound"


def _bad(arm, resource_group, mutate) -> tuple[int, str]:
    pip = arm.network.public_ip_addresses.get(resource_group, "pip") if _has_pip(arm, resource_group) \
        else public_ip(arm)
    body = lb_body(arm, pip.id, name="bad")
    mutate(body, lb_id(arm, "bad"))
    status, _, reply = raw(arm, "PUT", lb_id(arm, "bad") + API, body=body)
    return status, reply["error"]["code"]


def _has_pip(arm, rg) -> bool:
    return any(p.name == "pip" for p in arm.network.public_ip_addresses.list(rg))


def _rule_props(body):
    return body["properties"]["loadBalancingRules"][0]["properties"]


@pytest.mark.parametrize("mutate, code", [
    (lambda b, i: _rule_props(b).update(backendAddressPool={"id": f"{i}/backendAddressPools/nope"}),
     "InvalidResourceReference"),
    (lambda b, i: _rule_props(b).update(probe={"id": f"{i}/probes/nope"}), "InvalidResourceReference"),
    (lambda b, i: _rule_props(b).update(frontendIPConfiguration={"id": f"{i}/frontendIPConfigurations/nope"}),
     "InvalidResourceReference"),
    (lambda b, i: b["properties"]["frontendIPConfigurations"][0]["properties"].update(
        publicIPAddress={"id": i.replace("loadBalancers/bad", "publicIPAddresses/nope")}), "InvalidResourceReference"),
    (lambda b, i: _rule_props(b).update(backendAddressPools=[{"id": f"{i}/backendAddressPools/green"}]),
     "LoadBalancingRuleBackendAdressPoolAndBackendAddressPoolsCannotBeSetAtTheSameTimeWithDifferentValue"),
    (lambda b, i: b["properties"]["loadBalancingRules"].append(
        {"name": "dup", "properties": dict(_rule_props(b), backendAddressPool={"id": f"{i}/backendAddressPools/green"})}),
     "RulesUseSameFrontendIPConfigurationProtocolAndPort"),
    (lambda b, i: b.update(colour="blue"), "InvalidRequestFormat"),
    (lambda b, i: b["properties"].update(colour="blue"), "InvalidRequestFormat"),
    (lambda b, i: _rule_props(b).update(colour="blue"), "InvalidRequestFormat"),
    (lambda b, i: _rule_props(b).update(frontendPort="eighty"), "InvalidRequestFormat"),
    (lambda b, i: _rule_props(b).pop("protocol"), "InvalidParameter"),
    (lambda b, i: _rule_props(b).update(frontendPort=70000), "InvalidParameter"),
    (lambda b, i: b["properties"]["probes"][0]["properties"].pop("requestPath"), "ProbeRequestPathRequired"),
    (lambda b, i: b.pop("location"), "LocationRequired"),
])
def test_invalid_load_balancers_get_azures_codes(arm, resource_group, mutate, code):
    status, got = _bad(arm, resource_group, mutate)
    assert (status, got) == (400, code)
    with pytest.raises(ResourceNotFoundError):
        arm.network.load_balancers.get(resource_group, "bad")  # nothing was stored


def test_invalid_request_format_details_name_the_member(arm, resource_group):
    pip = public_ip(arm)
    body = lb_body(arm, pip.id)
    body["properties"]["probes"][0]["properties"]["colour"] = "x"
    status, _, reply = raw(arm, "PUT", lb_id(arm) + API, body=body)
    assert status == 400
    assert "Could not find member 'colour' on object of type 'ProbePropertiesFormat'" in \
        reply["error"]["details"][0]["message"]


def test_scale_set_users_block_deleting_the_load_balancer_or_its_pool(arm, cloud, lb, resource_group, monkeypatch):
    # Compute's side of the seam, stood in for here: which scale sets reference an id (prefix match).
    vmss = f"/subscriptions/{arm.subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Compute/" \
           "virtualMachineScaleSets/web"
    green = f"{lb_id(arm)}/backendAddressPools/green".lower()
    monkeypatch.setattr(cloud.cloud.compute, "scale_sets_using",
                        lambda rid: [vmss] if green.startswith(rid.lower()) else [], raising=False)
    for delete in (lambda: arm.network.load_balancers.begin_delete(resource_group, "lb").result(),
                   lambda: arm.network.load_balancer_backend_address_pools.begin_delete(resource_group, "lb",
                                                                                         "green").result()):
        with pytest.raises(HttpResponseError) as err:
            delete()
        assert err.value.status_code == 400 and error_code(err) == "LoadBalancerInUseByVirtualMachineScaleSet"
    body = lb.as_dict()
    body["properties"]["backendAddressPools"] = [p for p in body["properties"]["backendAddressPools"]
                                                 if p["name"] != "green"]
    with pytest.raises(HttpResponseError) as err:
        arm.network.load_balancers.begin_create_or_update(resource_group, "lb", body)
    assert error_code(err) == "LoadBalancerInUseByVirtualMachineScaleSet"


def test_seam_requires_raise_invalid_resource_reference(arm, cloud, lb):
    from pipeline.emulator.core.errors import InvalidResourceReference

    network = cloud.cloud.network
    network.require_backend_pool(f"{lb_id(arm)}/backendAddressPools/BLUE")
    network.require_nat_pool  # noqa: B018 (exists)
    for call, rid in ((network.require_backend_pool, f"{lb_id(arm)}/backendAddressPools/nope"),
                      (network.require_nat_pool, f"{lb_id(arm)}/inboundNatPools/nope"),
                      (network.require_subnet, f"{ids(arm)}/virtualNetworks/v/subnets/s")):
        with pytest.raises(InvalidResourceReference) as err:
            call(rid, referenced_by="/vmss")
        assert rid in err.value.message and "referenced by resource /vmss" in err.value.message


def test_deleting_the_group_deletes_its_network_resources(arm, lb, resource_group):
    arm.resources.resource_groups.begin_delete(resource_group).result()
    arm.resources.resource_groups.create_or_update(resource_group, {"location": LOC})
    assert list(arm.network.load_balancers.list(resource_group)) == []
    assert list(arm.network.public_ip_addresses.list(resource_group)) == []

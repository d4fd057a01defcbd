"""What was read -> what may be written (pipeline/azure/writable.py, pipeline/azure/sdkschema.py): pure, no sockets.

The input is Azure's own LoadBalancerGet example (azure-rest-api-specs, tests/emulator/azure_examples) plus
what Azure adds for a pool with scale-set members: their loadBalancerBackendAddresses, as recorded on Azure.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from azure.mgmt.compute import models as compute_models
from azure.mgmt.network import models as network_models

from pipeline.azure import sdkschema
from pipeline.azure.writable import writable_load_balancer

EXAMPLES = Path(__file__).resolve().parents[1] / "emulator" / "azure_examples" / "network"
NIC = ("/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachineScaleSets/blue/"
       "virtualMachines/{}/networkInterfaces/nic/ipConfigurations/ipconfig1")


def azure_get() -> dict:
    """LoadBalancerGet.json's 200 body, its pool with two scale-set NIC members and one IP address member,
    and a NAT pool with the rule Azure derived from it."""
    body = json.loads((EXAMPLES / "LoadBalancerGet.json").read_text())["responses"]["200"]["body"]
    pool = body["properties"]["backendAddressPools"][0]
    pool_id = pool["id"]
    pool["properties"]["backendIPConfigurations"] = [{"id": NIC.format(i)} for i in (0, 1)]
    pool["properties"]["loadBalancerBackendAddresses"] = [
        {"name": f"guid-{i}", "id": f"{pool_id}/loadBalancerBackendAddresses/guid-{i}", "etag": body["etag"],
         "type": "Microsoft.Network/loadBalancers/backendAddressPools/loadBalancerBackendAddresses",
         "properties": {"provisioningState": "Succeeded", "networkInterfaceIPConfiguration": {"id": NIC.format(i)}}}
        for i in (0, 1)] + [
        {"name": "by-ip", "properties": {"ipAddress": "10.0.0.9",
                                         "virtualNetwork": {"id": "/subscriptions/subid/vnets/v"}}}]
    fe = body["properties"]["frontendIPConfigurations"][0]["id"]
    body["properties"]["inboundNatPools"] = [{"name": "ssh", "properties": {
        "provisioningState": "Succeeded", "frontendIPConfiguration": {"id": fe}, "protocol": "Tcp",
        "frontendPortRangeStart": 50000, "frontendPortRangeEnd": 50099, "backendPort": 22}}]
    body["properties"].setdefault("inboundNatRules", []).append({"name": "ssh.0", "properties": {
        "frontendIPConfiguration": {"id": fe}, "frontendPort": 50000, "backendPort": 22, "protocol": "Tcp",
        "backendIPConfiguration": {"id": NIC.format(0)}}})
    return body


def test_azure_get_carries_read_only_members_the_sdk_knows():
    found = sdkschema.findings(network_models.LoadBalancer, azure_get())
    assert ("readonly", "etag") in found and ("readonly", "properties.provisioningState") in found
    assert ("readonly", "properties.backendAddressPools[].properties.backendIPConfigurations") in found
    assert ("readonly", "properties.backendAddressPools[].properties.loadBalancerBackendAddresses[].properties."
                        "networkInterfaceIPConfiguration") in found
    assert ("readonly", "properties.inboundNatRules[].properties.backendIPConfiguration") in found
    assert ("unknown", "properties.backendAddressPools[].properties.loadBalancerBackendAddresses[].id") in found


def test_writable_keeps_nothing_read_only_or_unknown():
    body = writable_load_balancer(azure_get())
    assert sdkschema.findings(network_models.LoadBalancer, body) == []


def test_writable_keeps_what_the_pipeline_owns():
    read = azure_get()
    body = writable_load_balancer(read)
    props = body["properties"]
    assert body["location"] == "westus" and body["sku"] == {"name": "Basic"}
    assert [r["name"] for r in props["loadBalancingRules"]] == [r["name"] for r in read["properties"]["loadBalancingRules"]]
    rule = props["loadBalancingRules"][0]["properties"]
    assert rule["backendAddressPool"] == read["properties"]["loadBalancingRules"][0]["properties"]["backendAddressPool"]
    assert props["probes"][0]["properties"]["port"] == read["properties"]["probes"][0]["properties"]["port"]
    assert props["inboundNatPools"][0]["properties"]["frontendPortRangeStart"] == 50000


def test_nic_members_and_derived_nat_rules_are_not_written():
    read = azure_get()
    props = writable_load_balancer(read)["properties"]
    pool = props["backendAddressPools"][0]["properties"]
    assert pool["loadBalancerBackendAddresses"] == [
        {"name": "by-ip", "properties": {"ipAddress": "10.0.0.9", "virtualNetwork": {"id": "/subscriptions/subid/vnets/v"}}}]
    assert [r["name"] for r in props["inboundNatRules"]] == ["in-nat-rule"]  # the example's own rule stays


def test_derived_nat_rules_are_dropped_even_when_their_nat_pool_is_being_removed():
    read = azure_get()
    read["properties"]["inboundNatPools"] = []  # e.g. infra migrating NAT pools to NAT rules V2
    props = writable_load_balancer(read)["properties"]
    assert [r["name"] for r in props["inboundNatRules"]] == ["in-nat-rule"]


def test_a_pool_of_only_nic_members_sends_no_address_list():
    read = azure_get()
    addresses = read["properties"]["backendAddressPools"][0]["properties"]["loadBalancerBackendAddresses"]
    del addresses[-1]
    pool = writable_load_balancer(read)["properties"]["backendAddressPools"][0]
    assert "loadBalancerBackendAddresses" not in pool.get("properties", {})


def test_the_read_body_is_not_changed():
    read = azure_get()
    before = copy.deepcopy(read)
    writable_load_balancer(read)
    assert read == before


def test_schema_follows_nested_models_lists_and_dicts():
    body = {"location": "x", "identity": {"type": "UserAssigned", "userAssignedIdentities": {"id1": {"principalId": "p"}}},
            "properties": {"provisioningState": "Succeeded", "virtualMachineProfile": {"networkProfile": {
                "networkInterfaceConfigurations": [{"name": "n", "properties": {"ipConfigurations": [
                    {"name": "i", "properties": {"bogus": 1, "loadBalancerBackendAddressPools": [{"id": "p"}]}}]}}]}}}}
    assert sdkschema.findings(compute_models.VirtualMachineScaleSet, body) == [
        ("readonly", "identity.userAssignedIdentities.{}.principalId"),
        ("readonly", "properties.provisioningState"),
        ("unknown", "properties.virtualMachineProfile.networkProfile.networkInterfaceConfigurations[].properties."
                    "ipConfigurations[].properties.bogus"),
    ]
    kept = sdkschema.writable(compute_models.VirtualMachineScaleSet, body)
    ipc = kept["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]
    assert ipc["properties"]["ipConfigurations"][0]["properties"] == {"loadBalancerBackendAddressPools": [{"id": "p"}]}

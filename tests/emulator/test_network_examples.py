"""Azure's official network examples (tests/emulator/azure_examples/network, from ../shared) replayed as contract fixtures:
their request bodies are accepted once what they reference exists, and every field of their example
responses is present in ours (values too, except generated ones). Gaps are written in DIVERGENCES.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.emulator.runtime.members import Member
from tests.emulator.test_frontdoor import raw
from tests.emulator.test_network import wait_operation

EXAMPLES = Path(__file__).parent / "azure_examples" / "network"
GENERATED = {"etag", "resourceGuid", "privateIPAddress"}   # values Azure generates: presence only


def example(name: str, arm) -> dict:
    text = (EXAMPLES / name).read_text().replace("/subscriptions/subid/", f"/subscriptions/{arm.subscription_id}/")
    return json.loads(text)


def gaps(expected, actual, path="", *, values=True) -> list[str]:
    """Fields of `expected` missing from `actual` (lists matched by name, else by position)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [path or "."]
        out = []
        for k, v in expected.items():
            if k not in actual:
                out.append(f"{path}.{k}")
            else:
                out += gaps(v, actual[k], f"{path}.{k}", values=values and k not in GENERATED)
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [path]
        out = []
        for i, item in enumerate(expected):
            if isinstance(item, dict) and "name" in item:
                match = next((a for a in actual if isinstance(a, dict) and a.get("name") == item["name"]), None)
            else:
                match = actual[i] if i < len(actual) else None
            out += [f"{path}[{i}]"] if match is None else gaps(item, match, f"{path}[{i}]", values=values)
        return out
    if values and expected != actual:
        return [f"{path}: {expected!r} != {actual!r}"]
    return []


def path_of(arm, params: dict, *parts: str) -> str:
    rg = params.get("resourceGroupName") or params.get("groupName")
    base = f"/subscriptions/{arm.subscription_id}/resourceGroups/{rg}/providers/Microsoft.Network"
    return base + "/" + "/".join(parts) + f"?api-version={params['api-version']}"


def make_group(arm, name: str) -> None:
    arm.resources.resource_groups.create_or_update(name, {"location": "eastus"})


def make_vnet(arm) -> None:
    make_group(arm, "rg1")
    arm.network.virtual_networks.begin_create_or_update("rg1", "vnetlb", {
        "location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                                             "subnets": [{"name": "subnetlb", "properties": {"addressPrefix":
                                                                                              "10.0.1.0/24"}}]}}).result()


def put_example_lb(arm, name: str) -> tuple[int, dict]:
    ex = example(name, arm)
    p = ex["parameters"]
    make_vnet(arm)
    status, headers, _ = raw(arm, "PUT", path_of(arm, p, "loadBalancers", p["loadBalancerName"]), body=p["parameters"])
    if status < 300:
        assert wait_operation(arm, headers["Azure-AsyncOperation"]) == "Succeeded"
    return status, ex


@pytest.mark.parametrize("name", ["LoadBalancerCreate.json", "LoadBalancerCreateStandardSku.json"])
def test_create_examples(arm, cloud, name):
    status, ex = put_example_lb(arm, name)
    assert status in (200, 201), ex
    got = arm.network.load_balancers.get("rg1", "lb").as_dict()
    assert gaps(ex["responses"][str(status)]["body"], got) == []


def test_get_example(arm, cloud):
    put_example_lb(arm, "LoadBalancerCreate.json")
    ex = example("LoadBalancerGet.json", arm)
    status, _, got = raw(arm, "GET", path_of(arm, ex["parameters"], "loadBalancers", "lb"))
    assert status == 200
    assert gaps(ex["responses"]["200"]["body"], got, values=False) == []


def test_delete_example(arm, cloud):
    put_example_lb(arm, "LoadBalancerCreate.json")
    ex = example("LoadBalancerDelete.json", arm)
    status, headers, _ = raw(arm, "DELETE", path_of(arm, ex["parameters"], "loadBalancers", "lb"))
    assert str(status) in ex["responses"] and "Location" in headers


def _testrg_lb(arm, name: str, *, frontend: str, pool: str, probe: str, rule: str) -> str:
    """A load balancer in testrg shaped as the child examples assume."""
    make_group(arm, "testrg")
    pip = arm.network.public_ip_addresses.begin_create_or_update("testrg", f"pip-{name}", {
        "location": "eastus", "sku": {"name": "Standard"}}).result()
    lb = f"/subscriptions/{arm.subscription_id}/resourceGroups/testrg/providers/Microsoft.Network/loadBalancers/{name}"
    arm.network.load_balancers.begin_create_or_update("testrg", name, {"location": "eastus", "properties": {
        "frontendIPConfigurations": [{"name": frontend, "properties": {"publicIPAddress": {"id": pip.id}}}],
        "backendAddressPools": [{"name": pool}],
        "probes": [{"name": probe, "properties": {"protocol": "Http", "port": 80, "requestPath": "healthcheck.aspx",
                                                  "intervalInSeconds": 15, "numberOfProbes": 2, "probeThreshold": 1}}],
        "loadBalancingRules": [{"name": rule, "properties": {
            "frontendIPConfiguration": {"id": f"{lb}/frontendIPConfigurations/{frontend}"},
            "backendAddressPool": {"id": f"{lb}/backendAddressPools/{pool}"}, "probe": {"id": f"{lb}/probes/{probe}"},
            "protocol": "Tcp", "frontendPort": 80, "backendPort": 80, "idleTimeoutInMinutes": 15,
            "enableTcpReset": True}}]}}).result()
    return lb


def test_rule_get_example(arm, cloud):
    _testrg_lb(arm, "lb1", frontend="lbfrontend", pool="bepool1", probe="probe1", rule="rule1")
    ex = example("LoadBalancerLoadBalancingRuleGet.json", arm)
    status, _, got = raw(arm, "GET", path_of(arm, ex["parameters"], "loadBalancers", "lb1", "loadBalancingRules",
                                             "rule1"))
    assert status == 200 and gaps(ex["responses"]["200"]["body"], got) == []


def test_probe_get_example(arm, cloud):
    _testrg_lb(arm, "lb", frontend="fe", pool="backend", probe="probe1", rule="rulelb")
    ex = example("LoadBalancerProbeGet.json", arm)
    status, _, got = raw(arm, "GET", path_of(arm, ex["parameters"], "loadBalancers", "lb", "probes", "probe1"))
    assert status == 200 and gaps(ex["responses"]["200"]["body"], got) == []


@pytest.mark.parametrize("name", ["LoadBalancerBackendAddressPoolGet.json", "LoadBalancerBackendAddressPoolList.json"])
def test_backend_pool_read_examples(arm, cloud, name):
    lb = _testrg_lb(arm, "lb", frontend="fe", pool="backend", probe="probe1", rule="rulelb")
    ex = example(name, arm)
    expected = ex["responses"]["200"]["body"]
    nic = (expected.get("value") or [expected])[0]["properties"]["backendIPConfigurations"][0]["id"]

    async def member():  # a pool member as compute will report it (test-only hook)
        cloud.cloud.network.extra_members[f"{lb}/backendAddressPools/backend".lower()] = [
            Member(nic, "127.0.0.1", "testrg/nic/0", True)]

    cloud.call(member())
    parts = ["loadBalancers", "lb", "backendAddressPools"] + ([ex["parameters"]["backendAddressPoolName"]]
                                                              if "backendAddressPoolName" in ex["parameters"] else [])
    status, _, got = raw(arm, "GET", path_of(arm, ex["parameters"], *parts))
    assert status == 200 and gaps(expected, got) == []


def test_backend_pool_put_example(arm, cloud):
    _testrg_lb(arm, "lb", frontend="fe", pool="backend", probe="probe1", rule="rulelb")
    ex = example("LBBackendAddressPoolWithBackendAddressesPut.json", arm)
    p = ex["parameters"]
    status, headers, got = raw(arm, "PUT", path_of(arm, p, "loadBalancers", "lb", "backendAddressPools", "backend"),
                               body=p["parameters"])
    assert str(status) in ex["responses"]
    assert wait_operation(arm, headers["Azure-AsyncOperation"]) == "Succeeded"
    expected = dict(ex["responses"][str(status)]["body"])
    expected["properties"] = {k: v for k, v in expected["properties"].items() if k != "provisioningState"}
    assert gaps(expected, got) == []  # provisioningState reads Updating until the operation completes
    final = arm.network.load_balancer_backend_address_pools.get("testrg", "lb", "backend").as_dict()
    assert gaps(ex["responses"][str(status)]["body"], final) == []

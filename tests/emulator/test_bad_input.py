"""Bad input never gives a traceback, a 500 or a hang, and never spoils the keep-alive connection.

Every ARM route the router knows is driven over one raw HTTPS keep-alive connection (http.client with the
emulator's CA) with: malformed JSON, a JSON array, an empty body, unknown members where Azure rejects them,
no api-version, an unsupported api-version, wrong types for known fields, references to missing resources,
names with invalid characters and an oversized body. Each answer must be a 4xx with an ARM error body
(`{"error": {"code", "message"}}`, an Azure code) within a bounded time, and the very same connection must
serve the next request.

The resources the routes name exist (one of each kind, built once for the module), so handlers get past
"not found" and really look at the body.
"""

from __future__ import annotations

import copy
import http.client
import json
import re
import ssl
import time
from dataclasses import dataclass

import pytest

from tests.fixtures.images import build_image, vmss_body, wait_until

TIMEOUT = 15.0            # seconds: any answer slower than this counts as a hang
RG = "rgbad"
LOCATION = "westeurope"
NAMES = {"resource_group": RG, "load_balancer": "lb", "pool": "pool", "rule": "rule", "probe": "probe",
         "frontend": "fe", "public_ip": "pip", "virtual_network": "vnet", "subnet": "default", "vmss": "vmss",
         "instance_id": "0", "nic": "nic1", "image": "img", "gallery": "gal", "gallery_image": "def",
         "version": "1.0.0", "namespace": "Microsoft.Compute", "location": "westeurope",
         "operation_id": "00000000-0000-0000-0000-000000000000", "nat_rule": "nat",
         "network_security_group": "nsg", "security_rule": "ssh", "default_security_rule": "DenyAllInBound"}
ARM_CODE = re.compile(r"^[A-Z][A-Za-z0-9]+$")
JSON_ERRORS = {"InvalidRequestContent", "InvalidRequestFormat"}


@dataclass
class Answer:
    status: int
    headers: dict
    body: object
    seconds: float


class Client:
    """One keep-alive HTTPS connection to the emulator; `send` fails if the server dropped it."""

    def __init__(self, emu):
        host, port = emu.endpoint.removeprefix("https://").rsplit(":", 1)
        self.token = emu.options.token
        self.subscription = emu.options.subscription_id
        self.conn = http.client.HTTPSConnection(host, int(port), timeout=TIMEOUT,
                                                context=ssl.create_default_context(cafile=str(emu.server.ca_file)))
        self.conn.connect()
        self.sock = self.conn.sock

    def send(self, method: str, path: str, body: bytes | None = None, *, headers: dict | None = None) -> Answer:
        sent = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json", **(headers or {})}
        started = time.monotonic()
        self.conn.request(method, path, body=body, headers=sent)
        response = self.conn.getresponse()
        data = response.read()
        seconds = time.monotonic() - started
        assert self.conn.sock is self.sock, f"{method} {path}: the server closed the keep-alive connection"
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, parsed, seconds)

    def close(self) -> None:
        self.conn.close()


def assert_arm_error(answer: Answer, what: str, *, codes: set[str] | None = None, status: int | None = None):
    assert 400 <= answer.status < 500, f"{what}: {answer.status} {answer.body!r}"
    if status is not None:
        assert answer.status == status, f"{what}: {answer.status} {answer.body!r}"
    assert isinstance(answer.body, dict) and isinstance(answer.body.get("error"), dict), f"{what}: {answer.body!r}"
    error = answer.body["error"]
    assert isinstance(error.get("code"), str) and isinstance(error.get("message"), str), f"{what}: {error}"
    assert ARM_CODE.match(error["code"]) and error["message"], f"{what}: {error}"
    assert "Traceback" not in error["message"], f"{what}: {error}"
    if codes is not None:
        assert error["code"] in codes, f"{what}: {error}"


def assert_head_error(answer: Answer, what: str, *, status: int, **_) -> None:
    assert answer.status == status and answer.body is None, f"{what}: {answer.status} {answer.body!r}"


def wait_for(client: Client, answer: Answer) -> None:
    """Let a write that was accepted finish, so the next request is not refused as a conflict."""
    url = answer.headers.get("azure-asyncoperation") or answer.headers.get("location")
    if answer.status >= 300 or not url:
        return
    path = url.split("://", 1)[1].split("/", 1)[1]
    wait_until(lambda: client.send("GET", "/" + path).body.get("status") != "InProgress", what="operation")


# --- the world the routes name --------------------------------------------------------------------------------
def ids(sub: str) -> dict[str, str]:
    base = f"/subscriptions/{sub}/resourceGroups/{RG}/providers"
    lb = f"{base}/Microsoft.Network/loadBalancers/lb"
    return {"lb": lb, "pool": f"{lb}/backendAddressPools/pool", "fe": f"{lb}/frontendIPConfigurations/fe",
            "probe": f"{lb}/probes/probe", "pip": f"{base}/Microsoft.Network/publicIPAddresses/pip",
            "subnet": f"{base}/Microsoft.Network/virtualNetworks/vnet/subnets/default",
            "image": f"{base}/Microsoft.Compute/images/img",
            "definition": f"{base}/Microsoft.Compute/galleries/gal/images/def"}


SECURITY_RULE = {"protocol": "Tcp", "access": "Allow", "direction": "Inbound", "priority": 200,
                 "sourceAddressPrefix": "Internet", "sourcePortRange": "*", "destinationAddressPrefix": "*",
                 "destinationPortRange": "8080"}


def valid_bodies(sub: str, blob_uri: str) -> dict[str, dict]:
    """A valid body per write operation: the base for wrong-type variants (sent to fresh names)."""
    i = ids(sub)
    return {
        "ResourceGroups_CreateOrUpdate": {"location": LOCATION, "tags": {"a": "b"}},
        "PublicIPAddresses_CreateOrUpdate": {"location": LOCATION, "sku": {"name": "Standard"}, "tags": {"a": "b"},
                                             "properties": {"publicIPAllocationMethod": "Static",
                                                            "idleTimeoutInMinutes": 4}},
        "VirtualNetworks_CreateOrUpdate": {"location": LOCATION, "properties": {
            "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
            "subnets": [{"name": "s1", "properties": {"addressPrefix": "10.1.0.0/24"}}]}},
        "Subnets_CreateOrUpdate": {"properties": {"addressPrefix": "10.0.9.0/24"}},
        "LoadBalancers_CreateOrUpdate": {"location": LOCATION, "sku": {"name": "Standard"}, "properties": {
            "frontendIPConfigurations": [{"name": "fe", "properties": {"subnet": {"id": i["subnet"]}}}],
            "backendAddressPools": [{"name": "p"}],
            "probes": [{"name": "pr", "properties": {"protocol": "Tcp", "port": 80, "intervalInSeconds": 5,
                                                     "numberOfProbes": 2}}],
            "loadBalancingRules": [{"name": "r", "properties": {
                "frontendIPConfiguration": {"id": i["lb"].replace("/lb", "/fuzz") + "/frontendIPConfigurations/fe"},
                "backendAddressPool": {"id": i["lb"].replace("/lb", "/fuzz") + "/backendAddressPools/p"},
                "probe": {"id": i["lb"].replace("/lb", "/fuzz") + "/probes/pr"},
                "protocol": "Tcp", "frontendPort": 81, "backendPort": 8080}}]}},
        "LoadBalancerBackendAddressPools_CreateOrUpdate": {"properties": {}},
        "InboundNatRules_CreateOrUpdate": {"properties": {
            "frontendIPConfiguration": {"id": i["fe"]}, "backendAddressPool": {"id": i["pool"]}, "protocol": "Tcp",
            "frontendPortRangeStart": 52000, "frontendPortRangeEnd": 52009, "backendPort": 8080}},
        "NetworkSecurityGroups_CreateOrUpdate": {"location": LOCATION, "properties": {"securityRules": [
            {"name": "web", "properties": SECURITY_RULE}]}},
        "SecurityRules_CreateOrUpdate": {"properties": {**SECURITY_RULE, "priority": 300}},
        "VirtualMachineScaleSets_CreateOrUpdate": vmss_body(i["image"], capacity=0, subnet=i["subnet"],
                                                            pools=[i["pool"]], location=LOCATION),
        "VirtualMachineScaleSets_Update": {"sku": {"capacity": 1}, "tags": {"a": "b"},
                                           "properties": {"upgradePolicy": {"mode": "Manual"}}},
        "Images_CreateOrUpdate": {"location": LOCATION, "properties": {"storageProfile": {"osDisk": {
            "osType": "Linux", "osState": "Generalized", "blobUri": blob_uri}}}},
        "Galleries_CreateOrUpdate": {"location": LOCATION, "properties": {"description": "d"}},
        "GalleryImages_CreateOrUpdate": {"location": LOCATION, "properties": {
            "osType": "Linux", "osState": "Generalized", "identifier": {"publisher": "p", "offer": "o", "sku": "s2"}}},
        "GalleryImageVersions_CreateOrUpdate": {"location": LOCATION, "properties": {
            "publishingProfile": {"targetRegions": [{"name": LOCATION}]},
            "storageProfile": {"source": {"id": i["image"]}}}},
    }


@pytest.fixture(scope="module")
def world(emulator, azurite):
    """One of each resource, as the routes' placeholder names say; returns (emulator, valid bodies)."""
    from azure.storage.blob import BlobServiceClient

    from tests.fixtures.localcloud import build_clients

    emulator.call(emulator.cloud.reset())
    with BlobServiceClient.from_connection_string(azurite.connection_string) as service:
        container = service.get_container_client("badinput")
        if not container.exists():
            container.create_container()
        blob = container.upload_blob("app.vhd", build_image("1.0.0"), overwrite=True)
        blob_uri = blob.url
    arm = build_clients(emulator)
    sub = arm.subscription_id
    arm.resources.resource_groups.create_or_update(RG, {"location": LOCATION})
    arm.network.virtual_networks.begin_create_or_update(RG, "vnet", {"location": LOCATION, "properties": {
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
        "subnets": [{"name": "default", "properties": {"addressPrefix": "10.0.0.0/24"}}]}}).result()
    arm.network.network_security_groups.begin_create_or_update(RG, "nsg", {"location": LOCATION, "properties": {
        "securityRules": [{"name": "ssh", "properties": {**SECURITY_RULE, "destinationPortRange": "22"}}]}}).result()
    arm.network.public_ip_addresses.begin_create_or_update(RG, "pip", {
        "location": LOCATION, "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}}).result()
    i = ids(sub)
    arm.network.load_balancers.begin_create_or_update(RG, "lb", {"location": LOCATION, "sku": {"name": "Standard"},
                                                                 "properties": {
        "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": i["pip"]}}}],
        "backendAddressPools": [{"name": "pool"}],
        "probes": [{"name": "probe", "properties": {"protocol": "Http", "port": 8080, "requestPath": "/health",
                                                    "intervalInSeconds": 5, "numberOfProbes": 1}}],
        "loadBalancingRules": [{"name": "rule", "properties": {
            "frontendIPConfiguration": {"id": i["fe"]}, "backendAddressPool": {"id": i["pool"]},
            "probe": {"id": i["probe"]}, "protocol": "Tcp", "frontendPort": 18181, "backendPort": 8080}}]}}).result()
    arm.compute.images.begin_create_or_update(RG, "img", {"location": LOCATION, "properties": {"storageProfile": {
        "osDisk": {"osType": "Linux", "osState": "Generalized", "blobUri": blob_uri}}}}).result()
    arm.compute.galleries.begin_create_or_update(RG, "gal", {"location": LOCATION}).result()
    arm.compute.gallery_images.begin_create_or_update(RG, "gal", "def", {"location": LOCATION, "properties": {
        "osType": "Linux", "osState": "Generalized", "identifier": {"publisher": "p", "offer": "o", "sku": "s"}}}).result()
    arm.compute.gallery_image_versions.begin_create_or_update(RG, "gal", "def", "1.0.0", {
        "location": LOCATION, "properties": {"storageProfile": {"source": {"id": i["image"]}}}}).result()
    arm.compute.virtual_machine_scale_sets.begin_create_or_update(RG, "vmss", vmss_body(
        i["image"], capacity=1, overprovision=False, subnet=i["subnet"], pools=[i["pool"]],
        location=LOCATION)).result()
    yield emulator, valid_bodies(sub, blob_uri)
    emulator.call(emulator.cloud.reset())


@pytest.fixture
def client(world):
    emu, _ = world
    c = Client(emu)
    yield c
    c.close()


def concrete(template: str, sub: str, **override: str) -> str:
    values = {**NAMES, "subscription": sub, **override}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


def arm_routes(emu):
    return [r for r in emu.cloud.router.routes]


def version_of(route) -> str:
    from pipeline.emulator.core.routing import API_VERSIONS

    return max(API_VERSIONS["network" if route.family == "any" else route.family])


def follow_up(client: Client, what: str) -> None:
    """The same connection still works: a plain GET of the resource group."""
    answer = client.send("GET", f"/subscriptions/{client.subscription}/resourcegroups/{RG}?api-version=2025-04-01")
    assert answer.status == 200, f"after {what}: {answer.status} {answer.body!r}"


# --- every route: bodies, api-versions --------------------------------------------------------------------------
BAD_BODIES = {
    "malformed JSON": b'{"location": "westeurope", "properties": {',
    "not JSON at all": b"\xff\xfe<xml/>",
    "a JSON array": b'[{"location": "westeurope"}]',
    "a JSON string": b'"westeurope"',
    "JSON null": b"null",
}
# POST operations without a request body in Azure's API: Azure ignores what is sent, so do we.
BODILESS = {"LoadBalancerLoadBalancingRules_Health", "VirtualMachineScaleSetVMs_RetrieveBootDiagnosticsData"}


def test_bad_bodies_on_every_write_route(world, client):
    emu, _ = world
    writes = [r for r in arm_routes(emu) if r.method in ("PUT", "PATCH", "POST") and r.operation not in BODILESS]
    assert len(writes) > 20
    for route in writes:
        path = concrete(route.template, client.subscription) + f"?api-version={version_of(route)}"
        for kind, body in BAD_BODIES.items():
            what = f"{kind} to {route.method} {route.operation}"
            answer = client.send(route.method, path, body)
            assert_arm_error(answer, what, codes=JSON_ERRORS, status=400)
            assert answer.seconds < TIMEOUT
            follow_up(client, what)


def test_empty_body_where_one_is_required(world, client):
    emu, _ = world
    for route in arm_routes(emu):
        if route.method not in ("PUT", "PATCH") and route.operation != "VirtualMachineScaleSets_UpdateInstances":
            continue
        path = concrete(route.template, client.subscription) + f"?api-version={version_of(route)}"
        for body in (b"", b"   ", b"{}"):
            what = f"body {body!r} to {route.method} {route.operation}"
            if body == b"{}" and route.operation in ("VirtualMachineScaleSets_Update", "GalleryImageVersions_Update",
                                                     "LoadBalancerBackendAddressPools_CreateOrUpdate",
                                                     "Subnets_CreateOrUpdate", "LoadBalancers_UpdateTags"):
                continue   # an empty object is a valid patch / an empty pool / a subnet rewritten as is
            answer = client.send(route.method, path, body)
            assert_arm_error(answer, what)
            follow_up(client, what)


def test_api_version_missing_or_unsupported_on_every_route(world, client):
    emu, _ = world
    for route in arm_routes(emu):
        path = concrete(route.template, client.subscription)
        body = b"{}" if route.method in ("PUT", "PATCH", "POST") else None
        check = assert_arm_error if route.method != "HEAD" else assert_head_error   # HEAD answers carry no body
        answer = client.send(route.method, path, body)
        check(answer, f"no api-version on {route.operation}", codes={"MissingApiVersionParameter"}, status=400)
        for version in ("1999-01-01", "not-a-version", ""):
            answer = client.send(route.method, f"{path}?api-version={version}", body)
            check(answer, f"api-version {version!r} on {route.operation}", status=400,
                  codes={"NoRegisteredProviderFound", "InvalidApiVersionParameter", "MissingApiVersionParameter"})
        follow_up(client, route.operation)


def test_missing_resources_on_every_route(world, client):
    """Every name replaced by one that does not exist: 404 (or 400 for a missing instance in a POST body)."""
    emu, _ = world
    missing = {name: f"missing{name.replace('_', '')}" for name in NAMES if name not in ("namespace", "location")}
    missing.update(instance_id="987", version="9.9.9", operation_id="11111111-1111-1111-1111-111111111111")
    for route in arm_routes(emu):
        if route.method != "GET":
            continue
        for param in re.findall(r"\{(\w+)\}", route.template):
            if param == "subscription" or param not in missing:
                continue
            path = concrete(route.template, client.subscription, **{param: missing[param]})
            answer = client.send("GET", f"{path}?api-version={version_of(route)}")
            assert_arm_error(answer, f"missing {param} on {route.operation}", status=404)
    follow_up(client, "missing resources")


# --- wrong types --------------------------------------------------------------------------------------------------
def wrong_types(value):
    """Values of the wrong JSON type for `value`."""
    if isinstance(value, bool) or isinstance(value, (int, float)):
        return ["three", {"n": 3}]
    if isinstance(value, str):
        return [12345, ["x"]]
    if isinstance(value, dict):
        return ["not-an-object", []]
    if isinstance(value, list):
        return ["not-an-array", {"x": 1}, ["item of the wrong type"]]
    return []


def variants(body, path=()):
    """(key path, body with the value at that path replaced by a wrong type) for every node."""
    if isinstance(body, dict):
        items = list(body.items())
    elif isinstance(body, list):
        items = list(enumerate(body))
    else:
        return
    for k, value in items:
        for wrong in wrong_types(value):
            changed = copy.deepcopy(body)
            changed[k] = wrong
            yield path + (k,), changed
        for sub_path, sub_changed in variants(value, path + (k,)):
            changed = copy.deepcopy(body)
            changed[k] = sub_changed
            yield sub_path, changed


# Fields the emulator itself reads: a wrong type there must be a 400, as on Azure.
MUST_REJECT = {
    "ResourceGroups_CreateOrUpdate": {("location",), ("tags",)},
    "VirtualMachineScaleSets_CreateOrUpdate": {("location",), ("sku",), ("sku", "capacity"), ("properties",),
                                               ("tags",), ("properties", "upgradePolicy"),
                                               ("properties", "virtualMachineProfile"),
                                               ("properties", "virtualMachineProfile", "storageProfile"),
                                               ("properties", "virtualMachineProfile", "osProfile"),
                                               ("properties", "virtualMachineProfile", "networkProfile"),
                                               ("properties", "overprovision")},
    "VirtualMachineScaleSets_Update": {("sku",), ("sku", "capacity"), ("properties",), ("tags",),
                                       ("properties", "upgradePolicy"), ("properties", "upgradePolicy", "mode")},
    "Images_CreateOrUpdate": {("location",), ("properties",), ("properties", "storageProfile"),
                              ("properties", "storageProfile", "osDisk"),
                              ("properties", "storageProfile", "osDisk", "blobUri")},
    "Galleries_CreateOrUpdate": {("location",), ("properties",)},
    "GalleryImages_CreateOrUpdate": {("location",), ("properties",), ("properties", "identifier")},
    "GalleryImageVersions_CreateOrUpdate": {("location",), ("properties",), ("properties", "storageProfile"),
                                            ("properties", "publishingProfile"),
                                            ("properties", "publishingProfile", "targetRegions")},
    "LoadBalancers_CreateOrUpdate": {("location",), ("properties",), ("tags",),
                                     ("properties", "loadBalancingRules"), ("properties", "probes")},
    "PublicIPAddresses_CreateOrUpdate": {("location",), ("properties",), ("tags",)},
    "VirtualNetworks_CreateOrUpdate": {("location",), ("properties",), ("properties", "subnets")},
    "Subnets_CreateOrUpdate": {("properties",)},
    "LoadBalancerBackendAddressPools_CreateOrUpdate": {("properties",)},
    "InboundNatRules_CreateOrUpdate": {("properties",), ("properties", "frontendIPConfiguration"),
                                       ("properties", "backendAddressPool"), ("properties", "protocol"),
                                       ("properties", "frontendPortRangeStart"), ("properties", "frontendPortRangeEnd"),
                                       ("properties", "backendPort")},
}
FRESH = {"resource_group": "rgfuzz", "load_balancer": "fuzz", "public_ip": "pipfuzz", "virtual_network": "vnetfuzz",
         "subnet": "fuzz", "pool": "fuzz", "image": "imgfuzz", "gallery": "galfuzz", "gallery_image": "deffuzz",
         "version": "2.0.0", "vmss": "vmssfuzz", "nat_rule": "natfuzz",
         "network_security_group": "nsgfuzz", "security_rule": "fuzz"}


def fresh_path(route, sub: str) -> str:
    """The route with its own (last) name fresh and its parents the existing ones."""
    own = re.findall(r"\{(\w+)\}", route.template)[-1]
    return concrete(route.template, sub, **{own: FRESH[own]}) + f"?api-version={version_of(route)}"


def test_wrong_types_for_known_fields(world, client):
    emu, bodies = world
    writes = {r.operation: r for r in arm_routes(emu) if r.method in ("PUT", "PATCH")}
    assert set(bodies) <= set(writes)
    failures: list[str] = []
    for operation, body in bodies.items():
        route = writes[operation]
        path = (concrete(route.template, client.subscription) + f"?api-version={version_of(route)}"
                if operation == "VirtualMachineScaleSets_Update" else fresh_path(route, client.subscription))
        for key_path, changed in variants(body):
            what = f"{operation} with a wrong type at {'.'.join(map(str, key_path))}"
            answer = client.send(route.method, path, json.dumps(changed).encode())
            if answer.status >= 500:
                failures.append(f"{what}: {answer.status}")
            elif answer.status >= 400:
                assert_arm_error(answer, what)
            elif key_path in MUST_REJECT.get(operation, ()):
                failures.append(f"{what}: accepted ({answer.status})")
            wait_for(client, answer)
            got = client.send("GET", path)   # whatever was stored still reads back
            if got.status not in (200, 404):
                failures.append(f"GET after {what}: {got.status}")
        follow_up(client, operation)
    assert not failures, "\n".join(failures)


def test_capacity_three_is_rejected(world, client):
    emu, _ = world
    path = (f"/subscriptions/{client.subscription}/resourceGroups/{RG}/providers/Microsoft.Compute/"
            f"virtualMachineScaleSets/vmss?api-version=2026-04-01")
    for method in ("PATCH", "PUT"):
        body = {"sku": {"capacity": "three"}} if method == "PATCH" else {
            **vmss_body(ids(client.subscription)["image"], capacity=1), "sku": {"name": "Standard_B1s",
                                                                             "capacity": "three"}}
        answer = client.send(method, path, json.dumps(body).encode())
        assert_arm_error(answer, f"{method} capacity 'three'", codes={"InvalidRequestContent", "InvalidParameter"},
                         status=400)
        assert "capacity" in answer.body["error"]["message"]
    follow_up(client, "capacity three")


# --- unknown members, missing references, names, size -----------------------------------------------------------------
def test_unknown_members_where_azure_rejects_them(world, client):
    """Microsoft.Network parses strictly: an unknown member is 400 InvalidRequestFormat."""
    emu, bodies = world
    for operation in ("LoadBalancers_CreateOrUpdate", "PublicIPAddresses_CreateOrUpdate",
                      "VirtualNetworks_CreateOrUpdate", "Subnets_CreateOrUpdate",
                      "LoadBalancerBackendAddressPools_CreateOrUpdate", "NetworkSecurityGroups_CreateOrUpdate",
                      "SecurityRules_CreateOrUpdate"):
        route = next(r for r in arm_routes(emu) if r.operation == operation)
        path = fresh_path(route, client.subscription)
        for where in ("top", "properties"):
            body = copy.deepcopy(bodies[operation])
            (body if where == "top" else body.setdefault("properties", {}))["notAField"] = 1
            answer = client.send("PUT", path, json.dumps(body).encode())
            assert_arm_error(answer, f"unknown member at {where} of {operation}", codes={"InvalidRequestFormat"},
                             status=400)
    follow_up(client, "unknown members")


def test_references_to_missing_resources(world, client):
    emu, bodies = world
    sub = client.subscription
    i = ids(sub)
    base = f"/subscriptions/{sub}/resourceGroups/{RG}/providers"
    cases = [
        ("PUT", f"{base}/Microsoft.Compute/virtualMachineScaleSets/vmssref?api-version=2026-04-01",
         vmss_body(i["image"].replace("/img", "/nope"), capacity=0), {"NotFound"}),
        ("PUT", f"{base}/Microsoft.Compute/virtualMachineScaleSets/vmssref?api-version=2026-04-01",
         vmss_body(i["image"], capacity=0, subnet=i["subnet"].replace("/default", "/nope")),
         {"InvalidResourceReference", "NotFound", "InvalidParameter"}),
        ("PUT", f"{base}/Microsoft.Compute/virtualMachineScaleSets/vmssref?api-version=2026-04-01",
         vmss_body(i["image"], capacity=0, pools=[i["pool"].replace("/pool", "/nope")]),
         {"InvalidResourceReference", "NotFound", "InvalidParameter"}),
        ("PUT", f"{base}/Microsoft.Compute/galleries/gal/images/def/versions/3.0.0?api-version=2026-03-03",
         {"location": LOCATION, "properties": {"storageProfile": {"source": {"id": i["image"] + "nope"}}}},
         {"NotFound", "InvalidParameter"}),
        ("PUT", f"{base}/Microsoft.Compute/galleries/nogal/images/def?api-version=2026-03-03",
         bodies["GalleryImages_CreateOrUpdate"], {"ParentResourceNotFound"}),
        ("PUT", f"{base}/Microsoft.Network/loadBalancers/lbref?api-version=2026-03-01",
         {"location": LOCATION, "properties": {"frontendIPConfigurations": [{"name": "fe", "properties": {
             "publicIPAddress": {"id": i["pip"] + "nope"}}}]}}, {"InvalidResourceReference"}),
        ("PUT", f"/subscriptions/{sub}/resourceGroups/nogroup/providers/Microsoft.Network/publicIPAddresses/p"
                f"?api-version=2026-03-01", bodies["PublicIPAddresses_CreateOrUpdate"], {"ResourceGroupNotFound"}),
        ("POST", f"{base}/Microsoft.Compute/virtualMachineScaleSets/vmss/manualupgrade?api-version=2026-04-01",
         {"instanceIds": ["424242"]}, {"InvalidParameter"}),
        ("POST", f"{base}/Microsoft.Compute/virtualMachineScaleSets/vmss/manualupgrade?api-version=2026-04-01",
         {"instanceIds": "0"}, {"InvalidParameter"}),
    ]
    for method, path, body, codes in cases:
        answer = client.send(method, path, json.dumps(body).encode())
        assert_arm_error(answer, f"{method} {path} -> missing reference", codes=codes)
    follow_up(client, "missing references")


BAD_NAMES = ["bad%20name", "bad%21name", "bad%3Cname%3E", "bad%26name", "a" * 300, "trailing.", "-leading"]


def test_names_with_invalid_characters(world, client):
    emu, bodies = world
    for operation, body in bodies.items():
        if operation == "VirtualMachineScaleSets_Update":
            continue
        route = next(r for r in arm_routes(emu) if r.operation == operation)
        name_param = re.findall(r"\{(\w+)\}", route.template)[-1]
        for bad in BAD_NAMES:
            if name_param == "resource_group" and bad == "-leading":
                continue   # a resource group name may start with '-'
            path = concrete(route.template, client.subscription, **{name_param: bad})
            answer = client.send(route.method, f"{path}?api-version={version_of(route)}", json.dumps(body).encode())
            assert_arm_error(answer, f"{operation} named {bad!r}")
    follow_up(client, "bad names")


def test_oversized_body(world, client):
    emu, bodies = world
    path = (f"/subscriptions/{client.subscription}/resourceGroups/{RG}/providers/Microsoft.Network/"
            f"publicIPAddresses/big?api-version=2026-03-01")
    body = {**bodies["PublicIPAddresses_CreateOrUpdate"], "tags": {f"t{n}": "x" * 1000 for n in range(6000)}}
    answer = client.send("PUT", path, json.dumps(body).encode())
    assert_arm_error(answer, "a 6 MB body", status=413)
    follow_up(client, "an oversized body")

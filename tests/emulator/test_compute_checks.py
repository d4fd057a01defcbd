"""Compute checks as Azure makes them, through the real SDK: SSH public keys, If-Match / If-None-Match on scale
sets, orchestration mode (Flexible refusals), Trusted Launch, the defaults Azure fills into views, specialized
gallery images, PatchResourceNotFound, and transient vs permanent 409s. Each refusal asserts Azure's status and
code (DIVERGENCES.md, "Compute checks")."""

from __future__ import annotations

import base64

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError

from pipeline.emulator.compute import sshkeys
from tests.emulator.test_compute_images import version_body
from tests.emulator.test_frontdoor import raw
from tests.fixtures.images import ssh_public_key, vmss_body, wait_until

KEY_MESSAGE = "The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid."


def ops(arm):
    return arm.compute.virtual_machine_scale_sets


def refused(call) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as err:
        call()
    return err.value


def with_key(body: dict, key_data: str) -> dict:
    os_profile = body["properties"]["virtualMachineProfile"]["osProfile"]
    os_profile.pop("adminPassword", None)
    os_profile["linuxConfiguration"] = {"disablePasswordAuthentication": True, "ssh": {"publicKeys": [
        {"path": "/home/azureuser/.ssh/authorized_keys", "keyData": key_data}]}}
    return body


# --- SSH public keys ---------------------------------------------------------------------------------------------
def wire(*fields: bytes) -> str:
    return base64.b64encode(b"".join(len(f).to_bytes(4, "big") + f for f in fields)).decode()


@pytest.mark.parametrize("kind", ["ed25519", "rsa", "ecdsa"])
def test_valid_ssh_keys_are_accepted(arm, resource_group, managed_image, kind):
    key = ssh_public_key(kind)
    created = ops(arm).begin_create_or_update(resource_group, "web", with_key(vmss_body(managed_image(), capacity=0),
                                                                              key)).result()
    assert created.virtual_machine_profile.os_profile.linux_configuration.ssh.public_keys[0].key_data == key


def test_the_old_placeholder_key_and_other_malformed_keys_are_refused(arm, resource_group, managed_image):
    image_id = managed_image()
    rsa_1024 = ssh_public_key("rsa", bits=1024)
    ed25519 = ssh_public_key("ed25519")
    bad = [
        # what pipeline/fleet.py used to send: a 34-byte "key" behind a 32-byte length
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJsdWVncmVlbi1waXBlbGluZS1wbGFjZWhvbGRlci1rZXk bluegreen-placeholder",
        "aaaaaa",                                             # Azure's generated examples
        rsa_1024,                                             # RSA under 2048 bits
        "ssh-rsa " + ed25519.split()[1],                      # the type does not match the blob
        ed25519.split()[0] + " " + ed25519.split()[1][:-8],   # truncated
        "ssh-dss " + wire(b"ssh-dss", b"p", b"q", b"g", b"y"),  # a type Azure does not take
        "ssh-ed25519 " + wire(b"ssh-ed25519", b"x" * 31),     # wrong key size
        "",
    ]
    for key_data in bad:
        err = refused(lambda: ops(arm).begin_create_or_update(resource_group, "web",
                                                              with_key(vmss_body(image_id, capacity=0), key_data)))
        assert (err.status_code, err.error.code, err.error.message) == (400, "InvalidParameter", KEY_MESSAGE), key_data
    assert list(ops(arm).list(resource_group)) == []     # nothing was created


def test_rfc4716_keys_parse_and_bits_are_counted():
    line = ssh_public_key("rsa", bits=3072)
    body = line.split()[1]
    multi = "---- BEGIN SSH2 PUBLIC KEY ----\nComment: \"x\"\n" + "\n".join(
        body[i:i + 70] for i in range(0, len(body), 70)) + "\n---- END SSH2 PUBLIC KEY ----\n"
    assert sshkeys.parse(multi) == ("ssh-rsa", 3072)
    assert sshkeys.parse(ssh_public_key("ecdsa")) == ("ecdsa-sha2-nistp256", 256)


# --- If-Match / If-None-Match --------------------------------------------------------------------------------------
def test_if_match_and_if_none_match_on_put_and_patch(arm, resource_group, managed_image):
    image_id = managed_image()
    created = ops(arm).begin_create_or_update(resource_group, "web", vmss_body(image_id, capacity=0)).result()
    etag = created.etag
    assert etag and etag.startswith('"')
    err = refused(lambda: ops(arm).begin_create_or_update(resource_group, "web", vmss_body(image_id, capacity=0),
                                                          match_condition=MatchConditions.IfMissing))
    assert (err.status_code, err.error.code) == (412, "PreconditionFailed")
    updated = ops(arm).begin_update(resource_group, "web", {"tags": {"a": "1"}}, etag=etag,
                                    match_condition=MatchConditions.IfNotModified).result()
    assert updated.etag != etag
    err = refused(lambda: ops(arm).begin_update(resource_group, "web", {"tags": {"a": "2"}}, etag=etag,
                                                match_condition=MatchConditions.IfNotModified))
    assert (err.status_code, err.error.code) == (412, "PreconditionFailed") and "does not match" in err.error.message
    err = refused(lambda: ops(arm).begin_create_or_update(resource_group, "web", vmss_body(image_id, capacity=0),
                                                          etag=etag, match_condition=MatchConditions.IfNotModified))
    assert err.status_code == 412
    assert ops(arm).get(resource_group, "web").tags == {"a": "1"}        # the stale writes changed nothing
    ops(arm).begin_create_or_update(resource_group, "web", vmss_body(image_id, capacity=0), etag=updated.etag,
                                    match_condition=MatchConditions.IfNotModified).result()
    err = refused(lambda: ops(arm).begin_create_or_update(resource_group, "other", vmss_body(image_id, capacity=0),
                                                          etag='"1"', match_condition=MatchConditions.IfNotModified))
    assert err.status_code == 412                                        # If-Match on a missing scale set


# --- orchestration mode --------------------------------------------------------------------------------------------
def flexible(body: dict) -> dict:
    body["properties"]["orchestrationMode"] = "Flexible"
    return body


def test_orchestration_mode_is_stored_and_flexible_refuses_what_it_lacks(arm, resource_group, managed_image):
    image_id = managed_image()
    uniform = ops(arm).begin_create_or_update(resource_group, "uni", vmss_body(image_id, capacity=0)).result()
    assert uniform.orchestration_mode == "Uniform"
    flex = ops(arm).begin_create_or_update(resource_group, "flex", flexible(vmss_body(image_id, capacity=1))).result()
    assert flex.orchestration_mode == "Flexible"
    # inbound NAT pools are Uniform-only
    body = flexible(vmss_body(image_id, capacity=0))
    body["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]["properties"][
        "ipConfigurations"][0]["properties"]["loadBalancerInboundNatPools"] = [{"id": "/subscriptions/x/resourceGroups"
                                                                               "/y/providers/Microsoft.Network/"
                                                                               "loadBalancers/lb/inboundNatPools/n"}]
    err = refused(lambda: ops(arm).begin_create_or_update(resource_group, "flex2", body))
    assert (err.status_code, err.error.code) == (400, "InvalidParameter") and "Flexible" in err.error.message
    # the scale-set VM operations the pipeline uses do not exist for Flexible: a permanent 409
    vms = arm.compute.virtual_machine_scale_set_vms
    for call in (lambda: list(vms.list(resource_group, "flex", expand="instanceView")),
                 lambda: vms.get_instance_view(resource_group, "flex", "0"),
                 lambda: ops(arm).begin_update_instances(resource_group, "flex", {"instanceIds": ["0"]}),
                 lambda: ops(arm).get_instance_view(resource_group, "flex")):
        err = refused(call)
        assert (err.status_code, err.error.code) == (409, "OperationNotAllowed") and "Flexible" in err.error.message
    # and the mode never changes
    err = refused(lambda: ops(arm).begin_create_or_update(resource_group, "uni", flexible(vmss_body(image_id, capacity=0))))
    assert (err.status_code, err.error.code) == (409, "PropertyChangeNotAllowed")
    err = refused(lambda: ops(arm).begin_create_or_update(resource_group, "uni", {
        **vmss_body(image_id, capacity=0), "properties": {**vmss_body(image_id)["properties"],
                                                         "orchestrationMode": "Elastic"}}))
    assert (err.status_code, err.error.code) == (400, "InvalidParameter")


# --- Trusted Launch ------------------------------------------------------------------------------------------------
def definition(arm, rg: str, name: str, *, security: str | None, generation: str = "V2", gallery: str = "gal"):
    props = {"osType": "Linux", "osState": "Generalized", "hyperVGeneration": generation,
             "identifier": {"publisher": "p", "offer": "o", "sku": name}}
    if security is not None:
        props["features"] = [{"name": "SecurityType", "value": security}]
    return arm.compute.gallery_images.begin_create_or_update(rg, gallery, name, {"location": "westeurope",
                                                                              "properties": props}).result()


def published(arm, rg: str, name: str, url: str) -> str:
    return arm.compute.gallery_image_versions.begin_create_or_update(rg, "gal", name, "1.0.0",
                                                                     version_body(url)).result().id


def trusted(body: dict, security_type: str | None = "TrustedLaunch") -> dict:
    profile = body["properties"]["virtualMachineProfile"]
    if security_type is not None:
        profile["securityProfile"] = {"securityType": security_type}
        if security_type == "TrustedLaunch":
            profile["securityProfile"]["uefiSettings"] = {"secureBootEnabled": True, "vTpmEnabled": True}
    return body


def test_trusted_launch_combinations_azure_refuses(arm, resource_group, local_image):
    url = local_image("1.0.0")
    arm.compute.galleries.begin_create_or_update(resource_group, "gal", {"location": "westeurope"}).result()
    only = definition(arm, resource_group, "only-tl", security="TrustedLaunch")
    assert only.features[0].name == "SecurityType" and only.features[0].value == "TrustedLaunch"
    definition(arm, resource_group, "supported", security="TrustedLaunchSupported")
    definition(arm, resource_group, "standard", security=None)
    only_id, supported_id, standard_id = (published(arm, resource_group, n, url)
                                          for n in ("only-tl", "supported", "standard"))
    create = lambda name, body: ops(arm).begin_create_or_update(resource_group, name, body).result()  # noqa: E731
    # a TrustedLaunch-only image refuses a scale set without that security type
    for security_type in (None, "Standard"):
        err = refused(lambda: create("a", trusted(vmss_body(only_id, capacity=0), security_type)))
        assert (err.status_code, err.error.code) == (400, "BadRequest")
        assert err.error.message == ("The provided gallery image only supports creation of VMs and VM Scale Sets "
                                     "with 'TrustedLaunch' security type.")
    # an image without the feature refuses TrustedLaunch
    err = refused(lambda: create("b", trusted(vmss_body(standard_id, capacity=0))))
    assert (err.status_code, err.error.code) == (400, "BadRequest") and "not supported for the provided image" in \
        err.error.message
    # what works
    tl = create("c", trusted(vmss_body(supported_id, capacity=0)))
    assert tl.virtual_machine_profile.security_profile.security_type == "TrustedLaunch"
    assert tl.virtual_machine_profile.security_profile.uefi_settings.v_tpm_enabled is True
    assert create("d", trusted(vmss_body(supported_id, capacity=0), "Standard")).name == "d"
    assert create("e", trusted(vmss_body(only_id, capacity=0))).name == "e"
    assert create("f", vmss_body(standard_id, capacity=0)).name == "f"
    # a security type Azure does not know; uefiSettings without Trusted Launch; changing it later
    err = refused(lambda: create("g", trusted(vmss_body(supported_id, capacity=0), "Secure")))
    assert (err.status_code, err.error.code) == (400, "InvalidParameter")
    body = trusted(vmss_body(supported_id, capacity=0), "Standard")
    body["properties"]["virtualMachineProfile"]["securityProfile"]["uefiSettings"] = {"secureBootEnabled": True}
    assert refused(lambda: create("h", body)).error.code == "InvalidParameter"
    err = refused(lambda: create("c", trusted(vmss_body(supported_id, capacity=0), "Standard")))
    assert (err.status_code, err.error.code) == (409, "PropertyChangeNotAllowed")


def test_image_definition_features(arm, resource_group):
    arm.compute.galleries.begin_create_or_update(resource_group, "gal", {"location": "westeurope"}).result()
    definition(arm, resource_group, "app", security=None)
    err = refused(lambda: definition(arm, resource_group, "app", security="TrustedLaunchSupported"))
    assert (err.status_code, err.error.code) == (409, "PropertyChangeNotAllowed")   # features do not change
    props = {"osType": "Linux", "osState": "Generalized", "hyperVGeneration": "V2", "allowUpdateImage": True,
             "identifier": {"publisher": "p", "offer": "o", "sku": "app"},
             "features": [{"name": "SecurityType", "value": "TrustedLaunchSupported"}]}
    updated = arm.compute.gallery_images.begin_create_or_update(resource_group, "gal", "app", {
        "location": "westeurope", "properties": props}).result()                 # ... unless allowUpdateImage
    assert updated.features[0].value == "TrustedLaunchSupported"
    err = refused(lambda: definition(arm, resource_group, "x", security="TrustedLaunchPlease"))
    assert (err.status_code, err.error.code) == (400, "InvalidParameter")
    err = refused(lambda: definition(arm, resource_group, "y", security="TrustedLaunch", generation="V1"))
    assert (err.status_code, err.error.code) == (400, "InvalidParameter")


# --- specialized images, defaults, PatchResourceNotFound, 409s -------------------------------------------------------
def test_specialized_gallery_image_needs_no_os_profile(arm, resource_group, local_image):
    url = local_image("1.0.0")
    arm.compute.galleries.begin_create_or_update(resource_group, "gal", {"location": "westeurope"}).result()
    arm.compute.gallery_images.begin_create_or_update(resource_group, "gal", "spec", {"location": "westeurope",
        "properties": {"osType": "Linux", "osState": "Specialized", "identifier": {
            "publisher": "p", "offer": "o", "sku": "spec"}}}).result()
    version_id = published(arm, resource_group, "spec", url)
    body = vmss_body(version_id, capacity=1)
    del body["properties"]["virtualMachineProfile"]["osProfile"]
    created = ops(arm).begin_create_or_update(resource_group, "web", body).result()
    assert created.provisioning_state == "Succeeded" and created.virtual_machine_profile.os_profile is None
    err = refused(lambda: ops(arm).begin_create_or_update(resource_group, "web2", vmss_body(version_id, capacity=0)))
    assert (err.status_code, err.error.code) == (400, "InvalidParameter") and "osProfile" in err.error.message


def test_views_carry_the_defaults_azure_fills_in(arm, resource_group, managed_image):
    ops(arm).begin_create_or_update(resource_group, "web", vmss_body(managed_image(), capacity=1)).result()
    base = (f"/subscriptions/{arm.subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Compute/"
            f"virtualMachineScaleSets/web")
    _, _, ss = raw(arm, "GET", f"{base}?api-version=2026-04-01")
    nic = ss["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]["properties"]
    assert nic["dnsSettings"] == {"dnsServers": []} and nic["enableAcceleratedNetworking"] is False
    assert nic["enableIPForwarding"] is False
    assert nic["ipConfigurations"][0]["properties"]["privateIPAddressVersion"] == "IPv4"
    assert ss["properties"]["orchestrationMode"] == "Uniform"
    _, _, listed = raw(arm, "GET", f"{base}/virtualMachines?api-version=2026-04-01")
    vm = listed["value"][0]
    assert vm["etag"].startswith('"')
    disk = vm["properties"]["storageProfile"]["osDisk"]
    assert disk["managedDisk"]["id"].endswith(f"/providers/Microsoft.Compute/disks/{disk['name']}")
    assert disk["managedDisk"]["storageAccountType"] == "Standard_LRS"
    config = vm["properties"]["networkProfileConfiguration"]["networkInterfaceConfigurations"][0]["properties"]
    assert config["dnsSettings"] == {"dnsServers": []}


def test_patch_of_a_missing_scale_set_is_patch_resource_not_found(arm, resource_group):
    err = refused(lambda: ops(arm).begin_update(resource_group, "nope", {"tags": {"a": "b"}}))
    assert (err.status_code, err.error.code) == (404, "PatchResourceNotFound")


def test_a_scale_set_being_deleted_refuses_updates_for_good(arm, resource_group, managed_image):
    from tests.emulator.test_faults import add_fault

    image_id = managed_image()
    ops(arm).begin_create_or_update(resource_group, "web", vmss_body(image_id, capacity=0)).result()
    add_fault(arm, kind="slow", operation="VirtualMachineScaleSets_Delete", delay=2.0, count=1)
    poller = ops(arm).begin_delete(resource_group, "web")
    err = refused(lambda: ops(arm).begin_update(resource_group, "web", {"tags": {"a": "b"}}))
    assert (err.status_code, err.error.code) == (409, "OperationNotAllowed")        # permanent: no retry helps
    assert "marked for deletion" in err.error.message
    err = refused(lambda: ops(arm).begin_delete(resource_group, "web"))
    assert (err.status_code, err.error.code) == (409, "Conflict")                   # transient: it is going
    poller.result()
    wait_until(lambda: list(ops(arm).list(resource_group)) == [], what="deleted")


# --- Application Health: Rich Health States --------------------------------------------------------------------------
RICH_APP = r'''
import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = os.environ.get("APP_VERSION", "plain")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok" if STATE == "plain" else json.dumps({"ApplicationHealthState": STATE}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


ThreadingHTTPServer((os.environ["BIND_ADDRESS"], int(os.environ["PORT"])), Handler).serve_forever()
'''


def rich_body(image_id: str, grace: int) -> dict:
    body = vmss_body(image_id, capacity=1, health_port=8080, overprovision=False)
    props = body["properties"]["virtualMachineProfile"]["extensionProfile"]["extensions"][0]["properties"]
    props["typeHandlerVersion"] = "2.0"
    props["settings"].update(intervalInSeconds=5, numberOfProbes=1, gracePeriod=grace)
    return body


def test_rich_health_states(arm, resource_group, local_image):
    from tests.fixtures.images import build_image

    def image(state: str) -> str:
        url = local_image(state, data=build_image(state, app=RICH_APP))
        return arm.compute.images.begin_create_or_update(resource_group, f"img-{state.lower()}", {
            "location": "westeurope", "properties": {"storageProfile": {"osDisk": {
                "osType": "Linux", "osState": "Generalized", "blobUri": url}}}}).result().id

    def health(name: str) -> str | None:
        view = arm.compute.virtual_machine_scale_set_vms.get_instance_view(resource_group, name, "0")
        return view.vm_health.status.code if view.vm_health else None

    ops(arm).begin_create_or_update(resource_group, "healthy", rich_body(image("Healthy"), grace=3600)).result()
    ops(arm).begin_create_or_update(resource_group, "sick", rich_body(image("Unhealthy"), grace=3600)).result()
    plain = image("plain")
    ops(arm).begin_create_or_update(resource_group, "plain", rich_body(plain, grace=3600)).result()
    ops(arm).begin_create_or_update(resource_group, "expired", rich_body(plain, grace=0)).result()
    # a valid signal ends Initializing at once, whatever the grace period
    wait_until(lambda: health("healthy") == "HealthState/healthy", what="healthy")
    wait_until(lambda: health("sick") == "HealthState/unhealthy", what="unhealthy")
    # a 200 without the body is no signal: Initializing during the grace period, Unknown after it
    wait_until(lambda: health("expired") == "HealthState/unknown", what="unknown after the grace period")
    assert health("plain") == "HealthState/initializing"
    view = arm.compute.virtual_machine_scale_set_vms.get_instance_view(resource_group, "plain", "0")
    assert [s.code for s in view.extensions[0].substatuses] == ["ComponentStatus/ApplicationHealthState/initializing"]


def test_malformed_new_members_get_azure_errors_not_500s(arm, resource_group, managed_image):
    image_id = managed_image()
    path = (f"/subscriptions/{arm.subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Compute/"
            f"virtualMachineScaleSets/web?api-version=2026-04-01")
    cases = []
    body = vmss_body(image_id, capacity=0)
    body["properties"]["virtualMachineProfile"]["securityProfile"] = "TrustedLaunch"
    cases.append((body, "InvalidRequestContent"))
    body = vmss_body(image_id, capacity=0)
    body["properties"]["orchestrationMode"] = 7
    cases.append((body, "InvalidRequestContent"))
    body = with_key(vmss_body(image_id, capacity=0), "x")
    body["properties"]["virtualMachineProfile"]["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"] = ["ssh-rsa"]
    cases.append((body, "InvalidParameter"))
    body = with_key(vmss_body(image_id, capacity=0), "x")
    body["properties"]["virtualMachineProfile"]["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"][0][
        "keyData"] = 42
    cases.append((body, "InvalidParameter"))
    for body, code in cases:
        status, _, reply = raw(arm, "PUT", path, body=body)
        assert (status, reply["error"]["code"]) == (400, code), reply
    arm.compute.galleries.begin_create_or_update(resource_group, "gal", {"location": "westeurope"}).result()
    status, _, reply = raw(arm, "PUT", path.replace("virtualMachineScaleSets/web", "galleries/gal/images/d").replace(
        "2026-04-01", "2026-03-03"), body={"location": "westeurope", "properties": {
            "osType": "Linux", "osState": "Generalized", "identifier": {"publisher": "p", "offer": "o", "sku": "s"},
            "features": {"SecurityType": "TrustedLaunch"}}})
    assert (status, reply["error"]["code"]) == (400, "InvalidRequestContent"), reply

"""The ARM front door, driven by the real SDK and raw HTTPS: auth, api-version, routing, LROs, headers."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

from tests.fixtures.localcloud import StaticToken, build_clients


def raw(arm, method: str, path: str, *, body: dict | None = None, token: str | None = "default",
        headers: dict | None = None):
    """One HTTPS request without the SDK: (status, headers, json body)."""
    context = ssl.create_default_context(cafile=arm.ca_file)
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(arm.endpoint + path, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {arm.token if token == 'default' else token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, context=context) as response:
            payload = response.read()
            return response.status, dict(response.headers), json.loads(payload) if payload else None
    except urllib.error.HTTPError as err:
        payload = err.read()
        return err.code, dict(err.headers), json.loads(payload) if payload else None


def rg_path(arm, name="rg1"):
    return f"/subscriptions/{arm.subscription_id}/resourcegroups/{name}"


def test_resource_group_lifecycle_with_the_sdk(arm):
    created = arm.resources.resource_groups.create_or_update("rg-one", {"location": "westeurope", "tags": {"a": "b"}})
    assert created.name == "rg-one" and created.properties.provisioning_state == "Succeeded"
    assert arm.resources.resource_groups.get("RG-ONE").tags == {"a": "b"}  # names are case-insensitive
    assert arm.resources.resource_groups.check_existence("rg-one") is True
    assert [g.name for g in arm.resources.resource_groups.list()] == ["rg-one"]
    arm.resources.resource_groups.begin_delete("rg-one").result()
    assert arm.resources.resource_groups.check_existence("rg-one") is False
    with pytest.raises(ResourceNotFoundError) as err:
        arm.resources.resource_groups.get("rg-one")
    assert err.value.error.code == "ResourceGroupNotFound"


def test_missing_or_wrong_token_is_401(arm, cloud):
    status, headers, body = raw(arm, "GET", rg_path(arm) + "?api-version=2025-04-01", token=None)
    assert status == 401 and body["error"]["code"] == "AuthenticationFailed"
    assert "WWW-Authenticate" in headers
    status, _, body = raw(arm, "GET", rg_path(arm) + "?api-version=2025-04-01", token="not-the-token")
    assert status == 401 and body["error"]["code"] == "InvalidAuthenticationToken"
    from azure.mgmt.resource.resources import ResourceManagementClient

    stranger = ResourceManagementClient(StaticToken("wrong"), cloud.options.subscription_id, base_url=cloud.endpoint,
                                        credential_scopes=["https://management.azure.com/.default"],
                                        connection_verify=str(cloud.server.ca_file))
    with pytest.raises(ClientAuthenticationError):
        stranger.resource_groups.get("x")


def test_api_version_is_required_and_checked(arm):
    status, _, body = raw(arm, "GET", rg_path(arm))
    assert status == 400 and body["error"]["code"] == "MissingApiVersionParameter"
    status, _, body = raw(arm, "GET", rg_path(arm) + "?api-version=1999-01-01")
    assert status == 400 and body["error"]["code"] == "NoRegisteredProviderFound"


def test_routes_are_case_insensitive_and_unknown_paths_are_404(arm):
    status, _, _ = raw(arm, "PUT", rg_path(arm, "MixedCase") + "?api-version=2025-04-01", body={"location": "x"})
    assert status == 201
    status, _, body = raw(arm, "GET", rg_path(arm, "mixedcase").replace("resourcegroups", "RESOURCEGROUPS")
                          + "?api-version=2025-04-01")
    assert status == 200 and body["name"] == "MixedCase"
    status, _, body = raw(arm, "GET", f"/subscriptions/{arm.subscription_id}/nothing/here?api-version=2025-04-01")
    assert status == 404 and body["error"]["code"] == "InvalidResourceType"


def test_unknown_subscription_is_404(arm):
    status, _, body = raw(arm, "GET", "/subscriptions/11111111-2222-3333-4444-555555555555/resourcegroups/x"
                                      "?api-version=2025-04-01")
    assert status == 404 and body["error"]["code"] == "SubscriptionNotFound"


def test_malformed_json_is_invalid_request_content(arm):
    import urllib.request as ur

    context = ssl.create_default_context(cafile=arm.ca_file)
    request = ur.Request(arm.endpoint + rg_path(arm) + "?api-version=2025-04-01", data=b"{not json", method="PUT")
    request.add_header("Authorization", f"Bearer {arm.token}")
    with pytest.raises(urllib.error.HTTPError) as err:
        ur.urlopen(request, context=context)
    assert err.value.code == 400
    assert json.loads(err.value.read())["error"]["code"] == "InvalidRequestContent"


def test_every_reply_has_request_id_and_rate_limit_headers(arm):
    status, headers, _ = raw(arm, "PUT", rg_path(arm) + "?api-version=2025-04-01", body={"location": "x"})
    assert headers["x-ms-request-id"]
    assert int(headers["x-ms-ratelimit-remaining-subscription-writes"]) > 0
    status, headers, _ = raw(arm, "GET", rg_path(arm) + "?api-version=2025-04-01")
    assert int(headers["x-ms-ratelimit-remaining-subscription-reads"]) > 0


def test_long_running_delete_points_back_at_the_emulator(arm):
    raw(arm, "PUT", rg_path(arm) + "?api-version=2025-04-01", body={"location": "x"})
    status, headers, _ = raw(arm, "DELETE", rg_path(arm) + "?api-version=2025-04-01")
    assert status == 202
    assert "Azure-AsyncOperation" not in headers   # ARM answers a resource group delete with Location only
    assert headers["Location"].startswith(f"{arm.endpoint}/subscriptions/{arm.subscription_id}/operationresults/")
    assert "retry-after-ms" in {k.lower() for k in headers}
    status, _, body = raw(arm, "GET", headers["Location"][len(arm.endpoint):])
    assert status in (202, 204) and body is None


def test_counters_count_by_operation_and_status(arm):
    from azure.core.exceptions import ResourceNotFoundError as NotFound

    raw(arm, "DELETE", "/_emulator/counters")
    arm.resources.resource_groups.create_or_update("rg-c", {"location": "x"})
    with pytest.raises(NotFound):
        arm.resources.resource_groups.get("rg-missing")
    _, _, body = raw(arm, "GET", "/_emulator/counters")
    counts = {(c["method"], c["operation"], c["status"]): c["count"] for c in body["value"]}
    assert counts[("PUT", "ResourceGroups_CreateOrUpdate", 201)] == 1
    assert counts[("GET", "ResourceGroups_Get", 404)] == 1


def test_state_survives_a_restart(tmp_path):
    from tests.fixtures.localcloud import emulator_options
    from pipeline.emulator.server import ThreadedEmulator

    options = emulator_options(tmp_path)
    with ThreadedEmulator(options) as emu:
        build_clients(emu).resources.resource_groups.create_or_update("kept", {"location": "x"})
    with ThreadedEmulator(options) as emu:
        assert build_clients(emu).resources.resource_groups.get("kept").location == "x"

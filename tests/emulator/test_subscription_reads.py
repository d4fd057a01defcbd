"""The subscription-level reads `invoke doctor` makes, through the real SDKs over HTTPS: the subscription,
provider registration, resource SKUs per region with restrictions, and compute usages computed from the
scale sets that exist; the control API changes what they answer."""

from __future__ import annotations

import pytest
import requests
from azure.core.exceptions import HttpResponseError

from tests.fixtures.localcloud import SCOPES, StaticToken


def control(emu, method: str, body: dict | None = None) -> requests.Response:
    return requests.request(method, f"{emu.endpoint}/_emulator/subscription", json=body, timeout=10,
                            headers={"Authorization": f"Bearer {emu.options.token}"}, verify=str(emu.server.ca_file))


@pytest.fixture
def subscriptions(cloud):
    from azure.mgmt.resource.subscriptions import SubscriptionClient

    with SubscriptionClient(StaticToken(cloud.options.token), base_url=cloud.endpoint, credential_scopes=SCOPES,
                            connection_verify=str(cloud.server.ca_file)) as client:
        yield client


def test_subscription_get(subscriptions, arm):
    sub = subscriptions.subscriptions.get(arm.subscription_id)
    assert sub.subscription_id == arm.subscription_id and sub.state == "Enabled"
    with pytest.raises(HttpResponseError) as err:
        subscriptions.subscriptions.get("11111111-2222-3333-4444-555555555555")
    assert err.value.status_code == 404 and err.value.error.code == "SubscriptionNotFound"


def test_providers_registered_by_default_and_changed_by_the_control_api(arm, cloud):
    states = {p.namespace: p.registration_state for p in arm.resources.providers.list()}
    assert {states[n] for n in ("Microsoft.Compute", "Microsoft.Network", "Microsoft.Storage")} == {"Registered"}
    assert control(cloud, "PUT", {"providers": {"Microsoft.Network": "NotRegistered"}}).status_code == 200
    assert arm.resources.providers.get("microsoft.network").registration_state == "NotRegistered"
    with pytest.raises(HttpResponseError) as err:
        arm.resources.providers.get("Microsoft.Nope")
    assert err.value.status_code == 404 and err.value.error.code == "InvalidResourceNamespace"


def test_resource_skus_per_region_with_restrictions(arm, cloud):
    skus = {s.name: s for s in arm.compute.resource_skus.list(filter="location eq 'westeurope'")}
    b1s = skus["Standard_B1s"]
    assert b1s.locations == ["westeurope"] and not b1s.restrictions and b1s.family == "standardBSFamily"
    assert {c.name: c.value for c in b1s.capabilities}["vCPUs"] == "1"
    assert not list(arm.compute.resource_skus.list(filter="location eq 'marsnorth'"))

    control(cloud, "PUT", {"skus": {"Standard_B1s": "NotAvailableForSubscription", "Standard_B2s": "NotOffered"}})
    skus = {s.name: s for s in arm.compute.resource_skus.list(filter="location eq 'westeurope'")}
    (restriction,) = skus["Standard_B1s"].restrictions
    assert restriction.reason_code == "NotAvailableForSubscription"
    assert restriction.as_dict()["values"] == ["westeurope"]  # `.values` is the model's dict method
    assert restriction.type == "Location" and restriction.restriction_info.locations == ["westeurope"]
    assert "Standard_B2s" not in skus


def test_a_filter_other_than_location_is_refused(arm):
    with pytest.raises(HttpResponseError) as err:
        list(arm.compute.resource_skus.list(filter="name eq 'Standard_B1s'"))
    assert err.value.status_code == 400 and err.value.error.code == "InvalidFilter"


def test_usages_count_the_scale_sets_of_the_region_and_limits_are_configurable(arm, cloud):
    def usage():
        return {u.name.value: (u.current_value, u.limit) for u in arm.compute.usage.list("westeurope")}

    before = usage()
    assert before["cores"][0] == 0 and before["standardBSFamily"][0] == 0 and before["cores"][1] > 0
    cloud.cloud.compute.scale_sets["fake"] = _scale_set("westeurope", "Standard_B2s", 3)
    cloud.cloud.compute.scale_sets["elsewhere"] = _scale_set("northeurope", "Standard_B2s", 5)
    try:
        now = usage()
        assert now["cores"][0] == 6 and now["standardBSFamily"][0] == 6 and now["virtualMachines"][0] == 3
        control(cloud, "PUT", {"limits": {"cores": 4}})
        assert usage()["cores"] == (6, 4)
    finally:
        cloud.cloud.compute.scale_sets.pop("fake")
        cloud.cloud.compute.scale_sets.pop("elsewhere")


def test_usages_of_a_region_azure_does_not_have_are_refused(arm):
    with pytest.raises(HttpResponseError) as err:
        list(arm.compute.usage.list("marsnorth"))
    assert err.value.status_code == 400 and err.value.error.code == "NoRegisteredProviderFound"


@pytest.mark.parametrize("body", [{"providers": {"Microsoft.Nope": "Registered"}},
                                  {"providers": {"Microsoft.Compute": "Maybe"}},
                                  {"skus": {"Standard_Z99": "QuotaId"}}, {"limits": {"cores": -1}},
                                  {"limits": {"cores": "ten"}}, {"quota": {}}])
def test_the_control_api_refuses_bad_settings(cloud, body):
    response = control(cloud, "PUT", body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "InvalidParameter"


def _scale_set(location: str, size: str, capacity: int):
    from pipeline.emulator.compute.scalesets import ScaleSet

    return ScaleSet(subscription="s", resource_group="rg", name=f"ss-{location}", location=location,
                    sku={"name": size, "capacity": capacity}, properties={})

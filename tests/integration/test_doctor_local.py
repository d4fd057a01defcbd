"""`invoke doctor` against the local cloud through the real SDKs: green on a ready environment, and each check
made to fail once by changing the cloud (control API, a role without an action, a deleted resource) or the
environment, each failure with a one-line fix. Doctor is read-only: the cloud's write counters do not move."""

from __future__ import annotations

import json

import pytest

from pipeline.azure.clients import Clients
from pipeline.doctor.checks import FAIL, PASS
from pipeline.steps.context import Context
from pipeline.steps.doctor import ROLE, doctor
from pipeline.steps.infra import ensure_infra
from tests.fixtures.localcloud import control, enforced_role
from tests.fixtures.pipeline import local_settings_for

pytestmark = pytest.mark.slow


@pytest.fixture
def ready(ctx) -> Context:
    ensure_infra(ctx)
    return ctx


def statuses(result) -> dict[str, str]:
    return {c.name: c.status for c in result.checks}


def writes(cloud) -> int:
    return sum(row["count"] for row in control(cloud, "GET", "counters")["value"]
               if row["method"] in ("PUT", "PATCH", "POST", "DELETE") and not row["operation"].startswith("Control_"))


def failing(result, name: str):
    """The named check, asserted to FAIL with a one-line fix, and the result's exit code 13."""
    check = next(c for c in result.checks if c.name == name)
    assert check.status == FAIL, "\n".join(result.lines())
    assert check.fix and "\n" not in check.fix and "\n" not in check.summary
    assert result.exit_code == 13
    return check


def test_doctor_is_green_on_a_ready_local_cloud_and_changes_nothing(ready, cloud):
    before = writes(cloud)
    result = doctor(ready)
    assert result.exit_code == 0 and not result.failed, "\n".join(result.lines())
    got = statuses(result)
    assert list(got) == ["credential", "subscription", "providers", "permissions", "vm-size", "quota", "nsg",
                         "image-definition", "replication", "storage", "packer", "load-balancer"]
    # image-definition: PASS once fleet.security_type is a setting (the compute work), WARN until then
    ready_checks = ("credential", "subscription", "providers", "permissions", "vm-size", "quota", "nsg",
                    "replication", "storage", "packer", "load-balancer")
    assert all(got[name] == PASS for name in ready_checks), got
    data = result.to_json()
    assert data["step"] == "doctor" and data["ok"] is True and len(data["checks"]) == 12
    json.dumps(data)
    assert writes(cloud) == before, "doctor wrote to the cloud"


def test_an_unresolvable_credential_fails_and_nothing_else_is_read(ready, local_settings, local_cloud, monkeypatch):
    from azure.identity import EnvironmentCredential

    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
                 "AZURE_USERNAME", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    with Clients(local_settings, cloud=local_cloud, credential=EnvironmentCredential()) as clients:
        result = doctor(Context(clients=clients, who="doctor-test"))
    check = failing(result, "credential")
    assert "EnvironmentCredential" in check.summary or "environment" in check.summary.lower()


def test_a_refused_token_fails_the_subscription_check(ready, local_settings, local_cloud):
    from pipeline.azure.credentials import LocalCloudCredential

    with Clients(local_settings, cloud=local_cloud, credential=LocalCloudCredential("not-the-token")) as clients:
        result = doctor(Context(clients=clients, who="doctor-test"))
    check = failing(result, "subscription")
    assert "401" in check.summary and "credential was refused" in check.fix


def test_an_unregistered_provider_fails(ready, cloud):
    control(cloud, "PUT", "subscription", {"providers": {"Microsoft.Network": "NotRegistered"}})
    check = failing(doctor(ready), "providers")
    assert check.fix.startswith("az provider register --namespace Microsoft.Network")


def test_a_role_without_an_action_fails_the_permissions_check_naming_it(ready, cloud):
    role = json.loads(ROLE.read_text())
    dropped = "Microsoft.Compute/virtualMachineScaleSets/write"
    role["Actions"] = [a for a in role["Actions"] if a != dropped]
    with enforced_role(cloud, role):
        check = failing(doctor(ready), "permissions")
    assert dropped in check.summary and "deploy/azure-role.json" in check.fix


def test_a_restricted_vm_size_fails(ready, cloud):
    control(cloud, "PUT", "subscription", {"skus": {"Standard_B1s": "NotAvailableForSubscription"}})
    check = failing(doctor(ready), "vm-size")
    assert "NotAvailableForSubscription" in check.summary


def test_a_size_not_offered_in_the_region_fails(ready, cloud):
    control(cloud, "PUT", "subscription", {"skus": {"Standard_B1s": "NotOffered"}})
    assert "not offered" in failing(doctor(ready), "vm-size").summary


def test_a_small_quota_fails_naming_what_to_request(ready, cloud):
    control(cloud, "PUT", "subscription", {"limits": {"standardBSFamily": 3}})
    check = failing(doctor(ready), "quota")
    assert "needs 4 vCPUs" in check.summary and "Standard BS Family vCPUs" in check.fix and "at least 4" in check.fix


def test_an_nsg_rule_that_shuts_the_staging_port_fails_naming_it(ready, arm):
    s = ready.settings
    subnet = arm.network.subnets.get(s.resource_group, s.network.vnet, s.network.subnet)
    nsg = subnet.network_security_group.id.rsplit("/", 1)[-1]
    staging = s.load_balancer.staging_rule.backend_port
    arm.network.security_rules.begin_create_or_update(s.resource_group, nsg, "deny-staging", {"properties": {
        "protocol": "Tcp", "access": "Deny", "direction": "Inbound", "priority": 900, "sourcePortRange": "*",
        "sourceAddressPrefix": "*", "destinationAddressPrefix": "*",
        "destinationPortRange": str(staging)}}).result()
    check = failing(doctor(ready), "nsg")
    assert f"port {staging}" in check.summary and f"{nsg}/deny-staging" in check.summary
    assert "allow_staging_from" in check.fix


def test_a_missing_image_definition_fails(ready, cloud, arm):
    s = ready.settings
    arm.compute.gallery_images.begin_delete(s.resource_group, s.image.gallery, s.image.definition).result()
    check = failing(doctor(ready), "image-definition")
    assert "invoke infra --env local" in check.fix


def test_a_missing_gallery_fails_the_replication_check(ready, cloud, arm):
    s = ready.settings
    arm.compute.gallery_images.begin_delete(s.resource_group, s.image.gallery, s.image.definition).result()
    arm.compute.galleries.begin_delete(s.resource_group, s.image.gallery).result()
    assert "invoke infra" in failing(doctor(ready), "replication").fix


def test_a_missing_container_fails_the_storage_check(ready, request, local_cloud):
    settings = local_settings_for(request, {"storage.packages_container": "never-created"})
    with Clients(settings, cloud=local_cloud) as clients:
        check = failing(doctor(Context(clients=clients, who="doctor-test")), "storage")
    assert "never-created" in check.summary


def test_packer_not_installed_fails(ready):
    check = failing(doctor(ready, packer="packer-that-is-not-installed"), "packer")
    assert "not on PATH" in check.summary


def test_a_missing_load_balancer_rule_fails(ready, request, local_cloud):
    settings = local_settings_for(request, {"load_balancer.staging_rule.name": "rule-canary"})
    with Clients(settings, cloud=local_cloud) as clients:
        check = failing(doctor(Context(clients=clients, who="doctor-test")), "load-balancer")
    assert "missing rule rule-canary" in check.summary and "invoke infra" in check.fix


DOCTOR_ACTIONS = ("Microsoft.Authorization/permissions/read", "Microsoft.Resources/subscriptions/read",
                  "Microsoft.Resources/subscriptions/providers/read", "Microsoft.Compute/skus/read",
                  "Microsoft.Compute/locations/usages/read", "Microsoft.Network/virtualNetworks/subnets/read")


def test_under_the_pipelines_role_doctor_reads_everything_and_each_of_its_actions_is_needed(ready, cloud):
    role = json.loads(ROLE.read_text())
    assert set(DOCTOR_ACTIONS) <= set(role["Actions"])
    with enforced_role(cloud, role):
        result = doctor(ready)
    assert not [c for c in result.checks if "403" in c.summary], "\n".join(result.lines())
    assert statuses(result)["permissions"] == PASS
    for action in DOCTOR_ACTIONS:
        with enforced_role(cloud, {**role, "Actions": [a for a in role["Actions"] if a != action]}):
            result = doctor(ready)
        said = [c for c in result.checks if "403" in c.summary and action in c.summary]
        assert said, f"without {action}:\n" + "\n".join(result.lines())

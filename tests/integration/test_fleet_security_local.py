"""Fleets as Azure needs them, on the local cloud: Trusted Launch from a SecurityType definition, the configured
(or a fresh) SSH key, Uniform orchestration explicit, Application Health with Rich Health States; and the
refusals: an existing definition without the SecurityType feature (exit 2, nothing changed), a Flexible fleet."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

from pipeline import fleet, sshkeys
from pipeline import smoke as checks
from pipeline.errors import ConfigError, NotReady
from pipeline.steps.infra import ensure_infra
from pipeline.steps.release import release
from pipeline.steps.rollout import rollout
from pipeline.steps.switch import production_url

pytestmark = pytest.mark.slow


def quiet(_: str) -> None:
    pass


def with_fleet(ctx, **values) -> None:
    ctx.clients.settings = dataclasses.replace(ctx.settings, fleet=dataclasses.replace(ctx.settings.fleet, **values))


def served_version(ctx) -> str | None:
    status_code, body, _, _ = checks.fetch(production_url(ctx) + "/version", timeout_s=3)
    return json.loads(body)["version"] if status_code == 200 else None


def model(ctx, name: str) -> dict:
    return ctx.clients.compute.virtual_machine_scale_sets.get(ctx.settings.resource_group, name).as_dict()


def test_a_release_with_trusted_launch_and_a_configured_key(ctx):
    key = sshkeys.generate_public_key("operator@laptop")
    with_fleet(ctx, ssh_public_key=key)
    ensure_infra(ctx)
    s = ctx.settings
    definition = ctx.clients.compute.gallery_images.get(s.resource_group, s.image.gallery, s.image.definition)
    assert [(f.name, f.value) for f in definition.features] == [("SecurityType", "TrustedLaunchSupported")]
    release(ctx, app_version="1.0.0", progress=quiet)
    assert served_version(ctx) == "1.0.0"
    live = ctx.ledger().live
    props = model(ctx, live)["properties"]
    profile = props["virtualMachineProfile"]
    assert props["orchestrationMode"] == "Uniform"
    assert profile["securityProfile"] == {"securityType": "TrustedLaunch",
                                          "uefiSettings": {"secureBootEnabled": True, "vTpmEnabled": True}}
    assert profile["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"][0]["keyData"] == key
    health = profile["extensionProfile"]["extensions"][0]["properties"]
    assert health["typeHandlerVersion"] == "2.0" and health["settings"]["gracePeriod"] == fleet.HEALTH_GRACE_PERIOD_S
    vms = ctx.clients.compute.virtual_machine_scale_set_vms.list(s.resource_group, live, expand="instanceView")
    assert {vm.instance_view.vm_health.status.code for vm in vms} == {"HealthState/healthy"}   # rich body read


def test_without_a_key_each_fleet_gets_a_fresh_one_and_standard_is_allowed(ctx):
    with_fleet(ctx, security_type="Standard")
    ensure_infra(ctx)
    release(ctx, app_version="1.0.0", progress=quiet)
    first = model(ctx, ctx.ledger().live)["properties"]["virtualMachineProfile"]
    key = first["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"][0]["keyData"]
    assert sshkeys.check_public_key(key).startswith("ssh-ed25519 ")
    assert first["securityProfile"] == {"securityType": "Standard"}


def test_infra_refuses_a_definition_without_the_security_feature_and_changes_nothing(ctx):
    s, c = ctx.settings, ctx.clients
    c.resources.resource_groups.create_or_update(s.resource_group, {"location": s.location})
    c.compute.galleries.begin_create_or_update(s.resource_group, s.image.gallery, {"location": s.location}).result()
    c.compute.gallery_images.begin_create_or_update(s.resource_group, s.image.gallery, s.image.definition, {
        "location": s.location, "properties": {"osType": "Linux", "osState": "Generalized", "hyperVGeneration": "V2",
                                               "identifier": {"publisher": "p", "offer": "o", "sku": "s"}}}).result()
    with pytest.raises(ConfigError) as err:
        ensure_infra(ctx)
    message = str(err.value)
    assert err.value.exit_code == 2 and "\n" not in message
    assert "fleet.security_type" in message and "image.definition" in message and "nothing was changed" in message
    assert list(c.network.virtual_networks.list(s.resource_group)) == []          # nothing was created
    with_fleet(ctx, security_type="Standard")                                     # what the message says to do
    assert any("virtual network" in a for a in ensure_infra(ctx).actions)


def test_a_fleet_found_in_flexible_mode_is_refused_naming_what_uniform_gives(ctx):
    ensure_infra(ctx)
    release(ctx, app_version="1.0.0", progress=quiet)
    live = ctx.ledger().live
    body = model(ctx, live)
    ops = ctx.clients.compute.virtual_machine_scale_sets
    ops.begin_delete(ctx.settings.resource_group, live).result()
    props = body["properties"]
    props["orchestrationMode"] = "Flexible"
    for nic in props["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]:
        for ipc in nic["properties"]["ipConfigurations"]:
            ipc["properties"].pop("loadBalancerInboundNatPools", None)   # Flexible has no NAT pools
    for read_only in ("provisioningState", "uniqueId", "timeCreated"):
        props.pop(read_only, None)
    ops.begin_create_or_update(ctx.settings.resource_group, live, {k: body[k] for k in ("location", "sku", "tags",
                                                                                      "properties")}).result()
    with pytest.raises(NotReady) as err:
        rollout(ctx, image_version="1.0.0", progress=quiet)
    message = str(err.value)
    assert "Flexible orchestration" in message and "needs Uniform" in message and "\n" not in message


def test_throttled_instance_views_wait_retry_after_within_the_stage_timeout(ctx, cloud):
    from pipeline.emulator.core.faults import FaultRule
    from pipeline.errors import Throttled
    from pipeline.steps.bake import bake
    from pipeline.steps.stage import stage

    ensure_infra(ctx)
    baked = bake(ctx, app_version="1.0.0", progress=quiet)
    rule = cloud.cloud.faults.add(FaultRule(kind="throttle", operation="VirtualMachineScaleSetVMs_List",
                                            count=2, retry_after=1))
    stage(ctx, image_version=baked.image_version, progress=quiet)
    assert rule.fired == 2                      # our poll saw both 429s (the SDK did not retry them itself)
    cloud.cloud.faults.clear()
    cloud.cloud.faults.add(FaultRule(kind="throttle", operation="VirtualMachineScaleSetVMs_List", retry_after=1))
    ctx.clients.settings = dataclasses.replace(ctx.settings, timeouts=dataclasses.replace(
        ctx.settings.timeouts, stage_health=timedelta(seconds=3)))
    with pytest.raises(Throttled, match="throttled every instance-view read") as err:
        stage(ctx, image_version=baked.image_version, progress=quiet)
    assert "\n" not in str(err.value) and err.value.exit_code == 3
    throttled = [c["count"] for c in cloud.cloud.counters.describe()
                 if c["operation"] == "VirtualMachineScaleSetVMs_List" and c["status"] == 429]
    # one 429 per poll (Retry-After 1 s, 3 s stage timeout), not the SDK's 1 + 10 retries per call
    assert 1 <= sum(throttled) - 2 <= 6
    cloud.cloud.faults.clear()


def puts_refused(cloud, status: int) -> int:
    return sum(c["count"] for c in cloud.cloud.counters.describe()
               if c["operation"] == "VirtualMachineScaleSets_CreateOrUpdate" and c["status"] == status)


def test_a_permanent_409_fails_at_once_with_azures_message(ctx, cloud):
    from pipeline.errors import AzureError
    from pipeline.steps.bake import bake
    from pipeline.steps.stage import stage

    with_fleet(ctx, security_type="Standard")
    ensure_infra(ctx)
    baked = bake(ctx, app_version="1.0.0", progress=quiet)
    stage(ctx, image_version=baked.image_version, progress=quiet)
    with_fleet(ctx, security_type="TrustedLaunch")     # Azure does not let a scale set's security type change
    with pytest.raises(AzureError) as err:
        stage(ctx, image_version=baked.image_version, progress=quiet)
    message = str(err.value)
    assert "409 PropertyChangeNotAllowed" in message and "securityProfile.securityType" in message
    assert err.value.exit_code == 3 and "\n" not in message
    assert puts_refused(cloud, 409) == 1                # sent once, not retried as if it were transient

"""The scale-set body and the definition checks Azure needs, decided purely: Uniform explicit, securityProfile
from fleet.security_type, Application Health with Rich Health States, the definition's SecurityType."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pipeline import fleet, infra, sshkeys
from pipeline.config import load_settings
from pipeline.errors import NotReady
from pipeline.ids import Ids

TOML = Path(__file__).resolve().parents[2] / "pipeline.toml"


def body(security_type: str = "TrustedLaunch") -> dict:
    s = load_settings(path=TOML, environ={})
    s = dataclasses.replace(s, fleet=dataclasses.replace(s.fleet, security_type=security_type))
    return fleet.scale_set_body(s, Ids("00000000-0000-0000-0000-000000000001", s.resource_group), name="hello-local-1-0-0",
                                color="blue", image_version="1.0.0", capacity=2,
                                created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
                                ssh_public_key=sshkeys.generate_public_key("t"))


def test_the_body_says_what_azure_would_otherwise_default():
    props = body()["properties"]
    profile = props["virtualMachineProfile"]
    assert props["orchestrationMode"] == "Uniform"
    assert profile["securityProfile"]["securityType"] == "TrustedLaunch"
    assert body("Standard")["properties"]["virtualMachineProfile"]["securityProfile"] == {"securityType": "Standard"}
    ext = profile["extensionProfile"]["extensions"][0]["properties"]
    assert ext["typeHandlerVersion"] == "2.0"
    assert {"gracePeriod", "intervalInSeconds", "numberOfProbes"} <= set(ext["settings"])
    assert 5 <= ext["settings"]["intervalInSeconds"] <= 60
    key = profile["osProfile"]["linuxConfiguration"]["ssh"]["publicKeys"][0]["keyData"]
    assert sshkeys.check_public_key(key) == key and fleet.model_ssh_key(body()) != key   # fresh per fleet


def test_a_flexible_fleet_is_refused_in_one_line():
    fleet.require_uniform({"name": "a", "properties": {"orchestrationMode": "Uniform"}})
    fleet.require_uniform({"name": "a", "properties": {}})          # Azure's Uniform default when unsaid
    with pytest.raises(NotReady) as err:
        fleet.require_uniform({"name": "a", "properties": {"orchestrationMode": "Flexible"}})
    assert "needs Uniform" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("feature, standard, trusted", [
    (None, True, False), ("TrustedLaunchSupported", True, True), ("TrustedLaunch", False, True),
    ("TrustedLaunchAndConfidentialVmSupported", True, True), ("ConfidentialVM", False, False)])
def test_which_definitions_take_which_security_type(feature, standard, trusted):
    definition = {"properties": {"features": [{"name": "SecurityType", "value": feature}] if feature else []}}
    assert infra.definition_allows(definition, "Standard") is standard
    assert infra.definition_allows(definition, "TrustedLaunch") is trusted


def test_new_definitions_take_both_security_types():
    s = load_settings(path=TOML, environ={})
    definition = infra.image_definition(s)
    assert definition["properties"]["hyperVGeneration"] == "V2"
    assert all(infra.definition_allows(definition, t) for t in ("Standard", "TrustedLaunch"))


def test_initializing_and_unknown_are_not_yet_healthy():
    from pipeline.facts import Instance

    def instance(health: str) -> Instance:
        return Instance(instance_id="0", name="f_0", computer_name="f000000", provisioning="succeeded",
                        power="running", health=health, latest_model=True, update_domain=0, ip_configuration_id="x")

    assert instance("healthy").ready and instance("").ready          # "" : no health extension
    assert not any(instance(h).ready for h in ("initializing", "unknown", "unhealthy"))

"""`plan_infra(facts, settings)` from facts alone (no cloud): what `invoke infra` writes, what --dry-run prints,
and what it refuses before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import infra, nsg
from pipeline.config import load_settings
from pipeline.errors import ConfigError
from pipeline.facts import InfraFacts
from pipeline.ids import Ids
from pipeline.plans import plan_infra

REPO = Path(__file__).resolve().parents[2]
SUB = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def settings():
    return load_settings(path=REPO / "pipeline.toml", environment="local", environ={})


def complete(s, **changed) -> InfraFacts:
    """Facts of an environment where infra already did everything (as Azure returns it, with etags)."""
    ids = Ids.of(s, SUB)
    nsg_id = ids.provider("Microsoft.Network", "networkSecurityGroups", s.network.nsg_name)
    group = {**nsg.body(s), "etag": 'W/"n1"'}
    vnet = infra.virtual_network(s, nsg_id=nsg_id)
    lb = {**infra.load_balancer(s, ids), "etag": 'W/"l1"'}
    definition = infra.image_definition(s)
    facts = dict(subscription=SUB, group_exists=True, nsg=group, vnet=vnet, public_ip_exists=True, load_balancer=lb,
                 gallery_exists=True, definition=definition)
    return InfraFacts(**{**facts, **changed})


def test_a_fresh_subscription_gets_everything_in_order(settings):
    s = settings
    plan = plan_infra(InfraFacts(subscription=SUB, group_exists=False), s)
    assert [w.what for w in plan.writes] == ["resource_group", "nsg", "vnet", "public_ip", "load_balancer", "gallery",
                                             "image_definition"]
    assert all(w.etag is None for w in plan.writes)
    assert plan.lines() == [w.label for w in plan.writes]
    assert plan.lines()[0] == f"resource group {s.resource_group}"
    assert plan.lines()[1].startswith(f"network security group {s.network.nsg_name} (production port 8080 from")
    lb = next(w.body for w in plan.writes if w.what == "load_balancer")
    assert {r["name"] for r in lb["properties"]["inboundNatRules"]} == {"nat-blue", "nat-green"}
    assert plan.containers == (s.storage.ledger_container, s.storage.packages_container)


def test_everything_present_is_nothing_to_do(settings):
    plan = plan_infra(complete(settings), settings)
    assert (plan.lines(), plan.writes, plan.notes, plan.warnings) == ([], (), (), ())


def test_a_missing_lb_rule_is_added_to_the_load_balancer_as_read(settings):
    facts = complete(settings)
    lb = {**facts.load_balancer}
    props = dict(lb["properties"])
    props["loadBalancingRules"] = [r for r in props["loadBalancingRules"]
                                   if r["name"] != settings.load_balancer.staging_rule.name]
    lb["properties"] = props
    plan = plan_infra(complete(settings, load_balancer=lb), settings)
    staging = settings.load_balancer.staging_rule.name
    assert plan.lines() == [f"load balancer {settings.load_balancer.name} parts: loadBalancingRules {staging}"]
    (write,) = plan.writes
    assert (write.what, write.etag) == ("load_balancer", 'W/"l1"')
    assert [r["name"] for r in write.body["properties"]["loadBalancingRules"]] == [
        settings.load_balancer.production_rule.name, staging]


def test_nat_pools_unused_go_used_stay_with_a_note(settings):
    facts = complete(settings)
    lb = {**facts.load_balancer}
    pools = [{"name": "old-blue", "properties": {"frontendPortRangeStart": 40000, "frontendPortRangeEnd": 40099}},
             {"name": "old-green", "properties": {"frontendPortRangeStart": 40100, "frontendPortRangeEnd": 40199}}]
    lb["properties"] = {**lb["properties"], "inboundNatPools": pools,
                        "inboundNatRules": lb["properties"]["inboundNatRules"] + [{"name": "old-blue.0"}]}
    plan = plan_infra(complete(settings, load_balancer=lb, nat_pool_users={"old-blue": ("hello-local-1-0-0",)}),
                      settings)
    assert plan.lines() == [f"load balancer {settings.load_balancer.name}: remove NAT pools old-green, which no scale "
                            f"set uses (NAT rules V1 and NAT pools retire on 30 September 2027)"]
    assert plan.notes == ("NAT pool old-blue kept: still used by hello-local-1-0-0; `invoke infra` removes it once "
                          "that fleet is retired",)
    (write,) = plan.writes
    assert [p["name"] for p in write.body["properties"]["inboundNatPools"]] == ["old-blue"]
    assert "old-blue.0" not in {r["name"] for r in write.body["properties"]["inboundNatRules"]}


def test_a_users_rule_on_the_pipelines_priority_is_refused(settings):
    facts = complete(settings)
    mine = {"name": "deny-all-early", "properties": {"direction": "Inbound", "priority": nsg.PRODUCTION_PRIORITY,
                                                     "access": "Deny", "protocol": "*"}}
    group = {**facts.nsg, "properties": {"securityRules": [mine]}}
    with pytest.raises(ConfigError, match=rf"nsg-hello has rules of its own .*deny-all-early \(priority "
                                          rf"{nsg.PRODUCTION_PRIORITY}\).*nothing was changed"):
        plan_infra(complete(settings, nsg=group), settings)


def test_a_users_rule_elsewhere_is_kept_and_the_pipelines_added(settings):
    facts = complete(settings)
    mine = {"name": "allow-ssh", "properties": {"direction": "Inbound", "priority": 300, "access": "Allow",
                                                "protocol": "Tcp", "destinationPortRange": "22"}}
    group = {**facts.nsg, "properties": {"securityRules": [mine]}}
    plan = plan_infra(complete(settings, nsg=group), settings)
    (write,) = plan.writes
    assert (write.what, write.etag) == ("nsg", 'W/"n1"')
    assert [r["name"] for r in write.body["properties"]["securityRules"]][0] == "allow-ssh"
    assert plan.lines()[0].startswith("network security group nsg-hello rules: ")


def test_a_definition_of_the_wrong_security_type_is_refused_before_anything(settings):
    standard = {"properties": {"features": [{"name": "SecurityType", "value": "Standard"}]}}
    assert settings.fleet.security_type == "TrustedLaunch"
    with pytest.raises(ConfigError, match=r"fleet\.security_type is 'TrustedLaunch' .*SecurityType Standard.*"
                                          r"nothing was changed"):
        plan_infra(complete(settings, definition=standard, public_ip_exists=False), settings)

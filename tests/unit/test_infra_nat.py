"""The NAT part of `invoke infra`, pure: NAT rules V2 in the desired load balancer, and the migration plan for an
older set-up's NAT pools (remove the unused, keep the used, refuse a NAT rule range that collides with a kept
pool) as a one-line ConfigError naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import infra
from pipeline.config import load_settings
from pipeline.errors import ConfigError
from pipeline.ids import Ids

REPO = Path(__file__).resolve().parents[2]
LB = "/subscriptions/s/resourceGroups/rg-bluegreen-local/providers/Microsoft.Network/loadBalancers/lb-hello"


@pytest.fixture
def settings():
    return load_settings(path=REPO / "pipeline.toml", environment="local", environ={})


def pool(name: str, start: int, end: int) -> dict:
    return {"name": name, "properties": {"frontendIPConfiguration": {"id": f"{LB}/frontendIPConfigurations/frontend"},
                                         "protocol": "Tcp", "frontendPortRangeStart": start,
                                         "frontendPortRangeEnd": end, "backendPort": 8080}}


def old_lb(*pools: dict, rules: list[dict] | None = None) -> dict:
    return {"name": "lb-hello", "etag": 'W/"1"', "properties": {"inboundNatPools": list(pools),
                                                                  "inboundNatRules": rules or []}}


def vmss(name: str, *nat_pools: str) -> dict:
    ipc = {"name": "ipconfig", "properties": {"loadBalancerInboundNatPools": [
        {"id": f"{LB}/inboundNatPools/{p}"} for p in nat_pools]}}
    return {"name": name, "properties": {"virtualMachineProfile": {"networkProfile": {
        "networkInterfaceConfigurations": [{"name": "nic", "properties": {"ipConfigurations": [ipc]}}]}}}}


def test_the_desired_load_balancer_has_nat_rules_v2_and_no_nat_pool(settings):
    body = infra.load_balancer(settings, Ids("s", settings.resource_group))
    assert "inboundNatPools" not in body["properties"]
    rules = {r["name"]: r["properties"] for r in body["properties"]["inboundNatRules"]}
    assert rules["nat-blue"]["backendAddressPool"]["id"].endswith("/backendAddressPools/pool-blue")
    assert (rules["nat-green"]["frontendPortRangeStart"], rules["nat-green"]["frontendPortRangeEnd"]) == (50300, 50399)
    assert "frontendPort" not in rules["nat-blue"]


def test_unused_pools_are_removed_used_ones_kept(settings):
    actual = old_lb(pool("nat-blue", 50000, 50099), pool("nat-green", 50100, 50199))
    users = infra.nat_pool_users([vmss("hello-local-1-0-0", "nat-blue"), vmss("other")])
    plan = infra.plan_nat_migration(settings, actual, users)
    assert plan.remove == ("nat-green",)
    assert plan.keep == (("nat-blue", ("hello-local-1-0-0",)),)
    assert plan.notes == ("NAT pool nat-blue kept: still used by hello-local-1-0-0; `invoke infra` removes it once "
                          "that fleet is retired",)


def test_the_written_body_drops_removed_pools_and_every_derived_rule(settings):
    desired = infra.load_balancer(settings, Ids("s", settings.resource_group))
    derived = {"name": "nat-blue.3", "properties": {"frontendPort": 50003, "backendPort": 8080}}
    single = {"name": "ssh-admin", "properties": {"frontendPort": 2222, "backendPort": 22}}
    actual = old_lb(pool("nat-blue", 50000, 50099), pool("nat-green", 50100, 50199), rules=[derived, single])
    body = infra.with_missing_parts(actual, desired, remove_nat_pools=("nat-green",))
    assert [p["name"] for p in body["properties"]["inboundNatPools"]] == ["nat-blue"]
    assert [r["name"] for r in body["properties"]["inboundNatRules"]] == ["ssh-admin", "nat-blue", "nat-green"]


def test_a_nat_rule_range_colliding_with_a_kept_pool_is_a_config_error(settings):
    actual = old_lb(pool("nat-blue", 50150, 50250))   # overlaps the blue NAT rule's 50200-50299
    with pytest.raises(ConfigError) as caught:
        infra.plan_nat_migration(settings, actual, {"nat-blue": ["hello-local-1-0-0"]})
    message = str(caught.value)
    assert "\n" not in message
    assert "load_balancer.nat_rules.blue ports 50200-50299 overlap NAT pool nat-blue (50150-50250)" in message
    assert "hello-local-1-0-0" in message
    unused = infra.plan_nat_migration(settings, actual, {})   # unused: removed in the same write, no conflict
    assert unused.remove == ("nat-blue",)


def test_old_nat_pool_tables_get_a_migration_message(tmp_path):
    text = (REPO / "pipeline.toml").read_text().replace("load_balancer.nat_rules.", "load_balancer.nat_pools.")
    path = tmp_path / "pipeline.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path=path, environment="local", environ={})
    message = str(caught.value)
    assert "\n" not in message and "load_balancer.nat_pools" in message and "load_balancer.nat_rules" in message
    assert "30 September 2027" in message


@pytest.mark.parametrize("overrides, pattern", [
    ({"load_balancer.nat_rules.blue.frontend_port_end": "50202"},
     r"nat_rules\.blue\.frontend_port_end leaves 3 ports"),
    ({"load_balancer.nat_rules.green.frontend_port_start": "8000",
      "load_balancer.nat_rules.green.frontend_port_end": "8100"},
     r"nat_rules\.green\.frontend_port_start range 8000-8100 contains rule-production's frontend port 8080"),
    ({"load_balancer.nat_rules.green.name": "NAT-BLUE"}, r"nat_rules\.green\.name equals the blue rule's name"),
])
def test_nat_rule_settings_are_checked(overrides, pattern):
    with pytest.raises(ConfigError, match=pattern):
        load_settings(path=REPO / "pipeline.toml", environment="local", environ={}, overrides=overrides)


def test_stage_needs_the_colors_nat_rule_on_the_colors_pool():
    from pipeline import bluegreen
    from pipeline.errors import ResourceMissing, StateMismatch

    def lb(pool: str) -> dict:
        return {"name": "lb-hello", "properties": {"inboundNatRules": [
            {"name": "nat-green", "id": f"{LB}/inboundNatRules/nat-green",
             "properties": {"backendAddressPool": {"id": f"{LB}/backendAddressPools/{pool}"}}}]}}

    assert bluegreen.nat_rule_id(lb("pool-green"), "NAT-green", pool="pool-green") == f"{LB}/inboundNatRules/nat-green"
    with pytest.raises(StateMismatch, match="does not target backend pool 'pool-green'"):
        bluegreen.nat_rule_id(lb("pool-blue"), "nat-green", pool="pool-green")
    with pytest.raises(ResourceMissing, match="no inbound NAT rule 'nat-blue'; run `invoke infra`"):
        bluegreen.nat_rule_id(lb("pool-green"), "nat-blue", pool="pool-blue")

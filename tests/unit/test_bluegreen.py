"""Blue/green decisions on load balancer JSON: who is live, what a swap changes, what it refuses."""

from __future__ import annotations

import pytest

from pipeline import bluegreen
from pipeline.errors import ResourceMissing, StateMismatch

LB_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb"
POOLS = {"blue": "pool-blue", "green": "pool-green"}


def lb(production="pool-blue", staging="pool-green", plural=False):
    def rule(name, pool):
        props = {"backendAddressPool": {"id": f"{LB_ID}/backendAddressPools/{pool}"}}
        if plural:
            props["backendAddressPools"] = [{"id": f"{LB_ID}/backendAddressPools/{pool}"}]
        return {"name": name, "properties": props}

    return {"name": "lb", "etag": 'W/"1"', "properties": {
        "backendAddressPools": [{"name": p, "id": f"{LB_ID}/backendAddressPools/{p}"} for p in POOLS.values()],
        "loadBalancingRules": [rule("rule-production", production), rule("rule-staging", staging)]}}


def test_live_color_is_the_production_rules_pool():
    traffic = bluegreen.read_traffic(lb(), production_rule="rule-production", staging_rule="rule-staging")
    assert bluegreen.live_color(traffic, POOLS) == "blue"
    assert traffic.staging_pool == "pool-green" and traffic.etag == 'W/"1"'


@pytest.mark.parametrize("plural", [False, True])
def test_swap_exchanges_both_rules_and_keeps_plural_field_in_step(plural):
    before = lb(plural=plural)
    plan = bluegreen.swap_plan(before, production_rule="rule-production", staging_rule="rule-staging", pools=POOLS)
    assert plan == {"rule-production": "pool-green", "rule-staging": "pool-blue"}
    after = bluegreen.with_rule_pools(before, plan)
    traffic = bluegreen.read_traffic(after, production_rule="rule-production", staging_rule="rule-staging")
    assert (traffic.production_pool, traffic.staging_pool) == ("pool-green", "pool-blue")
    rule = after["properties"]["loadBalancingRules"][0]["properties"]
    if plural:
        assert rule["backendAddressPools"] == [rule["backendAddressPool"]]
    assert before["properties"]["loadBalancingRules"][0]["properties"]["backendAddressPool"]["id"].endswith("blue")


def test_missing_rule_or_pool_says_what_to_do():
    with pytest.raises(ResourceMissing, match="invoke infra"):
        bluegreen.read_traffic(lb(), production_rule="nope", staging_rule="rule-staging")
    with pytest.raises(ResourceMissing, match="no backend pool 'pool-red'"):
        bluegreen.with_rule_pools(lb(), {"rule-production": "pool-red"})


def test_production_on_a_foreign_pool_is_a_mismatch():
    weird = lb(production="pool-other")
    traffic = bluegreen.read_traffic(weird, production_rule="rule-production", staging_rule="rule-staging")
    with pytest.raises(StateMismatch, match="neither blue nor green"):
        bluegreen.live_color(traffic, POOLS)


def test_live_on_makes_a_color_live_and_the_other_the_staging_target():
    rules = {"production_rule": "rule-production", "staging_rule": "rule-staging", "pools": POOLS}
    assert bluegreen.live_on("green", **rules) == {"rule-production": "pool-green", "rule-staging": "pool-blue"}
    assert bluegreen.live_on("blue", **rules) == {"rule-production": "pool-blue", "rule-staging": "pool-green"}

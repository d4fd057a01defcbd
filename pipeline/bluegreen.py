"""Blue/green decisions on a load balancer's REST shape (pure: dicts in, dicts out, no I/O).

The production rule sends traffic to the live color's backend pool; the staging rule to the idle one.
A promote (or rollback) exchanges the two rules' pools in one load balancer PUT guarded by If-Match.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ResourceMissing, StateMismatch
from .ledger import COLORS, other

__all__ = ["COLORS", "Traffic", "describe", "live_color", "live_on", "nat_rule_id", "other", "pool_id", "read_traffic",
           "swap_plan", "with_rule_pools"]


@dataclass(frozen=True)
class Traffic:
    """Which pool each rule feeds, as the load balancer says right now."""

    production_pool: str          # pool name
    staging_pool: str | None      # None: the staging rule has no pool yet
    etag: str

    def color_of(self, pool: str | None, pools: dict[str, str]) -> str | None:
        for color, name in pools.items():
            if pool and name.lower() == pool.lower():
                return color
        return None


def _rule(lb: dict, name: str) -> dict:
    for rule in lb.get("properties", {}).get("loadBalancingRules", []):
        if rule.get("name", "").lower() == name.lower():
            return rule
    raise ResourceMissing(f"load balancer {lb.get('name')!r} has no rule {name!r}; run `invoke infra` to create it "
                          f"or fix load_balancer.*_rule.name in pipeline.toml")


def _pool_name(rule: dict) -> str | None:
    props = rule.get("properties", {})
    ref = props.get("backendAddressPool") or next(iter(props.get("backendAddressPools") or []), None)
    return ref["id"].rstrip("/").rsplit("/", 1)[-1] if ref and ref.get("id") else None


def pool_id(lb: dict, pool: str) -> str:
    for candidate in lb.get("properties", {}).get("backendAddressPools", []):
        if candidate.get("name", "").lower() == pool.lower():
            return candidate["id"]
    raise ResourceMissing(f"load balancer {lb.get('name')!r} has no backend pool {pool!r}; run `invoke infra` "
                          f"or fix load_balancer.backend_pools in pipeline.toml")


def nat_rule_id(lb: dict, rule: str, *, pool: str) -> str:
    """The inbound NAT rule V2 giving the members of `pool` their own frontend ports."""
    for candidate in lb.get("properties", {}).get("inboundNatRules", []):
        if candidate.get("name", "").lower() == rule.lower():
            target = (candidate.get("properties", {}).get("backendAddressPool") or {}).get("id", "")
            if target.rstrip("/").rsplit("/", 1)[-1].lower() != pool.lower():
                raise StateMismatch(f"inbound NAT rule {rule!r} does not target backend pool {pool!r}; fix the rule "
                                    f"or load_balancer.nat_rules in pipeline.toml")
            return candidate["id"]
    raise ResourceMissing(f"load balancer {lb.get('name')!r} has no inbound NAT rule {rule!r}; run `invoke infra` "
                          f"or fix load_balancer.nat_rules in pipeline.toml")


def read_traffic(lb: dict, *, production_rule: str, staging_rule: str) -> Traffic:
    production = _pool_name(_rule(lb, production_rule))
    if production is None:
        raise StateMismatch(f"rule {production_rule!r} sends traffic to no pool; point it at a pool in the portal "
                            f"or re-run `invoke infra`")
    return Traffic(production_pool=production, staging_pool=_pool_name(_rule(lb, staging_rule)),
                   etag=lb.get("etag", ""))


def live_color(traffic: Traffic, pools: dict[str, str]) -> str:
    color = traffic.color_of(traffic.production_pool, pools)
    if color is None:
        raise StateMismatch(f"the production rule sends traffic to pool {traffic.production_pool!r}, which is "
                            f"neither blue nor green ({', '.join(pools.values())}); fix the load balancer or "
                            f"load_balancer.backend_pools in pipeline.toml")
    return color


def _point(rule: dict, target_pool_id: str) -> None:
    props = rule.setdefault("properties", {})
    props["backendAddressPool"] = {"id": target_pool_id}
    if props.get("backendAddressPools"):  # newer API shape: keep both in step, or Azure answers 400
        props["backendAddressPools"] = [{"id": target_pool_id}]


def with_rule_pools(lb: dict, assignments: dict[str, str]) -> dict:
    """A copy of `lb` where each named rule sends to the named pool: {rule name: pool name}."""
    updated = copy.deepcopy(lb)
    for rule_name, pool in assignments.items():
        _point(_rule(updated, rule_name), pool_id(updated, pool))
    return updated


def live_on(color: str, *, production_rule: str, staging_rule: str, pools: Mapping[str, str]) -> dict[str, str]:
    """The rule->pool assignment that makes `color` live and the other color the staging target."""
    return {production_rule: pools[color], staging_rule: pools[other(color)]}


def swap_plan(lb: dict, *, production_rule: str, staging_rule: str, pools: Mapping[str, str]) -> dict[str, str]:
    """The rule->pool assignment that makes the idle color live and the live one the staging target."""
    traffic = read_traffic(lb, production_rule=production_rule, staging_rule=staging_rule)
    return live_on(other(live_color(traffic, pools)), production_rule=production_rule, staging_rule=staging_rule,
                   pools=pools)


def describe(assignments: dict[str, str]) -> list[str]:
    return [f"load balancer rule {rule} -> backend pool {pool}" for rule, pool in assignments.items()]

"""A load-balancer write guarded by a stale ETag is refused by the local cloud (412) and reaches the steps as
PreconditionFailed, exit 9, whichever step made it (stage's staging-rule write, promote's traffic move)."""

from __future__ import annotations

import pytest

from pipeline import bluegreen
from pipeline.azure import network
from pipeline.errors import PreconditionFailed, StateMismatch
from pipeline.steps.infra import ensure_infra
from pipeline.steps.switch import move_traffic


def stale_load_balancer(ctx) -> dict:
    """The load balancer as read, then changed by someone else (a plain re-PUT moves its ETag)."""
    ensure_infra(ctx)
    name = ctx.settings.load_balancer.name
    read = network.get_load_balancer(ctx.clients, name)
    network.put_load_balancer(ctx.clients, read, if_match=None)
    assert network.get_load_balancer(ctx.clients, name)["etag"] != read["etag"]
    return read


def test_a_stale_etag_on_the_load_balancer_is_precondition_failed_exit_9(ctx):
    read = stale_load_balancer(ctx)
    staging = ctx.settings.load_balancer.staging_rule.name
    with pytest.raises(PreconditionFailed, match="changed since it was read") as caught:
        network.put_load_balancer(ctx.clients, bluegreen.with_rule_pools(read, {staging: "pool-green"}),
                                  if_match=read["etag"])
    assert isinstance(caught.value, StateMismatch) and caught.value.exit_code == 9
    assert "\n" not in str(caught.value)


def test_moving_traffic_from_a_stale_read_switches_nothing_and_exits_9(ctx):
    read = stale_load_balancer(ctx)
    production = ctx.settings.load_balancer.production_rule.name
    before = network.get_load_balancer(ctx.clients, ctx.settings.load_balancer.name)
    with pytest.raises(PreconditionFailed) as caught:
        move_traffic(ctx, lb=read, assignments={production: "pool-green"}, progress=lambda _: None)
    assert caught.value.exit_code == 9
    assert network.get_load_balancer(ctx.clients, ctx.settings.load_balancer.name)["etag"] == before["etag"]

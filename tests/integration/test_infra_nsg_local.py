"""`invoke infra` and the app subnet's network security group on the local cloud (real SDK, real emulator):
created and associated, a re-run is a no-op, the user's own rules are kept, a subnet made by someone else gets
the group, and a subnet that already has another group is refused with one line, changing nothing."""

from __future__ import annotations

import pytest

from pipeline import nsg as nsg_plan
from pipeline.errors import ConfigError
from pipeline.steps.context import Context
from pipeline.steps.infra import ensure_infra


def group(ctx):
    s = ctx.settings
    return ctx.clients.network.network_security_groups.get(s.resource_group, s.network.nsg_name)


def subnet(ctx):
    s = ctx.settings
    return ctx.clients.network.subnets.get(s.resource_group, s.network.vnet, s.network.subnet)


def test_infra_creates_the_group_on_the_subnet_then_is_a_no_op(ctx):
    dry = ensure_infra(Context(clients=ctx.clients, who=ctx.who, dry_run=True))
    assert any(a.startswith("network security group nsg-hello (production port 8080 from Internet; staging port(s) "
                            "8081 from 127.0.0.0/8)") for a in dry.actions), dry.actions
    first = ensure_infra(ctx)
    assert any(a.startswith("network security group nsg-hello") for a in first.actions)
    nsg = group(ctx)
    rules = {r.name: r for r in nsg.security_rules}
    assert set(rules) == {"bluegreen-production-1", "bluegreen-staging-1"}
    assert (rules["bluegreen-production-1"].source_address_prefix, rules["bluegreen-production-1"].destination_port_range) \
        == ("Internet", "8080")
    assert (rules["bluegreen-staging-1"].source_address_prefix, rules["bluegreen-staging-1"].destination_port_range) \
        == ("127.0.0.0/8", "8081")
    assert subnet(ctx).network_security_group.id == nsg.id
    assert [s.id for s in nsg.subnets] == [subnet(ctx).id]
    assert ensure_infra(ctx).actions == ()
    assert group(ctx).etag == nsg.etag  # nothing written


def test_the_users_rules_are_kept_and_the_pipelines_restored(ctx):
    ensure_infra(ctx)
    s, rules = ctx.settings, ctx.clients.network.security_rules
    rules.begin_create_or_update(s.resource_group, s.network.nsg_name, "allow-ssh-from-office", {"properties": {
        "protocol": "Tcp", "access": "Allow", "direction": "Inbound", "priority": 300, "sourcePortRange": "*",
        "sourceAddressPrefix": "198.51.100.0/24", "destinationAddressPrefix": "*", "destinationPortRange": "22"}}
    ).result()
    rules.begin_create_or_update(s.resource_group, s.network.nsg_name, "bluegreen-staging-1", {"properties": {
        "protocol": "Tcp", "access": "Allow", "direction": "Inbound", "priority": 1100, "sourcePortRange": "*",
        "sourceAddressPrefix": "Internet", "destinationAddressPrefix": "*", "destinationPortRange": "8081"}}).result()
    dry = ensure_infra(Context(clients=ctx.clients, who=ctx.who, dry_run=True))
    assert dry.actions == ("network security group nsg-hello rules: update bluegreen-staging-1",)
    assert rules.get(s.resource_group, s.network.nsg_name, "bluegreen-staging-1").source_address_prefix == "Internet"
    assert ensure_infra(ctx).actions == dry.actions
    after = {r.name: r for r in group(ctx).security_rules}
    assert after["bluegreen-staging-1"].source_address_prefix == "127.0.0.0/8"
    assert after["allow-ssh-from-office"].destination_port_range == "22"


def test_a_subnet_made_elsewhere_gets_the_group(ctx):
    s, c = ctx.settings, ctx.clients
    c.resources.resource_groups.create_or_update(s.resource_group, {"location": s.location})
    c.network.virtual_networks.begin_create_or_update(s.resource_group, s.network.vnet, {
        "location": s.location, "properties": {"addressSpace": {"addressPrefixes": list(s.network.vnet_prefixes)},
                                               "subnets": [{"name": s.network.subnet, "properties": {
                                                   "addressPrefix": s.network.subnet_prefixes[0]}}]}}).result()
    result = ensure_infra(ctx)
    assert "subnet snet-hello: associate network security group nsg-hello" in result.actions
    assert subnet(ctx).network_security_group.id == group(ctx).id
    assert subnet(ctx).address_prefix == s.network.subnet_prefixes[0]


def test_a_subnet_with_another_group_is_refused_and_nothing_changes(ctx):
    s, c = ctx.settings, ctx.clients
    c.resources.resource_groups.create_or_update(s.resource_group, {"location": s.location})
    theirs = c.network.network_security_groups.begin_create_or_update(s.resource_group, "nsg-theirs", {
        "location": s.location, "properties": {}}).result()
    c.network.virtual_networks.begin_create_or_update(s.resource_group, s.network.vnet, {
        "location": s.location, "properties": {"addressSpace": {"addressPrefixes": list(s.network.vnet_prefixes)},
                                               "subnets": [{"name": s.network.subnet, "properties": {
                                                   "addressPrefix": s.network.subnet_prefixes[0],
                                                   "networkSecurityGroup": {"id": theirs.id}}}]}}).result()
    with pytest.raises(ConfigError) as err:
        ensure_infra(ctx)
    assert "set network.nsg to that name" in str(err.value) and "'nsg-theirs'" in str(err.value)
    assert [g.name for g in c.network.network_security_groups.list(s.resource_group)] == ["nsg-theirs"]
    assert nsg_plan.RULE_PREFIX == "bluegreen-"

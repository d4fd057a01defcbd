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
    production, staging = rules["bluegreen-production-1"], rules["bluegreen-staging-1"]
    assert (production.source_address_prefix, production.destination_port_range) == ("Internet", "8080")
    assert (staging.source_address_prefix, staging.destination_port_range) == ("127.0.0.0/8", "8081")
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


@pytest.mark.slow
def test_ports_closed_by_the_group_fail_smoke_and_verify_naming_port_and_group(request, ctx, local_cloud, tmp_path):
    """Production is open to the Internet, staging only to allow_staging_from: with the smoke runner (loopback)
    left out of it, a release stops at smoke, which names the port and the group; production keeps serving."""
    from pipeline.azure.clients import Clients
    from pipeline.errors import SmokeFailed, VerificationFailed
    from pipeline.steps.release import changed_app, release
    from pipeline.steps.switch import verify_live
    from tests.fixtures.pipeline import local_settings_for
    from tests.integration.test_release_local import APP, quiet, served_version

    ensure_infra(ctx)
    release(ctx, app_version="1.0.0", progress=quiet)
    assert served_version(ctx) == "1.0.0"
    closed = local_settings_for(request, {"network.allow_staging_from": "10.0.0.0/8"})
    with Clients(closed, cloud=local_cloud) as clients:
        outsider = Context(clients=clients, who=ctx.who)
        assert ensure_infra(outsider).actions == ("network security group nsg-hello rules: update bluegreen-staging-1",)
        with pytest.raises(SmokeFailed) as err:
            release(outsider, app_version="1.0.1", app_dir=changed_app(APP, tmp_path / "changed"), progress=quiet)
        assert "network security group nsg-hello" in str(err.value) and "backend port 8081" in str(err.value)
        assert served_version(ctx) == "1.0.0"  # production's port is still open to the Internet
    shut = local_settings_for(request, {"network.allow_production_from": "10.0.0.0/8",
                                        "timeouts.promote_verify": "1s"})
    with Clients(shut, cloud=local_cloud) as clients:
        outsider = Context(clients=clients, who=ctx.who)
        ensure_infra(outsider)
        with pytest.raises(VerificationFailed) as err:
            verify_live(outsider, progress=quiet)
        assert "network security group nsg-hello" in str(err.value) and "backend port 8080" in str(err.value)

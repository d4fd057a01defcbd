"""Per-instance access through inbound NAT rules V2 on the local cloud: `invoke infra` creates them on a fresh
environment, migrates an older set-up's NAT pools (V1) while a fleet that uses one keeps serving production,
and smoke reaches every instance through its own port of its color's rule."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from pipeline import ledger as ledger_model
from pipeline import smoke as checks
from pipeline.azure.clients import Clients
from pipeline.azure.writable import writable_load_balancer
from pipeline.errors import ConfigError
from pipeline.ids import Ids
from pipeline.steps.context import Context
from pipeline.steps.infra import ensure_infra
from pipeline.steps.release import changed_app, release
from pipeline.steps.retire import retire
from pipeline.steps.smoke import targets
from tests.fixtures.images import wait_until
from tests.fixtures.pipeline import local_settings_for
from tests.integration.test_release_local import APP, Watch, quiet, served_version

pytestmark = pytest.mark.slow

OLD_POOLS = {"blue": ("nat-blue", 50000, 50099), "green": ("nat-green", 50100, 50199)}   # the old defaults


def lb_json(ctx) -> dict:
    s = ctx.settings
    return ctx.clients.network.load_balancers.get(s.resource_group, s.load_balancer.name).as_dict()


def nat_rules(lb: dict) -> dict[str, dict]:
    return {r["name"]: r["properties"] for r in lb["properties"].get("inboundNatRules", [])}


def test_fresh_infra_creates_one_nat_rule_v2_per_color_and_no_nat_pool(ctx):
    s = ctx.settings
    ensure_infra(ctx)
    lb = lb_json(ctx)
    assert not lb["properties"].get("inboundNatPools")
    rules = nat_rules(lb)
    assert sorted(rules) == ["nat-blue", "nat-green"]
    for color in ("blue", "green"):
        want, got = s.load_balancer.nat_rules.for_color(color), rules[s.load_balancer.nat_rules.for_color(color).name]
        pool = s.load_balancer.backend_pools.for_color(color)
        assert got["backendAddressPool"]["id"].endswith(f"/backendAddressPools/{pool}")
        assert (got["frontendPortRangeStart"], got["frontendPortRangeEnd"], got["backendPort"]) == \
            (want.frontend_port_start, want.frontend_port_end, want.backend_port)
    again = ensure_infra(ctx)
    assert again.actions == () and again.notes == ()


def test_smoke_reaches_each_instance_through_its_own_nat_rule_port(ctx):
    s = ctx.settings
    ensure_infra(ctx)
    release(ctx, app_version="1.0.0", progress=quiet)
    live = ledger_model.live_fleet(ctx.ledger())
    rule = s.load_balancer.nat_rules.for_color(live.color)
    found = [t for t in targets(ctx, live.name, live.color) if t.name.startswith("instance ")]
    assert len(found) == s.capacity.default
    seen = {}
    for target in found:
        port = int(target.base_url.rsplit(":", 1)[1])
        assert rule.frontend_port_start <= port <= rule.frontend_port_end
        code, body, _, _ = checks.fetch(target.base_url + "/version", timeout_s=3)
        assert code == 200
        seen[target.name.split()[-1]] = json.loads(body)["instance_id"]
    assert seen == {instance: instance for instance in seen}, "each port reaches its own instance"


def _to_v1(ctx, fleet: str, color: str) -> None:
    """Rebuild what the pipeline used to make: NAT pools instead of V2 rules, the live fleet joined to its color's
    pool (model and instances), as a set-up from before this change would be."""
    s, c = ctx.settings, ctx.clients
    ids = Ids(c.subscription_id, s.resource_group)
    lb = writable_load_balancer(lb_json(ctx))   # what Azure lets a client write back (no NIC members)
    frontend = lb["properties"]["frontendIPConfigurations"][0]["id"]
    lb["properties"]["inboundNatRules"] = []
    lb["properties"]["inboundNatPools"] = [{"name": name, "properties": {
        "frontendIPConfiguration": {"id": frontend}, "protocol": "Tcp", "frontendPortRangeStart": start,
        "frontendPortRangeEnd": end, "backendPort": 8080}} for name, start, end in OLD_POOLS.values()]
    for pool in lb["properties"]["backendAddressPools"]:
        pool["properties"].pop("backendIPConfigurations", None)
    c.network.load_balancers.begin_create_or_update(s.resource_group, s.load_balancer.name, lb).result()
    vmss = c.compute.virtual_machine_scale_sets.get(s.resource_group, fleet).as_dict()
    ipc = vmss["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]
    ipc["properties"]["ipConfigurations"][0]["properties"]["loadBalancerInboundNatPools"] = [
        {"id": ids.lb_child(s.load_balancer.name, "inboundNatPools", OLD_POOLS[color][0])}]
    c.compute.virtual_machine_scale_sets.begin_update(s.resource_group, fleet, {"properties": {
        "virtualMachineProfile": {"networkProfile": vmss["properties"]["virtualMachineProfile"]["networkProfile"]}}}
    ).result()
    instances = [vm.instance_id for vm in c.compute.virtual_machine_scale_set_vms.list(s.resource_group, fleet)]
    for instance in instances:   # one at a time, as a careful operator would: production keeps a healthy member
        c.compute.virtual_machine_scale_sets.begin_update_instances(
            s.resource_group, fleet, {"instanceIds": [instance]}).result()
        wait_until(lambda: served_version(ctx) == "1.0.0", timeout=60, what="production back")


def test_infra_migrates_nat_pools_while_the_live_fleet_keeps_serving(ctx, tmp_path, request, local_cloud):
    s = ctx.settings
    ensure_infra(ctx)
    release(ctx, app_version="1.0.0", progress=quiet)
    live = ledger_model.live_fleet(ctx.ledger())
    _to_v1(ctx, live.name, live.color)
    before = lb_json(ctx)
    assert sorted(nat_rules(before)) == sorted(f"{OLD_POOLS[live.color][0]}.{vm}" for vm in [
        v.instance_id for v in ctx.clients.compute.virtual_machine_scale_set_vms.list(s.resource_group, live.name)])

    # A NAT rule range sharing ports with the pool the live fleet still uses: one line naming the setting, exit 2,
    # nothing changed.
    start, end = OLD_POOLS[live.color][1:]
    clashing = local_settings_for(request, {f"load_balancer.nat_rules.{live.color}.frontend_port_start": str(start),
                                            f"load_balancer.nat_rules.{live.color}.frontend_port_end": str(end)})
    with Clients(clashing, cloud=local_cloud) as clients:
        with pytest.raises(ConfigError) as caught:
            ensure_infra(Context(clients=clients, who="tester@pipeline-tests"))
    assert caught.value.exit_code == 2 and "\n" not in str(caught.value)
    assert f"load_balancer.nat_rules.{live.color} ports {start}-{end} overlap NAT pool" in str(caught.value)
    assert lb_json(ctx)["etag"] == before["etag"]

    ctx.dry_run = True
    plan = ensure_infra(ctx)
    ctx.dry_run = False
    idle = "green" if live.color == "blue" else "blue"
    assert any("inboundNatRules nat-blue, nat-green" in a for a in plan.actions), plan.actions
    assert any(f"remove NAT pools {OLD_POOLS[idle][0]}," in a for a in plan.actions), plan.actions
    assert plan.notes == (f"NAT pool {OLD_POOLS[live.color][0]} kept: still used by {live.name}; `invoke infra` "
                          f"removes it once that fleet is retired",)
    assert lb_json(ctx)["etag"] == before["etag"], "the dry run changed nothing"

    with Watch(ctx) as watch:
        done = ensure_infra(ctx)
        assert done.actions == plan.actions
        after = lb_json(ctx)
        assert [p["name"] for p in after["properties"]["inboundNatPools"]] == [OLD_POOLS[live.color][0]]
        rules = nat_rules(after)
        assert {"nat-blue", "nat-green"} <= set(rules)
        assert any(name.startswith(f"{OLD_POOLS[live.color][0]}.") for name in rules), "V1 access still there"
        assert ensure_infra(ctx).actions == (), "a re-run is a no-op"

        # A new release on the idle color: its fleet gets ports of the V2 rule, smoke uses them.
        release(ctx, app_version="1.1.0", app_dir=changed_app(APP, tmp_path / "changed"), progress=quiet)
    assert watch.failures == [] and watch.versions
    assert served_version(ctx) == "1.1.0"
    new = ledger_model.live_fleet(ctx.ledger())
    rule = s.load_balancer.nat_rules.for_color(new.color)
    ports = [int(t.base_url.rsplit(":", 1)[1]) for t in targets(ctx, new.name, new.color)
             if t.name.startswith("instance")]
    assert ports and all(rule.frontend_port_start <= p <= rule.frontend_port_end for p in ports)

    # Once the old fleet is retired, the next `invoke infra` removes its NAT pool: the migration is complete.
    ctx.now = lambda: datetime.now(timezone.utc) + s.keep_warm + timedelta(minutes=1)
    assert retire(ctx, progress=quiet).fleets == (live.name,)
    last = ensure_infra(ctx)
    assert last.actions == (f"load balancer {s.load_balancer.name}: remove NAT pools {OLD_POOLS[live.color][0]}, "
                            f"which no scale set uses (NAT rules V1 and NAT pools retire on 30 September 2027)",)
    final = lb_json(ctx)
    assert not final["properties"].get("inboundNatPools")
    assert sorted(nat_rules(final)) == ["nat-blue", "nat-green"]
    assert ensure_infra(ctx).actions == () and served_version(ctx) == "1.1.0"

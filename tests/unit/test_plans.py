"""The release steps' decisions from facts alone (pipeline/plans.py, pipeline/rollout.py): no cloud, no I/O."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import MappingProxyType

import pytest

from pipeline import ledger as L
from pipeline import plans as P
from pipeline import rollout as R
from pipeline.config import load_settings
from pipeline.errors import ConfigError, NotReady, ResourceMissing, StateMismatch
from pipeline.facts import Facts, Instance, ScaleSet

REPO = Path(__file__).resolve().parents[2]
SETTINGS = load_settings(path=REPO / "pipeline.toml", environment="local", environ={})
LB_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb-hello"
IMAGES = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/hello/versions/"
T0 = datetime(2025, 1, 1, 10, 0, tzinfo=timezone.utc)


def image_id(version: str) -> str:
    return IMAGES + version


def load_balancer(production: str | None = "pool-blue", staging: str | None = "pool-green") -> dict:
    def rule(name, pool):
        props = {"backendAddressPool": {"id": f"{LB_ID}/backendAddressPools/{pool}"}} if pool else {}
        return {"name": name, "properties": props}

    return {"name": "lb-hello", "etag": 'W/"1"', "properties": {
        "backendAddressPools": [{"name": p, "id": f"{LB_ID}/backendAddressPools/{p}"} for p in ("pool-blue", "pool-green")],
        "inboundNatRules": [{"name": f"nat-{c}", "id": f"{LB_ID}/inboundNatRules/nat-{c}", "properties": {
            "backendAddressPool": {"id": f"{LB_ID}/backendAddressPools/pool-{c}"}}} for c in ("blue", "green")],
        "loadBalancingRules": [rule("rule-production", production), rule("rule-staging", staging)]}}


def scale_set(name: str, color: str, *, capacity: int = 2, version: str = "1.0.1", mode: str = "Uniform",
              upgrade: str = "Manual") -> ScaleSet:
    return ScaleSet({"name": name, "sku": {"capacity": capacity},
                     "tags": {"app": "hello", "environment": "local", "color": color, "image-version": version},
                     "properties": {"orchestrationMode": mode, "upgradePolicy": {"mode": upgrade},
                                    "virtualMachineProfile": {"storageProfile": {
                                        "imageReference": {"id": image_id(version)}}}}})


def ev(event: str, fleet: str, minutes: int = 0, **kw) -> L.Event:
    return L.new_event(event, fleet=fleet, who="alice@laptop", at=T0 + timedelta(minutes=minutes), **kw)


def staged(ledger: L.Ledger, version: str, minutes: int, *, smoke: bool = True) -> L.Ledger:
    name = f"hello-local-{version.replace('.', '-')}"
    ledger = L.record(ledger, ev("staged", name, minutes, image_version=version, color=L.next_color(ledger)))
    return L.record(ledger, ev("smoke_passed", name, minutes + 1)) if smoke else ledger


def released(*versions: str) -> L.Ledger:
    ledger = L.empty_ledger("local")
    for n, version in enumerate(versions):
        ledger = staged(ledger, version, n * 10)
        ledger = L.record(ledger, ev("promoted", f"hello-local-{version.replace('.', '-')}", n * 10 + 2))
    return ledger


def facts(ledger: L.Ledger, *, lb: dict | None = None, sets: tuple[ScaleSet, ...] = (), images: dict | None = None,
          instances: dict | None = None, gallery: frozenset[str] = frozenset(), now: datetime = T0) -> Facts:
    lbs = SETTINGS.load_balancer
    return Facts(environment="local", resource_group="rg", load_balancer_name=lbs.name,
                 production_rule=lbs.production_rule.name, staging_rule=lbs.staging_rule.name,
                 pools=lbs.backend_pools, image_definition="g/hello",
                 load_balancer=load_balancer() if lb is None else lb, ledger=ledger, now=now, scale_sets=sets,
                 instances=MappingProxyType(instances or {}), image_versions=MappingProxyType(images or {}),
                 gallery=gallery)


# ---------------------------------------------------------------------------------------------- stage


def test_stage_goes_on_the_idle_color_with_the_live_fleets_capacity_and_removes_the_old_idle_fleet():
    ledger = released("1.0.1", "1.0.2")   # 1.0.2 live on green, 1.0.1 warm on blue
    sets = (scale_set("hello-local-1-0-1", "blue"), scale_set("hello-local-1-0-2", "green", capacity=5),
            ScaleSet({**scale_set("other-app", "blue").body, "tags": {"app": "other", "environment": "local",
                                                                      "color": "blue"}}))
    plan = P.plan_stage(facts(ledger, lb=load_balancer("pool-green", "pool-blue"), sets=sets,
                              images={"1.0.3": True}), P.StageRequest("1.0.3"), settings=SETTINGS)
    assert (plan.fleet, plan.color, plan.pool, plan.capacity) == ("hello-local-1-0-3", "blue", "pool-blue", 5)
    assert plan.remove == ("hello-local-1-0-1",) and not plan.reuse and not plan.point_staging_rule
    assert plan.lines()[0] == "delete old fleet hello-local-1-0-1 from the idle blue pool"


def test_stage_capacity_flag_wins_but_never_below_the_minimum_and_defaults_without_a_live_fleet():
    first = facts(L.empty_ledger("local"), images={"1.0.1": True})
    assert P.plan_stage(first, P.StageRequest("1.0.1"), settings=SETTINGS).capacity == SETTINGS.capacity.default
    assert P.plan_stage(first, P.StageRequest("1.0.1", capacity=7), settings=SETTINGS).capacity == 7
    live = released("1.0.1")
    sets = (scale_set("hello-local-1-0-1", "blue", capacity=0),)
    plan = P.plan_stage(facts(live, sets=sets, images={"1.0.2": True}), P.StageRequest("1.0.2"), settings=SETTINGS)
    assert plan.capacity == max(SETTINGS.capacity.default, SETTINGS.capacity.minimum)


def test_stage_resumed_after_a_kill_converges_the_same_scale_set():
    ledger = staged(released("1.0.1"), "1.0.2", 10, smoke=False)
    sets = (scale_set("hello-local-1-0-1", "blue"), scale_set("hello-local-1-0-2", "green", version="1.0.2"))
    plan = P.plan_stage(facts(ledger, sets=sets, images={"1.0.2": True}), P.StageRequest("1.0.2"), settings=SETTINGS)
    assert plan.reuse and plan.remove == () and plan.color == "green"


def test_stage_points_the_staging_rule_when_it_does_not_send_to_the_idle_pool():
    plan = P.plan_stage(facts(released("1.0.1"), lb=load_balancer("pool-blue", None), images={"1.0.2": True}),
                        P.StageRequest("1.0.2"), settings=SETTINGS)
    assert plan.point_staging_rule and "point the staging rule at pool pool-green" in plan.lines()


def test_stage_refuses_a_ledger_that_disagrees_with_the_load_balancer():
    with pytest.raises(StateMismatch, match=r"the ledger says hello-local-1-0-1 \(blue\) is live but the production "
                                            r"rule sends traffic to pool-green \(green\)"):
        P.plan_stage(facts(released("1.0.1"), lb=load_balancer("pool-green", "pool-blue"), images={"1.0.2": True}),
                     P.StageRequest("1.0.2"), settings=SETTINGS)


def test_stage_refuses_a_missing_image_the_live_version_a_flexible_fleet_and_a_missing_load_balancer():
    with pytest.raises(ResourceMissing, match=r"image version 1\.0\.2 does not exist in g/hello.*invoke bake"):
        P.plan_stage(facts(released("1.0.1"), images={"1.0.2": False}), P.StageRequest("1.0.2"), settings=SETTINGS)
    with pytest.raises(NotReady, match="already live as hello-local-1-0-1"):
        P.plan_stage(facts(released("1.0.1"), images={"1.0.1": True}), P.StageRequest("1.0.1"), settings=SETTINGS)
    flexible = (scale_set("hello-local-1-0-1", "blue", mode="Flexible"),)
    with pytest.raises(NotReady, match="Flexible orchestration"):
        P.plan_stage(facts(released("1.0.1"), sets=flexible, images={"1.0.2": True}), P.StageRequest("1.0.2"),
                     settings=SETTINGS)
    gone = Facts(**{**facts(released("1.0.1")).__dict__, "load_balancer": None})
    with pytest.raises(ResourceMissing, match="load balancer lb-hello in rg: not found.*invoke infra"):
        P.plan_stage(gone, P.StageRequest("1.0.2"), settings=SETTINGS)
    with pytest.raises(ConfigError):
        P.StageRequest("not a version")


# ---------------------------------------------------------------------------------------------- promote, rollback


def test_promote_swaps_both_rules_to_the_staged_color_and_knows_the_way_back():
    ledger = staged(released("1.0.1"), "1.0.2", 10)
    plan = P.plan_promote(facts(ledger))
    assert (plan.target.name, plan.replaced.name, plan.resumed) == ("hello-local-1-0-2", "hello-local-1-0-1", False)
    assert plan.assignments == {"rule-production": "pool-green", "rule-staging": "pool-blue"}
    assert plan.back == {"rule-production": "pool-blue", "rule-staging": "pool-green"}
    assert plan.checking_rule == "rule-staging"
    assert plan.lines() == ("load balancer rule rule-production -> backend pool pool-green",
                            "load balancer rule rule-staging -> backend pool pool-blue")


def test_promote_resumed_after_a_kill_between_the_swap_and_the_record_only_verifies():
    ledger = staged(released("1.0.1"), "1.0.2", 10)
    plan = P.plan_promote(facts(ledger, lb=load_balancer("pool-green", "pool-blue")))
    assert plan.resumed and plan.assignments == {} and plan.checking_rule == "rule-production"
    assert plan.lines() == ("production already on green: verify and record",)


def test_first_promote_has_nothing_to_swap_back_to():
    plan = P.plan_promote(facts(staged(L.empty_ledger("local"), "1.0.1", 0), lb=load_balancer("pool-green", None)))
    assert plan.replaced is None and plan.back == {} and plan.target.color == "blue"


def test_promote_refuses_nothing_staged_unsmoked_and_production_on_a_foreign_pool():
    with pytest.raises(NotReady, match=r"nothing is staged in local \(hello-local-1-0-1 is live\); run `invoke stage`"):
        P.plan_promote(facts(released("1.0.1"), lb={}))   # decided before the load balancer is looked at
    with pytest.raises(NotReady, match="has not passed its smoke checks"):
        P.plan_promote(facts(staged(released("1.0.1"), "1.0.2", 10, smoke=False)))
    with pytest.raises(StateMismatch, match="neither blue nor green"):
        P.plan_promote(facts(staged(released("1.0.1"), "1.0.2", 10), lb=load_balancer("pool-red", "pool-green")))


def test_rollback_targets_the_warm_previous_fleet_or_says_there_is_none():
    ledger = released("1.0.1", "1.0.2")
    plan = P.plan_rollback(facts(ledger, lb=load_balancer("pool-green", "pool-blue")))
    assert (plan.step, plan.target.name, plan.replaced.name) == ("rollback", "hello-local-1-0-1", "hello-local-1-0-2")
    assert plan.assignments == {"rule-production": "pool-blue", "rule-staging": "pool-green"}
    with pytest.raises(NotReady, match="nothing to roll back to"):
        P.plan_rollback(facts(released("1.0.1")))


# ---------------------------------------------------------------------------------------------- smoke


def test_smoke_checks_the_staged_fleet_or_says_nothing_is_staged():
    ledger = staged(released("1.0.1"), "1.0.2", 10, smoke=False)
    assert P.plan_smoke(facts(ledger, lb={})).fleet.name == "hello-local-1-0-2"
    with pytest.raises(NotReady, match=r"nothing is staged in local; run `invoke stage --image-version X`"):
        P.plan_smoke(facts(released("1.0.1")))


def test_smoke_reaches_each_instance_by_its_nat_port_else_its_private_address_else_refuses():
    from pipeline.smoke import instance_targets

    a, b, c = vm(0, 0), vm(1, 1), vm(2, 2)
    found = instance_targets([a, b], fleet="f", color="green", frontend="203.0.113.9", backend_port=8080,
                             nat={a.ip_configuration_id.lower(): 50201},
                             private={b.ip_configuration_id.lower(): "10.0.0.5"})
    assert [(t.name, t.base_url) for t in found] == [("instance 0", "http://203.0.113.9:50201"),
                                                     ("instance 1", "http://10.0.0.5:8080")]
    with pytest.raises(NotReady, match="instance 2 of f has no port of the green inbound NAT rule"):
        instance_targets([c], fleet="f", color="green", frontend="x", backend_port=1, nat={}, private={})


# ---------------------------------------------------------------------------------------------- retire


def test_retire_takes_fleets_past_keep_warm_and_image_versions_nothing_uses():
    ledger = released("1.0.1", "1.0.2", "1.0.3", "1.0.4")   # 1.0.4 live, 1.0.3 warm, older superseded
    later = T0 + timedelta(minutes=31) + SETTINGS.keep_warm   # 1.0.3 went warm at minute 32
    sets = tuple(scale_set(f"hello-local-1-0-{n}", "blue", version=f"1.0.{n}") for n in (3, 4))
    gallery = frozenset({"1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4"})
    plan = P.plan_retire(facts(ledger, sets=sets, gallery=gallery, now=later), settings=SETTINGS)
    assert [f.name for f in plan.fleets] == ["hello-local-1-0-1", "hello-local-1-0-2"]   # not live, not rollback target
    assert plan.image_versions == ("1.0.1",)     # 1.0.2-1.0.4 are the newest 3; 1.0.0 is not in the ledger
    assert plan.lines()[-1] == "delete image version 1.0.1"


def test_retire_keeps_warm_fleets_within_keep_warm_and_versions_a_scale_set_still_runs():
    ledger = released("1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5")
    sets = (scale_set("hello-local-1-0-1", "blue", version="1.0.1"),    # retired now: its version goes too
            scale_set("hand-made", "green", version="1.0.2"))           # not in the ledger, still runs 1.0.2
    plan = P.plan_retire(facts(ledger, sets=sets, gallery=frozenset({"1.0.1", "1.0.2"}), now=T0 + timedelta(minutes=43)),
                         settings=SETTINGS)
    assert [f.name for f in plan.fleets] == ["hello-local-1-0-1", "hello-local-1-0-2", "hello-local-1-0-3"]
    assert plan.image_versions == ("1.0.1",)
    past = P.plan_retire(facts(ledger, now=T0 + timedelta(minutes=42) + SETTINGS.keep_warm), settings=SETTINGS)
    assert "hello-local-1-0-4" in [f.name for f in past.fleets]   # the warm fleet, once past keep-warm


# ---------------------------------------------------------------------------------------------- rollout


def vm(instance_id: int, domain: int, version: str = "1.0.1", *, latest: bool = True) -> Instance:
    return Instance(instance_id=str(instance_id), name=f"f_{instance_id}", computer_name=f"f{instance_id:06d}",
                    provisioning="succeeded", power="running", health="healthy", latest_model=latest,
                    update_domain=domain, ip_configuration_id=f"/x/virtualMachines/{instance_id}/ipc",
                    image_id=image_id(version))


LIVE = "hello-local-1-0-1"


def rollout_facts(ledger: L.Ledger, **kw) -> Facts:
    kw.setdefault("sets", (scale_set(LIVE, "blue", capacity=3),))
    kw.setdefault("instances", {LIVE: (vm(0, 0), vm(1, 1), vm(2, 2))})
    return facts(ledger, **kw)


def request(**kw) -> R.RolloutRequest:
    return R.RolloutRequest(**{"image_version": None, "fleet": None, "spec": R.parse_batch("ud"),
                               "max_unhealthy": 0.0, **kw})


def test_rollout_forward_plans_one_batch_per_update_domain_on_the_production_rule():
    d = R.plan_rollout(rollout_facts(released("1.0.1"), images={"1.1.0": True}), request(image_version="1.1.0"),
                       image_id_of=image_id)
    assert (d.plan.direction, d.plan.from_version, d.plan.rule, d.start_event) == (
        "forward", "1.0.1", "rule-production", "rollout_started")
    assert [b.instances for b in d.plan.batches] == [("0",), ("1",), ("2",)] and d.plan.set_model


def test_rollout_resume_after_a_kill_rechecks_the_batch_in_flight_first():
    ledger = released("1.0.1")
    batches = [{"label": f"update domain {n}", "domain": n, "instances": [str(n)]} for n in range(3)]
    ledger = L.record(ledger, ev("rollout_started", LIVE, 5, image_version="1.1.0", previous_version="1.0.1",
                                 strategy="ud", max_unhealthy=0.0, batches=batches, fleet_size=3,
                                 rule="rule-production"))
    ledger = L.record(ledger, ev("rollout_batch_started", LIVE, 6, image_version="1.1.0", batch="update domain 0",
                                 domain=0, instances=["0"], direction="forward"))
    moved = (vm(0, 0, "1.1.0"), vm(1, 1), vm(2, 2))   # the kill came after manualupgrade, before the gate
    sets = (ScaleSet({**scale_set(LIVE, "blue", capacity=3).body, "properties": {
        **scale_set(LIVE, "blue").body["properties"], "virtualMachineProfile": {"storageProfile": {
            "imageReference": {"id": image_id("1.1.0")}}}}}),)
    d = R.plan_rollout(rollout_facts(ledger, sets=sets, instances={LIVE: moved}), request(resume=True),
                       image_id_of=image_id)
    assert d.plan.resumed and d.start_event is None and not d.plan.set_model
    assert [b.label for b in d.plan.batches] == ["update domain 0", "update domain 1", "update domain 2"]
    with pytest.raises(NotReady, match="rollout_started|--resume"):
        R.plan_rollout(rollout_facts(ledger, sets=sets, instances={LIVE: moved}, images={"1.2.0": True}),
                       request(image_version="1.2.0"), image_id_of=image_id)


def test_rollout_refusals_from_facts():
    ledger = released("1.0.1")
    with pytest.raises(NotReady, match="nothing to roll back on"):
        R.plan_rollout(rollout_facts(ledger), request(rollback=True), image_id_of=image_id)
    with pytest.raises(NotReady, match="nothing to resume on"):
        R.plan_rollout(rollout_facts(ledger), request(resume=True), image_id_of=image_id)
    with pytest.raises(NotReady, match="nothing is live in local"):
        R.plan_rollout(rollout_facts(L.empty_ledger("local")), request(image_version="1.1.0"), image_id_of=image_id)
    with pytest.raises(ResourceMissing, match="scale set hello-local-1-0-1 does not exist"):
        R.plan_rollout(rollout_facts(ledger, sets=()), request(image_version="1.1.0"), image_id_of=image_id)
    with pytest.raises(NotReady, match="upgrade policy Automatic"):
        R.plan_rollout(rollout_facts(ledger, sets=(scale_set(LIVE, "blue", upgrade="Automatic"),)),
                       request(image_version="1.1.0"), image_id_of=image_id)
    with pytest.raises(StateMismatch, match="before rolling out"):
        R.plan_rollout(rollout_facts(ledger, lb=load_balancer("pool-green", "pool-blue"), images={"1.1.0": True}),
                       request(image_version="1.1.0"), image_id_of=image_id)
    with pytest.raises(ResourceMissing, match=r"image version 1\.1\.0 does not exist in g/hello"):
        R.plan_rollout(rollout_facts(ledger, images={"1.1.0": False}), request(image_version="1.1.0"),
                       image_id_of=image_id)
    with pytest.raises(ConfigError, match="give the image version"):
        R.plan_rollout(rollout_facts(ledger), request(), image_id_of=image_id)


def test_the_pure_layer_loads_no_azure_module():
    import subprocess
    import sys

    code = ("import sys; import pipeline.facts, pipeline.plans, pipeline.rollout, pipeline.health, pipeline.bluegreen, "
            "pipeline.ledger, pipeline.fleet; "
            "print(sorted(m for m in sys.modules if m == 'azure' or m.startswith(('azure.', 'pipeline.azure', "
            "'pipeline.steps'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

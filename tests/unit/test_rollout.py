"""The in-place rollout, the pure part: batches and their order, the gate, the threshold, the ledger fold."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipeline import ledger as L
from pipeline import rollout as R
from pipeline.facts import Instance
from pipeline.errors import ConfigError

OLD = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/app/versions/1.0.0"
NEW = OLD.replace("1.0.0", "1.1.0")
T0 = datetime(2025, 1, 1, 10, 0, tzinfo=timezone.utc)


def vm(instance_id: int, domain: int, *, image: str = OLD, latest: bool = False, health: str = "healthy",
       provisioning: str = "succeeded", power: str = "running") -> Instance:
    return Instance(instance_id=str(instance_id), name=f"f_{instance_id}", computer_name=f"f{instance_id:06d}",
                    provisioning=provisioning, power=power, health=health, latest_model=latest,
                    update_domain=domain, ip_configuration_id=f"/x/virtualMachines/{instance_id}/ipc", image_id=image)


def up(*instances: Instance) -> frozenset[str]:
    return frozenset(i.ip_configuration_id.lower() for i in instances)


FLEET = [vm(0, 0), vm(3, 1), vm(4, 2), vm(7, 3), vm(9, 4), vm(11, 0), vm(12, 1)]


# ---------------------------------------------------------------------------------------------- batches


def test_parse_batch():
    assert R.parse_batch("ud") == R.BatchSpec("ud")
    assert R.parse_batch("percent:25") == R.BatchSpec("percent", 25)
    assert R.parse_batch(" Percent:40% ").text == "percent:40"
    for bad in ("", "percent", "percent:0", "percent:101", "half", "percent:x"):
        with pytest.raises(ConfigError, match="--batch"):
            R.parse_batch(bad)
    assert R.check_max_unhealthy("0.2") == 0.2 and R.check_pause("30") == 30.0
    for bad in (1.5, -0.1, "lots"):
        with pytest.raises(ConfigError, match="--max-unhealthy"):
            R.check_max_unhealthy(bad)
    with pytest.raises(ConfigError, match="--pause"):
        R.check_pause("-1")


def test_ud_batches_are_whole_domains_in_domain_order():
    batches = R.plan_batches(reversed(FLEET), image_id=NEW, spec=R.parse_batch("ud"))
    assert [(b.label, b.domain, b.instances) for b in batches] == [
        ("update domain 0", 0, ("0", "11")), ("update domain 1", 1, ("3", "12")), ("update domain 2", 2, ("4",)),
        ("update domain 3", 3, ("7",)), ("update domain 4", 4, ("9",))]


def test_instances_already_on_the_target_are_not_planned():
    fleet = [vm(0, 0, image=NEW, latest=True), vm(11, 0, image=NEW, latest=True), *FLEET[1:5], FLEET[6]]
    batches = R.plan_batches(fleet, image_id=NEW, spec=R.parse_batch("ud"))
    assert [b.domain for b in batches] == [1, 2, 3, 4]
    assert R.plan_batches([vm(0, 0, image=NEW)], image_id=NEW, spec=R.parse_batch("ud")) == ()


def test_percentage_batches_follow_domain_order_and_round_up():
    batches = R.plan_batches(FLEET, image_id=NEW, spec=R.parse_batch("percent:25"), fleet_size=7)  # ceil(1.75)=2
    assert [b.instances for b in batches] == [("0", "11"), ("3", "12"), ("4", "7"), ("9",)]
    assert [b.label for b in batches] == ["batch 1", "batch 2", "batch 3", "batch 4"]
    assert [b.domain for b in batches] == [0, 1, None, 4]


def test_a_rollback_starts_with_the_last_domain():
    fleet = [vm(0, 0, image=NEW, latest=True), vm(3, 1, image=NEW, latest=True), vm(4, 2)]
    batches = R.plan_batches(fleet, image_id=OLD, spec=R.parse_batch("ud"), reverse=True)
    assert [b.domain for b in batches] == [1, 0]


def state(**changes) -> L.RolloutState:
    base = dict(fleet="f", image_version="1.1.0", previous_version="1.0.0", direction="forward", status="running",
                strategy="ud", max_unhealthy=0.0, batches=(), done=("update domain 0",), upgraded=("0", "11"),
                current=L.RolloutBatch("update domain 1", 1, ("3", "12")), reason=None, started_at=T0, updated_at=T0)
    base.update(changes)
    return L.RolloutState(**base)


def test_resume_rechecks_the_batch_in_flight_first_even_when_it_reads_upgraded():
    fleet = [vm(0, 0, image=NEW, latest=True), vm(11, 0, image=NEW, latest=True),
             vm(3, 1, image=NEW, latest=True), vm(12, 1, image=NEW, latest=True), *FLEET[2:5]]
    batches = R.resume_batches(state(), fleet, image_id=NEW, spec=R.parse_batch("ud"), fleet_size=7)
    assert [(b.label, b.instances) for b in batches] == [
        ("update domain 1", ("3", "12")), ("update domain 2", ("4",)), ("update domain 3", ("7",)),
        ("update domain 4", ("9",))]


def test_resume_drops_instances_that_are_gone_and_keeps_counting_percentage_batches():
    s = state(strategy="percent:30", done=("batch 1",), current=L.RolloutBatch("batch 2", None, ("3", "99")))
    fleet = [vm(0, 0, image=NEW, latest=True), vm(3, 1), vm(4, 2), vm(7, 3)]
    batches = R.resume_batches(s, fleet, image_id=NEW, spec=R.parse_batch("percent:30"), fleet_size=4)
    assert [(b.label, b.instances) for b in batches] == [("batch 2", ("3",)), ("batch 3", ("4", "7"))]


# ---------------------------------------------------------------------------------------------- gate and threshold


def test_the_gate_needs_the_target_image_latest_model_health_and_the_probe():
    batch = L.RolloutBatch("update domain 0", 0, ("0", "11"))
    done = [vm(0, 0, image=NEW, latest=True), vm(11, 0, image=NEW, latest=True)]
    assert R.gate(batch, done, image_id=NEW, probe_up=up(*done)).passed
    not_latest = [done[0], vm(11, 0, image=NEW, latest=False)]
    assert not R.gate(batch, not_latest, image_id=NEW, probe_up=up(*not_latest)).passed
    probe_down = R.gate(batch, done, image_id=NEW, probe_up=up(done[0]))
    assert not probe_down.passed and not probe_down.final and [i.instance_id for i in probe_down.waiting] == ["11"]
    sick = [done[0], vm(11, 0, image=NEW, latest=True, health="unhealthy")]
    assert not R.gate(batch, sick, image_id=NEW, probe_up=up(*sick)).passed


def test_the_gate_fails_for_good_on_failed_provisioning_or_a_vanished_instance():
    batch = L.RolloutBatch("update domain 0", 0, ("0", "11"))
    failed = [vm(0, 0, image=NEW, latest=True), vm(11, 0, image=NEW, latest=True, provisioning="failed")]
    assert R.gate(batch, failed, image_id=NEW, probe_up=up(*failed)).final
    gone = R.gate(batch, failed[:1], image_id=NEW, probe_up=up(*failed))
    assert gone.final and gone.missing == ("11",)


def test_threshold_is_a_share_of_the_fleet_and_halts_only_above_it():
    assert not R.over_threshold(0, fleet_size=5, max_unhealthy=0.0)
    assert R.over_threshold(1, fleet_size=5, max_unhealthy=0.0)
    assert not R.over_threshold(1, fleet_size=5, max_unhealthy=0.2)
    assert R.over_threshold(2, fleet_size=5, max_unhealthy=0.2)
    assert not R.over_threshold(5, fleet_size=5, max_unhealthy=1.0)


def test_a_dead_instance_in_a_later_domain_counts_outside_the_batch():
    """The documented behaviour: with 0% allowed the rollout halts before taking another domain down; with 20%
    (1 of 5) it goes on, and the dead instance is re-created when its own domain is upgraded."""
    dead = vm(9, 4, power="stopped", health="unhealthy")
    fleet = [vm(0, 0, image=NEW, latest=True), vm(3, 1), vm(4, 2), vm(7, 3), dead]
    probe = up(*fleet[:4])
    elsewhere = R.unhealthy(fleet, probe, exclude={"3"})
    assert [i.instance_id for i in elsewhere] == ["9"]
    assert R.over_threshold(len(elsewhere), fleet_size=5, max_unhealthy=0.0)
    assert not R.over_threshold(len(elsewhere), fleet_size=5, max_unhealthy=0.2)
    batches = R.plan_batches(fleet, image_id=NEW, spec=R.parse_batch("ud"))
    assert batches[-1].instances == ("9",)


# ---------------------------------------------------------------------------------------------- the ledger fold


def ev(event: str, minutes: int, fleet: str = "hello-1", **kw) -> L.Event:
    return L.new_event(event, fleet=fleet, who="alice@laptop", at=T0 + timedelta(minutes=minutes), **kw)


def released() -> L.Ledger:
    ledger = L.record(L.empty_ledger("local"), ev("staged", 0, image_version="1.0.0", color="blue"))
    ledger = L.record(ledger, ev("smoke_passed", 1))
    return L.record(ledger, ev("promoted", 2))


BATCHES = [{"label": f"update domain {d}", "domain": d, "instances": [str(d)]} for d in range(3)]


def batch(kind: str, minutes: int, d: int, **kw) -> L.Event:
    return ev(kind, minutes, batch=f"update domain {d}", domain=d, instances=[str(d)], **kw)


def test_fold_follows_a_rollout_to_its_end_without_touching_the_fleet_view():
    ledger = released()
    view = (ledger.fleets, ledger.live, ledger.previous, ledger.staged)
    assert L.rollout_state(ledger, "hello-1") is None
    ledger = L.record(ledger, ev("rollout_started", 10, image_version="1.1.0", previous_version="1.0.0",
                                 strategy="ud", max_unhealthy=0.2, batches=BATCHES))
    ledger = L.record(ledger, batch("rollout_batch_started", 11, 0))
    s = L.rollout_state(ledger, "hello-1")
    assert (s.status, s.current.label, s.done, s.max_unhealthy) == ("running", "update domain 0", (), 0.2)
    ledger = L.record(ledger, batch("rollout_batch_done", 12, 0))
    ledger = L.record(ledger, batch("rollout_batch_started", 13, 1))
    s = L.rollout_state(ledger)
    assert s.current.label == "update domain 1" and s.done == ("update domain 0",) and s.upgraded == ("0",)
    assert s.unfinished and "running at update domain 1, 1/3 batches done" in s.describe()
    assert L.running_image_version(ledger, "hello-1") == "1.1.0"
    for n, d in enumerate((1, 2)):
        if d == 2:
            ledger = L.record(ledger, batch("rollout_batch_started", 14, 2))
        ledger = L.record(ledger, batch("rollout_batch_done", 15 + n, d))
    ledger = L.record(ledger, ev("rollout_finished", 20, image_version="1.1.0"))
    s = L.rollout_state(ledger, "hello-1")
    assert (s.status, s.current, len(s.done), s.unfinished) == ("finished", None, 3, False)
    assert (ledger.fleets, ledger.live, ledger.previous, ledger.staged) == view
    again = L.from_json(L.to_json(ledger))
    assert L.rollout_state(again, "hello-1") == s


def test_fold_of_a_halt_and_a_rollback():
    ledger = released()
    ledger = L.record(ledger, ev("rollout_started", 10, image_version="1.2.0", previous_version="1.0.0",
                                 strategy="ud", max_unhealthy=0.0, batches=BATCHES))
    ledger = L.record(ledger, batch("rollout_batch_started", 11, 0))
    ledger = L.record(ledger, batch("rollout_halted", 12, 0, reason="not healthy within 8s", unhealthy=["0"]))
    s = L.rollout_state(ledger, "hello-1")
    assert (s.status, s.current.domain, s.reason) == ("halted", 0, "not healthy within 8s")
    assert "halted at update domain 0" in s.describe()
    ledger = L.record(ledger, ev("rollout_resumed", 13, image_version="1.2.0"))
    assert L.rollout_state(ledger).status == "running" and L.rollout_state(ledger).resumes == 1
    ledger = L.record(ledger, ev("rollout_rollback_started", 14, image_version="1.2.0", batches=BATCHES[:1]))
    s = L.rollout_state(ledger)
    assert (s.direction, s.status, s.done, s.moving_to) == ("rollback", "running", (), "1.0.0")
    ledger = L.record(ledger, batch("rollout_batch_done", 15, 0))
    ledger = L.record(ledger, ev("rollout_rolled_back", 16, image_version="1.0.0"))
    s = L.rollout_state(ledger)
    assert (s.status, s.unfinished) == ("rolled_back", False)
    assert L.running_image_version(ledger, "hello-1") == "1.0.0"


def test_rollout_events_are_checked_and_other_fleets_are_apart():
    with pytest.raises(ValueError, match="previous_version"):
        L.record(released(), ev("rollout_started", 10, image_version="1.1.0"))
    with pytest.raises(ValueError, match="batch"):
        L.record(released(), ev("rollout_batch_done", 10))
    ledger = L.record(released(), ev("rollout_started", 10, image_version="1.1.0", previous_version="1.0.0"))
    assert L.rollout_state(ledger, "other") is None
    orphan = L.record(released(), ev("rollout_finished", 10))  # progress without a start folds to nothing
    assert L.rollout_state(orphan, "hello-1") is None


def test_retire_keeps_the_image_versions_a_rollout_put_on_a_fleet():
    ledger = released()
    for n, version in enumerate(("1.1.0", "1.2.0", "1.3.0")):
        ledger = L.record(ledger, ev("note", 3 + n, image_version=version, note="baked"))
    assert L.image_versions_to_delete(ledger, keep=1) == ("1.1.0", "1.2.0")
    ledger = L.record(ledger, ev("rollout_started", 10, image_version="1.1.0", previous_version="1.0.0"))
    ledger = L.record(ledger, ev("rollout_finished", 11, image_version="1.1.0"))
    assert L.image_versions_to_delete(ledger, keep=1) == ("1.2.0",)

"""`invoke rollout`: move a fleet to another image in place, one update domain (or percentage batch) at a time.

Facts first (ledger, load balancer, the scale set and its instances), then the plan (pipeline/rollout.py),
then the changes: record the start, point the scale set model at the image (upgrade policy Manual), and per
batch: check the unhealthy share outside it, record the batch, manualupgrade exactly its instances, wait at
the health gate (provisioned, latest model, Application Health healthy, Up behind the rule that serves the
fleet), record it done, pause. Only one batch is ever out of service.

Stopping: over the unhealthy threshold the rollout records `rollout_halted` and raises RolloutHalted (exit
12) with the instances, their health and their boot log tail; nothing else is touched. The ledger holds the
progress, so `resume=True` continues a halted or killed rollout (re-checking the batch that was in flight),
and `rollback=True` takes the upgraded domains back to the previous image the same way, domain by domain.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from tenacity import RetryError

from pipeline import health
from pipeline import rollout as plans
from pipeline.azure import compute, network
from pipeline.errors import NotReady, RolloutHalted, Throttled
from pipeline.facts import Instance
from pipeline.ledger import RolloutBatch
from pipeline import retry  # noqa: I001 - every wait goes through it
from pipeline.steps.context import Context
from pipeline.steps.facts import read_facts, with_instances

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class BatchOutcome:
    label: str
    instances: tuple[str, ...]
    seconds: float
    upgraded: tuple[str, ...]  # the ones manualupgrade was called for (fewer on a resume)
    tolerated: tuple[str, ...] = ()  # unhealthy but within the threshold

    def to_json(self) -> dict:
        return {"batch": self.label, "instances": list(self.instances), "seconds": round(self.seconds, 2),
                "upgraded": list(self.upgraded), "tolerated_unhealthy": list(self.tolerated)}


@dataclass(frozen=True)
class RolloutResult:
    plan: plans.RolloutPlan
    dry_run: bool
    batches: tuple[BatchOutcome, ...] = ()
    seconds: float = 0.0
    unhealthy: tuple[str, ...] = field(default=())  # at the end, within the threshold
    state: str = ""  # the ledger's rollout status afterwards

    @property
    def summary(self) -> str:
        p = self.plan
        if self.dry_run:
            return "dry run: " + "; ".join(p.lines())
        if not p.batches:
            return f"{p.fleet} already runs {p.image_version} on every instance: nothing to do"
        verb = "rolled back" if p.direction == "rollback" else "rolled out"
        tail = f"; unhealthy within the threshold: {', '.join(self.unhealthy)}" if self.unhealthy else ""
        return (f"{verb} {p.fleet} to {p.image_version} in {len(self.batches)} batches "
                f"({sum(len(b.instances) for b in self.batches)} instances) in {self.seconds:.0f}s{tail}")

    def lines(self) -> list[str]:
        if self.dry_run:
            return ["dry run:", *self.plan.lines()]
        out = [f"{b.label:16} {len(b.instances)} instances ({', '.join(b.instances)}) {b.seconds:6.1f}s"
               for b in self.batches]
        return [*out, self.summary]

    def to_json(self) -> dict:
        return {"step": "rollout", "dry_run": self.dry_run, **self.plan.to_json(), "plan": self.plan.lines(),
                "done": [b.to_json() for b in self.batches], "seconds": round(self.seconds, 2),
                "unhealthy": list(self.unhealthy), "state": self.state}


def _probe_up(ctx: Context, rule: str, instances) -> frozenset[str]:
    return health.probe_up(instances, network.rule_health(ctx.clients, rule))


# ---------------------------------------------------------------------------------------------- acting


def _details(ctx: Context, fleet: str, bad: tuple[Instance, ...], probe_up: frozenset[str]) -> list[str]:
    lines = []
    for i in bad:
        probe = "Up" if i.ip_configuration_id.lower() in probe_up else "Down"
        lines.append(f"{i.describe()}, update domain {i.update_domain}, image {plans.version_of(i.image_id)}"
                     f"{'' if i.latest_model else ' (not the latest model)'}, load balancer probe {probe}")
        tail = compute.boot_log_tail(ctx.clients, fleet, i.instance_id)
        lines.extend(f"    | {line}" for line in tail.splitlines())
    return lines


def _halt(ctx: Context, plan: plans.RolloutPlan, batch: RolloutBatch | None, bad: tuple[Instance, ...],
          probe_up: frozenset[str], *, why: str, missing: tuple[str, ...] = ()) -> RolloutHalted:
    names = [i.instance_id for i in bad] + list(missing)
    share = len(names) / max(1, plan.fleet_size)
    where = batch.label if batch else "the start"
    ctx.record("rollout_halted", fleet=plan.fleet, image_version=plan.image_version,
               batch=batch.label if batch else None, domain=batch.domain if batch else None,
               instances=list(batch.instances) if batch else [], unhealthy=names, reason=why)
    verb = "rollback" if plan.direction == "rollback" else "rollout"
    hint = ("fix what stops those instances, then `invoke rollout --rollback --resume`" if plan.direction == "rollback"
            else "`invoke rollout --rollback` returns the upgraded domains to the previous image; "
                 "`invoke rollout --resume` retries once fixed")
    details = _details(ctx, plan.fleet, bad, probe_up) + [f"instance {m}: gone from the scale set" for m in missing]
    return RolloutHalted(
        f"{verb} of {plan.fleet} to {plan.image_version} halted at {where}: {why} ({len(names)}/{plan.fleet_size} "
        f"unhealthy = {share:.0%}, allowed {plan.max_unhealthy:.0%}: {', '.join(names) or 'none'}); {hint}",
        details=details)


def _preflight(ctx: Context, plan: plans.RolloutPlan, facts: plans.RolloutDecision) -> None:
    """Before anything changes: a fleet already too unhealthy to take the first batch down is not touched."""
    probe_up = _probe_up(ctx, plan.rule, facts.instances)
    elsewhere = plans.unhealthy(facts.instances, probe_up, exclude=plan.batches[0].instances)
    if plans.over_threshold(len(elsewhere), fleet_size=plan.fleet_size, max_unhealthy=plan.max_unhealthy):
        raise NotReady(f"{plan.fleet} already has {len(elsewhere)} unhealthy instances outside "
                       f"{plan.batches[0].label} ({', '.join(i.instance_id for i in elsewhere)}), more than "
                       f"--max-unhealthy {plan.max_unhealthy:.0%} allows; nothing was changed: repair them (or allow "
                       f"more) and run again", details=[i.describe() for i in elsewhere])


def _run_batch(ctx: Context, plan: plans.RolloutPlan, batch: RolloutBatch, *, image_id: str, timeout_s: float,
               progress: Callable[[str], None], sleep: Callable[[float], None],
               clock: Callable[[], float] = time.monotonic) -> BatchOutcome:
    c = ctx.clients
    scale_set_id = ctx.ids.scale_set(plan.fleet)
    started = clock()
    instances = compute.instances(c, plan.fleet, scale_set_id)
    probe_up = _probe_up(ctx, plan.rule, instances)
    # Before: the instances outside this batch that are already out of service.
    pending_rollback = set()
    if plan.direction == "rollback":
        pending_rollback = {i.instance_id for i in instances if not plans.same_image(i.image_id, image_id)}
    elsewhere = plans.unhealthy(instances, probe_up, exclude=set(batch.instances) | pending_rollback)
    if plans.over_threshold(len(elsewhere), fleet_size=plan.fleet_size, max_unhealthy=plan.max_unhealthy):
        raise _halt(ctx, plan, batch, elsewhere, probe_up,
                    why=f"instances outside {batch.label} are unhealthy, taking it down would exceed the threshold")
    by_id = {i.instance_id: i for i in instances}
    to_upgrade = [i for i in batch.instances if i in by_id and not plans.is_on(by_id[i], image_id)]
    ctx.record("rollout_batch_started", fleet=plan.fleet, image_version=plan.image_version, batch=batch.label,
               domain=batch.domain, instances=list(batch.instances), direction=plan.direction)
    if to_upgrade:
        progress(f"{batch.label}: manualupgrade {', '.join(to_upgrade)}")
        compute.manual_upgrade(c, plan.fleet, to_upgrade, sleep=sleep)
    else:
        progress(f"{batch.label}: already upgraded; checking health")
    seen: dict = {"last": None, "shown": "", "instances": instances, "probe_up": probe_up}

    def gate_passed() -> bool:
        """One read of the batch's instances: done when its gate passed or can no longer pass."""
        try:
            current = compute.instances(c, plan.fleet, scale_set_id, sdk_retries_on_429=False)
        except Throttled:   # polled again after its Retry-After, within the batch's timeout
            progress(f"{batch.label}: instance views throttled; waiting")
            raise
        up = _probe_up(ctx, plan.rule, current)
        gate = plans.gate(batch, current, image_id=image_id, probe_up=up)
        seen.update(last=gate, instances=current, probe_up=up)
        text = gate.describe(len(batch.instances))
        if text != seen["shown"]:
            progress(f"{batch.label}: {text} ({clock() - started:.0f}s)")
            seen["shown"] = text
        return gate.passed or gate.final

    try:
        retry.poll_until(timeout_s=max(0.0, timeout_s - (clock() - started)),
                         interval_s=ctx.settings.fleet.poll_interval_s,
                         throttled=lambda err: isinstance(err, Throttled), sleep=sleep, clock=clock)(gate_passed)
    except RetryError as err:   # out of time: judged on the last read below
        if seen["last"] is None:   # never read: say it was throttling (exit 3), not an unhealthy batch
            throttled = err.last_attempt.exception()
            raise throttled
    last: plans.Gate = seen["last"]
    instances, probe_up = seen["instances"], seen["probe_up"]
    # After: every instance of the fleet counts.
    bad = plans.unhealthy(instances, probe_up)
    bad_ids = tuple(i.instance_id for i in bad) + last.missing
    if plans.over_threshold(len(bad_ids), fleet_size=plan.fleet_size, max_unhealthy=plan.max_unhealthy):
        why = ("its instances did not become healthy within "
               f"{timeout_s:.0f}s" if not last.final else "an instance failed to provision or disappeared")
        raise _halt(ctx, plan, batch, bad, probe_up, why=why, missing=last.missing)
    if bad_ids:
        progress(f"{batch.label}: unhealthy but within the {plan.max_unhealthy:.0%} threshold: {', '.join(bad_ids)}")
    ctx.record("rollout_batch_done", fleet=plan.fleet, image_version=plan.image_version, batch=batch.label,
               domain=batch.domain, instances=[i for i in batch.instances if i not in last.missing],
               unhealthy=list(bad_ids), direction=plan.direction)
    return BatchOutcome(batch.label, batch.instances, clock() - started, tuple(to_upgrade), bad_ids)


def rollout(ctx: Context, *, image_version: str | None = None, fleet: str | None = None, batch: str = "ud",
            max_unhealthy: float | str = 0.0, pause_s: float | str = 0.0, resume: bool = False, rollback: bool = False,
            batch_timeout_s: float | None = None, progress: Callable[[str], None] = log.info,
            sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> RolloutResult:
    """Move `fleet` (default: the live one) to `image_version` in place, batch by batch, health-gated.

    `batch`: "ud" (one update domain at a time) or "percent:N". `max_unhealthy`: the share of the fleet that
    may be unhealthy before the rollout halts (0.0: any). `batch_timeout_s`: how long a batch may take to pass
    its gate (default: timeouts.stage_health). Raises RolloutHalted, NotReady, ConfigError, ResourceMissing.
    """
    spec = plans.parse_batch(batch)
    threshold = plans.check_max_unhealthy(max_unhealthy)
    pause_s = plans.check_pause(pause_s)
    timeout_s = batch_timeout_s if batch_timeout_s is not None else ctx.settings.timeouts.stage_health.total_seconds()
    started = time.monotonic()
    request = plans.RolloutRequest(image_version=image_version, fleet=fleet, spec=spec, max_unhealthy=threshold,
                                   resume=resume, rollback=rollback)
    with ctx.lock("rollout") as lock:
        forward = image_version if not (resume or rollback) else None
        facts = read_facts(ctx, scale_sets=True, image_versions=(forward,) if forward else ())
        facts = with_instances(ctx, facts, (plans.pick_fleet(facts.ledger, fleet).name,))
        s = ctx.settings
        decision = plans.plan_rollout(facts, request, image_id_of=lambda v: ctx.ids.gallery_image_version(
            s.image.gallery, s.image.definition, v))
        state = decision.state
        plan = decision.plan
        for line in plan.lines():
            progress(("would " if ctx.dry_run else "") + line)
        if ctx.dry_run:
            return RolloutResult(plan, True)
        if decision.nothing_to_do:
            return RolloutResult(plan, False, state=state.status if state else "")
        if decision.start_event == "rollout_started" and plan.batches:
            _preflight(ctx, plan, decision)
        if decision.start_event == "rollout_started":
            ctx.record("rollout_started", fleet=plan.fleet, image_version=plan.image_version,
                       previous_version=plan.from_version, strategy=plan.strategy, max_unhealthy=plan.max_unhealthy,
                       batches=[b.to_json() for b in plan.batches], fleet_size=plan.fleet_size, rule=plan.rule)
        elif decision.start_event == "rollout_rollback_started":
            ctx.record("rollout_rollback_started", fleet=plan.fleet, image_version=plan.from_version,
                       batches=[b.to_json() for b in plan.batches])
        else:
            ctx.record("rollout_resumed", fleet=plan.fleet, image_version=plan.from_version
                       if plan.direction == "rollback" else plan.image_version, direction=plan.direction,
                       batches=[b.to_json() for b in plan.batches])
        if plan.set_model:
            progress(f"setting the model of {plan.fleet} to image {plan.image_version}")
            compute.set_image(ctx.clients, plan.fleet, decision.image_id, sleep=sleep)
        done: list[BatchOutcome] = []
        for n, b in enumerate(plan.batches):
            if lock is not None:
                lock.check()
            if n and pause_s:
                progress(f"pausing {pause_s:.0f}s before {b.label}")
                retry.pause(pause_s, sleep=sleep)
            done.append(_run_batch(ctx, plan, b, image_id=decision.image_id, timeout_s=timeout_s, progress=progress,
                                   sleep=sleep, clock=clock))
        instances = compute.instances(ctx.clients, plan.fleet, ctx.ids.scale_set(plan.fleet))
        probe_up = _probe_up(ctx, plan.rule, instances)
        bad = plans.unhealthy(instances, probe_up)
        if plans.over_threshold(len(bad), fleet_size=plan.fleet_size, max_unhealthy=plan.max_unhealthy):
            raise _halt(ctx, plan, None, bad, probe_up, why="the fleet is unhealthy after the last batch")
        finish = "rollout_rolled_back" if plan.direction == "rollback" else "rollout_finished"
        ctx.record(finish, fleet=plan.fleet, image_version=plan.image_version,
                   unhealthy=[i.instance_id for i in bad])
    return RolloutResult(plan, False, tuple(done), time.monotonic() - started, tuple(i.instance_id for i in bad),
                         "rolled_back" if plan.direction == "rollback" else "finished")

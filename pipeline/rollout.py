"""In-place rolling image update, the pure part: batches, their order, the health gate and the halt decision.

No I/O here: facts (pipeline/facts.py: the ledger, the scale set, its instances, the load balancer) come in,
plans and decisions go out (`plan_rollout`). pipeline/steps/rollout.py reads the facts, asks, and acts.

Batches
    "ud"          one batch per update domain, in domain order (0, 1, 2, ...): exactly that domain's instances.
    "percent:N"   batches of ceil(N% of the fleet) instances, taken in update-domain order, so a batch never
                  holds a later domain's instance before an earlier domain is complete.
Only instances that still need the target image are planned. An instance "is on" an image when its applied
model's imageReference is that image version AND it runs the scale set's latest model (latestModelApplied).

The gate (per batch)
    An instance passes when it is on the target image, provisioned (succeeded), running, healthy in its
    Application Health extension status, and Up behind the load balancer rule that serves its fleet.
    Provisioning `failed` is final: no need to wait for the timeout.

The unhealthy share
    unhealthy instances / the fleet's capacity. The rollout halts when it is ABOVE `max_unhealthy`:
    - before a batch starts: counting the instances outside the batch (taking the batch down on top of them
      would put more than one batch out of service);
    - after a batch's gate (passed or timed out): counting every instance of the fleet.
    During a rollback the instances still waiting to be rolled back do not count before their batch: repairing
    them is the point of the rollback.
    A dead instance in a domain not yet upgraded counts as unhealthy; within the threshold the rollout goes on
    and its domain's manualupgrade re-creates it on the new image. Over it, the rollout halts before touching
    another domain.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from typing import Callable

from pipeline import naming
from pipeline.errors import ConfigError, NotReady, ResourceMissing
from pipeline.facts import Facts, Instance
from pipeline.fleet import require_uniform
from pipeline.ledger import Fleet, Ledger, RolloutBatch, RolloutState, live_fleet, rollout_state

__all__ = ["BatchSpec", "Gate", "RolloutDecision", "RolloutPlan", "RolloutRequest", "gate", "pick_fleet",
           "plan_rollout", "version_of", "in_service", "is_on", "over_threshold", "parse_batch",
           "plan_batches", "resume_batches", "same_image", "unhealthy"]


@dataclass(frozen=True)
class BatchSpec:
    kind: str  # "ud" | "percent"
    percent: int = 0

    @property
    def text(self) -> str:
        return "ud" if self.kind == "ud" else f"percent:{self.percent}"


def parse_batch(text: str) -> BatchSpec:
    """`ud` or `percent:N` (1 <= N <= 100). Raises ConfigError."""
    raw = (text or "").strip().lower()
    if raw in ("ud", "update-domain", "domain"):
        return BatchSpec("ud")
    kind, _, value = raw.partition(":")
    if kind == "percent" and value.strip().rstrip("%").isdigit():
        percent = int(value.strip().rstrip("%"))
        if 1 <= percent <= 100:
            return BatchSpec("percent", percent)
    raise ConfigError(f"--batch {text!r} is not `ud` or `percent:N` with N from 1 to 100; write e.g. --batch ud "
                      f"or --batch percent:25")


def check_max_unhealthy(value: float | str) -> float:
    """A share from 0.0 to 1.0 (a flag's text is accepted). Raises ConfigError."""
    try:
        share = float(value)
    except (TypeError, ValueError):
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise ConfigError(f"--max-unhealthy {value} is not a share between 0.0 and 1.0; write e.g. 0.2 for 20%")
    return share


def check_pause(value: float | str) -> float:
    """Seconds between batches, >= 0 (a flag's text is accepted). Raises ConfigError."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if seconds < 0:
        raise ConfigError(f"--pause {value} is not a number of seconds >= 0; write e.g. --pause 30")
    return seconds


def same_image(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and a.rstrip("/").lower() == b.rstrip("/").lower()


def is_on(instance: Instance, image_id: str) -> bool:
    """Its applied model points at `image_id` and is the scale set's latest model."""
    return same_image(instance.image_id, image_id) and instance.latest_model


def in_service(instance: Instance, probe_up: frozenset[str]) -> bool:
    return instance.ready and instance.ip_configuration_id.lower() in probe_up


def _domain_key(instance: Instance) -> tuple[int, int]:
    domain = instance.update_domain if instance.update_domain is not None else 1 << 30
    return domain, int(instance.instance_id)


def plan_batches(instances: Iterable[Instance], *, image_id: str, spec: BatchSpec, fleet_size: int | None = None,
                 exclude: Iterable[str] = (), reverse: bool = False, first_number: int = 1) -> tuple[RolloutBatch, ...]:
    """Batches of the instances not yet on `image_id` (minus `exclude`), in update-domain order.

    `reverse`: last domain first (a rollback undoes the most recent domain, where a rollout halted, first).
    `first_number`: the number of the first percentage batch (a resumed rollout keeps counting).
    """
    skip = set(exclude)
    pending = sorted((i for i in instances if i.instance_id not in skip and not same_image(i.image_id, image_id)),
                     key=_domain_key)
    if reverse:
        pending.sort(key=lambda i: (-_domain_key(i)[0], _domain_key(i)[1]))
    if spec.kind == "ud":
        groups: dict[int | None, list[str]] = {}
        for instance in pending:
            groups.setdefault(instance.update_domain, []).append(instance.instance_id)
        return tuple(RolloutBatch(f"update domain {d}" if d is not None else "no update domain", d, tuple(ids))
                     for d, ids in groups.items())
    size = max(1, math.ceil((fleet_size or len(pending) or 1) * spec.percent / 100))
    out = []
    for n, start in enumerate(range(0, len(pending), size), start=first_number):
        chunk = pending[start:start + size]
        domains = {i.update_domain for i in chunk}
        out.append(RolloutBatch(f"batch {n}", domains.pop() if len(domains) == 1 else None,
                                tuple(i.instance_id for i in chunk)))
    return tuple(out)


def resume_batches(state: RolloutState, instances: Sequence[Instance], *, image_id: str, spec: BatchSpec,
                   fleet_size: int, reverse: bool = False) -> tuple[RolloutBatch, ...]:
    """Where a stopped rollout continues: the batch in flight (or halted) first, re-checked even when its
    instances already read as upgraded (the kill may have come before their gate), then the rest by facts."""
    existing = {i.instance_id for i in instances}
    first: tuple[RolloutBatch, ...] = ()
    if state.current is not None:
        kept = tuple(i for i in state.current.instances if i in existing)
        if kept:
            first = (RolloutBatch(state.current.label, state.current.domain, kept),)
    taken = {i for b in first for i in b.instances}
    numbers = [int(label.split()[-1]) for label in (*state.done, *(b.label for b in first))
               if label.startswith("batch ") and label.split()[-1].isdigit()]
    return first + plan_batches(instances, image_id=image_id, spec=spec, fleet_size=fleet_size, exclude=taken,
                                reverse=reverse, first_number=max(numbers, default=0) + 1)


@dataclass(frozen=True)
class Gate:
    """One look at a batch: passed, failed for good, or still waiting (with who is not there yet)."""

    passed: bool
    final: bool  # a failure that waiting will not fix (provisioning failed, instance gone)
    waiting: tuple[Instance, ...]  # batch instances not (yet) passing
    missing: tuple[str, ...]  # batch instance ids the scale set no longer has

    def describe(self, total: int) -> str:
        return f"{total - len(self.waiting) - len(self.missing)}/{total} upgraded and healthy behind the probe"


def gate(batch: RolloutBatch, instances: Sequence[Instance], *, image_id: str, probe_up: frozenset[str]) -> Gate:
    by_id = {i.instance_id: i for i in instances}
    missing = tuple(i for i in batch.instances if i not in by_id)
    waiting = tuple(by_id[i] for i in batch.instances
                    if i in by_id and not (is_on(by_id[i], image_id) and in_service(by_id[i], probe_up)))
    final = bool(missing) or any(i.provisioning == "failed" for i in waiting)
    return Gate(passed=not waiting and not missing, final=final, waiting=waiting, missing=missing)


def unhealthy(instances: Iterable[Instance], probe_up: frozenset[str], *,
              exclude: Iterable[str] = ()) -> tuple[Instance, ...]:
    skip = set(exclude)
    return tuple(i for i in instances if i.instance_id not in skip and not in_service(i, probe_up))


def over_threshold(count: int, *, fleet_size: int, max_unhealthy: float) -> bool:
    """True when `count` unhealthy instances out of `fleet_size` is MORE than the allowed share."""
    if count <= 0:
        return False
    return count / max(1, fleet_size) > max_unhealthy + 1e-9


@dataclass(frozen=True)
class RolloutPlan:
    fleet: str
    direction: str  # forward | rollback
    image_version: str  # what the instances move to
    from_version: str  # what they run now
    strategy: str
    max_unhealthy: float
    fleet_size: int
    rule: str  # the load balancer rule whose probe gates each batch
    batches: tuple[RolloutBatch, ...]
    set_model: bool  # the scale set model's imageReference must change first
    resumed: bool = False

    def lines(self) -> list[str]:
        verb = "roll back" if self.direction == "rollback" else "roll out"
        lines = [f"{verb} {self.fleet}: {self.from_version} -> {self.image_version}, {self.fleet_size} instances, "
                 f"batches by {self.strategy}, halt above {self.max_unhealthy:.0%} unhealthy, gate: rule "
                 f"{self.rule} + Application Health" + (" (resuming)" if self.resumed else "")]
        if self.set_model:
            lines.append(f"set the scale set model's image to {self.image_version} (upgrade policy Manual)")
        for n, batch in enumerate(self.batches, start=1):
            lines.append(f"{n}. {batch.label}: manualupgrade instances {', '.join(batch.instances)}; wait until "
                         f"healthy")
        if not self.batches:
            lines.append(f"every instance already runs {self.image_version}: nothing to upgrade")
        return lines

    def to_json(self) -> dict:
        return {"fleet": self.fleet, "direction": self.direction, "image_version": self.image_version,
                "from_version": self.from_version, "strategy": self.strategy, "max_unhealthy": self.max_unhealthy,
                "fleet_size": self.fleet_size, "rule": self.rule, "set_model": self.set_model,
                "resumed": self.resumed, "batches": [b.to_json() for b in self.batches]}


# ---------------------------------------------------------------------------------------------- the step's plan


@dataclass(frozen=True)
class RolloutRequest:
    """What `invoke rollout` was asked (flags parsed: pipeline/steps/rollout.py)."""

    image_version: str | None
    fleet: str | None
    spec: BatchSpec
    max_unhealthy: float
    resume: bool = False
    rollback: bool = False

    def __post_init__(self) -> None:  # checked before anything is read
        if self.image_version and not (self.resume or self.rollback):
            naming.check_gallery_image_version(self.image_version)


@dataclass(frozen=True)
class RolloutDecision:
    plan: RolloutPlan
    image_id: str  # what instances move to
    state: RolloutState | None  # the rollout being resumed or rolled back
    start_event: str | None  # "rollout_started" | "rollout_rollback_started" | None (resume)
    instances: tuple[Instance, ...]  # the fleet's instances as read

    @property
    def nothing_to_do(self) -> bool:
        p = self.plan
        return not p.batches and not p.set_model and self.start_event is None and not p.resumed


def pick_fleet(ledger: Ledger, fleet: str | None) -> Fleet:
    """The named fleet, else the live one. NotReady when there is none (or it was retired)."""
    if fleet is None:
        live = live_fleet(ledger)
        if live is None:
            raise NotReady(f"nothing is live in {ledger.environment} to roll out to; release a first version "
                           f"(`invoke release`) or name a fleet with --fleet")
        return live
    known = ledger.fleets.get(fleet)
    if known is None or known.state == "retired":
        raise NotReady(f"fleet {fleet} is not a fleet of {ledger.environment} that still exists"
                       f"{' (it was retired)' if known else ''}; see `invoke status`")
    return known


def _rule_for(facts: Facts, fleet: Fleet) -> str:
    """The production rule when the fleet is live, else the staging rule; checked against the load balancer."""
    if facts.ledger.live == fleet.name:
        facts.check_live(fleet, before="rolling out")
        return facts.production_rule
    if not facts.staging_on(fleet.color):
        raise NotReady(f"fleet {fleet.name} is neither live nor behind the staging rule, so no probe can gate its "
                       f"instances; stage it again or roll out the live fleet")
    return facts.staging_rule


def version_of(image_id: str) -> str:
    return image_id.rstrip("/").rsplit("/versions/", 1)[-1] if "/versions/" in image_id else image_id


def plan_rollout(facts: Facts, request: RolloutRequest, *, image_id_of: Callable[[str], str]) -> RolloutDecision:
    """What the rollout does (module docstring). `image_id_of(version)`: the gallery image version's id.
    Needs the facts' scale sets, the fleet's instances, and (forward) whether the image version exists."""
    ledger = facts.ledger
    fleet = pick_fleet(ledger, request.fleet)
    found = facts.scale_set(fleet.name)
    if found is None:
        raise ResourceMissing(f"scale set {fleet.name} does not exist although the ledger lists it "
                              f"({fleet.state}); run `invoke status`")
    require_uniform(dict(found.body))
    if found.upgrade_mode.lower() != "manual":
        raise NotReady(f"scale set {fleet.name} has upgrade policy {found.upgrade_mode}; an in-place rollout needs "
                       f"Manual (it decides which instances upgrade when)")
    instances = tuple(facts.instances.get(fleet.name, ()))
    capacity = max(int(found.capacity or 0), len(instances))
    rule = _rule_for(facts, fleet)
    state = rollout_state(ledger, fleet.name)
    if state is not None and state.started_at < fleet.created_at:
        state = None  # a rollout of an earlier fleet of the same name
    image_version, spec = request.image_version, request.spec

    def make(direction: str, target: str, source: str, batches, *, resumed: bool, strategy: str,
             threshold: float) -> RolloutPlan:
        return RolloutPlan(fleet=fleet.name, direction=direction, image_version=target, from_version=source,
                           strategy=strategy, max_unhealthy=threshold, fleet_size=capacity, rule=rule,
                           batches=batches, set_model=not same_image(found.model_image, image_id_of(target)),
                           resumed=resumed)

    def decided(plan: RolloutPlan, state_: RolloutState | None, start: str | None) -> RolloutDecision:
        return RolloutDecision(plan, image_id_of(plan.image_version), state_, start, instances)

    unfinished = state is not None and state.unfinished
    if request.rollback:
        if state is None or state.status == "rolled_back":
            raise NotReady(f"nothing to roll back on {fleet.name}: "
                           + ("its last rollout was already rolled back" if state else "it never had a rollout")
                           + "; use `invoke rollout --image-version V` to move it to a version")
        if image_version and image_version != state.image_version:
            raise ConfigError(f"--rollback undoes the rollout to {state.image_version}, not {image_version}; drop "
                              f"--image-version")
        target = state.previous_version
        spec_used = parse_batch(state.strategy)
        continuing = state.direction == "rollback" and unfinished
        if continuing:
            batches = resume_batches(state, instances, image_id=image_id_of(target), spec=spec_used,
                                     fleet_size=capacity, reverse=True)
        else:
            batches = plan_batches(instances, image_id=image_id_of(target), spec=spec_used, fleet_size=capacity,
                                   reverse=True)
        plan = make("rollback", target, state.image_version, batches, resumed=continuing, strategy=spec_used.text,
                    threshold=state.max_unhealthy)
        return decided(plan, state, None if continuing else "rollout_rollback_started")

    if request.resume:
        if not unfinished:
            raise NotReady(f"nothing to resume on {fleet.name}: "
                           + (f"its last rollout is {state.status}" if state else "it never had a rollout")
                           + "; start one with `invoke rollout --image-version V`")
        if image_version and image_version != state.image_version:
            raise ConfigError(f"--resume continues the rollout to {state.image_version}, not {image_version}; "
                              f"drop --image-version, or `invoke rollout --rollback` first")
        direction = state.direction
        target = state.moving_to
        spec_used = parse_batch(state.strategy)
        batches = resume_batches(state, instances, image_id=image_id_of(target), spec=spec_used,
                                 fleet_size=capacity, reverse=direction == "rollback")
        source = state.image_version if direction == "rollback" else state.previous_version
        plan = make(direction, target, source, batches, resumed=True, strategy=spec_used.text,
                    threshold=state.max_unhealthy)
        return decided(plan, state, None)

    if not image_version:
        raise ConfigError("give the image version to roll out (--image-version V), or --resume / --rollback")
    if unfinished:
        raise NotReady(f"{state.describe()}; continue it with `invoke rollout --resume`, or return the upgraded "
                       f"domains to {state.previous_version} with `invoke rollout --rollback`")
    facts.require_image(image_version)
    target_id = image_id_of(image_version)
    batches = plan_batches(instances, image_id=target_id, spec=spec, fleet_size=capacity)
    source = version_of(found.model_image) if not same_image(found.model_image, target_id) else (
        version_of(next((i.image_id for i in instances if not same_image(i.image_id, target_id)),
                        found.model_image)))
    plan = make("forward", image_version, source, batches, resumed=False, strategy=spec.text,
                threshold=request.max_unhealthy)
    return decided(plan, None, "rollout_started" if batches or plan.set_model else None)

"""In-place rolling image update, the pure part: batches, their order, the health gate and the halt decision.

No I/O here: instances (pipeline.azure.compute.Instance) and the load balancer's probe view come in, plans and
decisions go out. pipeline/steps/rollout.py reads the facts, asks these functions, and acts.

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

from pipeline.azure.compute import Instance
from pipeline.errors import ConfigError
from pipeline.ledger import RolloutBatch, RolloutState

__all__ = ["BatchSpec", "Gate", "RolloutPlan", "gate", "in_service", "is_on", "over_threshold", "parse_batch",
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

"""Pure plans of the release steps: `plan_<step>(facts, request) -> Plan` (no I/O; facts from pipeline/facts.py).

    facts = read_facts(ctx, ...)                 # pipeline/steps/facts.py: the only read
    plan = plan_stage(facts, StageRequest(...))  # here: the only decision; raises when the step must not go on
    # the step prints plan.lines() (that is all --dry-run does), or executes exactly the plan

Stage: the new fleet goes on the idle color (the one production does not serve), after its pool and NAT rule
exist, the ledger's live fleet matches the load balancer, the image version exists and is not already live. An
older fleet on the idle pool is deleted first (never the live one). Capacity: the flag, else the live fleet's,
else the default; never below the minimum. A re-run after a kill converges the same scale set (reuse).
Promote / rollback: the target is the staged fleet that passed smoke (promote) or the warm previous fleet
(rollback); production moves to its color in one guarded write, unless a killed run already moved it (resume:
verify and record only). A ledger whose live fleet is not the color production serves stops both.
Smoke: the staged fleet (nothing staged: NotReady).
Retire: fleets neither live nor staged (superseded ones at once, warm, failed and rolled-back ones past
keep-warm); then image versions beyond the newest N that neither the ledger (after those retirements) nor any
remaining scale set uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline import bluegreen, fleet, naming
from pipeline import ledger as ledger_model
from pipeline.config import Settings
from pipeline.errors import NotReady
from pipeline.facts import Facts

__all__ = ["RetirePlan", "SmokePlan", "StagePlan", "StageRequest", "SwitchPlan", "plan_promote", "plan_retire",
           "plan_rollback", "plan_smoke", "plan_stage"]


# ---------------------------------------------------------------------------------------------- stage


@dataclass(frozen=True)
class StageRequest:
    image_version: str
    capacity: int | None = None

    def __post_init__(self) -> None:  # checked before anything is read
        naming.check_gallery_image_version(self.image_version)


@dataclass(frozen=True)
class StagePlan:
    fleet: str
    color: str
    pool: str
    image_version: str
    capacity: int
    remove: tuple[str, ...]
    point_staging_rule: bool
    reuse: bool

    def lines(self) -> list[str]:
        lines = [f"delete old fleet {name} from the idle {self.color} pool" for name in self.remove]
        verb = "converge existing" if self.reuse else "create"
        lines.append(f"{verb} scale set {self.fleet}: image {self.image_version}, {self.capacity} instances, "
                     f"pool {self.pool}")
        if self.point_staging_rule:
            lines.append(f"point the staging rule at pool {self.pool}")
        lines.append("wait until every instance is healthy behind the probe; record the staged fleet")
        return lines


def plan_stage(facts: Facts, request: StageRequest, *, settings: Settings) -> StagePlan:
    s, ledger, version = settings, facts.ledger, request.image_version
    idle = facts.idle_color
    pool = facts.pools.for_color(idle)
    # The new scale set joins these: a missing one fails here, before an old fleet is deleted or anything created.
    bluegreen.pool_id(facts.lb, pool)
    bluegreen.nat_rule_id(facts.lb, s.load_balancer.nat_rules.for_color(idle).name, pool=pool)
    facts.check_live(ledger_model.live_fleet(ledger), before="releasing")
    facts.require_image(version)
    name = naming.fleet_name(s.app, s.environment, version)
    if ledger.live == name:
        raise NotReady(f"image version {version} is already live as {name}; bake a new version to release")
    ours = facts.ours(s.app)
    remove = tuple(sorted(v.name for v in ours if v.tags.get("color") == idle and v.name not in (name, ledger.live)))
    live_set = next((v for v in ours if ledger.live and v.name == ledger.live), None)
    for found in [live_set] + [v for v in ours if v.name == name]:
        if found is not None:
            fleet.require_uniform(dict(found.body))   # a Flexible fleet has none of what the release needs
    wanted = request.capacity or (live_set.capacity if live_set else None) or s.capacity.default
    return StagePlan(fleet=name, color=idle, pool=pool, image_version=version,
                     capacity=max(wanted, s.capacity.minimum), remove=remove,
                     point_staging_rule=not facts.staging_on(idle), reuse=any(v.name == name for v in ours))


# ---------------------------------------------------------------------------------------------- promote, rollback


@dataclass(frozen=True)
class SwitchPlan:
    step: str                                   # promote | rollback
    target: ledger_model.Fleet                  # the fleet production moves to
    replaced: ledger_model.Fleet | None         # the fleet that is live now (None on a first release)
    resumed: bool                               # production already on the target's color: verify and record only
    assignments: dict[str, str]                 # rule -> pool, the one guarded write (empty when resumed)
    back: dict[str, str]                        # rule -> pool, the swap back when verification fails
    checking_rule: str                          # the rule whose probe must see the target healthy first

    def lines(self) -> tuple[str, ...]:
        if self.resumed:
            return (f"production already on {self.target.color}: verify and record",)
        return tuple(bluegreen.describe(self.assignments))


def _switch(facts: Facts, *, step: str, target: ledger_model.Fleet) -> SwitchPlan:
    replaced = ledger_model.live_fleet(facts.ledger)
    resumed = facts.live_color == target.color
    if not resumed:
        facts.check_live(replaced, before="releasing")
    rules = {"production_rule": facts.production_rule, "staging_rule": facts.staging_rule,
             "pools": facts.pools.by_color()}
    moved = bluegreen.live_on(target.color, **rules)
    back = bluegreen.live_on(replaced.color, **rules) if replaced is not None else {}
    return SwitchPlan(step, target, replaced, resumed, {} if resumed else moved, back,
                      facts.production_rule if resumed else facts.staging_rule)


def plan_promote(facts: Facts) -> SwitchPlan:
    """Promote the staged fleet. NotReady when nothing is staged or it has not passed smoke."""
    ledger = facts.ledger
    staged = ledger_model.staged_fleet(ledger)
    if staged is None:
        live = ledger_model.live_fleet(ledger)
        hint = f" ({live.name} is live)" if live else ""
        raise NotReady(f"nothing is staged in {facts.environment}{hint}; run `invoke stage` and `invoke smoke` first")
    if staged.smoke != "passed":
        raise NotReady(f"staged fleet {staged.name} has not passed its smoke checks ({staged.smoke}); "
                       f"run `invoke smoke` first")
    return _switch(facts, step="promote", target=staged)


def plan_rollback(facts: Facts) -> SwitchPlan:
    """Roll back to the warm previous fleet. NotReady when there is nothing to roll back to."""
    return _switch(facts, step="rollback", target=ledger_model.rollback_target(facts.ledger))


# ---------------------------------------------------------------------------------------------- smoke


@dataclass(frozen=True)
class SmokePlan:
    fleet: ledger_model.Fleet      # the staged fleet the checks run against

    def lines(self) -> list[str]:
        f = self.fleet
        return [f"run the smoke checks against {f.name} ({f.image_version}, {f.color}): the staging frontend and "
                f"every instance; record the outcome"]


def plan_smoke(facts: Facts) -> SmokePlan:
    """Smoke the staged fleet. NotReady when nothing is staged."""
    staged = ledger_model.staged_fleet(facts.ledger)
    if staged is None:
        raise NotReady(f"nothing is staged in {facts.environment}; run `invoke stage --image-version X` first")
    return SmokePlan(staged)


# ---------------------------------------------------------------------------------------------- retire


@dataclass(frozen=True)
class RetirePlan:
    fleets: tuple[ledger_model.Fleet, ...]
    image_versions: tuple[str, ...]

    def lines(self) -> list[str]:
        return ([f"delete fleet {f.name} ({f.state} since {f.updated_at:%Y-%m-%d %H:%M})" for f in self.fleets]
                + [f"delete image version {v}" for v in self.image_versions])


def plan_retire(facts: Facts, *, settings: Settings) -> RetirePlan:
    """Needs the facts' scale sets and gallery versions."""
    ledger = facts.ledger
    fleets = ledger_model.fleets_to_retire(ledger, now=facts.now, keep_warm=settings.keep_warm)
    after = ledger
    for f in fleets:   # the ledger as it will be once those are recorded retired
        after = ledger_model.record(after, ledger_model.new_event("retired", fleet=f.name, who="plan", at=facts.now,
                                                                  image_version=f.image_version))
    gone = {f.name for f in fleets}
    in_use = {v.tags.get("image-version") for v in facts.scale_sets if v.name not in gone}
    versions = tuple(v for v in ledger_model.image_versions_to_delete(after, keep=settings.keep_image_versions)
                     if v in facts.gallery and v not in in_use)
    return RetirePlan(fleets, versions)

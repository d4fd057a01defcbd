"""`invoke promote` and `invoke rollback`: swap production to the other color in one guarded update, verify
through the production frontend, swap back automatically when verification fails.

Re-running after a kill converges: when the load balancer already sends production to the staged fleet (the
swap happened, the record did not), promote verifies and records instead of swapping again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from pipeline import health
from pipeline import ledger as ledger_model
from pipeline.azure import compute, network
from pipeline.errors import FleetUnhealthy, NotReady, VerificationFailed
from pipeline.facts import Facts
from pipeline.plans import SwitchPlan, plan_promote, plan_rollback
from pipeline.steps.context import Context
from pipeline.steps.facts import read_facts
from pipeline.steps.smoke import release_version
from pipeline.steps.switch import Cutover, move_traffic, sample_production, verify

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SwitchResult:
    step: str
    fleet: str
    previous: str | None
    image_version: str
    color: str
    dry_run: bool
    plan: tuple[str, ...]
    resumed: bool = False
    verify_seconds: float = 0.0
    timeline: tuple[tuple[str, float], ...] = field(default=())
    cutover: Cutover | None = field(default=None, repr=False)   # production traffic sampled around the swap

    @property
    def summary(self) -> str:
        if self.dry_run:
            return f"dry run: {self.step} would " + "; ".join(self.plan)
        verb = "promoted" if self.step == "promote" else "rolled back to"
        return (f"{verb} {self.fleet} ({self.image_version}, {self.color}); production verified in "
                f"{self.verify_seconds:.1f}s" + (f"; previous fleet {self.previous} kept warm" if self.previous else ""))

    def to_json(self) -> dict:
        return {"step": self.step, "dry_run": self.dry_run, "fleet": self.fleet, "previous": self.previous,
                "image_version": self.image_version, "color": self.color, "plan": list(self.plan),
                "resumed": self.resumed, "verify_seconds": round(self.verify_seconds, 2),
                "cutover": self.cutover.summary() if self.cutover else None}


def _require_healthy(ctx: Context, fleet: ledger_model.Fleet, *, rule: str, what: str) -> None:
    c = ctx.clients
    if compute.find_scale_set(c, fleet.name) is None:
        raise NotReady(f"{what} {fleet.name} no longer exists; re-stage image version {fleet.image_version} with "
                       f"`invoke stage --image-version {fleet.image_version}`")
    instances = compute.instances(c, fleet.name, ctx.ids.scale_set(fleet.name))
    state = health.judge(expected=max(1, len(instances)), instances=instances, backends=network.rule_health(c, rule))
    if not state.ready:
        raise FleetUnhealthy(f"{what} {fleet.name} is not healthy ({state.describe()}); nothing was switched: "
                             f"investigate, or re-stage image version {fleet.image_version}",
                             details=[state.reason(i) for i in state.unhealthy])


def _switch(ctx: Context, plan: SwitchPlan, facts: Facts, *, progress: Callable[[str], None]) -> SwitchResult:
    s = ctx.settings
    step, target, replaced, resumed = plan.step, plan.target, plan.replaced, plan.resumed
    if ctx.dry_run:
        return SwitchResult(step, target.name, replaced.name if replaced else None, target.image_version,
                            target.color, True, plan.lines())
    _require_healthy(ctx, target, rule=plan.checking_rule, what="the target fleet")
    timeline: list[tuple[str, float]] = []
    # The version the target fleet runs now (an in-place rollout may have moved it since it was staged).
    running = ledger_model.running_image_version(facts.ledger, target.name) or target.image_version
    version = release_version(ctx, running)
    with sample_production(ctx, version=version) as cutover:
        if resumed:
            progress(f"production already sends traffic to {target.color}: a previous {step} switched it; verifying")
        else:
            timeline.append(("switch requested", time.time()))
            move_traffic(ctx, lb=dict(facts.lb), assignments=plan.assignments, progress=progress)
        cutover.mark_swap()
        timeline.append(("switched", time.time()))
        check = verify(ctx, version=version, timeout_s=s.timeouts.promote_verify.total_seconds(), progress=progress)
        timeline.append(("verified" if check.passed else "verification failed", time.time()))
    if not check.passed:
        if plan.back:
            progress("verification failed: swapping traffic back")
            move_traffic(ctx, lb=network.get_load_balancer(ctx.clients, s.load_balancer.name), assignments=plan.back,
                         progress=progress)
        if step == "promote":
            ctx.record("promote_failed", fleet=target.name, image_version=target.image_version, color=target.color,
                       reason=check.last_failure)
        raise VerificationFailed(
            f"production did not serve {version} from {target.name} within "
            f"{s.timeouts.promote_verify.total_seconds():.0f}s ({check.last_failure}); traffic was swapped back"
            f"{' to ' + replaced.name if replaced else ''}: investigate before trying again")
    if step == "promote":
        ctx.record("promoted", fleet=target.name, image_version=target.image_version, color=target.color,
                   previous=replaced.name if replaced else None)
    else:
        ctx.record("rolled_back", fleet=target.name, image_version=target.image_version, color=target.color,
                   replaced=replaced.name if replaced else None)
    return SwitchResult(step, target.name, replaced.name if replaced else None, target.image_version, target.color,
                        False, plan.lines(), resumed, check.seconds, tuple(timeline), cutover)


def promote(ctx: Context, *, progress: Callable[[str], None] = log.info) -> SwitchResult:
    with ctx.lock("promote"):
        facts = read_facts(ctx)
        return _switch(ctx, plan_promote(facts), facts, progress=progress)


def rollback(ctx: Context, *, progress: Callable[[str], None] = log.info) -> SwitchResult:
    with ctx.lock("rollback"):
        facts = read_facts(ctx)
        return _switch(ctx, plan_rollback(facts), facts, progress=progress)

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

from pipeline import bluegreen, health
from pipeline import ledger as ledger_model
from pipeline.azure import compute, network
from pipeline.errors import FleetUnhealthy, NotReady, StateMismatch, VerificationFailed
from pipeline.steps.context import Context
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


def _pools(ctx: Context) -> dict[str, str]:
    p = ctx.settings.load_balancer.backend_pools
    return {"blue": p.blue, "green": p.green}


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


def _switch(ctx: Context, *, step: str, ledger: ledger_model.Ledger, target: ledger_model.Fleet,
            replaced: ledger_model.Fleet | None,
            progress: Callable[[str], None]) -> SwitchResult:
    s = ctx.settings
    lb_settings = s.load_balancer
    pools = _pools(ctx)
    lb = network.get_load_balancer(ctx.clients, lb_settings.name)
    traffic = bluegreen.read_traffic(lb, production_rule=lb_settings.production_rule.name,
                                     staging_rule=lb_settings.staging_rule.name)
    live_color = bluegreen.live_color(traffic, pools)
    resumed = live_color == target.color
    if not resumed and replaced is not None and replaced.color != live_color:
        raise StateMismatch(f"the ledger says {replaced.name} ({replaced.color}) is live but the production rule "
                            f"sends traffic to {traffic.production_pool} ({live_color}); find out who changed the "
                            f"load balancer before releasing")
    assignments = {lb_settings.production_rule.name: pools[target.color],
                   lb_settings.staging_rule.name: pools[bluegreen.other(target.color)]}
    plan = tuple(bluegreen.describe(assignments)) if not resumed else (
        f"production already on {target.color}: verify and record",)
    if ctx.dry_run:
        return SwitchResult(step, target.name, replaced.name if replaced else None, target.image_version,
                            target.color, True, plan)
    checking_rule = lb_settings.production_rule.name if resumed else lb_settings.staging_rule.name
    _require_healthy(ctx, target, rule=checking_rule, what="the target fleet")
    timeline: list[tuple[str, float]] = []
    # The version the target fleet runs now (an in-place rollout may have moved it since it was staged).
    running = ledger_model.running_image_version(ledger, target.name) or target.image_version
    version = release_version(ctx, running)
    with sample_production(ctx, version=version) as cutover:
        if resumed:
            progress(f"production already sends traffic to {target.color}: a previous {step} switched it; verifying")
        else:
            timeline.append(("switch requested", time.time()))
            lb = move_traffic(ctx, lb=lb, assignments=assignments, progress=progress)
        cutover.mark_swap()
        timeline.append(("switched", time.time()))
        check = verify(ctx, version=version, timeout_s=s.timeouts.promote_verify.total_seconds(), progress=progress)
        timeline.append(("verified" if check.passed else "verification failed", time.time()))
    if not check.passed:
        if replaced is not None:
            back = {lb_settings.production_rule.name: pools[replaced.color],
                    lb_settings.staging_rule.name: pools[target.color]}
            progress("verification failed: swapping traffic back")
            move_traffic(ctx, lb=network.get_load_balancer(ctx.clients, lb_settings.name), assignments=back,
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
                        False, plan, resumed, check.seconds, tuple(timeline), cutover)


def promote(ctx: Context, *, progress: Callable[[str], None] = log.info) -> SwitchResult:
    s = ctx.settings
    with ctx.lock("promote"):
        ledger = ctx.ledger()
        staged = ledger_model.staged_fleet(ledger)
        if staged is None:
            live = ledger_model.live_fleet(ledger)
            hint = f" ({live.name} is live)" if live else ""
            raise NotReady(f"nothing is staged in {s.environment}{hint}; run `invoke stage` and `invoke smoke` first")
        if staged.smoke != "passed":
            raise NotReady(f"staged fleet {staged.name} has not passed its smoke checks ({staged.smoke}); "
                           f"run `invoke smoke` first")
        return _switch(ctx, step="promote", ledger=ledger, target=staged, replaced=ledger_model.live_fleet(ledger),
                       progress=progress)


def rollback(ctx: Context, *, progress: Callable[[str], None] = log.info) -> SwitchResult:
    with ctx.lock("rollback"):
        ledger = ctx.ledger()
        target = ledger_model.rollback_target(ledger)  # NotReady when there is none
        return _switch(ctx, step="rollback", ledger=ledger, target=target, replaced=ledger_model.live_fleet(ledger),
                       progress=progress)

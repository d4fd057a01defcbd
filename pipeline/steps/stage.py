"""`invoke stage`: a new scale set for one image version on the idle color's pool, behind the staging rule.

Facts first (load balancer, ledger, gallery, existing fleets), then the plan, then the changes:
remove an older fleet on the idle pool, create (or converge) the new one with the live fleet's capacity, point
the staging rule at the idle pool, wait until every instance is healthy behind the probe, record it.
Re-running after a kill converges: the scale set PUT is idempotent and the ledger ignores a repeated stage.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

from pipeline import bluegreen, fleet, health, naming, sshkeys
from pipeline import ledger as ledger_model
from pipeline.azure import compute, gallery, network
from pipeline.errors import FleetUnhealthy, NotReady, ResourceMissing, StateMismatch, Throttled
from pipeline.retry import poll_until
from pipeline.steps.context import Context

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class StageResult:
    plan: StagePlan
    dry_run: bool
    instances: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def summary(self) -> str:
        if self.dry_run:
            return "dry run: " + "; ".join(self.plan.lines())
        return (f"staged {self.plan.fleet} ({self.plan.image_version}) on {self.plan.color}: "
                f"{len(self.instances)} healthy instances in {self.seconds:.0f}s")

    def to_json(self) -> dict:
        p = self.plan
        return {"step": "stage", "dry_run": self.dry_run, "fleet": p.fleet, "color": p.color, "pool": p.pool,
                "image_version": p.image_version, "capacity": p.capacity, "removed": list(p.remove),
                "instances": list(self.instances), "seconds": round(self.seconds, 2), "plan": p.lines()}


def _capacity_of(scale_set: dict | None) -> int | None:
    return (scale_set or {}).get("sku", {}).get("capacity")


def check_ledger_matches(ledger: ledger_model.Ledger, *, live_color: str, production_pool: str) -> None:
    live = ledger_model.live_fleet(ledger)
    if live is not None and live.color != live_color:
        raise StateMismatch(f"the ledger says {live.name} ({live.color}) is live but the production rule sends "
                            f"traffic to {production_pool} ({live_color}); find out who changed the load balancer, "
                            f"then fix it or record the change before releasing")


def make_plan(ctx: Context, *, image_version: str, capacity: int | None) -> tuple[StagePlan, dict]:
    s, c = ctx.settings, ctx.clients
    naming.check_gallery_image_version(image_version)
    lb = network.get_load_balancer(c, s.load_balancer.name)
    pools = {"blue": s.load_balancer.backend_pools.blue, "green": s.load_balancer.backend_pools.green}
    traffic = bluegreen.read_traffic(lb, production_rule=s.load_balancer.production_rule.name,
                                     staging_rule=s.load_balancer.staging_rule.name)
    live_color = bluegreen.live_color(traffic, pools)
    idle = bluegreen.other(live_color)
    # The new scale set joins these: a missing one fails here, before an old fleet is deleted or anything created.
    bluegreen.pool_id(lb, pools[idle])
    bluegreen.nat_rule_id(lb, s.load_balancer.nat_rules.for_color(idle).name, pool=pools[idle])
    ledger = ctx.ledger()
    check_ledger_matches(ledger, live_color=live_color, production_pool=traffic.production_pool)
    if gallery.find_image_version(c, image_version) is None:
        gallery.list_image_versions(c)  # a missing gallery or definition: ResourceMissing saying to run infra
        raise ResourceMissing(f"image version {image_version} does not exist in {s.image.gallery}/"
                              f"{s.image.definition}; bake it (`invoke bake`) or pick one from `invoke status`")
    name = naming.fleet_name(s.app, s.environment, image_version)
    if ledger.live == name:
        raise NotReady(f"image version {image_version} is already live as {name}; bake a new version to release")
    ours = [v for v in compute.list_scale_sets(c)
            if (v.get("tags") or {}).get("app") == s.app and (v.get("tags") or {}).get("environment") == s.environment]
    remove = tuple(sorted(v["name"] for v in ours if v["tags"].get("color") == idle and v["name"] != name
                          and v["name"] != ledger.live))
    live_set = next((v for v in ours if ledger.live and v["name"] == ledger.live), None)
    for found in [live_set] + [v for v in ours if v["name"] == name]:
        if found is not None:
            fleet.require_uniform(found)   # a Flexible fleet has none of what the release needs
    wanted = capacity or _capacity_of(live_set) or s.capacity.default
    wanted = max(wanted, s.capacity.minimum)
    plan = StagePlan(fleet=name, color=idle, pool=pools[idle], image_version=image_version, capacity=wanted,
                     remove=remove, point_staging_rule=(traffic.staging_pool or "").lower() != pools[idle].lower(),
                     reuse=any(v["name"] == name for v in ours))
    return plan, lb


def wait_healthy(ctx: Context, *, name: str, expected: int, rule: str, timeout_s: float,
                 progress: Callable[[str], None], sleep: Callable[[float], None] = time.sleep) -> health.FleetHealth:
    c = ctx.clients
    scale_set_id = ctx.ids.scale_set(name)
    seen: list[health.FleetHealth] = []
    started = time.monotonic()

    def check() -> bool:
        state = health.judge(expected=expected,
                             instances=compute.instances(c, name, scale_set_id, sdk_retries_on_429=False),
                             backends=network.rule_health(c, rule))
        if not seen or state.describe() != seen[-1].describe():
            progress(f"{name}: {state.describe()} ({time.monotonic() - started:.0f}s)")
        seen.append(state)
        return state.ready

    from tenacity import RetryError

    try:
        poll_until(timeout_s=timeout_s, interval_s=ctx.settings.fleet.poll_interval_s,
                   throttled=lambda err: isinstance(err, Throttled), sleep=sleep)(check)
    except RetryError as err:
        if not seen:   # throttled on every poll: say so (the error Azure gave is the cause)
            raise Throttled(f"fleet {name}: Azure throttled every instance-view read for {timeout_s:.0f}s; wait a few "
                            f"minutes and run the step again (the fleet stays staged)") from err.last_attempt.exception()
        last = seen[-1]
        details = []
        for instance in last.unhealthy:
            details.append(last.reason(instance))
            tail = compute.boot_log_tail(c, name, instance.instance_id)
            details.extend(f"    | {line}" for line in tail.splitlines())
        raise FleetUnhealthy(
            f"fleet {name} is not healthy after {timeout_s:.0f}s ({last.describe()}; unhealthy: "
            f"{', '.join(i.instance_id for i in last.unhealthy) or 'instances missing'}); see the boot logs below, "
            f"fix the image and stage a new version", details=details) from None
    return seen[-1]


def stage(ctx: Context, *, image_version: str, capacity: int | None = None,
          progress: Callable[[str], None] = log.info) -> StageResult:
    s, c = ctx.settings, ctx.clients
    started = time.monotonic()
    with ctx.lock("stage"):
        plan, _ = make_plan(ctx, image_version=image_version, capacity=capacity)
        for line in plan.lines():
            progress(("would " if ctx.dry_run else "") + line)
        if ctx.dry_run:
            return StageResult(plan, True)
        for old in plan.remove:
            progress(f"deleting {old}")
            compute.delete_scale_set(c, old)
        existing = compute.find_scale_set(c, plan.fleet) if plan.reuse else None
        # The configured key; else the one the fleet already has (a converging PUT sends it back unchanged); else a
        # fresh ed25519 key whose private half is discarded (README: "Logging into an instance").
        key = s.fleet.ssh_public_key or fleet.model_ssh_key(existing) or sshkeys.generate_public_key(plan.fleet)
        body = fleet.scale_set_body(s, ctx.ids, name=plan.fleet, color=plan.color, image_version=image_version,
                                    capacity=plan.capacity, created_at=ctx.now(), ssh_public_key=key)
        progress(f"creating {plan.fleet} ({plan.capacity} instances)")
        compute.create_scale_set(c, plan.fleet, body)
        if plan.point_staging_rule:
            current = network.get_load_balancer(c, s.load_balancer.name)
            network.put_load_balancer(c, bluegreen.with_rule_pools(current, {s.load_balancer.staging_rule.name: plan.pool}),
                                      if_match=current.get("etag"))
        ctx.record("staged", fleet=plan.fleet, image_version=image_version, color=plan.color, capacity=plan.capacity)
        try:
            state = wait_healthy(ctx, name=plan.fleet, expected=plan.capacity, rule=s.load_balancer.staging_rule.name,
                                 timeout_s=s.timeouts.stage_health.total_seconds(), progress=progress)
        except FleetUnhealthy as err:
            ctx.record("stage_failed", fleet=plan.fleet, reason=str(err))
            raise
    return StageResult(plan, False, tuple(i.instance_id for i in state.instances), time.monotonic() - started)

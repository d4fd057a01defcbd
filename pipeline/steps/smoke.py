"""`invoke smoke`: the smoke checks of pipeline.toml against the staged fleet, through the staging frontend and
to every instance by itself (its port of the color's inbound NAT rule V2; else its private address), with a
JUnit XML report."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pipeline import nsg as nsg_plan
from pipeline import smoke as checks
from pipeline.azure import compute, gallery, network
from pipeline.errors import SmokeFailed
from pipeline.plans import plan_smoke
from pipeline.steps.context import Context
from pipeline.steps.facts import read_facts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmokeResult:
    fleet: str
    image_version: str
    outcomes: tuple[checks.Outcome, ...]
    report: str | None

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)

    @property
    def summary(self) -> str:
        return f"{self.fleet}: {checks.summary(list(self.outcomes))}"

    def to_json(self) -> dict:
        return {"step": "smoke", "fleet": self.fleet, "image_version": self.image_version, "passed": self.passed,
                "report": self.report, "checks": [
                    {"target": o.target.name, "url": o.target.base_url + o.check.path, "check": o.check.name,
                     "status": o.status, "ms": round(o.seconds * 1000, 1), "failure": o.failure}
                    for o in self.outcomes]}


def targets(ctx: Context, fleet_name: str, color: str | None) -> list[checks.Target]:
    s, c = ctx.settings, ctx.clients
    frontend = network.public_ip_address(c, s.load_balancer.frontend)
    hint = nsg_plan.no_answer_hint(s, staging=True)
    found = [checks.Target("staging frontend", f"http://{frontend}:{s.load_balancer.staging_rule.frontend_port}",
                           hint)]
    private = {b.ip_configuration_id.lower(): b.address
               for b in network.rule_health(c, s.load_balancer.staging_rule.name)}
    members = compute.instances(c, fleet_name, ctx.ids.scale_set(fleet_name))
    nat = network.nat_ports(c, pool=s.load_balancer.backend_pools.for_color(color),
                            rule=s.load_balancer.nat_rules.for_color(color).name,
                            ip_configuration_ids=[m.ip_configuration_id for m in members if m.ip_configuration_id]
                            ) if color else {}
    found += checks.instance_targets(members, fleet=fleet_name, color=color, frontend=frontend,
                                     backend_port=s.load_balancer.staging_rule.backend_port, nat=nat,
                                     private=private, hint=hint)
    return found


def release_version(ctx: Context, image_version: str) -> str:
    """The app version an image carries (its `app-version` tag): what `{version}` in a check stands for."""
    image = gallery.find_image_version(ctx.clients, image_version)
    return (image.tags.get("app-version") if image else None) or image_version


def smoke(ctx: Context, *, report: Path | None = Path(".pipeline/reports/smoke.xml"),
          progress: Callable[[str], None] = log.info) -> SmokeResult:
    s = ctx.settings
    staged = plan_smoke(read_facts(ctx)).fleet
    found = targets(ctx, staged.name, staged.color)
    progress(f"{len(s.smoke)} checks x {len(found)} targets against {staged.name} ({staged.image_version})")
    app_version = release_version(ctx, staged.image_version)
    outcomes = checks.run_checks(
        checks.configured(s.smoke),
        found, version=app_version)
    written = None
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(checks.junit_report(outcomes, suite=f"smoke {staged.name}"))
        written = str(report)
    result = SmokeResult(staged.name, staged.image_version, tuple(outcomes), written)
    if ctx.dry_run:
        return result
    if result.passed:
        ctx.record("smoke_passed", fleet=staged.name, checks=len(outcomes))
        return result
    ctx.record("smoke_failed", fleet=staged.name, summary=result.summary)
    failed = [o for o in outcomes if not o.passed]
    err = SmokeFailed(f"{result.summary}; fix the app and stage a new version (report: {written})",
                      details=[f"{o.target.name} {o.target.base_url}{o.check.path}: {o.failure}" for o in failed])
    err.result = result  # the release record shows the per-target table of a failed smoke too
    raise err

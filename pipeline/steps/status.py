"""`invoke status`: live, staged and previous fleets with their image versions and instance health, what the
load balancer actually does, and the release history."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pipeline import ledger as ledger_model
from pipeline.azure import compute
from pipeline.steps.context import Context
from pipeline.steps.facts import read_facts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FleetStatus:
    role: str                  # live | staged | previous
    name: str
    color: str
    image_version: str
    state: str
    smoke: str
    exists: bool
    instances: tuple[dict, ...]
    running_version: str | None = None   # differs from image_version after an in-place rollout
    rollout: str | None = None           # the latest rollout, in words, when there is one

    def to_json(self) -> dict:
        return {"role": self.role, "name": self.name, "color": self.color, "image_version": self.image_version,
                "running_version": self.running_version or self.image_version, "rollout": self.rollout,
                "state": self.state, "smoke": self.smoke, "exists": self.exists, "instances": list(self.instances)}


@dataclass(frozen=True)
class StatusResult:
    environment: str
    production_pool: str | None
    staging_pool: str | None
    live_color: str | None
    fleets: tuple[FleetStatus, ...]
    history: tuple[dict, ...]

    @property
    def summary(self) -> str:
        parts = [f"{self.environment}: production -> {self.production_pool or '?'} ({self.live_color or '?'})"]
        for f in self.fleets:
            healthy = sum(1 for i in f.instances if i["ready"])
            parts.append(f"{f.role} {f.name} {f.image_version} {f.color} "
                         f"{healthy}/{len(f.instances)} healthy" + ("" if f.exists else " (scale set missing)"))
        return "; ".join(parts)

    def lines(self) -> list[str]:
        out = [f"environment {self.environment}: production rule -> {self.production_pool} ({self.live_color}), "
               f"staging rule -> {self.staging_pool}"]
        for f in self.fleets:
            image = f.image_version if f.running_version in (None, f.image_version) else \
                f"{f.running_version} (staged as {f.image_version})"
            out.append(f"  {f.role:8} {f.name}  image {image}  {f.color}  state {f.state}  smoke {f.smoke}"
                       + ("" if f.exists else "  (scale set missing)"))
            if f.rollout:
                out.append(f"           {f.rollout}")
            for i in f.instances:
                out.append(f"           instance {i['instance_id']}: {i['provisioning']}, {i['power']}, "
                           f"health {i['health'] or 'n/a'}, update domain {i['update_domain']}")
        out.append("history (newest last):")
        out.extend(f"  {e['at']}  {e['event']:14} {e['fleet']}  {e.get('image_version') or ''}  by {e['who']}"
                   for e in self.history[-15:])
        return out

    def to_json(self) -> dict:
        return {"step": "status", "environment": self.environment, "production_pool": self.production_pool,
                "staging_pool": self.staging_pool, "live_color": self.live_color,
                "fleets": [f.to_json() for f in self.fleets], "history": list(self.history)}


def status(ctx: Context) -> StatusResult:
    s, c = ctx.settings, ctx.clients
    facts = read_facts(ctx)
    ledger = facts.ledger
    roles = (("live", ledger_model.live_fleet(ledger)), ("staged", ledger_model.staged_fleet(ledger)),
             ("previous", ledger_model.previous_fleet(ledger)))
    traffic = facts.traffic if facts.load_balancer is not None else None
    live_color = traffic.color_of(traffic.production_pool, facts.pools.by_color()) if traffic else None
    fleets = []
    for role, fleet in roles:
        if fleet is None:
            continue
        exists = compute.find_scale_set(c, fleet.name) is not None   # per fleet: the resource group may not exist
        instances = compute.instances(c, fleet.name, ctx.ids.scale_set(fleet.name)) if exists else []
        rollout = ledger_model.rollout_state(ledger, fleet.name)
        said = None
        if rollout is not None:
            said = (f"rollout {rollout.direction} {rollout.previous_version} -> {rollout.image_version}: "
                    f"{rollout.status}, {len(rollout.done)}/{len(rollout.batches)} batches"
                    + (f" ({rollout.reason})" if rollout.reason else ""))
        fleets.append(FleetStatus(role, fleet.name, fleet.color, fleet.image_version, fleet.state, fleet.smoke, exists,
                                  tuple({"instance_id": i.instance_id, "provisioning": i.provisioning, "power": i.power,
                                         "health": i.health, "update_domain": i.update_domain, "ready": i.ready,
                                         "latest_model": i.latest_model} for i in instances),
                                  ledger_model.running_image_version(ledger, fleet.name), said))
    history = tuple(e.to_json() for e in ledger.history)
    return StatusResult(s.environment, traffic.production_pool if traffic else None,
                        traffic.staging_pool if traffic else None, live_color, tuple(fleets), history)

"""`invoke retire`: delete fleets past the keep-warm window that are neither live nor the rollback target, and
image versions beyond the newest N that no remaining fleet uses."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from pipeline.azure import compute, gallery
from pipeline.plans import plan_retire
from pipeline.steps.context import Context
from pipeline.steps.facts import read_facts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetireResult:
    fleets: tuple[str, ...]
    image_versions: tuple[str, ...]
    dry_run: bool

    @property
    def summary(self) -> str:
        if not self.fleets and not self.image_versions:
            return "nothing to retire"
        verb = "would retire" if self.dry_run else "retired"
        return (f"{verb} {len(self.fleets)} fleet(s) [{', '.join(self.fleets)}] and {len(self.image_versions)} "
                f"image version(s) [{', '.join(self.image_versions)}]")

    def to_json(self) -> dict:
        return {"step": "retire", "dry_run": self.dry_run, "fleets": list(self.fleets),
                "image_versions": list(self.image_versions)}


def retire(ctx: Context, *, progress: Callable[[str], None] = log.info) -> RetireResult:
    c = ctx.clients
    with ctx.lock("retire"):
        plan = plan_retire(read_facts(ctx, scale_sets=True, gallery_versions=True), settings=ctx.settings)
        for line in plan.lines():
            progress(("would " if ctx.dry_run else "") + line)
        if not ctx.dry_run:
            for fleet in plan.fleets:
                compute.delete_scale_set(c, fleet.name)
                ctx.record("retired", fleet=fleet.name, image_version=fleet.image_version)
            for version in plan.image_versions:
                gallery.delete_image_version(c, version)
    return RetireResult(tuple(f.name for f in plan.fleets), plan.image_versions, ctx.dry_run)

"""`invoke retire`: delete fleets past the keep-warm window that are neither live nor the rollback target, and
image versions beyond the newest N that no remaining fleet uses."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from pipeline import ledger as ledger_model
from pipeline.azure import compute, gallery
from pipeline.steps.context import Context

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
    s, c = ctx.settings, ctx.clients
    with ctx.lock("retire"):
        ledger = ctx.ledger()
        fleets = ledger_model.fleets_to_retire(ledger, now=ctx.now(), keep_warm=s.keep_warm)
        for fleet in fleets:
            progress(f"{'would delete' if ctx.dry_run else 'deleting'} fleet {fleet.name} ({fleet.state} since "
                     f"{fleet.updated_at:%Y-%m-%d %H:%M})")
            if not ctx.dry_run:
                compute.delete_scale_set(c, fleet.name)
                ledger = ctx.record("retired", fleet=fleet.name, image_version=fleet.image_version)
        in_use = {v.get("tags", {}).get("image-version") for v in compute.list_scale_sets(c)}
        known = {v.name for v in gallery.list_image_versions(c)}
        versions = [v for v in ledger_model.image_versions_to_delete(ledger, keep=s.keep_image_versions)
                    if v in known and v not in in_use]
        for version in versions:
            progress(f"{'would delete' if ctx.dry_run else 'deleting'} image version {version}")
            if not ctx.dry_run:
                gallery.delete_image_version(c, version)
    return RetireResult(tuple(f.name for f in fleets), tuple(versions), ctx.dry_run)

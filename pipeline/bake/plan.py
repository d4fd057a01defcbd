"""Pure decisions of the bake step: bake, skip, or finish tagging; replace an existing version or refuse.

    decision = decide(target="1.4.0", fingerprint=fp, versions=gallery_versions, force=False,
                      in_use=versions_in_use(ledger))
    lines = plan_lines(decision, ...)

Rules, in order:
1. Without --force, a published (Succeeded) version whose `fingerprint` tag equals this bake's is the
   image already: skip (the target if it is one of them, else the newest), or, when it lacks some
   provenance tags (a run killed after Packer published it), only finish tagging it.
2. The target version name is free: bake it.
3. It is still being created/updated/deleted: refuse; another bake is running (or wait for Azure).
4. It failed to publish with this same fingerprint (our own interrupted run), or --force: replace it
   (delete, then bake again), but never one that a fleet in the ledger still uses.
5. Otherwise it holds other content: refuse; bump the version or pass --force.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline import ledger as ledger_model
from pipeline.bake.provenance import missing_provenance
from pipeline.errors import BakeError

if TYPE_CHECKING:
    from pipeline.azure.gallery import ImageVersion

SKIP, BAKE, RETAG = "skip", "bake", "retag"
BUSY_STATES = frozenset({"creating", "updating", "deleting", "migrating"})


def short(fingerprint: str | None) -> str:
    return (fingerprint or "none")[:12]


@dataclass(frozen=True)
class Decision:
    action: str  # SKIP | BAKE | RETAG
    image_version: str  # the version the result is about (for SKIP/RETAG maybe not the target)
    reason: str
    replace: bool = False  # delete the existing target version before baking
    existing_tags: Mapping[str, str] | None = None  # of the version skipped/retagged/replaced


def _key(name: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in name.split("."))
    except ValueError:
        return (-1,)


def versions_in_use(ledger: ledger_model.Ledger) -> dict[str, tuple[str, ...]]:
    """image version -> names of the ledger's fleets that use it and are not retired (pure)."""
    used: dict[str, list[str]] = {}
    for fleet in ledger.fleets.values():
        if fleet.state != "retired":
            used.setdefault(fleet.image_version, []).append(fleet.name)
    return {version: tuple(sorted(names)) for version, names in used.items()}


def decide(
    *,
    target: str,
    fingerprint: str,
    versions: Iterable[ImageVersion],
    force: bool,
    in_use: Mapping[str, Sequence[str]],
) -> Decision:
    """What the bake must do (see the module docstring). Raises BakeError when it must not go on."""
    versions = list(versions)
    by_name = {v.name: v for v in versions}
    if not force:
        same = sorted(
            (v for v in versions if v.fingerprint == fingerprint and v.provisioning_state.lower() == "succeeded"),
            key=lambda v: _key(v.name),
        )
        if same:
            pick = by_name[target] if target in {v.name for v in same} else same[-1]
            missing = missing_provenance(pick.tags)
            if missing:
                return Decision(RETAG, pick.name,
                                f"image version {pick.name} already has fingerprint {short(fingerprint)} but lacks "
                                f"tags {', '.join(missing)}; adding them",
                                existing_tags=dict(pick.tags))
            return Decision(SKIP, pick.name,
                            f"image version {pick.name} already has fingerprint {short(fingerprint)}; "
                            "use --force to rebake", existing_tags=dict(pick.tags))

    existing = by_name.get(target)
    if existing is None:
        return Decision(BAKE, target, f"image version {target} does not exist yet")
    state = existing.provisioning_state or "unknown"
    if state.lower() in BUSY_STATES:
        raise BakeError(
            f"image version {target} is {state.lower()} (another bake may be publishing it); "
            "wait for it to finish and run the bake again"
        )
    ours_failed = existing.fingerprint == fingerprint and state.lower() == "failed"
    if not (force or ours_failed):
        raise BakeError(
            f"image version {target} already exists with fingerprint {short(existing.fingerprint)}, "
            f"not this bake's {short(fingerprint)}; bump the app version (or pass a build number) "
            "or pass --force to replace it"
        )
    users = list(in_use.get(target, ()))
    if users:
        raise BakeError(
            f"image version {target} cannot be replaced: fleet(s) {', '.join(users)} in the ledger use it; "
            "bake a new version instead (bump the app version or pass a build number)"
        )
    why = "--force" if force else f"its last publish failed ({state})"
    return Decision(BAKE, target, f"replacing image version {target} ({why})", replace=True,
                    existing_tags=dict(existing.tags))


def plan_lines(
    decision: Decision,
    *,
    local: bool,
    selector: str,
    app_version: str,
    fingerprint: str,
    package_blob: str,
    package_sha256: str,
    image_ref: str,
    vhd_blob: str | None,
    tag_keys: Iterable[str],
    reuse_run: str | None = None,
) -> tuple[str, ...]:
    """The plan as lines a person reads (pure): what a real run does, in order."""
    tags = ", ".join(sorted(tag_keys))
    if decision.action == SKIP:
        return (f"nothing to bake: {decision.reason}",)
    if decision.action == RETAG:
        return (f"tag image version {image_ref} with {tags} (it was published without them)",)
    lines = []
    if decision.replace:
        lines.append(f"delete image version {image_ref} ({decision.reason})")
    if reuse_run:
        lines.append(f"re-use the image from Packer run {reuse_run} (same fingerprint, not yet published)")
    else:
        lines += [
            f"upload the app package to {package_blob} (sha256 {package_sha256[:12]})",
            "sign a read-only SAS URL for it, expiring within the hour",
            f"run packer build -only={selector} (app {app_version}, fingerprint {short(fingerprint)})",
        ]
    if local:
        lines += [
            f"upload the image to {vhd_blob}",
            f"publish gallery image version {image_ref} from it, tagged {tags}",
        ]
    else:
        lines.append(
            f"(Packer publishes gallery image version {image_ref} straight to the gallery) then tag it {tags} "
            "with the update PATCH"
        )
    return tuple(lines)

"""`invoke bake`: bake the app into a gallery image version with Packer, or find that it already exists.

    result = bake(ctx, app_version="1.4.0")                    # local cloud or Azure, from ctx.settings
    result = bake(ctx, app_version="1.5.0-rc.1", build_number=7, force=True)
    print(result.summary)

Read facts: the image version name (from the app version), the templates checked for the selected source
(`app.null.local` locally, `app.azure-arm.ubuntu` on Azure), the deterministic app package, the input
fingerprint, the gallery's versions and the ledger's fleets. Decide (pipeline/bake/plan.py): skip when a
version already has this fingerprint, refuse to overwrite other content without --force, never replace a
version a fleet uses. Act unless dry-run:

    local:  upload package -> SAS -> packer (null.local writes an image tarball) -> upload it as the VHD blob
            images/<definition>/<version>.vhd -> PUT the gallery image version from it, with provenance tags
    Azure:  upload package -> SAS -> packer (packer/azure: the azure plugin builds a VM and publishes the gallery
            version straight from it, no managed image) -> PATCH the version's tags (GalleryImageVersions_Update)
            with the provenance tags: never a second PUT, which could not keep what Azure does not let change

Re-running after a kill converges: the package and VHD blob names are content-addressed or fixed and are
overwritten; a local image that Packer made but nobody published is re-used (its manifest entry carries the
fingerprint); a version Packer published without our tags gets them (RETAG); a version that failed to
publish with our fingerprint is replaced.

The package SAS URL reaches Packer only as PKR_VAR_app_package_url and never a log line.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from pipeline import naming
from pipeline.azure import gallery, storage
from pipeline.bake import machine
from pipeline.bake.fingerprint import fingerprint as input_fingerprint
from pipeline.bake.credentials import packer_auth, secret_values
from pipeline.bake.package import Package, build_package
from pipeline.bake.packer import MANIFEST_NAME, PackerResult, packer_init, run_packer
from pipeline.bake.plan import BAKE, RETAG, SKIP, decide, plan_lines, short, versions_in_use
from pipeline.bake.provenance import completed_tags, git_commit, provenance_tags
from pipeline.bake.templates import TemplateSummary, check_values, load_templates, resolve_values
from pipeline.config import Settings
from pipeline.errors import BakeError, ResourceMissing, TemplateError
from pipeline.redact import Redactor
from pipeline.steps.context import Context

log = logging.getLogger(__name__)

__all__ = [
    "AZURE_SOURCE",
    "BUILD",
    "IMAGES_CONTAINER",
    "LOCAL_SOURCE",
    "BakeResult",
    "bake",
    "explain_packer_failure",
    "fingerprint_variables",
    "package_blob_name",
    "packer_variables",
    "vhd_blob_name",
]

BUILD = "app"
LOCAL_SOURCE = "null.local"
AZURE_SOURCE = "azure-arm.ubuntu"
AZURE_TEMPLATES = "azure"  # packer/azure: the Azure build, for a current Packer with the azure plugin
IMAGES_CONTAINER = "images"  # local cloud: the "VHD" blobs gallery versions are made from
SECRET_PLACEHOLDER = "https://package.invalid/app.tar.gz?sig=checked-for-presence-only"

#: Variables that say where an image goes or what it is called, not what is in it: a bake with the same
#: inputs into another version name, region or gallery finds the image by the same fingerprint.
PLACEMENT_VARIABLES = frozenset({
    "image_version", "managed_image_name", "output_dir", "subscription_id", "tenant_id", "client_id",
    "resource_group", "gallery_name", "image_definition", "location", "target_regions", "tags", "vm_size",
    # the .tar.gz hash depends on the zlib build; the uncompressed content hash stands in for it
    "app_package_sha256",
})

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BakeResult:
    image_version: str  # the version to release: the one baked, or the existing one with this fingerprint
    app_version: str
    fingerprint: str
    skipped: bool
    reason: str
    packer_run_uuid: str | None
    image_version_id: str
    git_commit: str
    duration_s: float
    plan: tuple[str, ...]
    dry_run: bool = False
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def summary(self) -> str:
        fp = short(self.fingerprint)
        if self.skipped:
            prefix = "dry run: " if self.dry_run else ""
            return f"{prefix}skipped: {self.reason}"
        if self.dry_run:
            return (f"dry run: would bake image version {self.image_version} (app {self.app_version}, "
                    f"fingerprint {fp}) in {len(self.plan)} steps; nothing was changed")
        run = f", packer run {self.packer_run_uuid}" if self.packer_run_uuid else ""
        return (f"baked image version {self.image_version} (app {self.app_version}, fingerprint {fp}{run}) "
                f"in {self.duration_s:.1f}s")

    def to_json(self) -> dict:
        return {
            "step": "bake",
            "dry_run": self.dry_run,
            "image_version": self.image_version,
            "app_version": self.app_version,
            "fingerprint": self.fingerprint,
            "skipped": self.skipped,
            "reason": self.reason,
            "packer_run_uuid": self.packer_run_uuid,
            "image_version_id": self.image_version_id,
            "git_commit": self.git_commit,
            "duration_s": round(self.duration_s, 3),
            "plan": list(self.plan),
            "tags": dict(self.tags),
        }


# ---------------------------------------------------------------------------------------------- pure parts


def package_blob_name(app: str, app_version: str, package: Package) -> str:
    """Content-addressed, so re-uploading after a kill writes the same bytes to the same name."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", app_version)
    return f"{app}/app-{safe}-{package.sha256[:12]}.tar.gz"


def vhd_blob_name(definition: str, image_version: str) -> str:
    return f"{definition}/{image_version}.vhd"


def template_dir_for(s: Settings, template_dir: Path) -> Path:
    """packer/ for the local cloud (null source, any Packer from 1.6.6); packer/azure for Azure."""
    return Path(template_dir) if s.is_local else Path(template_dir) / AZURE_TEMPLATES


def packer_variables(
    s: Settings, *, subscription_id: str, app_version: str, image_version: str, package_sha256: str,
) -> dict[str, object]:
    """The non-secret Packer variables of a bake (output_dir and fingerprint are added later)."""
    variables: dict[str, object] = {
        "app_version": app_version,
        "image_version": image_version,
        "app_package_sha256": package_sha256,
        "location": s.location,
        "resource_group": s.resource_group,
        "gallery_name": s.image.gallery,
        "image_definition": s.image.definition,
    }
    if not s.is_local:
        variables["subscription_id"] = subscription_id
        variables["target_regions"] = [{"name": t.name, "replicas": t.replicas,
                                        "storage_account_type": t.storage_account_type}
                                       for t in s.image.replication(s.location)]
    return variables


def fingerprint_variables(variables: Mapping[str, object], package: Package) -> dict[str, object]:
    """What of the variables goes into the fingerprint: everything but placement, plus the app's content."""
    kept = {name: value for name, value in variables.items() if name not in PLACEMENT_VARIABLES}
    return {**kept, "app_package_content_sha256": package.content_sha256}


_HTTP_ERROR = re.compile(r"returned error:\s*(\d{3})")


def explain_packer_failure(err: BakeError, output: list[str]) -> BakeError | None:
    """A clearer BakeError when Packer failed to download the app package (pure); None otherwise."""
    if "downloading the app package failed" not in str(err):
        return None
    statuses = [m.group(1) for line in output for m in [_HTTP_ERROR.search(line)] if m]
    status = statuses[-1] if statuses else None
    if status == "403":
        what = "the app package's SAS URL was denied or has expired (HTTP 403)"
    elif status == "404":
        what = "the app package blob was not found (HTTP 404)"
    else:
        what = f"Packer could not download the app package ({'HTTP ' + status if status else 'see the output above'})"
    return BakeError(f"{what}; run the bake again, which uploads the package and signs a fresh SAS URL")


def previous_artifact(output_dir: Path, *, fingerprint: str, image_version: str) -> tuple[str, Path] | None:
    """(run uuid, image file) of the last local Packer run when it built exactly this image and its file
    is still there: a run killed after Packer but before publishing. None otherwise."""
    path = Path(output_dir) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        entry = machine.select_build(manifest, builder_type="null", name="local")
    except (OSError, ValueError, BakeError):
        return None
    data = entry.custom_data
    if data.get("fingerprint") != fingerprint or data.get("image_version") != image_version or not entry.files:
        return None
    image = Path(entry.files[0])
    return (entry.run_uuid, image) if image.is_file() else None


# ---------------------------------------------------------------------------------------------- the step


def _say(progress: Progress | None, text: str) -> None:
    log.info("%s", text)
    if progress is not None:
        progress(text)


def _check_templates(template_dir: Path, *, source: str, variables: Mapping[str, object]) -> TemplateSummary:
    """check_templates, with the template directory named in every message."""
    summary = load_templates(template_dir, build=BUILD)
    values = resolve_values(summary, variables=variables, environ=os.environ)
    try:
        check_values(summary, source=source, values=values, given=set(variables))
    except TemplateError as err:
        message = str(err)
        if str(template_dir) not in message:
            message = f"{template_dir}: {message}"
        raise TemplateError(message) from err
    return summary


def bake(
    ctx: Context,
    *,
    app_version: str,
    build_number: int | None = None,
    force: bool = False,
    template_dir: Path = Path("packer"),
    app_dir: Path = Path("packer/app"),
    output_dir: Path = Path(".pipeline/bake"),
    progress: Progress | None = None,
    packer: str = "packer",
) -> BakeResult:
    """Bake `app_version` into a gallery image version (see the module docstring). Raises ConfigError
    (version, app dir), TemplateError (templates/variables), BakeError (Packer, conflicts), AzureError."""
    started = time.monotonic()
    s, c = ctx.settings, ctx.clients
    template_dir, app_dir, output_dir = template_dir_for(s, template_dir), Path(app_dir), Path(output_dir)

    # ---- facts
    image_version = naming.image_version_from_app_version(app_version, build_number=build_number)
    if not s.is_local:
        packer_auth(os.environ)  # a CI that hands Packer no usable credential fails here, before anything changes
    source = LOCAL_SOURCE if s.is_local else AZURE_SOURCE
    package = build_package(app_dir, require=("server.py",))
    variables = packer_variables(s, subscription_id=c.subscription_id, app_version=app_version,
                                 image_version=image_version, package_sha256=package.sha256)
    summary = _check_templates(
        template_dir, source=source,
        variables={**variables, "output_dir": str(output_dir), "app_package_url": SECRET_PLACEHOLDER})
    digest = input_fingerprint(template_dir=template_dir, variables=fingerprint_variables(variables, package),
                               exclude=summary.sensitive)
    commit = git_commit(template_dir)
    try:
        versions = gallery.list_image_versions(c)
    except ResourceMissing:
        if not ctx.dry_run:
            raise
        log.info("the image definition does not exist yet; a dry run goes on as if it were empty")
        versions = []
    ledger, _ = storage.read_ledger(c.blob, container=s.storage.ledger_container, environment=s.environment)

    # ---- decide
    decision = decide(target=image_version, fingerprint=digest, versions=versions, force=force,
                      in_use=versions_in_use(ledger))
    reuse = None
    if s.is_local and decision.action == BAKE and not force:
        reuse = previous_artifact(output_dir, fingerprint=digest, image_version=image_version)
    ref_version = decision.image_version
    image_ref = f"{s.image.gallery}/{s.image.definition}/{ref_version}"
    version_id = ctx.ids.gallery_image_version(s.image.gallery, s.image.definition, ref_version)
    tags = provenance_tags(fingerprint=digest, app_version=app_version, packer_run_uuid=reuse[0] if reuse else None,
                           git_commit=commit, baked_by=ctx.who, baked_at=ctx.now())
    blob_name = package_blob_name(s.app, app_version, package)
    plan = plan_lines(
        decision, local=s.is_local, selector=summary.selector(source), app_version=app_version, fingerprint=digest,
        package_blob=f"{s.storage.packages_container}/{blob_name}", package_sha256=package.sha256,
        image_ref=image_ref, vhd_blob=f"{IMAGES_CONTAINER}/{vhd_blob_name(s.image.definition, ref_version)}",
        tag_keys=tags, reuse_run=reuse[0] if reuse else None)
    for line in plan:
        log.info("plan: %s", line)

    def result(**changes) -> BakeResult:
        base = dict(image_version=ref_version, app_version=app_version, fingerprint=digest,
                    skipped=decision.action == SKIP, reason=decision.reason, packer_run_uuid=None,
                    image_version_id=version_id, git_commit=commit, duration_s=time.monotonic() - started,
                    plan=plan, dry_run=ctx.dry_run)
        return BakeResult(**{**base, **changes})

    if ctx.dry_run:
        for line in plan:
            _say(progress, f"would {line}" if not line.startswith(("nothing", "(")) else line)
        return result(tags=MappingProxyType(tags))
    if decision.action == SKIP:
        _say(progress, decision.reason)
        existing = decision.existing_tags or {}
        return result(packer_run_uuid=existing.get("packer-run-uuid"), git_commit=existing.get("git-commit", commit),
                      tags=MappingProxyType(dict(existing)))

    # ---- act
    if decision.action == RETAG:
        merged = completed_tags(decision.existing_tags or {}, tags)
        _say(progress, f"tagging image version {image_ref} ({decision.reason})")
        version = _checked(gallery.tag_image_version(c, ref_version, tags=merged), digest=digest)
        return result(packer_run_uuid=merged.get("packer-run-uuid"), image_version_id=version.id,
                      tags=MappingProxyType(merged))

    if decision.replace:
        _say(progress, f"deleting image version {image_ref} ({decision.reason})")
        gallery.delete_image_version(c, image_version)

    if reuse is not None:
        run_uuid, image_file = reuse
        _say(progress, f"re-using the image {image_file} from Packer run {run_uuid}")
        packer_result = PackerResult(run_uuid=run_uuid, selector=summary.selector(source),
                                     artifact_id=str(image_file), files=(str(image_file),))
    else:
        packer_result = _run_packer(ctx, template_dir=template_dir, output_dir=output_dir, source=source,
                                    variables={**variables, "fingerprint": digest}, package=package,
                                    blob_name=blob_name, progress=progress, packer=packer)
    tags = {**tags, "packer-run-uuid": packer_result.run_uuid}

    if s.is_local:
        image_source = _upload_local_image(ctx, packer_result, image_version=image_version, progress=progress)
        final_tags = tags
        _say(progress, f"publishing image version {image_ref}")
        version = _publish(ctx, image_version, digest=digest, image_source=image_source, tags=final_tags)
    else:
        version, final_tags = tag_published(ctx, image_version, digest=digest, tags=tags, progress=progress)
    return result(packer_run_uuid=packer_result.run_uuid, image_version_id=version.id,
                  tags=MappingProxyType(dict(final_tags)))


def _run_packer(
    ctx: Context, *, template_dir: Path, output_dir: Path, source: str, variables: Mapping[str, object],
    package: Package, blob_name: str, progress: Progress | None, packer: str,
) -> PackerResult:
    s, c = ctx.settings, ctx.clients
    container = s.storage.packages_container
    storage.ensure_container(c.blob, container)
    path = package.write(output_dir / "packages" / Path(blob_name).name)
    _say(progress, f"uploading the app package to {container}/{blob_name}")
    storage.upload_file(c.blob, container=container, name=blob_name, path=path, content_type="application/gzip")
    signed = storage.make_read_sas(c.blob, container=container, name=blob_name, now=ctx.now())

    output: list[str] = []

    def tee(line: str) -> None:
        output.append(line)
        if progress is not None:
            progress(line)

    output_dir.mkdir(parents=True, exist_ok=True)
    redactor = None
    if not s.is_local:
        auth = packer_auth(os.environ)
        _say(progress, f"Packer authenticates with {auth.description}")
        redactor = Redactor().with_secrets(*secret_values(auth, os.environ))
        packer_init(template_dir, packer=packer, progress=tee)
    try:
        return run_packer(template_dir, build=BUILD, source=source, output_dir=output_dir, variables=variables,
                          secrets={"app_package_url": signed.secret_url}, packer=packer, progress=tee,
                          cwd=output_dir, redactor=redactor)
    except BakeError as err:
        clearer = explain_packer_failure(err, output)
        if clearer is not None:
            raise clearer from err
        raise


def _storage_account_id(ctx: Context) -> str:
    c = ctx.clients
    account = c.cloud.storage_account if c.cloud is not None else ctx.settings.storage.account
    return (f"/subscriptions/{c.subscription_id}/resourceGroups/{ctx.settings.resource_group}"
            f"/providers/Microsoft.Storage/storageAccounts/{account}")


def _upload_local_image(ctx: Context, result: PackerResult, *, image_version: str, progress: Progress | None) -> dict:
    s, c = ctx.settings, ctx.clients
    image = Path(result.files[0]) if result.files else None
    if image is None or not image.is_file():
        raise BakeError(f"packer run {result.run_uuid} reported image {image} but the file is not there; "
                        "run the bake again")
    storage.ensure_container(c.blob, IMAGES_CONTAINER)
    name = vhd_blob_name(s.image.definition, image_version)
    _say(progress, f"uploading the image to {IMAGES_CONTAINER}/{name}")
    url = storage.upload_file(c.blob, container=IMAGES_CONTAINER, name=name, path=image,
                              content_type="application/octet-stream")
    return {"vhd_uri": url, "storage_account_id": _storage_account_id(ctx)}


def tag_published(ctx: Context, image_version: str, *, digest: str, tags: Mapping[str, str],
                  progress: Progress | None = None) -> tuple[gallery.ImageVersion, dict[str, str]]:
    """Azure: Packer published the version (with its azure_tags); add the provenance tags with the update PATCH.
    Returns the version and the tags it now has."""
    s = ctx.settings
    image_ref = f"{s.image.gallery}/{s.image.definition}/{image_version}"
    published = gallery.find_image_version(ctx.clients, image_version)
    if published is None:
        raise BakeError(
            f"packer build finished but image version {image_ref} is not in the gallery; check the "
            "template's shared_image_gallery_destination and run the bake again"
        )
    final_tags = {**published.tags, **tags}
    _say(progress, f"tagging image version {image_ref} with its provenance")
    return _checked(gallery.tag_image_version(ctx.clients, image_version, tags=final_tags), digest=digest), final_tags


def _publish(ctx: Context, image_version: str, *, digest: str, image_source: dict, tags: Mapping[str, str]):
    version = gallery.create_image_version(ctx.clients, image_version, source=image_source, tags=dict(tags))
    return _checked(version, digest=digest)


def _checked(version: gallery.ImageVersion, *, digest: str) -> gallery.ImageVersion:
    image_version = version.name
    state = (version.provisioning_state or "").lower()
    if state and state != "succeeded":
        raise BakeError(
            f"image version {image_version} ended in state {version.provisioning_state}; run the bake again "
            "(it replaces a failed version with the same fingerprint)"
        )
    log.info("published image version %s (fingerprint %s)", version.id, short(digest))
    return version

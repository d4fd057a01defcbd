"""Managed images and galleries (definitions, versions): parse, call the catalog, shape the reply."""

from __future__ import annotations

import asyncio
import copy

from ..core.errors import ArmError, InvalidParameter, PatchResourceNotFound
from ..core.ids import key
from ..core.operations import utcnow
from ..core.request import ArmRequest, Reply, listing, no_content
from ..runtime.images import ImageError
from . import trusted
from . import validation as v
from .images import DEFINITION, GALLERY, IMAGE, VERSION, ImageResource, region


def catalog(req: ArmRequest):
    return req.cloud.compute.images


async def _blob_must_exist(req: ArmRequest, uri: str, target: str) -> None:
    try:
        exists = await req.cloud.compute.image_store.exists(uri)
    except ImageError as err:
        raise InvalidParameter(f"The blob URI '{uri}' is invalid: {err}", details=[{"target": target}]) from None
    if not exists:
        raise InvalidParameter(f"The blob '{uri}' referenced by '{target}' could not be found. Make sure the VHD "
                               f"exists in the storage account.", details=[{"target": target}])


def _write(req: ArmRequest, item: ImageResource, created: bool, *, codes: tuple[int, int] = (201, 200)) -> Reply:
    """Store the resource as Creating/Updating; an operation marks it Succeeded after the provisioning time."""
    cloud = req.cloud
    item.provisioning_state = "Creating" if created else "Updating"
    catalog(req).put(item)
    cloud.changed()

    async def work() -> dict:
        await asyncio.sleep(cloud.options.provisioning_seconds)
        item.provisioning_state = "Succeeded"
        cloud.changed()
        return item.render()

    def failed(err: ArmError) -> None:
        item.provisioning_state = "Failed"
        cloud.changed()

    op = cloud.operations.start(req, namespace="Microsoft.Compute", location=item.location, work=work,
                                on_failed=failed)
    return cloud.operations.accepted(req, op, status=codes[0] if created else codes[1], body=item.render())


def _delete(req: ArmRequest, item: ImageResource, nested_kind: str | None) -> Reply:
    cloud = req.cloud
    if nested_kind and catalog(req).children(item, nested_kind):
        raise ArmError("Can not delete resource before nested resources are deleted.",
                       code="CannotDeleteResource", status=409)
    item.provisioning_state = "Deleting"

    async def work() -> None:
        await asyncio.sleep(cloud.options.provisioning_seconds)
        catalog(req).remove(item)
        cloud.changed()

    op = cloud.operations.start(req, namespace="Microsoft.Compute", location=item.location, work=work)
    return cloud.operations.accepted(req, op, status=202, location_header=True)


def _existing(req: ArmRequest, kind: str, *names: str) -> ImageResource | None:
    probe = ImageResource(kind, req.subscription, req.resource_group, list(names), "", {})
    return catalog(req).find(probe.id)


# --- managed images ----------------------------------------------------------------------------------------
async def image_put(req: ArmRequest) -> Reply:
    body = req.json()
    v.check_types(body, v.IMAGE_SHAPES)
    req.cloud.resources.require(req.subscription, req.resource_group)
    location = v.require_location(body)
    props = copy.deepcopy(v.object_body(body.get("properties") or {}, "properties"))
    if props.get("sourceVirtualMachine"):
        raise InvalidParameter("Capturing an image from a virtual machine is not supported by the local cloud; "
                               "create it from a VHD blob (storageProfile.osDisk.blobUri).",
                               details=[{"target": "sourceVirtualMachine"}])
    os_disk = v.require(props, "storageProfile.osDisk", report_as="properties.storageProfile.osDisk")
    v.require(props, "storageProfile.osDisk.osType", report_as="osDisk.osType")
    v.require(props, "storageProfile.osDisk.osState", report_as="osDisk.osState")
    uri = os_disk.get("blobUri")
    if not uri:
        raise v.missing("osDisk.blobUri")
    existing = _existing(req, IMAGE, req.image)
    if existing:
        v.not_changed(existing.blob_uri, uri, "properties.storageProfile.osDisk.blobUri")
    await _blob_must_exist(req, uri, "properties.storageProfile.osDisk.blobUri")
    os_disk.setdefault("caching", "ReadWrite")
    props["storageProfile"].setdefault("dataDisks", [])
    props.setdefault("hyperVGeneration", "V1")
    item = ImageResource(IMAGE, req.subscription, req.resource_group, [req.image], location, props,
                         tags=body.get("tags") or {})
    if existing:
        item.created = existing.created
    return _write(req, item, created=existing is None)


async def image_get(req: ArmRequest) -> Reply:
    return Reply(200, catalog(req).get(IMAGE, req.subscription, req.resource_group, req.image).render())


async def image_delete(req: ArmRequest) -> Reply:
    item = _existing(req, IMAGE, req.image)
    if item is None:
        return no_content()
    return _delete(req, item, None)


async def image_list(req: ArmRequest) -> Reply:
    rg = req.params.get("resource_group")
    if rg:
        req.cloud.resources.require(req.subscription, rg)
    return listing([i.render() for i in catalog(req).in_scope(IMAGE, req.subscription, rg)])


# --- galleries -----------------------------------------------------------------------------------------------
async def gallery_put(req: ArmRequest) -> Reply:
    body = req.json()
    v.check_types(body, v.GALLERY_SHAPES)
    req.cloud.resources.require(req.subscription, req.resource_group)
    v.check_gallery_name(req.gallery)
    location = v.require_location(body)
    props = copy.deepcopy(v.object_body(body.get("properties") or {}, "properties"))
    props["identifier"] = {"uniqueName": f"{req.subscription}-{req.gallery.upper()}"}
    existing = _existing(req, GALLERY, req.gallery)
    item = ImageResource(GALLERY, req.subscription, req.resource_group, [req.gallery], location, props,
                         tags=body.get("tags") or {})
    return _write(req, item, created=existing is None)


async def gallery_get(req: ArmRequest) -> Reply:
    return Reply(200, catalog(req).get(GALLERY, req.subscription, req.resource_group, req.gallery).render())


async def gallery_delete(req: ArmRequest) -> Reply:
    item = _existing(req, GALLERY, req.gallery)
    return no_content() if item is None else _delete(req, item, DEFINITION)


async def gallery_list(req: ArmRequest) -> Reply:
    rg = req.params.get("resource_group")
    if rg:
        req.cloud.resources.require(req.subscription, rg)
    return listing([i.render() for i in catalog(req).in_scope(GALLERY, req.subscription, rg)])


# --- gallery image definitions -----------------------------------------------------------------------------
async def definition_put(req: ArmRequest) -> Reply:
    body = req.json()
    v.check_types(body, v.DEFINITION_SHAPES)
    req.cloud.resources.require(req.subscription, req.resource_group)
    names = [req.gallery, req.gallery_image]
    catalog(req).require_parent(DEFINITION, req.subscription, req.resource_group, names)
    v.check_child_name(req.gallery_image, "galleryImageName")
    location = v.require_location(body)
    props = copy.deepcopy(v.object_body(body.get("properties") or {}, "properties"))
    for path in ("osType", "osState", "identifier.publisher", "identifier.offer", "identifier.sku"):
        v.require(props, path, report_as=f"galleryImage.properties.{path}")
    props.setdefault("hyperVGeneration", "V1")
    existing = _existing(req, DEFINITION, *names)
    if existing:
        for path in ("osType", "osState", "hyperVGeneration", "identifier"):
            v.not_changed(existing.properties.get(path), props.get(path), f"galleryImage.properties.{path}")
    trusted.check_definition(props, existing.properties if existing else None)
    props.pop("allowUpdateImage", None)   # a request flag, not state
    item = ImageResource(DEFINITION, req.subscription, req.resource_group, names, location, props,
                         tags=body.get("tags") or {})
    return _write(req, item, created=existing is None)


async def definition_get(req: ArmRequest) -> Reply:
    return Reply(200, catalog(req).get(DEFINITION, req.subscription, req.resource_group, req.gallery,
                                       req.gallery_image).render())


async def definition_delete(req: ArmRequest) -> Reply:
    item = _existing(req, DEFINITION, req.gallery, req.gallery_image)
    return no_content() if item is None else _delete(req, item, VERSION)


async def definition_list(req: ArmRequest) -> Reply:
    gallery = catalog(req).get(GALLERY, req.subscription, req.resource_group, req.gallery)
    return listing([i.render() for i in catalog(req).children(gallery, DEFINITION)])


# --- gallery image versions ----------------------------------------------------------------------------------
async def _version_source(req: ArmRequest, props: dict, location: str) -> str:
    """Check the version's source and return the blob it boots from."""
    storage = v.require(props, "storageProfile", report_as="galleryImageVersion.properties.storageProfile")
    source_id = (storage.get("source") or {}).get("id")
    disk_source = (storage.get("osDiskImage") or {}).get("source") or {}
    if source_id:
        image = catalog(req).find(source_id)
        if image is None or image.kind not in (IMAGE, VERSION):
            raise ArmError(f"The source '{source_id}' of the gallery image version could not be found; it must be "
                           f"a managed image or a gallery image version.", code="NotFound", status=404,
                           details=[{"target": "storageProfile.source.id"}])
        return image.blob_uri
    uri = disk_source.get("uri")
    if not uri:
        raise InvalidParameter("Either 'storageProfile.source.id' or 'storageProfile.osDiskImage.source.uri' must "
                               "be specified for the gallery image version.",
                               details=[{"target": "storageProfile"}])
    if not disk_source.get("storageAccountId"):
        raise v.missing("storageProfile.osDiskImage.source.storageAccountId")
    await _blob_must_exist(req, uri, "storageProfile.osDiskImage.source.uri")
    return uri


def _disk_images(req: ArmRequest, storage: dict) -> None:
    """osDiskImage and dataDiskImages as Azure reports them: a version made from a managed image has one data
    disk image per data disk of the image (hostCaching from the request's entry with the same lun), and every
    disk image has a size (the source disk's, else 30 GB) and a host caching mode."""
    source = catalog(req).find((storage.get("source") or {}).get("id") or "")
    image_disks = (source.properties.get("storageProfile") or {}) if source is not None and source.kind == IMAGE \
        else {}
    os_disk_image = storage.setdefault("osDiskImage", {})
    os_disk_image.setdefault("hostCaching", "None")
    os_disk_image.setdefault("sizeInGB", (image_disks.get("osDisk") or {}).get("diskSizeGB") or 30)
    requested = {d.get("lun"): d for d in storage.get("dataDiskImages") or [] if isinstance(d, dict)}
    if image_disks:
        storage["dataDiskImages"] = [{"lun": disk.get("lun"), "sizeInGB": disk.get("diskSizeGB") or 30,
                                      "hostCaching": (requested.get(disk.get("lun")) or {}).get("hostCaching",
                                                                                                "None")}
                                     for disk in image_disks.get("dataDisks") or [] if isinstance(disk, dict)]
    else:
        storage.setdefault("dataDiskImages", [])
        for disk in storage["dataDiskImages"]:
            if isinstance(disk, dict):
                disk.setdefault("hostCaching", "None")
                disk.setdefault("sizeInGB", 30)


#: What the publishing profile falls back to when a PUT omits it. Azure's default from API 2025-03-03 is the
#: storageAccountStrategy PreferStandard_ZRS (ZRS where the region has zones); the local cloud has no zones, so
#: its regions all resolve to Standard_LRS (DIVERGENCES.md, "Gallery image versions").
DEFAULT_STORAGE_ACCOUNT_TYPE = "Standard_LRS"
_VERSION = "galleryImageVersion.properties"


def _source_of(props: dict) -> tuple[str, str | None]:
    """(the path Azure names in its message, the value) of a version's source."""
    storage = props.get("storageProfile") or {}
    source_id = (storage.get("source") or {}).get("id")
    if source_id:
        return "storageProfile.source.id", key(source_id)
    disk = (storage.get("osDiskImage") or {}).get("source") or {}
    if disk.get("id"):
        return "storageProfile.osDiskImage.source.id", key(disk["id"])
    return "storageProfile.osDiskImage.source.uri", disk.get("uri")


def _check_unchanged(existing: ImageResource, props: dict, *, patch: bool = False) -> None:
    """What Azure does not let a PUT or PATCH change on an existing version: its source, and how its replicas are
    stored (publishingProfile.storageAccountType, a kept region's storageAccountType, replicationMode,
    storageAccountStrategy). On a PUT an omitted storageAccountType means the default, so omitting it changes it
    too; on a PATCH an omitted property stays as it is."""
    if props.get("storageProfile") is not None:
        old_path, old = _source_of(existing.properties)
        new_path, new = _source_of(props)
        if (old_path, old) != (new_path, new):
            v.not_changed(old, new or "(none)", f"{_VERSION}.{old_path}")
    old_pub = existing.properties.get("publishingProfile") or {}
    new_pub = props.get("publishingProfile")
    if new_pub is None:
        return
    old_type = old_pub.get("storageAccountType", DEFAULT_STORAGE_ACCOUNT_TYPE)
    new_type = new_pub.get("storageAccountType", old_type if patch else DEFAULT_STORAGE_ACCOUNT_TYPE)
    v.not_changed(old_type, new_type, f"{_VERSION}.publishingProfile.storageAccountType")
    for name in ("replicationMode", "storageAccountStrategy"):
        v.not_changed(old_pub.get(name), new_pub.get(name), f"{_VERSION}.publishingProfile.{name}")
    kept = {region(t.get("name")): t for t in old_pub.get("targetRegions") or [] if isinstance(t, dict)}
    for i, target in enumerate(new_pub.get("targetRegions") or []):
        before = kept.get(region(target.get("name"))) if isinstance(target, dict) else None
        if before is not None:
            v.not_changed(before.get("storageAccountType", old_type), target.get("storageAccountType", new_type),
                          f"{_VERSION}.publishingProfile.targetRegions[{i}].storageAccountType")


def _publishing_defaults(publishing: dict, location: str, published: str) -> None:
    """Fill in what Azure reports for a publishing profile, and refuse target regions without the home region."""
    publishing.setdefault("replicaCount", 1)
    publishing.setdefault("storageAccountType", DEFAULT_STORAGE_ACCOUNT_TYPE)
    publishing.setdefault("excludeFromLatest", False)
    publishing["publishedDate"] = published
    targets = publishing.setdefault("targetRegions", [{"name": location}])
    names = [region(t.get("name")) for t in targets if isinstance(t, dict)]
    if region(location) not in names:
        raise InvalidParameter(f"Gallery image version publishing profile regions '{', '.join(names)}' must contain "
                               f"the location of image version '{region(location)}'.",
                               details=[{"target": f"{_VERSION}.publishingProfile.targetRegions"}])
    for target in targets:
        target.setdefault("regionalReplicaCount", publishing["replicaCount"])
        target.setdefault("storageAccountType", publishing["storageAccountType"])
        target.setdefault("excludeFromLatest", False)


async def version_put(req: ArmRequest) -> Reply:
    body = req.json()
    v.check_types(body, v.VERSION_SHAPES)
    req.cloud.resources.require(req.subscription, req.resource_group)
    names = [req.gallery, req.gallery_image, req.version]
    catalog(req).require_parent(VERSION, req.subscription, req.resource_group, names)
    v.check_version_name(req.version)
    location = v.require_location(body)
    props = copy.deepcopy(v.object_body(body.get("properties") or {}, "properties"))
    existing = _existing(req, VERSION, *names)
    if existing:
        props.setdefault("publishingProfile", {})
        _check_unchanged(existing, props)
    props["_resolvedBlobUri"] = await _version_source(req, props, location)
    publishing = props.setdefault("publishingProfile", {})
    _publishing_defaults(publishing, location,
                         existing.properties["publishingProfile"]["publishedDate"] if existing else utcnow())
    _disk_images(req, props["storageProfile"])
    safety = props.setdefault("safetyProfile", {})
    safety.setdefault("allowDeletionOfReplicatedLocations", True)
    safety.setdefault("reportedForPolicyViolation", False)
    item = ImageResource(VERSION, req.subscription, req.resource_group, names, location, props,
                         tags=body.get("tags") or {})
    if existing:
        item.created = existing.created
    return _write(req, item, created=existing is None)


#: What GalleryImageVersions_Update may change: tags, and in the publishing profile the updatable properties.
PATCHABLE_PUBLISHING = ("targetRegions", "replicaCount", "excludeFromLatest", "endOfLifeDate",
                        "targetExtendedLocations")


async def version_patch(req: ArmRequest) -> Reply:
    """GalleryImageVersions_Update: tags and the updatable publishing properties; the rest as on a re-PUT."""
    body = req.json()
    v.check_types(body, v.VERSION_SHAPES)
    req.cloud.resources.require(req.subscription, req.resource_group)
    names = [req.gallery, req.gallery_image, req.version]
    existing = _existing(req, VERSION, *names)
    if existing is None:
        raise PatchResourceNotFound(
            f"The Resource 'Microsoft.Compute/galleries/{'/'.join(names[:1])}/images/{names[1]}/versions/{names[2]}' "
            f"under resource group '{req.resource_group}' was not found. For more details please go to "
            f"https://aka.ms/ARMResourceNotFoundFix")
    patch = v.object_body(body.get("properties") or {}, "properties")
    _check_unchanged(existing, patch, patch=True)
    props = copy.deepcopy(existing.properties)
    publishing = props.setdefault("publishingProfile", {})
    for name in PATCHABLE_PUBLISHING:
        if name in (patch.get("publishingProfile") or {}):
            publishing[name] = copy.deepcopy(patch["publishingProfile"][name])
    _publishing_defaults(publishing, existing.location, publishing.get("publishedDate") or utcnow())
    if isinstance(patch.get("safetyProfile"), dict):
        props.setdefault("safetyProfile", {}).update(patch["safetyProfile"])
    tags = body["tags"] if isinstance(body.get("tags"), dict) else existing.tags
    item = ImageResource(VERSION, req.subscription, req.resource_group, names, existing.location, props,
                         tags=dict(tags))
    item.created = existing.created
    return _write(req, item, created=False)


async def version_get(req: ArmRequest) -> Reply:
    return Reply(200, catalog(req).get(VERSION, req.subscription, req.resource_group, req.gallery,
                                       req.gallery_image, req.version).render())


async def version_delete(req: ArmRequest) -> Reply:
    item = _existing(req, VERSION, req.gallery, req.gallery_image, req.version)
    return no_content() if item is None else _delete(req, item, None)


async def version_list(req: ArmRequest) -> Reply:
    definition = catalog(req).get(DEFINITION, req.subscription, req.resource_group, req.gallery, req.gallery_image)
    return listing([i.render() for i in catalog(req).children(definition, VERSION)])

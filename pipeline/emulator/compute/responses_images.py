"""Managed images and galleries (definitions, versions): parse, call the catalog, shape the reply."""

from __future__ import annotations

import asyncio
import copy

from ..core.errors import ArmError, InvalidParameter
from ..core.operations import utcnow
from ..core.request import ArmRequest, Reply, listing, no_content
from ..runtime.images import ImageError
from . import trusted
from . import validation as v
from .images import DEFINITION, GALLERY, IMAGE, VERSION, ImageResource


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
        def source(p: dict) -> tuple:
            storage = p.get("storageProfile") or {}
            return ((storage.get("source") or {}).get("id"),
                    ((storage.get("osDiskImage") or {}).get("source") or {}).get("uri"))

        v.not_changed(source(existing.properties), source(props), "galleryImageVersion.properties.storageProfile")
    props["_resolvedBlobUri"] = await _version_source(req, props, location)
    publishing = props.setdefault("publishingProfile", {})
    publishing.setdefault("replicaCount", 1)
    publishing.setdefault("storageAccountType", "Standard_LRS")
    publishing.setdefault("excludeFromLatest", False)
    publishing["publishedDate"] = existing.properties["publishingProfile"]["publishedDate"] if existing else utcnow()
    targets = publishing.setdefault("targetRegions", [{"name": location}])
    for target in targets:
        target.setdefault("regionalReplicaCount", publishing["replicaCount"])
        target.setdefault("storageAccountType", publishing["storageAccountType"])
        target.setdefault("excludeFromLatest", False)
    _disk_images(req, props["storageProfile"])
    safety = props.setdefault("safetyProfile", {})
    safety.setdefault("allowDeletionOfReplicatedLocations", True)
    safety.setdefault("reportedForPolicyViolation", False)
    item = ImageResource(VERSION, req.subscription, req.resource_group, names, location, props,
                         tags=body.get("tags") or {})
    return _write(req, item, created=existing is None)


async def version_get(req: ArmRequest) -> Reply:
    return Reply(200, catalog(req).get(VERSION, req.subscription, req.resource_group, req.gallery,
                                       req.gallery_image, req.version).render())


async def version_delete(req: ArmRequest) -> Reply:
    item = _existing(req, VERSION, req.gallery, req.gallery_image, req.version)
    return no_content() if item is None else _delete(req, item, None)


async def version_list(req: ArmRequest) -> Reply:
    definition = catalog(req).get(DEFINITION, req.subscription, req.resource_group, req.gallery, req.gallery_image)
    return listing([i.render() for i in catalog(req).children(definition, VERSION)])

"""Managed images, galleries, gallery image definitions and versions: state, and resolving what a scale set's
imageReference points at to a blob (the local image) the instance boots from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from ..core.errors import ArmError, InvalidParameter, NotFound, ResourceNotFound
from ..core.ids import key, parse
from ..core.operations import utcnow

if TYPE_CHECKING:
    from ..cloud import Cloud

IMAGE = "images"
GALLERY = "galleries"
DEFINITION = "galleries/images"
VERSION = "galleries/images/versions"


def region(location: str | None) -> str:
    """'West US' and 'westus' are the same region."""
    return (location or "").replace(" ", "").lower()


@dataclass
class ImageResource:
    kind: str                    # one of IMAGE, GALLERY, DEFINITION, VERSION
    subscription: str
    resource_group: str
    names: list[str]             # [image] / [gallery] / [gallery, definition] / [gallery, definition, version]
    location: str
    properties: dict
    tags: dict = field(default_factory=dict)
    provisioning_state: str = "Creating"
    created: str = field(default_factory=utcnow)

    @property
    def name(self) -> str:
        return self.names[-1]

    @property
    def id(self) -> str:
        base = f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/Microsoft.Compute"
        if self.kind == IMAGE:
            return f"{base}/images/{self.names[0]}"
        parts = ["galleries", "images", "versions"]
        return base + "".join(f"/{t}/{n}" for t, n in zip(parts, self.names))

    @property
    def type(self) -> str:
        return "Microsoft.Compute/" + self.kind

    @property
    def blob_uri(self) -> str | None:
        """The VHD this image or version was made from (a version made from a managed image: see resolve)."""
        storage = self.properties.get("storageProfile") or {}
        if self.kind == IMAGE:
            return (storage.get("osDisk") or {}).get("blobUri")
        return (((storage.get("osDiskImage") or {}).get("source") or {}).get("uri")
                or self.properties.get("_resolvedBlobUri"))

    def render(self) -> dict:
        props = {k: v for k, v in self.properties.items() if not k.startswith("_")}
        props["provisioningState"] = self.provisioning_state
        body = {"id": self.id, "name": self.name, "type": self.type, "location": self.location,
                "properties": props}
        if self.tags:
            body["tags"] = self.tags
        return body

    def dump(self) -> dict:
        return asdict(self)


def version_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split("."))


class ImageCatalog:
    def __init__(self, cloud: "Cloud"):
        self.cloud = cloud
        self.items: dict[str, ImageResource] = {}

    # --- lookups -----------------------------------------------------------------------------------------
    def find(self, resource_id: str) -> ImageResource | None:
        return self.items.get(key(resource_id).rstrip("/"))

    def get(self, kind: str, subscription: str, resource_group: str, *names: str) -> ImageResource:
        probe = ImageResource(kind, subscription, resource_group, list(names), "", {})
        found = self.find(probe.id)
        if found is None:
            kind_name = {IMAGE: "images", GALLERY: "galleries", DEFINITION: "galleries/images",
                         VERSION: "galleries/images/versions"}[kind]
            raise ResourceNotFound(f"The Resource 'Microsoft.Compute/{kind_name}/{'/'.join(names)}' under "
                                   f"resource group '{resource_group}' was not found. For more details please go "
                                   f"to https://aka.ms/ARMResourceNotFoundFix")
        return found

    def children(self, parent: ImageResource | None, kind: str) -> list[ImageResource]:
        out = [i for i in self.items.values() if i.kind == kind
               and (parent is None or key(i.id).startswith(key(parent.id) + "/"))]
        return sorted(out, key=lambda i: key(i.id))

    def in_scope(self, kind: str, subscription: str, resource_group: str | None) -> list[ImageResource]:
        return sorted((i for i in self.items.values() if i.kind == kind
                       and (resource_group is None or key(i.resource_group) == key(resource_group))),
                      key=lambda i: key(i.id))

    def put(self, item: ImageResource) -> None:
        self.items[key(item.id)] = item

    def remove(self, item: ImageResource) -> None:
        self.items.pop(key(item.id), None)

    def require_parent(self, kind: str, subscription: str, resource_group: str, names: list[str]) -> None:
        parent_kind = {DEFINITION: GALLERY, VERSION: DEFINITION}.get(kind)
        if parent_kind is None:
            return
        try:
            self.get(parent_kind, subscription, resource_group, *names[:-1])
        except ResourceNotFound:
            raise ArmError(f"Can not perform requested operation on nested resource. Parent resource "
                           f"'{'/'.join(names[:-1])}' not found.", code="ParentResourceNotFound",
                           status=404) from None

    def latest_version(self, definition: ImageResource) -> ImageResource | None:
        versions = [v for v in self.children(definition, VERSION) if v.provisioning_state == "Succeeded"
                    and not (v.properties.get("publishingProfile") or {}).get("excludeFromLatest")]
        return max(versions, key=lambda v: version_key(v.name), default=None)

    # --- what a scale set boots from ---------------------------------------------------------------------
    def resolve(self, reference: dict, location: str) -> dict:
        """{"uri", "reference", "version_id", "exact_version"} for an imageReference, or the ARM error Azure
        gives for it."""
        ref_id = (reference or {}).get("id")
        if not ref_id:
            if (reference or {}).get("sharedGalleryImageId") or (reference or {}).get("communityGalleryImageId"):
                raise InvalidParameter("Shared and community gallery images are not available in the local "
                                       "cloud; reference a gallery image version or a managed image by id.",
                                       details=[{"target": "imageReference"}])
            raise InvalidParameter(
                "Platform images (publisher/offer/sku/version) are not available in the local cloud; reference "
                "a managed image or a gallery image (version) by id.", details=[{"target": "imageReference"}])
        parsed = parse(ref_id)
        types = tuple(t.lower() for t in parsed.types) if parsed else ()
        if types == ("images",):
            image = self.find(ref_id)
            if image is None or region(image.location) != region(location) or image.provisioning_state != "Succeeded":
                raise NotFound(f"The Image '{ref_id}' cannot be found in '{region(location)}' region.")
            return {"uri": image.blob_uri, "reference": image.id, "version_id": None, "exact_version": None}
        if types in (("galleries", "images"), ("galleries", "images", "versions")):
            item = self.find(ref_id)
            version = item if item is not None and item.kind == VERSION else None
            if item is not None and item.kind == DEFINITION:
                version = self.latest_version(item)
            if version is None or version.provisioning_state != "Succeeded" or not self._replicated_to(version, location):
                raise NotFound(f"The gallery image {ref_id} is not available in {region(location)} region. Please "
                               f"contact image owner to replicate to this region, or change your requested region.",
                               code="GalleryImageNotFound")
            return {"uri": version.blob_uri, "reference": ref_id, "version_id": version.id,
                    "exact_version": version.name}
        raise InvalidParameter(f"The value '{ref_id}' of parameter 'imageReference.id' is invalid.",
                               details=[{"target": "imageReference.id"}])

    def security_facts(self, reference: dict) -> dict:
        """What Trusted Launch checks need of an imageReference (resolve has already vouched for it):
        {"image_kind": "gallery"|"managed", "definition_props": ..., "hyperv": ...}."""
        parsed = parse((reference or {}).get("id") or "")
        types = tuple(t.lower() for t in parsed.types) if parsed else ()
        if types == ("images",):
            image = self.find(reference["id"])
            return {"image_kind": "managed", "definition_props": None,
                    "hyperv": (image.properties.get("hyperVGeneration") if image else None)}
        definition = self.definition_of(reference)
        return {"image_kind": "gallery", "definition_props": definition.properties if definition else None,
                "hyperv": None}

    def definition_of(self, reference: dict) -> ImageResource | None:
        """The gallery image definition an imageReference points at (directly or through a version)."""
        ref_id = reference.get("id") if isinstance(reference, dict) else None
        parsed = parse(ref_id) if isinstance(ref_id, str) else None
        if parsed is None or tuple(t.lower() for t in parsed.types[:2]) != ("galleries", "images"):
            return None
        base = "/".join(reference["id"].rstrip("/").split("/")[:11])   # .../galleries/{g}/images/{d}
        found = self.find(base)
        return found if found is not None and found.kind == DEFINITION else None

    @staticmethod
    def _replicated_to(version: ImageResource, location: str) -> bool:
        targets = (version.properties.get("publishingProfile") or {}).get("targetRegions") or []
        regions = {region(t.get("name")) for t in targets} or {region(version.location)}
        return region(location) in regions

    def used_by(self, resource: ImageResource) -> list[str]:
        """Scale sets whose model or instances boot from this image (Azure blocks deleting those)."""
        users = []
        for ss in self.cloud.compute.scale_sets.values():
            ids = [(ss.profile.get("storageProfile") or {}).get("imageReference", {}).get("id", "")]
            ids += [vm.image.get("version_id") or vm.image.get("reference") or "" for vm in ss.vms.values()]
            if any(key(i) == key(resource.id) for i in ids if i):
                users.append(ss.id)
        return users

    def dump(self) -> list[dict]:
        return [i.dump() for i in self.items.values()]

    def load(self, data: list[dict]) -> None:
        self.items = {}
        for raw in data:
            item = ImageResource(**raw)
            if item.provisioning_state in ("Creating", "Updating"):
                item.provisioning_state = "Succeeded"   # the operation ended with the process; it had validated
            self.items[key(item.id)] = item

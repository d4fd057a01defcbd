"""Azure Compute Gallery calls: the gallery and image definition, image versions with provenance tags."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.azure.clients import Clients
from pipeline.config import Settings
from pipeline.azure.errors import azure_call, is_not_found, none_if_missing


@dataclass(frozen=True)
class ImageVersion:
    name: str
    id: str
    tags: dict
    provisioning_state: str

    @property
    def fingerprint(self) -> str | None:
        return self.tags.get("fingerprint")


def _version(v) -> ImageVersion:
    data = v.as_dict()
    return ImageVersion(name=data["name"], id=data["id"], tags=dict(data.get("tags") or {}),
                        provisioning_state=data.get("properties", {}).get("provisioningState", ""))


def find_image_version(clients: Clients, version: str) -> ImageVersion | None:
    s = clients.settings
    with azure_call(f"reading image version {version}"):
        found = none_if_missing(lambda: clients.compute.gallery_image_versions.get(
            s.resource_group, s.image.gallery, s.image.definition, version))
    return _version(found) if found is not None else None


def list_image_versions(clients: Clients) -> list[ImageVersion]:
    s = clients.settings
    with azure_call(f"listing versions of image {s.image.gallery}/{s.image.definition}",
                    missing="run `invoke infra` to create the gallery and image definition"):
        return [_version(v) for v in clients.compute.gallery_image_versions.list_by_gallery_image(
            s.resource_group, s.image.gallery, s.image.definition)]


def publishing_profile(settings: Settings) -> dict:
    """The publishing profile of every version the pipeline creates (pure): `image.target_regions` (default: the
    environment's region, one Standard_LRS replica), each region's storage type written out, since Azure never lets
    it change and an omitted one means Azure's default of the day."""
    targets = settings.image.replication(settings.location)
    return {"targetRegions": [{"name": t.name, "regionalReplicaCount": t.replicas,
                               "storageAccountType": t.storage_account_type} for t in targets],
            "replicaCount": targets[0].replicas, "storageAccountType": targets[0].storage_account_type,
            "excludeFromLatest": False}


def create_image_version(clients: Clients, version: str, *, source: dict, tags: dict) -> ImageVersion:
    """Create a version, tags included (one PUT: the pipeline never PUTs an existing version again).
    `source`: {"vhd_uri": ..., "storage_account_id": ...} (the local cloud) or {"managed_image_id": ...}."""
    s = clients.settings
    if "managed_image_id" in source:
        storage = {"source": {"id": source["managed_image_id"]}}
    else:
        storage = {"osDiskImage": {"hostCaching": "ReadOnly", "source": {
            "uri": source["vhd_uri"], "storageAccountId": source["storage_account_id"]}}}
    body = {"location": s.location, "tags": tags, "properties": {
        "publishingProfile": publishing_profile(s), "storageProfile": storage}}
    with azure_call(f"publishing image version {version}",
                    missing="run `invoke infra` to create the gallery and image definition"):
        return _version(clients.compute.gallery_image_versions.begin_create_or_update(
            s.resource_group, s.image.gallery, s.image.definition, version, body).result())


def tag_image_version(clients: Clients, version: str, *, tags: dict) -> ImageVersion:
    """Replace a version's tags with the update PATCH (GalleryImageVersions_Update): nothing else is sent, so
    nothing Azure does not let change (the source, the replicas' storage type) can be touched."""
    s = clients.settings
    with azure_call(f"tagging image version {version}",
                    missing="the version is gone; run the bake again to publish it"):
        return _version(clients.compute.gallery_image_versions.begin_update(
            s.resource_group, s.image.gallery, s.image.definition, version, {"tags": tags}).result())


def delete_image_version(clients: Clients, version: str) -> bool:
    from azure.core.exceptions import HttpResponseError

    s = clients.settings
    try:
        clients.compute.gallery_image_versions.begin_delete(
            s.resource_group, s.image.gallery, s.image.definition, version).result()
        return True
    except HttpResponseError as err:
        if is_not_found(err):
            return False
        with azure_call(f"deleting image version {version}"):
            raise

"""Azure Compute Gallery calls: the gallery and image definition, image versions with provenance tags."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.azure.clients import Clients
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


def get_image_version(clients: Clients, version: str) -> ImageVersion | None:
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


def create_image_version(clients: Clients, version: str, *, source: dict, tags: dict) -> ImageVersion:
    """`source`: {"vhd_uri": ..., "storage_account_id": ...} or {"managed_image_id": ...}."""
    s = clients.settings
    if "managed_image_id" in source:
        storage = {"source": {"id": source["managed_image_id"]}}
    else:
        storage = {"osDiskImage": {"hostCaching": "ReadOnly", "source": {
            "uri": source["vhd_uri"], "storageAccountId": source["storage_account_id"]}}}
    body = {"location": s.location, "tags": tags, "properties": {
        "publishingProfile": {"targetRegions": [{"name": s.location, "regionalReplicaCount": 1}],
                              "replicaCount": 1, "excludeFromLatest": False},
        "storageProfile": storage}}
    with azure_call(f"publishing image version {version}",
                    missing="run `invoke infra` to create the gallery and image definition"):
        return _version(clients.compute.gallery_image_versions.begin_create_or_update(
            s.resource_group, s.image.gallery, s.image.definition, version, body).result())


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

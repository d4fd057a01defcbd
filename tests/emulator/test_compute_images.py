"""Managed images and galleries through the real SDK: lifecycle, sources, errors, official examples."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

EXAMPLES = Path(__file__).parent / "azure_examples"


def example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def fill(body: dict, **values: str) -> dict:
    text = json.dumps(body)
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return json.loads(text)


def assert_fields_present(ours: dict, theirs: dict, path: str = "", *, allowed_gaps: set[str] = frozenset()):
    """Every field of Azure's example response is in ours (or listed as a documented gap)."""
    for name, value in theirs.items():
        where = f"{path}.{name}" if path else name
        if where in allowed_gaps:
            continue
        assert name in ours, f"missing field {where}"
        if isinstance(value, dict) and isinstance(ours[name], dict):
            assert_fields_present(ours[name], value, where, allowed_gaps=allowed_gaps)


def rg_base(arm, rg: str) -> str:
    return f"/subscriptions/{arm.subscription_id}/resourceGroups/{rg}/providers/Microsoft.Compute"


def raw_get(arm, path: str, api_version: str) -> dict:
    from tests.emulator.test_frontdoor import raw

    status, _, body = raw(arm, "GET", f"{path}?api-version={api_version}")
    assert status == 200, body
    return body


def image_body(url: str, location: str = "westeurope") -> dict:
    return {"location": location, "properties": {"storageProfile": {"osDisk": {
        "osType": "Linux", "osState": "Generalized", "blobUri": url}}}}


def test_managed_image_lifecycle(arm, resource_group, local_image):
    url = local_image("1.0.0")
    poller = arm.compute.images.begin_create_or_update(resource_group, "img", image_body(url))
    image = poller.result()
    assert image.provisioning_state == "Succeeded"
    assert image.storage_profile.os_disk.blob_uri == url and image.storage_profile.os_disk.caching == "ReadWrite"
    got = arm.compute.images.get(resource_group, "IMG")
    assert got.id.endswith("/providers/Microsoft.Compute/images/img") and got.type == "Microsoft.Compute/images"
    assert [i.name for i in arm.compute.images.list_by_resource_group(resource_group)] == ["img"]
    assert [i.name for i in arm.compute.images.list()] == ["img"]
    again = arm.compute.images.begin_create_or_update(resource_group, "img", {**image_body(url), "tags": {"a": "b"}}).result()
    assert again.tags == {"a": "b"}
    arm.compute.images.begin_delete(resource_group, "img").result()
    with pytest.raises(ResourceNotFoundError) as err:
        arm.compute.images.get(resource_group, "img")
    assert err.value.error.code == "ResourceNotFound"
    arm.compute.images.begin_delete(resource_group, "img").result()   # already gone: still succeeds


def test_managed_image_errors(arm, resource_group, local_image):
    with pytest.raises(HttpResponseError) as err:
        arm.compute.images.begin_create_or_update(resource_group, "img", image_body(
            local_image("1.0.0").rsplit("/", 1)[0] + "/no-such.vhd"))
    assert err.value.status_code == 400 and err.value.error.code == "InvalidParameter"
    with pytest.raises(HttpResponseError) as err:
        arm.compute.images.begin_create_or_update(resource_group, "img", {"location": "westeurope", "properties": {
            "storageProfile": {"osDisk": {"osState": "Generalized", "blobUri": "http://x/y/z"}}}})
    assert err.value.error.code == "InvalidParameter" and "osType" in err.value.error.message
    with pytest.raises(ResourceNotFoundError) as err:
        arm.compute.images.begin_create_or_update("rg-missing", "img", image_body(local_image()))
    assert err.value.error.code == "ResourceGroupNotFound"
    with pytest.raises(HttpResponseError) as err:
        arm.compute.images.begin_create_or_update(resource_group, "img", {"properties": {}})
    assert err.value.error.code == "LocationRequired"


def test_image_example_replayed(arm, resource_group, local_image):
    ex = example("compute/Image_CreateFromABlob.json")
    body = copy.deepcopy(ex["parameters"]["parameters"])
    body["properties"]["storageProfile"]["osDisk"]["blobUri"] = local_image()
    image = arm.compute.images.begin_create_or_update(resource_group, "myImage", body).result()
    ours = raw_get(arm, f"{rg_base(arm, resource_group)}/images/myImage", "2026-04-01")
    assert_fields_present(ours, ex["responses"]["200"]["body"])
    assert image.storage_profile.zone_resilient is True


# --- galleries ---------------------------------------------------------------------------------------------------
def make_gallery(arm, rg, gallery="gal", definition="app"):
    arm.compute.galleries.begin_create_or_update(rg, gallery, {"location": "westeurope",
                                                               "properties": {"description": "d"}}).result()
    arm.compute.gallery_images.begin_create_or_update(rg, gallery, definition, {
        "location": "westeurope", "properties": {"osType": "Linux", "osState": "Generalized",
                                                 "identifier": {"publisher": "p", "offer": "o", "sku": "s"}}}).result()


def version_body(url: str, *, regions=("westeurope",), exclude: bool = False) -> dict:
    return {"location": "westeurope", "tags": {"app_version": "x"}, "properties": {
        "publishingProfile": {"targetRegions": [{"name": r} for r in regions], "excludeFromLatest": exclude},
        "storageProfile": {"osDiskImage": {"source": {
            "uri": url, "storageAccountId": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/"
                                            "storageAccounts/devstoreaccount1"}}}}}


def test_gallery_lifecycle(arm, resource_group, local_image):
    make_gallery(arm, resource_group)
    gallery = arm.compute.galleries.get(resource_group, "gal")
    assert gallery.identifier.unique_name.endswith("-GAL") and gallery.provisioning_state == "Succeeded"
    assert [g.name for g in arm.compute.galleries.list_by_resource_group(resource_group)] == ["gal"]
    definition = arm.compute.gallery_images.get(resource_group, "gal", "app")
    assert definition.identifier.publisher == "p" and definition.hyper_v_generation == "V1"
    url = local_image("1.0.0")
    v1 = arm.compute.gallery_image_versions.begin_create_or_update(resource_group, "gal", "app", "1.0.0",
                                                                   version_body(url)).result()
    assert v1.provisioning_state == "Succeeded" and v1.tags == {"app_version": "x"}
    assert v1.publishing_profile.replica_count == 1 and v1.publishing_profile.published_date is not None
    assert v1.storage_profile.os_disk_image.source.uri == url
    image_id = arm.compute.images.begin_create_or_update(resource_group, "img", {
        "location": "westeurope", "properties": {"storageProfile": {"osDisk": {
            "osType": "Linux", "osState": "Generalized", "blobUri": local_image("1.1.0")}}}}).result().id
    v2 = arm.compute.gallery_image_versions.begin_create_or_update(resource_group, "gal", "app", "1.1.0", {
        "location": "westeurope", "properties": {"storageProfile": {"source": {"id": image_id}}}}).result()
    assert v2.storage_profile.source.id == image_id
    names = [v.name for v in arm.compute.gallery_image_versions.list_by_gallery_image(resource_group, "gal", "app")]
    assert names == ["1.0.0", "1.1.0"]
    assert [d.name for d in arm.compute.gallery_images.list_by_gallery(resource_group, "gal")] == ["app"]
    # nested resources block deletes, as ARM does
    with pytest.raises(ResourceExistsError) as err:
        arm.compute.gallery_images.begin_delete(resource_group, "gal", "app")
    assert err.value.error.code == "CannotDeleteResource"
    for name in names:
        arm.compute.gallery_image_versions.begin_delete(resource_group, "gal", "app", name).result()
    arm.compute.gallery_images.begin_delete(resource_group, "gal", "app").result()
    arm.compute.galleries.begin_delete(resource_group, "gal").result()
    with pytest.raises(ResourceNotFoundError):
        arm.compute.galleries.get(resource_group, "gal")


def test_gallery_version_status_codes_and_lro(arm, resource_group, local_image):
    from tests.emulator.test_frontdoor import raw

    make_gallery(arm, resource_group)
    path = (f"/subscriptions/{arm.subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Compute/"
            f"galleries/gal/images/app/versions/1.0.0?api-version=2026-03-03")
    url = local_image()
    status, headers, body = raw(arm, "PUT", path, body=version_body(url))
    assert status == 201 and body["properties"]["provisioningState"] == "Creating"
    assert "Azure-AsyncOperation" in headers
    poller = arm.compute.gallery_image_versions.begin_create_or_update(resource_group, "gal", "app", "1.0.0",
                                                                       version_body(url, regions=("westeurope", "northeurope")))
    assert poller.result().provisioning_state == "Succeeded"
    assert len(poller.result().publishing_profile.target_regions) == 2
    with pytest.raises(ResourceExistsError) as err:   # the source of a version cannot change
        arm.compute.gallery_image_versions.begin_create_or_update(resource_group, "gal", "app", "1.0.0",
                                                                  version_body(local_image()))
    assert err.value.error.code == "PropertyChangeNotAllowed"


def test_gallery_errors(arm, resource_group, local_image):
    with pytest.raises(ResourceNotFoundError) as err:
        arm.compute.gallery_images.begin_create_or_update(resource_group, "nogal", "app", {
            "location": "westeurope", "properties": {"osType": "Linux", "osState": "Generalized",
                                                     "identifier": {"publisher": "p", "offer": "o", "sku": "s"}}})
    assert err.value.error.code == "ParentResourceNotFound"
    with pytest.raises(HttpResponseError) as err:
        arm.compute.galleries.begin_create_or_update(resource_group, "bad-name", {"location": "westeurope"})
    assert err.value.error.code == "InvalidParameter"
    make_gallery(arm, resource_group)
    with pytest.raises(HttpResponseError) as err:
        arm.compute.gallery_images.begin_create_or_update(resource_group, "gal", "d2", {
            "location": "westeurope", "properties": {"osType": "Linux", "osState": "Generalized"}})
    assert err.value.error.code == "InvalidParameter" and "identifier" in err.value.error.message
    with pytest.raises(HttpResponseError) as err:
        arm.compute.gallery_image_versions.begin_create_or_update(resource_group, "gal", "app", "1.0",
                                                                  version_body(local_image()))
    assert err.value.error.code == "InvalidParameter" and "Major" in err.value.error.message
    missing_blob = local_image().rsplit("/", 1)[0] + "/gone.vhd"
    with pytest.raises(HttpResponseError) as err:
        arm.compute.gallery_image_versions.begin_create_or_update(resource_group, "gal", "app", "1.0.0",
                                                                  version_body(missing_blob))
    assert err.value.error.code == "InvalidParameter"
    body = version_body(local_image())
    del body["properties"]["storageProfile"]["osDiskImage"]["source"]["storageAccountId"]
    with pytest.raises(HttpResponseError) as err:
        arm.compute.gallery_image_versions.begin_create_or_update(resource_group, "gal", "app", "1.0.0", body)
    assert "storageAccountId" in err.value.error.message
    with pytest.raises(ResourceNotFoundError) as err:
        arm.compute.gallery_image_versions.get(resource_group, "gal", "app", "9.9.9")
    assert err.value.error.code == "ResourceNotFound"


def test_gallery_examples_replayed(arm, resource_group, local_image):
    ex = example("gallery/Gallery_Create.json")
    ours = arm.compute.galleries.begin_create_or_update(resource_group, "myGalleryName",
                                                        ex["parameters"]["gallery"]).result()
    assert ours.description == "This is the gallery description."
    ex = example("gallery/GalleryImage_Create.json")
    arm.compute.gallery_images.begin_create_or_update(resource_group, "myGalleryName", "myGalleryImageName",
                                                      ex["parameters"]["galleryImage"]).result()
    image_id = arm.compute.images.begin_create_or_update(resource_group, "img", image_body(local_image(),
                                                         location="West US")).result().id
    ex = example("gallery/GalleryImageVersion_Create.json")
    body = ex["parameters"]["galleryImageVersion"]
    body["properties"]["storageProfile"]["source"]["id"] = image_id
    arm.compute.gallery_image_versions.begin_create_or_update(
        resource_group, "myGalleryName", "myGalleryImageName", "1.0.0", body).result()
    ours = raw_get(arm, f"{rg_base(arm, resource_group)}/galleries/myGalleryName/images/myGalleryImageName"
                        f"/versions/1.0.0", "2026-03-03")
    assert_fields_present(ours, ex["responses"]["201"]["body"], allowed_gaps={
        "properties.safetyProfile.policyViolations", "properties.safetyProfile.reportedForPolicyViolation"})
    ex = example("gallery/GalleryImageVersion_Create_WithVHD.json")
    body = ex["parameters"]["galleryImageVersion"]
    body["properties"]["storageProfile"]["osDiskImage"]["source"]["uri"] = local_image()
    body["properties"]["storageProfile"]["dataDiskImages"][0]["source"]["uri"] = local_image()
    ours = arm.compute.gallery_image_versions.begin_create_or_update(
        resource_group, "myGalleryName", "myGalleryImageName", "1.0.1", body).result()
    assert ours.storage_profile.os_disk_image.host_caching == "ReadOnly"
    got = arm.compute.gallery_image_versions.get(resource_group, "myGalleryName", "myGalleryImageName", "1.0.1")
    assert got.publishing_profile.target_regions[1].storage_account_type == "Standard_ZRS"

"""Gallery image versions as Azure lets them change: a re-PUT may not change the source or how the replicas are
stored; the update PATCH (GalleryImageVersions_Update) changes tags and target regions. Real SDK over HTTPS."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from tests.emulator.test_compute_images import make_gallery, version_body


def _put(arm, rg, body, version="1.0.0"):
    return arm.compute.gallery_image_versions.begin_create_or_update(rg, "gal", "app", version, body).result()


def _patch(arm, rg, body, version="1.0.0"):
    return arm.compute.gallery_image_versions.begin_update(rg, "gal", "app", version, body).result()


@pytest.fixture
def published(arm, resource_group, local_image):
    """A version published with Standard_ZRS replicas (as Packer's azure plugin may publish it)."""
    make_gallery(arm, resource_group)
    body = version_body(local_image())
    body["properties"]["publishingProfile"]["storageAccountType"] = "Standard_ZRS"
    _put(arm, resource_group, body)
    return body


def test_re_put_without_storage_account_type_is_refused(arm, resource_group, published):
    body = {**published, "tags": {**published["tags"], "fingerprint": "f"}}
    body["properties"] = {**published["properties"], "publishingProfile": {"targetRegions": [{"name": "westeurope"}]}}
    with pytest.raises(ResourceExistsError) as err:   # omitted means the default, Standard_LRS: a change
        _put(arm, resource_group, body)
    assert err.value.status_code == 409 and err.value.error.code == "PropertyChangeNotAllowed"
    assert err.value.error.message == ("Changing property 'galleryImageVersion.properties.publishingProfile."
                                       "storageAccountType' is not allowed.")
    got = arm.compute.gallery_image_versions.get(resource_group, "gal", "app", "1.0.0")
    assert got.publishing_profile.storage_account_type == "Standard_ZRS" and "fingerprint" not in got.tags


def test_re_put_changing_a_kept_regions_storage_type_is_refused(arm, resource_group, published):
    published["properties"]["publishingProfile"]["targetRegions"] = [
        {"name": "westeurope", "storageAccountType": "Premium_LRS"}]
    with pytest.raises(ResourceExistsError) as err:
        _put(arm, resource_group, published)
    assert err.value.error.code == "PropertyChangeNotAllowed" and "targetRegions[0].storageAccountType" in \
        err.value.error.message


def test_re_put_changing_the_source_is_refused_with_azures_message(arm, resource_group, published, local_image):
    published["properties"]["storageProfile"]["osDiskImage"]["source"]["uri"] = local_image()
    with pytest.raises(ResourceExistsError) as err:
        _put(arm, resource_group, published)
    assert err.value.status_code == 409
    assert err.value.error.message == ("Changing property 'galleryImageVersion.properties.storageProfile."
                                       "osDiskImage.source.uri' is not allowed.")


def test_re_put_with_the_same_unchangeable_properties_updates_tags_and_regions(arm, resource_group, published):
    published["tags"] = {"a": "1"}
    published["properties"]["publishingProfile"]["targetRegions"] = [{"name": "westeurope"}, {"name": "northeurope"}]
    got = _put(arm, resource_group, published)
    assert got.tags == {"a": "1"} and [t.name for t in got.publishing_profile.target_regions] == [
        "westeurope", "northeurope"]
    assert {t.storage_account_type for t in got.publishing_profile.target_regions} == {"Standard_ZRS"}


def test_target_regions_must_hold_the_versions_own_region(arm, resource_group, local_image):
    make_gallery(arm, resource_group)
    with pytest.raises(HttpResponseError) as err:
        _put(arm, resource_group, version_body(local_image(), regions=("northeurope",)))
    assert err.value.status_code == 400 and err.value.error.code == "InvalidParameter"
    assert "must contain the location of image version 'westeurope'" in err.value.error.message


def test_patch_updates_tags_and_target_regions_and_keeps_the_rest(arm, resource_group, published):
    before = arm.compute.gallery_image_versions.get(resource_group, "gal", "app", "1.0.0")
    got = _patch(arm, resource_group, {"tags": {"app_version": "x", "fingerprint": "f"}, "properties": {
        "publishingProfile": {"targetRegions": [{"name": "westeurope", "regionalReplicaCount": 2},
                                                {"name": "northeurope"}]}}})
    assert got.provisioning_state == "Succeeded" and got.tags == {"app_version": "x", "fingerprint": "f"}
    regions = {t.name: t for t in got.publishing_profile.target_regions}
    assert regions["westeurope"].regional_replica_count == 2
    assert regions["northeurope"].storage_account_type == "Standard_ZRS"   # the version's type, not a default
    assert got.publishing_profile.storage_account_type == "Standard_ZRS"
    assert got.publishing_profile.published_date == before.publishing_profile.published_date
    assert got.storage_profile.os_disk_image.source.uri == before.storage_profile.os_disk_image.source.uri
    tags_only = _patch(arm, resource_group, {"tags": {"only": "this"}})
    assert tags_only.tags == {"only": "this"} and len(tags_only.publishing_profile.target_regions) == 2


def test_patch_answers_200_with_an_async_operation(arm, resource_group, published):
    from tests.emulator.test_frontdoor import raw

    path = (f"/subscriptions/{arm.subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Compute/"
            f"galleries/gal/images/app/versions/1.0.0?api-version=2026-03-03")
    status, headers, body = raw(arm, "PATCH", path, body={"tags": {"k": "v"}})
    assert status == 200 and body["properties"]["provisioningState"] == "Updating" and body["tags"] == {"k": "v"}
    assert "/providers/Microsoft.Compute/locations/westeurope/operations/" in headers["Azure-AsyncOperation"]


def test_patch_may_not_change_what_a_put_may_not(arm, resource_group, published):
    with pytest.raises(ResourceExistsError) as err:
        _patch(arm, resource_group, {"properties": {"publishingProfile": {"storageAccountType": "Standard_LRS"}}})
    assert err.value.error.code == "PropertyChangeNotAllowed"
    with pytest.raises(ResourceExistsError) as err:
        _patch(arm, resource_group, {"properties": {"storageProfile": {"source": {"id": "/subscriptions/s/x"}}}})
    assert err.value.error.code == "PropertyChangeNotAllowed" and "storageProfile" in err.value.error.message


def test_patch_of_a_missing_version_is_patch_resource_not_found(arm, resource_group, published):
    with pytest.raises(ResourceNotFoundError) as err:
        _patch(arm, resource_group, {"tags": {"k": "v"}}, version="9.9.9")
    assert err.value.status_code == 404 and err.value.error.code == "PatchResourceNotFound"
    assert "versions/9.9.9" in err.value.error.message


def test_patch_with_a_wrongly_typed_body_is_azures_400(arm, resource_group, published):
    with pytest.raises(HttpResponseError) as err:
        _patch(arm, resource_group, {"tags": ["not", "a", "map"]})
    assert err.value.status_code == 400 and err.value.error.code == "InvalidRequestContent"

"""The bake step end to end on the local cloud: real Packer 1.6.6, the ARM emulator's gallery through the real
SDK, Azurite for the package and the image blob."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from datetime import timedelta
from pathlib import Path

import pytest

from pipeline.azure import gallery, storage
from pipeline.bake.provenance import PROVENANCE_KEYS
from pipeline.errors import BakeError, ResourceMissing, TemplateError
from pipeline.steps.bake import IMAGES_CONTAINER, bake
from pipeline.steps.context import utcnow
from pipeline.steps.infra import ensure_infra

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("packer") is None, reason="packer is not installed")]


@pytest.fixture
def packer_dir(tmp_path) -> Path:
    """A copy of packer/ (templates, scripts, app) that a test may break or change."""
    target = tmp_path / "packer"
    shutil.copytree(REPO / "packer", target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture
def baker(ctx, packer_dir, tmp_path):
    """bake() with the test's template copy and output dir; records progress lines in `.lines`."""
    ensure_infra(ctx)

    class Baker:
        lines: list[str] = []

        def __call__(self, **kwargs):
            kwargs.setdefault("app_version", "1.4.0")
            return bake(ctx, template_dir=packer_dir, app_dir=packer_dir / "app", output_dir=tmp_path / "out",
                        progress=self.lines.append, **kwargs)

    return Baker()


def read_blob(ctx, container: str, name: str) -> bytes:
    return ctx.clients.blob.get_blob_client(container, name).download_blob().readall()


def test_bake_publishes_a_tagged_version_from_the_uploaded_image_then_skips(ctx, baker, caplog):
    caplog.set_level("DEBUG")
    s = ctx.settings
    result = baker()

    assert not result.skipped and result.image_version == "1.4.0" and result.packer_run_uuid
    assert result.summary.startswith("baked image version 1.4.0 (app 1.4.0, fingerprint ")
    version = gallery.find_image_version(ctx.clients, "1.4.0")
    assert version.provisioning_state == "Succeeded" and version.id == result.image_version_id
    assert set(PROVENANCE_KEYS) <= set(version.tags)
    assert version.tags["fingerprint"] == result.fingerprint
    assert version.tags["packer-run-uuid"] == result.packer_run_uuid
    assert version.tags["app-version"] == "1.4.0" and version.tags["baked-by"] == "tester@pipeline-tests"
    assert version.tags["git-commit"] == result.git_commit == "unknown"  # the template copy is outside git

    vhd = read_blob(ctx, IMAGES_CONTAINER, f"{s.image.definition}/1.4.0.vhd")
    with tarfile.open(fileobj=io.BytesIO(vhd), mode="r:gz") as tar:
        image = json.load(tar.extractfile("image.json"))
        assert tar.extractfile("opt/app/VERSION").read().strip() == b"1.4.0"
    assert image["format"] == "pipeline-local-image/1" and image["app_version"] == "1.4.0"
    packages = [b.name for b in ctx.clients.blob.get_container_client(s.storage.packages_container).list_blobs()]
    assert len(packages) == 1 and packages[0].startswith("hello/app-1.4.0-")
    assert any("sha256 verified" in line for line in baker.lines)
    for text in (*baker.lines, caplog.text, json.dumps(result.to_json())):
        assert "sig=" not in text.replace("sig=<redacted>", "")

    again = baker()
    assert again.skipped and again.image_version == "1.4.0"
    assert again.reason == f"image version 1.4.0 already has fingerprint {result.fingerprint[:12]}; use --force to rebake"
    assert again.packer_run_uuid == result.packer_run_uuid

    # A CI build of the same content under another version name finds the same image.
    other = baker(app_version="1.4.0", build_number=5)
    assert other.skipped and other.image_version == "1.4.0"
    assert [v.name for v in gallery.list_image_versions(ctx.clients)] == ["1.4.0"]


def test_dry_run_checks_and_plans_but_changes_nothing(ctx, baker, packer_dir, tmp_path):
    ctx.dry_run = True
    result = baker()
    assert result.dry_run and not result.skipped and result.packer_run_uuid is None
    assert result.summary.startswith("dry run: would bake image version 1.4.0")
    assert [line.split(" ")[0] for line in result.plan] == ["upload", "sign", "run", "upload", "publish"]
    assert "-only=app.null.local" in result.plan[2]
    assert gallery.list_image_versions(ctx.clients) == []
    assert not ctx.clients.blob.get_container_client(ctx.settings.storage.packages_container).exists() or \
        not list(ctx.clients.blob.get_container_client(ctx.settings.storage.packages_container).list_blobs())
    assert not (tmp_path / "out").exists()

    (packer_dir / "build.pkr.hcl").write_text('build {\n  name = "app"\n  sources = [\n')
    with pytest.raises(TemplateError, match="build.pkr.hcl"):
        baker()


def test_other_content_under_the_same_version_needs_force_and_force_respects_the_ledger(ctx, baker, packer_dir):
    first = baker()
    (packer_dir / "app" / "extra.txt").write_text("new content\n")

    with pytest.raises(BakeError) as err:
        baker()
    message = str(err.value)
    assert "image version 1.4.0 already exists with fingerprint" in message and "--force" in message
    assert "\n" not in message and err.value.exit_code != 0

    replaced = baker(force=True)
    assert not replaced.skipped and replaced.fingerprint != first.fingerprint
    assert gallery.find_image_version(ctx.clients, "1.4.0").tags["fingerprint"] == replaced.fingerprint
    assert any("deleting image version" in line for line in baker.lines)

    ctx.record("staged", fleet="hello-local-1-4-0", image_version="1.4.0", color="green")
    (packer_dir / "app" / "extra.txt").write_text("newer content\n")
    with pytest.raises(BakeError, match="fleet\\(s\\) hello-local-1-4-0 in the ledger use it"):
        baker(force=True)
    assert gallery.find_image_version(ctx.clients, "1.4.0").tags["fingerprint"] == replaced.fingerprint


def test_a_run_killed_after_packer_converges_on_rerun(ctx, baker, tmp_path):
    first = baker()
    # As if killed after Packer and the VHD upload, before the version was PUT.
    assert gallery.delete_image_version(ctx.clients, "1.4.0")
    baker.lines.clear()

    second = baker()
    assert not second.skipped and second.packer_run_uuid == first.packer_run_uuid
    assert any("re-using the image" in line for line in baker.lines)
    assert not any("packer" in line.lower() and "==>" in line for line in baker.lines)
    version = gallery.find_image_version(ctx.clients, "1.4.0")
    assert version.tags["packer-run-uuid"] == first.packer_run_uuid and version.provisioning_state == "Succeeded"

    # Killed before Packer wrote its manifest: Packer runs again, the blobs are overwritten, the PUT converges.
    assert gallery.delete_image_version(ctx.clients, "1.4.0")
    (tmp_path / "out" / "packer-manifest.json").unlink()
    third = baker()
    assert third.packer_run_uuid not in (None, first.packer_run_uuid)
    assert gallery.find_image_version(ctx.clients, "1.4.0").tags["packer-run-uuid"] == third.packer_run_uuid


def test_an_expired_sas_is_a_clear_bake_error(ctx, baker):
    ctx.now = lambda: utcnow() - timedelta(hours=2)  # the SAS is signed as if two hours ago: expired now
    with pytest.raises(BakeError) as err:
        baker()
    message = str(err.value)
    assert "SAS URL was denied or has expired (HTTP 403)" in message and "run the bake again" in message
    assert "\n" not in message and "sig=" not in message
    assert gallery.list_image_versions(ctx.clients) == []


def _break(packer_dir: Path, name: str, old: str, new: str) -> None:
    path = packer_dir / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    "file, old, new, expected",
    [
        ("inputs.pkr.hcl", 'variable "fingerprint" {', 'variable "fingerprint" {{', "inputs.pkr.hcl"),
        ("build.pkr.hcl", '"source.null.local",', "", "has no source 'null.local'"),
        ("variables.pkr.hcl", "# ---- Where", 'variable "needed" {\n  type = string\n}\n# ---- Where',
         "variables needed have no default and no value"),
    ],
    ids=["malformed-hcl", "unknown-source", "missing-variable"],
)
def test_template_errors_stop_the_bake_before_anything_changes(ctx, baker, packer_dir, file, old, new, expected):
    _break(packer_dir, file, old, new)
    with pytest.raises(TemplateError) as err:
        baker()
    message = str(err.value)
    assert expected in message and str(packer_dir) in message and "\n" not in message
    assert err.value.exit_code == 2
    assert gallery.list_image_versions(ctx.clients) == []
    container = ctx.clients.blob.get_container_client(ctx.settings.storage.packages_container)
    assert not container.exists() or not list(container.list_blobs())


def test_a_missing_gallery_is_reported_with_the_fix(ctx, packer_dir, tmp_path):
    with pytest.raises(ResourceMissing) as err:  # no ensure_infra: no resource group, gallery or definition
        bake(ctx, app_version="1.4.0", template_dir=packer_dir, app_dir=packer_dir / "app",
             output_dir=tmp_path / "out")
    assert "invoke infra" in str(err.value) and err.value.exit_code != 0

    ctx.dry_run = True  # a dry run before `invoke infra` (e.g. `invoke release --dry-run`) plans a bake
    planned = bake(ctx, app_version="1.4.0", template_dir=packer_dir, app_dir=packer_dir / "app",
                   output_dir=tmp_path / "out")
    assert planned.dry_run and not planned.skipped and planned.plan[-1].startswith("publish gallery image version")


def test_sas_blob_is_read_only_and_package_is_deterministic(ctx, baker):
    first = baker()
    s = ctx.settings
    names = [b.name for b in ctx.clients.blob.get_container_client(s.storage.packages_container).list_blobs()]
    signed = storage.make_read_sas(ctx.clients.blob, container=s.storage.packages_container, name=names[0])
    assert signed.url.endswith(names[0])
    # Same app, same package name: re-running with --force re-uploads the same bytes under the same name.
    baker(force=True)
    assert [b.name for b in ctx.clients.blob.get_container_client(s.storage.packages_container).list_blobs()] == names
    assert first.fingerprint == gallery.find_image_version(ctx.clients, "1.4.0").tags["fingerprint"]


def test_a_version_published_without_our_tags_gets_them(ctx, baker):
    first = baker()
    version = gallery.find_image_version(ctx.clients, "1.4.0")
    s = ctx.settings
    vhd = ctx.clients.blob.get_blob_client(IMAGES_CONTAINER, f"{s.image.definition}/1.4.0.vhd").url
    # As Packer leaves it on Azure when the run is killed before tagging: only its own tags.
    bare = {"fingerprint": first.fingerprint, "built_by": "packer"}
    gallery.create_image_version(ctx.clients, "1.4.0", tags=bare, source={
        "vhd_uri": vhd, "storage_account_id": version_source_account(ctx)})

    result = baker()
    assert not result.skipped and "lacks tags" in result.reason
    tags = gallery.find_image_version(ctx.clients, "1.4.0").tags
    assert tags["built_by"] == "packer" and set(PROVENANCE_KEYS) <= set(tags)
    assert baker().skipped


def version_source_account(ctx) -> str:
    return (f"/subscriptions/{ctx.clients.subscription_id}/resourceGroups/{ctx.settings.resource_group}"
            f"/providers/Microsoft.Storage/storageAccounts/{ctx.clients.cloud.storage_account}")


def test_the_azure_variables_the_step_passes_are_declared_and_the_templates_parse(tmp_path):
    """packer/azure with exactly the variables bake() gives it: declared, names valid (the pipeline's own check),
    and Packer 1.6.6 reads the files' syntax (it cannot load the azure plugin 2.x they pin: packer/README.md)."""
    import os
    import subprocess

    from pipeline.bake.templates import check_templates
    from pipeline.config import load_settings
    from pipeline.steps.bake import AZURE_SOURCE, packer_variables, template_dir_for

    s = load_settings(path=REPO / "pipeline.toml", environment="azure-example", environ={})
    variables = packer_variables(s, subscription_id=s.subscription_id, app_version="1.4.0", image_version="1.4.0",
                                 package_sha256="a" * 64)
    azure_dir = template_dir_for(s, REPO / "packer")
    check_templates(azure_dir, build="app", source=AZURE_SOURCE, environ={},
                    variables={**variables, "output_dir": str(tmp_path), "fingerprint": "b" * 64,
                               "app_package_url": "https://x.blob.core.windows.net/p/a.tar.gz?sig=x"})
    copy = tmp_path / "azure"
    copy.mkdir()
    for path in azure_dir.glob("*.pkr.hcl"):
        if path.name != "plugins.pkr.hcl":   # required_plugins: Packer >= 1.7 only
            (copy / path.name).write_text(path.read_text())
    done = subprocess.run(["packer", "validate", "-syntax-only", str(copy)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "CHECKPOINT_DISABLE": "1"})
    assert done.returncode == 0, done.stdout + done.stderr

def _counters(cloud) -> dict[tuple[str, str], int]:
    import requests

    answer = requests.get(f"{cloud.endpoint}/_emulator/counters", timeout=10, verify=str(cloud.server.ca_file),
                          headers={"Authorization": f"Bearer {cloud.options.token}"})
    answer.raise_for_status()
    out: dict[tuple[str, str], int] = {}
    for row in answer.json()["value"]:
        out[(row["method"], row["operation"])] = out.get((row["method"], row["operation"]), 0) + int(row["count"])
    return out


def test_azure_provenance_tags_go_on_with_the_update_patch_never_a_second_put(ctx, cloud, local_image):
    """What bake() does on Azure after Packer published a version: one PATCH of the tags. A version Packer
    published with Standard_ZRS replicas in two regions keeps them (a re-PUT without them would be refused)."""
    from pipeline.steps.bake import tag_published

    ensure_infra(ctx)
    s, c = ctx.settings, ctx.clients
    packer_body = {"location": s.location, "tags": {"built_by": "packer", "fingerprint": "f" * 64}, "properties": {
        "publishingProfile": {"storageAccountType": "Standard_ZRS",
                              "targetRegions": [{"name": s.location, "regionalReplicaCount": 2},
                                                {"name": "northeurope"}]},
        "storageProfile": {"osDiskImage": {"source": {"uri": local_image("1.4.0"),
                                                      "storageAccountId": version_source_account(ctx)}}}}}
    c.compute.gallery_image_versions.begin_create_or_update(
        s.resource_group, s.image.gallery, s.image.definition, "1.4.0", packer_body).result()
    before = _counters(cloud)

    version, tags = tag_published(ctx, "1.4.0", digest="f" * 64, tags={"fingerprint": "f" * 64, "baked-by": "ci"})

    after = _counters(cloud)
    put = ("PUT", "GalleryImageVersions_CreateOrUpdate")
    assert after.get(put, 0) == before.get(put, 0), "the bake PUT the version a second time"
    patch = ("PATCH", "GalleryImageVersions_Update")
    assert after.get(patch, 0) == before.get(patch, 0) + 1
    assert tags == {"built_by": "packer", "fingerprint": "f" * 64, "baked-by": "ci"} == version.tags
    got = c.compute.gallery_image_versions.get(s.resource_group, s.image.gallery, s.image.definition, "1.4.0")
    assert got.publishing_profile.storage_account_type == "Standard_ZRS"
    assert [(t.name, t.regional_replica_count) for t in got.publishing_profile.target_regions] == [
        (s.location, 2), ("northeurope", 1)]


def test_tagging_a_version_that_vanished_names_what_to_do(ctx):
    ensure_infra(ctx)
    with pytest.raises(ResourceMissing) as err:
        gallery.tag_image_version(ctx.clients, "9.9.9", tags={"k": "v"})
    assert "PatchResourceNotFound" in str(err.value) and "run the bake again" in str(err.value)


def test_a_local_bake_publishes_to_the_configured_target_regions(request, cloud, azurite, packer_dir, tmp_path):
    from dataclasses import replace

    from pipeline.azure.clients import Clients
    from pipeline.config import TargetRegion
    from pipeline.steps.context import Context
    from tests.fixtures.pipeline import local_cloud_of, local_settings_for

    settings = local_settings_for(request)
    settings = replace(settings, image=replace(settings.image, target_regions=(
        TargetRegion(settings.location, 2, "Standard_ZRS"), TargetRegion("northeurope", 1, "Standard_ZRS"))))
    with Clients(settings, cloud=local_cloud_of(cloud, azurite)) as clients:
        ctx = Context(clients=clients, who="tester@pipeline-tests")
        ensure_infra(ctx)
        bake(ctx, app_version="1.4.0", template_dir=packer_dir, app_dir=packer_dir / "app", output_dir=tmp_path / "o")
        got = clients.compute.gallery_image_versions.get(settings.resource_group, settings.image.gallery,
                                                         settings.image.definition, "1.4.0")
    assert [(t.name, t.regional_replica_count, t.storage_account_type)
            for t in got.publishing_profile.target_regions] == [(settings.location, 2, "Standard_ZRS"),
                                                                ("northeurope", 1, "Standard_ZRS")]
    assert got.publishing_profile.storage_account_type == "Standard_ZRS"

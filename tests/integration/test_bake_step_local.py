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

from pipeline import ledger as L
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
    version = gallery.get_image_version(ctx.clients, "1.4.0")
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
    assert gallery.get_image_version(ctx.clients, "1.4.0").tags["fingerprint"] == replaced.fingerprint
    assert any("deleting image version" in line for line in baker.lines)

    ctx.record("staged", fleet="hello-local-1-4-0", image_version="1.4.0", color="green")
    (packer_dir / "app" / "extra.txt").write_text("newer content\n")
    with pytest.raises(BakeError, match="fleet\\(s\\) hello-local-1-4-0 in the ledger use it"):
        baker(force=True)
    assert gallery.get_image_version(ctx.clients, "1.4.0").tags["fingerprint"] == replaced.fingerprint


def test_a_run_killed_after_packer_converges_on_rerun(ctx, baker, tmp_path):
    first = baker()
    # As if killed after Packer and the VHD upload, before the version was PUT.
    assert gallery.delete_image_version(ctx.clients, "1.4.0")
    baker.lines.clear()

    second = baker()
    assert not second.skipped and second.packer_run_uuid == first.packer_run_uuid
    assert any("re-using the image" in line for line in baker.lines)
    assert not any("packer" in line.lower() and "==>" in line for line in baker.lines)
    version = gallery.get_image_version(ctx.clients, "1.4.0")
    assert version.tags["packer-run-uuid"] == first.packer_run_uuid and version.provisioning_state == "Succeeded"

    # Killed before Packer wrote its manifest: Packer runs again, the blobs are overwritten, the PUT converges.
    assert gallery.delete_image_version(ctx.clients, "1.4.0")
    (tmp_path / "out" / "packer-manifest.json").unlink()
    third = baker()
    assert third.packer_run_uuid not in (None, first.packer_run_uuid)
    assert gallery.get_image_version(ctx.clients, "1.4.0").tags["packer-run-uuid"] == third.packer_run_uuid


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
        ("variables.pkr.hcl", 'variable "fingerprint" {', 'variable "fingerprint" {{', "variables.pkr.hcl"),
        ("build.pkr.hcl", '"source.null.local",', "", "has no source 'null.local'"),
        ("variables.pkr.hcl", "# ---- Azure", 'variable "needed" {\n  type = string\n}\n# ---- Azure',
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
    assert first.fingerprint == gallery.get_image_version(ctx.clients, "1.4.0").tags["fingerprint"]


def test_a_version_published_without_our_tags_gets_them(ctx, baker):
    first = baker()
    version = gallery.get_image_version(ctx.clients, "1.4.0")
    s = ctx.settings
    vhd = ctx.clients.blob.get_blob_client(IMAGES_CONTAINER, f"{s.image.definition}/1.4.0.vhd").url
    # As Packer leaves it on Azure when the run is killed before tagging: only its own tags.
    bare = {"fingerprint": first.fingerprint, "built_by": "packer"}
    gallery.create_image_version(ctx.clients, "1.4.0", tags=bare, source={
        "vhd_uri": vhd, "storage_account_id": version_source_account(ctx)})

    result = baker()
    assert not result.skipped and "lacks tags" in result.reason
    tags = gallery.get_image_version(ctx.clients, "1.4.0").tags
    assert tags["built_by"] == "packer" and set(PROVENANCE_KEYS) <= set(tags)
    assert baker().skipped


def version_source_account(ctx) -> str:
    return (f"/subscriptions/{ctx.clients.subscription_id}/resourceGroups/{ctx.settings.resource_group}"
            f"/providers/Microsoft.Storage/storageAccounts/{ctx.clients.cloud.storage_account}")


def test_packer_validates_the_azure_variables_the_step_passes(tmp_path):
    """The azure-arm source with exactly the variables bake() gives it (Packer needs no credentials for this)."""
    import os
    import subprocess

    from pipeline.bake.packer import build_command
    from pipeline.config import load_settings
    from pipeline.steps.bake import AZURE_SOURCE, managed_image_name, packer_variables

    s = load_settings(path=REPO / "pipeline.toml", environment="azure-example", environ={})
    variables = packer_variables(s, subscription_id=s.subscription_id, app_version="1.4.0", image_version="1.4.0",
                                 package_sha256="a" * 64, managed_image=managed_image_name(s.app, "1.4.0", "b" * 64))
    argv = build_command(packer="packer", template_dir=REPO / "packer", selector=f"app.{AZURE_SOURCE}",
                         variables={**variables, "output_dir": str(tmp_path), "fingerprint": "b" * 64})
    argv[1:2] = ["validate"]
    argv = [a for a in argv if a not in ("-machine-readable", "-color=false")]
    env = {**os.environ, "CHECKPOINT_DISABLE": "1",
           "PKR_VAR_app_package_url": "https://x.blob.core.windows.net/p/a.tar.gz?sig=x"}
    done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr

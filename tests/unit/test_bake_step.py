"""Pure parts of the bake step: packaging, provenance tags, version/fingerprint decisions, the plan, results."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import tarfile
from datetime import datetime, timedelta, timezone
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline import ledger as L
from pipeline.azure.gallery import ImageVersion
from pipeline.bake.package import FIXED_MTIME, build_package
from pipeline.bake.plan import BAKE, RETAG, SKIP, decide, plan_lines, versions_in_use
from pipeline.bake.provenance import PROVENANCE_KEYS, completed_tags, git_commit, missing_provenance, provenance_tags
from pipeline.errors import BakeError, ConfigError
from pipeline.steps.bake import (
    BakeResult,
    explain_packer_failure,
    fingerprint_variables,
    package_blob_name,
    previous_artifact,
)

FP = "f" * 64
OTHER = "0" * 64
NOW = datetime(2025, 3, 1, 12, 0, 5, tzinfo=timezone.utc)


def make_app(root: Path) -> Path:
    (root / "lib").mkdir(parents=True)
    (root / "server.py").write_text("print('hi')\n")
    (root / "lib" / "util.py").write_text("X = 1\n")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o775)
    return root


# ---------------------------------------------------------------------------------------------- packaging


def test_package_is_byte_identical_whatever_the_mtimes_and_caches(tmp_path):
    a = make_app(tmp_path / "a")
    b = make_app(tmp_path / "b")
    os.utime(b / "server.py", (1_000_000_000, 1_000_000_000))
    (b / "__pycache__").mkdir()
    (b / "__pycache__" / "server.cpython-311.pyc").write_bytes(b"\x00junk")
    (b / "lib" / "util.pyc").write_bytes(b"junk")
    (b / ".DS_Store").write_bytes(b"junk")
    first, second = build_package(a), build_package(b)
    assert first.data == second.data and first.sha256 == second.sha256
    assert first.content_sha256 == second.content_sha256 != first.sha256
    assert first.files == ("lib/util.py", "run.sh", "server.py")


def test_package_entries_are_sorted_normalized_and_the_gzip_header_is_fixed(tmp_path):
    package = build_package(make_app(tmp_path / "app"), require=("server.py",))
    assert package.data[4:8] == b"\x00\x00\x00\x00"  # gzip MTIME field
    with tarfile.open(fileobj=io.BytesIO(package.data), mode="r:gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["lib/util.py", "run.sh", "server.py"]
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == {(0, 0, "", "", FIXED_MTIME)}
    assert {m.name: m.mode for m in members} == {"lib/util.py": 0o644, "run.sh": 0o755, "server.py": 0o644}
    assert gzip.decompress(package.data)  # a plain gzip stream


def test_package_changes_with_content(tmp_path):
    app = make_app(tmp_path / "app")
    before = build_package(app)
    (app / "server.py").write_text("print('changed')\n")
    assert build_package(app).content_sha256 != before.content_sha256


def test_package_write_is_atomic_and_round_trips(tmp_path):
    package = build_package(make_app(tmp_path / "app"))
    path = package.write(tmp_path / "out" / "p.tar.gz")
    assert path.read_bytes() == package.data
    assert not (tmp_path / "out" / "p.tar.gz.partial").exists()


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda root: None, "does not exist"),
        (lambda root: root.mkdir(), "holds no files"),
        (lambda root: (root.mkdir(), (root / "x.py").write_text("")), "no server.py at its root"),
        (lambda root: (root.mkdir(), (root / "server.py").write_text(""), (root / "l").symlink_to("/etc/passwd")),
         "is a symlink"),
    ],
)
def test_bad_app_directories_are_one_line_config_errors(tmp_path, setup, message):
    root = tmp_path / "app"
    setup(root)
    with pytest.raises(ConfigError, match=message) as err:
        build_package(root, require=("server.py",))
    assert "\n" not in str(err.value)


def test_package_blob_name_is_content_addressed_and_safe(tmp_path):
    package = build_package(make_app(tmp_path / "app"))
    name = package_blob_name("hello", "1.5.0-rc.1+g1a2b", package)
    assert name == f"hello/app-1.5.0-rc.1_g1a2b-{package.sha256[:12]}.tar.gz"


# ---------------------------------------------------------------------------------------------- provenance


def test_provenance_tags_have_every_key_in_utc():
    tags = provenance_tags(fingerprint=FP, app_version="1.4.0", packer_run_uuid="run-1", git_commit="abc+dirty",
                           baked_by="me@host", baked_at=NOW.astimezone(timezone(timedelta(hours=2))))
    assert tuple(tags) == PROVENANCE_KEYS
    assert tags == {"git-commit": "abc+dirty", "packer-run-uuid": "run-1", "fingerprint": FP,
                    "app-version": "1.4.0", "baked-by": "me@host", "baked-at": "2025-03-01T12:00:05Z"}
    assert provenance_tags(fingerprint=FP, app_version="1", packer_run_uuid=None, git_commit="", baked_by="x" * 300,
                           baked_at=NOW)["packer-run-uuid"] == "unknown"
    assert all(len(v) <= 256 for v in provenance_tags(fingerprint=FP, app_version="1", packer_run_uuid=None,
                                                      git_commit="c", baked_by="x" * 300, baked_at=NOW).values())
    with pytest.raises(ValueError):
        provenance_tags(fingerprint=FP, app_version="1", packer_run_uuid=None, git_commit="c", baked_by="m",
                        baked_at=datetime(2025, 1, 1))


def test_completing_tags_keeps_what_is_there():
    existing = {"fingerprint": FP, "app_version": "1.4.0", "built_by": "packer"}
    assert missing_provenance(existing) == ("git-commit", "packer-run-uuid", "app-version", "baked-by", "baked-at")
    new = provenance_tags(fingerprint=OTHER, app_version="1.4.0", packer_run_uuid=None, git_commit="c",
                          baked_by="me", baked_at=NOW)
    merged = completed_tags(existing, new)
    assert merged["fingerprint"] == FP and merged["built_by"] == "packer" and not missing_provenance(merged)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=repo, check=True,
                   capture_output=True)


def test_git_commit_marks_a_dirty_tree_and_ignores_untracked_files(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "a").write_text("1")
    _git(repo, "add", "a")
    _git(repo, "commit", "-q", "-m", "one")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    (repo / "untracked").write_text("x")
    assert git_commit(repo) == head
    (repo / "a").write_text("2")
    assert git_commit(repo) == f"{head}+dirty"


def test_git_commit_outside_a_repository_is_unknown(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert git_commit(tmp_path) == "unknown"


# ---------------------------------------------------------------------------------------------- decisions


def version(name: str, fingerprint: str | None = FP, state: str = "Succeeded", *, complete: bool = True):
    tags = {"fingerprint": fingerprint} if fingerprint else {}
    if complete and fingerprint:
        tags = provenance_tags(fingerprint=fingerprint, app_version="x", packer_run_uuid="r", git_commit="c",
                               baked_by="b", baked_at=NOW)
    return ImageVersion(name=name, id=f"/x/versions/{name}", tags=tags, provisioning_state=state)


def test_a_new_version_is_baked():
    d = decide(target="1.4.0", fingerprint=FP, versions=[version("1.3.0", OTHER)], force=False, in_use={})
    assert (d.action, d.image_version, d.replace) == (BAKE, "1.4.0", False)


def test_same_fingerprint_anywhere_skips_to_that_version():
    versions = [version("1.2.0"), version("1.3.0"), version("1.3.5", OTHER)]
    d = decide(target="1.4.0", fingerprint=FP, versions=versions, force=False, in_use={})
    assert (d.action, d.image_version) == (SKIP, "1.3.0")
    assert d.reason == f"image version 1.3.0 already has fingerprint {FP[:12]}; use --force to rebake"
    d = decide(target="1.2.0", fingerprint=FP, versions=versions, force=False, in_use={})
    assert (d.action, d.image_version) == (SKIP, "1.2.0")


def test_a_failed_version_with_our_fingerprint_is_not_a_reason_to_skip_but_is_replaced():
    d = decide(target="1.4.0", fingerprint=FP, versions=[version("1.4.0", state="Failed")], force=False, in_use={})
    assert (d.action, d.replace) == (BAKE, True) and "failed" in d.reason


def test_a_version_published_without_provenance_is_retagged():
    d = decide(target="1.4.0", fingerprint=FP, versions=[version("1.4.0", complete=False)], force=False, in_use={})
    assert (d.action, d.image_version) == (RETAG, "1.4.0")
    assert d.existing_tags == {"fingerprint": FP}


@pytest.mark.parametrize("other", [OTHER, None])
def test_the_target_with_other_content_is_refused_without_force(other):
    with pytest.raises(BakeError) as err:
        decide(target="1.4.0", fingerprint=FP, versions=[version("1.4.0", other)], force=False, in_use={})
    message = str(err.value)
    assert "already exists" in message and "bump" in message and "--force" in message and "\n" not in message


def test_force_replaces_the_target_and_rebakes_even_a_known_fingerprint():
    d = decide(target="1.4.0", fingerprint=FP, versions=[version("1.4.0", OTHER)], force=True, in_use={})
    assert (d.action, d.replace, d.image_version) == (BAKE, True, "1.4.0")
    d = decide(target="1.4.0", fingerprint=FP, versions=[version("1.3.0")], force=True, in_use={})
    assert (d.action, d.replace) == (BAKE, False)


def test_force_never_replaces_a_version_a_fleet_uses():
    with pytest.raises(BakeError, match="fleet\\(s\\) hello-local-1-4-0 in the ledger use it"):
        decide(target="1.4.0", fingerprint=FP, versions=[version("1.4.0", OTHER)], force=True,
               in_use={"1.4.0": ("hello-local-1-4-0",)})


def test_a_version_being_published_is_refused():
    with pytest.raises(BakeError, match="is creating"):
        decide(target="1.4.0", fingerprint=OTHER, versions=[version("1.4.0", state="Creating")], force=True,
               in_use={})


def test_versions_in_use_ignores_retired_fleets():
    ledger = L.empty_ledger("local")
    for event in [
        L.new_event("staged", fleet="f1", who="w", at=NOW, image_version="1.0.0", color="blue"),
        L.new_event("smoke_passed", fleet="f1", who="w", at=NOW),
        L.new_event("promoted", fleet="f1", who="w", at=NOW),
        L.new_event("staged", fleet="f2", who="w", at=NOW, image_version="1.1.0", color="green"),
        L.new_event("stage_failed", fleet="f2", who="w", at=NOW),
        L.new_event("retired", fleet="f2", who="w", at=NOW),
    ]:
        ledger = L.record(ledger, event)
    assert versions_in_use(ledger) == {"1.0.0": ("f1",)}


# ---------------------------------------------------------------------------------------------- plan + result


def plan(decision, *, local=True, reuse=None):
    return plan_lines(decision, local=local, selector="app.null.local" if local else "app.azure-arm.ubuntu",
                      app_version="1.4.0", fingerprint=FP, package_blob="packages/hello/app.tar.gz",
                      package_sha256="a" * 64, image_ref="gal/def/1.4.0", vhd_blob="images/def/1.4.0.vhd",
                      tag_keys=["fingerprint", "baked-at"],
                      reuse_run=reuse)


def test_plan_for_a_local_bake():
    d = decide(target="1.4.0", fingerprint=FP, versions=[], force=False, in_use={})
    assert plan(d) == (
        "upload the app package to packages/hello/app.tar.gz (sha256 aaaaaaaaaaaa)",
        "sign a read-only SAS URL for it, expiring within the hour",
        "run packer build -only=app.null.local (app 1.4.0, fingerprint ffffffffffff)",
        "upload the image to images/def/1.4.0.vhd",
        "publish gallery image version gal/def/1.4.0 from it, tagged baked-at, fingerprint",
    )


def test_plan_for_azure_a_replacement_and_a_reuse():
    d = decide(target="1.4.0", fingerprint=FP, versions=[version("1.4.0", OTHER)], force=True, in_use={})
    lines = plan(d, local=False)
    assert lines[0] == "delete image version gal/def/1.4.0 (replacing image version 1.4.0 (--force))"
    assert "-only=app.azure-arm.ubuntu" in lines[3]
    assert lines[-1] == ("(Packer publishes gallery image version gal/def/1.4.0 straight to the gallery) then tag it "
                         "baked-at, fingerprint with the update PATCH")
    assert not any("managed image" in line for line in lines)
    d = decide(target="1.4.0", fingerprint=FP, versions=[], force=False, in_use={})
    assert plan(d, reuse="run-7")[0] == "re-use the image from Packer run run-7 (same fingerprint, not yet published)"


def test_plan_for_skip_and_retag():
    skip = decide(target="1.4.0", fingerprint=FP, versions=[version("1.3.0")], force=False, in_use={})
    assert plan(skip) == (f"nothing to bake: image version 1.3.0 already has fingerprint {FP[:12]}; "
                          "use --force to rebake",)
    retag = decide(target="1.4.0", fingerprint=FP, versions=[version("1.4.0", complete=False)], force=False,
                   in_use={})
    assert plan(retag)[0].startswith("tag image version gal/def/1.4.0 with baked-at, fingerprint")


def result(**changes):
    base = dict(image_version="1.4.0", app_version="1.4.0", fingerprint=FP, skipped=False, reason="r",
                packer_run_uuid="run-1", image_version_id="/id", git_commit="c", duration_s=2.345, plan=("a", "b"))
    return BakeResult(**{**base, **changes})


def test_result_summaries_are_one_line_and_json_is_plain():
    assert result().summary == f"baked image version 1.4.0 (app 1.4.0, fingerprint {FP[:12]}, packer run run-1) in 2.3s"
    assert result(dry_run=True).summary.startswith("dry run: would bake image version 1.4.0")
    assert result(skipped=True, reason="image version 1.3.0 already has fingerprint x").summary == \
        "skipped: image version 1.3.0 already has fingerprint x"
    data = result().to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["step"] == "bake" and data["plan"] == ["a", "b"] and data["duration_s"] == 2.345


# ---------------------------------------------------------------------------------------------- helpers


def test_fingerprint_variables_drop_placement_and_add_app_content(tmp_path):
    package = build_package(make_app(tmp_path / "app"))
    kept = fingerprint_variables({"app_version": "1.4.0", "image_version": "1.4.0", "location": "x",
                                  "app_package_sha256": package.sha256, "resource_group": "rg"}, package)
    assert kept == {"app_version": "1.4.0", "app_package_content_sha256": package.content_sha256}


def test_azure_bakes_use_packer_azure_and_pass_the_target_regions(tmp_path):
    from pipeline.config import TargetRegion, load_settings
    from pipeline.steps.bake import packer_variables, template_dir_for

    azure = load_settings(environment="azure-example", environ={})
    assert template_dir_for(azure, Path("packer")) == Path("packer/azure")
    variables = packer_variables(azure, subscription_id="s", app_version="1.4.0", image_version="1.4.0",
                                 package_sha256="a" * 64)
    assert variables["target_regions"] == [{"name": azure.location, "replicas": 1,
                                            "storage_account_type": "Standard_LRS"}]
    assert "managed_image_name" not in variables
    two = replace(azure, image=replace(azure.image, target_regions=(
        TargetRegion(azure.location, 2, "Standard_ZRS"), TargetRegion("northeurope", 1, "Standard_ZRS"))))
    variables = packer_variables(two, subscription_id="s", app_version="1.4.0", image_version="1.4.0",
                                 package_sha256="a" * 64)
    assert [r["name"] for r in variables["target_regions"]] == [azure.location, "northeurope"]
    local = load_settings(environment="local", environ={})
    assert template_dir_for(local, Path("packer")) == Path("packer")
    assert "target_regions" not in packer_variables(local, subscription_id="s", app_version="1.4.0",
                                                    image_version="1.4.0", package_sha256="a" * 64)


@pytest.mark.parametrize(
    "lines, expected",
    [
        (["curl: (22) The requested URL returned error: 403"], "denied or has expired (HTTP 403)"),
        (["curl: (22) The requested URL returned error: 404 Not Found"], "blob was not found (HTTP 404)"),
        (["curl: (7) Failed to connect"], "could not download the app package (see the output above)"),
    ],
)
def test_download_failures_become_clear_errors(lines, expected):
    err = BakeError("packer build app.null.local failed: install-app: downloading the app package failed "
                    "(curl exit 22); check the SAS URL has not expired; see the Packer output above")
    clearer = explain_packer_failure(err, lines)
    assert expected in str(clearer) and "run the bake again" in str(clearer)
    assert explain_packer_failure(BakeError("packer build x failed: boom"), lines) is None


def test_previous_artifact_only_when_the_last_run_built_this_exact_image(tmp_path):
    image = tmp_path / "1.4.0.tar.gz"
    image.write_bytes(b"x")
    manifest = {"last_run_uuid": "u2", "builds": [
        {"name": "local", "builder_type": "null", "packer_run_uuid": "u1", "files": [{"name": str(image)}],
         "custom_data": {"fingerprint": OTHER, "image_version": "1.4.0"}},
        {"name": "local", "builder_type": "null", "packer_run_uuid": "u2", "files": [{"name": str(image)}],
         "custom_data": {"fingerprint": FP, "image_version": "1.4.0"}},
    ]}
    (tmp_path / "packer-manifest.json").write_text(json.dumps(manifest))
    assert previous_artifact(tmp_path, fingerprint=FP, image_version="1.4.0") == ("u2", image)
    assert previous_artifact(tmp_path, fingerprint=OTHER, image_version="1.4.0") is None
    assert previous_artifact(tmp_path, fingerprint=FP, image_version="1.5.0") is None
    image.unlink()
    assert previous_artifact(tmp_path, fingerprint=FP, image_version="1.4.0") is None
    assert previous_artifact(tmp_path / "nope", fingerprint=FP, image_version="1.4.0") is None

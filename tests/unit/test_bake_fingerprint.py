"""Fingerprint: stable for the same inputs, sensitive to every input that changes the image."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.bake.fingerprint import fingerprint, input_files
from pipeline.errors import TemplateError

PACKER_DIR = Path(__file__).resolve().parents[2] / "packer"
VARS = {"app_version": "1.4.0", "image_version": "1.4.0", "location": "westeurope"}


@pytest.fixture()
def template_dir(tmp_path: Path) -> Path:
    target = tmp_path / "packer"
    shutil.copytree(PACKER_DIR, target, ignore=shutil.ignore_patterns("__pycache__", "output"))
    return target


def test_stable_across_copies_and_variable_order(template_dir: Path):
    first = fingerprint(template_dir=PACKER_DIR, variables=VARS)
    again = fingerprint(template_dir=template_dir, variables=dict(reversed(list(VARS.items()))))
    assert first == again
    assert len(first) == 64 and int(first, 16) >= 0


def test_covers_templates_scripts_and_app():
    names = {p.as_posix() for p in input_files(PACKER_DIR)}
    assert {"build.pkr.hcl", "scripts/install-app.sh", "app/server.py"} <= names
    assert "README.md" not in names


@pytest.mark.parametrize("rel", ["build.pkr.hcl", "scripts/install-app.sh", "app/server.py"])
def test_changes_when_an_input_file_changes(template_dir: Path, rel: str):
    before = fingerprint(template_dir=template_dir, variables=VARS)
    with (template_dir / rel).open("a") as handle:
        handle.write("\n# changed\n")
    assert fingerprint(template_dir=template_dir, variables=VARS) != before


def test_new_app_file_changes_it(template_dir: Path):
    before = fingerprint(template_dir=template_dir, variables=VARS)
    (template_dir / "app" / "HEALTH_STATUS").write_text("503\n")
    assert fingerprint(template_dir=template_dir, variables=VARS) != before


def test_changes_with_non_secret_variables():
    base = fingerprint(template_dir=PACKER_DIR, variables=VARS)
    assert fingerprint(template_dir=PACKER_DIR, variables={**VARS, "app_version": "1.4.1"}) != base
    assert fingerprint(template_dir=PACKER_DIR, variables={**VARS, "vm_size": "Standard_D2s_v5"}) != base


def test_ignores_secrets_caches_and_itself(template_dir: Path):
    base = fingerprint(template_dir=template_dir, variables=VARS)
    with_secret = {**VARS, "app_package_url": "https://x?sig=1", "fingerprint": "old", "token": "t"}
    assert fingerprint(template_dir=template_dir, variables=with_secret, exclude={"token"}) == base
    cache = template_dir / "app" / "__pycache__"
    cache.mkdir()
    (cache / "server.cpython-311.pyc").write_bytes(b"\0junk")
    (template_dir / "app" / "stray.pyc").write_bytes(b"\0junk")
    (template_dir / "README.md").write_text("docs do not change the image")
    assert fingerprint(template_dir=template_dir, variables=VARS) == base


def test_no_templates(tmp_path: Path):
    with pytest.raises(TemplateError):
        fingerprint(template_dir=tmp_path, variables={})

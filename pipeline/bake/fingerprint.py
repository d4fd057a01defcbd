"""A stable content fingerprint of everything that goes into an image.

sha256 over: the templates (*.pkr.hcl at the top of the template directory), every file under
its scripts/ and app/ folders (content-addressed by relative path; __pycache__, *.pyc and dot
files ignored), and the resolved non-secret variables. Secrets such as the package SAS URL are
left out because they change on every run while the image does not. Pure apart from reading files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from pipeline.errors import TemplateError

#: Sub-folders of the template directory whose files are baked into the image.
CONTENT_DIRS = ("scripts", "app")
#: Variables never fingerprinted: secrets change per run; the fingerprint itself is an output.
ALWAYS_EXCLUDED = frozenset({"app_package_url", "client_secret", "fingerprint"})


def _ignored(rel: Path) -> bool:
    return any(part == "__pycache__" or part.startswith(".") for part in rel.parts) or rel.suffix in {".pyc", ".pyo"}


def input_files(template_dir: Path, *, content_dirs: Iterable[str] = CONTENT_DIRS) -> list[Path]:
    """The files the fingerprint covers, relative to `template_dir`, sorted."""
    files = [path for path in template_dir.glob("*.pkr.hcl") if path.is_file()]
    for folder in content_dirs:
        files.extend(path for path in (template_dir / folder).rglob("*") if path.is_file())
    rel = {path.relative_to(template_dir) for path in files}
    return sorted((path for path in rel if not _ignored(path)), key=lambda p: p.as_posix())


def digest_inputs(files: Mapping[str, bytes], variables: Mapping[str, object]) -> str:
    """Pure core: sha256 over (path, sha256(content)) pairs and the variables as sorted JSON."""
    outer = hashlib.sha256(b"pipeline-bake-fingerprint/1\n")
    for path in sorted(files):
        outer.update(f"file {path} {hashlib.sha256(files[path]).hexdigest()}\n".encode())
    outer.update(b"vars " + json.dumps(dict(variables), sort_keys=True, default=str).encode() + b"\n")
    return outer.hexdigest()


def fingerprint(
    *,
    template_dir: Path | str,
    variables: Mapping[str, object],
    exclude: Iterable[str] = (),
    content_dirs: Iterable[str] = CONTENT_DIRS,
) -> str:
    """Hex sha256 of the bake inputs; `exclude` names more variables to leave out (e.g. sensitive ones)."""
    template_dir = Path(template_dir)
    paths = input_files(template_dir, content_dirs=content_dirs)
    if not any(path.suffixes[-2:] == [".pkr", ".hcl"] for path in paths):
        raise TemplateError(f"no *.pkr.hcl files in {template_dir}; point the bake at the packer/ directory")
    files = {path.as_posix(): (template_dir / path).read_bytes() for path in paths}
    skipped = ALWAYS_EXCLUDED | set(exclude)
    kept = {name: value for name, value in variables.items() if name not in skipped}
    return digest_inputs(files, kept)

"""The app package: a deterministic .tar.gz of the app directory, the thing install-app.sh downloads.

    package = build_package(Path("packer/app"))
    package.sha256          # of the .tar.gz bytes: handed to Packer as app_package_sha256
    package.content_sha256  # of the uncompressed tar: part of the bake fingerprint
    package.write(path)

Same files in, same bytes out: entries sorted by path, regular files only, fixed mtime, owner 0/0 with
no names, modes reduced to 0644/0755, a gzip header without a file name or time. Caches and dot files
(__pycache__, *.pyc, .git, .DS_Store, ...) are left out. Pure apart from reading the directory.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import ConfigError

#: 1980-01-01T00:00:00Z, the usual reproducible-build epoch (zip cannot go earlier; some tools dislike 0).
FIXED_MTIME = 315532800


@dataclass(frozen=True)
class Package:
    data: bytes = field(repr=False)
    files: tuple[str, ...]  # paths inside the package, sorted
    sha256: str  # of `data` (the .tar.gz)
    content_sha256: str  # of the uncompressed tar stream: independent of the zlib build

    @property
    def size(self) -> int:
        return len(self.data)

    def write(self, path: Path) -> Path:
        """Write the package to `path` (atomically: a temp file, then rename) and return `path`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial")
        tmp.write_bytes(self.data)
        tmp.replace(path)
        return path


def ignored(rel: Path) -> bool:
    """True for files that never go into a package (caches, compiled files, dot files)."""
    return any(part == "__pycache__" or part.startswith(".") for part in rel.parts) or rel.suffix in {".pyc", ".pyo"}


def package_files(app_dir: Path) -> list[Path]:
    """The files a package of `app_dir` holds, relative to it, sorted by POSIX path.

    Raises ConfigError when the directory is missing or empty, or holds a symlink (whose target would
    make the package depend on the machine it was built on)."""
    app_dir = Path(app_dir)
    if not app_dir.is_dir():
        raise ConfigError(f"app directory {app_dir} does not exist; pass the directory that holds the app (--app-dir)")
    found: list[Path] = []
    for path in app_dir.rglob("*"):
        rel = path.relative_to(app_dir)
        if ignored(rel):
            continue
        if path.is_symlink():
            raise ConfigError(f"{path} is a symlink; packages hold regular files only, copy the file there instead")
        if path.is_file():
            found.append(rel)
    if not found:
        raise ConfigError(f"app directory {app_dir} holds no files to package; point --app-dir at the app")
    return sorted(found, key=lambda p: p.as_posix())


def _entry(name: str, data: bytes, *, executable: bool) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = FIXED_MTIME
    info.mode = 0o755 if executable else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def tar_bytes(files: dict[str, tuple[bytes, bool]]) -> bytes:
    """Pure core: an uncompressed PAX tar of {path: (content, executable)}, entries sorted by path."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            data, executable = files[name]
            tar.addfile(_entry(name, data, executable=executable), io.BytesIO(data))
    return buffer.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    """gzip with no file name and mtime 0 in the header, so equal input gives equal output."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buffer.getvalue()


def build_package(app_dir: Path, *, require: tuple[str, ...] = ()) -> Package:
    """Package `app_dir` (see the module docstring). `require` names files that must be at its root."""
    app_dir = Path(app_dir)
    rels = package_files(app_dir)
    names = {rel.as_posix() for rel in rels}
    for needed in require:
        if needed not in names:
            raise ConfigError(f"app directory {app_dir} has no {needed} at its root; install-app.sh needs it")
    files = {}
    for rel in rels:
        path = app_dir / rel
        files[rel.as_posix()] = (path.read_bytes(), bool(path.stat().st_mode & 0o111))
    raw = tar_bytes(files)
    data = gzip_bytes(raw)
    return Package(
        data=data,
        files=tuple(sorted(files)),
        sha256=hashlib.sha256(data).hexdigest(),
        content_sha256=hashlib.sha256(raw).hexdigest(),
    )

"""Local images: a VHD blob that is really a gzip tarball with `image.json` at its root.

    {"format": "pipeline-local-image/1", "entrypoint": ["python3", "opt/app/server.py"], "env": {...},
     "port": 8080, "health_path": "/health", "app_version": "..."}

`ImageStore` reads blobs from the blob endpoint of `blob_connection_string` (Azurite) and extracts each
(blob URI, etag) once into `<state_dir>/images/<hash>/`, shared read-only by every instance booted from it.
Downloads and extraction run in a worker thread so the emulator's event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

log = logging.getLogger(__name__)

IMAGE_FORMAT = "pipeline-local-image/1"
MANIFEST = "image.json"


class ImageError(Exception):
    """The blob is missing, unreadable, or not a local image (callers turn it into an ARM error)."""


class BlobMissing(ImageError):
    pass


@dataclass(frozen=True)
class LocalImage:
    uri: str
    root: Path
    manifest: dict

    @property
    def entrypoint(self) -> list[str]:
        return list(self.manifest["entrypoint"])

    @property
    def port(self) -> int:
        return int(self.manifest.get("port", 8080))

    @property
    def env(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.manifest.get("env") or {}).items()}

    @property
    def app_version(self) -> str | None:
        return self.manifest.get("app_version")


def _connection_parts(connection_string: str) -> dict[str, str]:
    parts = {}
    for item in connection_string.split(";"):
        if "=" in item:
            name, _, value = item.partition("=")
            parts[name.strip()] = value.strip()
    return parts


def split_blob_uri(uri: str, connection_string: str | None) -> tuple[str, str]:
    """(container, blob) of a blob URI, for the blob endpoint in `connection_string`.

    Azurite URIs carry the account in the path (http://host:port/account/container/blob); Azure URIs in the
    host (https://account.blob.core.windows.net/container/blob). Both map to the local endpoint.
    """
    parsed = urlparse(uri or "")
    if parsed.scheme not in ("http", "https") or not parsed.path.strip("/"):
        raise ImageError(f"'{uri}' is not a blob URI.")
    path = unquote(parsed.path).lstrip("/")
    account = _connection_parts(connection_string or "").get("AccountName", "devstoreaccount1")
    endpoint = _connection_parts(connection_string or "").get("BlobEndpoint", "")
    endpoint_path = urlparse(endpoint).path.strip("/")
    for prefix in filter(None, (endpoint_path, account)):
        if path.startswith(prefix + "/"):
            path = path[len(prefix) + 1:]
            break
    container, _, blob = path.partition("/")
    if not container or not blob:
        raise ImageError(f"'{uri}' does not name a container and a blob.")
    return container, blob


class ImageStore:
    def __init__(self, state_dir: Path, connection_string_source):
        """`connection_string_source()` gives the current blob connection string (options may change)."""
        self.root = state_dir / "images"
        self._connection_string = connection_string_source
        self._locks: dict[str, asyncio.Lock] = {}

    def _blob_client(self, uri: str):
        from azure.storage.blob import BlobClient

        connection_string = self._connection_string()
        if not connection_string:
            raise ImageError("The local cloud has no blob storage configured (blob_connection_string), so it "
                             f"cannot read '{uri}'.")
        container, blob = split_blob_uri(uri, connection_string)
        return BlobClient.from_connection_string(connection_string, container, blob)

    def _etag(self, uri: str) -> str:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            with self._blob_client(uri) as client:
                return client.get_blob_properties().etag
        except ResourceNotFoundError:
            raise BlobMissing(f"The blob '{uri}' does not exist.") from None
        except AzureError as err:
            raise ImageError(f"Could not read the blob '{uri}': {err}") from err

    async def exists(self, uri: str) -> bool:
        try:
            await asyncio.to_thread(self._etag, uri)
        except BlobMissing:
            return False
        return True

    async def require(self, uri: str) -> str:
        """The blob's etag; BlobMissing when it is not there."""
        return await asyncio.to_thread(self._etag, uri)

    async def fetch(self, uri: str) -> LocalImage:
        """The extracted image for `uri` (downloaded and unpacked once per blob URI + etag)."""
        etag = await self.require(uri)
        digest = hashlib.sha256(f"{uri}\n{etag}".encode()).hexdigest()[:24]
        lock = self._locks.setdefault(digest, asyncio.Lock())
        async with lock:
            target = self.root / digest
            if not (target / MANIFEST).exists():
                await asyncio.to_thread(self._download_and_extract, uri, target)
        return LocalImage(uri=uri, root=target, manifest=read_manifest(target))

    def _download_and_extract(self, uri: str, target: Path) -> None:
        from azure.core.exceptions import AzureError

        self.root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".extract-", dir=self.root))
        try:
            archive = work / "image.tar.gz"
            try:
                with self._blob_client(uri) as client, archive.open("wb") as out:
                    client.download_blob().readinto(out)
            except AzureError as err:
                raise ImageError(f"Could not download the blob '{uri}': {err}") from err
            tree = work / "root"
            tree.mkdir()
            try:
                with tarfile.open(archive, "r:*") as tar:
                    tar.extractall(tree, filter="data")
            except (tarfile.TarError, OSError) as err:
                raise ImageError(f"The blob '{uri}' is not a local image (a gzip tarball): {err}") from err
            read_manifest(tree)
            for path in tree.rglob("*"):   # shared by every instance: read-only (directories stay traversable)
                if path.is_file() and not path.is_symlink():
                    path.chmod(path.stat().st_mode & ~0o222)
            if target.exists():
                shutil.rmtree(target, ignore_errors=True)
            os.replace(tree, target)
            log.info("extracted image %s into %s", uri, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def read_manifest(root: Path) -> dict:
    path = root / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ImageError(f"The image has no readable {MANIFEST} at its root: {err}") from err
    if manifest.get("format") != IMAGE_FORMAT:
        raise ImageError(f"{MANIFEST} format is {manifest.get('format')!r}, expected {IMAGE_FORMAT!r}.")
    entrypoint = manifest.get("entrypoint")
    if not isinstance(entrypoint, list) or not entrypoint or not all(isinstance(a, str) for a in entrypoint):
        raise ImageError(f"{MANIFEST} needs an 'entrypoint' list of strings.")
    return manifest

"""Blob operations the pipeline uses: containers, the app package, read-only SAS URLs, JSON blobs with
ETag conditions, leases, and the release ledger's I/O.

Every function takes the BlobServiceClient from `Clients.blob` (Azurite locally, Azure otherwise).
SAS tokens never reach a log line: `SignedUrl` prints with its signature masked.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import ledger as ledger_model
from pipeline import retry
from pipeline.errors import AzureError, ConcurrentUpdate, LeaseTaken, ResourceMissing
from pipeline.redact import Redactor

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient, BlobLeaseClient, BlobServiceClient

log = logging.getLogger(__name__)

__all__ = [
    "ConcurrentUpdate",
    "JsonBlob",
    "Lease",
    "LeaseTaken",
    "LEDGER_WRITE_ATTEMPTS",
    "SignedUrl",
    "acquire_lease",
    "blob_metadata",
    "break_lease",
    "ensure_container",
    "get_json",
    "ledger_blob_name",
    "make_read_sas",
    "put_json",
    "read_ledger",
    "update_ledger",
    "upload_file",
]

SAS_MAX_LIFETIME = timedelta(hours=1)
SAS_CLOCK_SKEW = timedelta(minutes=5)  # the SAS starts a little in the past, for clock skew
LEDGER_WRITE_ATTEMPTS = 10  # (policy: pipeline/retry.py on_conflict) read-modify-write attempts when other writers keep winning the ETag race


# ---------------------------------------------------------------------------------------------- files


def ensure_container(service: BlobServiceClient, name: str) -> None:
    """Create the container unless it exists (a no-op then)."""
    from azure.core.exceptions import ResourceExistsError

    try:
        service.create_container(name)
        log.info("created blob container %s", name)
    except ResourceExistsError:
        log.debug("blob container %s exists", name)


def upload_file(
    service: BlobServiceClient, *, container: str, name: str, path: Path, content_type: str | None = None
) -> str:
    """Upload `path` as blob `name` (replacing it) and return the blob's URL, without any SAS."""
    from azure.storage.blob import ContentSettings

    blob = service.get_blob_client(container, name)
    settings = ContentSettings(content_type=content_type) if content_type else None
    with Path(path).open("rb") as data:
        blob.upload_blob(data, overwrite=True, content_settings=settings)
    log.info("uploaded %s to %s", path, blob.url)
    return blob.url


@dataclass(frozen=True)
class SignedUrl:
    """A blob URL plus its SAS token. `str()`/`repr()` mask the signature; `secret_url` is the real thing,
    for handing to a VM (custom data, extension settings): never log it."""

    url: str  # without the token: safe to log
    token: str = field(repr=False)
    expires_at: datetime

    @property
    def secret_url(self) -> str:
        return f"{self.url}?{self.token}"

    def __str__(self) -> str:
        return Redactor.of(self.token).redact(self.secret_url)


def make_read_sas(
    service: BlobServiceClient,
    *,
    container: str,
    name: str,
    expires_in: timedelta = SAS_MAX_LIFETIME,
    now: datetime | None = None,
) -> SignedUrl:
    """A read-only SAS URL for one blob, valid from `now` (minus 5 min skew) for `expires_in` (at most 1 h).

    Shared-key clients (Azurite, or an account key) get an account-key SAS; token-credential clients
    (Azure with DefaultAzureCredential) get a user-delegation SAS, which needs the caller to hold
    'Storage Blob Delegator' (included in 'Storage Blob Data Contributor').
    """
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    if expires_in > SAS_MAX_LIFETIME:
        raise ValueError(f"a package SAS must expire within {SAS_MAX_LIFETIME}; asked for {expires_in}")
    now = now or datetime.now(timezone.utc)
    start, expiry = now - SAS_CLOCK_SKEW, now + expires_in
    blob = service.get_blob_client(container, name)
    common: dict[str, Any] = {
        "account_name": service.account_name,
        "container_name": container,
        "blob_name": name,
        "permission": BlobSasPermissions(read=True),
        "start": start,
        "expiry": expiry,
        "protocol": "https" if blob.url.startswith("https:") else "https,http",
    }
    account_key = getattr(service.credential, "account_key", None)
    if account_key:
        token = generate_blob_sas(account_key=account_key, **common)
        kind = "account-key"
    else:
        delegation_key = service.get_user_delegation_key(key_start_time=start, key_expiry_time=expiry)
        token = generate_blob_sas(user_delegation_key=delegation_key, **common)
        kind = "user-delegation"
    log.info("made a read-only %s SAS for %s, expiring %s", kind, blob.url, expiry.isoformat(timespec="seconds"))
    return SignedUrl(url=blob.url, token=token, expires_at=expiry)


# ---------------------------------------------------------------------------------------------- JSON blobs


@dataclass(frozen=True)
class JsonBlob:
    data: Any
    etag: str


def get_json(service: BlobServiceClient, *, container: str, name: str) -> JsonBlob:
    """Read a JSON blob and its ETag. Raises ResourceMissing when it (or its container) does not exist."""
    from azure.core.exceptions import ResourceNotFoundError

    blob = service.get_blob_client(container, name)
    try:
        downloader = blob.download_blob()
        raw = downloader.readall()
    except ResourceNotFoundError:
        raise ResourceMissing(f"blob {container}/{name} does not exist; create it first") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise AzureError(f"blob {container}/{name} is not valid JSON ({err.msg}); restore it from a blob version") from err
    return JsonBlob(data=data, etag=downloader.properties.etag)


def put_json(
    service: BlobServiceClient,
    *,
    container: str,
    name: str,
    data: Any,
    if_match: str | None = None,
    create_only: bool = False,
) -> str:
    """Write a JSON blob and return its new ETag.

    `if_match=etag`: only if nobody wrote it since that read. `create_only=True`: only if it does not
    exist (If-None-Match: *). Either condition failing raises ConcurrentUpdate. Neither: overwrite.
    """
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
    from azure.storage.blob import ContentSettings

    if if_match and create_only:
        raise ValueError("if_match and create_only exclude each other")
    conditions: dict[str, Any] = {}
    if if_match:
        conditions = {"etag": if_match, "match_condition": MatchConditions.IfNotModified}
    elif create_only:
        conditions = {"match_condition": MatchConditions.IfMissing}  # If-None-Match: *
    body = json.dumps(data, indent=1, sort_keys=True).encode()
    blob = service.get_blob_client(container, name)
    try:
        result = blob.upload_blob(
            body, overwrite=True, content_settings=ContentSettings(content_type="application/json"), **conditions
        )
    except (ResourceModifiedError, ResourceExistsError) as err:
        if not conditions:
            raise
        what = "was changed by another writer" if if_match else "already exists"
        raise ConcurrentUpdate(f"blob {container}/{name} {what}; read it again and retry") from err
    except ResourceNotFoundError as err:
        raise ResourceMissing(f"blob container {container} does not exist; create it (`invoke infra.up`)") from err
    return result["etag"]


# ---------------------------------------------------------------------------------------------- leases


class Lease:
    """A held lease on one blob. Renew before `duration_s` runs out, or it lapses by itself."""

    def __init__(self, blob: BlobClient, client: BlobLeaseClient, *, container: str, name: str, duration_s: int) -> None:
        self._blob = blob
        self._client = client
        self._lease_id = client.id
        self._released = False
        self.container = container
        self.name = name
        self.duration_s = duration_s

    @property
    def id(self) -> str:
        return self._lease_id

    def renew(self) -> None:
        """Extend the lease by another `duration_s`. Raises LeaseTaken if it was lost (expired and taken,
        or broken)."""
        from azure.core.exceptions import HttpResponseError

        try:
            self._client.renew()
        except HttpResponseError as err:
            raise LeaseTaken(
                f"lost the lease on {self.container}/{self.name} ({_code(err)}); someone broke it or it expired",
                metadata={},
            ) from err

    def release(self) -> None:
        """Give the lease up; a no-op when it is already gone."""
        from azure.core.exceptions import HttpResponseError

        if self._released:
            return
        self._released = True
        try:
            self._client.release()
        except HttpResponseError as err:
            log.info("lease on %s/%s was already gone (%s)", self.container, self.name, _code(err))

    def set_metadata(self, metadata: Mapping[str, str]) -> None:
        """Replace the blob's metadata, under this lease. Raises AzureError when the lease is gone."""
        from azure.core.exceptions import HttpResponseError

        try:
            self._blob.set_blob_metadata(dict(metadata), lease=self._client)
        except HttpResponseError as err:
            raise AzureError(f"could not write metadata on {self.container}/{self.name} ({_code(err)})") from err


def acquire_lease(
    service: BlobServiceClient,
    *,
    container: str,
    name: str,
    duration_s: int,
    metadata: Mapping[str, str] = {},  # noqa: B006 - read only
) -> Lease:
    """Create the (empty) blob if needed, lease it for `duration_s` (15-60, or -1 = infinite), and store
    `metadata` on it under the lease. Raises LeaseTaken at once, with the holder's metadata, when
    another lease is active."""
    from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceModifiedError
    from azure.storage.blob import BlobLeaseClient

    blob = service.get_blob_client(container, name)
    try:
        blob.upload_blob(b"", overwrite=False)
    except (ResourceExistsError, ResourceModifiedError):
        pass  # exists (maybe leased: then the write is refused, which is fine)
    lease_client = BlobLeaseClient(blob)
    try:
        lease_client.acquire(lease_duration=duration_s)
    except HttpResponseError as err:
        if _code(err) != "LeaseAlreadyPresent":
            raise
        holder = blob_metadata(service, container=container, name=name)
        raise LeaseTaken(f"blob {container}/{name} is leased by another holder", metadata=holder) from err
    lease = Lease(blob, lease_client, container=container, name=name, duration_s=duration_s)
    if metadata:
        try:
            lease.set_metadata(metadata)
        except BaseException:
            lease.release()
            raise
    return lease


def blob_metadata(service: BlobServiceClient, *, container: str, name: str) -> dict[str, str]:
    """The blob's metadata ({} when the blob does not exist)."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return dict(service.get_blob_client(container, name).get_blob_properties().metadata or {})
    except ResourceNotFoundError:
        return {}


def break_lease(service: BlobServiceClient, *, container: str, name: str) -> bool:
    """Break any lease on the blob at once. False when there was none (or no blob): a no-op."""
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
    from azure.storage.blob import BlobLeaseClient

    blob = service.get_blob_client(container, name)
    try:
        BlobLeaseClient(blob).break_lease(lease_break_period=0)
    except ResourceNotFoundError:
        return False
    except HttpResponseError as err:
        if _code(err) == "LeaseNotPresentWithLeaseOperation":
            return False
        raise
    return True


def _code(err: Exception) -> str:
    return str(getattr(err, "error_code", None) or getattr(err, "status_code", "") or type(err).__name__)


# ---------------------------------------------------------------------------------------------- ledger I/O


def ledger_blob_name(environment: str) -> str:
    return f"{environment}/ledger.json"


def read_ledger(
    service: BlobServiceClient, *, container: str, environment: str
) -> tuple[ledger_model.Ledger, str | None]:
    """The environment's ledger and its ETag; an empty ledger and None when it was never written."""
    name = ledger_blob_name(environment)
    try:
        blob = get_json(service, container=container, name=name)
    except ResourceMissing:
        return ledger_model.empty_ledger(environment), None
    try:
        return ledger_model.from_json(blob.data), blob.etag
    except ValueError as err:
        raise AzureError(f"ledger {container}/{name} is unreadable ({err}); restore an earlier blob version") from err


def update_ledger(
    service: BlobServiceClient,
    *,
    container: str,
    environment: str,
    change: Callable[[ledger_model.Ledger], ledger_model.Ledger],
    attempts: int = LEDGER_WRITE_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> ledger_model.Ledger:
    """Read the ledger, apply `change` (pure, e.g. `lambda l: ledger.record(l, event)`), and write it back
    only if nobody wrote in between (ETag); on a lost race, re-read and re-apply, up to `attempts` times.
    Returns the ledger as written. Errors raised by `change` (e.g. NotReady) pass through unretried."""
    name = ledger_blob_name(environment)

    def attempt() -> ledger_model.Ledger:
        current, etag = read_ledger(service, container=container, environment=environment)
        updated = change(current)
        put_json(
            service,
            container=container,
            name=name,
            data=ledger_model.to_json(updated),
            if_match=etag,
            create_only=etag is None,
        )
        return updated

    retrying = retry.on_conflict(is_conflict=lambda err: isinstance(err, ConcurrentUpdate), attempts=attempts, sleep=sleep)
    return retrying(attempt)

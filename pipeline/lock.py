"""The environment's release lock: a blob lease on `<env>/lock` in the ledger container.

    with ReleaseLock(clients.blob, container=s.storage.ledger_container, environment=s.environment,
                     task="release"):
        ...  # only one release per environment runs this block at a time

- Acquiring takes a 60 s lease and writes the holder (who, host, pid, task, since) into the blob's metadata.
  A background thread renews the lease every 20 s while the block runs; leaving the block releases it.
- A second acquirer fails AT ONCE with LockHeld naming the holder; it never waits.
- A holder that is killed (SIGKILL, power loss, a cancelled CI job) cannot release, but stops renewing: its
  lease expires by itself within 60 s, after which a re-run gets the lock. Nothing to clean up by hand.
- An operator who knows the holder is dead and will not wait can `break_lock(...)` (`invoke lock.break`).
- If renewal fails (the lease was broken, or the storage account was unreachable for a whole lease
  period), `lock.check()` raises LockHeld; long steps should call it between actions.
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from pipeline.azure import storage
from pipeline.errors import AzureError, LockHeld

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient

log = logging.getLogger(__name__)

__all__ = ["LEASE_SECONDS", "Holder", "ReleaseLock", "break_lock", "lock_blob_name", "lock_holder", "whoami"]

LEASE_SECONDS = 60  # Azure allows 15-60 s (or infinite, which a killed holder would never give back)


@dataclass(frozen=True)
class Holder:
    who: str
    host: str
    pid: int
    task: str
    since: str  # ISO 8601, UTC

    def describe(self) -> str:
        return f"{self.who} on {self.host} (pid {self.pid}, task {self.task}) since {self.since}"

    def is_dead_here(self) -> bool:
        """True when the holder ran on this machine and its process no longer exists (it was killed)."""
        if self.host != socket.gethostname() or self.pid == os.getpid():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def to_metadata(self) -> dict[str, str]:
        return {k: _header_safe(str(v)) for k, v in asdict(self).items()}

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> Holder | None:
        try:
            return cls(
                who=metadata["who"], host=metadata["host"], pid=int(metadata["pid"]),
                task=metadata["task"], since=metadata["since"],
            )  # fmt: skip
        except (KeyError, ValueError):
            return None


def whoami() -> str:
    """Who is releasing: PIPELINE_ACTOR, else the CI build (BUILD_TAG), else the login name."""
    for var in ("PIPELINE_ACTOR", "BUILD_TAG"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def lock_blob_name(environment: str) -> str:
    return f"{environment}/lock"


class ReleaseLock:
    """Context manager holding the environment's release lock. Not re-entrant."""

    def __init__(
        self,
        service: BlobServiceClient,
        *,
        container: str,
        environment: str,
        task: str,
        lease_seconds: int = LEASE_SECONDS,
        renew_every: float | None = None,
        who: str | None = None,
    ) -> None:
        self.service = service
        self.container = container
        self.environment = environment
        self.task = task
        self.lease_seconds = lease_seconds
        self.renew_every = renew_every if renew_every is not None else lease_seconds / 3
        self.who = who or whoami()
        self.holder: Holder | None = None
        self._lease: storage.Lease | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lost: Exception | None = None

    @property
    def blob_name(self) -> str:
        return lock_blob_name(self.environment)

    def acquire(self) -> Holder:
        """Take the lock or raise LockHeld at once."""
        if self._lease is not None:
            raise RuntimeError("this ReleaseLock is already held")
        holder = Holder(
            who=self.who, host=socket.gethostname(), pid=os.getpid(), task=self.task,
            since=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )  # fmt: skip
        storage.ensure_container(self.service, self.container)
        try:
            self._lease = storage.acquire_lease(
                self.service,
                container=self.container,
                name=self.blob_name,
                duration_s=self.lease_seconds,
                metadata=holder.to_metadata(),
            )
        except storage.LeaseTaken as err:
            other = Holder.from_metadata(err.metadata)
            if other is not None and other.is_dead_here():
                # Its process on this very machine is gone (killed): the lease is stale, take it over now
                # rather than make the re-run wait for the lease to expire.
                log.warning("the %s release lock is held by a dead process (%s); taking it over",
                            self.environment, other.describe())
                storage.break_lease(self.service, container=self.container, name=self.blob_name)
                try:
                    self._lease = storage.acquire_lease(self.service, container=self.container, name=self.blob_name,
                                                        duration_s=self.lease_seconds, metadata=holder.to_metadata())
                except storage.LeaseTaken:
                    raise LockHeld(f"the {self.environment} release lock was just taken by another re-run; "
                                   f"let it finish (see `invoke status`)") from err
                return self._held(holder)
            by = other.describe() if other else "an unknown holder"
            raise LockHeld(
                f"the {self.environment} release lock is held by {by}; wait for it to finish, or if that process "
                f"is dead wait {self.lease_seconds} s for its lease to expire or run `invoke lock.break --env {self.environment}`"
            ) from err
        return self._held(holder)

    def _held(self, holder: Holder) -> Holder:
        self.holder = holder
        self._stop.clear()
        self._lost = None
        self._thread = threading.Thread(target=self._renew_loop, name=f"lock-renew-{self.environment}", daemon=True)
        self._thread.start()
        log.info("took the %s release lock (%s)", self.environment, holder.describe())
        return holder

    def check(self) -> None:
        """Raise LockHeld if the lock was lost since it was taken."""
        if self._lost is not None:
            raise LockHeld(
                f"the {self.environment} release lock was lost ({self._lost}); another release may be running: "
                "check `invoke status` before re-running"
            ) from self._lost

    def release(self) -> None:
        """Stop renewing and give the lease back (a no-op when not held)."""
        if self._lease is None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        lease, self._lease, self._thread = self._lease, None, None
        if self._lost is None:
            try:
                lease.set_metadata({})  # so nobody reads a stale holder
            except AzureError as err:  # the lease is released below either way
                log.info("could not clear the lock's holder note (%s)", err)
        lease.release()
        log.info("released the %s release lock", self.environment)

    def __enter__(self) -> ReleaseLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _renew_loop(self) -> None:
        assert self._lease is not None
        lease = self._lease
        while not self._stop.wait(self.renew_every):
            try:
                lease.renew()
            except storage.LeaseTaken as err:
                self._lost = err
                log.error("lost the %s release lock: %s", self.environment, err)
                return
            except Exception as err:  # noqa: BLE001 - network trouble: try again next tick, the lease has time left
                log.warning("could not renew the %s release lock (%s); retrying", self.environment, type(err).__name__)


def lock_holder(service: BlobServiceClient, *, container: str, environment: str) -> Holder | None:
    """Who holds the lock now, or None. (Reads the holder note; a lapsed lease may still show its note.)"""
    return Holder.from_metadata(storage.blob_metadata(service, container=container, name=lock_blob_name(environment)))


def break_lock(service: BlobServiceClient, *, container: str, environment: str) -> Holder | None:
    """Operator's `--break-lock`: end whatever lease is on the lock now. Returns the holder it named, or None
    when the lock was free (a no-op). The broken holder's next renewal fails and its `check()` raises."""
    holder = lock_holder(service, container=container, environment=environment)
    broke = storage.break_lease(service, container=container, name=lock_blob_name(environment))
    if not broke:
        return None
    log.warning("broke the %s release lock (was %s)", environment, holder.describe() if holder else "unknown")
    return holder


def _header_safe(text: str) -> str:
    """Blob metadata travels in HTTP headers: ASCII only, no line breaks."""
    return text.encode("ascii", "replace").decode().replace("\r", " ").replace("\n", " ")

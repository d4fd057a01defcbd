"""What every step needs: settings, SDK clients, who is acting, the clock, and the environment's ledger."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

from pipeline import ledger as ledger_model
from pipeline.azure import storage
from pipeline.azure.clients import Clients
from pipeline.config import Settings
from pipeline.ids import Ids
from pipeline.lock import ReleaseLock, whoami

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Context:
    clients: Clients
    who: str = field(default_factory=whoami)
    now: Callable[[], datetime] = utcnow
    dry_run: bool = False
    recorder: Any = None   # pipeline.record.Recorder of this run (the CLI's), or None: steps inside steps use it
    _ledger_container_ready: bool = field(default=False, init=False, repr=False)

    @property
    def settings(self) -> Settings:
        return self.clients.settings

    @property
    def ids(self) -> Ids:
        return Ids.of(self.settings, self.clients.subscription_id)

    def ledger(self) -> ledger_model.Ledger:
        """The environment's ledger (empty when it, or its container, does not exist yet). Only reads: a dry
        run or a read-only task (status, verify) writes nothing, not even the container."""
        s = self.settings
        return storage.read_ledger(self.clients.blob, container=s.storage.ledger_container,
                                   environment=s.environment)[0]

    def record(self, event: str, *, fleet: str, **details) -> ledger_model.Ledger:
        s = self.settings
        entry = ledger_model.new_event(event, fleet=fleet, who=self.who, at=self.now(), **details)
        if not self._ledger_container_ready:   # the first write creates the container when missing
            storage.ensure_container(self.clients.blob, s.storage.ledger_container)
            self._ledger_container_ready = True
        return storage.update_ledger(self.clients.blob, container=s.storage.ledger_container,
                                     environment=s.environment, change=lambda l: ledger_model.record(l, entry))

    @contextmanager
    def lock(self, task: str) -> Iterator[ReleaseLock | None]:
        """The environment's release lock (a dry run changes nothing and takes no lock)."""
        if self.dry_run:
            yield None
            return
        s = self.settings
        lock = ReleaseLock(self.clients.blob, container=s.storage.ledger_container, environment=s.environment,
                           task=task, who=self.who)
        lock.acquire()
        try:
            yield lock
        finally:
            lock.release()

"""The whole local cloud in one object: its services' backends, the ARM router, operations, faults, counters.

Services reach each other through this object, never over HTTP (moto's habit). State is plain objects in
dicts; `dump()`/`load()` persist it as JSON in the state directory so a restart keeps every resource and
restarts its instances.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

from .core.counters import Counters
from .core.faults import Faults
from .core.frontdoor import RateLimits
from .core.operations import Operations
from .core.routing import Router
from .options import EmulatorOptions
from .runtime.addresses import AddressPlan

log = logging.getLogger(__name__)

STATE_FILE = "state.json"


class Cloud:
    def __init__(self, options: EmulatorOptions):
        from pipeline.rbac import load_role

        from . import control
        from .authorization.urls import routes as authorization_routes
        from .core.authorization import Authorizer
        from .compute.models import ComputeBackend
        from .compute.urls import routes as compute_routes
        from .core.status import routes as status_routes
        from .network.models import NetworkBackend
        from .network.urls import routes as network_routes
        from .resources.models import ResourceGroupsBackend
        from .resources.urls import routes as resource_routes
        from .subscription.models import SubscriptionBackend
        from .subscription.urls import routes as subscription_routes

        self.options = options
        # A role file that does not parse raises pipeline.rbac.RoleError (one line) before anything starts.
        self.authorizer = Authorizer(load_role(options.role_file) if options.role_file else None,
                                     principal_id=options.principal_id)
        self.operations = Operations(poll_ms=options.poll_ms)
        self.faults = Faults(seed=options.seed)
        self.counters = Counters()
        self.rate_limits = RateLimits()      # the x-ms-ratelimit-remaining-* budget (reported, not enforced)
        self.addresses = AddressPlan(options.loopback_block)
        self.resources = ResourceGroupsBackend(self)
        self.network = NetworkBackend(self)
        self.compute = ComputeBackend(self, network=self.network)
        self.network.compute = self.compute   # the backends hold each other through core/seams.py
        self.subscription = SubscriptionBackend(self)
        self.router = Router(status_routes() + resource_routes() + network_routes() + compute_routes()
                             + authorization_routes() + subscription_routes())
        self.control_routes = control.routes()
        self.on_frontends_changed = lambda: None   # the server rewrites the connection file
        self._version = 0
        self._saved_version = 0
        self._saver: asyncio.Task | None = None

    # --- persistence -------------------------------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.options.state_dir / STATE_FILE

    def changed(self) -> None:
        self._version += 1

    def dump(self) -> dict:
        return {"version": 1, "resource_groups": self.resources.dump(), "network": self.network.dump(),
                "compute": self.compute.dump()}

    def save(self) -> None:
        self.options.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.dump(), indent=1))
        os.replace(tmp, self.state_file)
        self._saved_version = self._version

    def load(self) -> None:
        if not self.state_file.exists():
            return
        data = json.loads(self.state_file.read_text())
        self.resources.load(data.get("resource_groups", []))
        self.network.load(data.get("network", {}))
        self.compute.load(data.get("compute", {}))

    async def _save_loop(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            if self._version != self._saved_version:
                try:
                    self.save()
                except OSError:
                    log.exception("could not save state to %s", self.state_file)

    # --- lifecycle ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.load()
        await self.network.start()
        await self.compute.start()
        self._saver = asyncio.get_running_loop().create_task(self._save_loop(), name="state-saver")

    async def stop(self) -> None:
        if self._saver:
            self._saver.cancel()
            await asyncio.gather(self._saver, return_exceptions=True)
        await self.operations.cancel_all()
        await self.compute.stop()
        await self.network.stop()
        self.save()

    async def reset(self) -> None:
        """Forget everything: stop every instance and listener, clear state, faults and counters."""
        await self.operations.cancel_all()
        await self.compute.stop()
        await self.network.stop()
        self.addresses = AddressPlan(self.options.loopback_block)
        self.resources.load([])
        self.network.load({})
        self.compute.load({})
        self.faults.clear()
        self.counters.reset()
        self.rate_limits = RateLimits()
        self.subscription.reset()
        self.authorizer.reset()
        await self.network.start()
        await self.compute.start()
        self.changed()

    async def delete_group_contents(self, subscription: str, resource_group: str) -> None:
        """Deleting a resource group deletes what is in it: scale sets first (they hold the pools)."""
        await self.compute.delete_group(subscription, resource_group)
        await self.network.delete_group(subscription, resource_group)

"""The Application Health extension, emulated: the local cloud probes each instance itself.

Settings as on Azure: {"protocol": "http"|"https"|"tcp", "port": N, "requestPath": "/health",
"intervalInSeconds": 5, "numberOfProbes": 1}. HTTP(S) 200 is healthy; TCP: the connection is accepted.
A stopped VM or a dead app reads unhealthy at once. The interval is scaled by options.probe_time_scale.
Process exits noticed here are also reported to the network as membership changes.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import TYPE_CHECKING

from ..runtime.aio import within
from .scalesets import app_health_extension

if TYPE_CHECKING:
    from .models import ComputeBackend

log = logging.getLogger(__name__)


async def probe(address: str, settings: dict, timeout: float) -> bool:
    protocol = str(settings.get("protocol", "http")).lower()
    port = int(settings.get("port") or (443 if protocol == "https" else 80))
    context = None
    if protocol == "https":
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        reader, writer = await within(timeout, asyncio.open_connection(address, port, ssl=context))
    except (OSError, asyncio.TimeoutError):
        return False
    try:
        if protocol == "tcp":
            return True
        path = settings.get("requestPath") or "/"
        writer.write(f"GET /{path.lstrip('/')} HTTP/1.0\r\nHost: {address}\r\nUser-Agent: ApplicationHealthExtension"
                     f"\r\n\r\n".encode())
        await writer.drain()
        line = await within(timeout, reader.readline())
        parts = line.split()
        return len(parts) >= 2 and parts[1] == b"200"
    except (OSError, asyncio.TimeoutError, ValueError):
        return False
    finally:
        writer.close()


class HealthProber:
    def __init__(self, backend: "ComputeBackend"):
        self.backend = backend
        self._streaks: dict[tuple[str, str], tuple[bool, int]] = {}
        self._alive: dict[tuple[str, str], bool] = {}
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="compute-health")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    @property
    def tick(self) -> float:
        return max(0.05, 5.0 * self.backend.cloud.options.probe_time_scale)

    async def _run(self) -> None:
        while True:
            try:
                await self.round()
            except Exception:  # keep probing; a bug here must not stop health reporting
                log.exception("health probe round failed")
            await asyncio.sleep(self.tick)

    async def round(self) -> None:
        backend = self.backend
        jobs = []
        membership = False
        for ss in list(backend.scale_sets.values()):
            for vm in ss.sorted_vms():
                slot = (ss.id.lower(), vm.instance_id)
                alive = backend.app_alive(ss, vm)
                if self._alive.get(slot, alive) != alive:
                    membership = True
                self._alive[slot] = alive
                ext = app_health_extension(vm.model)
                if ext is None or vm.provisioning_state in ("Creating", "Deleting"):
                    continue
                if not alive:
                    if vm.power_state in ("running", "stopped"):
                        self._record(vm, slot, False, 1)
                    continue
                settings = (ext.get("properties") or {}).get("settings") or {}
                jobs.append(self._probe_one(vm, slot, settings))
        if jobs:
            await asyncio.gather(*jobs)
        if membership:
            backend.membership_changed()

    async def _probe_one(self, vm, slot, settings: dict) -> None:
        generation = vm.generation
        ok = await probe(vm.address, settings, timeout=max(0.5, self.tick))
        if vm.generation == generation and vm.power_state == "running":
            self._record(vm, slot, ok, int(settings.get("numberOfProbes") or 1))

    def _record(self, vm, slot, ok: bool, needed: int) -> None:
        last, count = self._streaks.get(slot, (ok, 0))
        count = count + 1 if last == ok else 1
        self._streaks[slot] = (ok, count)
        state = "healthy" if ok else "unhealthy"
        if count >= needed and vm.health != state:
            vm.health = state
            self.backend.cloud.changed()

    def forget(self) -> None:
        self._streaks.clear()
        self._alive.clear()

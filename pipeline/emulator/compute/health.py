"""The Application Health extension, emulated: the local cloud probes each instance itself.

Settings as on Azure: {"protocol": "http"|"https"|"tcp", "port": N, "requestPath": "/health",
"intervalInSeconds": 5, "numberOfProbes": 1, "gracePeriod": seconds}. Two flavours, chosen by the extension's
typeHandlerVersion as on Azure:
- Binary Health States (1.x): HTTP(S) 200 is healthy, anything else unhealthy; TCP: the connection is accepted.
- Rich Health States (2.x): HTTP(S) 200 whose JSON body says {"ApplicationHealthState": "Healthy"|"Unhealthy"}
  is that state; any other answer (a 200 without that body, another status, no answer) is Unknown. An
  instance reads Initializing from boot until `numberOfProbes` consecutive valid signals (Healthy or Unhealthy),
  or until the grace period (default intervalInSeconds x numberOfProbes) ends, then the state the probes report
  (Unknown when the app never gave a valid signal).
A stopped VM or a dead app reads unhealthy (binary) or unknown (rich) at once, outside the grace period.
The interval is scaled by options.probe_time_scale. Process exits noticed here are also reported to the network
as membership changes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from typing import TYPE_CHECKING

from ..runtime.aio import within
from .scalesets import app_health_extension

if TYPE_CHECKING:
    from .models import ComputeBackend

log = logging.getLogger(__name__)


RICH_STATES = {"healthy": "healthy", "unhealthy": "unhealthy"}
GRACE_MAX_S = 14400


def is_rich(ext: dict | None) -> bool:
    """Rich Health States: typeHandlerVersion 2.x (Azure's versioning of the extension)."""
    version = str(((ext or {}).get("properties") or {}).get("typeHandlerVersion") or "1.0")
    try:
        return int(version.split(".")[0]) >= 2
    except ValueError:
        return False


def _number(value, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else default


def grace_seconds(settings: dict) -> float:
    interval = _number(settings.get("intervalInSeconds"), 5)
    probes = _number(settings.get("numberOfProbes"), 1)
    grace = settings.get("gracePeriod")
    return float(min(GRACE_MAX_S, grace if isinstance(grace, (int, float)) and grace >= 0 else interval * probes))


def rich_state(status: int | None, body: bytes) -> str:
    """The Rich Health State an HTTP answer carries: only a 200 with the documented body counts."""
    if status != 200:
        return "unknown"
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "unknown"
    state = value.get("ApplicationHealthState") if isinstance(value, dict) else None
    return RICH_STATES.get(str(state).lower(), "unknown") if isinstance(state, str) else "unknown"


async def _read_all(reader: asyncio.StreamReader, limit: int) -> bytes:
    data = b""
    while len(data) < limit:
        chunk = await reader.read(limit - len(data))
        if not chunk:
            break
        data += chunk
    return data


async def probe(address: str, settings: dict, timeout: float, *, rich: bool = False) -> str:
    """"healthy" | "unhealthy" | "unknown" (rich only) for one probe of the instance."""
    down = "unknown" if rich else "unhealthy"
    protocol = str(settings.get("protocol", "http")).lower()
    port = int(settings.get("port") or (443 if protocol == "https" else 80))
    context = None
    if protocol == "https":
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        reader, writer = await within(timeout, asyncio.open_connection(address, port, ssl=context))
    except (OSError, asyncio.TimeoutError):
        return "unhealthy" if protocol == "tcp" else down
    try:
        if protocol == "tcp":
            return "healthy"
        path = settings.get("requestPath") or "/"
        writer.write(f"GET /{path.lstrip('/')} HTTP/1.0\r\nHost: {address}\r\nUser-Agent: ApplicationHealthExtension"
                     f"\r\n\r\n".encode())
        await writer.drain()
        raw = await within(timeout, _read_all(reader, 65536 + 4096))
        head, _, body = raw.partition(b"\r\n\r\n")
        parts = head.split(b"\r\n", 1)[0].split()
        status = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
        if rich:
            return rich_state(status, body)
        return "healthy" if status == 200 else "unhealthy"
    except (OSError, asyncio.TimeoutError, ValueError):
        return down
    finally:
        writer.close()


class HealthProber:
    def __init__(self, backend: "ComputeBackend"):
        self.backend = backend
        self._streaks: dict[tuple[str, str], tuple[bool, int]] = {}
        self._alive: dict[tuple[str, str], bool] = {}
        self._booted: dict[tuple[str, str], tuple[int, float]] = {}   # rich health: (generation, boot time)
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
                settings = (ext.get("properties") or {}).get("settings") or {}
                rich = is_rich(ext)
                if not alive:
                    if vm.power_state in ("running", "stopped"):
                        self._record(vm, slot, "unknown" if rich else "unhealthy", 1, rich=rich, settings=settings)
                    continue
                jobs.append(self._probe_one(vm, slot, settings, rich))
        if jobs:
            await asyncio.gather(*jobs)
        if membership:
            backend.membership_changed()

    async def _probe_one(self, vm, slot, settings: dict, rich: bool) -> None:
        generation = vm.generation
        state = await probe(vm.address, settings, timeout=max(0.5, self.tick), rich=rich)
        if vm.generation == generation and vm.power_state == "running":
            self._record(vm, slot, state, int(_number(settings.get("numberOfProbes"), 1)), rich=rich,
                         settings=settings)

    def _record(self, vm, slot, state: str, needed: int, *, rich: bool = False, settings: dict | None = None) -> None:
        last, count = self._streaks.get(slot, (state, 0))
        count = count + 1 if last == state else 1
        self._streaks[slot] = (state, count)
        if rich:
            booted_generation, since = self._booted.get(slot, (None, 0.0))
            if booted_generation != vm.generation:   # a (re)boot starts a new grace period
                since = time.monotonic()
                self._booted[slot] = (vm.generation, since)
                if vm.health != "initializing":
                    vm.health = "initializing"
                    self.backend.cloud.changed()
            in_grace = time.monotonic() - since < grace_seconds(settings or {}) * self.backend.cloud.options.probe_time_scale
            valid = state in ("healthy", "unhealthy") and count >= needed
            if vm.health == "initializing" and in_grace and not valid:
                return
        if count >= needed and vm.health != state:
            vm.health = state
            self.backend.cloud.changed()

    def forget(self) -> None:
        self._booted.clear()
        self._streaks.clear()
        self._alive.clear()

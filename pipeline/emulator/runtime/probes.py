"""Health probes: one asyncio task per (probe, member), on the emulator's event loop.

A member starts Down, is probed at once, goes Up after a success and Down after `threshold` consecutive
failures; then it is probed every `interval` seconds times `probe_time_scale`. Http/Https probes succeed on a
200 (Azure's rule), Tcp probes on an accepted connection. Certificates are not checked (Azure does not).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from typing import Callable
from .aio import within

log = logging.getLogger(__name__)

MAX_TIMEOUT = 2.0


@dataclass(frozen=True)
class ProbeSpec:
    protocol: str          # Http | Https | Tcp
    port: int
    path: str | None
    interval: float        # seconds, before scaling
    threshold: int         # consecutive failures that take a member Down


@dataclass
class ProbeState:
    up: bool = False
    probed: bool = False
    failures: int = 0
    reason: str = "Not probed yet."


def _insecure_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def probe_once(address: str, spec: ProbeSpec, timeout: float) -> tuple[bool, str]:
    """One probe: (success, reason)."""
    writer = None
    try:
        tls = _insecure_context() if spec.protocol == "Https" else None
        reader, writer = await within(timeout, asyncio.open_connection(address, spec.port, ssl=tls))
        if spec.protocol == "Tcp":
            return True, "The probe connection was accepted."
        path = spec.path if (spec.path or "/").startswith("/") else f"/{spec.path}"
        writer.write(f"GET {path or '/'} HTTP/1.1\r\nHost: {address}:{spec.port}\r\nUser-Agent: Load Balancer "
                     f"Agent\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        status_line = await within(timeout, reader.readline())
        parts = status_line.decode("latin-1").split()
        if len(parts) >= 2 and parts[1] == "200":
            return True, "The probe answered 200."
        return False, f"The probe answered {' '.join(parts[1:]) or 'nothing'} instead of 200."
    except asyncio.TimeoutError:
        return False, f"The probe timed out after {timeout:.1f} s."
    except (OSError, ssl.SSLError) as err:
        return False, f"The probe could not connect: {err.strerror or err}."
    finally:
        if writer is not None:
            writer.close()


class Prober:
    def __init__(self, *, time_scale: Callable[[], float],
                 admit: Callable[[str, ProbeSpec], bool] = lambda address, spec: True):
        self._time_scale = time_scale
        self._admit = admit   # network security groups on the member's path let the probe in
        self._tasks: dict[tuple, tuple[tuple, asyncio.Task]] = {}   # key -> ((address, spec), task)
        self._states: dict[tuple, ProbeState] = {}
        self._probed: dict[tuple, asyncio.Event] = {}

    def update(self, targets: dict[tuple, tuple[str, ProbeSpec]]) -> None:
        """Probe exactly these targets: {(probe key, member key): (address, spec)}. A changed address or spec
        starts the member over (Down until probed)."""
        for key in list(self._tasks):
            current, task = self._tasks[key]
            if targets.get(key) != current:
                task.cancel()
                del self._tasks[key]
                self._states.pop(key, None)
                self._probed.pop(key, None)
        for key, target in targets.items():
            if key not in self._tasks:
                self._states[key] = ProbeState()
                self._probed[key] = asyncio.Event()
                task = asyncio.get_running_loop().create_task(self._run(key, *target), name=f"probe-{key}")
                self._tasks[key] = (target, task)

    async def _run(self, key: tuple, address: str, spec: ProbeSpec) -> None:
        while True:
            interval = max(0.01, spec.interval * self._time_scale())
            timeout = min(MAX_TIMEOUT, max(0.2, interval))
            if self._admit(address, spec):
                ok, reason = await probe_once(address, spec, timeout)
            else:  # dropped by a network security group: on Azure the probe times out
                await asyncio.sleep(timeout)
                ok, reason = False, f"The probe timed out after {timeout:.1f} s."
            state = self._states.get(key)
            if state is None:
                return
            state.reason = reason
            if ok:
                state.up, state.failures = True, 0
            else:
                state.failures += 1
                if state.failures >= spec.threshold or not state.probed:
                    state.up = False
            if not state.probed:
                state.probed = True
                self._probed[key].set()
            await asyncio.sleep(interval)

    def state(self, key: tuple) -> ProbeState | None:
        return self._states.get(key)

    async def wait_probed(self, keys: list[tuple], timeout: float) -> None:
        """Until each target has a first result (bounded: a hung member must not hold up a write)."""
        events = [self._probed[k].wait() for k in keys if k in self._probed]
        if events:
            await asyncio.wait([asyncio.ensure_future(e) for e in events], timeout=timeout)

    async def stop(self) -> None:
        tasks = [task for _, task in self._tasks.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._states.clear()
        self._probed.clear()

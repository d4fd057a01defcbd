"""Instance processes: a scale-set VM is its image's entrypoint run as a real process.

cwd = the extracted image root; env = the manifest's env plus BIND_ADDRESS (the instance's own loopback
address), PORT, INSTANCE_ID, COMPUTER_NAME and CUSTOM_DATA_FILE. Output goes to the instance's console log
(its boot diagnostics). Each process gets its own process group and PR_SET_PDEATHSIG(SIGTERM), so neither
stopping nor killing the emulator leaves orphans.

Processes are started from the emulator's event-loop thread: PDEATHSIG fires when the *thread* that forked
the child exits, so a short-lived worker thread must never start one.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .images import LocalImage

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
STOP_GRACE_SECONDS = 5.0


def _child_setup() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except OSError:
        pass


@dataclass(frozen=True)
class LaunchSpec:
    image: LocalImage
    address: str
    instance_id: str
    computer_name: str
    workdir: Path                   # per-instance: console.log, custom data
    custom_data: bytes | None = None


def command_for(image: LocalImage) -> list[str]:
    argv = image.entrypoint
    if argv[0] in ("python3", "python"):
        argv[0] = sys.executable
    return argv


class InstanceProcess:
    """One running instance. `alive` is the app's state; the VM's power state is the caller's business."""

    def __init__(self, spec: LaunchSpec):
        self.spec = spec
        self._proc: subprocess.Popen | None = None

    @property
    def console_log(self) -> Path:
        return self.spec.workdir / "console.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def environment(self) -> dict[str, str]:
        spec = self.spec
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": os.environ.get("LANG", "C.UTF-8"),
               "PYTHONUNBUFFERED": "1", "HOME": str(spec.workdir)}
        env.update(spec.image.env)
        env.update({"BIND_ADDRESS": spec.address, "PORT": str(spec.image.port), "INSTANCE_ID": spec.instance_id,
                    "COMPUTER_NAME": spec.computer_name})
        if spec.custom_data is not None:
            path = spec.workdir / "custom_data"
            path.write_bytes(spec.custom_data)
            env["CUSTOM_DATA_FILE"] = str(path)
        return env

    def start(self) -> int:
        spec = self.spec
        spec.workdir.mkdir(parents=True, exist_ok=True)
        env = self.environment()
        with self.console_log.open("ab") as console:
            console.write(f"[local cloud] booting {spec.computer_name} ({spec.instance_id}) from "
                          f"{spec.image.uri} on {spec.address}:{spec.image.port}\n".encode())
            console.flush()
            self._proc = subprocess.Popen(command_for(spec.image), cwd=spec.image.root, env=env,
                                          stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                                          start_new_session=True, preexec_fn=_child_setup, close_fds=True)
        log.info("instance %s started: pid %s", spec.computer_name, self._proc.pid)
        return self._proc.pid

    def _signal(self, signum: int) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        try:
            os.killpg(self._proc.pid, signum)
        except ProcessLookupError:
            pass

    async def stop(self, *, grace: float = STOP_GRACE_SECONDS) -> None:
        """Terminate the process group, wait up to `grace` seconds, then kill it."""
        if self._proc is None:
            return
        self._signal(signal.SIGTERM)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self._proc.poll() is None and loop.time() < deadline:
            await asyncio.sleep(0.02)
        self.kill()

    def kill(self) -> None:
        """SIGKILL the whole process group and reap the child (a VM that dies at once)."""
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.warning("instance %s (pid %s) did not die", self.spec.computer_name, self._proc.pid)

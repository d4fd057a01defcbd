"""Serving the local cloud: the HTTPS ARM endpoint plus the connection file clients read.

`EmulatorServer` runs inside an event loop (the foreground `python -m pipeline.emulator`);
`ThreadedEmulator` runs one in a background thread, for tests and benchmarks that use the sync SDK clients.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
import threading
from pathlib import Path

from aiohttp import web

from .cloud import Cloud
from .core import contract
from .core.frontdoor import make_handler
from .options import EmulatorOptions
from .tls import ensure_certificates, server_context

log = logging.getLogger(__name__)


def persistent_token(state_dir: Path) -> str:
    """The bearer token survives restarts so clients holding the connection file keep working."""
    path = state_dir / "token"
    if path.exists():
        return path.read_text().strip()
    state_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    path.write_text(token)
    path.chmod(0o600)
    return token


def _blob_endpoint(connection_string: str | None) -> str | None:
    if not connection_string:
        return None
    found = re.search(r"BlobEndpoint=([^;]+)", connection_string)
    return found.group(1).rstrip("/") if found else None


class EmulatorServer:
    def __init__(self, options: EmulatorOptions, *, cloud_file: Path | None = None):
        self.options = options
        self.cloud_file = cloud_file
        self.cloud: Cloud | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def endpoint(self) -> str:
        return f"https://{self.options.host}:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.options.tls_dir / "ca.pem"

    async def start(self) -> None:
        _, cert_file, key_file = ensure_certificates(self.options.tls_dir)
        self.cloud = Cloud(self.options)
        self.cloud.on_frontends_changed = self.write_cloud_file
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", make_handler(self.cloud))
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.options.host, self.options.port,
                           ssl_context=server_context(cert_file, key_file), reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # the real port when 0 was asked for
        await self.cloud.start()
        # The contract guard's SDK models, imported now (about 0.7 s) rather than on a request: an import on the
        # loop thread while a client thread of the same process imports the SDK can deadlock (in-process tests).
        contract.warm()
        self.write_cloud_file()
        log.info("local cloud listening on %s (state in %s)", self.endpoint, self.options.state_dir)

    async def stop(self) -> None:
        if self.cloud:
            await self.cloud.stop()
        if self._runner:
            await self._runner.cleanup()

    def connection_info(self) -> dict:
        cloud = self.cloud
        blob = self.options.blob_connection_string
        return {
            "version": 1,
            "arm_endpoint": self.endpoint,
            "ca_file": str(self.ca_file.resolve()),
            "subscription_id": self.options.subscription_id,
            "tenant_id": self.options.tenant_id,
            "token": self.options.token,
            "blob_endpoint": _blob_endpoint(blob),
            "storage_account": "devstoreaccount1" if blob else None,
            "blob_connection_string": blob,
            "control_endpoint": f"{self.endpoint}/_emulator",
            "frontends": {f"{f['load_balancer']}/{f['rule']}": f"{f['address']}:{f['port']}"
                          for f in (cloud.network.frontends() if cloud else [])},
            "state_dir": str(self.options.state_dir.resolve()),
            "processes": {"emulator": os.getpid()},
        }

    def write_cloud_file(self) -> None:
        if not self.cloud_file:
            return
        info = self.connection_info()
        if self.cloud_file.exists():  # keep what others (local.up) added, e.g. Azurite's pid
            try:
                previous = json.loads(self.cloud_file.read_text())
                info["processes"] = {**previous.get("processes", {}), **info["processes"]}
            except (OSError, ValueError):
                pass
        self.cloud_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cloud_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(info, out, indent=2)
        os.replace(tmp, self.cloud_file)


class ThreadedEmulator:
    """An emulator on its own event loop in a daemon thread: `with ThreadedEmulator(opts) as emu: ...`."""

    def __init__(self, options: EmulatorOptions, *, cloud_file: Path | None = None):
        self.server = EmulatorServer(options, cloud_file=cloud_file)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="emulator", daemon=True)

    def __enter__(self) -> "ThreadedEmulator":
        self._thread.start()
        self.call(self.server.start())
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def call(self, coro, timeout: float = 120):
        """Run a coroutine on the emulator's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        if self._thread.is_alive():
            try:
                self.call(self.server.stop())
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(10)

    @property
    def cloud(self) -> Cloud:
        return self.server.cloud

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    @property
    def options(self) -> EmulatorOptions:
        return self.server.options

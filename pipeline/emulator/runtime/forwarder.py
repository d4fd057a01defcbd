"""The load balancer's TCP data plane: a listener per frontend (address, port) that forwards each accepted
connection to the target its `pick` function names at that moment (None: close the connection at once).

Network security groups: `admit(client, target)` is asked once per connection, before anything is forwarded.
A refused flow is dropped the way a userspace proxy can: the kernel has already completed the handshake, so the
client's connect succeeds, but nothing is ever forwarded or answered; what the client sends is read and
discarded; after `drop_seconds` the connection is reset (RST). A client with a read timeout shorter than that sees
a timeout, as it would on Azure, where the SYN is dropped and the connect itself times out.

Listeners stop accepting when closed; connections already established run to their end, as flows on an Azure
load balancer do when a rule changes. `abort()` (emulator stop) cuts them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from typing import Callable
from .aio import within

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 2.0
Target = tuple[str, int]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


Admit = Callable[[tuple[str, int], Target], bool]
DROP_SECONDS = 20.0


async def _discard(reader: asyncio.StreamReader) -> None:
    try:
        while await reader.read(65536):
            pass
    except (ConnectionError, OSError):
        pass


class Listener:
    def __init__(self, address: str, port: int, pick: Callable[[], Target | None], *, name: str,
                 admit: Admit | None = None, drop_seconds: float = DROP_SECONDS):
        self.address, self.port, self.pick, self.name = address, port, pick, name
        self.admit, self.drop_seconds = admit, drop_seconds
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.address, self.port, reuse_address=True)

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._connections.add(task)
        upstream_writer = None
        try:
            target = self.pick()
            if target is None:
                return  # no healthy member: the connection is closed at once
            if self.admit is not None and not self.admit(client_writer.get_extra_info("peername")[:2], target):
                await self._drop(client_reader, client_writer)
                return
            try:
                upstream_reader, upstream_writer = await within(CONNECT_TIMEOUT, asyncio.open_connection(*target))
            except (OSError, asyncio.TimeoutError) as err:
                log.debug("%s: could not reach %s:%s: %s", self.name, *target, err)
                return
            await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))
        finally:
            self._connections.discard(task)
            for writer in (client_writer, upstream_writer):
                if writer is not None:
                    writer.close()
                    with contextlib.suppress(Exception):
                        await writer.wait_closed()

    async def _drop(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A flow the network security groups refuse: nothing answered, then a reset after drop_seconds."""
        try:
            await within(self.drop_seconds, _discard(reader))
        except asyncio.TimeoutError:
            pass
        sock = writer.get_extra_info("socket")
        if sock is not None:  # linger 0: close with RST, as a connection that was never served
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    def close(self) -> None:
        """Stop accepting; established connections finish on their own."""
        if self._server is not None:
            self._server.close()
            self._server = None

    async def abort(self) -> None:
        self.close()
        tasks = list(self._connections)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

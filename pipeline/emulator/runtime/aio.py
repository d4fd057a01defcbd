"""Small asyncio helpers the runtime shares."""

from __future__ import annotations

import asyncio
from typing import Awaitable, TypeVar

T = TypeVar("T")


async def within(seconds: float, awaitable: Awaitable[T]) -> T:
    """`asyncio.wait_for` without its Python 3.11 flaw: a cancellation that arrives just as the awaited thing
    finishes can be swallowed (gh-86296), leaving a probe loop that never stops and a shutdown that hangs.
    `asyncio.timeout` does not lose it. Raises TimeoutError (asyncio.TimeoutError is the same class)."""
    async with asyncio.timeout(seconds):
        return await awaitable

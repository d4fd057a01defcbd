"""Every retry and polling policy of the pipeline, named and in one place (nothing else sleeps in a loop).

Policies are tenacity objects; `sleep` and the polling policies' `clock` (a monotonic seconds source) are
injectable, so tests of the logic never really sleep or wait. A fixed pause goes through `pause`.
"""

from __future__ import annotations

import time
from typing import Callable

from tenacity import (Retrying, retry_if_exception, retry_if_result, stop_after_attempt, wait_exponential,
                      wait_fixed)

# Azure answers 429 with Retry-After; the SDK retries GET/PUT/DELETE itself but not POST or PATCH.
THROTTLE_ATTEMPTS = 8
THROTTLE_MAX_WAIT_S = 60.0


def _retry_after_seconds(err: BaseException) -> float | None:
    response = getattr(err, "response", None)
    headers = getattr(response, "headers", None) or {}
    for name in ("Retry-After", "retry-after"):
        value = headers.get(name)
        if value:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def is_throttled(err: BaseException) -> bool:
    return getattr(err, "status_code", None) == 429


def wait_retry_after(fallback=wait_exponential(multiplier=1, max=30)):
    """Wait what the 429 said (Retry-After), else back off exponentially."""

    def wait(retry_state) -> float:
        outcome = retry_state.outcome
        err = outcome.exception() if outcome is not None and outcome.failed else None
        seconds = _retry_after_seconds(err) if err is not None else None
        if seconds is not None:
            return min(seconds, THROTTLE_MAX_WAIT_S)
        return fallback(retry_state)

    return wait


def on_throttle(*, sleep: Callable[[float], None] = time.sleep, attempts: int = THROTTLE_ATTEMPTS) -> Retrying:
    """For SDK calls the SDK does not retry itself (POST manualupgrade, PATCH): honour Retry-After."""
    return Retrying(retry=retry_if_exception(is_throttled), wait=wait_retry_after(),
                    stop=stop_after_attempt(attempts), sleep=sleep, reraise=True)


def retry_after_of(err: BaseException | None) -> float | None:
    """Retry-After of an SDK error, or of the SDK error a pipeline error was raised from."""
    while err is not None:
        seconds = _retry_after_seconds(err)
        if seconds is not None:
            return seconds
        err = err.__cause__
    return None


class Deadline:
    """`timeout_s` measured on `clock` from the first attempt of a Retrying (its `before` hook starts it):
    `stop` once it has passed, `remaining()` to cut a wait short. One per Retrying; a new call restarts it."""

    def __init__(self, timeout_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_s, self.clock = timeout_s, clock
        self.started = clock()

    def start(self, retry_state=None) -> None:
        if retry_state is None or retry_state.attempt_number == 1:
            self.started = self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.started

    def remaining(self) -> float:
        return max(0.0, self.timeout_s - self.elapsed())

    def stop(self, retry_state=None) -> bool:
        return self.elapsed() >= self.timeout_s


def poll_wait(*, deadline: Deadline, interval_s: float, throttled: Callable[[BaseException], bool]):
    """Wait `interval_s` between polls, or what a 429's Retry-After says when longer, never past the deadline."""

    def wait(retry_state) -> float:
        outcome = retry_state.outcome
        seconds = interval_s
        if outcome is not None and outcome.failed and throttled(outcome.exception()):
            seconds = max(interval_s, retry_after_of(outcome.exception()) or interval_s)
        return max(0.0, min(seconds, deadline.remaining()))

    return wait


def poll_until(*, timeout_s: float, interval_s: float, throttled: Callable[[BaseException], bool],
               sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> Retrying:
    """Poll a check until it returns a truthy value, for at most `timeout_s` (then RetryError). A throttled poll
    (a 429, e.g. listing scale-set VMs with their instance view on Azure) is polled again after its Retry-After,
    still within `timeout_s`; other errors raise at once."""
    deadline = Deadline(timeout_s, clock=clock)
    return Retrying(retry=retry_if_result(lambda done: not done) | retry_if_exception(throttled),
                    wait=poll_wait(deadline=deadline, interval_s=interval_s, throttled=throttled),
                    before=deadline.start, stop=deadline.stop, sleep=sleep)


def until_true(*, timeout_s: float, interval_s: float, sleep: Callable[[float], None] = time.sleep,
               clock: Callable[[], float] = time.monotonic) -> Retrying:
    """Poll a check returning a truthy value when done; gives up after `timeout_s` (raises RetryError)."""
    deadline = Deadline(timeout_s, clock=clock)
    return Retrying(retry=retry_if_result(lambda done: not done), wait=wait_fixed(interval_s),
                    before=deadline.start, stop=deadline.stop, sleep=sleep)


def pause(seconds: float, *, sleep: Callable[[float], None] = time.sleep) -> None:
    """A fixed wait (between rollout batches, around a cut-over sample): the one other place that sleeps."""
    if seconds > 0:
        sleep(seconds)


def on_conflict(*, is_conflict: Callable[[BaseException], bool], attempts: int = 5,
                sleep: Callable[[float], None] = time.sleep) -> Retrying:
    """Optimistic concurrency (ETag 412): re-read and retry a few times, briefly."""
    return Retrying(retry=retry_if_exception(is_conflict), wait=wait_exponential(multiplier=0.1, max=2),
                    stop=stop_after_attempt(attempts), sleep=sleep, reraise=True)


# A scale set answers 409 while another operation runs on it (e.g. an upgrade a killed run started): wait for
# it to end. Azure's instance operations take minutes; the local cloud's seconds.
BUSY_TIMEOUT_S = 300.0
BUSY_POLL_S = 2.0


def while_busy(*, is_busy: Callable[[BaseException], bool], timeout_s: float = BUSY_TIMEOUT_S,
               interval_s: float = BUSY_POLL_S, sleep: Callable[[float], None] = time.sleep,
               clock: Callable[[], float] = time.monotonic) -> Retrying:
    """Retry a write refused because another operation is in progress until that operation ends. `is_busy`
    decides from Azure's code (pipeline/azure/errors.py `is_transient_conflict`): a permanent 409 is not retried.
    Waits what a Retry-After says (else `interval_s`), never past `timeout_s`."""
    deadline = Deadline(timeout_s, clock=clock)
    return Retrying(retry=retry_if_exception(is_busy), wait=wait_retry_after(fallback=wait_fixed(interval_s)),
                    before=deadline.start, stop=deadline.stop, sleep=sleep, reraise=True)

"""Retry policies: honouring Retry-After on 429, waiting out a busy (409) resource; never really sleeping."""

from __future__ import annotations

import pytest

from pipeline.retry import on_throttle, while_busy


class Refused(Exception):
    def __init__(self, status_code: int, retry_after: str | None = None):
        super().__init__(f"{status_code}")
        self.status_code = status_code
        self.response = type("R", (), {"headers": {"Retry-After": retry_after} if retry_after else {}})()


def failing(times: int, err: Exception):
    calls = {"n": 0}

    def call():
        calls["n"] += 1
        if calls["n"] <= times:
            raise err
        return "done"

    return call, calls


def test_throttled_calls_wait_what_retry_after_says_then_succeed():
    slept: list[float] = []
    call, calls = failing(2, Refused(429, "7"))
    assert on_throttle(sleep=slept.append)(call) == "done"
    assert calls["n"] == 3 and slept == [7.0, 7.0]


def test_throttling_that_never_ends_reraises_the_429():
    slept: list[float] = []
    call, _ = failing(100, Refused(429, "1"))
    with pytest.raises(Refused):
        on_throttle(sleep=slept.append, attempts=3)(call)
    assert len(slept) == 2


def test_other_errors_are_not_retried_as_throttling():
    call, calls = failing(1, Refused(500))
    with pytest.raises(Refused):
        on_throttle(sleep=lambda s: None)(call)
    assert calls["n"] == 1


def test_a_busy_resource_is_waited_out():
    slept: list[float] = []
    call, calls = failing(3, Refused(409))
    assert while_busy(is_busy=lambda e: getattr(e, "status_code", None) == 409, interval_s=2,
                      sleep=slept.append)(call) == "done"
    assert calls["n"] == 4 and slept == [2, 2, 2]


class Conflict(Refused):
    """An SDK HttpResponseError's shape: status_code and error.code."""

    def __init__(self, code: str, retry_after: str | None = None):
        super().__init__(409, retry_after)
        self.error = type("E", (), {"code": code, "message": f"{code} happened"})()


def test_only_conflicts_azure_calls_transient_are_retried():
    from pipeline.azure.errors import is_transient_conflict

    for code in ("Conflict", "AnotherOperationInProgress", "OperationPreempted", "RetryableError"):
        assert is_transient_conflict(Conflict(code)), code
    for code in ("PropertyChangeNotAllowed", "OperationNotAllowed", "InvalidParameter", ""):
        assert not is_transient_conflict(Conflict(code)), code
    assert not is_transient_conflict(Refused(429))


def test_a_permanent_409_fails_at_once_and_a_transient_one_waits_what_retry_after_says():
    from pipeline.azure.errors import is_transient_conflict

    slept: list[float] = []
    call, calls = failing(5, Conflict("PropertyChangeNotAllowed"))
    with pytest.raises(Conflict):
        while_busy(is_busy=is_transient_conflict, sleep=slept.append)(call)
    assert calls["n"] == 1 and slept == []
    call, calls = failing(2, Conflict("Conflict", retry_after="10"))
    assert while_busy(is_busy=is_transient_conflict, interval_s=2, sleep=slept.append)(call) == "done"
    assert slept == [10.0, 10.0]


def test_polling_waits_retry_after_on_a_throttled_poll_but_never_past_the_timeout():
    from pipeline.retry import poll_until

    slept: list[float] = []
    results = iter([Refused(429, "7"), False, Refused(429, "100"), True])

    def check():
        value = next(results)
        if isinstance(value, Exception):
            raise value
        return value

    throttled = lambda err: getattr(err, "status_code", None) == 429  # noqa: E731
    assert poll_until(timeout_s=50, interval_s=2, throttled=throttled, sleep=slept.append)(check) is True
    assert slept[0] == 7.0 and slept[1] == 2.0 and slept[2] <= 50   # Retry-After 100 is cut to what is left
    with pytest.raises(Refused):                                       # other errors are not polled through
        poll_until(timeout_s=5, interval_s=1, throttled=throttled, sleep=slept.append)(failing(1, Refused(500))[0])


def test_polling_runs_on_the_injected_clock_and_stops_at_its_deadline_without_sleeping():
    from tenacity import RetryError

    from pipeline.retry import poll_until, until_true
    from tests.fixtures.fakes import Clocks

    clocks, polls = Clocks(), []

    def never_done() -> bool:
        polls.append(clocks.monotonic() - 100.0)
        return False

    with pytest.raises(RetryError):
        until_true(timeout_s=10, interval_s=3, sleep=clocks.sleep, clock=clocks.monotonic)(never_done)
    assert polls == [0, 3, 6, 9, 12] and clocks.slept == [3, 3, 3, 3]

    clocks, polls = Clocks(), []
    policy = poll_until(timeout_s=10, interval_s=3, throttled=lambda err: False, sleep=clocks.sleep,
                        clock=clocks.monotonic)
    with pytest.raises(RetryError):
        policy(never_done)
    assert polls == [0, 3, 6, 9, 10] and clocks.slept == [3, 3, 3, 1]   # the last wait is cut to the deadline
    polls.clear()
    with pytest.raises(RetryError):   # a second call of the same policy has its own deadline
        policy(never_done)
    assert polls == [10, 13, 16, 19, 20]


def test_a_pause_goes_through_the_injected_sleep_and_zero_does_not_sleep():
    from pipeline.retry import pause

    slept: list[float] = []
    pause(2.5, sleep=slept.append)
    pause(0, sleep=slept.append)
    assert slept == [2.5]

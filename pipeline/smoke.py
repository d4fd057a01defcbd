"""Smoke checks: HTTP requests against the staged fleet, through its frontend and to every instance by itself.

The decision (`evaluate`) is pure; `run_checks` does the I/O concurrently. One bad instance cannot hide
behind good ones, since each instance is checked on its own address as well as through the load balancer.
"""

from __future__ import annotations

import http.client
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from . import junit
from .errors import NotReady


@dataclass(frozen=True)
class Check:
    name: str
    path: str
    expect_status: int = 200
    body_contains: str | None = None
    latency_ms: int | None = None

    def for_version(self, version: str) -> "Check":
        """`{version}` in the path or expected body stands for the version being released."""
        return replace(self, path=self.path.replace("{version}", version),
                       body_contains=self.body_contains.replace("{version}", version)
                       if self.body_contains else None)


def configured(checks) -> list[Check]:
    """The checks of pipeline.toml (Settings.smoke) as smoke Checks."""
    return [Check(c.name, c.path, c.expect_status, c.body_contains, c.latency_ms) for c in checks]


@dataclass(frozen=True)
class Target:
    name: str          # "staging frontend", "instance 3"
    base_url: str      # http://127.20.0.1:8081
    hint: str = ""     # what to check when nothing answers (the port and the network security group)


def instance_targets(instances, *, fleet: str, color: str | None, frontend: str, backend_port: int,
                     nat: dict[str, int], private: dict[str, str], hint: str = "") -> list[Target]:
    """Each instance by itself: its port of the color's inbound NAT rule V2 on the frontend, else its private
    address. NotReady when it has neither (pure: the ports and addresses come in as read)."""
    found = []
    for instance in instances:
        key = instance.ip_configuration_id.lower()
        if key in nat:
            base = f"http://{frontend}:{nat[key]}"
        elif key in private:
            base = f"http://{private[key]}:{backend_port}"
        else:
            raise NotReady(f"instance {instance.instance_id} of {fleet} has no port of the {color} inbound NAT rule "
                           f"and no address; run `invoke infra`, then re-run `invoke stage` to converge the fleet")
        found.append(Target(f"instance {instance.instance_id}", base, hint))
    return found


# How a port that a network security group closes looks to a client: a timeout (Azure drops the SYN; the local
# cloud holds the connection unanswered), or a reset / refusal.
NO_ANSWER = ("timed out", "TimeoutError", "ConnectionRefusedError", "ConnectionResetError", "RemoteDisconnected")


def no_answer(error: str | None) -> bool:
    return bool(error) and any(mark in error for mark in NO_ANSWER)


def with_hint(failure: str | None, error: str | None, hint: str) -> str | None:
    """A failure with nothing answered names what to check."""
    return f"{failure}; {hint}" if failure and hint and no_answer(error) else failure


@dataclass(frozen=True)
class Outcome:
    target: Target
    check: Check
    status: int | None
    seconds: float
    failure: str | None

    @property
    def passed(self) -> bool:
        return self.failure is None


def evaluate(check: Check, *, status: int | None, body: str, seconds: float, error: str | None = None) -> str | None:
    """Why this response fails the check, or None when it passes."""
    if error:
        return f"request failed: {error}"
    if status != check.expect_status:
        return f"status {status}, expected {check.expect_status}"
    if check.body_contains and check.body_contains not in body:
        return f"body does not contain {check.body_contains!r}"
    if check.latency_ms is not None and seconds * 1000 > check.latency_ms:
        return f"took {seconds * 1000:.0f} ms, budget {check.latency_ms} ms"
    return None


def fetch(url: str, *, timeout_s: float) -> tuple[int | None, str, float, str | None]:
    """(status, body, seconds, error) for one GET; never raises for network errors."""
    parts = urlsplit(url)
    started = time.perf_counter()
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout_s)
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""),
                           headers={"Connection": "close", "User-Agent": "pipeline-smoke"})
        response = connection.getresponse()
        body = response.read(64 * 1024).decode("utf-8", "replace")
        return response.status, body, time.perf_counter() - started, None
    except (OSError, http.client.HTTPException) as err:
        return None, "", time.perf_counter() - started, f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    finally:
        connection.close()


def run_checks(checks: list[Check], targets: list[Target], *, version: str, timeout_s: float = 5.0,
               workers: int = 16) -> list[Outcome]:
    jobs = [(target, check.for_version(version)) for target in targets for check in checks]

    def one(job: tuple[Target, Check]) -> Outcome:
        target, check = job
        status, body, seconds, error = fetch(target.base_url + check.path, timeout_s=timeout_s)
        return Outcome(target, check, status, seconds,
                       with_hint(evaluate(check, status=status, body=body, seconds=seconds, error=error), error,
                                 target.hint))

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs)))) as pool:
        return list(pool.map(one, jobs))


def junit_report(outcomes: list[Outcome], *, suite: str) -> str:
    return junit.render(suite, [
        junit.Case(classname=f"smoke.{o.target.name}", name=f"{o.check.name} GET {o.check.path}",
                   seconds=o.seconds, failure=o.failure,
                   details=f"{o.target.base_url}{o.check.path}: {o.failure}" if o.failure else "")
        for o in outcomes])


def summary(outcomes: list[Outcome]) -> str:
    failed = [o for o in outcomes if not o.passed]
    if not failed:
        return f"{len(outcomes)} smoke checks passed"
    first = failed[0]
    return (f"{len(failed)} of {len(outcomes)} smoke checks failed, first: {first.check.name} on "
            f"{first.target.name} ({first.target.base_url}{first.check.path}): {first.failure}")

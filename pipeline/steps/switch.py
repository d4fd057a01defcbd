"""Moving production traffic: one guarded load balancer update, then verification through the production
frontend, and the swap back when verification fails. Shared by promote and rollback."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from tenacity import RetryError

from pipeline import bluegreen, retry
from pipeline import nsg as nsg_plan
from pipeline import smoke as checks
from pipeline.azure import network
from pipeline.steps.context import Context

log = logging.getLogger(__name__)

VERIFY_REQUESTS = 8          # requests per round; every one must come from the new fleet
VERIFY_ROUNDS = 2            # consecutive good rounds
VERIFY_PAUSE_S = 0.5


@dataclass(frozen=True)
class Verification:
    passed: bool
    rounds: int
    seconds: float
    last_failure: str | None


@dataclass
class Cutover:
    """Production traffic sampled while traffic moves: what users saw, and when the swap was made."""

    url: str
    version: str
    samples: tuple = ()
    swap_offset_s: float | None = None
    _sampler: object = None

    def mark_swap(self) -> None:
        if self._sampler is not None:
            self.swap_offset_s = self._sampler.offset()

    def summary(self) -> dict:
        from pipeline import traffic

        took = traffic.cutover_seconds(list(self.samples), version=self.version, since=self.swap_offset_s or 0.0)
        return {"requests": len(self.samples), "failures": traffic.failures(list(self.samples)),
                "cutover_seconds": round(took, 3) if took is not None else None}


@contextmanager
def sample_production(ctx: Context, *, version: str,
                      sleep: Callable[[float], None] = time.sleep) -> Iterator[Cutover]:
    """A constant light load on production's /version for the duration of the block, from `cutover.lead` before
    it (so the chart shows the state it started from) to `cutover.tail` after it (the settled state)."""
    from pipeline.traffic import Sampler

    sampling = ctx.settings.cutover
    cutover = Cutover(url=production_url(ctx) + "/version", version=version)
    sampler = Sampler(url=cutover.url, rate_per_s=20, threads=2, timeout_s=2.0, max_seconds=600)
    cutover._sampler = sampler
    sampler.start()
    try:
        retry.pause(sampling.lead.total_seconds(), sleep=sleep)
        yield cutover
        retry.pause(sampling.tail.total_seconds(), sleep=sleep)
    finally:
        sampler.stop()
        cutover.samples = tuple(sampler.samples)


def production_url(ctx: Context) -> str:
    s = ctx.settings
    address = network.public_ip_address(ctx.clients, s.load_balancer.frontend)
    return f"http://{address}:{s.load_balancer.production_rule.frontend_port}"


def verify_checks(ctx: Context) -> list[checks.Check]:
    """The smoke checks that name the version identify which fleet answered; all of them if none do."""
    every = checks.configured(ctx.settings.smoke)
    return [c for c in every if "{version}" in (c.body_contains or "") + c.path] or every


def verify(ctx: Context, *, version: str, timeout_s: float, progress: Callable[[str], None],
           sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> Verification:
    """Poll production (pipeline/retry.py `until_true`) until VERIFY_ROUNDS rounds in a row answer `version`."""
    base = production_url(ctx)
    wanted = [c.for_version(version) for c in verify_checks(ctx)]
    started = clock()
    state = {"good": 0, "rounds": 0, "failure": None}

    def round_failure() -> str | None:
        for _ in range(VERIFY_REQUESTS):
            for check in wanted:
                status, body, seconds, error = checks.fetch(base + check.path, timeout_s=5)
                # latency budgets are for smoke; here only "which version answers" matters
                reason = checks.with_hint(checks.evaluate(check, status=status, body=body, seconds=0.0,
                                                          error=error), error,
                                          nsg_plan.no_answer_hint(ctx.settings, staging=False))
                if reason:
                    return f"{check.name} {base}{check.path}: {reason}"
        return None

    def one_round() -> bool:
        state["rounds"] += 1
        state["failure"] = failure = round_failure()
        state["good"] = 0 if failure else state["good"] + 1
        if failure and state["rounds"] % 5 == 1:
            progress(f"verifying {version} through {base}: {failure}")
        return state["good"] >= VERIFY_ROUNDS

    try:
        retry.until_true(timeout_s=timeout_s, interval_s=VERIFY_PAUSE_S, sleep=sleep, clock=clock)(one_round)
    except RetryError:
        return Verification(False, state["rounds"], clock() - started, state["failure"])
    return Verification(True, state["rounds"], clock() - started, None)


def move_traffic(ctx: Context, *, lb: dict, assignments: dict[str, str], progress: Callable[[str], None]) -> dict:
    """ONE load balancer PUT with the new rule->pool assignments, guarded by the ETag of `lb` (as read)."""
    for line in bluegreen.describe(assignments):
        progress(line)
    # A lost ETag race raises PreconditionFailed (exit 9): nothing was switched; a re-run reads and decides again.
    return network.put_load_balancer(ctx.clients, bluegreen.with_rule_pools(lb, assignments), if_match=lb.get("etag"))


@dataclass(frozen=True)
class VerifyResult:
    fleet: str
    version: str
    verification: Verification

    @property
    def summary(self) -> str:
        v = self.verification
        if v.passed:
            return f"production serves {self.version} from {self.fleet} (verified in {v.seconds:.1f}s)"
        return f"production does not serve {self.version} from {self.fleet}: {v.last_failure}"

    def to_json(self) -> dict:
        return {"step": "verify", "fleet": self.fleet, "version": self.version, "passed": self.verification.passed,
                "seconds": round(self.verification.seconds, 2), "failure": self.verification.last_failure}


def verify_live(ctx: Context, *, progress: Callable[[str], None] = log.info) -> VerifyResult:
    """`invoke verify`: production answers with the live fleet's version (read-only; changes nothing)."""
    from pipeline import ledger as ledger_model
    from pipeline.errors import NotReady, VerificationFailed
    from pipeline.steps.smoke import release_version

    ledger = ctx.ledger()
    live = ledger_model.live_fleet(ledger)
    if live is None:
        raise NotReady(f"nothing is live in {ctx.settings.environment}; run `invoke promote` first")
    version = release_version(ctx, ledger_model.running_image_version(ledger, live.name) or live.image_version)
    result = VerifyResult(live.name, version, verify(ctx, version=version,
                                                     timeout_s=ctx.settings.timeouts.promote_verify.total_seconds(),
                                                     progress=progress))
    if not result.verification.passed:
        raise VerificationFailed(f"{result.summary}; run `invoke status`, and `invoke rollback` if production is bad")
    return result

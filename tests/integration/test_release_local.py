"""The release steps end to end on the local cloud: real Packer, real Azurite, real traffic through the emulated
load balancer to real instance processes. Each bad input gets a one-line error and leaves production alone."""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline import smoke as checks
from pipeline.azure import network
from pipeline.config import SmokeCheck
from pipeline.errors import (FleetUnhealthy, LockHeld, NotReady, ResourceMissing, SmokeFailed, Throttled,
                             VerificationFailed)
from pipeline.lock import ReleaseLock
from pipeline.steps.bake import bake
from pipeline.steps.infra import ensure_infra
from pipeline.steps.promote import promote, rollback
from pipeline.steps.release import changed_app, release
from pipeline.steps.retire import retire
from pipeline.steps.smoke import smoke
from pipeline.steps.stage import stage
from pipeline.steps.status import status
from pipeline.steps.switch import production_url

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
APP = REPO / "packer" / "app"


def quiet(_: str) -> None:
    pass


def served_version(ctx) -> str | None:
    status_code, body, _, _ = checks.fetch(production_url(ctx) + "/version", timeout_s=3)
    return json.loads(body)["version"] if status_code == 200 else None


class Watch:
    """Production traffic while a test runs: every response's version, and every failure."""

    def __init__(self, ctx, interval_s: float = 0.05):
        self.url = production_url(ctx) + "/version"
        self.interval_s = interval_s
        self.versions: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + 600
        while not self._stop.is_set() and time.monotonic() < deadline:
            code, body, _, error = checks.fetch(self.url, timeout_s=3)
            if code == 200:
                self.versions.append(json.loads(body)["version"])
            else:
                self.failures.append(f"{code} {error}")
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "Watch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)


def app_variant(tmp_path: Path, *, health_status: int | None = None) -> Path:
    target = tmp_path / "app"
    shutil.copytree(APP, target, ignore=shutil.ignore_patterns("__pycache__"))
    if health_status is not None:
        (target / "HEALTH_STATUS").write_text(str(health_status))
    return target


@pytest.fixture
def live_ctx(ctx):
    """An environment with its infrastructure and a first release (1.0.0) live."""
    ensure_infra(ctx)
    release(ctx, app_version="1.0.0", progress=quiet)
    assert served_version(ctx) == "1.0.0"
    return ctx


def test_release_second_release_rollback_and_retire(live_ctx, tmp_path):
    ctx = live_ctx
    with Watch(ctx) as watch:
        result = release(ctx, app_version="1.1.0", app_dir=changed_app(APP, tmp_path / "changed"), progress=quiet)
    assert [name for name, _, _ in result.steps] == ["bake", "stage", "smoke", "promote"]
    assert served_version(ctx) == "1.1.0"
    _, body, _, _ = checks.fetch(production_url(ctx) + "/", timeout_s=3)
    assert "changed" in body
    assert watch.failures == [] and watch.versions[-1] == "1.1.0"

    report = status(ctx)
    roles = {f.role: f for f in report.fleets}
    assert roles["live"].image_version == "1.1.0" and roles["previous"].image_version == "1.0.0"
    assert all(i["ready"] for i in roles["live"].instances)

    with Watch(ctx) as watch:
        back = rollback(ctx, progress=quiet)
    assert back.image_version == "1.0.0" and served_version(ctx) == "1.0.0"
    assert watch.failures == []
    with pytest.raises(NotReady, match="nothing to roll back to"):
        rollback(ctx, progress=quiet)

    ctx.now = lambda: datetime.now(timezone.utc) + ctx.settings.keep_warm + timedelta(minutes=1)
    retired = retire(ctx, progress=quiet)
    assert retired.fleets == ("hello-local-1-1-0",)
    left = {v.name for v in ctx.clients.compute.virtual_machine_scale_sets.list(ctx.settings.resource_group)}
    assert left == {"hello-local-1-0-0"}
    assert served_version(ctx) == "1.0.0"
    history = [e.event for e in ctx.ledger().history]
    assert history[-3:] == ["promoted", "rolled_back", "retired"]


def test_stage_of_a_missing_image_version_changes_nothing(ctx):
    ensure_infra(ctx)
    before = network.get_load_balancer(ctx.clients, ctx.settings.load_balancer.name)["etag"]
    with pytest.raises(ResourceMissing, match="image version 9.9.9 does not exist.*invoke bake"):
        stage(ctx, image_version="9.9.9", progress=quiet)
    assert network.get_load_balancer(ctx.clients, ctx.settings.load_balancer.name)["etag"] == before


def test_steps_without_infrastructure_say_to_run_infra(ctx):
    with pytest.raises(ResourceMissing, match="invoke infra"):
        stage(ctx, image_version="1.0.0", progress=quiet)


def test_promote_with_nothing_staged_and_rollback_with_nothing_to_roll_back_to(ctx):
    ensure_infra(ctx)
    with pytest.raises(NotReady, match="nothing is staged.*invoke stage"):
        promote(ctx, progress=quiet)
    with pytest.raises(NotReady, match="nothing to roll back to"):
        rollback(ctx, progress=quiet)


def test_an_unhealthy_fleet_fails_stage_and_production_keeps_serving(live_ctx, tmp_path):
    ctx = live_ctx
    ctx.clients.settings = dataclasses.replace(
        ctx.settings, timeouts=dataclasses.replace(ctx.settings.timeouts, stage_health=timedelta(seconds=8)))
    baked = bake(ctx, app_version="1.2.0", app_dir=app_variant(tmp_path, health_status=503), progress=quiet)
    with Watch(ctx) as watch, pytest.raises(FleetUnhealthy) as caught:
        stage(ctx, image_version=baked.image_version, progress=quiet)
    message = str(caught.value)
    assert "hello-local-1-2-0 is not healthy" in message and "\n" not in message
    # Rich Health States: a 503 is no valid signal, so the instance stays Initializing (then Unknown): not healthy
    assert any("health initializing" in line or "health unknown" in line for line in caught.value.details)
    assert any(line.startswith("    |") for line in caught.value.details), "boot log tail expected"
    assert watch.failures == [] and set(watch.versions) == {"1.0.0"}
    ledger = ctx.ledger()
    assert ledger.fleets["hello-local-1-2-0"].state == "failed" and ledger.staged is None
    with pytest.raises(NotReady):
        promote(ctx, progress=quiet)
    assert served_version(ctx) == "1.0.0"


def test_a_failing_smoke_check_blocks_promote(live_ctx, tmp_path):
    ctx = live_ctx
    baked = bake(ctx, app_version="1.3.0", progress=quiet)
    stage(ctx, image_version=baked.image_version, progress=quiet)
    ctx.clients.settings = dataclasses.replace(ctx.settings, smoke=(
        SmokeCheck(name="health", path="/health", expect_status=200, body_contains="ok", latency_ms=2000),
        SmokeCheck(name="docs", path="/docs", expect_status=200, body_contains="", latency_ms=2000)))
    report = tmp_path / "smoke.xml"
    with pytest.raises(SmokeFailed, match="smoke checks failed.*docs") as caught:
        smoke(ctx, report=report, progress=quiet)
    assert "status 404, expected 200" in "\n".join(caught.value.details)
    assert 'failures="3"' in report.read_text()  # staging frontend + 2 instances
    with pytest.raises(NotReady, match="has not passed its smoke checks|nothing is staged"):
        promote(ctx, progress=quiet)
    assert served_version(ctx) == "1.0.0"


def test_a_second_promote_fails_at_once_naming_the_holder(live_ctx):
    ctx = live_ctx
    s = ctx.settings
    holder = ReleaseLock(ctx.clients.blob, container=s.storage.ledger_container, environment=s.environment,
                         task="promote", who="release-manager-1")
    with holder:
        started = time.monotonic()
        with pytest.raises(LockHeld, match="held by release-manager-1 .*task promote"):
            promote(ctx, progress=quiet)
        assert time.monotonic() - started < 30  # "at once": no waiting for the lease


def test_throttled_health_queries_are_retried_and_persistent_throttling_is_reported(live_ctx, cloud):
    ctx = live_ctx
    from pipeline.emulator.core.faults import FaultRule

    baked = bake(ctx, app_version="1.4.0", progress=quiet)
    rule = cloud.cloud.faults.add(FaultRule(kind="throttle", operation="LoadBalancerLoadBalancingRules_Health",
                                            count=2, retry_after=1))
    stage(ctx, image_version=baked.image_version, progress=quiet)
    assert rule.fired == 2
    smoke(ctx, report=None, progress=quiet)
    cloud.cloud.faults.clear()
    cloud.cloud.faults.add(FaultRule(kind="throttle", operation="LoadBalancerLoadBalancingRules_Health",
                                     retry_after=1))
    with pytest.raises(Throttled, match="throttling"):
        promote(ctx, progress=quiet)
    cloud.cloud.faults.clear()
    assert served_version(ctx) == "1.0.0"


def test_verification_failure_swaps_back(live_ctx):
    ctx = live_ctx
    baked = bake(ctx, app_version="1.5.0", progress=quiet)
    stage(ctx, image_version=baked.image_version, progress=quiet)
    smoke(ctx, report=None, progress=quiet)
    # The released app answers a version other than the one its image is tagged with: verification must fail.
    ctx.clients.settings = dataclasses.replace(
        ctx.settings, timeouts=dataclasses.replace(ctx.settings.timeouts, promote_verify=timedelta(seconds=3)),
        smoke=(SmokeCheck(name="version", path="/version", expect_status=200, body_contains="no-such-version",
                          latency_ms=2000),))
    with Watch(ctx) as watch, pytest.raises(VerificationFailed, match="swapped back"):
        promote(ctx, progress=quiet)
    assert served_version(ctx) == "1.0.0"
    assert watch.failures == []
    assert ctx.ledger().live == "hello-local-1-0-0"
    failed = ctx.ledger().history[-1]
    assert (failed.event, failed.fleet, failed.image_version) == ("promote_failed", "hello-local-1-5-0", "1.5.0")

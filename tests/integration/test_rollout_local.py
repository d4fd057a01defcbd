"""The in-place rollout on the local cloud: a live 5-instance fleet (one per update domain), a new image baked
with real Packer, real manualupgrade of real instance processes, real traffic through the emulated load
balancer. The Azure SDK is the real one; faults and kills go through the emulator's control surface."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipeline import ledger as ledger_model
from pipeline import rollout as plans
from pipeline import smoke as checks
from pipeline import traffic
from pipeline.azure import compute
from pipeline.azure.clients import Clients
from pipeline.errors import NotReady, RolloutHalted
from pipeline.local.cloudfile import write_cloud_file
from pipeline.steps.bake import bake
from pipeline.steps.context import Context
from pipeline.steps.infra import ensure_infra
from pipeline.steps.promote import promote
from pipeline.steps.release import changed_app
from pipeline.steps.rollout import rollout
from pipeline.steps.smoke import smoke
from pipeline.steps.stage import stage
from pipeline.steps.switch import production_url
from tests.fixtures.pipeline import local_settings_for

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
APP = REPO / "packer" / "app"
CAPACITY = 5


def quiet(_: str) -> None:
    pass


class Watch:
    """Production traffic while a rollout runs (traffic.Sampler: 2 threads, 20 requests/s, a new connection each,
    1 s timeout): every answer's version, every failure, and the longest time nothing was answered."""

    def __init__(self, ctx):
        self.sampler = traffic.Sampler(url=production_url(ctx) + "/version", rate_per_s=20, threads=2,
                                       timeout_s=1.0, max_seconds=600, max_samples=20_000)

    @property
    def versions(self) -> list[str]:
        return [s.version for s in sorted(self.sampler.samples, key=lambda s: s.t_offset_s) if s.ok]

    @property
    def failures(self) -> list[str]:
        return [s.error or str(s.status) for s in self.sampler.samples if not s.ok]

    def longest_gap(self) -> float:
        """The longest time between two requests that were answered (by their send times, in seconds)."""
        times = [0.0, *sorted(s.t_offset_s for s in self.sampler.samples if s.ok), self._ended]
        return max(b - a for a, b in zip(times, times[1:]))

    def answered_throughout(self, max_gap_s: float = 2.0) -> bool:
        return bool(self.versions) and self.longest_gap() <= max_gap_s

    def __enter__(self) -> "Watch":
        self.sampler.start()
        return self

    def __exit__(self, *exc) -> None:
        self._ended = self.sampler.offset()
        self.sampler.stop()


@pytest.fixture
def ctx(request, local_cloud):
    """A Context on the test local cloud whose fleets have CAPACITY instances."""
    settings = local_settings_for(request, {"capacity.default": str(CAPACITY)})
    with Clients(settings, cloud=local_cloud) as clients:
        yield Context(clients=clients, who="tester@pipeline-tests")


def bake_app(ctx, version: str, app_dir: Path, tmp_path: Path):
    """Bake with a Packer work directory of the test's own (other test runs may share the checkout)."""
    return bake(ctx, app_version=version, app_dir=app_dir, output_dir=tmp_path / f"bake-{version}", progress=quiet)


@pytest.fixture
def live(ctx, tmp_path):
    """Infrastructure and a first release (1.0.0) live on CAPACITY instances; returns the live fleet name."""
    ensure_infra(ctx)
    baked = bake_app(ctx, "1.0.0", APP, tmp_path)
    stage(ctx, image_version=baked.image_version, progress=quiet)
    smoke(ctx, report=None, progress=quiet)
    promote(ctx, progress=quiet)
    assert served_version(ctx) == "1.0.0"
    return ctx.ledger().live


def instances(ctx, fleet: str):
    return compute.instances(ctx.clients, fleet, ctx.ids.scale_set(fleet))


def image_id(ctx, version: str) -> str:
    s = ctx.settings
    return ctx.ids.gallery_image_version(s.image.gallery, s.image.definition, version)


def versions_of(ctx, fleet: str) -> dict[str, str]:
    return {i.instance_id: i.image_id.rsplit("/", 1)[-1] for i in instances(ctx, fleet)}


def served_version(ctx) -> str | None:
    code, body, _, _ = checks.fetch(production_url(ctx) + "/version", timeout_s=3)
    return json.loads(body)["version"] if code == 200 else None


def app_variant(tmp_path: Path, *, health_status: int) -> Path:
    target = tmp_path / "bad-app"
    shutil.copytree(APP, target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "HEALTH_STATUS").write_text(str(health_status))
    return target


def test_dry_run_and_a_fleet_too_unhealthy_to_start_change_nothing(ctx, live, cloud, tmp_path):
    baked = bake_app(ctx, "1.1.0", changed_app(APP, tmp_path / "changed"), tmp_path)
    ctx.dry_run = True
    history = len(ctx.ledger().history)
    result = rollout(ctx, image_version=baked.image_version, progress=quiet)
    assert result.dry_run
    lines = result.plan.lines()
    domains = [b.domain for b in result.plan.batches]
    assert domains == sorted(domains) and len(domains) == len(set(domains))
    assert sum(len(b.instances) for b in result.plan.batches) == CAPACITY
    assert any("set the scale set model's image to 1.1.0" in line for line in lines)
    assert any(line.startswith("1. update domain 0: manualupgrade instances") for line in lines)
    assert set(versions_of(ctx, live).values()) == {"1.0.0"} and len(ctx.ledger().history) == history
    assert result.to_json()["batches"][0]["domain"] == 0

    ctx.dry_run = False
    victim = max(instances(ctx, live), key=lambda i: i.update_domain)
    cloud.call(cloud.cloud.compute.kill_instance(ctx.settings.resource_group, live, victim.instance_id))
    with pytest.raises(NotReady, match=f"1 unhealthy instances outside update domain 0 \\({victim.instance_id}\\)"):
        rollout(ctx, image_version=baked.image_version, progress=quiet)
    model = compute.find_scale_set(ctx.clients, live)
    assert plans.same_image(compute.model_image_id(model), image_id(ctx, "1.0.0"))
    assert ledger_model.rollout_state(ctx.ledger(), live) is None


def test_happy_path_every_instance_ends_on_the_new_image_and_production_answers_throughout(ctx, live, tmp_path):
    baked = bake_app(ctx, "1.1.0", changed_app(APP, tmp_path / "changed"), tmp_path)
    seen: list[str] = []
    with Watch(ctx) as watch:
        result = rollout(ctx, image_version=baked.image_version, progress=seen.append)
    assert watch.answered_throughout(), (watch.longest_gap(), watch.failures[:5])
    # The sample app drains on SIGTERM (health 503, still serving) until the probe takes it out of rotation:
    # production loses no request (README, "Failed requests, and how to get none").
    assert watch.failures == [], watch.failures
    assert {"1.0.0", "1.1.0"} <= set(watch.versions) and watch.versions[-1] == "1.1.0"
    final = instances(ctx, live)
    assert len(final) == CAPACITY
    assert all(i.latest_model and plans.same_image(i.image_id, image_id(ctx, "1.1.0")) and i.ready for i in final)
    assert [b.label for b in result.batches] == [f"update domain {d}" for d in sorted({i.update_domain for i in final})]
    # one batch at a time: each manualupgrade named exactly one domain's instances
    by_domain = {}
    for i in final:
        by_domain.setdefault(i.update_domain, set()).add(i.instance_id)
    assert [set(b.upgraded) for b in result.batches] == [by_domain[d] for d in sorted(by_domain)]
    assert served_version(ctx) == "1.1.0"
    from pipeline.steps.status import status

    shown = {f.role: f for f in status(ctx).fleets}["live"]
    assert (shown.image_version, shown.running_version) == ("1.0.0", "1.1.0")
    assert shown.rollout.startswith("rollout forward 1.0.0 -> 1.1.0: finished")
    state = ledger_model.rollout_state(ctx.ledger(), live)
    assert (state.status, state.image_version, state.previous_version) == ("finished", "1.1.0", "1.0.0")
    assert ctx.ledger().live == live  # the fleet view is untouched: same fleet, still live
    assert ledger_model.running_image_version(ctx.ledger(), live) == "1.1.0"
    # re-running the same rollout is a no-op
    again = rollout(ctx, image_version="1.1.0", progress=quiet)
    assert again.batches == () and "nothing to do" in again.summary


def test_a_bad_image_halts_after_the_first_domain_and_rollback_restores_it(ctx, live, tmp_path):
    baked = bake_app(ctx, "1.2.0", app_variant(tmp_path, health_status=503), tmp_path)
    with Watch(ctx) as watch, pytest.raises(RolloutHalted) as caught:
        rollout(ctx, image_version=baked.image_version, batch_timeout_s=8, progress=quiet)
    message = str(caught.value)
    assert "\n" not in message and "halted at update domain 0" in message and "--rollback" in message
    assert caught.value.exit_code == 12
    # Rich Health States: a 503 is no valid signal, so the instance reads Initializing (then Unknown): not healthy
    assert any(("health initializing" in line or "health unknown" in line) and "update domain 0" in line
               for line in caught.value.details)
    assert any(line.startswith("    |") for line in caught.value.details), "boot log tail expected"
    # The bad instance takes production traffic only until the probe marks it Down (interval x threshold after
    # it restarts); once halted, production is served by the old image alone.
    assert watch.answered_throughout() and len(watch.failures) <= 0.1 * len(watch.sampler.samples)
    assert watch.versions.count("1.2.0") <= 0.1 * len(watch.versions)
    assert {served_version(ctx) for _ in range(20)} == {"1.0.0"}
    by_version = versions_of(ctx, live)
    upgraded = [i for i, v in by_version.items() if v == "1.2.0"]
    domain0 = {i.instance_id for i in instances(ctx, live) if i.update_domain == 0}
    assert set(upgraded) == domain0, "only the first domain may carry the bad image"
    state = ledger_model.rollout_state(ctx.ledger(), live)
    assert state.status == "halted" and state.current.domain == 0 and state.done == ()
    with pytest.raises(NotReady, match="--resume.*--rollback"):
        rollout(ctx, image_version="1.3.0", progress=quiet)

    back = rollout(ctx, rollback=True, progress=quiet)
    assert [b.label for b in back.batches] == ["update domain 0"]
    assert set(versions_of(ctx, live).values()) == {"1.0.0"}
    assert all(i.ready for i in instances(ctx, live))
    assert served_version(ctx) == "1.0.0"
    assert ledger_model.rollout_state(ctx.ledger(), live).status == "rolled_back"
    model = compute.find_scale_set(ctx.clients, live)
    assert plans.same_image(compute.model_image_id(model), image_id(ctx, "1.0.0"))
    with pytest.raises(NotReady, match="nothing to roll back"):
        rollout(ctx, rollback=True, progress=quiet)


RUNNER = """
import json, sys
from pathlib import Path
from pipeline.azure.clients import Clients
from pipeline.config import load_settings
from pipeline.local.cloudfile import read_cloud_file
from pipeline.steps.context import Context
from pipeline.steps.rollout import rollout

cloud_file, overrides, version = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
settings = load_settings(path=Path("pipeline.toml"), environment="local", environ={}, overrides=overrides)
with Clients(settings, cloud=read_cloud_file(Path(cloud_file))) as clients:
    rollout(Context(clients, who="runner@pipeline-tests"), image_version=version, pause_s=1,
            progress=lambda line: print(line, flush=True))
"""


def test_a_rollout_killed_midway_resumes_from_the_ledger(ctx, live, local_cloud, tmp_path):
    baked = bake_app(ctx, "1.4.0", changed_app(APP, tmp_path / "changed"), tmp_path)
    cloud_file = tmp_path / "cloud.json"
    write_cloud_file(cloud_file, local_cloud)
    s = ctx.settings
    overrides = {"storage.ledger_container": s.storage.ledger_container,
                 "storage.packages_container": s.storage.packages_container,
                 "capacity.default": str(CAPACITY)}
    log = (tmp_path / "runner.log").open("w")
    runner = subprocess.Popen([sys.executable, "-c", RUNNER, str(cloud_file), json.dumps(overrides),
                               baked.image_version], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline = time.monotonic() + 120
        while True:  # kill it once the first batch passed its gate and the second has begun
            events = [e.event for e in ctx.ledger().history]
            if events.count("rollout_batch_done") >= 1 and events.count("rollout_batch_started") >= 2:
                break
            assert runner.poll() is None, (tmp_path / "runner.log").read_text()
            assert time.monotonic() < deadline, "the runner never got past its first batch"
            time.sleep(0.1)
        runner.send_signal(signal.SIGKILL)
    finally:
        runner.wait(10)
        log.close()
    state = ledger_model.rollout_state(ctx.ledger(), live)
    assert state.status == "running" and len(state.done) >= 1
    # The kill lands while the second batch is in flight (a batch takes over a second; we look every 0.1 s).
    in_flight = state.current.label if state.current else None

    with pytest.raises(NotReady, match="--resume"):
        rollout(ctx, image_version=baked.image_version, progress=quiet)
    with Watch(ctx) as watch:
        result = rollout(ctx, resume=True, progress=quiet)
    assert result.plan.resumed
    if in_flight:
        assert result.batches[0].label == in_flight, "the batch in flight is re-checked first"
    assert not set(state.done) & {b.label for b in result.batches}, "a done batch must not run again"
    assert len(result.batches) == len(state.batches) - len(state.done)
    assert set(versions_of(ctx, live).values()) == {"1.4.0"}
    assert all(i.ready and i.latest_model for i in instances(ctx, live))
    assert watch.answered_throughout(), watch.longest_gap()
    events = [e.event for e in ctx.ledger().history]
    assert "rollout_resumed" in events and events[-1] == "rollout_finished"


def test_throttled_manualupgrade_is_retried_honouring_retry_after(ctx, live, cloud, tmp_path):
    from pipeline.emulator.core.faults import FaultRule

    baked = bake_app(ctx, "1.5.0", changed_app(APP, tmp_path / "changed"), tmp_path)
    rule = cloud.cloud.faults.add(FaultRule(kind="throttle", operation="VirtualMachineScaleSets_UpdateInstances",
                                            count=2, retry_after=1))
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    try:
        result = rollout(ctx, image_version=baked.image_version, batch="percent:40", sleep=sleep, progress=quiet)
    finally:
        cloud.cloud.faults.clear()
    assert rule.fired == 2
    # Both 429s carried Retry-After, so azure-core's RetryPolicy retried them itself (it retries any method,
    # POST included, when Retry-After is present), sleeping what they said; pipeline.retry.on_throttle covers
    # a 429 the SDK gives up on. (`waits` also holds the health gate's 1 s polls, so it cannot tell who slept.)
    upgrades = {row["status"]: row["count"] for row in cloud.cloud.counters.describe()
                if row["operation"] == "VirtualMachineScaleSets_UpdateInstances"}
    assert upgrades.get(429) == 2 and upgrades.get(202, 0) >= 3, upgrades
    assert [b.label for b in result.batches] == ["batch 1", "batch 2", "batch 3"]  # 40% of 5 = 2 instances
    assert [len(b.instances) for b in result.batches] == [2, 2, 1]
    assert set(versions_of(ctx, live).values()) == {"1.5.0"}


def test_an_instance_that_dies_mid_rollout_is_recreated_with_its_domain(ctx, live, cloud, tmp_path):
    baked = bake_app(ctx, "1.6.0", changed_app(APP, tmp_path / "changed"), tmp_path)
    before = instances(ctx, live)
    victim = max(before, key=lambda i: (i.update_domain, int(i.instance_id)))
    killed = threading.Event()

    def progress(line: str) -> None:
        # while the second domain upgrades, a VM of the last (not yet upgraded) domain dies
        if line.startswith("update domain 1: manualupgrade") and not killed.is_set():
            cloud.call(cloud.cloud.compute.kill_instance(ctx.settings.resource_group, live, victim.instance_id))
            killed.set()

    result = rollout(ctx, image_version=baked.image_version, max_unhealthy=0.2, progress=progress)
    assert killed.is_set()
    tolerated = [b for b in result.batches if victim.instance_id in b.tolerated]
    assert tolerated, "the dead instance counts as unhealthy (within the 20% threshold)"
    last = result.batches[-1]
    assert victim.instance_id in last.upgraded and last.label == f"update domain {victim.update_domain}"
    final = {i.instance_id: i for i in instances(ctx, live)}
    assert final[victim.instance_id].ready and final[victim.instance_id].latest_model
    assert set(versions_of(ctx, live).values()) == {"1.6.0"} and result.unhealthy == ()

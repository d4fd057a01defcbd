"""`--dry-run` and the read-only tasks write nothing at all, on a fresh environment and on a live one: the
emulator's write counters (PUT/PATCH/POST/DELETE, GET /_emulator/counters) do not move, and Azurite's
containers and blobs (names and ETags) stay as they were. Reading the ledger does not create its container."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from pipeline.errors import PipelineError
from pipeline.steps.bake import bake
from pipeline.steps.doctor import doctor
from pipeline.steps.infra import ensure_infra
from pipeline.steps.promote import promote, rollback
from pipeline.steps.release import release
from pipeline.steps.retire import retire
from pipeline.steps.rollout import rollout
from pipeline.steps.smoke import smoke
from pipeline.steps.stage import stage
from pipeline.steps.status import status
from pipeline.steps.switch import verify_live
from tests.fixtures.localcloud import control

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
WRITES = ("PUT", "PATCH", "POST", "DELETE")
# The POSTs of pipeline/rbac.py that only read (queries Azure models as actions): a rule's backend health, the
# port mapping of inbound NAT rules, an instance's boot diagnostics. Every other POST changes something.
READING_POSTS = frozenset({"LoadBalancerLoadBalancingRules_Health", "LoadBalancers_ListInboundNatRulePortMappings",
                           "VirtualMachineScaleSetVMs_RetrieveBootDiagnosticsData"})


def quiet(_: str) -> None:
    pass


def arm_writes(cloud) -> list[tuple[str, str, int]]:
    """Every write the emulator has answered so far, by (method, operation, count)."""
    return sorted((row["method"], row["operation"], row["count"]) for row in control(cloud, "GET", "counters")["value"]
                  if row["method"] in WRITES and not row["operation"].startswith("Control_")
                  and row["operation"] not in READING_POSTS)


def blobs(ctx) -> dict[str, object]:
    """Azurite's containers and blobs, each with its ETag (a rewrite changes it)."""
    service = ctx.clients.blob
    seen: dict[str, object] = {}
    for container in service.list_containers():
        seen[container.name] = container.etag
        for blob in service.get_container_client(container.name).list_blobs():
            seen[f"{container.name}/{blob.name}"] = (blob.etag, blob.lease.state)
    return seen


def runs(ctx, report: Path) -> dict:
    """Every task's dry run and every read-only task; a refusal (e.g. NotReady) is an outcome too."""
    def dry(step):
        def call():
            ctx.dry_run = True
            try:
                return step()
            finally:
                ctx.dry_run = False
        return call

    return {
        "infra --dry-run": dry(lambda: ensure_infra(ctx)),
        "bake --dry-run": dry(lambda: bake(ctx, app_version="9.9.9", progress=quiet)),
        "stage --dry-run": dry(lambda: stage(ctx, image_version="1.0.0", progress=quiet)),
        "smoke --dry-run": dry(lambda: smoke(ctx, report=report, progress=quiet)),
        "promote --dry-run": dry(lambda: promote(ctx, progress=quiet)),
        "rollback --dry-run": dry(lambda: rollback(ctx, progress=quiet)),
        "retire --dry-run": dry(lambda: retire(ctx, progress=quiet)),
        "rollout --dry-run": dry(lambda: rollout(ctx, image_version="1.0.0", progress=quiet)),
        "release --dry-run": dry(lambda: release(ctx, app_version="9.9.9", progress=quiet)),
        "status": lambda: status(ctx),
        "verify": lambda: verify_live(ctx, progress=quiet),
        "doctor": lambda: doctor(ctx),
    }


def run_all_and_assert_nothing_written(ctx, cloud, report: Path) -> dict[str, str]:
    outcomes = {}
    for name, call in runs(ctx, report).items():
        before_arm, before_blobs = arm_writes(cloud), blobs(ctx)
        try:
            result = call()
            outcomes[name] = type(result).__name__
        except PipelineError as err:
            outcomes[name] = type(err).__name__
        assert arm_writes(cloud) == before_arm, f"{name} wrote to ARM"
        assert blobs(ctx) == before_blobs, f"{name} wrote to blob storage"
    return outcomes


def test_dry_runs_and_read_only_tasks_write_nothing_on_a_fresh_environment(ctx, cloud, tmp_path):
    container = ctx.settings.storage.ledger_container
    outcomes = run_all_and_assert_nothing_written(ctx, cloud, tmp_path / "smoke.xml")
    assert outcomes["infra --dry-run"] == "InfraResult"
    assert outcomes["status"] == "StatusResult" and outcomes["doctor"] == "DoctorResult"
    assert container not in blobs(ctx), "reading the ledger created its container"


def test_dry_runs_and_read_only_tasks_write_nothing_on_a_live_environment(ctx, cloud, tmp_path):
    ensure_infra(ctx)
    release(ctx, app_version="1.0.0", progress=quiet)
    release(ctx, app_version="1.1.0", progress=quiet)   # 1.1.0 live, 1.0.0 warm: rollback has somewhere to go
    real_now = ctx.now
    ctx.now = lambda: real_now() + ctx.settings.keep_warm + timedelta(minutes=1)  # retire has work
    outcomes = run_all_and_assert_nothing_written(ctx, cloud, tmp_path / "smoke.xml")
    ctx.now = real_now
    for name in ("infra --dry-run", "bake --dry-run", "stage --dry-run", "rollback --dry-run", "retire --dry-run",
                 "rollout --dry-run", "release --dry-run", "status", "verify", "doctor"):
        assert not outcomes[name].endswith(("Error", "Failed", "Missing", "NotReady")), (name, outcomes[name])

    # With 1.2.0 staged and smoked, smoke and promote have work too (smoke's JUnit report is its output, not a cloud write).
    stage(ctx, image_version=bake(ctx, app_version="1.2.0", progress=quiet).image_version, progress=quiet)
    smoke(ctx, report=None, progress=quiet)   # promote wants a smoked fleet
    outcomes = run_all_and_assert_nothing_written(ctx, cloud, tmp_path / "smoke.xml")
    assert (outcomes["smoke --dry-run"], outcomes["promote --dry-run"]) == ("SmokeResult", "SwitchResult")

"""deploy/azure-role.json is enough for the whole lifecycle, and minimal: with the local cloud ENFORCING it.

One lifecycle through the real steps (pipeline/steps/*) with the emulator enforcing the role (RBAC on, as
Azure checks it: each route's action, linked actions of request bodies, operation-status polls):

    infra -> release 1.0.0 -> release 1.0.1 -> a release whose fleet never gets healthy (the stage reads boot
    diagnostics) -> release 1.0.3 (the failed fleet is removed) -> rollback -> rollout (manualUpgrade) ->
    retire after the keep-warm window (fleets and image versions deleted) -> doctor

1. No request is refused, and the ARM actions the emulator checked (GET /_emulator/authorizations) plus the
   storage actions (which Azurite cannot check: rbac.STORAGE_ACTIONS) are exactly the role's Actions.
   AZURE_ONLY_ACTIONS are added too: what only an Azure run does (pipeline/rbac.py says why for each).
2. Minimal: the emulator recorded which step first needed each action. A second lifecycle, on a fresh cloud,
   runs each step first once per action it was the first to need, with a role lacking just that action (in
   the order the actions were first needed, so each attempt gets as far as that action), and asserts the step
   fails with the 403 surfaced as the pipeline's one-line error (AzureError, exit 3, naming the action; for
   the boot log, which only explains an unhealthy fleet, the line under the step's error); then runs the step
   with the whole role so the lifecycle goes on. Only the failing steps are repeated, not the lifecycle.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import pytest

from pipeline import rbac
from pipeline.errors import AzureError, FleetUnhealthy, PipelineError
from tests.fixtures.localcloud import authorizations, control

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "deploy" / "azure-role.json"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("packer") is None, reason="packer is not installed (make setup)")]


@dataclass
class Lifecycle:
    """One lifecycle's clients and context on the test cloud (its own ledger and package containers)."""

    ctx: Any
    quick: Any            # a Context whose stage gives up after a few seconds (the unhealthy release)
    app: Path
    bad_app: Path
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Lifecycle], Any]
    expect: type[BaseException] | None = None   # the step's own outcome with the whole role
    again: Callable[[Lifecycle], Any] | None = None   # how a user re-runs it after a failure (default: `run`)

    def retried(self) -> "Step":
        return replace(self, run=self.again) if self.again else self


def _doctor(life: Lifecycle):
    """`invoke doctor` (read-only). It reports a read Azure refused as a check "not checked: ... 403 ..." instead
    of raising; for this test such a check is the step failing, raised as the one line AzureError it names."""
    from pipeline.steps.doctor import doctor

    result = doctor(life.ctx)
    refused = [f"{c.name}: {c.summary}" for c in result.checks if " 403 " in f" {c.summary} "]
    if refused:
        raise AzureError("; ".join(refused))
    return result


def steps() -> list[Step]:
    from pipeline.steps.infra import ensure_infra
    from pipeline.steps.promote import rollback
    from pipeline.steps.release import release
    from pipeline.steps.retire import retire
    from pipeline.steps.rollout import rollout

    def released(version: str, *, bad: bool = False) -> Callable[[Lifecycle], Any]:
        return lambda life: release(life.quick if bad else life.ctx, app_version=version,
                                    app_dir=life.bad_app if bad else life.app, progress=life.lines.append)

    def retired(life: Lifecycle):
        later = replace(life.ctx, now=lambda: life.ctx.now() + timedelta(days=1))
        return retire(later, progress=life.lines.append)

    def retired_something(life: Lifecycle):
        result = retired(life)
        assert result.fleets and result.image_versions, f"retire deleted nothing: {result.summary}"
        return result

    found = [
        Step("infra", lambda life: ensure_infra(life.ctx)),
        Step("release 1.0.0", released("1.0.0")),
        Step("release 1.0.1", released("1.0.1")),
        Step("release 1.0.2 (unhealthy)", released("1.0.2", bad=True), FleetUnhealthy),
        Step("release 1.0.3", released("1.0.3")),
        Step("rollback", lambda life: rollback(life.ctx, progress=life.lines.append)),
        Step("rollout 1.0.3", lambda life: rollout(life.ctx, image_version="1.0.3", progress=life.lines.append),
             again=lambda life: rollout(life.ctx, resume=True, progress=life.lines.append)),
        Step("retire", retired_something, again=retired),   # a re-run finishes what a failed one began
        Step("doctor", _doctor),
    ]
    return found


def run_step(step: Step, life: Lifecycle) -> BaseException | None:
    """Run one step; the exception it ended with (None when it succeeded)."""
    try:
        step.run(life)
    except PipelineError as err:
        return err
    return None


def expect_outcome(step: Step, outcome: BaseException | None, life: Lifecycle) -> None:
    if step.expect is None:
        assert outcome is None, f"{step.name} failed with the whole role: {outcome}\n" + "\n".join(life.lines[-30:])
    else:
        assert isinstance(outcome, step.expect), f"{step.name}: expected {step.expect.__name__}, got {outcome!r}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A copy of packer/ (and an app whose health check fails) in a scratch directory."""
    root = tmp_path_factory.mktemp("role")
    shutil.copytree(REPO / "packer", root / "packer", ignore=shutil.ignore_patterns("__pycache__"))
    bad = root / "bad-app"
    shutil.copytree(root / "packer" / "app", bad)
    (bad / "HEALTH_STATUS").write_text("503\n")
    return root


@pytest.fixture(scope="module")
def lifecycle(request, emulator, azurite, workdir):
    """`lifecycle(tag)` -> a context manager giving a Lifecycle with its own containers, in `workdir`."""
    from contextlib import ExitStack, contextmanager

    from pipeline.azure.clients import Clients
    from pipeline.steps.context import Context
    from tests.fixtures.pipeline import local_cloud_of, local_settings_for

    @contextmanager
    def make(tag: str):
        own = {"keep_image_versions": "1", "storage.ledger_container": f"ledger-{tag}",
               "storage.packages_container": f"packages-{tag}"}
        settings = local_settings_for(request, own)
        impatient = local_settings_for(request, {**own, "timeouts.stage_health": "4s"})
        cloud = local_cloud_of(emulator, azurite)
        with pytest.MonkeyPatch.context() as patch, ExitStack() as stack:
            patch.chdir(workdir)
            clients = stack.enter_context(Clients(settings, cloud=cloud))
            quick = stack.enter_context(Clients(impatient, cloud=cloud))
            who = "role-test@pipeline-tests"
            yield Lifecycle(ctx=Context(clients=clients, who=who), quick=Context(clients=quick, who=who),
                            app=workdir / "packer" / "app", bad_app=workdir / "bad-app")

    return make


@pytest.fixture(scope="module")
def full_run(emulator, lifecycle) -> dict[str, dict]:
    """The lifecycle with deploy/azure-role.json enforced: {action: {"step", "denied", "first"}}."""
    emulator.call(emulator.cloud.reset())
    control(emulator, "PUT", "role", json.loads(ROLE.read_text()))
    needed: dict[str, dict] = {}
    try:
        with lifecycle("full") as life:
            for step in steps():
                expect_outcome(step, run_step(step, life), life)
                for action, seen in authorizations(emulator).items():
                    needed.setdefault(action, {"step": step.name, "order": seen["order"],
                                               "first": seen["first"]})["denied"] = seen["denied"]
    finally:
        control(emulator, "DELETE", "role")
    return needed


def test_the_whole_lifecycle_runs_under_the_role_and_uses_every_action_of_it(full_run):
    denied = {action: seen for action, seen in full_run.items() if seen["denied"]}
    assert not denied, f"deploy/azure-role.json lacks actions the lifecycle needs: {denied}"
    role = json.loads(ROLE.read_text())
    expected_actions, expected_data = rbac.role_actions(full_run)
    missing = sorted(set(expected_actions) - set(role["Actions"]))
    unused = sorted(set(role["Actions"]) - set(expected_actions))
    assert not missing, f"the pipeline performed actions deploy/azure-role.json lacks: {missing}"
    assert not unused, f"deploy/azure-role.json grants actions no step needed: {unused}"
    assert sorted(role["DataActions"]) == expected_data
    assert role["NotActions"] == [] and role.get("NotDataActions", []) == []


def test_the_lifecycle_sends_no_read_only_or_unknown_property(emulator, full_run):
    """Every request body of the lifecycle, checked by the local cloud's contract guard (core/contract.py) against
    the Azure SDK model of its operation: nothing Azure computes (read-only) or does not know. On Azure a load
    balancer PUT that carries back a pool's NIC members is refused; pipeline/azure/writable.py keeps them out."""
    counters = control(emulator, "GET", "counters")
    writes = {(row["method"], row["operation"]) for row in counters["value"]}
    assert ("PUT", "LoadBalancers_CreateOrUpdate") in writes  # the swaps and the staging pointer were written
    assert counters["contract"] == [], "bodies carried what Azure computes or does not know:\n" + "\n".join(
        f"  {c['operation']}: {c['kind']} {c['path']} (x{c['count']})" for c in counters["contract"])


def refused_visibly(outcome: BaseException | None, action: str) -> bool:
    """The step failed and says which action it lacked: one line, exit 3; or (boot log) under its error."""
    if outcome is None:
        return False
    message = str(outcome)
    if isinstance(outcome, AzureError) and outcome.exit_code == 3 and "\n" not in message:
        return "403" in message and action in message
    return any(action in line for line in getattr(outcome, "details", ()))


def test_the_role_is_minimal_each_action_removed_fails_the_first_step_that_needs_it(emulator, full_run,
                                                                                     lifecycle):
    role = rbac.load_role(ROLE)
    by_step: dict[str, list[str]] = {}
    for action in role.actions:
        if action in rbac.STORAGE_ACTIONS or action in rbac.AZURE_ONLY_ACTIONS:
            continue   # Azurite's, or only an Azure run needs them: written down with why in pipeline/rbac.py
        assert action in full_run, f"{action} was never checked (see the other test)"
        by_step.setdefault(full_run[action]["step"], []).append(action)
    assert by_step, "no ARM action to take out of the role"
    emulator.call(emulator.cloud.reset())
    full = json.loads(ROLE.read_text())
    not_refused = []
    try:
        with lifecycle("probe") as life:
            for step in steps():
                # The order the actions were first needed in: each attempt gets as far as its action.
                attempt = step
                for action in sorted(by_step.get(step.name, []), key=lambda a: full_run[a]["order"]):
                    control(emulator, "PUT", "role", role.without(action).to_json())
                    outcome = run_step(attempt, life)
                    if not refused_visibly(outcome, action):
                        not_refused.append(f"{step.name} without {action}: {outcome!r}")
                    attempt = step.retried()
                control(emulator, "PUT", "role", full)
                expect_outcome(step, run_step(attempt, life), life)
    finally:
        control(emulator, "DELETE", "role")
    assert not not_refused, "actions the role holds that no step failed without:\n" + "\n".join(not_refused)


"""deploy/azure-role.json holds exactly what a full release performs on the local cloud, nothing unused.

A full lifecycle through the real steps (pipeline/steps/*), counted by the emulator (GET /_emulator/counters):
infra -> release 1.0.0 -> release 1.0.1 -> a release whose fleet never gets healthy (the stage reads boot
diagnostics) -> release 1.0.3 (the failed fleet is removed) -> rollback -> retire after the keep-warm window
(fleets and image versions deleted). pipeline/rbac.py turns the counted (method, operationId) pairs into RBAC
actions; storage actions, which the emulator cannot count, come from rbac.STORAGE_ACTIONS / STORAGE_DATA_ACTIONS.
Packer's own Azure actions belong to the builder's role (deploy/README.md), not to this one.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from pipeline import rbac

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "deploy" / "azure-role.json"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("packer") is None, reason="packer is not installed (make setup)")]


def control(emulator, method: str, path: str) -> dict | None:
    """One call to the emulator's control API over HTTPS with its token, as a benchmark or CI would make it."""
    import requests

    response = requests.request(method, f"{emulator.endpoint}/_emulator/{path}", timeout=10,
                                headers={"Authorization": f"Bearer {emulator.options.token}"},
                                verify=str(emulator.server.ca_file))
    response.raise_for_status()
    return response.json() if response.content else None


@pytest.fixture
def pipeline_fixtures():
    """tests/fixtures/pipeline.py (Settings, LocalCloud and Clients for the test cloud), or skip without it."""
    try:
        from tests.fixtures import pipeline as fixtures
    except ImportError as err:
        pytest.skip(f"tests/fixtures/pipeline.py (ctx, local_settings_for, local_cloud) is not there yet: {err}")
    return fixtures


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A copy of packer/ in a scratch directory that is the working directory (.pipeline/bake goes there too)."""
    shutil.copytree(REPO / "packer", tmp_path / "packer", ignore=shutil.ignore_patterns("__pycache__"))
    bad = tmp_path / "bad-app"
    shutil.copytree(tmp_path / "packer" / "app", bad)
    (bad / "HEALTH_STATUS").write_text("503\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def counted_run(request, cloud, azurite, pipeline_fixtures, workdir) -> list[dict]:
    """Run the lifecycle through the real steps; return the emulator's counters for it."""
    from pipeline.azure.clients import Clients
    from pipeline.errors import FleetUnhealthy
    from pipeline.steps.context import Context
    from pipeline.steps.infra import ensure_infra
    from pipeline.steps.promote import rollback
    from pipeline.steps.release import release
    from pipeline.steps.retire import retire
    from pipeline.steps.rollout import rollout

    settings = pipeline_fixtures.local_settings_for(request, {"keep_image_versions": "1"})
    impatient = pipeline_fixtures.local_settings_for(request, {"keep_image_versions": "1",
                                                               "timeouts.stage_health": "4s"})
    local_cloud = pipeline_fixtures.local_cloud_of(cloud, azurite)
    lines: list[str] = []
    app = workdir / "packer" / "app"

    control(cloud, "DELETE", "counters")
    with Clients(settings, cloud=local_cloud) as clients, Clients(impatient, cloud=local_cloud) as quick:
        ctx = Context(clients=clients, who="role-test@pipeline-tests")
        ensure_infra(ctx)
        release(ctx, app_version="1.0.0", app_dir=app, progress=lines.append)
        release(ctx, app_version="1.0.1", app_dir=app, progress=lines.append)
        with pytest.raises(FleetUnhealthy):
            release(Context(clients=quick, who=ctx.who), app_version="1.0.2", app_dir=workdir / "bad-app",
                    progress=lines.append)
        release(ctx, app_version="1.0.3", app_dir=app, progress=lines.append)
        rollback(ctx, progress=lines.append)
        rollout(ctx, image_version="1.0.3", progress=lines.append)  # the in-place way: manualUpgrade
        later = replace(ctx, now=lambda: ctx.now() + timedelta(days=1))
        retired = retire(later, progress=lines.append)
    assert retired.fleets and retired.image_versions, f"retire deleted nothing: {retired.summary}\n" + "\n".join(lines)
    return control(cloud, "GET", "counters")["value"]


def test_the_role_holds_exactly_what_a_full_release_performs(counted_run):
    role = json.loads(ROLE.read_text())
    used = rbac.used_actions(counted_run)
    expected_actions, expected_data = rbac.role_actions(used)

    missing = sorted(set(expected_actions) - set(role["Actions"]))
    unused = sorted(set(role["Actions"]) - set(expected_actions))
    assert not missing, f"the pipeline performed actions deploy/azure-role.json lacks: {missing}"
    assert not unused, f"deploy/azure-role.json grants actions no release performed: {unused}"
    assert sorted(role["DataActions"]) == expected_data
    assert role["NotActions"] == [] and role.get("NotDataActions", []) == []

"""A user's view of RBAC in the local cloud: `local.up --role FILE` enforces it, and a task refused by it stops
with one error line naming the action it lacks (exit 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import rbac
from tests.e2e.helpers import local_cloud

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "deploy" / "azure-role.json"
LACKING = "Microsoft.Network/publicIPAddresses/write"


def test_a_task_refused_by_the_enforced_role_exits_3_naming_the_action(tmp_path):
    small = tmp_path / "role.json"
    small.write_text(json.dumps(rbac.load_role(ROLE).without(LACKING).to_json()))
    with local_cloud(tmp_path, role_file=small) as cloud:
        assert cloud.control("GET", "/role")["enforcing"] is True
        # PYTHONPATH: the task imports this checkout's pipeline, not the one the venv has installed.
        line = cloud.invoke("infra", env={"PYTHONPATH": str(REPO)}).failed(3, rf"403 AuthorizationFailed: the pipeline's identity may not perform "
                                               rf"{LACKING} on /subscriptions/.+/publicIPAddresses/")
        assert "deploy/azure-role.json" in line
        denied = {row["action"]: row for row in cloud.control("GET", "/authorizations")["value"]}
        assert denied[LACKING]["denied"] == 1 and denied[LACKING]["granted"] == 0

"""Starting the local cloud with a role file: enforced from the first request (and after a reset); a file that
does not parse stops the start with one line, from `python -m pipeline.emulator --role` and `invoke local.up
--role` alike, before anything starts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError

from pipeline.emulator.server import ThreadedEmulator
from tests.fixtures.localcloud import build_clients, control, emulator_options

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "deploy" / "azure-role.json"


@pytest.fixture
def bad_role(tmp_path) -> Path:
    path = tmp_path / "role.json"
    path.write_text(json.dumps({"Actions": ["Microsoft.Compute/virtualMachineScaleSets/read"],
                                "NotActions": "Microsoft.Compute/*"}))
    return path


def test_an_emulator_started_with_the_role_file_enforces_it(tmp_path):
    with ThreadedEmulator(emulator_options(tmp_path / "state", role_file=ROLE)) as emu:
        arm = build_clients(emu)
        arm.resources.resource_groups.create_or_update("rg-role", {"location": "westeurope"})   # granted
        with pytest.raises(HttpResponseError) as err:
            arm.resources.resource_groups.begin_delete("rg-role").result()   # the role does not delete groups
        assert err.value.status_code == 403 and err.value.error.code == "AuthorizationFailed"
        assert "'Microsoft.Resources/subscriptions/resourceGroups/delete'" in err.value.error.message
        control(emu, "POST", "reset")
        assert control(emu, "GET", "role")["enforcing"] is True   # a reset keeps the role it started with


def test_the_emulator_refuses_to_start_with_a_role_file_that_does_not_parse(tmp_path, bad_role):
    proc = subprocess.run([sys.executable, "-m", "pipeline.emulator", "--role", str(bad_role), "--port", "0",
                           "--state-dir", str(tmp_path / "state"), "--cloud-file", str(tmp_path / "cloud.json")],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"python -m pipeline.emulator: role file {bad_role}: NotActions must be a list " \
                                  f"of action strings"
    assert not (tmp_path / "state").exists() and not (tmp_path / "cloud.json").exists()


def test_local_up_refuses_a_role_file_that_does_not_parse_before_starting_anything(tmp_path, bad_role):
    invoke = REPO / ".venv" / "bin" / "invoke"
    proc = subprocess.run([str(invoke), "local.up", "--role", str(bad_role)], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                                       "PIPELINE_LOCAL_ARM_PORT": "1", "PIPELINE_LOCAL_BLOB_PORT": "1"})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in lines[0]
    assert f"--role / PIPELINE_LOCAL_ROLE: role file {bad_role}: NotActions must be a list" in lines[0]

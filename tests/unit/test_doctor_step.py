"""The doctor step's result as the CLI prints it: plain lines with fixes, --json, and exit 13 only on a FAIL."""

from __future__ import annotations

import json

import pytest
from invoke.exceptions import Exit

from pipeline import cli
from pipeline.bake.installed import parse_azure_plugin, parse_version
from pipeline.doctor.checks import FAIL, PASS, WARN, Check
from pipeline.errors import ConfigError
from pipeline.steps.doctor import ROLE, DoctorResult, role_actions


def result(*statuses: str) -> DoctorResult:
    checks = tuple(Check(f"check-{i}", s, f"found {i}", "" if s == PASS else f"do {i}") for i, s in enumerate(statuses))
    return DoctorResult("azure-example", "sub", "rg", checks)


def test_only_a_fail_makes_the_exit_code_13():
    assert result(PASS, WARN).exit_code == 0
    assert result(PASS, FAIL, WARN).exit_code == 13
    assert "check-1" in result(PASS, FAIL).failure


def test_lines_show_each_check_and_the_fix_of_those_not_passing():
    lines = result(PASS, FAIL).lines()
    assert any("PASS" in line and "check-0" in line for line in lines)
    assert any(line.strip() == "fix: do 1" for line in lines)
    assert not any("do 0" in line for line in lines)
    assert lines[-1] == "doctor azure-example: 1 PASS, 0 WARN, 1 FAIL"


def test_json_has_the_step_and_every_check():
    data = result(PASS, WARN).to_json()
    assert data["step"] == "doctor" and data["ok"] is True and data["counts"] == {"PASS": 1, "WARN": 1, "FAIL": 0}
    assert data["checks"][1] == {"name": "check-1", "status": "WARN", "summary": "found 1", "fix": "do 1"}


def test_the_cli_prints_the_json_then_exits_13(capsys):
    with pytest.raises(Exit) as exit_:
        cli.run(lambda: result(FAIL), as_json=True)
    assert exit_.value.code == 13 and "doctor: 1 check(s) fail (check-0)" in exit_.value.message
    assert json.loads(capsys.readouterr().out)["ok"] is False
    assert cli.run(lambda: result(PASS), as_json=True).exit_code == 0


def test_the_role_file_gives_the_actions_and_a_broken_one_is_a_config_error(tmp_path):
    actions, data = role_actions(ROLE)
    assert "Microsoft.Network/loadBalancers/write" in actions and data
    (tmp_path / "role.json").write_text("{")
    with pytest.raises(ConfigError, match="role.json: cannot read"):
        role_actions(tmp_path / "role.json")


def test_packer_output_parsing():
    assert parse_version("Packer v1.11.2\n\nYour version of Packer is out of date!") == "1.11.2"
    assert parse_version("nothing") is None
    listing = ("/root/.config/packer/plugins/github.com/hashicorp/azure/packer-plugin-azure_v2.1.7_x5.0_linux_amd64\n"
               "/root/.config/packer/plugins/github.com/hashicorp/azure/packer-plugin-azure_v2.10.0_x5.0_linux_amd64\n")
    assert parse_azure_plugin(listing) == "2.10.0"
    assert parse_azure_plugin("github.com/hashicorp/docker/packer-plugin-docker_v1.0.0_x5.0_linux_amd64") is None

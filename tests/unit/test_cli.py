"""The CLI shell: overrides parsing, exit codes from PipelineError, records and their Markdown summary."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from invoke.exceptions import Exit

from pipeline import cli
from pipeline.errors import ConfigError, SmokeFailed
from pipeline.record import Recorder


def test_overrides_are_key_value_pairs():
    assert cli.parse_overrides(["capacity.default=3", "a.b= x"]) == {"capacity.default": "3", "a.b": " x"}
    with pytest.raises(ConfigError, match="is not KEY=VALUE"):
        cli.parse_overrides(["capacity.default"])


def test_a_pipeline_error_becomes_its_exit_code_and_one_line(capsys):
    def failing():
        raise SmokeFailed("2 of 6 smoke checks failed; fix the app", details=["instance 3: status 500"])

    with pytest.raises(Exit) as caught:
        cli.run(failing)
    assert caught.value.code == 7 and caught.value.message == "error: 2 of 6 smoke checks failed; fix the app"
    assert "instance 3: status 500" in capsys.readouterr().err


@dataclass(frozen=True)
class _Result:
    summary: str = "did it"

    def to_json(self) -> dict:
        return {"step": "thing", "dry_run": False}


def test_json_output_and_records_markdown(tmp_path, capsys):
    cli.run(lambda: _Result(), as_json=True)
    assert '"step": "thing"' in capsys.readouterr().out
    recorder = Recorder(environment="local", task="promote", who="tester")
    with recorder.step("promote") as step:
        step.keep(_Result())
    recorder.finish()
    recorder.write(dir=tmp_path)
    text = cli.records_markdown(tmp_path).lines()[0]
    assert "promote" in text and "local" in text
    assert cli.records_markdown(tmp_path / "none").lines() == ["_No release record was written in this run._"]

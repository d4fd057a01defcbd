"""The release record: steps timed and caught, smoke per target, the cut-over, the JSON schema and its round
trip through a file, and the Markdown job summary. Clocks are injected; nothing sleeps."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from pipeline import record, smoke
from pipeline.errors import SmokeFailed, VerificationFailed
from pipeline.record import Recorder
from pipeline.steps.smoke import SmokeResult
from pipeline.traffic import Sample
from tests.fixtures.fakes import Clocks


@dataclass(frozen=True)
class Baked:
    app_version: str
    image_version: str

    @property
    def summary(self) -> str:
        return f"baked {self.image_version}"

    def to_json(self) -> dict:
        return {"step": "bake", "app_version": self.app_version, "image_version": self.image_version}


def smoke_result(*, failing: bool = False) -> SmokeResult:
    checks = [smoke.Check("health", "/health"), smoke.Check("version", "/version", body_contains="1.3.0")]
    targets = [smoke.Target("staging frontend", "http://127.20.0.1:8081"),
               smoke.Target("instance 0", "http://127.20.0.1:50000"),
               smoke.Target("instance 1", "http://127.20.0.1:50001")]
    outcomes = []
    for target in targets:
        for check in checks:
            bad = failing and target.name == "instance 1" and check.name == "version"
            outcomes.append(smoke.Outcome(target, check, 200, 0.004,
                                          "body does not contain '1.3.0'" if bad else None))
    return SmokeResult("vmss-hello-1-3-0", "1.3.0", tuple(outcomes), ".pipeline/reports/smoke.xml")


def cutover_samples() -> list[Sample]:
    samples = [Sample(round(0.1 * n, 3), "1.2.0", str(n % 2), 200, None) for n in range(30)]
    samples.append(Sample(3.0, None, None, None, "ConnectionResetError"))
    samples += [Sample(round(3.1 + 0.1 * n, 3), "1.3.0" if n > 2 or n == 1 else "1.2.0", str(2 + n % 2), 200, None)
                for n in range(30)]
    return samples


def a_release(clocks: Clocks, *, fail_smoke: bool = False) -> Recorder:
    rec = Recorder(environment="local", task="release", who="alice@laptop", clock=lambda: clocks.wall,
                   monotonic=lambda: clocks.mono)
    with rec.step("bake") as step:
        clocks.advance(40.0)
        step.result = Baked("1.3.0", "1.3.0")
    clocks.advance(0.5)
    with rec.step("stage") as step:
        clocks.advance(12.0)
        step.result = Baked("1.3.0", "1.3.0")
    if fail_smoke:
        with pytest.raises(SmokeFailed), rec.step("smoke"):
            clocks.advance(1.5)
            err = SmokeFailed("1 of 6 smoke checks failed", details=["instance 1: body does not contain '1.3.0'"])
            err.result = smoke_result(failing=True)
            raise err
        return rec
    with rec.step("smoke") as step:
        clocks.advance(1.5)
        step.result = smoke_result()
    with rec.step("promote"):
        clocks.advance(6.0)
    rec.add_cutover(cutover_samples(), version="1.3.0", promoted_at_offset=3.0, url="http://127.20.0.1:8080/version")
    return rec


def test_steps_are_timed_and_placed_on_the_records_clock():
    clocks = Clocks()
    rec = a_release(clocks)
    rec.finish(exit_code=0)
    data = rec.to_json()
    assert [s["name"] for s in data["steps"]] == ["bake", "stage", "smoke", "promote"]
    assert [s["seconds"] for s in data["steps"]] == [40.0, 12.0, 1.5, 6.0]
    assert [s["offset_s"] for s in data["steps"]] == [0.0, 40.5, 52.5, 54.0]
    assert data["steps"][0]["started"] == "2025-01-01T12:00:00.000+00:00"
    assert data["steps"][0]["summary"] == "baked 1.3.0"
    assert data["steps"][3]["result"] is None and data["steps"][3]["outcome"] == "succeeded"
    assert data["app_version"] == "1.3.0" and data["image_version"] == "1.3.0"   # learnt from the bake result
    assert data["outcome"] == "succeeded" and data["exit_code"] == 0 and data["error"] is None
    assert data["seconds"] == 60.0 and data["finished"] == "2025-01-01T12:01:00.000+00:00"


def test_smoke_outcomes_are_grouped_per_target():
    rec = a_release(Clocks())
    targets = {t["target"]: t for t in rec.to_json()["smoke"]}
    assert list(targets) == ["staging frontend", "instance 0", "instance 1"]
    assert targets["instance 1"]["base_url"] == "http://127.20.0.1:50001"
    assert [c["check"] for c in targets["instance 1"]["checks"]] == ["health", "version"]
    assert all(t["passed"] for t in targets.values())


def test_a_failed_step_fails_the_record_and_keeps_the_result_the_error_carries():
    rec = a_release(Clocks(), fail_smoke=True)
    data = rec.finish()
    assert data["outcome"] == "failed" and data["exit_code"] == SmokeFailed.exit_code
    assert data["error"] == {"type": "SmokeFailed", "message": "1 of 6 smoke checks failed",
                             "details": ["instance 1: body does not contain '1.3.0'"], "step": "smoke"}
    step = data["steps"][-1]
    assert step["outcome"] == "failed" and step["seconds"] == 1.5 and step["error"]["type"] == "SmokeFailed"
    targets = {t["target"]: t for t in data["smoke"]}
    assert targets["instance 1"]["passed"] is False and targets["instance 0"]["passed"] is True
    assert data["cutover"] is None


def test_finish_with_an_error_outside_any_step():
    rec = Recorder(environment="prod", task="promote", who="ci", clock=lambda: 0.0, monotonic=lambda: 0.0)
    data = rec.finish(error=VerificationFailed("production did not serve 1.3.0"))
    assert data["outcome"] == "failed" and data["exit_code"] == 10 and data["error"]["step"] is None
    with pytest.raises(ValueError):
        rec.finish(outcome="maybe")


def test_a_release_result_timed_elsewhere_can_be_added_and_its_smoke_is_found():
    rec = Recorder(environment="local", task="release", who="ci", clock=lambda: 1000.0, monotonic=lambda: 5.0)
    nested = {"step": "release", "app_version": "2.0.0", "image_version": "2.0.0",
              "steps": [{"name": "smoke", "seconds": 1.0, "result": smoke_result().to_json()}]}
    rec.add_step(name="release", seconds=30.0, result=nested, started=990.0)
    data = rec.to_json()
    assert data["steps"][0]["offset_s"] == 0.0 and data["app_version"] == "2.0.0"
    assert len(data["smoke"]) == 3


def test_cutover_section():
    rec = a_release(Clocks())
    cut = rec.to_json()["cutover"]
    assert cut["from_version"] == "1.2.0" and cut["to_version"] == "1.3.0"
    assert cut["fields"] == ["t", "version", "instance", "status", "error"]
    assert len(cut["samples"]) == 61 and cut["samples"][0] == [0.0, "1.2.0", "0", 200, None]
    assert cut["failures"] == 1
    assert cut["promoted_at_offset"] == 3.0
    assert cut["cutover_seconds"] == pytest.approx(0.4)     # at 3.4s the last 1.2.0 answer is behind us
    assert cut["bucket_s"] == 0.2
    assert all(abs(sum(shares.values()) - 1.0) < 1e-3 for _, shares in cut["shares"] if shares)
    assert [Sample.from_row(r) for r in cut["samples"]] == record.samples_of(rec.to_json())


def test_two_tasks_started_in_the_same_millisecond_keep_both_records(tmp_path):
    first, second = a_release(Clocks()), a_release(Clocks())
    for rec in (first, second):
        rec.finish(exit_code=0)
    paths = [first.write(dir=tmp_path), second.write(dir=tmp_path), first.write(dir=tmp_path)]
    assert [p.name for p in paths] == ["local-20250101T120000000Z-release.json",
                                       "local-20250101T120000000Z-release_2.json",
                                       "local-20250101T120000000Z-release.json"]
    assert sorted(tmp_path.glob("*.json")) == paths[:2]   # oldest first, as readers list them


def test_record_round_trips_through_its_file(tmp_path):
    rec = a_release(Clocks())
    rec.finish(exit_code=0)
    path = rec.write(dir=tmp_path / "records")
    assert path.name == "local-20250101T120000000Z-release.json"
    loaded = record.load(path)
    assert loaded == json.loads(json.dumps(rec.to_json()))
    assert loaded["schema"] == "bluegreen.release-record/1"
    assert set(loaded) == {"schema", "environment", "task", "app_version", "image_version", "who", "started",
                           "finished", "seconds", "outcome", "exit_code", "error", "steps", "smoke", "cutover"}
    assert set(loaded["steps"][0]) == {"name", "started", "offset_s", "seconds", "outcome", "summary", "result",
                                       "error"}
    assert not list(tmp_path.glob("records/*.tmp"))


@pytest.mark.parametrize("bad,complaint", [
    ({"schema": "bluegreen.release-record/2"}, "schema"),
    ({"steps": "no"}, "steps"),
    ({"outcome": "maybe"}, "outcome"),
    ({"steps": [{"name": "x"}]}, "steps[0]"),
])
def test_validate_says_what_is_wrong(bad, complaint):
    good = a_release(Clocks()).to_json()
    with pytest.raises(record.RecordError, match=complaint.replace("[", r"\[").replace("]", r"\]")):
        record.validate({**good, **bad})


def test_names_in_the_file_name_are_made_safe():
    rec = Recorder(environment="prod/eu west", task="release", who="x", clock=lambda: 0.0)
    assert rec.filename() == "prod_eu_west-19700101T000000000Z-release.json"


def test_who_names_the_ci_run():
    gh = {"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "octocat", "GITHUB_REPOSITORY": "acme/app", "GITHUB_RUN_ID": "42"}
    assert record.default_who(gh) == "github-actions octocat (acme/app run 42)"
    assert record.default_who({"JENKINS_URL": "https://ci", "BUILD_TAG": "jenkins-app-7"}) == \
        "jenkins jenkins (jenkins-app-7)"
    assert "@" in record.default_who({})


def test_markdown_summary_of_a_success():
    rec = a_release(Clocks())
    md = record.to_markdown(rec.finish(exit_code=0))
    assert md.startswith("## ✅ release 1.3.0 to local: succeeded\n")
    assert "| ✅ bake | 40.0s | baked 1.3.0 |" in md
    assert "**Smoke**: 6 of 6 checks passed on 3 targets" in md
    assert "**Cut-over** 1.2.0 → 1.3.0: 61 requests, 1 failed, all on 1.3.0 0.40s after the swap" in md
    assert "CAUTION" not in md


def test_markdown_summary_of_a_failure_leads_with_the_error():
    md = record.to_markdown(a_release(Clocks(), fail_smoke=True).finish())
    assert md.startswith("## ❌ release 1.3.0 to local: failed\n")
    assert "> **SmokeFailed** in **smoke**: 1 of 6 smoke checks failed" in md
    assert "| instance 1 | version | body does not contain '1.3.0' |" in md
    assert "Cut-over" not in md


def test_markdown_of_a_bare_record_does_not_fail():
    md = record.to_markdown({"schema": record.SCHEMA, "environment": "local", "task": "status", "steps": []})
    assert "running" in md


def test_a_step_that_runs_steps_is_recorded_as_them_unless_it_fails_outside_them():
    clocks = Clocks()
    rec = Recorder(environment="local", task="release", who="ci", clock=clocks.time, monotonic=clocks.monotonic)
    with rec.step("release") as outer:
        with rec.step("bake") as inner:
            clocks.advance(3.0)
            inner.keep(Baked("1.3.0", "1.3.0"))
        outer.keep(Baked("1.3.0", "1.3.0"))
    assert [s["name"] for s in rec.steps] == ["bake"]

    with pytest.raises(SmokeFailed):          # failed inside: the inner step carries the failure
        with rec.step("release"):
            with rec.step("smoke"):
                raise SmokeFailed("1 of 2 smoke checks failed; fix the app")
    assert [(s["name"], s["outcome"]) for s in rec.steps] == [("bake", "succeeded"), ("smoke", "failed")]

    with pytest.raises(VerificationFailed):   # failed outside them: the outer step is recorded too
        with rec.step("release"):
            with rec.step("stage"):
                pass
            raise VerificationFailed("production did not serve 1.3.0; traffic was swapped back")
    assert [(s["name"], s["outcome"]) for s in rec.steps][-2:] == [("stage", "succeeded"), ("release", "failed")]

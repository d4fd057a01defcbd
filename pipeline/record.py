"""The release record: one JSON file per run of a task, what happened and how long it took.

    recorder = Recorder(environment="local", task="release", app_version="1.3.0")
    with recorder.step("bake") as step:
        step.result = bake(ctx, ...)              # any step result (.summary, .to_json())
    with recorder.step("promote") as step, traffic.Sampler(url=...) as sampler:
        step.result = promote(ctx, progress=...)
    recorder.add_cutover(sampler.samples, version="1.3.0", promoted_at_offset=sampler.marks[0][1])
    recorder.finish(exit_code=0)                   # or finish(error=err) in an `except PipelineError as err:`
    path = recorder.write()                        # .pipeline/records/local-20250101T120000000Z-release.json

A step that raises is recorded as failed (its error, the time it took) and the exception goes on; the
record's outcome then defaults to "failed". An exception that carries a step result in `.result` (e.g. a smoke
failure) has that result recorded too.

Schema "bluegreen.release-record/1" (stable: fields are only ever added; a change that removes or renames a
field, or changes a meaning, gets /2). Times are ISO 8601 UTC with milliseconds; durations are seconds.

    {
      "schema": "bluegreen.release-record/1",
      "environment": "local",              # pipeline.toml environment
      "task": "release",                   # the invoke task (release, promote, rollback, ...)
      "app_version": "1.3.0" | null,
      "image_version": "1.3.0" | null,     # filled from step results when not given
      "who": "alice@laptop" | "github-actions octocat (acme/app run 42)" | "jenkins ...",
      "started": "2025-01-01T12:00:00.000+00:00",
      "finished": "..." | null,            # null while running
      "seconds": 81.2 | null,
      "outcome": "succeeded" | "failed" | null,
      "exit_code": 0 | 7 | ... | null,     # README's exit codes
      "error": null | {"type": "SmokeFailed", "message": "one line", "details": ["more lines", ...],
                       "step": "smoke" | null},
      "steps": [{"name": "bake", "started": "...", "offset_s": 0.0, "seconds": 41.7,
                 "outcome": "succeeded" | "failed",
                 "summary": "the result's one line" | null,
                 "result": {the step result's to_json()} | null,
                 "error": null | {"type", "message", "details"}}],
      "smoke": [{"target": "staging frontend" | "instance 3", "base_url": "http://...",
                 "passed": true, "checks": [{"check": "health", "url": "http://.../health", "status": 200,
                                             "ms": 3.1, "failure": null | "status 500, expected 200"}]}],
      "cutover": null | {
        "url": "http://.../version" | null, "from_version": "1.2.0" | null, "to_version": "1.3.0",
        "fields": ["t", "version", "instance", "status", "error"],
        "samples": [[0.012, "1.2.0", "0", 200, null], ...],      # t = seconds since sampling started
        "bucket_s": 0.5, "shares": [[0.0, {"1.2.0": 1.0}], [0.5, {"1.2.0": 0.4, "1.3.0": 0.6}], ...],
        "failures": 0, "cutover_seconds": 0.8 | null,            # from promoted_at_offset (else 0)
        "promoted_at_offset": 3.2 | null,                        # when the swap was made, same time base
        "summary": {traffic.summary(): requests, failures, versions, instances, errors, ...}
      }
    }

`shares` counts failed requests under "(failed)" (pipeline.traffic.FAILED). `to_markdown(record)` renders a
record for a CI job summary (GitHub's $GITHUB_STEP_SUMMARY); pipeline.report renders it as an HTML page.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import re
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from pipeline import traffic
from pipeline.errors import RecordError  # noqa: F401 - raised here, and read as record.RecordError

log = logging.getLogger(__name__)

SCHEMA = "bluegreen.release-record/1"
RECORDS_DIR = Path(".pipeline/records")
OUTCOMES = ("succeeded", "failed")


def iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc).isoformat(timespec="milliseconds")


def default_who(environ: Mapping[str, str] | None = None) -> str:
    """Who ran this: the CI actor and run when in CI (GitHub Actions, Jenkins), else user@host."""
    env = os.environ if environ is None else environ
    if env.get("GITHUB_ACTIONS") == "true":
        run = f"{env.get('GITHUB_REPOSITORY', '?')} run {env.get('GITHUB_RUN_ID', '?')}"
        return f"github-actions {env.get('GITHUB_ACTOR', '?')} ({run})"
    if env.get("JENKINS_URL") or env.get("BUILD_TAG", "").startswith("jenkins-"):
        user = env.get("BUILD_USER_ID") or env.get("BUILD_USER") or "jenkins"
        return f"jenkins {user} ({env.get('BUILD_TAG') or env.get('BUILD_URL') or '?'})"
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def error_json(error: BaseException | Mapping | str | None, *, step: str | None = None) -> dict | None:
    """{"type", "message", "details", "step"} from an exception (PipelineError's `details` kept), a dict or a str."""
    if error is None:
        return None
    if isinstance(error, BaseException):
        message = str(error) or type(error).__name__
        return {"type": type(error).__name__, "message": message,
                "details": [str(d) for d in getattr(error, "details", ()) or ()], "step": step}
    if isinstance(error, Mapping):
        return {"type": error.get("type"), "message": str(error.get("message", "")),
                "details": [str(d) for d in error.get("details", ()) or ()], "step": error.get("step", step)}
    return {"type": None, "message": str(error), "details": [], "step": step}


def smoke_targets(result_json: Mapping) -> list[dict]:
    """Per-target smoke outcomes from a smoke result's to_json() ({"step": "smoke", "checks": [...]})."""
    targets: dict[str, dict] = {}
    for check in result_json.get("checks", ()):
        url = check.get("url") or ""
        target = targets.setdefault(check.get("target", "?"), {"target": check.get("target", "?"),
                                                               "base_url": None, "passed": True, "checks": []})
        if target["base_url"] is None and url:
            target["base_url"] = re.sub(r"^(https?://[^/]+).*$", r"\1", url)
        target["checks"].append({"check": check.get("check"), "url": url, "status": check.get("status"),
                                 "ms": check.get("ms"), "failure": check.get("failure")})
        target["passed"] = target["passed"] and not check.get("failure")
    return list(targets.values())


def _find_smoke(result_json: Mapping) -> Mapping | None:
    """The smoke result in a step's JSON: itself, or nested in a release result's steps."""
    if result_json.get("step") == "smoke" and "checks" in result_json:
        return result_json
    for nested in result_json.get("steps", ()) or ():
        found = _find_smoke(nested.get("result") or {}) if isinstance(nested, Mapping) else None
        if found is not None:
            return found
    return None


def _to_json(result: Any) -> dict | None:
    if result is None:
        return None
    to_json = getattr(result, "to_json", None)
    data = to_json() if callable(to_json) else result
    return json.loads(json.dumps(data, default=str)) if isinstance(data, Mapping) else {"value": str(data)}


@dataclass
class StepRun:
    """What `Recorder.step()` yields: set `.result` to the step's result before the block ends."""

    name: str
    result: Any = None
    started: float = 0.0
    seconds: float | None = None
    error: BaseException | None = None
    extra: dict = field(default_factory=dict)

    def keep(self, result: Any) -> Any:
        """Set the result and hand it back: `baked = step.keep(bake(ctx, ...))`."""
        self.result = result
        return result


class Recorder:
    """Builds one release record while a task runs; `to_json()` is the record (pure), `write()` saves it."""

    def __init__(self, *, environment: str, task: str, app_version: str | None = None,
                 image_version: str | None = None, who: str | None = None,
                 clock: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic):
        self.environment, self.task = environment, task
        self.app_version, self.image_version = app_version, image_version
        self.who = who if who is not None else default_who()
        self._clock, self._monotonic = clock, monotonic
        self.started = clock()
        self._started_mono = monotonic()
        self.finished: float | None = None
        self.seconds: float | None = None
        self.outcome: str | None = None
        self.exit_code: int | None = None
        self.error: dict | None = None
        self.steps: list[dict] = []
        self.smoke: list[dict] | None = None
        self.cutover: dict | None = None
        self._failed_step: tuple[str, BaseException] | None = None
        self._path: Path | None = None

    # ------------------------------------------------------------------ while running

    @contextmanager
    def step(self, name: str) -> Iterator[StepRun]:
        """Time one step. Steps opened inside it (release's bake, stage, smoke, promote) stand for it in the
        record: it is added only when none were, or when it failed outside them."""
        run = StepRun(name, started=self._clock())
        began = self._monotonic()
        before = len(self.steps)
        try:
            yield run
        except BaseException as err:
            run.error = err
            if run.result is None and getattr(err, "result", None) is not None:
                run.result = err.result
            raise
        finally:
            run.seconds = self._monotonic() - began
            inner = self.steps[before:]
            failed_inside = self._failed_step is not None and self._failed_step[1] is run.error
            if not inner or (run.error is not None and not failed_inside):
                self._add(run, offset_s=began - self._started_mono)

    def call(self, name: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run fn(*args, **kwargs) as step `name`; returns its result."""
        with self.step(name) as run:
            return run.keep(fn(*args, **kwargs))

    def add_step(self, *, name: str, seconds: float, result: Any = None, error: BaseException | None = None,
                 started: float | None = None, offset_s: float | None = None) -> None:
        """A step timed elsewhere (e.g. the (name, result, seconds) of a ReleaseResult). Without `started`, it
        is taken to have ended now; offset_s (seconds after the record started) is derived from `started`."""
        begin = started if started is not None else self._clock() - seconds
        run = StepRun(name, result=result, started=begin, seconds=seconds, error=error)
        self._add(run, offset_s=offset_s if offset_s is not None else begin - self.started)

    def _add(self, run: StepRun, *, offset_s: float) -> None:
        result_json = _to_json(run.result)
        summary = getattr(run.result, "summary", None) if run.result is not None else None
        self.steps.append({
            "name": run.name, "started": iso(run.started), "offset_s": round(max(0.0, offset_s), 3),
            "seconds": round(run.seconds or 0.0, 3), "outcome": "failed" if run.error else "succeeded",
            "summary": summary if isinstance(summary, str) else None, "result": result_json,
            "error": error_json(run.error)})
        if run.error is not None:
            self._failed_step = (run.name, run.error)
        if result_json:
            self.app_version = self.app_version or result_json.get("app_version")
            self.image_version = self.image_version or result_json.get("image_version")
            found = _find_smoke(result_json)
            if found is not None:
                self.add_smoke(found)

    def add_smoke(self, result: Any) -> None:
        """Smoke outcomes per target from a smoke result (or its to_json()); the last one recorded wins."""
        self.smoke = smoke_targets(_to_json(result) or {})

    def add_cutover(self, samples: Sequence[traffic.Sample], *, version: str,
                    promoted_at_offset: float | None = None, from_version: str | None = None,
                    url: str | None = None, bucket_s: float | None = None) -> dict:
        """The traffic seen around the swap: `version` is what production should serve afterwards,
        `promoted_at_offset` when the swap was made (seconds, the samples' time base)."""
        ordered = sorted(samples, key=lambda s: s.t_offset_s)
        seen = traffic.versions_in_order(ordered)
        if from_version is None:
            from_version = next((v for v in seen if v != version), None)
        bucket = bucket_s or nice_bucket(ordered[-1].t_offset_s if ordered else 0.0)
        since = promoted_at_offset if promoted_at_offset is not None else 0.0
        took = traffic.cutover_seconds(ordered, version=version, since=since)
        self.cutover = {
            "url": url, "from_version": from_version, "to_version": version,
            "fields": list(traffic.COMPACT_FIELDS), "samples": [s.to_row() for s in ordered],
            "bucket_s": bucket,
            "shares": [[t, {k: round(v, 4) for k, v in shares.items()}]
                       for t, shares in traffic.shares_over_time(ordered, bucket_s=bucket)],
            "failures": traffic.failures(ordered),
            "cutover_seconds": round(took, 3) if took is not None else None,
            "promoted_at_offset": round(promoted_at_offset, 3) if promoted_at_offset is not None else None,
            "summary": traffic.summary(ordered),
        }
        return self.cutover

    def finish(self, *, outcome: str | None = None, exit_code: int | None = None,
               error: BaseException | Mapping | str | None = None) -> dict:
        """Close the record. Without an outcome: "failed" when there is an error, a non-zero exit code or a
        failed step, else "succeeded". The exit code defaults to the error's `exit_code` (PipelineError)."""
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        failed_step = self._failed_step
        if error is None and failed_step is not None and outcome != "succeeded":
            error = failed_step[1]
        if exit_code is None and isinstance(error, BaseException):
            exit_code = getattr(error, "exit_code", None)
            if exit_code is None:
                exit_code = 130 if isinstance(error, KeyboardInterrupt) else 1
        if outcome is None:
            outcome = "failed" if error is not None or (exit_code or 0) != 0 or failed_step else "succeeded"
        if exit_code is None:
            exit_code = 0 if outcome == "succeeded" else 1
        self.error = error_json(error, step=failed_step[0] if failed_step else None)
        self.outcome, self.exit_code = outcome, exit_code
        self.finished = self._clock()
        self.seconds = self._monotonic() - self._started_mono
        return self.to_json()

    # ------------------------------------------------------------------ the record

    def to_json(self) -> dict:
        return {
            "schema": SCHEMA,
            "environment": self.environment, "task": self.task,
            "app_version": self.app_version, "image_version": self.image_version,
            "who": self.who,
            "started": iso(self.started), "finished": iso(self.finished) if self.finished is not None else None,
            "seconds": round(self.seconds, 3) if self.seconds is not None else None,
            "outcome": self.outcome, "exit_code": self.exit_code, "error": self.error,
            "steps": [dict(s) for s in self.steps],
            "smoke": [dict(t) for t in self.smoke] if self.smoke is not None else None,
            "cutover": dict(self.cutover) if self.cutover is not None else None,
        }

    def filename(self, *, attempt: int = 1) -> str:
        """<env>-<UTC time to the millisecond>-<task>.json; `attempt` > 1 adds _N (two tasks in one millisecond;
        "_N.json" sorts after ".json", so a listing by name stays oldest first)."""
        started = datetime.fromtimestamp(self.started, tz=timezone.utc)
        stamp = started.strftime("%Y%m%dT%H%M%S") + f"{started.microsecond // 1000:03d}Z"
        suffix = f"_{attempt}" if attempt > 1 else ""
        return f"{_safe(self.environment)}-{stamp}-{_safe(self.task)}{suffix}.json"

    def _claim(self, dir: Path) -> Path:  # noqa: A002
        """This record's file: the first free name, chosen once (a later write() rewrites the same file)."""
        if self._path is None or self._path.parent != dir:
            attempt = 1
            while (dir / self.filename(attempt=attempt)).exists():
                attempt += 1
            self._path = dir / self.filename(attempt=attempt)
        return self._path

    def write(self, *, dir: Path = RECORDS_DIR) -> Path:  # noqa: A002 - shadows the builtin; callers pass dir=
        """Write the record as <env>-<UTC time>-<task>.json in `dir` (atomically); returns the path."""
        dir.mkdir(parents=True, exist_ok=True)
        path = self._claim(dir)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n", encoding="utf-8")
        temporary.replace(path)
        log.info("release record: %s", path)
        return path


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "x"


def nice_bucket(duration_s: float, *, buckets: int = 48) -> float:
    """A round bucket width (0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10 ... s) giving about `buckets` buckets."""
    for width in (0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0):
        if duration_s / width <= buckets:
            return width
    return 60.0


# ---------------------------------------------------------------------------------------------- reading


REQUIRED = {"schema": str, "environment": str, "task": str, "who": str, "started": str, "steps": list}


def validate(record: Mapping) -> dict:
    """The record as a dict when it is a "bluegreen.release-record/1"; RecordError saying what is wrong."""
    if not isinstance(record, Mapping):
        raise RecordError("a release record is a JSON object")
    schema = record.get("schema")
    if schema != SCHEMA:
        raise RecordError(f"schema is {schema!r}, this code reads {SCHEMA!r}")
    for key, kind in REQUIRED.items():
        if not isinstance(record.get(key), kind):
            raise RecordError(f"{key!r} must be a {kind.__name__}")
    if record.get("outcome") not in (None, *OUTCOMES):
        raise RecordError(f"outcome must be one of {OUTCOMES} or null, not {record.get('outcome')!r}")
    for n, step in enumerate(record["steps"]):
        if not isinstance(step, Mapping) or not isinstance(step.get("name"), str) \
                or not isinstance(step.get("seconds"), (int, float)):
            raise RecordError(f"steps[{n}] needs a name and seconds")
    cutover = record.get("cutover")
    if cutover is not None and (not isinstance(cutover, Mapping) or not isinstance(cutover.get("samples"), list)):
        raise RecordError("cutover must be null or an object with samples")
    return dict(record)


def load(path: Path) -> dict:
    try:
        return validate(json.loads(Path(path).read_text(encoding="utf-8")))
    except json.JSONDecodeError as err:
        raise RecordError(f"{path} is not JSON: {err}") from err


def samples_of(record: Mapping) -> list[traffic.Sample]:
    """The cut-over samples of a record as Samples (empty without a cut-over)."""
    cutover = record.get("cutover") or {}
    fields = cutover.get("fields") or list(traffic.COMPACT_FIELDS)
    rows = cutover.get("samples") or []
    return [traffic.Sample.from_row([dict(zip(fields, row)).get(f) for f in traffic.COMPACT_FIELDS]) for row in rows]


# ---------------------------------------------------------------------------------------------- markdown


def _md(text: Any) -> str:
    """Table-cell safe: no pipes or newlines."""
    return str(text).replace("|", "\\|").replace("\n", " ") if text is not None else ""


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f}s"
    minutes, seconds = divmod(int(round(value)), 60)
    return f"{minutes}m {seconds:02d}s"


def to_markdown(record: Mapping) -> str:
    """A GitHub job summary: outcome line, the failure, steps, smoke, cut-over."""
    outcome = record.get("outcome") or "running"
    mark = {"succeeded": "✅", "failed": "❌"}.get(outcome, "⏳")
    version = record.get("app_version") or record.get("image_version") or "?"
    out = [f"## {mark} {record.get('task', '?')} {version} to {record.get('environment', '?')}: {outcome}", ""]
    facts = [f"app **{record.get('app_version') or '-'}**", f"image **{record.get('image_version') or '-'}**",
             f"by {record.get('who') or '?'}", f"started {record.get('started') or '?'}",
             f"took {_seconds(record.get('seconds'))}"]
    if record.get("exit_code") is not None:
        facts.append(f"exit code {record['exit_code']}")
    out += [" · ".join(facts), ""]
    error = record.get("error")
    if error:
        where = f" in **{error['step']}**" if error.get("step") else ""
        out += [f"> [!CAUTION]", f"> **{error.get('type') or 'Error'}**{where}: {_md(error.get('message'))}"]
        out += [f"> - {_md(d)}" for d in error.get("details") or []]
        out.append("")
    steps = record.get("steps") or []
    if steps:
        out += ["| step | took | result |", "|---|---:|---|"]
        for step in steps:
            icon = "✅" if step.get("outcome") == "succeeded" else "❌"
            said = step.get("summary") or (step.get("error") or {}).get("message") or ""
            out.append(f"| {icon} {_md(step.get('name'))} | {_seconds(step.get('seconds'))} | {_md(said)} |")
        out.append("")
    smoke = record.get("smoke")
    if smoke:
        checks = [c for t in smoke for c in t.get("checks", [])]
        bad = [(t, c) for t in smoke for c in t.get("checks", []) if c.get("failure")]
        out.append(f"**Smoke**: {len(checks) - len(bad)} of {len(checks)} checks passed on {len(smoke)} targets")
        if bad:
            out += ["", "| target | check | failure |", "|---|---|---|"]
            out += [f"| {_md(t.get('target'))} | {_md(c.get('check'))} | {_md(c.get('failure'))} |" for t, c in bad]
        out.append("")
    cutover = record.get("cutover")
    if cutover:
        summary = cutover.get("summary") or {}
        took = cutover.get("cutover_seconds")
        line = (f"**Cut-over** {cutover.get('from_version') or '?'} → {cutover.get('to_version')}: "
                f"{summary.get('requests', len(cutover.get('samples') or []))} requests, "
                f"{cutover.get('failures', 0)} failed, ")
        line += (f"all on {cutover.get('to_version')} {took:.2f}s after the swap" if took is not None
                 else f"never all on {cutover.get('to_version')}")
        out += [line, ""]
    return "\n".join(out).rstrip() + "\n"

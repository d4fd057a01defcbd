"""The command-line shell around the steps: settings from flags, output (plain lines or --json), progress,
and the one place a PipelineError becomes a message and an exit code. tasks.py calls only this."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from pipeline.errors import PipelineError

log = logging.getLogger("pipeline")


def configure_logging(*, verbose: bool = False) -> None:
    """Progress goes to stderr (stdout stays clean for --json): plain timestamped lines, fit for CI logs."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    verbose = verbose or os.environ.get("PIPELINE_VERBOSE", "") not in ("", "0")
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    # The steps tell their story through `progress`; their log lines are for PIPELINE_VERBOSE=1.
    logging.getLogger("pipeline").setLevel(logging.DEBUG if verbose else logging.WARNING)
    for noisy in ("azure", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _make_progress():
    from pipeline.progress import Progress

    return Progress(stream=sys.stderr)


# Live progress with elapsed time on a terminal; plain timestamped lines in CI logs (see pipeline/progress.py).
progress = _make_progress()


def parse_overrides(pairs: list[str] | None) -> dict[str, str]:
    from pipeline.errors import ConfigError

    overrides = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {pair!r} is not KEY=VALUE; write e.g. --set capacity.default=3")
        overrides[key.strip()] = value
    return overrides


@contextmanager
def context(*, env: str | None, overrides: list[str] | None = None, dry_run: bool = False) -> Iterator[Any]:
    """Settings and SDK clients for one environment, as a step Context. Bad settings, or a local cloud that is not
    running, raise their PipelineError (`run` turns it into the exit code)."""
    from pipeline.azure.clients import Clients
    from pipeline.config import load_settings
    from pipeline.steps.context import Context

    settings = load_settings(environment=env, overrides=parse_overrides(overrides))
    clients = Clients.for_settings(settings)
    with clients:
        yield Context(clients, dry_run=dry_run)


def emit(result: Any, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.to_json(), indent=2, default=str))
        return
    lines = getattr(result, "lines", None)
    if callable(lines):
        print("\n".join(lines()))
    else:
        print(result.summary)


def run(call: Callable[[], Any], *, as_json: bool = False) -> Any:
    """Call a task's work and print its result: the ONE place a failure becomes a message and an exit code
    (invoke's Exit). A PipelineError exits with its `exit_code`, Ctrl-C with 130, and a result that reports its
    own failure (`invoke doctor`'s) with its `exit_code` after it is printed."""
    from invoke.exceptions import Exit

    try:
        result = call()
    except PipelineError as err:
        for line in err.details:
            print(line, file=sys.stderr)
        if as_json:
            print(json.dumps({"error": type(err).__name__, "message": str(err), "exit_code": err.exit_code,
                              "details": list(err.details)}, indent=2))
        failure = (f"error: {err}", err.exit_code)
    except KeyboardInterrupt:
        failure = ("interrupted: re-run the same step to finish or undo it", 130)
    else:
        if result is not None:
            emit(result, as_json=as_json)
        failed = getattr(result, "exit_code", 0)
        failure = (f"error: {result.failure}", failed) if failed else None
    if failure is not None:
        raise Exit(failure[0], code=failure[1])
    return result


def run_step(step: Callable[[Any], Any], *, env: str | None, overrides: list[str] | None = None,
             dry_run: bool = False, as_json: bool = False, task: str | None = None, html: bool = False) -> Any:
    """`run` a step on the environment's Context. With `task` (and not a dry run) the run leaves a release record
    in .pipeline/records/ (and with `html`, a report in .pipeline/reports/); the step's own steps (release's)
    are recorded through `ctx.recorder`."""

    def call() -> Any:
        with context(env=env, overrides=overrides, dry_run=dry_run) as ctx:
            if not task or dry_run:
                return step(ctx)
            from pipeline.record import Recorder
            from pipeline.steps.release import note_cutover

            recorder = ctx.recorder = Recorder(environment=ctx.settings.environment, task=task, who=ctx.who)
            try:
                with recorder.step(task) as record_step:
                    result = record_step.keep(step(ctx))
                note_cutover(recorder, result)
            except (PipelineError, KeyboardInterrupt) as err:
                _finish(recorder, error=err, html=html)
                raise
            _finish(recorder, html=html)
            return result

    return run(call, as_json=as_json)


def _finish(recorder: Any, *, error: BaseException | None = None, html: bool = False) -> None:
    if recorder is None:
        return
    recorder.finish(error=error)
    path = recorder.write()
    lines = [f"release record: {path}"]
    if html:
        from pipeline.report import write_report

        report = write_report(recorder.to_json(), Path(".pipeline/reports") / path.with_suffix(".html").name)
        lines.append(f"release report: {report}")
    for line in lines:
        print(line, file=sys.stderr)


def app_version_from_git() -> str:
    """`git describe --tags` (1.4.0, or 1.4.0-3-gabc1234 after the tag); 0.1.<commits> in a repo without tags."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()

    try:
        return git("describe", "--tags", "--match", "v[0-9]*").lstrip("v")
    except (OSError, subprocess.CalledProcessError):
        try:
            return f"0.1.{git('rev-list', '--count', 'HEAD')}"
        except (OSError, subprocess.CalledProcessError):
            return "0.1.0"


class _Lines:
    """A printable result made of lines (for tasks whose result is not a step's)."""

    def __init__(self, lines: list[str], data: dict):
        self._lines, self._data = lines, data

    @property
    def summary(self) -> str:
        return self._lines[0] if self._lines else ""

    def lines(self) -> list[str]:
        return self._lines

    def to_json(self) -> dict:
        return self._data


def local_up(*, env: str = "local", role: str | None = None, progress: Callable[[str], None] = progress) -> _Lines:
    from pipeline.local import cloud as local_cloud
    from pipeline.local.cloudfile import read_cloud_file
    from pipeline.steps.infra import ensure_infra

    paths = local_cloud.LocalPaths()
    local_cloud.role_argv(role or os.environ.get("PIPELINE_LOCAL_ROLE"))   # a bad role file: exit 2, nothing started
    progress("starting the local cloud (Azurite + ARM emulator)")
    local_cloud.up(paths, role_file=role)
    with context(env=env) as ctx:
        result = ensure_infra(ctx)
        progress(result.summary)
    cloud = read_cloud_file(paths.cloud_file)
    lines = [f"local cloud up: {cloud.arm_endpoint}", f"connection file: {paths.cloud_file.resolve()}",
             *(f"frontend {name}: {address}" for name, address in sorted(cloud.frontends.items()))]
    return _Lines(lines, {"cloud_file": str(paths.cloud_file.resolve()), "arm_endpoint": cloud.arm_endpoint,
                          "frontends": dict(cloud.frontends), "infra": result.to_json()})


def local_down() -> _Lines:
    from pipeline.local import cloud as local_cloud

    stopped = local_cloud.down(local_cloud.LocalPaths())
    return _Lines([f"stopped: {', '.join(stopped)}" if stopped else "the local cloud was not running"],
                  {"stopped": stopped})


def demo(*, env: str = "local", progress: Callable[[str], None] = progress) -> Any:
    """The README's first command: the local cloud up, then two recorded releases (pipeline/steps/release.py)."""
    from pipeline.steps.release import demo as two_releases

    local_up(env=env, progress=progress)
    with context(env=env) as ctx:
        return two_releases(ctx, progress=progress, recorded=recorded_release(ctx))


def break_lock(ctx: Any) -> _Lines:
    from pipeline.lock import break_lock as do_break

    s = ctx.settings
    broken = do_break(ctx.clients.blob, container=s.storage.ledger_container, environment=s.environment)
    return _Lines([f"broke the {s.environment} release lock" if broken else f"the {s.environment} lock was free"],
                  {"broken": bool(broken)})


def records_markdown(records_dir: Path = Path(".pipeline/records")) -> _Lines:
    """Markdown of the release records in `records_dir`, oldest first (a CI job summary)."""
    from pipeline.record import load, to_markdown

    paths = sorted(records_dir.glob("*.json"))
    parts = [to_markdown(load(p)) for p in paths] or ["_No release record was written in this run._"]
    return _Lines(["\n\n".join(parts)], {"records": [str(p) for p in paths]})


def recorded_release(ctx: Any) -> Callable[[Callable[[Any], Any]], Any]:
    """For the demo: run one release with its own recorder, then write its record and HTML report."""
    from pipeline.record import Recorder

    def run(release_with: Callable[[Any], Any]) -> Any:
        recorder = Recorder(environment=ctx.settings.environment, task="release", who=ctx.who)
        try:
            result = release_with(recorder)
        except BaseException as err:
            _finish(recorder, error=err, html=True)
            raise
        _finish(recorder, html=True)
        return result

    return run

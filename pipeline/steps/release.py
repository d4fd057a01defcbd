"""`invoke release`: bake, stage, smoke and promote one app version; and the README's local `demo`."""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from pipeline import smoke as checks
from pipeline.azure import gallery
from pipeline.steps.context import Context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReleaseResult:
    app_version: str
    image_version: str
    steps: tuple[tuple[str, Any, float], ...]     # (name, result, seconds)
    dry_run: bool

    @property
    def summary(self) -> str:
        timings = ", ".join(f"{name} {seconds:.1f}s" for name, _, seconds in self.steps)
        prefix = "dry run: " if self.dry_run else ""
        return f"{prefix}released {self.app_version} (image {self.image_version}): {timings}"

    def lines(self) -> list[str]:
        return [f"{name:8} {seconds:6.1f}s  {result.summary}" for name, result, seconds in self.steps] + [self.summary]

    def to_json(self) -> dict:
        return {"step": "release", "dry_run": self.dry_run, "app_version": self.app_version,
                "image_version": self.image_version,
                "steps": [{"name": n, "seconds": round(t, 2), "result": r.to_json()} for n, r, t in self.steps]}


def note_cutover(recorder: Any, result: Any) -> None:
    """Put the traffic a promote or rollback sampled into the release record."""
    cutover = getattr(result, "cutover", None)
    if recorder is not None and cutover is not None and cutover.samples:
        recorder.add_cutover(list(cutover.samples), version=cutover.version,
                             promoted_at_offset=cutover.swap_offset_s, url=cutover.url)


def release(ctx: Context, *, app_version: str, build_number: int | None = None, app_dir: Path = Path("packer/app"),
            progress: Callable[[str], None] = log.info) -> ReleaseResult:
    """Bake, stage, smoke, promote. `ctx.recorder` (pipeline.record.Recorder), when set, gets every step as it
    finishes or fails."""
    from pipeline.steps.bake import bake
    from pipeline.steps.promote import promote
    from pipeline.steps.smoke import smoke
    from pipeline.steps.stage import stage

    done: list[tuple[str, Any, float]] = []
    recorder = ctx.recorder

    def timed(name: str, call: Callable[[], Any]) -> Any:
        progress(f"== {name}")
        started = time.monotonic()
        if recorder is not None:
            with recorder.step(name) as run:
                result = run.keep(call())
        else:
            result = call()
        done.append((name, result, time.monotonic() - started))
        progress(f"== {name}: {result.summary}")
        return result

    baked = timed("bake", lambda: bake(ctx, app_version=app_version, build_number=build_number, app_dir=app_dir,
                                       progress=progress))
    if ctx.dry_run:
        timed("stage", lambda: _dry_stage(ctx, baked.image_version, progress))
        return ReleaseResult(app_version, baked.image_version, tuple(done), True)
    timed("stage", lambda: stage(ctx, image_version=baked.image_version, progress=progress))
    timed("smoke", lambda: smoke(ctx, progress=progress))
    note_cutover(recorder, timed("promote", lambda: promote(ctx, progress=progress)))
    return ReleaseResult(app_version, baked.image_version, tuple(done), False)


def _dry_stage(ctx: Context, image_version: str, progress: Callable[[str], None]):
    from pipeline.errors import ResourceMissing
    from pipeline.steps.stage import stage

    try:
        return stage(ctx, image_version=image_version, progress=progress)
    except ResourceMissing as err:  # the image is not baked in a dry run
        progress(f"would stage {image_version} once baked ({err})")
        return _Note(f"would stage image {image_version}, smoke it and promote it")


@dataclass(frozen=True)
class _Note:
    summary: str

    def to_json(self) -> dict:
        return {"note": self.summary}


@dataclass(frozen=True)
class DemoResult:
    releases: tuple[ReleaseResult, ...]
    production: str
    answer: str

    @property
    def summary(self) -> str:
        return f"production {self.production} now answers: {self.answer}"

    def lines(self) -> list[str]:
        out = []
        for r in self.releases:
            out.extend(r.lines())
        out.append(self.summary)
        return out

    def to_json(self) -> dict:
        return {"releases": [r.to_json() for r in self.releases], "production": self.production,
                "answer": self.answer}


def next_demo_versions(existing: list[str]) -> tuple[str, str]:
    """Two fresh 1.0.x versions after any the gallery has, so the demo can run again and again."""
    patches = [int(v.split(".")[2]) for v in existing if v.startswith("1.0.") and v.split(".")[2].isdigit()]
    n = max(patches, default=0) + 1
    return f"1.0.{n}", f"1.0.{n + 1}"


def changed_app(source: Path, target: Path) -> Path:
    """A copy of the app with a visible change, standing in for a developer's commit."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    server = target / "server.py"
    server.write_text(server.read_text().replace("pipeline sample app", "pipeline sample app, changed"))
    return target


def demo(ctx: Context, *, progress: Callable[[str], None] = log.info,
         recorded: Callable[[Callable[[Any], Any]], Any] | None = None) -> DemoResult:
    """Two releases; `recorded(run)` (the CLI's) runs each with a release recorder and writes its record."""
    from pipeline.steps.switch import production_url

    first, second = next_demo_versions([v.name for v in gallery.list_image_versions(ctx.clients)])
    progress(f"demo: releasing {first}, then a changed app as {second}")
    record = recorded or (lambda run: run(None))
    one = record(lambda recorder: release(replace(ctx, recorder=recorder), app_version=first, progress=progress))
    changed = changed_app(Path("packer/app"), Path(".pipeline/demo/app"))
    two = record(lambda recorder: release(replace(ctx, recorder=recorder), app_version=second, app_dir=changed,
                                          progress=progress))
    url = production_url(ctx)
    status, body, _, error = checks.fetch(url + "/", timeout_s=5)
    answer = (body.strip() if status == 200 else f"{status} {error or body.strip()}")
    return DemoResult((one, two), url, answer)

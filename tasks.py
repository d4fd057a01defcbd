"""Invoke tasks: parse flags -> call one pipeline step -> print its result. No logic lives here.

    invoke local.up          start the local cloud (Azurite + ARM emulator) and its base infrastructure
    invoke release           bake, stage, smoke and promote one app version
    invoke --list            everything else
"""

from pathlib import Path

from invoke import Collection, task

from pipeline import cli
from pipeline.steps.bake import bake as bake_step
from pipeline.steps.doctor import doctor as doctor_step
from pipeline.steps.infra import ensure_infra
from pipeline.steps.promote import promote as promote_step
from pipeline.steps.promote import rollback as rollback_step
from pipeline.steps.release import release as release_step
from pipeline.steps.retire import retire as retire_step
from pipeline.steps.rollout import rollout as rollout_step
from pipeline.steps.smoke import smoke as smoke_step
from pipeline.steps.stage import stage as stage_step
from pipeline.steps.status import status as status_step
from pipeline.steps.switch import verify_live

ENV = "environment in pipeline.toml (default: PIPELINE_ENV, else the file's default_environment)"
SET = "override a setting, KEY=VALUE with a dotted key (repeatable), e.g. capacity.default=3"
JSON = "print the result as JSON on stdout (progress stays on stderr)"
DRY = "print the plan (the Azure changes it would make) and change nothing"
COMMON = {"env": ENV, "set_": SET, "json": JSON, "dry_run": DRY}

cli.configure_logging()


@task(iterable=["set_"], help=COMMON)
def infra(c, env=None, set_=None, json=False, dry_run=False):
    """Create what is missing of the base infrastructure (idempotent; never moves traffic)."""
    cli.run_step(ensure_infra, env=env, overrides=set_, dry_run=dry_run, as_json=json, task="infra")


@task(iterable=["set_"], help={**COMMON, "app_version": "app version to bake (default: from git describe)",
                               "build_number": "CI build number, for pre-release or dirty versions",
                               "force": "rebake even when an image with the same fingerprint exists",
                               "app_dir": "the app to bake (default: packer/app)"})
def bake(c, app_version=None, build_number=None, force=False, app_dir="packer/app", env=None, set_=None, json=False,
         dry_run=False):
    """Bake the app into an image with Packer and publish it as a gallery image version."""
    cli.run_step(lambda ctx: bake_step(
        ctx, app_version=app_version or cli.app_version_from_git(),
        build_number=int(build_number) if build_number is not None else None, force=force,
        app_dir=Path(app_dir), progress=cli.progress), env=env, overrides=set_, dry_run=dry_run, as_json=json,
        task="bake")


@task(iterable=["set_"], help={**COMMON, "image_version": "gallery image version to stage (required)",
                               "capacity": "instances (default: the live fleet's capacity)"})
def stage(c, image_version, capacity=None, env=None, set_=None, json=False, dry_run=False):
    """Stand up a new fleet from an image version on the idle pool, behind the staging rule."""
    cli.run_step(lambda ctx: stage_step(ctx, image_version=image_version,
                                        capacity=int(capacity) if capacity else None, progress=cli.progress),
                 env=env, overrides=set_, dry_run=dry_run, as_json=json, task="stage")


@task(iterable=["set_"], help={**COMMON, "report": "JUnit XML path (default .pipeline/reports/smoke.xml)",
                               "dry_run": "run the checks but record nothing in the ledger"})
def smoke(c, report=".pipeline/reports/smoke.xml", env=None, set_=None, json=False, dry_run=False):
    """Smoke-test the staged fleet through the staging frontend and on every instance; write JUnit XML."""
    cli.run_step(lambda ctx: smoke_step(ctx, report=Path(report), progress=cli.progress), env=env, overrides=set_,
                 dry_run=dry_run, as_json=json, task="smoke")


@task(iterable=["set_"], help=COMMON)
def promote(c, env=None, set_=None, json=False, dry_run=False):
    """Swap production to the staged fleet in one guarded update; verify; swap back if verification fails."""
    cli.run_step(lambda ctx: promote_step(ctx, progress=cli.progress), env=env, overrides=set_, dry_run=dry_run,
                 as_json=json, task="promote", html=True)


@task(iterable=["set_"], help={"env": ENV, "set_": SET, "json": JSON})
def verify(c, env=None, set_=None, json=False):
    """Check that production serves the live fleet's version (read-only)."""
    cli.run_step(lambda ctx: verify_live(ctx, progress=cli.progress), env=env, overrides=set_, as_json=json)


@task(iterable=["set_"], help=COMMON)
def rollback(c, env=None, set_=None, json=False, dry_run=False):
    """Send production back to the previous (warm) fleet in one guarded update."""
    cli.run_step(lambda ctx: rollback_step(ctx, progress=cli.progress), env=env, overrides=set_, dry_run=dry_run,
                 as_json=json, task="rollback", html=True)


@task(iterable=["set_"], help=COMMON)
def retire(c, env=None, set_=None, json=False, dry_run=False):
    """Delete fleets past the keep-warm window and image versions beyond the newest N that nothing uses."""
    cli.run_step(lambda ctx: retire_step(ctx, progress=cli.progress), env=env, overrides=set_, dry_run=dry_run,
                 as_json=json, task="retire")


@task(iterable=["set_"], help={"env": ENV, "set_": SET, "json": JSON})
def status(c, env=None, set_=None, json=False):
    """Live, staged and previous fleets with instance health, the load balancer's state, the history."""
    cli.run_step(status_step, env=env, overrides=set_, as_json=json)


@task(iterable=["set_"], help={**COMMON, "app_version": "app version to release (default: from git describe)",
                               "build_number": "CI build number", "app_dir": "the app to bake"})
def release(c, app_version=None, build_number=None, app_dir="packer/app", env=None, set_=None, json=False,
            dry_run=False):
    """Bake, stage, smoke and promote one app version."""
    cli.run_step(lambda ctx: release_step(
        ctx, app_version=app_version or cli.app_version_from_git(),
        build_number=int(build_number) if build_number is not None else None, app_dir=Path(app_dir),
        progress=cli.progress), env=env, overrides=set_, dry_run=dry_run, as_json=json, task="release", html=True)


@task(iterable=["set_"], help={**COMMON,
      "image_version": "gallery image version to roll out (not needed with --resume / --rollback)",
      "fleet": "scale set to update in place (default: the live fleet)",
      "batch": "ud (one update domain at a time, the default) or percent:N",
      "max_unhealthy": "share of the fleet that may be unhealthy before it halts, 0.0-1.0 (default 0.0)",
      "pause": "seconds to wait between batches (default 0)",
      "resume": "continue a halted or killed rollout from the ledger",
      "rollback": "return the upgraded domains to the previous image, domain by domain"})
def rollout(c, image_version=None, fleet=None, batch="ud", max_unhealthy="0.0", pause="0", resume=False,
            rollback=False, env=None, set_=None, json=False, dry_run=False):
    """Roll an image onto a fleet in place, one update domain at a time, health-gated (exit 12 when halted)."""
    cli.run_step(lambda ctx: rollout_step(
        ctx, image_version=image_version, fleet=fleet, batch=batch, max_unhealthy=max_unhealthy, pause_s=pause,
        resume=resume, rollback=rollback, progress=cli.progress), env=env, overrides=set_, dry_run=dry_run,
        as_json=json, task="rollout")


@task(iterable=["set_"], help={"env": ENV, "set_": SET, "json": JSON})
def doctor(c, env=None, set_=None, json=False):
    """Check the subscription and environment before a release (read-only; exit 13 when a check fails)."""
    cli.run_step(doctor_step, env=env, overrides=set_, as_json=json)


@task(help={"env": ENV})
def demo(c, env="local"):
    """The README's first command: local cloud up, release an app, release a changed app, show production."""
    cli.run(lambda: cli.demo(env=env, progress=cli.progress))


@task(help={"json": JSON,
            "role": "enforce this RBAC role definition, e.g. deploy/azure-role.json: requests it does not grant "
                    "get Azure's 403 (default PIPELINE_LOCAL_ROLE; unset: every action allowed)"})
def local_up(c, json=False, role=None):
    """Start the local cloud (Azurite + ARM emulator) in the background and create its base infrastructure."""
    cli.run(lambda: cli.local_up(role=role, progress=cli.progress), as_json=json)


@task
def local_down(c):
    """Stop the local cloud and every instance process (state is kept in .pipeline/local)."""
    cli.run(lambda: cli.local_down())


@task(help={"records": "directory of release records (default .pipeline/records)"})
def summary(c, records=".pipeline/records"):
    """Print this run's release records as Markdown (for $GITHUB_STEP_SUMMARY or a Jenkins description)."""
    cli.run(lambda: cli.records_markdown(Path(records)))


@task(help={"env": ENV})
def lock_break(c, env=None):
    """Break the environment's release lock (only when its holder is known to be dead)."""
    cli.run_step(cli.break_lock, env=env)


local = Collection("local")
local.add_task(local_up, "up")
local.add_task(local_down, "down")
lock = Collection("lock")
lock.add_task(lock_break, "break")

ns = Collection(doctor, infra, bake, stage, smoke, promote, verify, rollback, retire, status, release, rollout, demo, summary,
                local, lock)

"""Benchmark: the same 10-instance live fleet moved to a new image in place (rollout, one update domain at a
time) and by blue/green (stage + smoke + promote), side by side in one run, under a constant load on the
production frontend. Prints, per method:

- time until all traffic is on the new version (from the start of the step to the first request of the final
  unbroken run of new-version answers), and the step's total time;
- failed requests under the load (traffic.Sampler: a new connection per request, 20 requests/s);
- peak extra capacity: the most instances alive at once beyond the fleet's 10 (polled every 0.25 s).

The local cloud runs in its own processes with its default timing (probe interval 5 s x 0.2 = 1 s, threshold
2). Sequence: release 1.0.0 (blue/green), roll it out in place to 1.1.0, then release 1.2.0 by blue/green; both
measured moves go from one image to the next on the same 10-instance fleet size. About 2 minutes.

Run: .venv/bin/python benchmarks/rollout_vs_bluegreen.py [--capacity 10] [--rate 20]
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import threading
import time
from pathlib import Path

from _harness import ROOT, Cloud, free_port

from pipeline import traffic
from pipeline.azure.clients import Clients
from pipeline.config import load_settings
from pipeline.local import cloud as local
from pipeline.steps.bake import bake
from pipeline.steps.context import Context
from pipeline.steps.infra import ensure_infra
from pipeline.steps.promote import promote
from pipeline.steps.release import changed_app
from pipeline.steps.rollout import rollout
from pipeline.steps.smoke import smoke
from pipeline.steps.stage import stage
from pipeline.steps.switch import production_url

APP = ROOT / "packer" / "app"


def quiet(_: str) -> None:
    pass


class PeakInstances:
    """The most scale-set instances alive at once (any fleet), from the emulator's control API."""

    def __init__(self, control, interval_s: float = 0.25):
        self.control, self.interval_s, self.peak = control, interval_s, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            info = self.control("GET", "/info") or {}
            alive = [i for i in info.get("instances", []) if i.get("provisioning_state") != "Deleting"]
            self.peak = max(self.peak, len(alive))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "PeakInstances":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)


def measure(name: str, ctx: Context, control, *, new_version: str, capacity: int, rate: float, step) -> dict:
    url = production_url(ctx) + "/version"
    with traffic.Sampler(url=url, rate_per_s=rate, threads=2, max_seconds=600, max_samples=20_000) as sampler, \
            PeakInstances(control) as peak:
        time.sleep(1.0)
        began = sampler.mark("start")
        started = time.monotonic()
        step()
        seconds = time.monotonic() - started
        ended = sampler.mark("end")
        time.sleep(1.0)
    samples = [s for s in sampler.samples if s.t_offset_s >= began]
    took = traffic.cutover_seconds(samples, version=new_version, since=began)
    during = [s for s in samples if s.t_offset_s <= ended + 1.0]
    return {"method": name, "all_on_new_s": took, "step_s": seconds, "requests": len(during),
            "failed": traffic.failures(during), "peak_extra": max(0, peak.peak - capacity)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--capacity", type=int, default=10)
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second on the production frontend")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-rollout-"))
    block = 60 + (os.getpid() % 30) * 2  # loopback addresses apart from a running `invoke local.up`
    paths = local.LocalPaths(root=root, arm_port=free_port(), blob_port=free_port(), loopback_block=block)
    wall = time.monotonic()
    try:
        cloud = local.up(paths)
        settings = load_settings(path=ROOT / "pipeline.toml", environment="local", environ={},
                                 overrides={"capacity.default": str(args.capacity)})
        with Clients(settings, cloud=cloud) as clients:
            ctx = Context(clients=clients, who="benchmark@rollout-vs-bluegreen")
            control = Cloud(arm=None, info=cloud.to_json(), root=root).control
            ensure_infra(ctx)
            work = root / "work"

            def baked(version: str, changed: bool) -> str:
                app = changed_app(APP, work / f"app-{version}") if changed else APP
                return bake(ctx, app_version=version, app_dir=app, output_dir=work / f"bake-{version}",
                            progress=quiet).image_version

            def bluegreen(version: str) -> None:
                stage(ctx, image_version=version, progress=quiet)
                smoke(ctx, report=None, progress=quiet)
                promote(ctx, progress=quiet)

            print(f"releasing 1.0.0 on {args.capacity} instances ...", file=sys.stderr)
            bluegreen(baked("1.0.0", False))
            v11, v12 = baked("1.1.0", True), baked("1.2.0", True)
            print("rollout 1.0.0 -> 1.1.0 ...", file=sys.stderr)
            rows = [measure("rollout (by update domain)", ctx, control, new_version="1.1.0", capacity=args.capacity,
                            rate=args.rate, step=lambda: rollout(ctx, image_version=v11, progress=quiet))]
            print("blue/green 1.1.0 -> 1.2.0 ...", file=sys.stderr)
            rows.append(measure("blue/green (stage+smoke+promote)", ctx, control, new_version="1.2.0",
                                capacity=args.capacity, rate=args.rate, step=lambda: bluegreen(v12)))
    finally:
        local.down(paths)
    print(f"command: {' '.join(shlex.quote(a) for a in [sys.executable, *sys.argv])}")
    print(f"fleet: {args.capacity} instances, 5 update domains; load: {args.rate:.0f} requests/s on the production "
          f"frontend; local cloud default timing (probe every 1 s, threshold 2); wall time "
          f"{time.monotonic() - wall:.0f}s")
    header = f"{'method':34} {'all traffic on new':>19} {'step time':>10} {'failed requests':>16} {'peak extra':>11}"
    print(header)
    print("-" * len(header))
    for r in rows:
        took = f"{r['all_on_new_s']:.1f} s" if r["all_on_new_s"] is not None else "never"
        failed = f"{r['failed']}/{r['requests']}"
        extra = f"+{r['peak_extra']} ({r['peak_extra'] / args.capacity:.0%})"
        print(f"{r['method']:34} {took:>19} {r['step_s']:>8.1f} s {failed:>16} {extra:>11}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

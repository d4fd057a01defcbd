"""Benchmark of a release on the local cloud (3 instances). Prints:

1. wall time per step (bake with real Packer, stage, smoke, promote) of a release;
2. Azure requests per release by kind — writes, reads, operation polls — and by operation, from the local
   cloud's request counters;
3. the cut-over under a constant load through the production frontend, during promote and then rollback:
   failed requests (the target is 0) and the time from sending the swap (the load balancer PUT) until every
   response comes from the new version.

Run: .venv/bin/python benchmarks/release.py [--instances 3] [--rate 50]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from _harness import ROOT, local_cloud

from pipeline import traffic
from pipeline.azure.clients import Clients
from pipeline.config import load_settings
from pipeline.steps.context import Context
from pipeline.steps.infra import ensure_infra
from pipeline.steps.promote import promote, rollback
from pipeline.steps.release import changed_app, release
from pipeline.steps.smoke import smoke
from pipeline.steps.stage import stage
from pipeline.steps.bake import bake
from pipeline.steps.switch import production_url

POLLS = {"Operations_GetStatus", "Operations_GetResult"}


def quiet(_: str) -> None:
    pass


def kinds(counters: list[dict]) -> tuple[Counter, Counter]:
    by_kind: Counter = Counter()
    by_operation: Counter = Counter()
    for c in counters:
        if c["operation"] in POLLS:
            kind = "poll"
        elif c["method"] in ("GET", "HEAD") or c["operation"].endswith("_Health"):  # rule health: a read by POST
            kind = "read"
        else:
            kind = "write"
        by_kind[kind] += c["count"]
        by_operation[(kind, c["method"], c["operation"])] += c["count"]
    return by_kind, by_operation


def under_load(ctx: Context, *, rate: float, action, version: str) -> tuple[int, int, float | None, object]:
    """(requests, failures, seconds from the swap until all responses are `version`, result) for one switch."""
    sampler = traffic.Sampler(url=production_url(ctx) + "/version", rate_per_s=rate, threads=4, timeout_s=2,
                              max_seconds=300)
    started_wall = time.time()
    with sampler:
        time.sleep(1.0)  # a steady state before the swap
        result = action()
        time.sleep(1.0)
    swapped_wall = dict(result.timeline)["switch requested"]  # the moment the load balancer PUT was sent
    samples = sampler.samples
    took = traffic.cutover_seconds(samples, version=version, since=swapped_wall - started_wall)
    return len(samples), traffic.failures(samples), took, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second through production")
    args = parser.parse_args()
    with local_cloud() as cloud:
        settings = load_settings(path=ROOT / "pipeline.toml", environment="local",
                                 environ={"PIPELINE_LOCAL_CLOUD": str(cloud.root / "cloud.json")},
                                 overrides={"capacity.default": str(args.instances)})
        with Clients.for_settings(settings) as clients:
            ctx = Context(clients, who="benchmark")
            ensure_infra(ctx)
            release(ctx, app_version="1.0.0", progress=quiet)  # something live to replace

            cloud.control("DELETE", "/counters")
            second = release(ctx, app_version="1.1.0", app_dir=changed_app(ROOT / "packer" / "app",
                                                                           cloud.root / "app-changed"), progress=quiet)
            counters = cloud.control("GET", "/counters")["value"]
            print(f"1. a release with {args.instances} instances (the second one: something live to replace)")
            for name, _, seconds in second.steps:
                print(f"   {name:8} {seconds:6.2f} s")
            print(f"   {'total':8} {sum(s for _, _, s in second.steps):6.2f} s")
            by_kind, by_operation = kinds(counters)
            print(f"2. Azure requests in that release: {sum(by_kind.values())} "
                  f"({by_kind['write']} writes, {by_kind['read']} reads, {by_kind['poll']} operation polls)")
            for (kind, method, operation), count in sorted(by_operation.items()):
                print(f"   {kind:5} {method:6} {operation:55} {count:4}")

            baked = bake(ctx, app_version="1.2.0", progress=quiet)
            stage(ctx, image_version=baked.image_version, progress=quiet)
            smoke(ctx, report=None, progress=quiet)
            print(f"3. cut-over under {args.rate:.0f} requests/s through the production frontend")
            for label, action, version in (("promote 1.1.0 -> 1.2.0", lambda: promote(ctx, progress=quiet), "1.2.0"),
                                           ("rollback 1.2.0 -> 1.1.0", lambda: rollback(ctx, progress=quiet), "1.1.0")):
                sent, failed, took, _ = under_load(ctx, rate=args.rate, action=action, version=version)
                shown = f"{took:.2f} s" if took is not None else "never"
                print(f"   {label}: {sent} requests, {failed} failed, all on {version} {shown} after the swap")


if __name__ == "__main__":
    main()

"""A release killed with SIGKILL mid-stage and mid-promote (a cancelled CI job, a dead agent) converges when the
same task runs again, and production answers every request meanwhile. The tasks run as a user runs them
(`invoke ...` subprocesses) against a real background local cloud.

The tests run in file order on one cloud: 1.0.0 live, then 2.0.0 staged (killed, re-run), then 2.0.0
promoted (killed, re-run), then 3.0.0 promoted (killed) and `invoke rollback` tried instead.
"""

from __future__ import annotations

import pytest

from tests.e2e.helpers import (Watch, facts, kill, ledger, local_cloud, production_pool, scale_sets, served_version,
                               wait_for)

pytestmark = pytest.mark.slow

V1, V2, V3 = "hello-local-1-0-0", "hello-local-2-0-0", "hello-local-3-0-0"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    """1.0.0 released (live), 2.0.0 baked."""
    with local_cloud(tmp_path_factory.mktemp("e2e-killed")) as cloud:
        cloud.invoke("infra").ok()
        cloud.invoke("release", "--app-version", "1.0.0").ok()
        cloud.invoke("bake", "--app-version", "2.0.0").ok()
        assert served_version(cloud.production_url) == "1.0.0"
        yield cloud


@pytest.fixture(scope="module")
def clients(cloud):
    with cloud.clients() as built:
        yield built


def test_a_stage_killed_once_its_scale_set_exists_converges_when_run_again(cloud, clients):
    # Hold the scale set's creation open for 2 s, so the kill lands inside it (before the ledger records the
    # stage); a re-run starts later than that, so it finds the scale set done.
    cloud.add_fault(kind="slow", operation="VirtualMachineScaleSets_CreateOrUpdate", delay=2, count=1)
    with Watch(cloud.production_url) as watch:
        proc = cloud.start("stage", "--image-version", "2.0.0")
        wait_for("the new scale set", lambda: V2 in scale_sets(clients) or proc.poll() is not None, timeout_s=120)
        assert proc.poll() is None, "stage finished before it could be killed"
        kill(proc)
        assert ledger(clients).staged is None  # killed before it recorded anything

        run = cloud.invoke("stage", "--image-version", "2.0.0", "--json").ok()
    result = run.json()
    assert result["step"] == "stage" and result["fleet"] == V2 and len(result["instances"]) == 2
    assert "held by a dead process" in run.stderr and "taking it over" in run.stderr  # the killed one's lock
    assert f"converge existing scale set {V2}" in run.stderr
    assert scale_sets(clients) == {V1: 2, V2: 2}

    book = ledger(clients)
    assert book.live == V1 and book.staged == V2 and book.fleets[V2].state == "staged"
    assert [e.event for e in book.history if e.fleet == V2] == ["staged"]
    status = cloud.invoke("status", "--json").ok().json()
    staged = next(f for f in status["fleets"] if f["role"] == "staged")
    assert staged["name"] == V2 and len(staged["instances"]) == 2 and all(i["ready"] for i in staged["instances"])

    assert watch.failures == [] and watch.distinct() == ["1.0.0"]


def promote_killed_after_its_swap(cloud, clients, *, version: str) -> None:
    """Start `invoke promote` and SIGKILL it right after it moved production to the staged fleet.

    Promote reads the image's app version before the swap (so a fault on GalleryImageVersions_Get would stop it
    too early); after the swap, its verification first reads the public IP's address. A slow fault on that read
    (the second one: the cut-over sampler reads it before the swap) pauses the process there.
    """
    staged = next(f for f in cloud.invoke("status", "--json").ok().json()["fleets"] if f["role"] == "staged")
    target_pool = clients.settings.load_balancer.backend_pools.for_color(staged["color"])
    cloud.add_fault(kind="slow", operation="PublicIPAddresses_Get", delay=0, count=1)
    pause = cloud.add_fault(kind="slow", operation="PublicIPAddresses_Get", delay=15, count=1)

    def paused() -> bool:
        return any(r["id"] == pause["id"] and r["fired"] for r in cloud.control("GET", "/faults")["value"])

    proc = cloud.start("promote", "--json")
    wait_for("the production rule on the staged pool", lambda: production_pool(clients) == target_pool
             or proc.poll() is not None, timeout_s=120)
    wait_for("promote to verify after the swap", lambda: paused() or proc.poll() is not None, timeout_s=60)
    wait_for(f"production to answer {version}", lambda: served_version(cloud.production_url) == version,
             timeout_s=30)
    assert proc.poll() is None, "promote finished before it could be killed"
    kill(proc)
    cloud.control("DELETE", "/faults")


def test_a_promote_killed_after_its_swap_resumes_when_run_again(cloud, clients):
    if ledger(clients).staged != V2:
        cloud.invoke("stage", "--image-version", "2.0.0").ok()
    cloud.invoke("smoke").ok()
    with Watch(cloud.production_url) as watch:
        promote_killed_after_its_swap(cloud, clients, version="2.0.0")
        book = ledger(clients)
        assert book.live == V1 and book.staged == V2  # swapped, not recorded: what the re-run must finish

        run = cloud.invoke("promote", "--json").ok()
    result = run.json()
    assert result["step"] == "promote" and result["fleet"] == V2 and result["resumed"] is True
    assert "production already sends traffic" in run.stderr
    assert served_version(cloud.production_url) == "2.0.0"
    book = ledger(clients)
    assert book.live == V2 and book.previous == V1 and book.staged is None
    assert [e.event for e in book.history if e.fleet == V2] == ["staged", "smoke_passed", "promoted"]
    cloud.invoke("verify").ok()
    assert watch.failures == [] and watch.distinct() == ["1.0.0", "2.0.0"]


def test_rollback_after_a_killed_promote_refuses_and_changes_nothing(cloud, clients):
    """Known gap: after a promote killed past its swap, production serves the staged fleet but the ledger still
    has the old one live, and its warm predecessor was superseded by the stage. `invoke rollback` finds nothing
    to roll back to and changes nothing (README: re-run the *same* step); re-running promote finishes it."""
    cloud.invoke("bake", "--app-version", "3.0.0").ok()
    cloud.invoke("stage", "--image-version", "3.0.0").ok()
    cloud.invoke("smoke").ok()
    with Watch(cloud.production_url) as watch:
        promote_killed_after_its_swap(cloud, clients, version="3.0.0")
        before = facts(clients)
        cloud.invoke("rollback").failed(11, r"nothing to roll back to")
        assert facts(clients) == before
        assert served_version(cloud.production_url) == "3.0.0"
        assert cloud.invoke("promote", "--json").ok().json()["resumed"] is True
    assert ledger(clients).live == V3
    assert watch.failures == [] and watch.distinct() == ["2.0.0", "3.0.0"]

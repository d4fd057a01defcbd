"""The invoke tasks as a user runs them (`invoke <task> ...` subprocesses) against a real background local
cloud: outputs (--json on stdout, progress on stderr, JUnit, release records), dry runs that change nothing,
and README's exit codes, each failure one `error: ...` line without a traceback that changes nothing.

One cloud for the module; the tests run in file order (before anything is baked, then a release task by
task, then the lock and a failing smoke on top of it).
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET

import pytest

from pipeline.lock import ReleaseLock
from tests.e2e.helpers import (ACTOR, REPO, Run, Watch, facts, ledger, local_cloud, production_pool,
                               served_version)

pytestmark = pytest.mark.slow

V1, V2, V3 = "hello-local-1-0-0", "hello-local-2-0-0", "hello-local-3-0-0"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with local_cloud(tmp_path_factory.mktemp("e2e-tasks")) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def clients(cloud):
    with cloud.clients() as built:
        yield built


@pytest.fixture(scope="module")
def infra(cloud, clients):
    """The base infrastructure exists (the first test creates it; a test run alone gets it here)."""
    from pipeline.azure import network

    if network.find_load_balancer(clients, clients.settings.load_balancer.name) is None:
        cloud.invoke("infra").ok()


def recorded(cloud, *args: str) -> Run:
    """Run a task that changes something: it must leave exactly one release record saying how it ended."""
    before = len(cloud.records())
    run = cloud.invoke(*args)
    new = cloud.records()[before:]
    assert len(new) == 1, f"expected one new release record\n{run}"
    record = new[0]
    assert record["schema"] == "bluegreen.release-record/1" and record["task"] == args[0], record
    assert record["who"] == ACTOR and record["exit_code"] == run.code, record
    assert record["outcome"] == ("succeeded" if run.code == 0 else "failed"), record
    return run


def unrecorded(cloud, *args: str, env: dict[str, str] | None = None) -> Run:
    """Run a task that must leave no release record (read-only, a dry run, or rejected flags)."""
    before = len(cloud.records())
    run = cloud.invoke(*args, env=env)
    assert len(cloud.records()) == before, f"unexpected release record\n{run}"
    return run


def idle_color(clients) -> str:
    pools = clients.settings.load_balancer.backend_pools
    return "green" if production_pool(clients) == pools.blue else "blue"


def test_infra_creates_the_base_infrastructure_then_is_a_no_op(cloud, clients):
    first = recorded(cloud, "infra", "--json").ok().json()
    assert first["step"] == "infra" and first["dry_run"] is False and first["actions"]
    before = facts(clients)
    second = recorded(cloud, "infra", "--json").ok().json()
    assert second["actions"] == []
    dry = unrecorded(cloud, "infra", "--dry-run", "--json").ok().json()
    assert dry["dry_run"] is True and dry["actions"] == []
    assert facts(clients) == before


def test_bad_flags_and_configuration_exit_2_before_anything_runs(cloud, infra):
    cases = [
        (("infra", "--set", "capacity.default=abc"), {}, r"capacity\.default must be an integer.*--set"),
        (("infra",), {"PIPELINE__CAPACITY__DEFAULT": "abc"}, r"capacity\.default .*PIPELINE__CAPACITY__DEFAULT"),
        (("status", "--env", "nope"), {}, r"unknown environment 'nope' \(known: .*local"),
        (("promote", "--set", "capacity.default"), {}, r"is not KEY=VALUE"),
        (("stage", "--image-version", "1.0.0", "--set", "no_such.key=1"), {}, r"no_such.* not a known key"),
        (("infra",), {"PIPELINE__NETWORK__ALLOW_STAGING_FROM": "10.0.0.0/8,anywhere"},
         r"network\.allow_staging_from has an invalid source: 'anywhere'.*PIPELINE__NETWORK__ALLOW_STAGING_FROM"),
    ]
    for args, env, pattern in cases:
        unrecorded(cloud, *args, env=env).failed(2, pattern)
    # A malformed image version is the step's own check: exit 2 as well, recorded as a failed stage.
    recorded(cloud, "stage", "--image-version", "1.0").failed(2, r"MAJOR\.MINOR\.PATCH")


def test_missing_infrastructure_exits_4_naming_it_and_changes_nothing(cloud, clients, infra):
    idle = idle_color(clients)
    before = facts(clients)
    stage = ("stage", "--image-version", "1.0.0", "--set")
    cases = [
        ((*stage, "load_balancer.name=nope"), r"load balancer nope .*not found.*run `invoke infra`"),
        ((*stage, f"load_balancer.backend_pools.{idle}=nope"), r"has no backend pool 'nope'; run `invoke infra`"),
        ((*stage, f"load_balancer.nat_pools.{idle}.name=nope"), r"has no inbound NAT pool 'nope'; run `invoke infra`"),
        ((*stage, "load_balancer.staging_rule.name=nope"), r"has no rule 'nope'; run `invoke infra`"),
        ((*stage, "image.gallery=nope"), r"nope/hello-app: not found.*run `invoke infra`"),
        (("bake", "--app-version", "1.0.0", "--set", "image.definition=nope"),
         r"gal_hello_local/nope: not found.*run `invoke infra`"),
        (("stage", "--image-version", "9.9.9"), r"image version 9\.9\.9 does not exist .*`invoke bake`"),
    ]
    for args, pattern in cases:
        recorded(cloud, *args).failed(4, pattern)
    assert facts(clients) == before


def test_steps_whose_precondition_is_unmet_exit_11(cloud, clients, infra):
    before = facts(clients)
    recorded(cloud, "promote").failed(11, r"nothing is staged in local; run `invoke stage`")
    recorded(cloud, "rollback").failed(11, r"nothing to roll back to")
    recorded(cloud, "smoke").failed(11, r"nothing is staged in local")
    unrecorded(cloud, "verify").failed(11, r"nothing is live in local; run `invoke promote`")
    assert facts(clients) == before


def test_a_release_task_by_task(cloud, clients, infra, tmp_path):
    run = recorded(cloud, "bake", "--app-version", "1.0.0", "--json").ok()
    baked = run.json()  # stdout is the JSON result and nothing else
    assert baked["step"] == "bake" and baked["image_version"] == "1.0.0" and baked["skipped"] is False
    assert "publishing image version gal_hello_local/hello-app/1.0.0" in run.stderr  # progress goes to stderr

    staged = recorded(cloud, "stage", "--image-version", "1.0.0").ok()
    assert f"staged {V1} (1.0.0)" in staged.stdout
    report = tmp_path / "smoke.xml"
    recorded(cloud, "smoke", "--report", str(report)).ok()
    suite = ET.parse(report).getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("6", "0")  # 2 checks x (staging frontend + 2 instances)

    promoted = recorded(cloud, "promote", "--json").ok().json()
    assert promoted["step"] == "promote" and promoted["fleet"] == V1 and promoted["resumed"] is False
    assert served_version(cloud.production_url) == "1.0.0"  # the frontend the cloud file names, over HTTP
    status = unrecorded(cloud, "status", "--json").ok().json()
    live = next(f for f in status["fleets"] if f["role"] == "live")
    assert status["step"] == "status" and live["name"] == V1 and all(i["ready"] for i in live["instances"])
    assert "production serves 1.0.0" in unrecorded(cloud, "verify").ok().stdout
    unrecorded(cloud, "verify", "--set", "load_balancer.frontend=nope").failed(
        4, r"public IP nope: not found.*run `invoke infra`")

    before = facts(clients)
    assert unrecorded(cloud, "bake", "--app-version", "2.0.0", "--dry-run", "--json").ok().json()["dry_run"] is True
    assert facts(clients) == before
    recorded(cloud, "bake", "--app-version", "2.0.0").ok()
    before = facts(clients)
    planned = unrecorded(cloud, "stage", "--image-version", "2.0.0", "--dry-run").ok()
    assert planned.stdout.startswith("dry run: ") and f"create scale set {V2}" in planned.stdout
    assert facts(clients) == before
    recorded(cloud, "stage", "--image-version", "2.0.0").ok()
    recorded(cloud, "smoke").ok()
    assert (cloud.workspace / ".pipeline" / "reports" / "smoke.xml").is_file()  # the default report path

    before = facts(clients)
    dry = unrecorded(cloud, "promote", "--dry-run", "--json").ok().json()
    assert dry["dry_run"] is True and dry["fleet"] == V2 and dry["plan"]
    recorded(cloud, "promote", "--set", "load_balancer.name=nope").failed(4, r"load balancer nope .*invoke infra")
    assert facts(clients) == before
    with Watch(cloud.production_url) as watch:
        recorded(cloud, "promote").ok()
    assert served_version(cloud.production_url) == "2.0.0"
    assert watch.failures == [] and watch.distinct() == ["1.0.0", "2.0.0"]

    before = facts(clients)
    assert unrecorded(cloud, "rollback", "--dry-run").ok().stdout.startswith("dry run: rollback would")
    recorded(cloud, "rollback", "--set", "load_balancer.name=nope").failed(4, r"load balancer nope .*invoke infra")
    assert facts(clients) == before
    with Watch(cloud.production_url) as watch:
        back = recorded(cloud, "rollback", "--json").ok().json()
    assert back["step"] == "rollback" and back["fleet"] == V1
    assert served_version(cloud.production_url) == "1.0.0"
    assert watch.failures == [] and watch.distinct() == ["2.0.0", "1.0.0"]
    recorded(cloud, "rollback").failed(11, r"nothing to roll back to")
    before = facts(clients)
    assert unrecorded(cloud, "retire", "--dry-run", "--json").ok().json()["dry_run"] is True
    assert facts(clients) == before

    reports = {p.name.rsplit("-", 1)[-1] for p in (cloud.workspace / ".pipeline" / "reports").glob("*.html")}
    assert {"promote.html", "rollback.html"} <= reports
    assert ledger(clients).live == V1


def test_a_release_while_another_holds_the_lock_exits_8_at_once(cloud, clients, infra):
    s = clients.settings
    before = facts(clients)
    with ReleaseLock(clients.blob, container=s.storage.ledger_container, environment=s.environment,
                     task="release", who="release-manager-1"):
        for task in (("promote",), ("rollback",), ("stage", "--image-version", "2.0.0")):
            recorded(cloud, *task).failed(8, r"release lock is held by release-manager-1 .*task release")
    assert facts(clients) == before


def test_a_failing_smoke_check_exits_7_and_blocks_promote(cloud, clients, infra, tmp_path):
    app = tmp_path / "app"  # an app that answers /health but reports the wrong version
    shutil.copytree(REPO / "packer" / "app", app, ignore=shutil.ignore_patterns("__pycache__"))
    server = app / "server.py"
    server.write_text(server.read_text().replace("def read_version() -> str:\n",
                                                 "def read_version() -> str:\n    return '0.0.0-wrong'\n", 1))
    recorded(cloud, "bake", "--app-version", "3.0.0", "--app-dir", str(app)).ok()
    recorded(cloud, "stage", "--image-version", "3.0.0").ok()
    report = tmp_path / "smoke.xml"
    run = recorded(cloud, "smoke", "--report", str(report))
    run.failed(7, rf"{V3}: .*fix the app and stage a new version")
    assert "/version: body does not contain '3.0.0'" in run.stderr  # the details, one line per failed target
    suite = ET.parse(report).getroot()
    assert suite.get("failures") == "3"  # the version check on the staging frontend and both instances
    assert ledger(clients).fleets[V3].smoke == "failed"
    recorded(cloud, "promote").failed(11, rf"{V3} has not passed its smoke checks|nothing is staged")
    assert served_version(cloud.production_url) != "0.0.0-wrong"

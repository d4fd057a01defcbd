"""The invoke tasks as a user runs them: `.venv/bin/invoke <task> ...` subprocesses against a real background
local cloud (pipeline.local.cloud.up: Azurite + the ARM emulator in their own processes, as `invoke local.up`
starts them), found through PIPELINE_LOCAL_CLOUD.

The tasks run from a throwaway workspace (a temp directory holding links to tasks.py, pipeline.toml and
packer/), so what they write relative to their working directory (.pipeline/records, reports, bake output)
stays out of the repository and can be read back by the tests.

    with local_cloud(tmp_path_factory.mktemp("e2e")) as cloud:
        cloud.invoke("infra").ok()
        run = cloud.invoke("stage", "--image-version", "9.9.9")
        run.failed(4, "image version 9.9.9 does not exist")
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.fixtures.fakes import wait_until

REPO = Path(__file__).resolve().parents[2]
INVOKE = REPO / ".venv" / "bin" / "invoke"
ENVIRONMENT = "local"
ACTOR = "e2e-tests"
TASK_TIMEOUT_S = 300          # a bound on any one task; the slowest (a stage) takes seconds locally


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_loopback_block() -> int:
    """A second octet for the cloud's 127.x frontends (and x+1 for instances) that nothing listens on.

    Apart from the default local cloud (20), the benchmarks (60) and the in-process emulator fixture (100+).
    """
    candidates = [b for b in range(30, 100, 2) if b not in (60, 61)]
    start = os.getpid() % len(candidates)
    for block in candidates[start:] + candidates[:start]:
        try:
            for address in (f"127.{block}.0.1", f"127.{block + 1}.0.2"):
                with socket.socket() as s:
                    s.bind((address, 8080))
        except OSError:
            continue
        return block
    raise RuntimeError("no free loopback block for a local cloud")


@dataclass(frozen=True)
class Run:
    """A finished task: its argv, exit code, stdout and stderr."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (f"invoke {' '.join(self.args)} -> exit {self.code}\n--- stdout\n{self.stdout}\n"
                f"--- stderr\n{self.stderr}")

    def json(self) -> dict:
        return json.loads(self.stdout)

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]

    def ok(self) -> Run:
        assert self.code == 0, str(self)
        assert "Traceback" not in self.stderr, str(self)
        return self

    def failed(self, code: int, pattern: str) -> str:
        """Assert a clean failure as README promises: the exit code, exactly one `error: ...` line on stderr
        (matching `pattern`), no Python traceback. Returns the error line."""
        assert self.code == code, str(self)
        assert "Traceback" not in self.stderr + self.stdout, str(self)
        lines = self.error_lines()
        assert len(lines) == 1, str(self)
        assert re.search(pattern, lines[0]), f"{lines[0]!r} does not match {pattern!r}\n{self}"
        return lines[0]


@dataclass
class Cloud:
    """A running local cloud and a workspace to run the tasks from."""

    root: Path
    workspace: Path
    paths: object                       # pipeline.local.cloud.LocalPaths
    env: dict[str, str] = field(repr=False)

    # ------------------------------------------------------------------------------------------ tasks

    def invoke(self, *args: str, env: dict[str, str] | None = None, timeout_s: float = TASK_TIMEOUT_S) -> Run:
        proc = subprocess.run([str(INVOKE), *args], cwd=self.workspace, env={**self.env, **(env or {})},
                              capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
        return Run(tuple(args), proc.returncode, proc.stdout, proc.stderr)

    def start(self, *args: str) -> subprocess.Popen:
        """A task in the background (its own session, so a test can SIGKILL it like a cancelled CI job)."""
        return subprocess.Popen([str(INVOKE), *args], cwd=self.workspace, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL, start_new_session=True)

    def records(self) -> list[dict]:
        """Release records the tasks left, oldest first (by start time: file names have whole seconds only)."""
        found = [json.loads(p.read_text()) for p in (self.workspace / ".pipeline" / "records").glob("*.json")]
        return sorted(found, key=lambda r: r["started"])

    # ------------------------------------------------------------------------------------------ the cloud

    @property
    def info(self) -> dict:
        """The connection file, read afresh (the emulator rewrites it when frontends change)."""
        return json.loads(self.paths.cloud_file.read_text())

    def frontend(self, rule: str) -> str:
        return "http://" + self.info["frontends"][f"lb-hello/{rule}"]

    @property
    def production_url(self) -> str:
        return self.frontend("rule-production")

    def control(self, method: str, path: str, body: dict | None = None) -> object:
        info = self.info
        request = urllib.request.Request(
            info["control_endpoint"] + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {info['token']}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=ssl.create_default_context(cafile=info["ca_file"]),
                                    timeout=10) as reply:
            payload = reply.read()
            return json.loads(payload) if payload else None

    def add_fault(self, **rule) -> dict:
        return self.control("POST", "/faults", rule)

    @contextlib.contextmanager
    def clients(self) -> Iterator[object]:
        """The pipeline's own Clients (real SDK clients) for the `local` environment of this cloud."""
        from pipeline.azure.clients import Clients
        from pipeline.config import load_settings

        settings = load_settings(path=REPO / "pipeline.toml", environment=ENVIRONMENT,
                                 environ={"PIPELINE_LOCAL_CLOUD": str(self.paths.cloud_file)})
        with Clients.for_settings(settings) as built:
            yield built


@contextlib.contextmanager
def local_cloud(root: Path, *, role_file: Path | None = None) -> Iterator[Cloud]:
    """Start a local cloud under `root` on free ports and a free loopback block (enforcing `role_file` when
    given); stop it afterwards."""
    from pipeline.local import cloud as local

    paths = local.LocalPaths(root=root / "cloud", arm_port=free_port(), blob_port=free_port(),
                             loopback_block=free_loopback_block())
    workspace = root / "workspace"
    workspace.mkdir()
    for name in ("tasks.py", "pipeline.toml", "packer"):
        (workspace / name).symlink_to(REPO / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINE_", "PIPELINE__"))}
    env.update(PIPELINE_LOCAL_CLOUD=str(paths.cloud_file.absolute()), PIPELINE_ACTOR=ACTOR)
    try:
        local.up(paths, role_file=role_file)
        yield Cloud(root=root, workspace=workspace, paths=paths, env=env)
    finally:
        local.down(paths)


# ---------------------------------------------------------------------------------------------- facts


def load_balancer(clients) -> dict:
    from pipeline.azure import network

    return network.get_load_balancer(clients, clients.settings.load_balancer.name)


def ledger(clients):
    from pipeline.azure import storage

    s = clients.settings
    return storage.read_ledger(clients.blob, container=s.storage.ledger_container, environment=s.environment)[0]


def scale_sets(clients) -> dict[str, int]:
    """Name -> capacity of every scale set in the resource group."""
    group = clients.settings.resource_group
    try:
        return {v.name: v.sku.capacity for v in clients.compute.virtual_machine_scale_sets.list(group)}
    except Exception as err:  # noqa: BLE001 - before `invoke infra` the group does not exist
        if "ResourceGroupNotFound" in str(err):
            return {}
        raise


def facts(clients) -> dict:
    """What a failed or dry-run task must leave alone: the LB (its ETag), the ledger, the scale sets, the
    gallery's image versions."""
    from pipeline import ledger as ledger_model

    from pipeline.azure import gallery

    lb = load_balancer(clients)
    return {"lb_etag": lb["etag"], "ledger": ledger_model.to_json(ledger(clients)), "scale_sets": scale_sets(clients),
            "image_versions": sorted(v.name for v in gallery.list_image_versions(clients))}


def production_pool(clients) -> str:
    from pipeline import bluegreen

    s = clients.settings.load_balancer
    lb = load_balancer(clients)
    return bluegreen.read_traffic(lb, production_rule=s.production_rule.name,
                                  staging_rule=s.staging_rule.name).production_pool


def served_version(url: str) -> str | None:
    from pipeline import smoke as checks

    code, body, _, _ = checks.fetch(url + "/version", timeout_s=3)
    return json.loads(body)["version"] if code == 200 else None


def wait_for(what: str, condition: Callable[[], object], *, timeout_s: float = 60, interval_s: float = 0.05):
    """Poll until `condition()` is truthy (returns it); fail the test after `timeout_s`."""
    return wait_until(condition, timeout=timeout_s, interval=interval_s, what=what)


def kill(proc: subprocess.Popen) -> tuple[str, str]:
    """SIGKILL a task started by Cloud.start (and anything in its session); returns its stdout and stderr."""
    os.killpg(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, out, err)
    return out, err


class Watch:
    """Production traffic for the duration of a block: every answer's version and every failure."""

    def __init__(self, url: str, *, interval_s: float = 0.05, max_s: float = 600):
        self.url = url
        self.interval_s, self.max_s = interval_s, max_s
        self.versions: list[str] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watch-production", daemon=True)

    def _run(self) -> None:
        from pipeline import smoke as checks

        deadline = time.monotonic() + self.max_s
        while not self._stop.is_set() and time.monotonic() < deadline:
            code, body, _, error = checks.fetch(self.url + "/version", timeout_s=3)
            if code == 200:
                self.versions.append(json.loads(body)["version"])
            else:
                self.failures.append(f"{code} {error}")
            self._stop.wait(self.interval_s)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def distinct(self) -> list[str]:
        """The versions production answered, in order, repeats collapsed: e.g. ['1.0.0', '2.0.0']."""
        out: list[str] = []
        for version in self.versions:
            if not out or out[-1] != version:
                out.append(version)
        return out

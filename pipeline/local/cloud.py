"""`invoke local.up` / `local.down`: the local cloud (Azurite + the ARM emulator) as background processes.

Idempotent: `up` reuses what already answers; `down` stops what runs and is a no-op otherwise. State lives in
`.pipeline/local/` (git-ignored): the emulator's resources in `state/`, Azurite's blobs in `azurite/`, logs
next to them, and `cloud.json`, the connection file clients read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import ssl
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tenacity import RetryError

from pipeline import retry
from pipeline.errors import PipelineError
from pipeline.local.azurite import start_azurite, stop_azurite
from pipeline.local.cloudfile import LocalCloud, read_cloud_file

log = logging.getLogger(__name__)

EMULATOR_PID = "emulator.pid"
EMULATOR_LOG = "emulator.log"


@dataclass(frozen=True)
class LocalPaths:
    root: Path = Path(".pipeline/local")
    arm_port: int = int(os.environ.get("PIPELINE_LOCAL_ARM_PORT", "8443"))
    blob_port: int = int(os.environ.get("PIPELINE_LOCAL_BLOB_PORT", "10000"))
    # Second octet of the 127.x.y.z addresses the load balancer frontends get (instances: the next one); a second
    # local cloud on the same machine needs its own, else its frontends collide with the first one's.
    loopback_block: int = int(os.environ.get("PIPELINE_LOCAL_LOOPBACK_BLOCK", "20"))

    @property
    def cloud_file(self) -> Path:
        return self.root / "cloud.json"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"


def _emulator_answers(cloud_file: Path) -> bool:
    try:
        info = json.loads(cloud_file.read_text())
        context = ssl.create_default_context(cafile=info["ca_file"])
        with urllib.request.urlopen(info["control_endpoint"] + "/health", context=context, timeout=2) as reply:
            return reply.status == 200
    except (OSError, ValueError, KeyError):
        return False


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def role_argv(role_file: str | Path | None) -> list[str]:
    """`--role FILE` for the emulator, checked first: a role file that does not parse is a ConfigError (exit 2)."""
    from pipeline.errors import ConfigError
    from pipeline.rbac import RoleError, load_role

    if not role_file:
        return []
    try:
        load_role(role_file)
    except RoleError as err:
        raise ConfigError(f"--role / PIPELINE_LOCAL_ROLE: {err}; give a role definition such as "
                          f"deploy/azure-role.json") from None
    return ["--role", str(Path(role_file).resolve())]


def up(paths: LocalPaths = LocalPaths(), *, timeout_s: float = 60, role_file: str | Path | None = None) -> LocalCloud:
    """Start Azurite and the emulator (enforcing `role_file`, else PIPELINE_LOCAL_ROLE, when set)."""
    role_args = role_argv(role_file or os.environ.get("PIPELINE_LOCAL_ROLE"))
    paths.root.mkdir(parents=True, exist_ok=True)
    azurite = start_azurite(port=paths.blob_port, location=paths.root / "azurite")
    pid_file = paths.root / EMULATOR_PID
    if _alive(_pid(pid_file)) and _emulator_answers(paths.cloud_file):
        log.info("the local cloud already runs (pid %s)", _pid(pid_file))
        if role_args:
            log.warning("the local cloud already runs: its role is unchanged; `invoke local.down` first to "
                        "start it enforcing %s", role_args[1])
        return read_cloud_file(paths.cloud_file)
    env = {**os.environ, "EMULATOR_BLOB_CONNECTION_STRING": azurite.connection_string}
    argv = [sys.executable, "-m", "pipeline.emulator", "--state-dir", str(paths.state_dir),
            "--cloud-file", str(paths.cloud_file), "--port", str(paths.arm_port),
            "--loopback-block", str(paths.loopback_block), *role_args]
    paths.cloud_file.unlink(missing_ok=True)
    with (paths.root / EMULATOR_LOG).open("ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    pid_file.write_text(f"{proc.pid}\n")

    def answers() -> bool:
        if proc.poll() is not None:
            raise PipelineError(f"the local ARM emulator exited at start (code {proc.returncode}); see "
                                f"{paths.root / EMULATOR_LOG} (is port {paths.arm_port} taken? set "
                                f"PIPELINE_LOCAL_ARM_PORT)")
        return paths.cloud_file.exists() and _emulator_answers(paths.cloud_file)

    try:
        retry.until_true(timeout_s=timeout_s, interval_s=0.2)(answers)
    except RetryError:
        raise PipelineError(f"the local ARM emulator did not answer within {timeout_s:.0f}s; see "
                            f"{paths.root / EMULATOR_LOG}") from None
    info = json.loads(paths.cloud_file.read_text())
    info.setdefault("processes", {})["azurite"] = azurite.pid
    tmp = paths.cloud_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2))
    tmp.chmod(0o600)
    os.replace(tmp, paths.cloud_file)
    return read_cloud_file(paths.cloud_file)


def down(paths: LocalPaths = LocalPaths(), *, timeout_s: float = 20) -> list[str]:
    """Stop the emulator (which stops every instance process) and Azurite. Returns what was stopped."""
    stopped = []
    pid_file = paths.root / EMULATOR_PID
    pid = _pid(pid_file)
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(RetryError):   # still alive after timeout_s: killed below
            retry.until_true(timeout_s=timeout_s, interval_s=0.1)(lambda: not _alive(pid))
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        stopped.append(f"emulator (pid {pid})")
    pid_file.unlink(missing_ok=True)
    if stop_azurite(paths.root / "azurite"):
        stopped.append("azurite")
    return stopped

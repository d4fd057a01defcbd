"""Run Azurite (blob only) as a background process for the local cloud and the tests.

    az = start_azurite(port=10000, location=Path(".pipeline/local/azurite"))
    az.connection_string          # for BlobServiceClient.from_connection_string
    stop_azurite(az.location)     # or stop_azurite_pid(az.pid)

`start_azurite` is idempotent: when Azurite already answers on host:port it is reused (its pid read from
the pid file in `location`). Output goes to `location/azurite.log`; the pid to `location/azurite.pid`.
Azurite is started with `--skipApiVersionCheck` (azure-storage-blob 12.31.1 sends a newer API version than
Azurite 3.35.0 knows) and `--disableTelemetry` (otherwise it calls an outside host).
"""

from __future__ import annotations

import http.client
import logging
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import tenacity

from pipeline import retry
from pipeline.errors import ConfigError, PipelineError

log = logging.getLogger(__name__)

__all__ = [
    "ACCOUNT_KEY",
    "ACCOUNT_NAME",
    "Azurite",
    "azurite_answers",
    "find_azurite_binary",
    "start_azurite",
    "stop_azurite",
    "stop_azurite_pid",
]

# Azurite's well-known development account (public, documented by Microsoft; not a secret).
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

PID_FILE = "azurite.pid"
LOG_FILE = "azurite.log"
_REPO_ROOT = Path(__file__).resolve().parents[2]
_BINARY_IN_REPO = Path(".pipeline/tools/azurite/node_modules/.bin/azurite-blob")

# Popen objects of Azurite processes this process started, so stopping them also reaps them.
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Azurite:
    host: str
    port: int
    location: Path
    pid: int | None  # None when reused and no pid file was found

    @property
    def blob_endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/{ACCOUNT_NAME}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    @property
    def log_file(self) -> Path:
        return self.location / LOG_FILE


def find_azurite_binary(root: Path = _REPO_ROOT) -> Path:
    """`.pipeline/tools/azurite/node_modules/.bin/azurite-blob` under `root`, else `azurite-blob` on PATH."""
    local = root / _BINARY_IN_REPO
    if local.exists():
        return local
    found = shutil.which("azurite-blob")
    if found:
        return Path(found)
    raise ConfigError(f"azurite-blob not found at {local} or on PATH; run scripts/bootstrap to install it")


def azurite_answers(host: str, port: int, *, timeout: float = 1.0) -> bool:
    """True when an HTTP server on host:port identifies itself as Azurite blob."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", f"/{ACCOUNT_NAME}?comp=list")
        response = conn.getresponse()
        response.read()
        return response.getheader("Server", "").startswith("Azurite-Blob")
    except OSError:
        return False
    finally:
        conn.close()


def start_azurite(
    *,
    port: int,
    location: Path,
    host: str = "127.0.0.1",
    binary: Path | None = None,
    ready_timeout: float = 30.0,
) -> Azurite:
    """Start Azurite blob in the background (or reuse the one on host:port) and wait until it answers."""
    location = Path(location).absolute()
    location.mkdir(parents=True, exist_ok=True)
    pid_file = location / PID_FILE
    if azurite_answers(host, port):
        pid = _read_pid(pid_file)
        log.info("Azurite already answers on %s:%d (pid %s); reusing it", host, port, pid or "unknown")
        return Azurite(host=host, port=port, location=location, pid=pid)

    binary = binary or find_azurite_binary()
    argv = [
        str(binary),
        "--blobHost", host,
        "--blobPort", str(port),
        "--disableTelemetry",
        "--skipApiVersionCheck",
        "--location", str(location),
        "--silent",
    ]  # fmt: skip
    log.info("starting Azurite on %s:%d (data and log in %s)", host, port, location)
    with (location / LOG_FILE).open("ab") as out:
        # A new session: Ctrl-C in the terminal that ran `local.up` does not stop the local cloud.
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    _children[proc.pid] = proc
    pid_file.write_text(f"{proc.pid}\n")
    try:
        _wait_until_ready(host, port, proc, log_file=location / LOG_FILE, timeout=ready_timeout)
    except BaseException:
        stop_azurite_pid(proc.pid)
        pid_file.unlink(missing_ok=True)
        raise
    return Azurite(host=host, port=port, location=location, pid=proc.pid)


def stop_azurite(location: Path, *, timeout: float = 10.0) -> bool:
    """Stop the Azurite whose pid file is in `location`. False when none was running (a no-op)."""
    pid_file = Path(location) / PID_FILE
    pid = _read_pid(pid_file)
    if pid and not _is_azurite(pid):
        log.info("pid %d from %s is no longer Azurite; removing the stale pid file", pid, pid_file)
        pid = None
    stopped = stop_azurite_pid(pid, timeout=timeout) if pid else False
    pid_file.unlink(missing_ok=True)
    return stopped


def stop_azurite_pid(pid: int, *, timeout: float = 10.0) -> bool:
    """SIGTERM `pid`, then SIGKILL if it is still there after `timeout`. False when it was already gone."""
    if not _alive(pid):
        _children.pop(pid, None)
        return False
    log.info("stopping Azurite (pid %d)", pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        if _wait_gone(pid, timeout=timeout):
            break
    _children.pop(pid, None)
    return True


class _NotReady(Exception):
    pass


def _wait_until_ready(host: str, port: int, proc: subprocess.Popen[bytes], *, log_file: Path, timeout: float) -> None:
    def probe() -> bool:
        if proc.poll() is not None:
            raise PipelineError(
                f"Azurite exited with code {proc.returncode} while starting on {host}:{port}; see {log_file}"
            )
        return azurite_answers(host, port)

    try:
        retry.until_true(timeout_s=timeout, interval_s=0.1)(probe)
    except tenacity.RetryError:
        raise PipelineError(
            f"Azurite did not answer on {host}:{port} within {timeout:.0f} s; is the port taken? see {log_file}"
        ) from None


def _wait_gone(pid: int, *, timeout: float) -> bool:
    child = _children.get(pid)
    if child is not None:
        try:
            child.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        retry.until_true(timeout_s=timeout, interval_s=0.1)(lambda: not _alive(pid))
    except tenacity.RetryError:
        return False
    return True


def _alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_azurite(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False
    except OSError:
        return True  # no /proc (macOS): trust the pid file
    return b"azurite" in cmdline


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None

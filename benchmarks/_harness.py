"""What the benchmarks share: a throwaway local cloud (Azurite + ARM emulator in-process), SDK clients, timing."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import urllib.request
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cloud:
    """A local cloud in its own processes (as `invoke local.up` runs it), and clients for it."""

    arm: object               # real SDK clients (tests.fixtures.localcloud.Arm)
    info: dict                # the connection file
    root: Path

    def control(self, method: str, path: str, body: dict | None = None) -> dict | None:
        context = ssl.create_default_context(cafile=self.info["ca_file"])
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.info["control_endpoint"] + path, data=data, method=method,
                                         headers={"Authorization": f"Bearer {self.info['token']}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=context) as reply:
            payload = reply.read()
            return json.loads(payload) if payload else None


@contextlib.contextmanager
def local_cloud() -> Iterator[Cloud]:
    """A throwaway local cloud (Azurite + the ARM emulator as separate processes); stopped afterwards."""
    from pipeline.local import cloud as local
    from tests.fixtures.localcloud import Arm, StaticToken

    root = Path(tempfile.mkdtemp(prefix="bench-"))
    paths = local.LocalPaths(root=root, arm_port=free_port(), blob_port=free_port(), loopback_block=60)
    try:
        local.up(paths)
        info = json.loads(paths.cloud_file.read_text())
        yield Cloud(arm=clients(info), info=info, root=root)
    finally:
        local.down(paths)


def clients(info: dict):
    from azure.mgmt.compute import ComputeManagementClient
    from azure.mgmt.network import NetworkManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient

    from tests.fixtures.localcloud import Arm, StaticToken

    credential = StaticToken(info["token"])
    common = dict(base_url=info["arm_endpoint"], credential_scopes=["https://management.azure.com/.default"],
                  connection_verify=info["ca_file"], polling_interval=0.05)
    sub = info["subscription_id"]
    return Arm(compute=ComputeManagementClient(credential, sub, **common),
               network=NetworkManagementClient(credential, sub, **common),
               resources=ResourceManagementClient(credential, sub, **common), subscription_id=sub,
               endpoint=info["arm_endpoint"], ca_file=info["ca_file"], token=info["token"])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")

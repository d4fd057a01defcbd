"""The local cloud's connection file: how the pipeline finds the running emulator and Azurite.

`invoke local.up` (the emulator side) writes it; every pipeline step running against `local` reads it.
It holds a bearer token, so it is written atomically with mode 0600. Default path:
`.pipeline/local/cloud.json` (Settings.local_cloud_file; env `PIPELINE_LOCAL_CLOUD` overrides).

Schema, version 1 (plain JSON, every key required unless marked optional):

    {
      "version": 1,
      "arm_endpoint": "https://127.0.0.1:PORT",           ARM emulator base URL (HTTPS: azure-core refuses
                                                          to send a bearer token over http)
      "ca_file": "/abs/path/ca.pem",                      CA that signed the emulator's certificate
      "subscription_id": "<guid>",
      "tenant_id": "<guid>",
      "token": "<bearer token the emulator accepts>",
      "blob_endpoint": "http://127.0.0.1:PORT/devstoreaccount1",
      "storage_account": "devstoreaccount1",
      "blob_connection_string": "DefaultEndpointsProtocol=http;AccountName=...;AccountKey=...;BlobEndpoint=...;",
      "control_endpoint": "https://127.0.0.1:PORT/_emulator",   test/operator control routes
      "frontends": {"<lb>/<rule>": "127.x.y.z:port"},          optional, default {}: where each LB rule listens
      "state_dir": "/abs/path",                           emulator + Azurite state
      "processes": {"emulator": 1234, "azurite": 1235}    optional, default {}: pids, for `local.down`
    }

Unknown keys are kept out of the dataclass but do not fail the read (a newer writer may add some).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, ResourceMissing

__all__ = ["SCHEMA_VERSION", "LocalCloud", "read_cloud_file", "write_cloud_file"]

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class LocalCloud:
    arm_endpoint: str
    ca_file: str
    subscription_id: str
    tenant_id: str
    token: str = field(repr=False)
    blob_endpoint: str
    storage_account: str
    blob_connection_string: str = field(repr=False)
    control_endpoint: str
    state_dir: str
    frontends: Mapping[str, str] = field(default_factory=dict)
    processes: Mapping[str, int] = field(default_factory=dict)
    version: int = SCHEMA_VERSION

    @property
    def blob_account_key(self) -> str | None:
        """The AccountKey from the connection string (Azurite's well-known key), or None."""
        for part in self.blob_connection_string.split(";"):
            name, _, value = part.partition("=")
            if name.strip().lower() == "accountkey":
                return value.strip()
        return None

    def frontend(self, load_balancer: str, rule: str) -> str:
        """'host:port' where the local load balancer serves `rule`. Raises ResourceMissing."""
        try:
            return self.frontends[f"{load_balancer}/{rule}"]
        except KeyError:
            raise ResourceMissing(
                f"the local cloud has no frontend for {load_balancer}/{rule}; "
                "create the load balancer first (`invoke infra.up`) or re-run `invoke local.up`"
            ) from None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["frontends"] = dict(self.frontends)
        data["processes"] = dict(self.processes)
        return data


_REQUIRED_STR = (
    "arm_endpoint",
    "ca_file",
    "subscription_id",
    "tenant_id",
    "token",
    "blob_endpoint",
    "storage_account",
    "blob_connection_string",
    "control_endpoint",
    "state_dir",
)


def read_cloud_file(path: Path) -> LocalCloud:
    """Parse the connection file. Missing -> ResourceMissing; malformed -> ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResourceMissing(f"{path}: the local cloud is not running (no connection file); run `invoke local.up` first") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not valid JSON ({err.msg} at line {err.lineno}); run `invoke local.up` again") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must hold a JSON object; run `invoke local.up` again")
    version = data.get("version")
    if version != SCHEMA_VERSION:
        raise ConfigError(
            f"{path}: version is {version!r}, this pipeline reads version {SCHEMA_VERSION}; "
            "run `invoke local.down` then `invoke local.up`"
        )
    for key in _REQUIRED_STR:
        if not isinstance(data.get(key), str) or not data[key]:
            raise ConfigError(f"{path}: {key} is missing or not a string; run `invoke local.up` again")
    frontends = data.get("frontends", {})
    if not isinstance(frontends, dict) or not all(isinstance(v, str) for v in frontends.values()):
        raise ConfigError(f"{path}: frontends must map 'lb/rule' to 'host:port'; run `invoke local.up` again")
    processes = data.get("processes", {})
    if not isinstance(processes, dict) or not all(isinstance(v, int) and not isinstance(v, bool) for v in processes.values()):
        raise ConfigError(f"{path}: processes must map names to pids; run `invoke local.up` again")
    return LocalCloud(
        **{key: data[key] for key in _REQUIRED_STR},
        frontends=dict(frontends),
        processes=dict(processes),
        version=version,
    )


def write_cloud_file(path: Path, cloud: LocalCloud) -> None:
    """Write atomically (temp file + rename in the same directory) with mode 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(cloud.to_json(), f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

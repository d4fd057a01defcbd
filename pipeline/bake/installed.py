"""Which Packer is installed, and its azure plugin (for `invoke doctor`; read-only, a few seconds at most).

    packer_facts()  -> PackerFacts(version="1.11.2", azure_plugin="2.1.7")

`packer version` prints "Packer v1.11.2" (first line). From Packer 1.8 `packer plugins installed` lists the
plugin binaries, e.g. ".../github.com/hashicorp/azure/packer-plugin-azure_v2.1.7_x5.0_linux_amd64"; older
Packers have no `plugins` command (and up to 1.9 carry the azure-arm builder themselves).
"""

from __future__ import annotations

import re
import subprocess

from pipeline.doctor.facts import PackerFacts

TIMEOUT_S = 30
_VERSION = re.compile(r"Packer v(\d+\.\d+\.\d+\S*)")
_AZURE_PLUGIN = re.compile(r"github\.com/hashicorp/azure/packer-plugin-azure_v(\d+\.\d+\.\d+)")


def _run(packer: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([packer, *args], capture_output=True, text=True, timeout=TIMEOUT_S,
                          env={"CHECKPOINT_DISABLE": "1", **_path_env()})


def _path_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "PACKER_PLUGIN_PATH", "PACKER_CONFIG_DIR")}


def parse_version(text: str) -> str | None:
    found = _VERSION.search(text)
    return found.group(1) if found else None


def parse_azure_plugin(text: str) -> str | None:
    versions = _AZURE_PLUGIN.findall(text)
    return max(versions, key=lambda v: tuple(int(x) for x in v.split("."))) if versions else None


def packer_facts(packer: str = "packer") -> PackerFacts:
    try:
        done = _run(packer, "version")
    except FileNotFoundError:
        return PackerFacts(None, error=f"{packer} is not on PATH")
    except (OSError, subprocess.TimeoutExpired) as err:
        return PackerFacts(None, error=f"`{packer} version` failed: {type(err).__name__}")
    version = parse_version(done.stdout)
    if version is None:
        return PackerFacts(None, error=f"`{packer} version` printed no version (exit {done.returncode})")
    try:
        plugins = _run(packer, "plugins", "installed")
    except (OSError, subprocess.TimeoutExpired):
        return PackerFacts(version)
    return PackerFacts(version, parse_azure_plugin(plugins.stdout) if plugins.returncode == 0 else None)

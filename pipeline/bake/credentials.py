"""Which credential Packer's azure plugin will use, read from the environment the CI gives the bake (pure).

packer/azure/auth.pkr.hcl picks the mode in HCL; `packer_auth` mirrors that choice so the bake can say which one
it is and refuse, in one line and before Packer starts a build VM, a mode that lacks what it needs. The tests run
Packer itself on auth.pkr.hcl for each mode and check it agrees with this module.

    oidc           GitHub Actions: ACTIONS_ID_TOKEN_REQUEST_URL + ACTIONS_ID_TOKEN_REQUEST_TOKEN, ARM_CLIENT_ID
    federated-jwt  Jenkins/AKS workload identity: AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID (or ARM_CLIENT_ID)
    client-secret  ARM_CLIENT_ID + ARM_CLIENT_SECRET
    azure-cli      none of these: the `az login` session of the machine

No value is ever returned or logged, only names and the mode; the token file's content is read only so that
the bake can redact it from Packer's output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigError

OIDC, FEDERATED_JWT, CLIENT_SECRET, AZURE_CLI = "oidc", "federated-jwt", "client-secret", "azure-cli"
DESCRIPTIONS = {
    OIDC: "GitHub Actions OIDC (the plugin fetches fresh ID tokens itself)",
    FEDERATED_JWT: "workload identity (client_jwt from AZURE_FEDERATED_TOKEN_FILE)",
    CLIENT_SECRET: "a service principal secret (ARM_CLIENT_SECRET)",
    AZURE_CLI: "the Azure CLI login",
}


@dataclass(frozen=True)
class PackerAuth:
    mode: str
    client_id_from: str | None  # the variable that names the client, None for the CLI

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.mode]


def packer_auth(environ: Mapping[str, str]) -> PackerAuth:
    """The mode auth.pkr.hcl will pick, or ConfigError naming the missing variable."""
    def has(name: str) -> bool:
        return bool(environ.get(name, ""))

    if has("ACTIONS_ID_TOKEN_REQUEST_TOKEN") and has("ACTIONS_ID_TOKEN_REQUEST_URL"):
        mode = OIDC
    elif has("AZURE_FEDERATED_TOKEN_FILE"):
        mode = FEDERATED_JWT
    elif has("ARM_CLIENT_SECRET"):
        mode = CLIENT_SECRET
    else:
        return PackerAuth(AZURE_CLI, None)
    client = next((name for name in ("ARM_CLIENT_ID", "AZURE_CLIENT_ID") if has(name)), None)
    if client is None:
        hint = {OIDC: "vars.AZURE_CLIENT_ID in the workflow's bake step",
                FEDERATED_JWT: "the service account's azure.workload.identity/client-id annotation",
                CLIENT_SECRET: "the service principal's application id"}[mode]
        raise ConfigError(f"Packer would use {DESCRIPTIONS[mode]} but ARM_CLIENT_ID is not set; set it from {hint}")
    if mode == FEDERATED_JWT:
        path = Path(environ["AZURE_FEDERATED_TOKEN_FILE"])
        if not path.is_file():
            raise ConfigError(f"AZURE_FEDERATED_TOKEN_FILE names {path}, which is not a file; check the agent's "
                              "workload identity (the token volume is mounted by the AKS webhook)")
    return PackerAuth(mode, client)


def secret_values(auth: PackerAuth, environ: Mapping[str, str]) -> tuple[str, ...]:
    """Values to redact from Packer's output for this mode (they reach Packer only through the environment)."""
    names = {OIDC: ("ACTIONS_ID_TOKEN_REQUEST_TOKEN",), CLIENT_SECRET: ("ARM_CLIENT_SECRET",)}.get(auth.mode, ())
    values = [environ[name] for name in names if environ.get(name)]
    if auth.mode == FEDERATED_JWT:
        try:
            values.append(Path(environ["AZURE_FEDERATED_TOKEN_FILE"]).read_text(encoding="utf-8").strip())
        except OSError:
            pass
    return tuple(value for value in values if value)

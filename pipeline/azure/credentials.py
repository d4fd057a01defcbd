"""Credentials: the local cloud's fixed bearer token, or DefaultAzureCredential for Azure.

Both are azure-core TokenCredentials, so every SDK client takes either unchanged.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from azure.core.credentials import AccessToken, AccessTokenInfo

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from pipeline.config import Settings
    from pipeline.local.cloudfile import LocalCloud

__all__ = ["LocalCloudCredential", "build_credential"]

# The emulator's token does not expire while the local cloud runs; report an hour so that azure-core's
# BearerTokenCredentialPolicy caches it and asks again now and then (cheap: no I/O).
_TOKEN_LIFETIME_S = 3600


class LocalCloudCredential:
    """A TokenCredential that returns the local cloud's bearer token for any scope."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("the local cloud token is empty; run `invoke local.up` again")
        self._token = token

    def __repr__(self) -> str:  # never show the token
        return "LocalCloudCredential(token=***)"

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + _TOKEN_LIFETIME_S)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo(self._token, int(time.time()) + _TOKEN_LIFETIME_S)

    def close(self) -> None:
        pass

    def __enter__(self) -> LocalCloudCredential:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def build_credential(settings: Settings, cloud: LocalCloud | None = None) -> TokenCredential:
    """LocalCloudCredential for a local environment (needs `cloud`), else DefaultAzureCredential.

    DefaultAzureCredential tries environment variables (service principal), workload identity, managed
    identity, then the developer's Azure CLI / PowerShell / azd login; never an interactive browser.
    """
    if settings.is_local:
        if cloud is None:
            raise ValueError("a local environment needs the LocalCloud read from the cloud file")
        return LocalCloudCredential(cloud.token)
    from azure.identity import DefaultAzureCredential  # slow import; only Azure needs it

    return DefaultAzureCredential(exclude_interactive_browser_credential=True)

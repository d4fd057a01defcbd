"""THE one place Azure SDK clients are built, for Azure and for the local cloud alike.

    clients = Clients.for_settings(settings)    # local: reads the cloud file; Azure: DefaultAzureCredential
    clients.compute.virtual_machine_scale_sets.get(settings.resource_group, name)
    clients.blob.get_container_client(settings.storage.ledger_container)

Local and Azure differ only in endpoints and credentials: the local management clients use the emulator's
`arm_endpoint` as `base_url`, trust its CA (`connection_verify=ca_file`), ask for the ARM scope with the
local token, and poll long-running operations every 0.1 s instead of 30 s when the emulator's Retry-After is
0 (its simulated delays are sub-second; azure-core reads a 0 as "none" and uses this interval). Blob uses the local Azurite connection string. SDK modules are imported on first use (slow).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from pipeline.azure.credentials import build_credential
from pipeline.local.cloudfile import LocalCloud, read_cloud_file

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.mgmt.authorization import AuthorizationManagementClient
    from azure.mgmt.compute import ComputeManagementClient
    from azure.mgmt.network import NetworkManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient
    from azure.mgmt.resource.subscriptions import SubscriptionClient
    from azure.storage.blob import BlobServiceClient

    from pipeline.config import Settings

__all__ = ["ARM_SCOPE", "LOCAL_POLLING_INTERVAL_S", "Clients"]

ARM_SCOPE = "https://management.azure.com/.default"
LOCAL_POLLING_INTERVAL_S = 0.1


class Clients:
    """Lazily built SDK clients for one environment. Build one per process; `close()` when done."""

    def __init__(
        self,
        settings: Settings,
        *,
        cloud: LocalCloud | None = None,
        credential: TokenCredential | None = None,
    ) -> None:
        if settings.is_local and cloud is None:
            raise ValueError("a local environment needs `cloud` (use Clients.for_settings)")
        self.settings = settings
        self.cloud = cloud
        self.credential = credential or build_credential(settings, cloud)

    @classmethod
    def for_settings(cls, settings: Settings) -> Clients:
        """Clients for `settings`; for local, reads the cloud file (ResourceMissing if it is not running)."""
        cloud = read_cloud_file(settings.local_cloud_file) if settings.is_local else None
        return cls(settings, cloud=cloud)

    @property
    def subscription_id(self) -> str:
        if self.cloud is not None:
            return self.cloud.subscription_id
        assert self.settings.subscription_id is not None  # validated by config for Azure environments
        return self.settings.subscription_id

    def mgmt_kwargs(self) -> dict[str, Any]:
        """Keyword arguments shared by the management clients (endpoint, TLS trust, scopes, polling)."""
        if self.cloud is None:
            return {}
        return {
            "base_url": self.cloud.arm_endpoint,
            "connection_verify": self.cloud.ca_file,
            "credential_scopes": [ARM_SCOPE],
            "polling_interval": LOCAL_POLLING_INTERVAL_S,
        }

    @cached_property
    def compute(self) -> ComputeManagementClient:
        from azure.mgmt.compute import ComputeManagementClient

        return ComputeManagementClient(self.credential, self.subscription_id, **self.mgmt_kwargs())

    @cached_property
    def network(self) -> NetworkManagementClient:
        from azure.mgmt.network import NetworkManagementClient

        return NetworkManagementClient(self.credential, self.subscription_id, **self.mgmt_kwargs())

    @cached_property
    def resources(self) -> ResourceManagementClient:
        from azure.mgmt.resource.resources import ResourceManagementClient

        return ResourceManagementClient(self.credential, self.subscription_id, **self.mgmt_kwargs())

    @cached_property
    def subscriptions(self) -> SubscriptionClient:
        """Subscription reads (not bound to one subscription: `subscriptions.get(id)`)."""
        from azure.mgmt.resource.subscriptions import SubscriptionClient

        return SubscriptionClient(self.credential, **self.mgmt_kwargs())

    @cached_property
    def authorization(self) -> AuthorizationManagementClient:
        """The caller's effective permissions (`permissions.list_for_resource_group`)."""
        from azure.mgmt.authorization import AuthorizationManagementClient

        return AuthorizationManagementClient(self.credential, self.subscription_id, **self.mgmt_kwargs())

    @cached_property
    def blob(self) -> BlobServiceClient:
        from azure.storage.blob import BlobServiceClient

        if self.cloud is not None:
            # Azurite: shared-key auth from its connection string (so SAS tokens are account-key SAS).
            return BlobServiceClient.from_connection_string(self.cloud.blob_connection_string)
        account = self.settings.storage.account
        return BlobServiceClient(account_url=f"https://{account}.blob.core.windows.net", credential=self.credential)

    def close(self) -> None:
        """Close the clients that were built (their HTTP sessions)."""
        for name in ("compute", "network", "resources", "subscriptions", "authorization", "blob"):
            client = self.__dict__.pop(name, None)
            if client is not None:
                client.close()
        close = getattr(self.credential, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Clients:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

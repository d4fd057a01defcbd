"""The emulator's own settings: where it listens, where it keeps state, and how fast simulated time runs."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-00000000c10d"
DEFAULT_TENANT = "00000000-0000-0000-0000-0000000000aa"
DEFAULT_PRINCIPAL = "00000000-0000-0000-0000-0000000000b1"   # the object id every caller has (one identity)


@dataclass(frozen=True)
class EmulatorOptions:
    state_dir: Path = Path(".pipeline/local/state")
    host: str = "127.0.0.1"
    port: int = 8443                     # 0: pick a free port
    subscription_id: str = DEFAULT_SUBSCRIPTION
    tenant_id: str = DEFAULT_TENANT
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    # Loopback plan: public IPs get 127.<block>.0.<n>, instances 127.<block+1>.<x>.<y>.
    loopback_block: int = 20
    # Simulated time. Azure's network writes take seconds and VMs minutes; locally they are short.
    provisioning_seconds: float = 0.2    # a network/compute resource write before it reads Succeeded
    vm_create_seconds: float = 0.0       # extra delay per instance before its process starts
    poll_ms: int = 100                   # poll delay the LRO replies advertise
    probe_time_scale: float = 0.2        # probe interval multiplier (Azure's minimum 5 s becomes 1 s)
    nsg_drop_seconds: float = 20.0       # a flow an NSG refuses: held unanswered this long, then reset
    page_size: int = 100                 # items per page of every List reply (then nextLink); small in tests
    update_domains: int = 5
    fault_domains: int = 5
    # Where images are read from: Azurite (or any blob endpoint) the image VHD URIs point at.
    blob_connection_string: str | None = field(default=None, repr=False)
    seed: int | None = None
    # RBAC: a role definition file (`az role definition create` JSON) to enforce; None = every action allowed.
    role_file: Path | None = None
    principal_id: str = DEFAULT_PRINCIPAL

    @property
    def tls_dir(self) -> Path:
        return self.state_dir / "tls"

    def with_env(self, environ: dict[str, str] = os.environ) -> "EmulatorOptions":
        """Secrets come from the environment, never the command line."""
        return replace(
            self,
            token=environ.get("EMULATOR_TOKEN") or self.token,
            blob_connection_string=environ.get("EMULATOR_BLOB_CONNECTION_STRING") or self.blob_connection_string,
        )

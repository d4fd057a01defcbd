"""What `invoke doctor` reads, as plain frozen values (no SDK types): the Azure reader (pipeline/azure/doctor.py)
and the Packer reader fill them in, pipeline/doctor/checks.py decides from them alone.

A read that failed is a `ReadError` in place of its value, so a check can tell "Azure said 403" (not
checked: WARN) from "Azure said 404" (missing: FAIL) from "the credential was refused" (FAIL).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar, Union

T = TypeVar("T")


@dataclass(frozen=True)
class ReadError:
    what: str                       # "reading the resource SKUs of westeurope"
    status: int | None = None       # HTTP status, None when Azure could not be reached
    code: str = ""                  # Azure's error code
    message: str = ""

    @property
    def forbidden(self) -> bool:
        return self.status == 403

    @property
    def missing(self) -> bool:
        return self.status == 404

    def describe(self) -> str:
        said = f"{self.status} {self.code}".strip() if self.status else "no answer"
        return f"{self.what}: {said}" + (f" ({self.message})" if self.message else "")


Read = Union[T, ReadError]


@dataclass(frozen=True)
class SubscriptionFacts:
    subscription_id: str
    display_name: str
    state: str                      # Enabled | Warned | PastDue | Disabled | Deleted


@dataclass(frozen=True)
class PermissionFacts:
    """One entry of the permissions API: what the caller's role assignments grant at the scope."""
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class SkuFacts:
    name: str
    family: str
    vcpus: int | None
    locations: tuple[str, ...]
    restrictions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (reasonCode, type, values)
    generations: tuple[str, ...] = ()                                # HyperVGenerations: ("V1", "V2")
    trusted_launch_disabled: bool = False


@dataclass(frozen=True)
class UsageFacts:
    name: str                       # "cores", "standardBSFamily", ...
    localized: str
    current: int
    limit: int


@dataclass(frozen=True)
class FleetUse:
    """One of the pipeline's own scale sets in the region: it already counts in the usages."""
    name: str
    vm_size: str
    capacity: int


@dataclass(frozen=True)
class NsgRuleFacts:
    name: str
    priority: int
    direction: str                  # Inbound | Outbound
    access: str                     # Allow | Deny
    protocol: str                   # Tcp | Udp | Icmp | * ...
    sources: tuple[str, ...]        # sourceAddressPrefix(es)
    ports: tuple[str, ...]          # destinationPortRange(s): "*", "8080", "50000-50099"


@dataclass(frozen=True)
class NsgFacts:
    name: str
    rules: tuple[NsgRuleFacts, ...]  # securityRules and defaultSecurityRules together


@dataclass(frozen=True)
class ImageDefinitionFacts:
    name: str
    hyper_v_generation: str         # V1 | V2
    security_type: str | None       # the SecurityType feature, None when the definition has none


@dataclass(frozen=True)
class ImageVersionFacts:
    name: str
    target_regions: tuple[str, ...]


@dataclass(frozen=True)
class GalleryFacts:
    name: str
    location: str
    versions: tuple[ImageVersionFacts, ...]


@dataclass(frozen=True)
class PackerFacts:
    version: str | None             # "1.11.2"; None when Packer is not on PATH
    azure_plugin: str | None = None  # "2.1.7" when `packer plugins installed` lists github.com/hashicorp/azure
    error: str = ""


@dataclass(frozen=True)
class RuleFacts:
    frontend_port: int | None
    backend_port: int | None
    pool: str | None                # the backend pool's name
    probe: str | None


@dataclass(frozen=True)
class NatFacts:
    frontend_port_start: int | None
    frontend_port_end: int | None
    backend_port: int | None
    pool: str | None = None         # NAT rules V2 name a backend pool; NAT pools do not


@dataclass(frozen=True)
class LoadBalancerFacts:
    name: str
    sku: str
    pools: frozenset[str]
    rules: dict[str, RuleFacts]
    probes: dict[str, tuple[str, int | None, str | None]]   # name -> (protocol, port, requestPath)
    nat_pools: dict[str, NatFacts] = field(default_factory=dict)
    nat_rules: dict[str, NatFacts] = field(default_factory=dict)   # V2 rules (with a backend pool)


@dataclass(frozen=True)
class Facts:
    """Everything doctor read. A field is the value, a ReadError, or None when not read (an earlier read
    failed so that this one could not be made, e.g. no credential)."""
    credential: ReadError | None = None
    subscription: Read[SubscriptionFacts] | None = None
    providers: Read[dict[str, str]] | None = None             # namespace -> registrationState
    permissions: Read[tuple[PermissionFacts, ...]] | None = None
    skus: Read[tuple[SkuFacts, ...]] | None = None             # the region's virtualMachines SKUs
    usages: Read[tuple[UsageFacts, ...]] | None = None
    fleets: Read[tuple[FleetUse, ...]] | None = None
    nsgs: Read[tuple[NsgFacts, ...]] | None = None              # on the subnet (first), then the NIC config
    image_definition: Read[ImageDefinitionFacts] | None = None
    gallery: Read[GalleryFacts] | None = None
    containers: dict[str, Read[bool]] = field(default_factory=dict)  # name -> exists
    packer: PackerFacts | None = None
    load_balancer: Read[LoadBalancerFacts] | None = None

"""The typed seams between the emulator's services: what compute asks of the network and what the network asks
of compute. As moto's backends hold each other, each backend holds the other through one of these Protocols
(`ComputeBackend.network`, `NetworkBackend.compute`, wired by cloud.py), so a renamed method fails loudly
(tests/emulator/test_seams.py) instead of being skipped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..runtime.members import Member


@runtime_checkable
class ComputeForNetwork(Protocol):
    """Compute, as the network reads it: which instances are members of a pool, and who uses a resource."""

    def pool_members(self, pool_id: str) -> list[Member]:
        """Every instance whose applied model puts an ip configuration in this backend pool (stable order)."""

    def nat_members(self, nat_pool_id: str) -> list[Member]:
        """Every instance whose applied model joins this inbound NAT pool."""

    def scale_sets_using(self, resource_id: str) -> list[str]:
        """Scale-set ids whose model references the resource (id prefix match, case-insensitive)."""

    def nics_with_nsg(self, nsg_id: str) -> list[str]:
        """NIC ids of the instances whose applied model puts this network security group on a NIC."""


@runtime_checkable
class NetworkForCompute(Protocol):
    """The network, as compute calls it: references a scale-set write must resolve, NAT port capacity, and the
    news that instances joined, left, started or stopped."""

    def require_subnet(self, subnet_id: str, *, referenced_by: str | None = None) -> None: ...

    def require_backend_pool(self, pool_id: str, *, referenced_by: str | None = None) -> None: ...

    def require_nat_pool(self, nat_pool_id: str, *, referenced_by: str | None = None) -> None: ...

    def require_nsg(self, nsg_id: str, *, referenced_by: str | None = None) -> None: ...

    def check_nat_capacity(self, *, nat_pool_ids: list[str], pool_ids: list[str], highest_instance: int,
                           members_after: dict[str, int]) -> None: ...

    def pool_members(self, pool_id: str) -> list[Member]: ...

    def membership_changed(self) -> None: ...

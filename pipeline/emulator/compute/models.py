"""Compute state and behaviour (skeleton: filled in by the compute service)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..cloud import Cloud


class ComputeBackend:
    def __init__(self, cloud: "Cloud"):
        self.cloud = cloud

    def dump(self) -> dict:
        return {}

    def load(self, data: dict) -> None:
        pass

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def delete_group(self, subscription: str, resource_group: str) -> None:
        pass

    def describe_instances(self) -> list[dict]:
        return []

    async def kill_instance(self, resource_group: str, vm_scale_set: str, instance_id: str) -> None:
        pass

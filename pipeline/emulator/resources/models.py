"""Resource groups: state and behaviour."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from ..core.errors import InvalidParameter, ResourceGroupNotFound
from ..core.ids import key

if TYPE_CHECKING:
    from ..cloud import Cloud


@dataclass
class ResourceGroup:
    subscription: str
    name: str
    location: str
    tags: dict = field(default_factory=dict)
    provisioning_state: str = "Succeeded"

    @property
    def id(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.name}"

    def render(self) -> dict:
        return {"id": self.id, "name": self.name, "type": "Microsoft.Resources/resourceGroups",
                "location": self.location, "tags": self.tags,
                "properties": {"provisioningState": self.provisioning_state}}


class ResourceGroupsBackend:
    def __init__(self, cloud: "Cloud"):
        self.cloud = cloud
        self.groups: dict[str, ResourceGroup] = {}

    def get(self, subscription: str, name: str) -> ResourceGroup:
        group = self.groups.get(key(name))
        if group is None:
            raise ResourceGroupNotFound(f"Resource group '{name}' could not be found.")
        return group

    require = get

    def create_or_update(self, subscription: str, name: str, body: dict) -> tuple[ResourceGroup, bool]:
        location = body.get("location")
        if not location or not isinstance(location, str):
            raise InvalidParameter("The 'location' property is required for resource group creation.",
                                   code="LocationRequired")
        tags = body.get("tags") or {}
        existing = self.groups.get(key(name))
        if existing:
            if key(existing.location) != key(location):
                raise InvalidParameter(
                    f"Invalid resource group location '{location}'. The Resource group already exists in "
                    f"location '{existing.location}'.", code="InvalidResourceGroupLocation", status=409)
            existing.tags = tags
            return existing, False
        group = ResourceGroup(subscription, name, location, tags)
        self.groups[key(name)] = group
        return group, True

    async def delete(self, subscription: str, name: str) -> None:
        await self.cloud.delete_group_contents(subscription, name)
        self.groups.pop(key(name), None)
        self.cloud.changed()

    def dump(self) -> list[dict]:
        return [asdict(g) for g in self.groups.values()]

    def load(self, data: list[dict]) -> None:
        self.groups = {key(g["name"]): ResourceGroup(**g) for g in data}

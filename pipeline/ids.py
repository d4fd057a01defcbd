"""Azure resource ids for the environment's resources, built in one place."""

from __future__ import annotations

from dataclasses import dataclass

from .config import Settings


@dataclass(frozen=True)
class Ids:
    subscription: str
    resource_group: str

    @classmethod
    def of(cls, settings: Settings, subscription: str) -> "Ids":
        return cls(subscription, settings.resource_group)

    @property
    def group(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"

    def provider(self, namespace: str, *parts: str) -> str:
        return f"{self.group}/providers/{namespace}/" + "/".join(parts)

    def public_ip(self, name: str) -> str:
        return self.provider("Microsoft.Network", "publicIPAddresses", name)

    def subnet(self, vnet: str, subnet: str) -> str:
        return self.provider("Microsoft.Network", "virtualNetworks", vnet, "subnets", subnet)

    def load_balancer(self, name: str) -> str:
        return self.provider("Microsoft.Network", "loadBalancers", name)

    def lb_child(self, lb: str, kind: str, name: str) -> str:
        return f"{self.load_balancer(lb)}/{kind}/{name}"

    def scale_set(self, name: str) -> str:
        return self.provider("Microsoft.Compute", "virtualMachineScaleSets", name)

    def gallery_image(self, gallery: str, definition: str) -> str:
        return self.provider("Microsoft.Compute", "galleries", gallery, "images", definition)

    def gallery_image_version(self, gallery: str, definition: str, version: str) -> str:
        return f"{self.gallery_image(gallery, definition)}/versions/{version}"

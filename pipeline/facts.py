"""What the release steps decide from, read once: value types only (pure: no Azure SDK, no I/O).

pipeline/steps/facts.py reads them (`read_facts(ctx)`) through pipeline/azure/, which converts SDK objects into
these types; the plans (pipeline/plans.py, pipeline/rollout.py) decide from them alone, so every decision can be
unit-tested without a cloud. The load balancer and scale sets are kept in their REST shape (JSON as Azure returns
it): pipeline/bluegreen.py and pipeline/fleet.py already decide on that shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from pipeline import bluegreen
from pipeline.config import Pools
from pipeline.errors import ResourceMissing, StateMismatch
from pipeline.ledger import Fleet, Ledger


@dataclass(frozen=True)
class Instance:
    """One scale-set instance with its instance view (pipeline/azure/compute.py reads it)."""

    instance_id: str
    name: str
    computer_name: str
    provisioning: str        # succeeded | creating | updating | failed | ...
    power: str               # running | stopped | deallocated | starting | unknown
    health: str              # healthy | unhealthy | unknown | initializing ("" without the health extension)
    latest_model: bool
    update_domain: int | None
    ip_configuration_id: str
    image_id: str = ""       # the imageReference of the model the instance runs (its applied model)

    @property
    def ready(self) -> bool:
        return self.provisioning == "succeeded" and self.power == "running" and self.health in ("healthy", "")

    def describe(self) -> str:
        return (f"instance {self.instance_id} ({self.computer_name}): provisioning {self.provisioning}, "
                f"power {self.power}, health {self.health or 'n/a'}")


@dataclass(frozen=True)
class BackendHealth:
    """One backend address as a load balancer rule's probe sees it (pipeline/azure/network.py reads it)."""

    address: str
    ip_configuration_id: str
    up: bool
    reason: str


@dataclass(frozen=True)
class ScaleSet:
    """A scale set as read (REST shape), with what the plans ask of it."""

    body: Mapping[str, Any]

    @property
    def name(self) -> str:
        return str(self.body.get("name") or "")

    @property
    def tags(self) -> Mapping[str, str]:
        return self.body.get("tags") or {}

    @property
    def capacity(self) -> int | None:
        return (self.body.get("sku") or {}).get("capacity")

    @property
    def upgrade_mode(self) -> str:
        return str(((self.body.get("properties") or {}).get("upgradePolicy") or {}).get("mode") or "Manual")

    @property
    def model_image(self) -> str:
        """The imageReference id of the scale set's model."""
        profile = (self.body.get("properties") or {}).get("virtualMachineProfile") or {}
        return ((profile.get("storageProfile") or {}).get("imageReference") or {}).get("id") or ""


@dataclass(frozen=True)
class Facts:
    """One read of the environment: load balancer, ledger, and (as a step asks) scale sets, instances, images."""

    environment: str
    resource_group: str
    load_balancer_name: str
    production_rule: str
    staging_rule: str
    pools: Pools
    image_definition: str                       # gallery/definition
    load_balancer: Mapping[str, Any] | None     # REST shape with its ETag; None: it does not exist
    ledger: Ledger
    now: datetime
    scale_sets: tuple[ScaleSet, ...] = ()       # every scale set of the resource group (when the step asked)
    instances: Mapping[str, tuple[Instance, ...]] = field(default_factory=lambda: MappingProxyType({}))
    image_versions: Mapping[str, bool] = field(default_factory=lambda: MappingProxyType({}))  # asked -> exists
    gallery: frozenset[str] = frozenset()       # every image version of the image definition (when asked)

    # -- the load balancer and its traffic

    @property
    def lb(self) -> Mapping[str, Any]:
        if self.load_balancer is None:
            raise ResourceMissing(f"load balancer {self.load_balancer_name} in {self.resource_group}: not found; "
                                  f"run `invoke infra` to create it, or fix the name in pipeline.toml")
        return self.load_balancer

    @property
    def traffic(self) -> bluegreen.Traffic:
        return bluegreen.read_traffic(self.lb, production_rule=self.production_rule, staging_rule=self.staging_rule)

    @property
    def live_color(self) -> str:
        """The color the production rule sends traffic to (StateMismatch when it is neither pool)."""
        return bluegreen.live_color(self.traffic, self.pools.by_color())

    @property
    def idle_color(self) -> str:
        return bluegreen.other(self.live_color)

    def staging_on(self, color: str) -> bool:
        """The staging rule sends traffic to `color`'s pool."""
        return (self.traffic.staging_pool or "").lower() == self.pools.for_color(color).lower()

    def check_live(self, fleet: Fleet | None, *, before: str) -> None:
        """The ledger's live `fleet` must be the color production traffic goes to; else nobody may release."""
        if fleet is not None and fleet.color != self.live_color:
            raise StateMismatch(f"the ledger says {fleet.name} ({fleet.color}) is live but the production rule sends "
                                f"traffic to {self.traffic.production_pool} ({self.live_color}); find out who changed "
                                f"the load balancer, then fix it or record the change before {before}")

    # -- images and fleets

    def require_image(self, version: str) -> None:
        """The image version (read as asked) exists; else ResourceMissing saying to bake it."""
        if not self.image_versions.get(version):
            raise ResourceMissing(f"image version {version} does not exist in {self.image_definition}; bake it "
                                  f"(`invoke bake`) or pick one from `invoke status`")

    def ours(self, app: str) -> tuple[ScaleSet, ...]:
        """The scale sets this app and environment tagged as theirs."""
        return tuple(v for v in self.scale_sets
                     if v.tags.get("app") == app and v.tags.get("environment") == self.environment)

    def scale_set(self, name: str) -> ScaleSet | None:
        return next((v for v in self.scale_sets if v.name == name), None)


@dataclass(frozen=True)
class InfraFacts:
    """What `invoke infra` decides from, read once (pipeline/steps/infra.py reads it; REST shapes as Azure returns
    them, None when missing). A missing resource group means nothing in it was read: all of it is missing."""

    subscription: str
    group_exists: bool
    nsg: Mapping[str, Any] | None = None
    vnet: Mapping[str, Any] | None = None
    public_ip_exists: bool = False
    load_balancer: Mapping[str, Any] | None = None
    nat_pool_users: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # NAT pool (lower) -> scale sets
    gallery_exists: bool = False
    definition: Mapping[str, Any] | None = None

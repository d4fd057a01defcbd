"""Is a fleet ready to take traffic? Pure judgement over its instances and the load balancer's probe view."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.facts import BackendHealth, Instance


@dataclass(frozen=True)
class FleetHealth:
    expected: int
    instances: tuple[Instance, ...]
    probe_up: frozenset[str]            # NIC ip-configuration ids (lower-case) the probe sees Up
    probe_addresses: dict               # ip-configuration id (lower-case) -> address

    @property
    def unhealthy(self) -> tuple[Instance, ...]:
        return tuple(i for i in self.instances
                     if not i.ready or i.ip_configuration_id.lower() not in self.probe_up)

    @property
    def ready(self) -> bool:
        return len(self.instances) >= self.expected and not self.unhealthy

    def describe(self) -> str:
        healthy = len(self.instances) - len(self.unhealthy)
        return f"{healthy}/{self.expected} instances healthy behind the probe"

    def reason(self, instance: Instance) -> str:
        if not instance.ready:
            return instance.describe()
        return f"{instance.describe()}, but the load balancer probe sees it down"


def probe_up(instances: Iterable[Instance], backends: Iterable[BackendHealth]) -> frozenset[str]:
    """The NIC ip-configuration ids (lower-case) of `instances` that the probe sees Up."""
    members = {i.ip_configuration_id.lower() for i in instances}
    return frozenset(b.ip_configuration_id.lower() for b in backends
                     if b.up and b.ip_configuration_id.lower() in members)


def judge(*, expected: int, instances: list[Instance], backends: list[BackendHealth]) -> FleetHealth:
    up = probe_up(instances, backends)
    addresses = {b.ip_configuration_id.lower(): b.address for b in backends}
    return FleetHealth(expected=expected, instances=tuple(instances), probe_up=up, probe_addresses=addresses)

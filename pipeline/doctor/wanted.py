"""What the environment needs, from its Settings (pure): the names, ports, sources and versions the checks
compare the facts with.

Settings this slice reads but other work adds are read by name and defensively, so doctor runs before and
after they land: `fleet.security_type` (None when absent), `network.nsg`, `network.allow_production_from`
(default Internet) and `network.allow_staging_from`, `image.target_regions` (default: the environment's
region), and the per-instance NAT set-up (`load_balancer.nat_pools.<color>` or `load_balancer.nat_rules.<color>`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.config import Settings

PROVIDERS = ("Microsoft.Compute", "Microsoft.Network", "Microsoft.Storage")


@dataclass(frozen=True)
class Flow:
    """Traffic the NSG must let in: TCP to `port` (as the VM sees it, the backend port) from each source."""
    purpose: str                    # "production", "staging", "per-instance (blue)"
    port: int
    sources: tuple[str, ...]
    setting: str                    # the setting naming the sources, for the fix line


@dataclass(frozen=True)
class NatWanted:
    name: str
    frontend_port_start: int
    frontend_port_end: int
    backend_port: int


@dataclass(frozen=True)
class Wanted:
    environment: str
    is_local: bool
    resource_group: str
    location: str
    vm_size: str
    capacity: int
    security_type: str | None
    target_regions: tuple[str, ...]
    gallery: str
    image_definition: str
    containers: tuple[str, ...]
    storage_account: str
    subnet: str
    nsg: str | None
    flows: tuple[Flow, ...]
    load_balancer: str
    pools: tuple[str, str]
    rules: dict[str, tuple[int, int]]          # name -> (frontend port, backend port)
    probe: tuple[str, int, str]                # name, port, path
    nat: dict[str, NatWanted]                  # color -> what per-instance access needs
    role_actions: tuple[str, ...] = ()
    role_data_actions: tuple[str, ...] = ()


def _tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def _region_name(entry: Any) -> str:
    for attr in ("name", "region", "location"):
        found = getattr(entry, attr, None) or (entry.get(attr) if isinstance(entry, dict) else None)
        if found:
            return str(found)
    return str(entry)


def _nat(lb: Any, color: str) -> NatWanted | None:
    for group in ("nat_rules", "nat_pools"):
        table = getattr(lb, group, None)
        entry = getattr(table, color, None) if table is not None else None
        if entry is not None:
            return NatWanted(entry.name, entry.frontend_port_start, entry.frontend_port_end, entry.backend_port)
    return None


def wanted(s: Settings, *, role_actions: tuple[str, ...] = (), role_data_actions: tuple[str, ...] = ()) -> Wanted:
    lb = s.load_balancer
    net = s.network
    fleet = getattr(s, "fleet", None)
    targets = getattr(s.image, "target_regions", None)
    production_from = _tuple(getattr(net, "allow_production_from", None)) or ("Internet",)
    # `Settings.staging_sources` (the setting, or loopback on the local cloud) where the NSG work has it
    staging_from = _tuple(getattr(s, "staging_sources", None) or getattr(net, "allow_staging_from", None))
    nat = {c: n for c in ("blue", "green") if (n := _nat(lb, c)) is not None}
    flows = [Flow("production", lb.production_rule.backend_port, production_from,
                  "network.allow_production_from")]
    if staging_from:
        flows.append(Flow("staging", lb.staging_rule.backend_port, staging_from, "network.allow_staging_from"))
        flows += [Flow(f"per-instance ({c})", n.backend_port, staging_from, "network.allow_staging_from")
                  for c, n in nat.items()]
    # one flow per (port, sources): the staging and per-instance flows often share the app's port
    unique: dict[tuple[int, tuple[str, ...]], Flow] = {}
    for f in flows:
        seen = unique.get((f.port, f.sources))
        purpose = f.purpose if seen is None else (seen.purpose if f.purpose.split(" ")[0] in seen.purpose
                                                   else f"{seen.purpose} + {f.purpose.split(' ')[0]}")
        unique[(f.port, f.sources)] = Flow(purpose, f.port, f.sources, (seen or f).setting)
    return Wanted(
        environment=s.environment, is_local=s.is_local, resource_group=s.resource_group, location=s.location,
        vm_size=s.vm_size, capacity=s.capacity.default,
        security_type=getattr(fleet, "security_type", None) if fleet is not None else None,
        target_regions=tuple(_region_name(t) for t in targets) if targets else (s.location,),
        gallery=s.image.gallery, image_definition=s.image.definition,
        containers=(s.storage.ledger_container, s.storage.packages_container), storage_account=s.storage.account,
        subnet=net.subnet, nsg=getattr(net, "nsg_name", None) or getattr(net, "nsg", None) or None,
        flows=tuple(unique.values()),
        load_balancer=lb.name, pools=(lb.backend_pools.blue, lb.backend_pools.green),
        rules={lb.production_rule.name: (lb.production_rule.frontend_port, lb.production_rule.backend_port),
               lb.staging_rule.name: (lb.staging_rule.frontend_port, lb.staging_rule.backend_port)},
        probe=(lb.probe.name, lb.probe.port, lb.probe.path), nat=nat,
        role_actions=tuple(role_actions), role_data_actions=tuple(role_data_actions))

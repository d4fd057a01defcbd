"""`invoke infra`: create what is missing of the base infrastructure; never touches what exists (so it can
not move traffic), except to add load balancer parts that are missing, and to keep the pipeline's rules in the
app subnet's network security group (the user's own rules there are kept) and the group on the subnet."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pipeline import infra
from pipeline import nsg as nsg_plan
from pipeline.azure import storage
from pipeline.azure.errors import azure_call, none_if_missing
from pipeline.azure.network import find_load_balancer, put_load_balancer
from pipeline.errors import ConfigError
from pipeline.steps.context import Context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InfraResult:
    actions: tuple[str, ...]
    dry_run: bool

    @property
    def summary(self) -> str:
        if not self.actions:
            return "infrastructure is complete: nothing to create"
        verb = "would create" if self.dry_run else "created"
        return f"{verb} {len(self.actions)}: " + "; ".join(self.actions)

    def to_json(self) -> dict:
        return {"step": "infra", "dry_run": self.dry_run, "actions": list(self.actions)}


def _exists(call) -> bool:
    return none_if_missing(call) is not None


def ensure_infra(ctx: Context) -> InfraResult:
    s, c, ids = ctx.settings, ctx.clients, ctx.ids
    rg, lb_name = s.resource_group, s.load_balancer.name
    actions: list[str] = []

    def step(exists, label: str, create) -> None:
        with azure_call(f"checking {label}"):
            present = exists()
        if present:
            log.info("%s exists", label)
            return
        actions.append(label)
        log.info("%s %s", "would create" if ctx.dry_run else "creating", label)
        if not ctx.dry_run:
            with azure_call(f"creating {label}"):
                create()

    # A GET, not HEAD (check_existence): a refused HEAD has no body, so a 403 could not say which action is missing.
    step(lambda: _exists(lambda: c.resources.resource_groups.get(rg)), f"resource group {rg}",
         lambda: c.resources.resource_groups.create_or_update(rg, infra.resource_group(s)))
    group_exists = ctx.dry_run is False or not actions
    if group_exists:
        ensure_network(ctx, actions)
        step(lambda: _exists(lambda: c.network.public_ip_addresses.get(rg, s.load_balancer.frontend)),
             f"public IP {s.load_balancer.frontend}",
             lambda: c.network.public_ip_addresses.begin_create_or_update(
                 rg, s.load_balancer.frontend, infra.public_ip(s)).result())
        desired = infra.load_balancer(s, ids)
        with azure_call(f"reading load balancer {lb_name}"):
            actual = find_load_balancer(c, lb_name)
        if actual is None:
            actions.append(f"load balancer {lb_name} (production -> blue, staging -> green)")
            if not ctx.dry_run:
                put_load_balancer(c, desired, if_match=None)
        else:
            for line in infra.backend_port_drift(actual, desired):
                log.warning("load balancer %s: %s; the network security group opens ports by the settings, so "
                            "update that rule's backend port (infra does not change existing rules)", lb_name, line)
            missing = infra.missing_parts(actual, desired)
            if missing:
                parts = ", ".join(f"{kind} {', '.join(names)}" for kind, names in missing.items())
                actions.append(f"load balancer {lb_name} parts: {parts}")
                if not ctx.dry_run:
                    put_load_balancer(c, infra.with_missing_parts(actual, desired), if_match=actual.get("etag"))
        step(lambda: _exists(lambda: c.compute.galleries.get(rg, s.image.gallery)), f"gallery {s.image.gallery}",
             lambda: c.compute.galleries.begin_create_or_update(rg, s.image.gallery, infra.gallery(s)).result())
        step(lambda: _exists(lambda: c.compute.gallery_images.get(rg, s.image.gallery, s.image.definition)),
             f"image definition {s.image.definition}",
             lambda: c.compute.gallery_images.begin_create_or_update(
                 rg, s.image.gallery, s.image.definition, infra.image_definition(s)).result())
    else:
        actions.append(f"network security group {s.network.nsg_name} ({nsg_plan.describe(s)}), virtual network, "
                       f"public IP, load balancer, gallery and image definition in it")
    for container in (s.storage.ledger_container, s.storage.packages_container):
        if not ctx.dry_run:
            storage.ensure_container(c.blob, container)
    return InfraResult(tuple(actions), ctx.dry_run)


def _subnet_nsg(vnet: dict | None, subnet: str) -> tuple[dict | None, str | None]:
    """(the app subnet as read, the id of its network security group)."""
    for found in ((vnet or {}).get("properties") or {}).get("subnets") or []:
        if found.get("name", "").lower() == subnet.lower():
            return found, ((found.get("properties") or {}).get("networkSecurityGroup") or {}).get("id")
    return None, None


def ensure_network(ctx: Context, actions: list[str]) -> None:
    """The app subnet's network security group (created, or the pipeline's rules added to it; the user's own
    rules kept), then the virtual network with the subnet associated to it."""
    s, c, ids = ctx.settings, ctx.clients, ctx.ids
    rg, name, verb = s.resource_group, s.network.nsg_name, "would" if ctx.dry_run else "will"
    nsg_id = ids.provider("Microsoft.Network", "networkSecurityGroups", name)
    with azure_call(f"reading virtual network {s.network.vnet}"):
        found = none_if_missing(lambda: c.network.virtual_networks.get(rg, s.network.vnet))
    vnet = found.as_dict() if found is not None else None
    subnet, associated = _subnet_nsg(vnet, s.network.subnet)
    if associated and associated.rstrip("/").lower() != nsg_id.lower():
        raise ConfigError(f"network.nsg is {name!r}, but subnet {s.network.subnet} already uses network security "
                          f"group {associated.rsplit('/', 1)[-1]!r}; set network.nsg to that name so the pipeline "
                          f"adds its rules there (nothing was changed)")
    with azure_call(f"reading network security group {name}"):
        found_nsg = none_if_missing(lambda: c.network.network_security_groups.get(rg, name))
    desired = nsg_plan.desired_rules(s)
    if found_nsg is None:
        actions.append(f"network security group {name} ({nsg_plan.describe(s)})")
        log.info("%s create network security group %s: %s", verb, name, nsg_plan.describe(s))
        if not ctx.dry_run:
            with azure_call(f"creating network security group {name}"):
                c.network.network_security_groups.begin_create_or_update(rg, name, nsg_plan.body(s)).result()
    else:
        actual = found_nsg.as_dict()
        current = (actual.get("properties") or {}).get("securityRules") or []
        clash = nsg_plan.conflicts(current, desired)
        if clash:
            raise ConfigError(f"network security group {name} has rules of its own at the priorities the pipeline "
                              f"uses: {', '.join(clash)}; move them off {nsg_plan.PRODUCTION_PRIORITY}-"
                              f"{nsg_plan.STAGING_PRIORITY + 99} (nothing was changed)")
        rules, changes = nsg_plan.merge(current, desired)
        if changes:
            actions.append(f"network security group {name} rules: {', '.join(changes)}")
            log.info("%s change network security group %s: %s", verb, name, "; ".join(changes))
            if not ctx.dry_run:
                body = {"location": actual["location"], "tags": actual.get("tags") or {},
                        "properties": {"securityRules": rules}}
                with azure_call(f"updating network security group {name}"):
                    c.network.network_security_groups.begin_create_or_update(
                        rg, name, body, headers={"If-Match": actual["etag"]}).result()
        else:
            log.info("network security group %s has the pipeline's rules", name)
    if vnet is None:
        actions.append(f"virtual network {s.network.vnet} with subnet {s.network.subnet} (network security group "
                       f"{name})")
        if not ctx.dry_run:
            with azure_call(f"creating virtual network {s.network.vnet}"):
                c.network.virtual_networks.begin_create_or_update(
                    rg, s.network.vnet, infra.virtual_network(s, nsg_id=nsg_id)).result()
    elif subnet is not None and not associated:
        actions.append(f"subnet {s.network.subnet}: associate network security group {name}")
        if not ctx.dry_run:
            with azure_call(f"associating network security group {name} with subnet {s.network.subnet}"):
                c.network.subnets.begin_create_or_update(rg, s.network.vnet, s.network.subnet,
                                                         infra.subnet_with_nsg(subnet, nsg_id)).result()
    else:
        log.info("virtual network %s exists", s.network.vnet)

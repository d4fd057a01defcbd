"""`invoke infra`: create what is missing of the base infrastructure; never touches what exists (so it can
not move traffic), except to add load balancer parts that are missing, to remove the NAT pools (V1) of an
older set-up that no scale set uses any more (the ones still used stay, reported, until their fleets retire), and
to keep the pipeline's rules in the app subnet's network security group (the user's own rules there are kept)
and the group on the subnet.

    facts = read_infra_facts(ctx)            # the only read
    plan = plan_infra(facts, ctx.settings)   # pipeline/plans.py: the only decision (raises: nothing changed)
    apply_infra(ctx, plan)                   # exactly the plan's writes (--dry-run: none)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pipeline import infra
from pipeline.azure import compute, storage
from pipeline.azure.errors import azure_call, none_if_missing
from pipeline.azure.network import find_load_balancer, put_load_balancer
from pipeline.facts import InfraFacts
from pipeline.plans import InfraPlan, InfraWrite, plan_infra
from pipeline.steps.context import Context

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InfraResult:
    actions: tuple[str, ...]
    dry_run: bool
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        if not self.actions:
            return "infrastructure is complete: nothing to create" + "".join(f"; {n}" for n in self.notes)
        verb = "would create" if self.dry_run else "created"
        return f"{verb} {len(self.actions)}: " + "; ".join(self.actions + self.notes)

    def to_json(self) -> dict:
        return {"step": "infra", "dry_run": self.dry_run, "actions": list(self.actions), "notes": list(self.notes)}


def _read(label: str, call):
    """The resource as REST JSON, None when missing. A GET, not HEAD (check_existence): a refused HEAD has no
    body, so a 403 could not say which action is missing."""
    with azure_call(f"reading {label}"):
        found = none_if_missing(call)
    return found.as_dict() if found is not None else None


def read_infra_facts(ctx: Context) -> InfraFacts:
    """Everything infra decides from; nothing in a missing resource group is read (all of it is missing)."""
    s, c, rg = ctx.settings, ctx.clients, ctx.settings.resource_group
    subscription = ctx.ids.subscription
    if _read(f"resource group {rg}", lambda: c.resources.resource_groups.get(rg)) is None:
        return InfraFacts(subscription=subscription, group_exists=False)
    with azure_call(f"reading load balancer {s.load_balancer.name}"):
        lb = find_load_balancer(c, s.load_balancer.name)
    users = {}
    if lb is not None and lb.get("properties", {}).get("inboundNatPools"):
        users = {pool: tuple(names) for pool, names in infra.nat_pool_users(compute.list_scale_sets(c)).items()}
    return InfraFacts(
        subscription=subscription, group_exists=True,
        nsg=_read(f"network security group {s.network.nsg_name}",
                  lambda: c.network.network_security_groups.get(rg, s.network.nsg_name)),
        vnet=_read(f"virtual network {s.network.vnet}", lambda: c.network.virtual_networks.get(rg, s.network.vnet)),
        public_ip_exists=_read(f"public IP {s.load_balancer.frontend}", lambda: c.network.public_ip_addresses.get(
            rg, s.load_balancer.frontend)) is not None,
        load_balancer=lb, nat_pool_users=users,
        gallery_exists=_read(f"gallery {s.image.gallery}",
                             lambda: c.compute.galleries.get(rg, s.image.gallery)) is not None,
        definition=_read(f"image definition {s.image.definition}", lambda: c.compute.gallery_images.get(
            rg, s.image.gallery, s.image.definition)))


def _write(ctx: Context, w: InfraWrite) -> None:
    s, c, rg = ctx.settings, ctx.clients, ctx.settings.resource_group
    net, gal = s.network, s.image
    if w.what == "load_balancer":
        put_load_balancer(c, w.body, if_match=w.etag)
        return
    headers = {"headers": {"If-Match": w.etag}} if w.etag else {}
    calls = {
        "resource_group": lambda: c.resources.resource_groups.create_or_update(rg, w.body),
        "nsg": lambda: c.network.network_security_groups.begin_create_or_update(
            rg, net.nsg_name, w.body, **headers).result(),
        "vnet": lambda: c.network.virtual_networks.begin_create_or_update(rg, net.vnet, w.body).result(),
        "subnet": lambda: c.network.subnets.begin_create_or_update(rg, net.vnet, net.subnet, w.body).result(),
        "public_ip": lambda: c.network.public_ip_addresses.begin_create_or_update(
            rg, s.load_balancer.frontend, w.body).result(),
        "gallery": lambda: c.compute.galleries.begin_create_or_update(rg, gal.gallery, w.body).result(),
        "image_definition": lambda: c.compute.gallery_images.begin_create_or_update(
            rg, gal.gallery, gal.definition, w.body).result(),
    }
    with azure_call(f"{'updating' if w.etag or w.what == 'subnet' else 'creating'} {w.label}"):
        calls[w.what]()


def apply_infra(ctx: Context, plan: InfraPlan) -> None:
    """Exactly the plan's writes, in order, then the blob containers."""
    for w in plan.writes:
        _write(ctx, w)
    for container in plan.containers:
        storage.ensure_container(ctx.clients.blob, container)


def ensure_infra(ctx: Context) -> InfraResult:
    plan = plan_infra(read_infra_facts(ctx), ctx.settings)
    for line in plan.warnings + plan.notes:
        log.warning("%s", line)
    for line in plan.lines():
        log.info("%s %s", "would create" if ctx.dry_run else "creating", line)
    if not plan.actions:
        log.info("infrastructure is complete")
    if not ctx.dry_run:
        apply_infra(ctx, plan)
    return InfraResult(tuple(plan.lines()), ctx.dry_run, plan.notes)

"""`read_facts(ctx)`: the one read every release step decides from (see pipeline/facts.py for the types)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from types import MappingProxyType

from pipeline import fleet
from pipeline.azure import compute, gallery, network
from pipeline.facts import Facts, ScaleSet
from pipeline.steps.context import Context


def read_facts(ctx: Context, *, scale_sets: bool = False, instances_of: Iterable[str] = (),
               image_versions: Iterable[str] = (), gallery_versions: bool = False) -> Facts:
    """The load balancer (None when missing) and the ledger; and, as asked: every scale set of the resource group,
    the instances of the named fleets, whether the named image versions exist, every image version. Only reads."""
    s, c = ctx.settings, ctx.clients
    lb = s.load_balancer
    load_balancer = network.find_load_balancer(c, lb.name)
    ledger = ctx.ledger()
    images = {}
    for version in image_versions:
        images[version] = gallery.find_image_version(c, version) is not None
        if not images[version]:
            gallery.list_image_versions(c)  # a missing gallery or definition: ResourceMissing saying to run infra
    known = frozenset(v.name for v in gallery.list_image_versions(c)) if gallery_versions else frozenset()
    found = tuple(ScaleSet(v) for v in compute.list_scale_sets(c)) if scale_sets else ()
    facts = Facts(environment=s.environment, resource_group=s.resource_group, load_balancer_name=lb.name,
                 production_rule=lb.production_rule.name, staging_rule=lb.staging_rule.name, pools=lb.backend_pools,
                 image_definition=f"{s.image.gallery}/{s.image.definition}",
                 load_balancer=load_balancer, ledger=ledger, now=ctx.now(),
                 scale_sets=found, gallery=known,
                 image_versions=MappingProxyType(images))
    return with_instances(ctx, facts, instances_of) if instances_of else facts


def with_instances(ctx: Context, facts: Facts, names: Iterable[str]) -> Facts:
    """`facts` plus the instances of the named fleets (for a step that picks its fleet from the ledger first).
    With the scale sets read, only those of Uniform scale sets that exist (the others have no instance views)."""
    readable = {v.name for v in facts.scale_sets if fleet.orchestration_mode(dict(v.body)).lower() == "uniform"}
    instances = dict(facts.instances)
    for name in names:
        if not facts.scale_sets or name in readable:
            instances[name] = tuple(compute.instances(ctx.clients, name, ctx.ids.scale_set(name)))
    return replace(facts, instances=MappingProxyType(instances))

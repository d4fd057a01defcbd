"""What was read -> what may be written: the ONE place a load balancer body read from Azure becomes a PUT body.

Azure's GET of a load balancer carries what Azure computes: etag, provisioningState, resourceGuid, each pool's
backendIPConfigurations and, for pools whose members join through their NICs (our scale sets), one
loadBalancerBackendAddresses entry per member NIC; each rule's, probe's and frontend's back-references; and
the inbound NAT rules it derives from NAT pools. Sent back, most of this is ignored, but since network API
2020-05-01 the NIC members in loadBalancerBackendAddresses are refused (400 InvalidRequestFormat /
DuplicateIpConfigurationReferenceOnBackendAddressPool: terraform-provider-azurerm #7691 and #7741,
azure-rest-api-specs #10104). So every load-balancer write goes through `writable_load_balancer`:

- every member the SDK model marks read-only, or does not know, is dropped (pipeline/azure/sdkschema.py reads
  that from azure-mgmt-network's models, so it follows the SDK rather than a list kept here);
- pool addresses that name a NIC ip configuration are dropped: NIC membership is declared on the NIC (the
  scale set's ipConfigurations), never on the pool;
- inbound NAT rules Azure derived from a NAT pool ("<pool>.<n>", or any rule bound to a scale-set NIC that is
  not a V2 rule) are dropped: the pool is what we own, and a NAT pool being removed takes them along.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from pipeline.azure import sdkschema


def _load_balancer_model() -> type:
    from azure.mgmt.network.models import LoadBalancer

    return LoadBalancer


def _drop_nic_addresses(props: dict[str, Any]) -> None:
    for pool in props.get("backendAddressPools") or []:
        pool_props = pool.get("properties") or {}
        addresses = pool_props.get("loadBalancerBackendAddresses")
        if addresses is None:
            continue
        kept = [a for a in addresses if not ((a.get("properties") or {}).get("networkInterfaceIPConfiguration"))]
        if kept:
            pool_props["loadBalancerBackendAddresses"] = kept
        else:
            pool_props.pop("loadBalancerBackendAddresses")


def _derived(rule: dict[str, Any], pool_names: re.Pattern | None) -> bool:
    """A NAT rule Azure derived from a NAT pool: named "<pool>.<n>" after a pool of the body, or pointing (read-
    only backendIPConfiguration) at a scale-set instance's NIC without being a V2 rule (those name a backend
    pool instead): a scale set joins inbound NAT rules only through NAT pools, so such a rule is Azure's even
    when the body no longer has its pool (a NAT pool being removed)."""
    if pool_names is not None and pool_names.match(rule.get("name") or ""):
        return True
    props = rule.get("properties") or {}
    target = (props.get("backendIPConfiguration") or {}).get("id") or ""
    return "/virtualmachinescalesets/" in target.lower() and not props.get("backendAddressPool")


def _drop_derived_nat_rules(props: dict[str, Any]) -> None:
    rules = props.get("inboundNatRules")
    if rules is None:
        return
    pools = [p.get("name", "") for p in props.get("inboundNatPools") or [] if p.get("name")]
    names = re.compile("^(" + "|".join(re.escape(p) for p in pools) + r")\.\d+$", re.IGNORECASE) if pools else None
    props["inboundNatRules"] = [r for r in rules if not _derived(r, names)]


def writable_load_balancer(read: dict[str, Any]) -> dict[str, Any]:
    """The PUT body for a load balancer as read (REST JSON, e.g. `LoadBalancer.as_dict()`): only what may be
    written. `read` is not modified."""
    # NIC addresses and derived NAT rules are recognised by their read-only parts, so decide before stripping.
    body = copy.deepcopy(read)
    props = body.get("properties") or {}
    _drop_nic_addresses(props)
    _drop_derived_nat_rules(props)
    return sdkschema.writable(_load_balancer_model(), body)

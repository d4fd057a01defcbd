"""Inbound NAT: the per-instance port mappings of a load balancer, as Azure makes them.

- V1, NAT pools (`inboundNatPools`, referenced by a scale set's ip configuration): Azure derives one inbound NAT
  rule per instance, named "<pool>.<instance id>", on frontend port `frontendPortRangeStart + instance id`.
- V2, inbound NAT rules with `backendAddressPool` and `frontendPortRangeStart/End`: each member of the pool gets
  a port of the range, kept while it stays a member (allocated lowest free first); the mapping is not a rule of
  its own but is read with LoadBalancers_ListInboundNatRulePortMappings on the pool.

Both the API views (loadbalancer.render, the query) and the data plane read the mappings from here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.errors import ArmError
from ..core.ids import key
from ..runtime.members import Member

if TYPE_CHECKING:
    from .models import NetworkBackend
    from .resources import NetworkResource

log = logging.getLogger(__name__)

PORT_RANGE_TOO_SMALL_V1 = "InboundNatPoolFrontendPortRangeSmallerThanRequestedPorts"
PORT_RANGE_TOO_SMALL_V2 = "InboundNatRuleFrontendPortRangeSmallerThanRequestedPorts"   # unverified code


@dataclass(frozen=True)
class Mapping:
    rule: str             # the NAT rule's name: "<pool>.<instance id>" (V1) or the V2 rule's own name
    kind: str             # "inboundNatPools" (V1) or "inboundNatRules" (V2): what defines the mapping
    owner: str            # the NAT pool's or the V2 rule's name
    frontend: str         # the frontend IP configuration's name, lower-case
    protocol: str
    frontend_port: int
    backend_port: int
    member: Member


def ref_name(ref: dict | None) -> str | None:
    return ref["id"].rstrip("/").rsplit("/", 1)[-1].lower() if ref and ref.get("id") else None


def is_v2(rule: dict) -> bool:
    return bool((rule.get("properties") or {}).get("backendAddressPool"))


def instance_id(member: Member) -> int | None:
    last = member.instance_key.rsplit("/", 1)[-1]
    return int(last) if last.isdigit() else None


def v1_mappings(backend: "NetworkBackend", lb: "NetworkResource", config: dict) -> list[Mapping]:
    out = []
    for pool in config.get("inboundNatPools", []):
        p = pool["properties"]
        for member in backend.nat_members(lb.child_id("inboundNatPools", pool["name"])):
            number = instance_id(member)
            port = p["frontendPortRangeStart"] + number if number is not None else None
            if port is None or port > p["frontendPortRangeEnd"]:   # compute refuses such a scale-out first
                log.warning("NAT pool %s has no port for %s", pool["name"], member.instance_key)
                continue
            out.append(Mapping(f"{pool['name']}.{number}", "inboundNatPools", pool["name"],
                               ref_name(p["frontendIPConfiguration"]) or "", p["protocol"], port, p["backendPort"],
                               member))
    return out


def v2_mappings(backend: "NetworkBackend", lb: "NetworkResource", config: dict) -> list[Mapping]:
    out = []
    for rule in config.get("inboundNatRules", []):
        if not is_v2(rule):
            continue
        p = rule["properties"]
        pool = ref_name(p["backendAddressPool"])
        members = backend.pool_members(lb.child_id("backendAddressPools", pool))
        size = p["frontendPortRangeEnd"] - p["frontendPortRangeStart"] + 1
        for index, member in backend.nat_slots(lb.child_id("inboundNatRules", rule["name"]), members, size):
            out.append(Mapping(rule["name"], "inboundNatRules", rule["name"],
                               ref_name(p["frontendIPConfiguration"]) or "", p["protocol"],
                               p["frontendPortRangeStart"] + index, p["backendPort"], member))
    return out


def mappings(backend: "NetworkBackend", lb: "NetworkResource", config: dict) -> list[Mapping]:
    return v1_mappings(backend, lb, config) + v2_mappings(backend, lb, config)


def derived_rules(backend: "NetworkBackend", lb: "NetworkResource", props: dict) -> list[dict]:
    """The inbound NAT rules Azure lists for NAT pools: one per instance, pointing at its ip configuration."""
    pools = {pool["name"].lower(): pool["properties"] for pool in props["inboundNatPools"]}
    rules = []
    for m in v1_mappings(backend, lb, props):
        p = pools[m.owner.lower()]
        rules.append({"name": m.rule, "properties": {
            "frontendIPConfiguration": p["frontendIPConfiguration"], "frontendPort": m.frontend_port,
            "backendPort": m.backend_port, "protocol": m.protocol,
            "idleTimeoutInMinutes": p.get("idleTimeoutInMinutes", 4),
            "enableFloatingIP": p.get("enableFloatingIP", False), "enableTcpReset": p.get("enableTcpReset", False),
            "backendIPConfiguration": {"id": m.member.ip_configuration_id}}})
    return rules


def port_mappings(backend: "NetworkBackend", lb: "NetworkResource", pool: str, body: dict) -> dict:
    """The body of POST .../backendAddressPools/{pool}/queryInboundNatRulePortMapping for one backend address."""
    if not isinstance(body, dict):
        raise ArmError("The request body must be an object.", code="InvalidRequestFormat")
    ip_config = body.get("ipConfiguration")
    address = body.get("ipAddress")
    if ip_config is not None and not (isinstance(ip_config, dict) and isinstance(ip_config.get("id"), str)):
        raise ArmError("ipConfiguration must be an object with an 'id'.", code="InvalidRequestFormat")
    if address is not None and not isinstance(address, str):
        raise ArmError("ipAddress must be a string.", code="InvalidRequestFormat")
    if not ip_config and not address:
        raise ArmError("Either ipConfiguration or ipAddress must be specified to query inbound NAT rule port "
                       "mappings.", code="InvalidParameter")
    members = backend.pool_members(lb.child_id("backendAddressPools", pool))
    wanted = [m for m in members if (ip_config and key(m.ip_configuration_id) == key(ip_config["id"]))
              or (address and m.address == address)]
    if not wanted:
        target = ip_config["id"] if ip_config else address
        raise ArmError(f"Backend address {target} is not a member of backend address pool "
                       f"{lb.child_id('backendAddressPools', pool)}.", code="InvalidParameter")
    keys = {key(m.ip_configuration_id) for m in wanted}
    found = [m for m in v2_mappings(backend, lb, lb.properties)
             if key(m.member.ip_configuration_id) in keys
             and ref_name(_rule(lb.properties, m.owner)["properties"]["backendAddressPool"]) == pool.lower()]
    return {"inboundNatRulePortMappings": [
        {"inboundNatRuleName": m.rule, "protocol": m.protocol, "frontendPort": m.frontend_port,
         "backendPort": m.backend_port} for m in sorted(found, key=lambda m: (m.rule.lower(), m.frontend_port))]}


def _rule(props: dict, name: str) -> dict:
    return next(r for r in props["inboundNatRules"] if r["name"].lower() == name.lower())


def check_capacity(backend: "NetworkBackend", *, nat_pool_ids: list[str], pool_ids: list[str],
                   highest_instance: int, members_after: dict[str, int]) -> None:
    """A scale-set write that would give instances more NAT ports than a pool or V2 rule has: 400 before
    anything is created (Azure blocks such a scale-out). `members_after[pool id key]`: how many members the
    backend pool will have."""
    for pool_id in nat_pool_ids:
        found = backend.find_child(pool_id, "inboundNatPools")
        if found is None:
            continue
        p = found["properties"]
        size = p["frontendPortRangeEnd"] - p["frontendPortRangeStart"] + 1
        if highest_instance >= size:
            raise ArmError(f"Inbound NAT pool {pool_id} has {size} frontend ports "
                           f"({p['frontendPortRangeStart']}-{p['frontendPortRangeEnd']}) but instance id "
                           f"{highest_instance} needs port {p['frontendPortRangeStart'] + highest_instance}. Increase "
                           f"the frontend port range of the inbound NAT pool.", code=PORT_RANGE_TOO_SMALL_V1)
    for pool_id in pool_ids:
        lb_rules = backend.v2_rules_of_pool(pool_id)
        for rule_id, p in lb_rules:
            size = p["frontendPortRangeEnd"] - p["frontendPortRangeStart"] + 1
            wanted = members_after.get(key(pool_id), 0)
            if wanted > size:
                raise ArmError(f"Inbound NAT rule {rule_id} has {size} frontend ports "
                               f"({p['frontendPortRangeStart']}-{p['frontendPortRangeEnd']}) but its backend pool "
                               f"{pool_id} would have {wanted} members. Increase the frontend port range of the "
                               f"inbound NAT rule.", code=PORT_RANGE_TOO_SMALL_V2)

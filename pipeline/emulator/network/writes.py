"""Network writes as Azure orders its checks: group, preconditions, operation in progress, the definition,
references, what is in use; then the change is stored, the data plane told, and an operation completes it.

Each function takes plain arguments (subscription, resource group, names, body, the request's headers for
If-Match/If-None-Match and the operation's name for "in progress" messages), as compute's backend does; the
responses layer parses the request and starts the operation that completes the change. A put returns
`(resource, created)`; a delete returns the resource to delete (or to update, for a child), None when already
gone.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from ..core.errors import ArmError, InUse, PatchResourceNotFound
from ..core.ids import key
from . import backendaddresses, loadbalancer, nsg as nsgs, schema, vnet
from .resources import NetworkResource, check_idle, check_preconditions, find

if TYPE_CHECKING:
    from .models import NetworkBackend

Headers = dict[str, str]   # the request's headers, keys lower-cased


def _existing(backend: "NetworkBackend", subscription: str, resource_group: str, kind: str, name: str,
              headers: Headers, operation: str) -> NetworkResource | None:
    backend.cloud.resources.require(subscription, resource_group)
    existing = backend.get(kind, subscription, resource_group, name)
    check_preconditions(headers, existing.etag if existing else None, f"resource '{name}'")
    if existing:
        check_idle(existing, operation)
    return existing


def _location_unchanged(existing: NetworkResource | None, location: str) -> None:
    if existing and existing.location.replace(" ", "").lower() != location.replace(" ", "").lower():
        raise ArmError(f"The resource '{existing.name}' already exists in location '{existing.location}' in "
                       f"resource group '{existing.resource_group}'. A resource with the same name cannot be "
                       f"created in location '{location}'. Please select a new resource name.",
                       code="InvalidResourceLocation", status=409)


def _apply(backend: "NetworkBackend", subscription: str, resource_group: str, existing: NetworkResource | None,
           kind: str, name: str, cleaned: dict, properties: dict) -> tuple[NetworkResource, bool]:
    target = existing or NetworkResource(kind, subscription, resource_group, name, cleaned["location"], {})
    target.properties, target.tags, target.sku = properties, cleaned["tags"], cleaned["sku"]
    target.zones, target.extended_location = cleaned["zones"], cleaned["extendedLocation"]
    if existing is None:
        backend.store(target)
    return target, existing is None


def _child(backend: "NetworkBackend", subscription: str, resource_group: str, parent: tuple[str, str],
           collection: str, name: str, what: str, headers: Headers, operation: str, *,
           put: bool) -> tuple[NetworkResource, dict | None]:
    """A child write's parent (it must exist) and the child as stored (None when new), once the request's
    preconditions hold against the parent's ETag (a child has its parent's) and the parent is idle (for a
    delete, only when there is something to delete)."""
    kind, parent_name = parent
    holder = backend.require(kind, subscription, resource_group, parent_name)
    current = find(holder.properties[collection], name)
    check_preconditions(headers, holder.etag if current else None, f"{what} '{name}'")
    if put or current is not None:
        check_idle(holder, operation)
    return holder, current


def _scale_set_users(backend: "NetworkBackend", resource_id: str, what: str, name: str) -> None:
    users = backend.scale_sets_using(resource_id)
    if users:
        raise InUse(f"Cannot remove {what} {name} from load balancer since it is in use by virtual machine "
                    f"scale set {', '.join(users)}.", code="LoadBalancerInUseByVirtualMachineScaleSet")


def _removed_children_unused(backend: "NetworkBackend", lb: NetworkResource | None, props: dict) -> None:
    if lb is None:
        return
    for collection, what in (("backendAddressPools", "backend address pool"), ("inboundNatPools", "inbound nat pool")):
        for child in lb.properties[collection]:
            if find(props[collection], child["name"]) is None:
                _scale_set_users(backend, lb.child_id(collection, child["name"]), what, child["name"])


# --- load balancers -----------------------------------------------------------------------------------------
def _commit_lb(backend: "NetworkBackend", lb: NetworkResource, props: dict):
    loadbalancer.Checker(backend, lb, props).check()
    _removed_children_unused(backend, lb if lb.properties else None, props)
    return props


def put_load_balancer(backend: "NetworkBackend", subscription: str, resource_group: str, name: str, body: dict, *,
                      headers: Headers, operation: str) -> tuple[NetworkResource, bool]:
    existing = _existing(backend, subscription, resource_group, "loadBalancers", name, headers, operation)
    cleaned = loadbalancer.clean(body)
    _location_unchanged(existing, cleaned["location"])
    props = cleaned["properties"]
    loadbalancer.drop_derived_nat_rules(props)
    cleaned["sku"] = cleaned["sku"] or {"name": "Basic"}
    probe_lb = existing or NetworkResource("loadBalancers", subscription, resource_group, name,
                                           cleaned["location"], {})
    for i, pool in enumerate(props["backendAddressPools"]):
        backendaddresses.check_no_nic_addresses(backend, probe_lb, pool, f"properties.backendAddressPools[{i}]")
    _commit_lb(backend, probe_lb, props)
    lb, created = _apply(backend, subscription, resource_group, existing, "loadBalancers", name, cleaned, props)
    backend.allocate_frontends(lb)
    return lb, created


def update_load_balancer_tags(backend: "NetworkBackend", subscription: str, resource_group: str, name: str,
                              body: dict, *, headers: Headers, operation: str) -> NetworkResource:
    """LoadBalancers_UpdateTags (PATCH {"tags": {...}}): the tags are replaced as a whole, synchronously (200).
    A PATCH of a load balancer that does not exist is 404 PatchResourceNotFound, not ResourceNotFound."""
    backend.cloud.resources.require(subscription, resource_group)
    lb = backend.get("loadBalancers", subscription, resource_group, name)
    if lb is None:
        raise PatchResourceNotFound(f"The Resource 'Microsoft.Network/loadBalancers/{name}' under resource group "
                                    f"'{resource_group}' was not found. For more details please go to "
                                    f"https://aka.ms/ARMResourceNotFoundFix")
    check_preconditions(headers, lb.etag, f"resource '{name}'")
    check_idle(lb, operation)
    schema.check_members(body, {"tags"}, "TagsObject", "")
    if "tags" in body:  # an empty object changes nothing; "tags": {} or null clears them
        tags = body["tags"]
        if tags is not None and (not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values())):
            raise schema.bad_format("Unexpected value for 'tags': an object of strings was expected.", "tags")
        lb.tags = dict(tags or {})
    lb.touch("Succeeded")
    backend.cloud.changed()
    return lb


def delete_load_balancer(backend: "NetworkBackend", subscription: str, resource_group: str, name: str, *,
                         headers: Headers, operation: str) -> NetworkResource | None:
    lb = _existing(backend, subscription, resource_group, "loadBalancers", name, headers, operation)
    if lb is None:
        return None
    users = backend.scale_sets_using(lb.id)
    if users:
        raise InUse(f"Cannot delete load balancer {lb.id} since its child resources are in use by virtual machine "
                    f"scale set {', '.join(users)}.", code="LoadBalancerInUseByVirtualMachineScaleSet")
    return lb


def put_backend_pool(backend: "NetworkBackend", subscription: str, resource_group: str,
                     lb_name: str, pool_name: str, body: dict, *,
                     headers: Headers, operation: str) -> tuple[NetworkResource, bool]:
    lb, current = _child(backend, subscription, resource_group, ("loadBalancers", lb_name),
                         "backendAddressPools", pool_name, "backend address pool", headers, operation, put=True)
    pool = schema.clean_child("backendAddressPools", {**body, "name": current["name"] if current else pool_name},
                              "")
    backendaddresses.check_no_nic_addresses(backend, lb, pool, "")
    props = copy.deepcopy(lb.properties)
    props["backendAddressPools"] = [pool if c["name"].lower() == pool_name.lower() else c
                                    for c in props["backendAddressPools"]] + ([] if current else [pool])
    _commit_lb(backend, lb, props)
    lb.properties = props
    return lb, current is None


def delete_backend_pool(backend: "NetworkBackend", subscription: str, resource_group: str,
                        lb_name: str, pool_name: str, *,
                        headers: Headers, operation: str) -> NetworkResource | None:
    lb, current = _child(backend, subscription, resource_group, ("loadBalancers", lb_name),
                         "backendAddressPools", pool_name, "backend address pool", headers, operation, put=False)
    if current is None:
        return None
    props = copy.deepcopy(lb.properties)
    props["backendAddressPools"] = [c for c in props["backendAddressPools"] if c["name"].lower() != pool_name.lower()]
    _commit_lb(backend, lb, props)
    lb.properties = props
    return lb


def _derived(lb: NetworkResource, name: str) -> bool:
    """A "<pool>.<n>" name: one of the rules Azure derives from a NAT pool, not a rule of its own."""
    pool, _, number = name.rpartition(".")
    return number.isdigit() and find(lb.properties["inboundNatPools"], pool) is not None


def put_nat_rule(backend: "NetworkBackend", subscription: str, resource_group: str,
                 lb_name: str, rule_name: str, body: dict, *,
                 headers: Headers, operation: str) -> tuple[NetworkResource, bool]:
    lb, current = _child(backend, subscription, resource_group, ("loadBalancers", lb_name),
                         "inboundNatRules", rule_name, "inbound NAT rule", headers, operation, put=True)
    if _derived(lb, rule_name):
        raise ArmError(f"Inbound NAT rule {lb.child_id('inboundNatRules', rule_name)} is created by an inbound "
                       f"NAT pool and cannot be changed on its own; change the inbound NAT pool.",
                       code="InvalidResourceName")
    rule = schema.clean_child("inboundNatRules", {**body, "name": current["name"] if current else rule_name}, "")
    props = copy.deepcopy(lb.properties)
    props["inboundNatRules"] = [rule if c["name"].lower() == rule_name.lower() else c
                                for c in props["inboundNatRules"]] + ([] if current else [rule])
    _commit_lb(backend, lb, props)
    lb.properties = props
    return lb, current is None


def delete_nat_rule(backend: "NetworkBackend", subscription: str, resource_group: str, lb_name: str, rule_name: str, *,
                    headers: Headers, operation: str) -> NetworkResource | None:
    lb, current = _child(backend, subscription, resource_group, ("loadBalancers", lb_name),
                         "inboundNatRules", rule_name, "inbound NAT rule", headers, operation, put=False)
    if current is None:
        if _derived(lb, rule_name):
            raise InUse(f"Inbound NAT rule {lb.child_id('inboundNatRules', rule_name)} is created by an inbound "
                        f"NAT pool; individual rules of a NAT pool cannot be deleted. Remove the NAT pool from the "
                        f"scale set, then delete the NAT pool.", code="CannotDeleteInboundNatRuleCreatedByNatPool")
        return None
    props = copy.deepcopy(lb.properties)
    props["inboundNatRules"] = [c for c in props["inboundNatRules"] if c is not current
                                and c["name"].lower() != rule_name.lower()]
    _commit_lb(backend, lb, props)
    lb.properties = props
    backend.slots.pop(key(lb.child_id("inboundNatRules", current["name"])), None)
    return lb


# --- public IPs ---------------------------------------------------------------------------------------------
def put_public_ip(backend: "NetworkBackend", subscription: str, resource_group: str, name: str, body: dict, *,
                  headers: Headers, operation: str) -> tuple[NetworkResource, bool]:
    existing = _existing(backend, subscription, resource_group, "publicIPAddresses", name, headers, operation)
    cleaned = schema.clean_resource("publicIPAddresses", body)
    _location_unchanged(existing, cleaned["location"])
    vnet.check_public_ip(cleaned)
    pip, created = _apply(backend, subscription, resource_group, existing,
                          "publicIPAddresses", name, cleaned, cleaned["properties"])
    if not pip.addresses.get(""):
        pip.addresses[""] = backend.cloud.addresses.frontends.allocate()
    return pip, created


def delete_public_ip(backend: "NetworkBackend", subscription: str, resource_group: str, name: str, *,
                     headers: Headers, operation: str) -> NetworkResource | None:
    pip = _existing(backend, subscription, resource_group, "publicIPAddresses", name, headers, operation)
    if pip is None:
        return None
    user = backend.public_ip_user(pip)
    if user:
        raise InUse(f"Public IP address {pip.id} can not be deleted since it is still allocated to resource "
                    f"{user}. In order to delete the public IP, disassociate/detach the Public IP address from "
                    f"the resource.", code="PublicIPAddressCannotBeDeleted")
    return pip


# --- virtual networks and subnets ---------------------------------------------------------------------------
def _subnets_unused(backend: "NetworkBackend", network: NetworkResource, removed: list[dict]) -> None:
    for subnet in removed:
        users = backend.subnet_users(network.child_id("subnets", subnet["name"]))
        if users:
            raise InUse(f"Subnet {subnet['name']} is in use by {users[0]} and cannot be deleted. In order to "
                        f"delete the subnet, delete all the resources within the subnet.",
                        code="InUseSubnetCannotBeDeleted")


def put_virtual_network(backend: "NetworkBackend", subscription: str, resource_group: str, name: str, body: dict, *,
                        headers: Headers, operation: str) -> tuple[NetworkResource, bool]:
    existing = _existing(backend, subscription, resource_group, "virtualNetworks", name, headers, operation)
    cleaned = schema.clean_resource("virtualNetworks", body)
    _location_unchanged(existing, cleaned["location"])
    vnet.check_vnet(name, cleaned["properties"])
    _subnet_nsg_refs(backend, backend.resource_id("virtualNetworks", subscription, resource_group, name),
                     cleaned["properties"]["subnets"])
    if existing:
        _subnets_unused(backend, existing, [s for s in existing.properties["subnets"]
                                            if find(cleaned["properties"]["subnets"], s["name"]) is None])
    network, created = _apply(backend, subscription, resource_group, existing,
                              "virtualNetworks", name, cleaned, cleaned["properties"])
    return network, created


def delete_virtual_network(backend: "NetworkBackend", subscription: str, resource_group: str, name: str, *,
                           headers: Headers, operation: str) -> NetworkResource | None:
    network = _existing(backend, subscription, resource_group, "virtualNetworks", name, headers, operation)
    if network is None:
        return None
    _subnets_unused(backend, network, network.properties["subnets"])
    return network


def put_subnet(backend: "NetworkBackend", subscription: str, resource_group: str,
               vnet_name: str, subnet_name: str, body: dict, *,
               headers: Headers, operation: str) -> tuple[NetworkResource, bool]:
    network, current = _child(backend, subscription, resource_group, ("virtualNetworks", vnet_name),
                              "subnets", subnet_name, "subnet", headers, operation, put=True)
    subnet = schema.clean_child("subnets", {**body, "name": current["name"] if current else subnet_name}, "")
    subnets = [subnet if s["name"].lower() == subnet_name.lower() else s for s in network.properties["subnets"]]
    subnets += [] if current else [subnet]
    ranges = [vnet._network(p, f"Virtual network '{network.name}'")
              for p in (network.properties.get("addressSpace") or {}).get("addressPrefixes") or []]
    vnet.check_subnets(network.name, ranges, subnets)
    _subnet_nsg_refs(backend, network.id, [subnet])
    network.properties = {**network.properties, "subnets": subnets}
    return network, current is None


def delete_subnet(backend: "NetworkBackend", subscription: str, resource_group: str,
                  vnet_name: str, subnet_name: str, *,
                  headers: Headers, operation: str) -> NetworkResource | None:
    network, current = _child(backend, subscription, resource_group, ("virtualNetworks", vnet_name),
                              "subnets", subnet_name, "subnet", headers, operation, put=False)
    if current is None:
        return None
    _subnets_unused(backend, network, [current])
    network.properties = {**network.properties, "subnets": [s for s in network.properties["subnets"]
                                                            if s is not current]}
    return network


def _subnet_nsg_refs(backend: "NetworkBackend", network_id: str, subnets: list[dict]) -> None:
    """A subnet's networkSecurityGroup must exist (InvalidResourceReference)."""
    for i, subnet in enumerate(subnets):
        ref = schema.reference(subnet["properties"].get("networkSecurityGroup"),
                               f"properties.subnets[{i}].properties.networkSecurityGroup")
        if ref:
            backend.require_nsg(ref, referenced_by=f"{network_id}/subnets/{subnet['name']}")
            subnet["properties"]["networkSecurityGroup"] = {"id": ref}


# --- network security groups --------------------------------------------------------------------------------
def put_network_security_group(backend: "NetworkBackend", subscription: str, resource_group: str,
                               name: str, body: dict, *,
                               headers: Headers, operation: str) -> tuple[NetworkResource, bool]:
    existing = _existing(backend, subscription, resource_group, "networkSecurityGroups", name, headers, operation)
    cleaned = nsgs.clean(body)
    _location_unchanged(existing, cleaned["location"])
    holder = existing or NetworkResource("networkSecurityGroups", subscription, resource_group, name,
                                         cleaned["location"], {})
    nsgs.RuleChecker(holder).check_all(cleaned["properties"]["securityRules"])
    nsg, created = _apply(backend, subscription, resource_group, existing,
                          "networkSecurityGroups", name, cleaned, cleaned["properties"])
    return nsg, created


def delete_network_security_group(backend: "NetworkBackend", subscription: str, resource_group: str, name: str, *,
                                  headers: Headers, operation: str) -> NetworkResource | None:
    nsg = _existing(backend, subscription, resource_group, "networkSecurityGroups", name, headers, operation)
    if nsg is None:
        return None
    subnets, nics = backend.nsg_users(nsg.id)
    users = subnets + nics + [s for s in backend.scale_sets_using(nsg.id)]
    if users:
        raise InUse(f"Network security group {nsg.id} cannot be deleted because it is in use by the following "
                    f"resources: {', '.join(dict.fromkeys(users))}. In order to delete the Network security group, "
                    f"remove the association with the resource(s).", code="InUseNetworkSecurityGroupCannotBeDeleted")
    return nsg


def put_security_rule(backend: "NetworkBackend", subscription: str, resource_group: str,
                      nsg_name: str, rule_name: str, body: dict, *,
                      headers: Headers, operation: str) -> tuple[NetworkResource, bool]:
    nsg, current = _child(backend, subscription, resource_group, ("networkSecurityGroups", nsg_name),
                          "securityRules", rule_name, "security rule", headers, operation, put=True)
    rules = nsg.properties["securityRules"]
    rule = schema.clean_child("securityRules", {**body, "name": current["name"] if current else rule_name},
                              "")
    updated = [rule if r["name"].lower() == rule_name.lower() else r for r in rules]
    updated += [] if current else [rule]
    nsgs.RuleChecker(nsg).check_all(updated)
    nsg.properties = {**nsg.properties, "securityRules": updated}
    return nsg, current is None


def delete_security_rule(backend: "NetworkBackend", subscription: str, resource_group: str,
                         nsg_name: str, rule_name: str, *,
                         headers: Headers, operation: str) -> NetworkResource | None:
    nsg, current = _child(backend, subscription, resource_group, ("networkSecurityGroups", nsg_name),
                          "securityRules", rule_name, "security rule", headers, operation, put=False)
    if current is None:
        return None
    nsg.properties = {**nsg.properties, "securityRules": [r for r in nsg.properties["securityRules"]
                                                          if r is not current]}
    return nsg

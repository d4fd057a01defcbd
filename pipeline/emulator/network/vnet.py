"""Virtual networks (with subnets) and public IP addresses: checking definitions and rendering them."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from ..core.errors import ArmError, InvalidParameter
from . import schema
from .resources import NetworkResource

if TYPE_CHECKING:
    from .models import NetworkBackend


def _network(prefix, what: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(prefix, strict=True)
    except (TypeError, ValueError):
        raise ArmError(f"{what} has an invalid address prefix '{prefix}'. Provide a valid CIDR prefix "
                       f"(for example 10.0.0.0/24).", code="InvalidAddressPrefixFormat") from None


def subnet_prefixes(subnet: dict, vnet_name: str) -> list:
    props = subnet["properties"]
    prefixes = ([props["addressPrefix"]] if props.get("addressPrefix") else []) + list(props.get("addressPrefixes") or [])
    if not prefixes:
        raise InvalidParameter(f"Subnet '{subnet['name']}' of virtual network '{vnet_name}' needs an addressPrefix "
                               f"or addressPrefixes.", code="SubnetMissingAddressPrefix")
    return [_network(p, f"Subnet '{subnet['name']}'") for p in prefixes]


def check_vnet(name: str, props: dict) -> None:
    space = props.get("addressSpace") or {}
    if not isinstance(space, dict):
        raise schema.bad_format("Unexpected value: an object was expected.", "properties.addressSpace")
    vnet_ranges = [_network(p, f"Virtual network '{name}'") for p in space.get("addressPrefixes") or []]
    props["subnets"] = schema.clean_children("subnets", props.get("subnets"), "properties.subnets")
    check_subnets(name, vnet_ranges, props["subnets"])
    props.setdefault("enableDdosProtection", False)
    props.setdefault("virtualNetworkPeerings", [])


def check_subnets(vnet_name: str, vnet_ranges: list, subnets: list[dict]) -> None:
    seen: list[tuple[str, object]] = []
    for subnet in subnets:
        for net in subnet_prefixes(subnet, vnet_name):
            if vnet_ranges and not any(net.version == r.version and net.subnet_of(r) for r in vnet_ranges):
                raise ArmError(f"Subnet '{subnet['name']}' is not valid because its IP address range is outside "
                               f"the IP address range of virtual network '{vnet_name}'.",
                               code="NetcfgSubnetRangeOutsideVnet")
            for other_name, other in seen:
                if net.version == other.version and net.overlaps(other):
                    raise ArmError(f"Subnet '{subnet['name']}' is not valid because its IP address range "
                                   f"overlaps with that of an existing subnet '{other_name}' in virtual network "
                                   f"'{vnet_name}'.", code="NetcfgSubnetRangesOverlap")
            seen.append((subnet["name"], net))


def render_subnet(backend: "NetworkBackend", vnet: NetworkResource, subnet: dict) -> dict:
    users = backend.subnet_users(vnet.child_id("subnets", subnet["name"]), scale_sets=False)
    return vnet.child("subnets", subnet, {"ipConfigurations": [{"id": u} for u in users]})


def render_vnet(backend: "NetworkBackend", vnet: NetworkResource) -> dict:
    props = {k: v for k, v in vnet.properties.items() if k != "subnets"}
    props["subnets"] = [render_subnet(backend, vnet, s) for s in vnet.properties["subnets"]]
    return vnet.envelope(props)


def check_public_ip(body: dict) -> None:
    props, sku = body["properties"], body.get("sku") or {}
    if sku and not isinstance(sku, dict):
        raise schema.bad_format("Unexpected value: an object was expected.", "sku")
    standard = str(sku.get("name", "Basic")).lower() == "standard"
    method = schema.choice(props, "publicIPAllocationMethod", "properties", ("Static", "Dynamic"),
                           default="Static" if standard else "Dynamic")
    if standard and method == "Dynamic":
        raise InvalidParameter("Standard sku public IP addresses must have publicIPAllocationMethod Static.",
                               code="StandardSkuPublicIPAddressesCannotBeDynamic")
    schema.choice(props, "publicIPAddressVersion", "properties", ("IPv4", "IPv6"), default="IPv4")
    schema.integer(props, "idleTimeoutInMinutes", "properties", low=4, high=30, default=4)
    props.setdefault("ipTags", [])
    body["sku"] = {"name": "Standard" if standard else "Basic", "tier": sku.get("tier", "Regional")}


def render_public_ip(backend: "NetworkBackend", pip: NetworkResource) -> dict:
    props = dict(pip.properties)
    if pip.addresses.get(""):
        props["ipAddress"] = pip.addresses[""]
    user = backend.public_ip_user(pip)
    if user:
        props["ipConfiguration"] = {"id": user}
    return pip.envelope(props)

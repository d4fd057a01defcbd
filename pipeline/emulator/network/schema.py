"""Which fields each Microsoft.Network object accepts, which are read-only, and the checks Azure makes
before it looks at meaning.

Azure's network provider parses requests strictly: a member it does not know is `400 InvalidRequestFormat`
("Could not find member 'x' on object of type 'T'"). Read-only members (provisioningState, etag, the
back-references it computes) are accepted and ignored, because clients send back what they read; the one
exception Azure makes, a pool's NIC-member addresses, is in backendaddresses.py, and the contract guard
(core/contract.py) counts every read-only member sent.
The field lists are those of the 2026-03-01 API (azure-mgmt-network 33.1.0 models).
"""

from __future__ import annotations

from typing import Any

from ..core.errors import ArmError

TOP = {"id", "name", "type", "etag", "location", "tags", "sku", "properties", "extendedLocation", "zones"}
CHILD_TOP = {"id", "name", "type", "etag", "properties", "zones"}

# kind -> (Azure's type name for messages, accepted properties, read-only properties)
PROPERTIES: dict[str, tuple[str, set[str], set[str]]] = {
    "loadBalancers": ("LoadBalancerPropertiesFormat",
                      {"backendAddressPools", "frontendIPConfigurations", "inboundNatPools", "inboundNatRules",
                       "loadBalancingRules", "mode", "outboundRules", "probes", "scope"},
                      {"provisioningState", "resourceGuid"}),
    "frontendIPConfigurations": ("FrontendIPConfigurationPropertiesFormat",
                                 {"ddosSettings", "enableConnectionTracking", "gatewayLoadBalancer",
                                  "privateIPAddress", "privateIPAddressVersion", "privateIPAllocationMethod",
                                  "publicIPAddress", "publicIPPrefix", "subnet"},
                                 {"provisioningState", "loadBalancingRules", "inboundNatRules", "inboundNatPools",
                                  "outboundRules"}),
    "backendAddressPools": ("BackendAddressPoolPropertiesFormat",
                            {"drainPeriodInSeconds", "loadBalancerBackendAddresses", "location", "syncMode",
                             "tunnelInterfaces", "virtualNetwork"},
                            {"provisioningState", "backendIPConfigurations", "loadBalancingRules", "inboundNatRules",
                             "outboundRule", "outboundRules"}),
    "loadBalancingRules": ("LoadBalancingRulePropertiesFormat",
                           {"backendAddressPool", "backendAddressPools", "backendPort", "disableOutboundSnat",
                            "enableConnectionTracking", "enableFloatingIP", "enableTcpReset",
                            "frontendIPConfiguration", "frontendPort", "idleTimeoutInMinutes", "loadDistribution",
                            "probe", "protocol"},
                           {"provisioningState"}),
    "probes": ("ProbePropertiesFormat",
               {"intervalInSeconds", "noHealthyBackendsBehavior", "numberOfProbes", "port", "probeThreshold",
                "protocol", "requestPath"},
               {"provisioningState", "loadBalancingRules"}),
    "inboundNatPools": ("InboundNatPoolPropertiesFormat",
                        {"backendPort", "enableFloatingIP", "enableTcpReset", "frontendIPConfiguration",
                         "frontendPortRangeEnd", "frontendPortRangeStart", "idleTimeoutInMinutes", "protocol"},
                        {"provisioningState"}),
    "inboundNatRules": ("InboundNatRulePropertiesFormat",
                        {"backendAddressPool", "backendPort", "enableFloatingIP", "enableTcpReset",
                         "frontendIPConfiguration", "frontendPort", "frontendPortRangeEnd", "frontendPortRangeStart",
                         "idleTimeoutInMinutes", "protocol"},
                        {"provisioningState", "backendIPConfiguration"}),
    "publicIPAddresses": ("PublicIPAddressPropertiesFormat",
                          {"ddosSettings", "deleteOption", "dnsSettings", "idleTimeoutInMinutes", "ipTags",
                           "linkedPublicIPAddress", "migrationPhase", "natGateway", "publicIPAddressVersion",
                           "publicIPAllocationMethod", "publicIPPrefix", "servicePublicIPAddress"},
                          {"provisioningState", "resourceGuid", "ipAddress", "ipConfiguration", "upgradedToV2"}),
    "virtualNetworks": ("VirtualNetworkPropertiesFormat",
                        {"addressSpace", "bgpCommunities", "ddosProtectionPlan", "defaultPublicNatGateway",
                         "dhcpOptions", "enableDdosProtection", "enableVmProtection", "encryption",
                         "flowTimeoutInMinutes", "ipAllocations", "privateEndpointVNetPolicies", "subnets",
                         "virtualNetworkPeerings"},
                        {"provisioningState", "resourceGuid", "flowLogs", "summarizedGatewayPrefixes"}),
    "subnets": ("SubnetPropertiesFormat",
                {"addressPrefix", "addressPrefixes", "applicationGatewayIPConfigurations", "defaultOutboundAccess",
                 "delegations", "ipAllocations", "ipamPoolPrefixAllocations", "natGateway", "networkSecurityGroup",
                 "privateEndpointNetworkPolicies", "privateLinkServiceNetworkPolicies", "routeTable",
                 "serviceEndpointPolicies", "serviceEndpoints", "serviceGateway", "sharingScope"},
                {"provisioningState", "ipConfigurations", "ipConfigurationProfiles", "privateEndpoints",
                 "resourceNavigationLinks", "serviceAssociationLinks", "purpose"}),
    "networkSecurityGroups": ("NetworkSecurityGroupPropertiesFormat", {"flushConnection", "securityRules"},
                              {"provisioningState", "resourceGuid", "defaultSecurityRules", "networkInterfaces",
                               "subnets", "flowLogs"}),
    "securityRules": ("SecurityRulePropertiesFormat",
                      {"access", "description", "destinationAddressPrefix", "destinationAddressPrefixes",
                       "destinationApplicationSecurityGroups", "destinationPortRange", "destinationPortRanges",
                       "direction", "priority", "protocol", "sourceAddressPrefix", "sourceAddressPrefixes",
                       "sourceApplicationSecurityGroups", "sourcePortRange", "sourcePortRanges"},
                      {"provisioningState"}),
}
TYPE_NAMES = {"loadBalancers": "LoadBalancer", "publicIPAddresses": "PublicIPAddress",
              "virtualNetworks": "VirtualNetwork", "networkSecurityGroups": "NetworkSecurityGroup"}
# Child collections checked member by member (outboundRules are stored as sent: no data plane behind them).
LB_CHILDREN = ("frontendIPConfigurations", "backendAddressPools", "loadBalancingRules", "probes",
               "inboundNatPools", "inboundNatRules")


def bad_format(message: str, path: str) -> ArmError:
    return ArmError("Cannot parse the request.", code="InvalidRequestFormat",
                    details=[{"code": "InvalidJson", "message": f"{message} Path '{path}'."}])


def _object(value: Any, path: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad_format(f"Unexpected value {value!r}: an object was expected.", path)
    return value


def _members(obj: dict, allowed: set[str], type_name: str, path: str) -> None:
    for name in obj:
        if name not in allowed:
            raise bad_format(f"Could not find member '{name}' on object of type '{type_name}'.",
                             f"{path}.{name}" if path else name)


check_members = _members  # for bodies that are not resources (TagsObject)


def clean_properties(kind: str, value: Any, path: str) -> dict:
    """Check a `properties` object: unknown members rejected, read-only ones dropped."""
    type_name, accepted, read_only = PROPERTIES[kind]
    props = _object(value, path)
    _members(props, accepted | read_only, type_name, path)
    return {k: v for k, v in props.items() if k not in read_only}


def clean_child(kind: str, value: Any, path: str) -> dict:
    """A child object (a pool, a rule, a subnet ...) reduced to {"name", "properties"[, "zones"]}."""
    child = _object(value, path)
    _members(child, CHILD_TOP, kind[:-1][0].upper() + kind[1:-1], path)
    name = child.get("name")
    if not isinstance(name, str) or not name:
        raise ArmError(f"The '{path}.name' property is required.", code="InvalidRequestFormat")
    cleaned = {"name": name, "properties": clean_properties(kind, child.get("properties"), f"{path}.properties")}
    if child.get("zones") is not None:
        cleaned["zones"] = child["zones"]
    return cleaned


def clean_children(kind: str, value: Any, path: str) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_format(f"Unexpected value {value!r}: an array was expected.", path)
    children = [clean_child(kind, item, f"{path}[{i}]") for i, item in enumerate(value)]
    seen: set[str] = set()
    for child in children:
        if child["name"].lower() in seen:
            raise ArmError(f"Resource name '{child['name']}' is used more than once in '{path}'.",
                           code="InvalidRequestFormat")
        seen.add(child["name"].lower())
    return children


def clean_resource(kind: str, body: dict) -> dict:
    """A top-level resource body: unknown members rejected, read-only ones dropped, location required."""
    _members(body, TOP, TYPE_NAMES[kind], "")
    location = body.get("location")
    if not isinstance(location, str) or not location:
        raise ArmError("The 'location' property is required for this definition.", code="LocationRequired")
    if body.get("tags") is not None and not isinstance(body["tags"], dict):
        raise bad_format("Unexpected value for 'tags': an object was expected.", "tags")
    return {"location": location, "tags": body.get("tags") or {}, "sku": body.get("sku"),
            "zones": body.get("zones"), "extendedLocation": body.get("extendedLocation"),
            "properties": clean_properties(kind, body.get("properties"), "properties")}


def reference(value: Any, path: str) -> str | None:
    """A `{"id": ...}` sub-resource reference: its id, or None when absent."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise bad_format("A sub-resource reference must be an object with an 'id'.", path)
    return value["id"]


def integer(props: dict, name: str, path: str, *, low: int, high: int, required: bool = False,
            default: int | None = None) -> int | None:
    value = props.get(name)
    if value is None:
        if required:
            raise ArmError(f"Required property '{name}' is missing in '{path}'.", code="InvalidParameter")
        if default is not None:
            props[name] = default
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_format(f"Error converting value {value!r} to type 'System.Int32'.", f"{path}.{name}")
    if not low <= value <= high:
        raise ArmError(f"Property '{path}.{name}' has value {value}, which is outside the allowed range "
                       f"{low}-{high}.", code="InvalidParameter")
    return value


def choice(props: dict, name: str, path: str, allowed: tuple[str, ...], *, required: bool = False,
           default: str | None = None) -> str | None:
    value = props.get(name)
    if value is None:
        if required:
            raise ArmError(f"Required property '{name}' is missing in '{path}'.", code="InvalidParameter")
        if default is not None:
            props[name] = default
        return default
    for option in allowed:  # Azure matches enum values case-insensitively and answers its own spelling
        if isinstance(value, str) and value.lower() == option.lower():
            props[name] = option
            return option
    raise ArmError(f"Value '{value}' of property '{path}.{name}' is not valid; allowed: {', '.join(allowed)}.",
                   code="InvalidParameter")

"""Network security groups: checking a definition as Azure does, the default rules Azure adds, and rendering
(with the read-only back-references to the subnets and scale-set NICs that use the group).

Codes and messages are Azure's, as recorded in public threads (see DIVERGENCES.md, "Network security groups"):
SecurityRuleInvalidPriority, SecurityRuleConflict, SecurityRuleInvalidAddressPrefix,
SecurityRuleInvalidPortRange, SecurityRuleParameterContainsUnsupportedValue.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from ..core.errors import ArmError
from . import schema
from .resources import NetworkResource

if TYPE_CHECKING:
    from .models import NetworkBackend

PROTOCOLS = ("Tcp", "Udp", "Icmp", "Esp", "*", "Ah")
ACCESS = ("Allow", "Deny")
DIRECTIONS = ("Inbound", "Outbound")
# The tags the data plane knows how to match, plus well-known Azure service tags a rule may name (they never
# match a flow of the local cloud). A regional form ("Storage.WestEurope") is accepted for the ones Azure scopes.
DATA_PLANE_TAGS = ("Internet", "VirtualNetwork", "AzureLoadBalancer")
OTHER_TAGS = ("AzureCloud", "AzureTrafficManager", "Storage", "Sql", "AzureCosmosDB", "AzureKeyVault",
              "EventHub", "ServiceBus", "AzureMonitor", "AppService", "AzureActiveDirectory", "AzureContainerRegistry",
              "GatewayManager", "AzureFrontDoor.Backend", "AzureFrontDoor.Frontend", "AzureFrontDoor.FirstParty",
              "ApiManagement", "AzureBackup", "AzureBotService", "AzureDataLake", "AzureMachineLearning",
              "AzureResourceManager", "BatchNodeManagement", "GuestAndHybridManagement", "MicrosoftContainerRegistry",
              "AzurePlatformDNS", "AzurePlatformIMDS", "AzurePlatformLKM")
KNOWN_TAGS = {t.lower(): t for t in DATA_PLANE_TAGS + OTHER_TAGS}
MIN_PRIORITY, MAX_PRIORITY = 100, 4096


def _default(name: str, description: str, source: str, destination: str, access: str, priority: int,
             direction: str) -> dict:
    return {"name": name, "properties": {"description": description, "protocol": "*", "sourcePortRange": "*",
                                         "destinationPortRange": "*", "sourceAddressPrefix": source,
                                         "destinationAddressPrefix": destination, "access": access,
                                         "priority": priority, "direction": direction}}


# Azure's defaultSecurityRules, as the REST API examples show them (NetworkSecurityGroupCreateWithRule.json).
DEFAULT_RULES = (
    _default("AllowVnetInBound", "Allow inbound traffic from all VMs in VNET", "VirtualNetwork", "VirtualNetwork",
             "Allow", 65000, "Inbound"),
    _default("AllowAzureLoadBalancerInBound", "Allow inbound traffic from azure load balancer", "AzureLoadBalancer",
             "*", "Allow", 65001, "Inbound"),
    _default("DenyAllInBound", "Deny all inbound traffic", "*", "*", "Deny", 65500, "Inbound"),
    _default("AllowVnetOutBound", "Allow outbound traffic from all VMs to all VMs in VNET", "VirtualNetwork",
             "VirtualNetwork", "Allow", 65000, "Outbound"),
    _default("AllowInternetOutBound", "Allow outbound traffic from all VMs to Internet", "*", "Internet", "Allow",
             65001, "Outbound"),
    _default("DenyAllOutBound", "Deny all outbound traffic", "*", "*", "Deny", 65500, "Outbound"),
)


def known_tag(value: str) -> str | None:
    """Azure's spelling of a service tag (case-insensitive, a regional suffix allowed: "Storage.WestEurope")."""
    if not isinstance(value, str):
        return None
    if value.lower() in KNOWN_TAGS:
        return KNOWN_TAGS[value.lower()]
    base, dot, region = value.partition(".")
    return f"{KNOWN_TAGS[base.lower()]}.{region}" if dot and region and base.lower() in KNOWN_TAGS else None


def is_prefix(value: str) -> bool:
    """An address or a CIDR prefix without host bits (Azure refuses "50.206.209.68/27": azure-powershell #4557)."""
    try:
        ipaddress.ip_network(value, strict=True)
        return True
    except ValueError:
        return False


# --- checks --------------------------------------------------------------------------------------------------
class RuleChecker:
    """Validates the security rules of one group (`nsg` holds the ids)."""

    def __init__(self, nsg: NetworkResource):
        self.nsg = nsg

    def rule_id(self, rule: dict) -> str:
        return self.nsg.child_id("securityRules", rule["name"])

    def check_all(self, rules: list[dict]) -> None:
        for i, rule in enumerate(rules):
            self.check(rule, f"properties.securityRules[{i}].properties")
        seen: dict[tuple[str, int], str] = {}
        for rule in rules:
            p = rule["properties"]
            other = seen.get((p["direction"], p["priority"]))
            if other:
                raise ArmError(f"Security rule {other} conflicts with rule {rule['name']}. Rules cannot have the "
                               f"same Priority and Direction. To learn more, see aka.ms/nsgrules.",
                               code="SecurityRuleConflict")
            seen[(p["direction"], p["priority"])] = rule["name"]

    def check(self, rule: dict, path: str) -> None:
        p = rule["properties"]
        schema.choice(p, "protocol", path, PROTOCOLS, required=True)
        schema.choice(p, "access", path, ACCESS, required=True)
        schema.choice(p, "direction", path, DIRECTIONS, required=True)
        priority = p.get("priority")
        if isinstance(priority, bool) or not isinstance(priority, int) or not MIN_PRIORITY <= priority <= MAX_PRIORITY:
            shown = priority if priority is not None else 0
            raise ArmError(f"Security rule has invalid Priority. Value provided: {shown} Allowed range "
                           f"{MIN_PRIORITY}-{MAX_PRIORITY}.", code="SecurityRuleInvalidPriority")
        for side in ("source", "destination"):
            self.ports(p, f"{side}PortRange", f"{side}PortRanges")
            self.addresses(rule, p, side)
        if p.get("description") is not None and not isinstance(p["description"], str):
            raise schema.bad_format("Unexpected value: a string was expected.", f"{path}.description")

    def ports(self, p: dict, single: str, many: str) -> None:
        one, more = p.get(single), p.get(many)
        if more is not None and not isinstance(more, list):
            raise schema.bad_format("Unexpected value: an array was expected.", many)
        values = ([one] if one is not None else []) + list(more or [])
        if one is None and not more:  # Azure requires one of the pair
            raise ArmError(f"Security rule has invalid Port range. Value provided: . Value should be an integer OR "
                           f"integer range with '-' delimiter. Valid range 0-65535.",
                           code="SecurityRuleInvalidPortRange")
        if "*" in (more or []):
            raise ArmError(f"Security rule parameter {many[0].upper() + many[1:]} for rule with Id "
                           f"{self.nsg.id} cannot specify '*' in a list of port ranges.",
                           code="SecurityRuleParameterContainsInvalidPortRanges")
        for value in values:
            if value != "*" and parse_ports(value) is None:
                self.invalid_port(value)

    @staticmethod
    def invalid_port(value) -> None:
        raise ArmError(f"Security rule has invalid Port range. Value provided: {value}. Value should be an integer "
                       f"OR integer range with '-' delimiter. Valid range 0-65535.",
                       code="SecurityRuleInvalidPortRange")

    def addresses(self, rule: dict, p: dict, side: str) -> None:
        single, many = f"{side}AddressPrefix", f"{side}AddressPrefixes"
        one, more = p.get(single), p.get(many)
        if more is not None and not isinstance(more, list):
            raise schema.bad_format("Unexpected value: an array was expected.", many)
        groups = p.get(f"{side}ApplicationSecurityGroups")
        if one is None and not more and not groups:
            raise ArmError(f"Security rule {self.rule_id(rule)} has invalid Address prefix. Value provided: ",
                           code="SecurityRuleInvalidAddressPrefix")
        if one is not None:
            if not isinstance(one, str) or not (one == "*" or is_prefix(one) or known_tag(one)):
                raise ArmError(f"Security rule {self.rule_id(rule)} has invalid Address prefix. Value provided: "
                               f"{one}", code="SecurityRuleInvalidAddressPrefix")
            if known_tag(one):
                p[single] = known_tag(one)
        for value in more or []:
            if isinstance(value, str) and (value == "*" or known_tag(value)):
                raise ArmError(f"Security rule parameter {many[0].upper() + many[1:]} for rule with Id "
                               f"{self.rule_id(rule)} cannot specify existing VIRTUALNETWORK, INTERNET, "
                               f"AZURELOADBALANCER, '*' or system tags. Unsupported value used: {value}.",
                               code="SecurityRuleParameterContainsUnsupportedValue")
            if not isinstance(value, str) or not is_prefix(value):
                raise ArmError(f"Security rule {self.rule_id(rule)} has invalid Address prefix. Value provided: "
                               f"{value}", code="SecurityRuleInvalidAddressPrefix")


def parse_ports(value) -> tuple[int, int] | None:
    """"80" -> (80, 80), "1000-2000" -> (1000, 2000), "*" -> (0, 65535); None when invalid."""
    if value == "*":
        return 0, 65535
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    low, _, high = value.strip().partition("-")
    try:
        a, b = int(low), int(high or low)
    except ValueError:
        return None
    return (a, b) if 0 <= a <= b <= 65535 else None


def clean(body: dict) -> dict:
    cleaned = schema.clean_resource("networkSecurityGroups", body)
    props = cleaned["properties"]
    props["securityRules"] = schema.clean_children("securityRules", props.get("securityRules"),
                                                   "properties.securityRules")
    return cleaned


# --- rendering ---------------------------------------------------------------------------------------------------
def render_rule(nsg: NetworkResource, rule: dict, collection: str = "securityRules") -> dict:
    body = nsg.child(collection, rule)
    body["type"] = f"{nsg.type}/{collection}"
    return body


def render(backend: "NetworkBackend", nsg: NetworkResource) -> dict:
    props = {k: v for k, v in nsg.properties.items() if k != "securityRules"}
    props["securityRules"] = [render_rule(nsg, r) for r in nsg.properties["securityRules"]]
    props["defaultSecurityRules"] = [render_rule(nsg, r, "defaultSecurityRules") for r in DEFAULT_RULES]
    subnets, nics = backend.nsg_users(nsg.id)
    if subnets:
        props["subnets"] = [{"id": s} for s in subnets]
    if nics:
        props["networkInterfaces"] = [{"id": n} for n in nics]
    return nsg.envelope(props)

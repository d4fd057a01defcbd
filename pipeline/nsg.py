"""The app subnet's network security group as the pipeline wants it (pure; `steps/infra.py` applies it).

A Standard load balancer delivers nothing unless a network security group on the backend's subnet or NIC allows
the flow, and the group sees the flow after the load balancer's translation: the backend address and the BACKEND
port (floating IP off). So the ports are told apart by their backend ports:

    production rule backend port (8080)                 <- network.allow_production_from (default Internet)
    staging rule + per-instance NAT backend port (8081) <- network.allow_staging_from (required on Azure)

Health probes come from the AzureLoadBalancer service tag, which Azure's default rule AllowAzureLoadBalancerInBound
(priority 65001) allows; the pipeline adds no rule for them. The pipeline owns only the rules whose names start
with RULE_PREFIX: the user's own rules in the group are kept as they are.
"""

from __future__ import annotations

import copy
import ipaddress

from .config import Settings

RULE_PREFIX = "bluegreen-"
PRODUCTION_PRIORITY = 1000     # production rules: 1000, 1001, ...
STAGING_PRIORITY = 1100        # staging and per-instance rules: 1100, 1101, ...
READ_ONLY_RULE = ("provisioningState",)


def production_ports(s: Settings) -> list[int]:
    return [s.load_balancer.production_rule.backend_port]


def staging_ports(s: Settings) -> list[int]:
    lb = s.load_balancer
    ports = {lb.staging_rule.backend_port, lb.nat_pools.blue.backend_port, lb.nat_pools.green.backend_port}
    return sorted(ports - set(production_ports(s)))


def _is_prefix(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=True)
        return True
    except ValueError:
        return False


def _rules(kind: str, sources: tuple[str, ...], ports: list[int], first_priority: int) -> list[dict]:
    """One rule per service tag (Azure takes tags only in sourceAddressPrefix), one for all the CIDR prefixes."""
    tags = [v for v in sources if not _is_prefix(v)]
    prefixes = [v for v in sources if _is_prefix(v)]
    groups: list[dict] = [{"sourceAddressPrefix": tag} for tag in tags]
    if len(prefixes) == 1:
        groups.append({"sourceAddressPrefix": prefixes[0]})
    elif prefixes:
        groups.append({"sourceAddressPrefixes": prefixes})
    target = ({"destinationPortRange": str(ports[0])} if len(ports) == 1
              else {"destinationPortRanges": [str(p) for p in ports]})
    return [{"name": f"{RULE_PREFIX}{kind}-{i + 1}", "properties": {
        "description": f"bluegreen pipeline: {kind} backend port(s) {', '.join(map(str, ports))}",
        "protocol": "Tcp", "access": "Allow", "direction": "Inbound", "priority": first_priority + i,
        "sourcePortRange": "*", **source, "destinationAddressPrefix": "*", **target}}
        for i, source in enumerate(groups)]


def desired_rules(s: Settings) -> list[dict]:
    rules = _rules("production", s.network.allow_production_from, production_ports(s), PRODUCTION_PRIORITY)
    if staging_ports(s):
        rules += _rules("staging", s.staging_sources, staging_ports(s), STAGING_PRIORITY)
    return rules


def body(s: Settings) -> dict:
    """A new group: the pipeline's rules (Azure adds its default rules)."""
    return {"location": s.location, "tags": {"managed-by": "bluegreen-pipeline"},
            "properties": {"securityRules": desired_rules(s)}}


def _writable(rule: dict) -> dict:
    return {"name": rule["name"], "properties": {k: v for k, v in (rule.get("properties") or {}).items()
                                                 if k not in READ_ONLY_RULE and v not in (None, [])}}


def merge(actual_rules: list[dict], desired: list[dict]) -> tuple[list[dict], list[str]]:
    """(the rules to write, what changes): the user's rules as they are, the pipeline's as desired; the pipeline's
    rules no longer desired are removed. No change: an empty list (re-running infra is a no-op)."""
    wanted = {r["name"].lower(): r for r in desired}
    kept, changes = [], []
    for rule in actual_rules:
        name = rule["name"]
        if not name.lower().startswith(RULE_PREFIX):
            kept.append(_writable(rule))
            continue
        if name.lower() not in wanted:
            changes.append(f"remove {name}")
            continue
        want = wanted.pop(name.lower())
        if _writable(rule)["properties"] != _writable(want)["properties"]:
            changes.append(f"update {name}")
        kept.append(copy.deepcopy(want))
    for rule in desired:
        if rule["name"].lower() in wanted:
            changes.append(f"add {rule['name']}")
            kept.append(copy.deepcopy(rule))
    return kept, changes


def conflicts(actual_rules: list[dict], desired: list[dict]) -> list[str]:
    """The user's rules that hold a priority the pipeline's rules need (Azure: SecurityRuleConflict)."""
    taken = {((r.get("properties") or {}).get("direction"), (r.get("properties") or {}).get("priority")): r["name"]
             for r in actual_rules if not r["name"].lower().startswith(RULE_PREFIX)}
    return [f"{taken[key]} (priority {key[1]})" for r in desired
            if (key := (r["properties"]["direction"], r["properties"]["priority"])) in taken]


def describe(s: Settings) -> str:
    """One line for the dry run and the summary."""
    text = (f"production port {', '.join(map(str, production_ports(s)))} from "
            f"{', '.join(s.network.allow_production_from)}")
    if staging_ports(s):
        text += f"; staging port(s) {', '.join(map(str, staging_ports(s)))} from {', '.join(s.staging_sources)}"
    return text


def no_answer_hint(s: Settings, *, staging: bool) -> str:
    """What to check when a port does not answer: the NSG and the backend port it must open."""
    ports = staging_ports(s) if staging else production_ports(s)
    sources = s.staging_sources if staging else s.network.allow_production_from
    return (f"no answer: check that network security group {s.network.nsg_name} on subnet {s.network.subnet} "
            f"lets {', '.join(sources)} reach backend port {', '.join(map(str, ports))} "
            f"(`invoke infra` creates it), and that the app listens on that port")

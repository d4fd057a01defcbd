"""Network security group evaluation for one inbound flow (pure: no I/O, no emulator state).

A flow is described as the backend sees it: the client's address and port, the service tags the source belongs
to, the backend's own address and port (after the load balancer's translation: with floating IP off, Azure's
NSGs see the backend IP and backend port), and the backend subnet's prefixes. The rules of one group are tried
by priority (lowest number first), inbound only; the first that matches decides. Every group on the path
(subnet, then NIC) must allow the flow.

Source tags, decided by the data plane (documented in DIVERGENCES.md): a client reaching a public frontend is
"Internet"; one reaching an internal (subnet) frontend is "VirtualNetwork"; a health probe is "AzureLoadBalancer"
from 168.63.129.16. A CIDR rule matches the client's real (loopback) address, so tests can allow 127.0.0.1 and
deny 127.0.0.2. Application security groups and other service tags never match a flow of the local cloud.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

PROBE_SOURCE = "168.63.129.16"
_MATCHES_PROTOCOL = {"Tcp": ("*", "Tcp"), "Udp": ("*", "Udp")}


@dataclass(frozen=True)
class Flow:
    source: str
    source_port: int
    tags: frozenset[str]
    destination: str
    destination_port: int
    destination_prefixes: tuple[str, ...] = ()
    protocol: str = "Tcp"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    group: str = ""          # the group that decided (the first that denied, or the last that allowed)
    rule: str = ""           # the rule that decided in that group
    source_port_matters: bool = field(default=False, compare=False)


def _ports(value) -> tuple[int, int] | None:
    if value == "*":
        return 0, 65535
    low, _, high = str(value).strip().partition("-")
    try:
        return int(low), int(high or low)
    except ValueError:
        return None


def _in_ports(port: int, single, many) -> bool:
    for value in ([single] if single is not None else []) + list(many or []):
        span = _ports(value)
        if span and span[0] <= port <= span[1]:
            return True
    return False


def _network(value: str):
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def _source_matches(prefix: str, flow: Flow) -> bool:
    if prefix == "*":
        return True
    net = _network(prefix)
    if net is None:
        return prefix in flow.tags
    try:
        return ipaddress.ip_address(flow.source) in net
    except ValueError:
        return False


def _destination_matches(prefix: str, flow: Flow) -> bool:
    if prefix in ("*", "VirtualNetwork"):
        return True
    net = _network(prefix)
    if net is None:
        return False
    if ipaddress.ip_address(flow.destination) in net:
        return True
    subnets = [_network(p) for p in flow.destination_prefixes]
    return any(s is not None and s.version == net.version and s.subnet_of(net) for s in subnets)


def rule_matches(props: dict, flow: Flow) -> bool:
    if props.get("direction") != "Inbound" or props.get("protocol") not in _MATCHES_PROTOCOL[flow.protocol]:
        return False
    if not _in_ports(flow.destination_port, props.get("destinationPortRange"), props.get("destinationPortRanges")):
        return False
    if not _in_ports(flow.source_port, props.get("sourcePortRange"), props.get("sourcePortRanges")):
        return False
    sources = ([props["sourceAddressPrefix"]] if props.get("sourceAddressPrefix") else []) + \
        list(props.get("sourceAddressPrefixes") or [])
    if not any(_source_matches(p, flow) for p in sources):
        return False
    destinations = ([props["destinationAddressPrefix"]] if props.get("destinationAddressPrefix") else []) + \
        list(props.get("destinationAddressPrefixes") or [])
    return any(_destination_matches(p, flow) for p in destinations)


def inbound_rules(rules: list[dict], defaults: tuple[dict, ...]) -> list[dict]:
    """A group's inbound rules in evaluation order (its own, then Azure's defaults, by priority)."""
    return sorted((r for r in list(rules) + list(defaults) if r["properties"].get("direction") == "Inbound"),
                  key=lambda r: r["properties"]["priority"])


def group_verdict(name: str, ordered: list[dict], flow: Flow) -> Verdict:
    port_matters = any((r["properties"].get("sourcePortRange") or "*") != "*" or r["properties"].get(
        "sourcePortRanges") for r in ordered)
    for rule in ordered:
        if rule_matches(rule["properties"], flow):
            return Verdict(rule["properties"]["access"] == "Allow", name, rule["name"], port_matters)
    return Verdict(False, name, "", port_matters)


def path_verdict(groups: list[tuple[str, list[dict]]], flow: Flow, *, open_without_groups: bool) -> Verdict:
    """Every group on the path must allow (subnet first, then NIC). No group: `open_without_groups` decides
    (a Basic load balancer is open; a Standard one delivers nothing)."""
    if not groups:
        return Verdict(open_without_groups, "", "no network security group on the path")
    verdict = Verdict(True)
    matters = False
    for name, ordered in groups:
        verdict = group_verdict(name, ordered, flow)
        matters = matters or verdict.source_port_matters
        if not verdict.allowed:
            break
    return Verdict(verdict.allowed, verdict.group, verdict.rule, matters)

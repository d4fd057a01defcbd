"""Does a network security group let a TCP flow in? Azure's evaluation, on facts alone (pure).

Inbound rules are evaluated by priority, lowest number first; the first rule that matches the flow's
protocol, destination port and source decides (Allow or Deny) and evaluation stops. Every NSG carries the
default rules AllowVnetInBound (65000), AllowAzureLoadBalancerInBound (65001) and DenyAllInBound (65500).
With an NSG on the subnet and one on the NIC, a flow gets in only when both allow it.
(Microsoft Learn, "How network security groups filter network traffic" and "Network security groups".)

A configured source is a CIDR prefix, an address, or a service tag (Internet, VirtualNetwork,
AzureLoadBalancer, *). A rule decides for the source when its prefix covers the whole source; a Deny rule
that covers only part of it is counted as blocking (the stricter reading: part of the configured sources
would be refused), an Allow rule that covers only part of it decides nothing.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pipeline.doctor.facts import NsgFacts, NsgRuleFacts

ANY = {"*", "any", "0.0.0.0/0", "::/0"}
DEFAULT_INBOUND = (
    NsgRuleFacts("AllowVnetInBound", 65000, "Inbound", "Allow", "*", ("VirtualNetwork",), ("*",)),
    NsgRuleFacts("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "*", ("AzureLoadBalancer",), ("*",)),
    NsgRuleFacts("DenyAllInBound", 65500, "Inbound", "Deny", "*", ("*",), ("*",)),
)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    rule: str                       # the rule that decided ("" when none did, which cannot happen with defaults)


def _network(text: str):
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def coverage(rule_prefix: str, source: str) -> str:
    """'all', 'part' or 'none': how much of `source` the rule's source prefix matches."""
    r, s = rule_prefix.strip().lower(), source.strip().lower()
    if r in ANY:
        return "all"
    if s in ANY:
        return "part"                # a narrower rule matches some of "anywhere"
    if r == s:
        return "all"
    rn, sn = _network(r), _network(s)
    if rn is not None and sn is not None:
        if rn.version != sn.version:
            return "none"
        if sn.subnet_of(rn):
            return "all"
        return "part" if rn.overlaps(sn) else "none"
    if r == "internet":
        if sn is not None:           # the Internet tag: the address space outside the virtual network
            return "all" if sn.is_global else "none"
        return "none"
    if s == "internet":
        return "part" if rn is not None and rn.is_global else "none"
    if r == "virtualnetwork" and sn is not None and sn.is_private:
        return "part"                # depends on the address space: not enough to count as allowed
    return "none"


def _port_matches(ranges: tuple[str, ...], port: int) -> bool:
    for text in ranges:
        text = text.strip()
        if text == "*":
            return True
        low, _, high = text.partition("-")
        try:
            if int(low) <= port <= int(high or low):
                return True
        except ValueError:
            continue
    return False


def _with_defaults(nsg: NsgFacts) -> list[NsgRuleFacts]:
    rules = list(nsg.rules)
    names = {r.name.lower() for r in rules}
    rules += [d for d in DEFAULT_INBOUND if d.name.lower() not in names]
    return sorted((r for r in rules if r.direction.lower() == "inbound"), key=lambda r: r.priority)


def evaluate(nsg: NsgFacts, *, port: int, source: str, protocol: str = "Tcp") -> Verdict:
    for rule in _with_defaults(nsg):
        if rule.protocol not in ("*", "Any") and rule.protocol.lower() != protocol.lower():
            continue
        if not _port_matches(rule.ports, port):
            continue
        covered = {coverage(p, source) for p in rule.sources}
        if "all" in covered:
            return Verdict(rule.access.lower() == "allow", rule.name)
        if "part" in covered and rule.access.lower() == "deny":
            return Verdict(False, rule.name)
    return Verdict(False, "")


def evaluate_path(nsgs: tuple[NsgFacts, ...], *, port: int, source: str) -> tuple[bool, str]:
    """Through every NSG on the path (subnet, then NIC): (allowed, 'nsg/rule' that refused or '' )."""
    for nsg in nsgs:
        verdict = evaluate(nsg, port=port, source=source)
        if not verdict.allowed:
            return False, f"{nsg.name}/{verdict.rule or 'no rule'}"
    return True, ""

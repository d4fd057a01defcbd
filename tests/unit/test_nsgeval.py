"""Network security group evaluation (pure): priority order, first match decides, every group on the path must
allow, tags and prefixes for sources, the backend port, and no group on a Standard path."""

from __future__ import annotations

from pipeline.emulator.network.nsg import DEFAULT_RULES
from pipeline.emulator.runtime.nsgeval import PROBE_SOURCE, Flow, inbound_rules, path_verdict


def rule(name: str, priority: int, *, access: str = "Allow", source: str = "*", port: str = "*",
         source_port: str = "*", destination: str = "*", protocol: str = "Tcp") -> dict:
    return {"name": name, "properties": {"protocol": protocol, "access": access, "direction": "Inbound",
                                         "priority": priority, "sourceAddressPrefix": source,
                                         "sourcePortRange": source_port, "destinationAddressPrefix": destination,
                                         "destinationPortRange": port}}


def group(*rules: dict, name: str = "nsg") -> tuple[str, list[dict]]:
    return name, inbound_rules(list(rules), DEFAULT_RULES)


def flow(source: str = "127.0.0.1", *, tags=("Internet",), port: int = 8080, source_port: int = 40000) -> Flow:
    return Flow(source=source, source_port=source_port, tags=frozenset(tags), destination="127.21.0.5",
                destination_port=port, destination_prefixes=("10.0.1.0/24",))


def test_the_lowest_priority_number_decides():
    nsg = group(rule("deny", 200, access="Deny", port="8080"), rule("allow", 100, port="8080"))
    verdict = path_verdict([nsg], flow(), open_without_groups=False)
    assert verdict.allowed and verdict.rule == "allow"
    nsg = group(rule("deny", 100, access="Deny", source="127.0.0.2/32"), rule("allow", 200, port="8080"))
    assert path_verdict([nsg], flow("127.0.0.1"), open_without_groups=False).allowed
    denied = path_verdict([nsg], flow("127.0.0.2"), open_without_groups=False)
    assert not denied.allowed and (denied.group, denied.rule) == ("nsg", "deny")


def test_defaults_deny_the_internet_allow_the_vnet_and_the_probe():
    nsg = group()
    internet = path_verdict([nsg], flow(), open_without_groups=False)
    assert not internet.allowed and internet.rule == "DenyAllInBound"
    vnet = path_verdict([nsg], flow(tags=("VirtualNetwork",)), open_without_groups=False)
    assert vnet.allowed and vnet.rule == "AllowVnetInBound"
    probe = path_verdict([nsg], flow(PROBE_SOURCE, tags=("AzureLoadBalancer",)), open_without_groups=False)
    assert probe.allowed and probe.rule == "AllowAzureLoadBalancerInBound"


def test_ports_prefixes_and_protocols():
    nsg = group(rule("web", 100, source="Internet", port="8000-8080"))
    assert path_verdict([nsg], flow(port=8080), open_without_groups=False).allowed
    assert not path_verdict([nsg], flow(port=8081), open_without_groups=False).allowed
    udp = group(rule("udp", 100, protocol="Udp"))
    assert not path_verdict([udp], flow(), open_without_groups=False).allowed
    subnet = group(rule("to-subnet", 100, destination="10.0.0.0/16"))
    assert path_verdict([subnet], flow(), open_without_groups=False).allowed  # the backend subnet is inside
    elsewhere = group(rule("elsewhere", 100, destination="10.9.0.0/16"))
    assert not path_verdict([elsewhere], flow(), open_without_groups=False).allowed


def test_every_group_on_the_path_must_allow():
    allow = group(rule("allow", 100), name="subnet")
    deny = group(rule("deny", 100, access="Deny", source="Internet"), name="nic")
    verdict = path_verdict([allow, deny], flow(), open_without_groups=False)
    assert not verdict.allowed and verdict.group == "nic"
    assert path_verdict([allow, allow], flow(), open_without_groups=False).allowed


def test_no_group_on_the_path():
    assert not path_verdict([], flow(), open_without_groups=False).allowed   # Standard: secure by default
    assert path_verdict([], flow(), open_without_groups=True).allowed        # Basic: open


def test_a_rule_on_source_ports_makes_the_decision_per_port():
    nsg = group(rule("high-ports", 100, source_port="1024-65535"))
    verdict = path_verdict([nsg], flow(source_port=40000), open_without_groups=False)
    assert verdict.allowed and verdict.source_port_matters
    assert not path_verdict([nsg], flow(source_port=80), open_without_groups=False).allowed
    assert not path_verdict([group(rule("any", 100))], flow(), open_without_groups=False).source_port_matters

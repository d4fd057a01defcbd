"""The environment's base infrastructure as desired ARM bodies (pure; `steps/infra.py` applies them).

Resource group, network security group (pipeline/nsg.py), virtual network and subnet, public IP, load balancer
(frontend, blue and green pools, health probe, production and staging rules, one inbound NAT pool per color),
gallery and image definition.
A team that owns this in Terraform or Bicep provides the same names instead (see the README).
"""

from __future__ import annotations

from .config import Settings
from .ids import Ids

FRONTEND = "frontend"


def resource_group(s: Settings) -> dict:
    return {"location": s.location, "tags": {"managed-by": "bluegreen-pipeline"}}


def virtual_network(s: Settings, *, nsg_id: str | None = None) -> dict:
    """The virtual network with the app subnet (and its network security group, pipeline/nsg.py)."""
    subnet: dict = {"addressPrefix": s.network.subnet_prefixes[0]}
    if nsg_id:
        subnet["networkSecurityGroup"] = {"id": nsg_id}
    return {"location": s.location, "properties": {
        "addressSpace": {"addressPrefixes": list(s.network.vnet_prefixes)},
        "subnets": [{"name": s.network.subnet, "properties": subnet}]}}


SUBNET_READ_ONLY = ("provisioningState", "ipConfigurations", "ipConfigurationProfiles", "privateEndpoints",
                    "resourceNavigationLinks", "serviceAssociationLinks", "purpose")


def subnet_with_nsg(actual: dict, nsg_id: str) -> dict:
    """An existing subnet (as read) with the network security group set; read-only members left out."""
    props = {k: v for k, v in (actual.get("properties") or {}).items() if k not in SUBNET_READ_ONLY}
    return {"properties": {**props, "networkSecurityGroup": {"id": nsg_id}}}


def public_ip(s: Settings) -> dict:
    return {"location": s.location, "sku": {"name": "Standard"},
            "properties": {"publicIPAllocationMethod": "Static", "publicIPAddressVersion": "IPv4"}}


def load_balancer(s: Settings, ids: Ids, *, live_color: str = "blue") -> dict:
    """A new load balancer: production on `live_color`'s pool, staging on the other."""
    lb = s.load_balancer
    child = lambda kind, name: {"id": ids.lb_child(lb.name, kind, name)}  # noqa: E731
    idle = "green" if live_color == "blue" else "blue"

    def rule(r, pool: str) -> dict:
        return {"name": r.name, "properties": {
            "frontendIPConfiguration": child("frontendIPConfigurations", FRONTEND),
            "backendAddressPool": child("backendAddressPools", pool), "probe": child("probes", lb.probe.name),
            "protocol": "Tcp", "frontendPort": r.frontend_port, "backendPort": r.backend_port,
            "idleTimeoutInMinutes": 4, "enableFloatingIP": False, "disableOutboundSnat": True,
            "loadDistribution": "Default"}}

    def nat_pool(n) -> dict:
        return {"name": n.name, "properties": {
            "frontendIPConfiguration": child("frontendIPConfigurations", FRONTEND), "protocol": "Tcp",
            "frontendPortRangeStart": n.frontend_port_start, "frontendPortRangeEnd": n.frontend_port_end,
            "backendPort": n.backend_port}}

    return {"location": s.location, "sku": {"name": "Standard"}, "properties": {
        "frontendIPConfigurations": [{"name": FRONTEND, "properties": {
            "publicIPAddress": {"id": ids.public_ip(lb.frontend)}}}],
        "backendAddressPools": [{"name": lb.backend_pools.blue}, {"name": lb.backend_pools.green}],
        "probes": [{"name": lb.probe.name, "properties": {
            "protocol": "Http", "port": lb.probe.port, "requestPath": lb.probe.path,
            "intervalInSeconds": max(5, int(lb.probe.interval.total_seconds())),
            "numberOfProbes": lb.probe.threshold, "probeThreshold": lb.probe.threshold}}],
        "loadBalancingRules": [rule(lb.production_rule, lb.backend_pools.for_color(live_color)),
                               rule(lb.staging_rule, lb.backend_pools.for_color(idle))],
        "inboundNatPools": [nat_pool(lb.nat_pools.blue), nat_pool(lb.nat_pools.green)]}}


def missing_parts(actual: dict, desired: dict) -> dict[str, list[str]]:
    """Children the desired load balancer has and the actual one lacks, by kind (never touches existing ones,
    so re-running infra can not move traffic)."""
    missing: dict[str, list[str]] = {}
    for kind in ("frontendIPConfigurations", "backendAddressPools", "probes", "loadBalancingRules",
                 "inboundNatPools"):
        have = {c.get("name", "").lower() for c in actual.get("properties", {}).get(kind, [])}
        lacking = [c["name"] for c in desired["properties"][kind] if c["name"].lower() not in have]
        if lacking:
            missing[kind] = lacking
    return missing


def backend_port_drift(actual: dict, desired: dict) -> list[str]:
    """Existing rules and NAT pools whose backend port differs from the settings (infra never changes them, and
    the network security group opens ports by the settings): one line each."""
    drift = []
    for kind in ("loadBalancingRules", "inboundNatPools"):
        wanted = {c["name"].lower(): c["properties"]["backendPort"] for c in desired["properties"][kind]}
        for child in actual.get("properties", {}).get(kind, []):
            port = (child.get("properties") or {}).get("backendPort")
            want = wanted.get(child.get("name", "").lower())
            if want is not None and port != want:
                drift.append(f"{child['name']} sends to backend port {port}, the settings say {want}")
    return drift


def with_missing_parts(actual: dict, desired: dict) -> dict:
    """`actual` plus the children it lacks (existing children are kept exactly as they are)."""
    import copy

    merged = copy.deepcopy(actual)
    props = merged.setdefault("properties", {})
    for kind, names in missing_parts(actual, desired).items():
        wanted = {c["name"]: c for c in desired["properties"][kind]}
        props.setdefault(kind, []).extend(copy.deepcopy(wanted[n]) for n in names)
    return merged


def gallery(s: Settings) -> dict:
    return {"location": s.location, "properties": {"description": f"Images of {s.app}, baked by the pipeline"}}


def image_definition(s: Settings) -> dict:
    return {"location": s.location, "properties": {
        "osType": "Linux", "osState": "Generalized", "hyperVGeneration": "V2",
        "identifier": {"publisher": s.image.publisher, "offer": s.image.offer, "sku": s.image.sku}}}

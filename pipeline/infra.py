"""The environment's base infrastructure as desired ARM bodies (pure; `steps/infra.py` applies them).

Resource group, network security group (pipeline/nsg.py), virtual network and subnet, public IP, load balancer
(frontend, blue and green pools, health probe, production and staging rules, one inbound NAT rule V2 per color's
pool for per-instance access), gallery and image definition; and the migration of an older set-up's NAT pools
(V1) to those rules.
A team that owns this in Terraform or Bicep provides the same names instead (see the README).
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import Settings
from .errors import ConfigError
from .ids import Ids
from .ledger import other

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
    idle = other(live_color)

    def rule(r, pool: str) -> dict:
        return {"name": r.name, "properties": {
            "frontendIPConfiguration": child("frontendIPConfigurations", FRONTEND),
            "backendAddressPool": child("backendAddressPools", pool), "probe": child("probes", lb.probe.name),
            "protocol": "Tcp", "frontendPort": r.frontend_port, "backendPort": r.backend_port,
            "idleTimeoutInMinutes": 4, "enableFloatingIP": False, "disableOutboundSnat": True,
            "loadDistribution": "Default"}}

    def nat_rule(color: str) -> dict:
        n = lb.nat_rules.for_color(color)
        return {"name": n.name, "properties": {
            "frontendIPConfiguration": child("frontendIPConfigurations", FRONTEND), "protocol": "Tcp",
            "backendAddressPool": child("backendAddressPools", lb.backend_pools.for_color(color)),
            "frontendPortRangeStart": n.frontend_port_start, "frontendPortRangeEnd": n.frontend_port_end,
            "backendPort": n.backend_port, "idleTimeoutInMinutes": 4, "enableFloatingIP": False}}

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
        "inboundNatRules": [nat_rule("blue"), nat_rule("green")]}}


def missing_parts(actual: dict, desired: dict) -> dict[str, list[str]]:
    """Children the desired load balancer has and the actual one lacks, by kind (never touches existing ones,
    so re-running infra can not move traffic)."""
    missing: dict[str, list[str]] = {}
    for kind in ("frontendIPConfigurations", "backendAddressPools", "probes", "loadBalancingRules",
                 "inboundNatRules"):
        have = {c.get("name", "").lower() for c in actual.get("properties", {}).get(kind, [])}
        lacking = [c["name"] for c in desired["properties"][kind] if c["name"].lower() not in have]
        if lacking:
            missing[kind] = lacking
    return missing


def backend_port_drift(actual: dict, desired: dict) -> list[str]:
    """Existing load-balancing and inbound NAT rules whose backend port differs from the settings (infra never
    changes them, and the network security group opens ports by the settings): one line each."""
    drift = []
    for kind in ("loadBalancingRules", "inboundNatRules"):
        wanted = {c["name"].lower(): c["properties"]["backendPort"]
                  for c in desired["properties"].get(kind, [])}
        for child in actual.get("properties", {}).get(kind, []):
            port = (child.get("properties") or {}).get("backendPort")
            want = wanted.get(child.get("name", "").lower())
            if want is not None and port != want:
                drift.append(f"{child['name']} sends to backend port {port}, the settings say {want}")
    return drift


def with_missing_parts(actual: dict, desired: dict, *, remove_nat_pools: tuple[str, ...] = ()) -> dict:
    """`actual` plus the children it lacks (existing children are kept exactly as they are), without the NAT
    pools named in `remove_nat_pools`; the NAT rules Azure derives from NAT pools are never sent back."""
    import copy

    merged = copy.deepcopy(actual)
    props = merged.setdefault("properties", {})
    for kind, names in missing_parts(actual, desired).items():
        wanted = {c["name"]: c for c in desired["properties"][kind]}
        props.setdefault(kind, []).extend(copy.deepcopy(wanted[n]) for n in names)
    gone = {name.lower() for name in remove_nat_pools}
    pools = [p.get("name", "") for p in props.get("inboundNatPools", [])]
    props["inboundNatRules"] = [r for r in props.get("inboundNatRules", []) if not _derived(r.get("name", ""), pools)]
    if "inboundNatPools" in props:
        props["inboundNatPools"] = [p for p in props["inboundNatPools"] if p.get("name", "").lower() not in gone]
    return merged


def _derived(rule: str, pools: list[str]) -> bool:
    """"<pool>.<n>": a rule Azure made for one instance of a NAT pool, not one of the load balancer's own."""
    pool, _, number = rule.rpartition(".")
    return number.isdigit() and pool.lower() in {p.lower() for p in pools}


@dataclass(frozen=True)
class NatMigration:
    """What `invoke infra` does with an older set-up's NAT pools (V1): remove the ones no scale set uses, keep
    the others (Azure refuses to remove a NAT pool a scale set references) until their fleets are retired."""

    remove: tuple[str, ...]
    keep: tuple[tuple[str, tuple[str, ...]], ...]     # (NAT pool, the scale sets using it)

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(f"NAT pool {pool} kept: still used by {', '.join(users)}; `invoke infra` removes it once "
                     f"{'that fleet is' if len(users) == 1 else 'those fleets are'} retired"
                     for pool, users in self.keep)


def plan_nat_migration(s: Settings, actual: dict, users: dict[str, list[str]]) -> NatMigration:
    """`users`: {NAT pool name (lower-case): names of the scale sets whose model references it}. Raises
    ConfigError when a NAT rule of pipeline.toml would share ports with a NAT pool that must stay."""
    remove, keep = [], []
    for pool in actual.get("properties", {}).get("inboundNatPools", []):
        name = pool.get("name", "")
        using = sorted(users.get(name.lower(), []))
        if not using:
            remove.append(name)
            continue
        keep.append((name, tuple(using)))
        p = pool.get("properties", {})
        start, end = p.get("frontendPortRangeStart", 0), p.get("frontendPortRangeEnd", -1)
        have = {r.get("name", "").lower() for r in actual.get("properties", {}).get("inboundNatRules", [])}
        for color in ("blue", "green"):
            rule = s.load_balancer.nat_rules.for_color(color)
            if rule.name.lower() not in have and rule.frontend_port_start <= end and start <= rule.frontend_port_end:
                raise ConfigError(
                    f"{s.config_path}: environments.{s.environment}.load_balancer.nat_rules.{color} ports "
                    f"{rule.frontend_port_start}-{rule.frontend_port_end} overlap NAT pool {name} ({start}-{end}), "
                    f"which {', '.join(using)} still use(s); give the NAT rule a range disjoint from the pool's, or "
                    f"retire those fleets first")
    return NatMigration(tuple(remove), tuple(keep))


def nat_pool_users(scale_sets: list[dict]) -> dict[str, list[str]]:
    """{NAT pool name (lower-case): scale-set names} from scale sets as REST JSON (their model's references)."""
    users: dict[str, list[str]] = {}
    for vmss in scale_sets:
        profile = vmss.get("properties", {}).get("virtualMachineProfile") or {}
        for nic in (profile.get("networkProfile") or {}).get("networkInterfaceConfigurations") or []:
            for ipc in (nic.get("properties") or {}).get("ipConfigurations") or []:
                for ref in (ipc.get("properties") or {}).get("loadBalancerInboundNatPools") or []:
                    pool = ref.get("id", "").rstrip("/").rsplit("/", 1)[-1].lower()
                    users.setdefault(pool, [])
                    if vmss.get("name") not in users[pool]:
                        users[pool].append(vmss.get("name"))
    return users


def gallery(s: Settings) -> dict:
    return {"location": s.location, "properties": {"description": f"Images of {s.app}, baked by the pipeline"}}


# The definition's SecurityType: TrustedLaunchSupported takes both Standard and TrustedLaunch scale sets, so
# `fleet.security_type` can change later without a new definition (Azure does not let an existing definition's
# features change, except with allowUpdateImage from a later version on).
DEFINITION_SECURITY_TYPE = "TrustedLaunchSupported"
# Which scale-set security types each definition SecurityType lets Azure create (no feature: Standard only).
SECURITY_TYPES_ALLOWED = {None: ("Standard",), "Standard": ("Standard",), "TrustedLaunch": ("TrustedLaunch",),
                          "TrustedLaunchSupported": ("Standard", "TrustedLaunch"),
                          "TrustedLaunchAndConfidentialVmSupported": ("Standard", "TrustedLaunch"),
                          "ConfidentialVMSupported": ("Standard",), "ConfidentialVM": ()}


def image_definition(s: Settings) -> dict:
    return {"location": s.location, "properties": {
        "osType": "Linux", "osState": "Generalized", "hyperVGeneration": "V2",
        "features": [{"name": "SecurityType", "value": DEFINITION_SECURITY_TYPE}],
        "identifier": {"publisher": s.image.publisher, "offer": s.image.offer, "sku": s.image.sku}}}


def definition_security_type(definition: dict) -> str | None:
    """The SecurityType feature of an image definition as read (None when it has none)."""
    for feature in (definition.get("properties") or {}).get("features") or []:
        if str(feature.get("name", "")).lower() == "securitytype":
            return feature.get("value")
    return None


def definition_allows(definition: dict, security_type: str) -> bool:
    return security_type in SECURITY_TYPES_ALLOWED.get(definition_security_type(definition), ())

"""Load balancers: checking a definition as Azure does, and rendering it with the back-references Azure
computes (a pool's backendIPConfigurations, its NIC members' loadBalancerBackendAddresses and its
loadBalancingRules, a probe's and a frontend's rules, and the inbound NAT rules derived from NAT pools: one
per scale-set instance, "<natpool>.<instance id>"; see natrules.py).
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING

from ..core.errors import ArmError, InvalidParameter, InvalidResourceReference
from ..core.ids import same
from . import natrules, schema
from .backendaddresses import member_addresses
from .resources import NetworkResource, find

if TYPE_CHECKING:
    from .models import NetworkBackend

PROTOCOLS = ("Tcp", "Udp", "All")
PROBE_PROTOCOLS = ("Http", "Https", "Tcp")


def not_found(ref: str, by: str) -> InvalidResourceReference:
    return InvalidResourceReference(
        f"Resource {ref} referenced by resource {by} was not found. Please make sure that the referenced "
        f"resource exists, and that both resources are in the same region.")


def clean(kind_body: dict) -> dict:
    """Cleaned top-level fields and properties, children reduced to {"name", "properties"}."""
    cleaned = schema.clean_resource("loadBalancers", kind_body)
    props = cleaned["properties"]
    for collection in schema.LB_CHILDREN:
        props[collection] = schema.clean_children(collection, props.get(collection),
                                                  f"properties.{collection}")
    if props.get("outboundRules") is None:
        props["outboundRules"] = []
    return cleaned


def drop_derived_nat_rules(props: dict) -> None:
    """Clients send back the NAT rules Azure derived from NAT pools; they are not input."""
    pools = [p["name"] for p in props["inboundNatPools"]]
    derived = re.compile("^(" + "|".join(re.escape(p) for p in pools) + r")\.\d+$", re.IGNORECASE) if pools else None
    props["inboundNatRules"] = [r for r in props["inboundNatRules"]
                                if not (derived and derived.match(r["name"]))]


class Checker:
    """Validates one load balancer definition (`lb` holds its ids; `props` the cleaned properties)."""

    def __init__(self, backend: "NetworkBackend", lb: NetworkResource, props: dict):
        self.backend, self.lb, self.props = backend, lb, props

    def child_ref(self, value, path: str, collection: str, by: str, *, required: bool = False) -> str | None:
        ref = schema.reference(value, path)
        if ref is None:
            if required:
                raise InvalidParameter(f"Required property '{path.rsplit('.', 1)[-1]}' is missing in "
                                       f"{by}.")
            return None
        name = ref.rstrip("/").rsplit("/", 1)[-1]
        if not same(ref, self.lb.child_id(collection, name)) or find(self.props[collection], name) is None:
            raise not_found(ref, by)
        return name

    def check(self) -> None:
        for i, fe in enumerate(self.props["frontendIPConfigurations"]):
            self.frontend(fe, f"properties.frontendIPConfigurations[{i}]")
        for i, probe in enumerate(self.props["probes"]):
            self.probe(probe, f"properties.probes[{i}]")
        for i, rule in enumerate(self.props["loadBalancingRules"]):
            self.rule(rule, f"properties.loadBalancingRules[{i}]")
        for i, pool in enumerate(self.props["inboundNatPools"]):
            self.nat_pool(pool, f"properties.inboundNatPools[{i}]")
        for i, rule in enumerate(self.props["inboundNatRules"]):
            self.nat_rule(rule, f"properties.inboundNatRules[{i}]")
        self.ports_unique()

    def frontend(self, fe: dict, path: str) -> None:
        props, by = fe["properties"], self.lb.child_id("frontendIPConfigurations", fe["name"])
        public_ip = schema.reference(props.get("publicIPAddress"), f"{path}.properties.publicIPAddress")
        subnet = schema.reference(props.get("subnet"), f"{path}.properties.subnet")
        if public_ip is None and subnet is None:
            raise InvalidParameter(f"Frontend IP configuration {by} must reference either a public IP address "
                                   f"or a subnet.")
        if public_ip and subnet:
            raise InvalidParameter(f"Frontend IP configuration {by} cannot reference both a public IP address "
                                   f"and a subnet.")
        if public_ip:
            pip = self.backend.get_public_ip_by_id(public_ip)
            if pip is None:
                raise not_found(public_ip, by)
            owner = self.backend.public_ip_user(pip)
            if owner and not owner.lower().startswith(self.lb.id.lower() + "/"):
                raise ArmError(f"Resource {by} is referencing public IP address {pip.id} that is already "
                               f"allocated to resource {owner}.", code="PublicIPAddressInUse")
        else:
            if self.backend.find_subnet(subnet) is None:
                raise not_found(subnet, by)
            schema.choice(props, "privateIPAllocationMethod", path, ("Dynamic", "Static"), default="Dynamic")
            schema.choice(props, "privateIPAddressVersion", path, ("IPv4", "IPv6"), default="IPv4")
            props.pop("privateIPAddress", None)  # the emulator allocates every frontend a loopback address

    def probe(self, probe: dict, path: str) -> None:
        props, path = probe["properties"], f"{path}.properties"
        protocol = schema.choice(props, "protocol", path, PROBE_PROTOCOLS, required=True)
        schema.integer(props, "port", path, low=1, high=65535, required=True)
        schema.integer(props, "intervalInSeconds", path, low=5, high=2147483647, default=15)
        schema.integer(props, "numberOfProbes", path, low=1, high=2147483647, default=2)
        schema.integer(props, "probeThreshold", path, low=1, high=2147483647)
        if protocol in ("Http", "Https"):
            if not props.get("requestPath"):
                raise InvalidParameter(f"RequestPath is required for probe {probe['name']} with protocol "
                                       f"{protocol}.", code="ProbeRequestPathRequired")
        elif props.get("requestPath"):
            raise InvalidParameter(f"RequestPath must not be set for probe {probe['name']} with protocol Tcp.",
                                   code="ProbeRequestPathNotAllowed")

    def rule(self, rule: dict, path: str) -> None:
        props, by, ppath = rule["properties"], self.lb.child_id("loadBalancingRules", rule["name"]), f"{path}.properties"
        self.child_ref(props.get("frontendIPConfiguration"), f"{ppath}.frontendIPConfiguration",
                       "frontendIPConfigurations", by, required=True)
        schema.choice(props, "protocol", ppath, PROTOCOLS, required=True)
        schema.integer(props, "frontendPort", ppath, low=0, high=65534, required=True)
        schema.integer(props, "backendPort", ppath, low=0, high=65535, default=props.get("frontendPort"))
        schema.integer(props, "idleTimeoutInMinutes", ppath, low=4, high=100, default=4)
        props.setdefault("enableFloatingIP", False)
        props.setdefault("enableTcpReset", False)
        props.setdefault("disableOutboundSnat", False)
        props.setdefault("enableConnectionTracking", False)
        schema.choice(props, "loadDistribution", ppath, ("Default", "SourceIP", "SourceIPProtocol"),
                      default="Default")
        single = self.child_ref(props.get("backendAddressPool"), f"{ppath}.backendAddressPool",
                                "backendAddressPools", by)
        many = props.get("backendAddressPools")
        if many is not None:
            if not isinstance(many, list):
                raise schema.bad_format("Unexpected value: an array was expected.", f"{ppath}.backendAddressPools")
            names = [self.child_ref(p, f"{ppath}.backendAddressPools[{i}]", "backendAddressPools", by)
                     for i, p in enumerate(many)]
            if single and names and names[0].lower() != single.lower():
                raise ArmError(f"BackendAddressPool and BackendAddressPools[] in LoadBalancingRule {rule['name']} "
                               f"cannot be set at the same time with different value.",
                               code="LoadBalancingRuleBackendAdressPoolAndBackendAddressPoolsCannotBeSetAtTheSame"
                                    "TimeWithDifferentValue")
            if not single and names:  # Azure mirrors the first of backendAddressPools into backendAddressPool
                props["backendAddressPool"] = {"id": self.lb.child_id("backendAddressPools", names[0])}
        elif single:
            props["backendAddressPools"] = [{"id": props["backendAddressPool"]["id"]}]
        self.child_ref(props.get("probe"), f"{ppath}.probe", "probes", by)

    def nat_pool(self, pool: dict, path: str) -> None:
        props, by, ppath = pool["properties"], self.lb.child_id("inboundNatPools", pool["name"]), f"{path}.properties"
        self.child_ref(props.get("frontendIPConfiguration"), f"{ppath}.frontendIPConfiguration",
                       "frontendIPConfigurations", by, required=True)
        schema.choice(props, "protocol", ppath, PROTOCOLS, required=True)
        start = schema.integer(props, "frontendPortRangeStart", ppath, low=1, high=65534, required=True)
        end = schema.integer(props, "frontendPortRangeEnd", ppath, low=1, high=65535, required=True)
        schema.integer(props, "backendPort", ppath, low=1, high=65535, required=True)
        schema.integer(props, "idleTimeoutInMinutes", ppath, low=4, high=100, default=4)
        props.setdefault("enableFloatingIP", False)
        props.setdefault("enableTcpReset", False)
        if end < start:
            raise InvalidParameter(f"Inbound NAT pool {by} has frontendPortRangeEnd {end} lower than "
                                   f"frontendPortRangeStart {start}.")

    def nat_rule(self, rule: dict, path: str) -> None:
        """V1 (one frontendPort, a NIC points at it) or V2 (a backend pool and a frontend port range)."""
        props, by, ppath = rule["properties"], self.lb.child_id("inboundNatRules", rule["name"]), f"{path}.properties"
        self.child_ref(props.get("frontendIPConfiguration"), f"{ppath}.frontendIPConfiguration",
                       "frontendIPConfigurations", by, required=True)
        schema.choice(props, "protocol", ppath, PROTOCOLS, required=True)
        pool = self.child_ref(props.get("backendAddressPool"), f"{ppath}.backendAddressPool", "backendAddressPools",
                              by)
        port = schema.integer(props, "frontendPort", ppath, low=1, high=65534)
        start = schema.integer(props, "frontendPortRangeStart", ppath, low=1, high=65534)
        end = schema.integer(props, "frontendPortRangeEnd", ppath, low=1, high=65534)
        if port is not None and (start is not None or end is not None):
            raise ArmError(f"If FrontendPort {port} is set, properties FrontendPortRangeStart, FrontendPortRangeEnd "
                           f"should be null.",
                           code="UnsupportedSetOfInboundNatRulePropertiesWhenFrontendPortIsSpecified")
        if pool is not None and (start is None or end is None):
            raise ArmError("For inbound Nat rule V2 properties FrontendPortRangeStart, FrontendPortRangeEnd should "
                           "not be null.", code="MissedInboundNatRuleV2Properties")
        if (start is None) != (end is None):
            raise InvalidParameter(f"Inbound NAT rule {by} must set both frontendPortRangeStart and "
                                   f"frontendPortRangeEnd, or neither.")
        if start is not None and end < start:
            raise InvalidParameter(f"Inbound NAT rule {by} has frontendPortRangeEnd {end} lower than "
                                   f"frontendPortRangeStart {start}.")
        if port is None and start is None:
            raise InvalidParameter(f"Required property 'frontendPort' is missing in {by}.")
        schema.integer(props, "backendPort", ppath, low=1, high=65535, required=pool is not None)
        schema.integer(props, "idleTimeoutInMinutes", ppath, low=4, high=100, default=4)
        props.setdefault("enableFloatingIP", False)
        props.setdefault("enableTcpReset", False)

    def ports_unique(self) -> None:
        """Two rules (or a rule and a NAT pool's range) on one frontend, protocol and port: 400."""
        taken: dict[tuple[str, int], str] = {}

        def claim(fe_ref: str, protocol: str, port: int, owner: str) -> None:
            fe = fe_ref.rstrip("/").rsplit("/", 1)[-1].lower()
            for proto in (("Tcp", "Udp") if protocol == "All" else (protocol,)):
                other = taken.get((fe, proto, port))
                if other:
                    raise ArmError(
                        f"Load balancer rules {other} and {owner} use the same frontend IP configuration "
                        f"{fe_ref}, protocol {proto} and port {port}; a frontend IP, protocol and port can be "
                        f"used by only one rule.", code="RulesUseSameFrontendIPConfigurationProtocolAndPort")
                taken[(fe, proto, port)] = owner

        for rule in self.props["loadBalancingRules"]:
            p = rule["properties"]
            claim(p["frontendIPConfiguration"]["id"], p["protocol"], p["frontendPort"],
                  self.lb.child_id("loadBalancingRules", rule["name"]))
        for rule in self.props["inboundNatRules"]:
            p = rule["properties"]
            ports = [p["frontendPort"]] if p.get("frontendPort") is not None else \
                range(p["frontendPortRangeStart"], p["frontendPortRangeEnd"] + 1)
            for port in ports:
                claim(p["frontendIPConfiguration"]["id"], p["protocol"], port,
                      self.lb.child_id("inboundNatRules", rule["name"]))
        for pool in self.props["inboundNatPools"]:
            p = pool["properties"]
            for port in range(p["frontendPortRangeStart"], p["frontendPortRangeEnd"] + 1):
                claim(p["frontendIPConfiguration"]["id"], p["protocol"], port,
                      self.lb.child_id("inboundNatPools", pool["name"]))


def _ids(lb: NetworkResource, collection: str, names: list[str]) -> list[dict]:
    return [{"id": lb.child_id(collection, n)} for n in names]


def _ref_name(ref: dict | None) -> str | None:
    return ref["id"].rstrip("/").rsplit("/", 1)[-1].lower() if ref and ref.get("id") else None


def render(backend: "NetworkBackend", lb: NetworkResource) -> dict:
    props = lb.properties
    nat_rules = props["inboundNatRules"] + natrules.derived_rules(backend, lb, props)
    by_pool: dict[str, list[str]] = {}
    by_probe: dict[str, list[str]] = {}
    by_frontend: dict[str, dict[str, list[str]]] = {}

    def fe_refs(name: str | None) -> dict[str, list[str]]:
        return by_frontend.setdefault(name or "", {"loadBalancingRules": [], "inboundNatRules": [],
                                                   "inboundNatPools": []})

    for rule in props["loadBalancingRules"]:
        p = rule["properties"]
        pools = {_ref_name(x) for x in p.get("backendAddressPools") or []} | {_ref_name(p.get("backendAddressPool"))}
        for pool in pools - {None}:
            by_pool.setdefault(pool, []).append(rule["name"])
        if p.get("probe"):
            by_probe.setdefault(_ref_name(p["probe"]), []).append(rule["name"])
        fe_refs(_ref_name(p["frontendIPConfiguration"]))["loadBalancingRules"].append(rule["name"])
    by_pool_nat: dict[str, list[str]] = {}
    for rule in nat_rules:
        fe_refs(_ref_name(rule["properties"]["frontendIPConfiguration"]))["inboundNatRules"].append(rule["name"])
        if natrules.is_v2(rule):
            by_pool_nat.setdefault(_ref_name(rule["properties"]["backendAddressPool"]), []).append(rule["name"])
    for pool in props["inboundNatPools"]:
        fe_refs(_ref_name(pool["properties"]["frontendIPConfiguration"]))["inboundNatPools"].append(pool["name"])

    frontends = []
    for fe in props["frontendIPConfigurations"]:
        refs = fe_refs(fe["name"].lower())
        extra = {k: _ids(lb, k, v) for k, v in refs.items()}
        if fe["properties"].get("subnet"):
            extra = {"privateIPAddress": lb.addresses.get(fe["name"].lower()), **extra}
        frontends.append(lb.child("frontendIPConfigurations", fe, extra))
    pools = []
    for pool in props["backendAddressPools"]:
        members = backend.pool_members(lb.child_id("backendAddressPools", pool["name"]))
        pools.append(lb.child("backendAddressPools", pool, {
            "loadBalancerBackendAddresses": (pool["properties"].get("loadBalancerBackendAddresses") or [])
            + member_addresses(lb, pool["name"], members),
            "backendIPConfigurations": [{"id": m.ip_configuration_id} for m in members],
            "loadBalancingRules": _ids(lb, "loadBalancingRules", by_pool.get(pool["name"].lower(), [])),
            **({"inboundNatRules": _ids(lb, "inboundNatRules", by_pool_nat[pool["name"].lower()])}
               if pool["name"].lower() in by_pool_nat else {})}))
    body_props = {k: copy.deepcopy(v) for k, v in props.items() if k not in schema.LB_CHILDREN}
    body_props.update({
        "frontendIPConfigurations": frontends,
        "backendAddressPools": pools,
        "loadBalancingRules": [lb.child("loadBalancingRules", r) for r in props["loadBalancingRules"]],
        "probes": [lb.child("probes", p, {"loadBalancingRules": _ids(lb, "loadBalancingRules",
                                                                     by_probe.get(p["name"].lower(), []))})
                   for p in props["probes"]],
        "inboundNatRules": [lb.child("inboundNatRules", r) for r in nat_rules],
        "inboundNatPools": [lb.child("inboundNatPools", p) for p in props["inboundNatPools"]],
    })
    return lb.envelope(body_props)


def render_child(backend: "NetworkBackend", lb: NetworkResource, collection: str, name: str) -> dict | None:
    for child in render(backend, lb)["properties"][collection]:
        if child["name"].lower() == name.lower():
            return child
    return None

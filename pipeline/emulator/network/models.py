"""Microsoft.Network state and behaviour: virtual networks, public IPs and load balancers, plus the seam
with compute and the data plane (runtime/dataplane.py) that makes the load balancers forward real TCP.

Seams (core/seams.py, members in runtime/members.py): the network holds compute as `self.compute`
(ComputeForNetwork: pool_members, nat_members, scale_sets_using, nics_with_nsg), and compute holds the network as
`self.network` (NetworkForCompute: require_subnet/backend_pool/nat_pool/nsg, check_nat_capacity, pool_members,
membership_changed). cloud.py wires both.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import TYPE_CHECKING

from ..core.errors import ArmError, InvalidResourceReference, NotFound, ResourceNotFound
from ..core.ids import key, parse
from ..core.seams import ComputeForNetwork
from ..core.status import status_url
from ..runtime.dataplane import DataPlane
from ..runtime.members import Member
from .resources import NAMESPACE, NetworkResource, find

if TYPE_CHECKING:
    from ..cloud import Cloud
    from ..core.operations import Operation
    from ..core.request import ArmRequest

log = logging.getLogger(__name__)


class NetworkBackend:
    compute: ComputeForNetwork   # wired by cloud.py once compute exists

    def __init__(self, cloud: "Cloud"):
        self.cloud = cloud
        self.items: dict[str, NetworkResource] = {}          # key(id) -> resource
        self.slots: dict[str, dict[str, int]] = {}           # key(V2 NAT rule id) -> {instance key: index}
        # TEST-ONLY: members added by data-plane tests before compute exists ({key(pool id): [Member]}).
        # Nothing in the emulator writes it; tests set it on the emulator's loop and call membership_changed().
        self.extra_members: dict[str, list[Member]] = {}
        self.dataplane = DataPlane(self)
        self._frontends_seen: list[dict] | None = None
        # Bumped by every write, delete and membership change: the data plane's NSG decisions are cached per
        # generation, so a flow is evaluated once per connection and never per packet.
        self.generation = 0

    # --- lookups ----------------------------------------------------------------------------------------
    @staticmethod
    def resource_id(kind: str, subscription: str, resource_group: str, name: str) -> str:
        return (f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{NAMESPACE}/"
                f"{kind}/{name}")

    def get(self, kind: str, subscription: str, resource_group: str, name: str) -> NetworkResource | None:
        return self.items.get(key(self.resource_id(kind, subscription, resource_group, name)))

    def require(self, kind: str, subscription: str, resource_group: str, name: str) -> NetworkResource:
        self.cloud.resources.require(subscription, resource_group)
        found = self.get(kind, subscription, resource_group, name)
        if found is None:
            raise ResourceNotFound(f"The Resource '{NAMESPACE}/{kind}/{name}' under resource group "
                                   f"'{resource_group}' was not found. For more details please go to "
                                   f"https://aka.ms/ARMResourceNotFoundFix")
        return found

    def require_child(self, resource: NetworkResource, collection: str, name: str) -> dict:
        child = find(resource.properties.get(collection, []), name)
        if child is None:
            raise NotFound(f"{resource.type}/{collection} '{name}' of {resource.kind[:-1]} '{resource.name}' "
                           f"was not found.")
        return child

    def list(self, kind: str, subscription: str, resource_group: str | None = None) -> list[NetworkResource]:
        if resource_group is not None:
            self.cloud.resources.require(subscription, resource_group)
        return [r for r in self.items.values() if r.kind == kind
                and (resource_group is None or key(r.resource_group) == key(resource_group))]

    def load_balancers(self) -> list[NetworkResource]:
        return [r for r in self.items.values() if r.kind == "loadBalancers"]

    def get_public_ip_by_id(self, resource_id: str) -> NetworkResource | None:
        found = self.items.get(key(resource_id.rstrip("/")))
        return found if found and found.kind == "publicIPAddresses" else None

    def find_subnet(self, subnet_id: str) -> tuple[NetworkResource, dict] | None:
        rid = parse(subnet_id or "")
        if rid is None or [t.lower() for t in rid.types] != ["virtualnetworks", "subnets"]:
            return None
        vnet = self.items.get(key(str(rid.parent())))
        subnet = find(vnet.properties["subnets"], rid.name) if vnet and vnet.kind == "virtualNetworks" else None
        return (vnet, subnet) if subnet else None

    def public_ip_user(self, pip: NetworkResource) -> str | None:
        for lb in self.load_balancers():
            for fe in lb.properties["frontendIPConfigurations"]:
                ref = (fe["properties"].get("publicIPAddress") or {}).get("id")
                if ref and key(ref.rstrip("/")) == key(pip.id):
                    return lb.child_id("frontendIPConfigurations", fe["name"])
        return None

    def subnet_users(self, subnet_id: str, *, scale_sets: bool = True) -> list[str]:
        """Load-balancer frontends in the subnet, and (for in-use checks) the scale sets placed in it."""
        users = [lb.child_id("frontendIPConfigurations", fe["name"]) for lb in self.load_balancers()
                 for fe in lb.properties["frontendIPConfigurations"]
                 if key((fe["properties"].get("subnet") or {}).get("id", "")) == key(subnet_id)]
        return users + (self.scale_sets_using(subnet_id) if scale_sets else [])

    def frontend_address(self, lb: NetworkResource, frontend: str | None) -> str | None:
        fe = find(lb.properties["frontendIPConfigurations"], frontend or "") or \
            find((lb.serving or {}).get("frontendIPConfigurations", []), frontend or "")
        if fe is None:
            return None
        ref = (fe["properties"].get("publicIPAddress") or {}).get("id")
        if ref:
            pip = self.get_public_ip_by_id(ref)
            return pip.addresses.get("") if pip else None
        return lb.addresses.get(fe["name"].lower())

    # --- the compute seam -------------------------------------------------------------------------------
    def pool_members(self, pool_id: str) -> list[Member]:
        return self.compute.pool_members(pool_id) + self.extra_members.get(key(pool_id), [])

    def nat_members(self, nat_pool_id: str) -> list[Member]:
        return self.compute.nat_members(nat_pool_id) + self.extra_members.get(key(nat_pool_id), [])

    def scale_sets_using(self, resource_id: str) -> list[str]:
        return self.compute.scale_sets_using(resource_id)

    def nat_slots(self, rule_id: str, members: list[Member], size: int) -> list[tuple[int, Member]]:
        """Stable per-member indexes in a V2 inbound NAT rule's port range: kept while the member stays in its
        pool, the lowest free index for a new one (none when the range is full)."""
        by_key = {m.instance_key: m for m in members}
        slots = self.slots.setdefault(key(rule_id), {})
        before = dict(slots)
        for gone in [k for k, index in slots.items() if k not in by_key or index >= size]:
            del slots[gone]
        for instance in sorted(set(by_key) - set(slots)):
            free = next((i for i in range(size) if i not in slots.values()), None)
            if free is None:
                log.warning("inbound NAT rule %s has no free port left for %s", rule_id, instance)
                continue
            slots[instance] = free
        if slots != before:
            self.cloud.changed()   # the allocation is state: saved like any other change
        return sorted((index, by_key[instance]) for instance, index in slots.items())

    def find_child(self, resource_id: str, collection: str) -> dict | None:
        rid = parse(resource_id or "")
        if rid and len(rid.types) == 2 and rid.types[0].lower() == "loadbalancers" \
                and rid.types[1].lower() == collection.lower():
            lb = self.items.get(key(str(rid.parent())))
            return find(lb.properties.get(collection, []), rid.name) if lb else None
        return None

    def v2_rules_of_pool(self, pool_id: str) -> list[tuple[str, dict]]:
        """(rule id, properties) of every V2 inbound NAT rule whose backendAddressPool is this pool."""
        rid = parse(pool_id or "")
        lb = self.items.get(key(str(rid.parent()))) if rid and len(rid.types) == 2 else None
        if lb is None or lb.kind != "loadBalancers":
            return []
        return [(lb.child_id("inboundNatRules", r["name"]), r["properties"]) for r in lb.properties["inboundNatRules"]
                if key((r["properties"].get("backendAddressPool") or {}).get("id", "")) == key(pool_id)]

    def check_nat_capacity(self, *, nat_pool_ids: list[str], pool_ids: list[str], highest_instance: int,
                           members_after: dict[str, int]) -> None:
        from .natrules import check_capacity

        check_capacity(self, nat_pool_ids=nat_pool_ids, pool_ids=pool_ids, highest_instance=highest_instance,
                       members_after=members_after)

    def _require_child(self, resource_id: str, collection: str, referenced_by: str | None) -> None:
        rid = parse(resource_id or "")
        found = None
        if rid and len(rid.types) == 2 and rid.types[0].lower() == "loadbalancers" \
                and rid.types[1].lower() == collection.lower():
            lb = self.items.get(key(str(rid.parent())))
            found = lb and find(lb.properties.get(collection, []), rid.name)
        if not found:
            by = f" referenced by resource {referenced_by}" if referenced_by else ""
            raise InvalidResourceReference(f"Resource {resource_id}{by} was not found. Please make sure that the "
                                           f"referenced resource exists, and that both resources are in the same "
                                           f"region.")

    def require_subnet(self, subnet_id: str, *, referenced_by: str | None = None) -> None:
        if self.find_subnet(subnet_id) is None:
            by = f" referenced by resource {referenced_by}" if referenced_by else ""
            raise InvalidResourceReference(f"Resource {subnet_id}{by} was not found. Please make sure that the "
                                           f"referenced resource exists, and that both resources are in the same "
                                           f"region.")

    def get_nsg_by_id(self, nsg_id: str) -> NetworkResource | None:
        found = self.items.get(key((nsg_id or "").rstrip("/")))
        return found if found and found.kind == "networkSecurityGroups" else None

    def require_nsg(self, nsg_id: str, *, referenced_by: str | None = None) -> None:
        """Compute and subnet writes call this for a `networkSecurityGroup` reference."""
        if self.get_nsg_by_id(nsg_id) is None:
            by = f" referenced by resource {referenced_by}" if referenced_by else ""
            raise InvalidResourceReference(f"Resource {nsg_id}{by} was not found. Please make sure that the "
                                           f"referenced resource exists, and that both resources are in the same "
                                           f"region.")

    def nsg_users(self, nsg_id: str) -> tuple[list[str], list[str]]:
        """(subnet ids, scale-set NIC ids) that use a network security group."""
        subnets = [vnet.child_id("subnets", s["name"]) for vnet in self.items.values()
                   if vnet.kind == "virtualNetworks" for s in vnet.properties["subnets"]
                   if key(((s["properties"].get("networkSecurityGroup") or {}).get("id") or "").rstrip("/"))
                   == key(nsg_id)]
        return subnets, self.compute.nics_with_nsg(nsg_id)

    def groups_on_path(self, member: Member) -> list[tuple[str, list[dict]]]:
        """The network security groups a flow to `member` crosses, subnet first, then NIC: (name, ordered
        inbound rules). Read per decision; decisions are cached per generation (runtime/dataplane.py)."""
        from .nsg import DEFAULT_RULES
        from ..runtime.nsgeval import inbound_rules

        ids = []
        found = self.find_subnet(member.subnet_id) if member.subnet_id else None
        if found:
            ids.append((found[1]["properties"].get("networkSecurityGroup") or {}).get("id"))
        ids.append(member.nsg_id)
        groups = []
        for nsg_id in ids:
            nsg = self.get_nsg_by_id(nsg_id) if nsg_id else None
            if nsg is not None:
                groups.append((nsg.name, inbound_rules(nsg.properties["securityRules"], DEFAULT_RULES)))
        return groups

    def subnet_prefixes(self, subnet_id: str) -> tuple[str, ...]:
        found = self.find_subnet(subnet_id) if subnet_id else None
        if not found:
            return ()
        props = found[1]["properties"]
        return tuple(([props["addressPrefix"]] if props.get("addressPrefix") else [])
                     + list(props.get("addressPrefixes") or []))

    def require_backend_pool(self, pool_id: str, *, referenced_by: str | None = None) -> None:
        self._require_child(pool_id, "backendAddressPools", referenced_by)

    def require_nat_pool(self, nat_pool_id: str, *, referenced_by: str | None = None) -> None:
        self._require_child(nat_pool_id, "inboundNatPools", referenced_by)

    def membership_changed(self) -> None:
        """Compute calls this when instances join, leave, start or stop: listeners and probes follow."""
        self.generation += 1
        self.dataplane.request_reconcile()
        self.cloud.changed()

    def member_health(self, ip_configuration_id: str) -> dict[str, str]:
        """{probe name: "Up"/"Down"} for one member, over every load balancer probing it."""
        health = {}
        for (lb_key, probe, member), _ in self.dataplane.probe_targets().items():
            if member == key(ip_configuration_id):
                state = self.dataplane.prober.state((lb_key, probe, member))
                health[probe] = "Up" if state and state.up else "Down"
        return health

    def rule_health(self, lb: NetworkResource, rule_name: str) -> dict:
        """The body of POST .../loadBalancingRules/{rule}/health: members of the rule's pool, Up or Down."""
        config = lb.serving or lb.properties
        rule = find(config["loadBalancingRules"], rule_name) or find(lb.properties["loadBalancingRules"], rule_name)
        pool = (rule["properties"].get("backendAddressPool") or {}).get("id", "").rsplit("/", 1)[-1]
        addresses = []
        for member in self.pool_members(lb.child_id("backendAddressPools", pool)) if pool else []:
            up = self.dataplane.healthy(lb, config, rule, member)
            state = self.dataplane.prober.state((key(lb.id), (rule["properties"].get("probe") or {}).get(
                "id", "").rsplit("/", 1)[-1].lower(), key(member.ip_configuration_id)))
            reason = state.reason if state else ("The instance is running." if member.running
                                                 else "The instance is not running.")
            addresses.append({"ipAddress": member.address, "networkInterfaceIPConfigurationId":
                              member.ip_configuration_id, "state": "Up" if up else "Down", "reason": reason})
        up = sum(a["state"] == "Up" for a in addresses)
        return {"up": up, "down": len(addresses) - up, "loadBalancerBackendAddresses": addresses}

    def frontends(self) -> list[dict]:
        out = []
        for lb in sorted(self.load_balancers(), key=lambda r: key(r.id)):
            for rule in (lb.serving or {}).get("loadBalancingRules", []):
                p = rule["properties"]
                fe = p["frontendIPConfiguration"]["id"].rsplit("/", 1)[-1]
                address = self.frontend_address(lb, fe)
                pool = (p.get("backendAddressPool") or {}).get("id", "").rsplit("/", 1)[-1] or None
                out.append({"load_balancer": lb.name, "resource_group": lb.resource_group, "rule": rule["name"],
                            "address": address, "port": p["frontendPort"], "pool": pool,
                            "listening": (address, p["frontendPort"]) in self.dataplane.listeners,
                            "error": self.dataplane.bind_errors.get((address, p["frontendPort"]))})
        return out

    def frontends_maybe_changed(self) -> None:
        current = self.frontends()
        if current != self._frontends_seen:
            self._frontends_seen = current
            self.cloud.on_frontends_changed()

    # --- writes -----------------------------------------------------------------------------------------
    def store(self, resource: NetworkResource) -> None:
        self.items[key(resource.id)] = resource

    def begin(self, req: "ArmRequest", resource: NetworkResource) -> "Operation":
        """A write was accepted: new ETag, Updating, and an operation that completes it."""
        resource.touch("Updating")
        self.generation += 1
        cloud = self.cloud

        async def work() -> None:
            await asyncio.sleep(cloud.options.provisioning_seconds)
            if resource.kind == "loadBalancers":
                await self.dataplane.first_probes(resource)
                resource.serving = copy.deepcopy(resource.properties)
                self.generation += 1
            resource.provisioning_state, resource.operation_url = "Succeeded", None
            await self.dataplane.reconcile()
            cloud.changed()

        return self._start(req, resource, work)

    def begin_delete(self, req: "ArmRequest", resource: NetworkResource) -> "Operation":
        resource.provisioning_state = "Deleting"
        cloud = self.cloud

        async def work() -> None:
            await asyncio.sleep(cloud.options.provisioning_seconds)
            self.remove(resource)
            await self.dataplane.reconcile()
            cloud.changed()

        return self._start(req, resource, work)

    def _start(self, req: "ArmRequest", resource: NetworkResource, work) -> "Operation":
        def failed(err: ArmError) -> None:
            resource.provisioning_state, resource.operation_url = "Failed", None

        op = self.cloud.operations.start(req, namespace=NAMESPACE, location=resource.location, work=work,
                                         on_failed=failed)
        resource.operation_url = status_url(req, op)
        self.dataplane.request_reconcile()
        self.cloud.changed()
        return op

    def remove(self, resource: NetworkResource) -> None:
        self.items.pop(key(resource.id), None)
        self.generation += 1
        for address in resource.addresses.values():
            self.cloud.addresses.frontends.release(address)
        if resource.kind == "loadBalancers":
            for rule in resource.properties["inboundNatRules"]:
                self.slots.pop(key(resource.child_id("inboundNatRules", rule["name"])), None)

    def allocate_frontends(self, lb: NetworkResource) -> None:
        """Subnet (internal) frontends get a loopback address of their own; public ones use their IP's."""
        wanted = {fe["name"].lower() for fe in lb.properties["frontendIPConfigurations"]
                  if fe["properties"].get("subnet")}
        for name in set(lb.addresses) - wanted:
            self.cloud.addresses.frontends.release(lb.addresses.pop(name))
        for name in wanted - set(lb.addresses):
            lb.addresses[name] = self.cloud.addresses.frontends.allocate()

    # --- lifecycle --------------------------------------------------------------------------------------
    def dump(self) -> dict:
        return {"resources": [r.dump() for r in self.items.values()], "nat_slots": self.slots}

    def load(self, data: dict) -> None:
        self.items = {}
        for item in data.get("resources", []):
            resource = NetworkResource.load(item)
            self.store(resource)
            for address in resource.addresses.values():
                self.cloud.addresses.frontends.claim(address)
        self.slots = {k: dict(v) for k, v in data.get("nat_slots", {}).items()}
        self.extra_members = {}
        self._frontends_seen = None
        self.generation += 1

    async def start(self) -> None:
        await self.dataplane.start()

    async def stop(self) -> None:
        await self.dataplane.stop()

    async def delete_group(self, subscription: str, resource_group: str) -> None:
        for resource in [r for r in self.items.values() if key(r.resource_group) == key(resource_group)]:
            self.remove(resource)
        await self.dataplane.reconcile()
        self.cloud.changed()

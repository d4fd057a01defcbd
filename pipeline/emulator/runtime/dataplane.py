"""What the load balancers serve: listeners for every rule and NAT-pool port, probes for every member.

`reconcile()` makes the running listeners and probes match the load balancers' served configuration and the
current pool membership. The backend of each rule is looked up per connection, so switching a rule's pool
takes effect for the next connection while established ones finish.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import TYPE_CHECKING

from ..core.ids import key
from .forwarder import Listener, Target
from .nsgeval import PROBE_SOURCE, Flow, path_verdict
from .probes import Prober, ProbeSpec

if TYPE_CHECKING:
    from ..network.models import NetworkBackend
    from ..network.resources import NetworkResource
    from .members import Member

log = logging.getLogger(__name__)

FIRST_PROBE_WAIT = 3.0   # seconds a write waits for its new members' first probe before it completes
DECISIONS_KEPT = 4096    # cached NSG decisions per generation (a new generation starts empty)


def _name(ref: dict | None) -> str | None:
    return ref["id"].rstrip("/").rsplit("/", 1)[-1].lower() if ref and ref.get("id") else None


def _find(children: list[dict], name: str | None) -> dict | None:
    return next((c for c in children if name and c["name"].lower() == name), None)


def probe_spec(probe: dict) -> ProbeSpec:
    p = probe["properties"]
    return ProbeSpec(protocol=p["protocol"], port=p["port"], path=p.get("requestPath"),
                     interval=float(p.get("intervalInSeconds", 15)),
                     threshold=int(p.get("probeThreshold") or p.get("numberOfProbes") or 1))


class DataPlane:
    def __init__(self, backend: "NetworkBackend"):
        self.backend = backend
        self.listeners: dict[tuple[str, int], Listener] = {}
        self.bind_errors: dict[tuple[str, int], str] = {}
        self.prober = Prober(time_scale=lambda: backend.cloud.options.probe_time_scale, admit=self.admit_probe)
        self._decisions: dict[tuple, bool] = {}
        self._decided_generation = -1
        self._by_address: dict[str, "Member"] = {}
        self.nsg_evaluations = 0   # flows evaluated (not served from the cache): per connection, never per packet
        self._round_robin: dict[str, itertools.count] = {}
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scheduled: asyncio.Task | None = None
        self._dirty = False
        self.running = False

    # --- per connection ---------------------------------------------------------------------------------
    def healthy(self, lb: "NetworkResource", config: dict, rule: dict, member: "Member") -> bool:
        probe = _find(config["probes"], _name(rule["properties"].get("probe")))
        if probe is None:
            return member.running
        state = self.prober.state((key(lb.id), probe["name"].lower(), key(member.ip_configuration_id)))
        return bool(state and state.up)

    def pick_rule(self, lb_key: str, rule_name: str) -> Target | None:
        lb = self.backend.items.get(lb_key)
        config = lb.serving if lb else None
        rule = _find(config["loadBalancingRules"], rule_name) if config else None
        if rule is None:
            return None
        pool = _name(rule["properties"].get("backendAddressPool"))
        if pool is None:
            return None
        members = [m for m in self.backend.pool_members(lb.child_id("backendAddressPools", pool))
                   if self.healthy(lb, config, rule, m)]
        if not members:
            return None
        turn = next(self._round_robin.setdefault(f"{lb_key}/{rule_name}", itertools.count()))
        return members[turn % len(members)].address, rule["properties"]["backendPort"]

    def pick_nat(self, lb_key: str, pool_name: str, instance_key: str) -> Target | None:
        lb = self.backend.items.get(lb_key)
        pool = _find(lb.serving["inboundNatPools"], pool_name) if lb and lb.serving else None
        if pool is None:
            return None
        for member in self.backend.nat_members(lb.child_id("inboundNatPools", pool["name"])):
            if member.instance_key == instance_key:
                return member.address, pool["properties"]["backendPort"]
        return None

    # --- network security groups (once per connection, cached per generation) ---------------------------
    def _fresh(self) -> None:
        if self._decided_generation != self.backend.generation or len(self._decisions) > DECISIONS_KEPT:
            self._decisions.clear()
            self._by_address = {}
            self._decided_generation = self.backend.generation

    def _member_at(self, address: str) -> "Member | None":
        if not self._by_address:
            for lb in self.backend.load_balancers():
                for config in (lb.serving or {}, lb.properties):
                    for collection, members in (("backendAddressPools", self.backend.pool_members),
                                                ("inboundNatPools", self.backend.nat_members)):
                        for child in config.get(collection, []):
                            for member in members(lb.child_id(collection, child["name"])):
                                self._by_address.setdefault(member.address, member)
        return self._by_address.get(address)

    def _decide(self, cache_key: tuple, flow: Flow, member: "Member | None", *, open_without_groups: bool,
                what: str) -> bool:
        groups = self.backend.groups_on_path(member) if member else []
        verdict = path_verdict(groups, flow, open_without_groups=open_without_groups)
        self.nsg_evaluations += 1
        if not verdict.source_port_matters:
            self._decisions[cache_key] = verdict.allowed
        if not verdict.allowed:
            log.info("%s from %s:%s to %s:%s dropped: %s", what, flow.source, flow.source_port, flow.destination,
                     flow.destination_port, f"network security group {verdict.group} rule {verdict.rule or 'none'}"
                     if verdict.group else verdict.rule)
        return verdict.allowed

    def admit(self, frontend: tuple[str, bool, bool], client: tuple[str, int], target: Target) -> bool:
        """A connection through a rule or NAT mapping: (lb key, public frontend, Standard sku), the client's
        (address, port), the backend's (address, port) after translation."""
        self._fresh()
        cache_key = (frontend, client[0], target)
        cached = self._decisions.get(cache_key)
        if cached is not None:
            return cached
        member = self._member_at(target[0])
        _, public, standard = frontend
        flow = Flow(source=client[0], source_port=client[1],
                    tags=frozenset({"Internet"} if public else {"VirtualNetwork"}), destination=target[0],
                    destination_port=target[1],
                    destination_prefixes=self.backend.subnet_prefixes(member.subnet_id) if member else ())
        return self._decide(cache_key, flow, member, open_without_groups=not standard, what="flow")

    def admit_probe(self, address: str, spec: ProbeSpec) -> bool:
        """A health probe from AzureLoadBalancer (168.63.129.16): allowed by the default rule
        AllowAzureLoadBalancerInBound unless a rule of higher priority denies it; with no group, allowed."""
        self._fresh()
        cache_key = ("probe", address, spec.port)
        cached = self._decisions.get(cache_key)
        if cached is not None:
            return cached
        member = self._member_at(address)
        flow = Flow(source=PROBE_SOURCE, source_port=0, tags=frozenset({"AzureLoadBalancer"}), destination=address,
                    destination_port=spec.port,
                    destination_prefixes=self.backend.subnet_prefixes(member.subnet_id) if member else ())
        return self._decide(cache_key, flow, member, open_without_groups=True, what="probe")

    def _frontend_context(self, lb: "NetworkResource", frontend: str | None) -> tuple[str, bool, bool]:
        fe = _find((lb.serving or {}).get("frontendIPConfigurations", []), frontend)
        public = bool(fe and fe["properties"].get("publicIPAddress"))
        standard = str((lb.sku or {}).get("name", "Basic")).lower() == "standard"
        return key(lb.id), public, standard

    # --- what should run -------------------------------------------------------------------------------
    def desired_listeners(self) -> dict[tuple[str, int], tuple]:
        """{(address, port): (name, pick, frontend context for admit)}."""
        wanted: dict[tuple[str, int], tuple] = {}
        for lb in self.backend.load_balancers():
            config, lb_key = lb.serving, key(lb.id)
            if not config:
                continue
            for rule in config["loadBalancingRules"]:
                p = rule["properties"]
                address = self.backend.frontend_address(lb, _name(p["frontendIPConfiguration"]))
                if address and p["protocol"] in ("Tcp", "All"):
                    name = rule["name"].lower()
                    wanted[(address, p["frontendPort"])] = (
                        f"{lb.name}/{rule['name']}", lambda k=lb_key, n=name: self.pick_rule(k, n),
                        self._frontend_context(lb, _name(p["frontendIPConfiguration"])))
            for pool in config["inboundNatPools"]:
                p = pool["properties"]
                address = self.backend.frontend_address(lb, _name(p["frontendIPConfiguration"]))
                if not address or p["protocol"] == "Udp":
                    continue
                pool_name = pool["name"].lower()
                for index, member in self.backend.nat_slots(lb.child_id("inboundNatPools", pool["name"]), p):
                    wanted[(address, p["frontendPortRangeStart"] + index)] = (
                        f"{lb.name}/{pool['name']}.{index}",
                        lambda k=lb_key, n=pool_name, i=member.instance_key: self.pick_nat(k, n, i),
                        self._frontend_context(lb, _name(p["frontendIPConfiguration"])))
        return wanted

    def probe_targets(self, lbs=None) -> dict[tuple, tuple[str, ProbeSpec]]:
        """Every (probe, member) pair of the rules using a probe, in both the served and the written config."""
        targets: dict[tuple, tuple[str, ProbeSpec]] = {}
        for lb in lbs if lbs is not None else self.backend.load_balancers():
            for config in (lb.serving, lb.properties):
                for rule in (config or {}).get("loadBalancingRules", []):
                    probe = _find(config["probes"], _name(rule["properties"].get("probe")))
                    pool = _name(rule["properties"].get("backendAddressPool"))
                    if probe is None or pool is None:
                        continue
                    for member in self.backend.pool_members(lb.child_id("backendAddressPools", pool)):
                        targets[(key(lb.id), probe["name"].lower(), key(member.ip_configuration_id))] = (
                            member.address, probe_spec(probe))
        return targets

    # --- making it so ----------------------------------------------------------------------------------
    async def reconcile(self) -> None:
        if not self.running:
            return
        self._loop = asyncio.get_running_loop()
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            self.prober.update(self.probe_targets())
            wanted = self.desired_listeners()
            for endpoint in list(self.listeners):
                if endpoint not in wanted:
                    self.listeners.pop(endpoint).close()
            for endpoint in list(self.bind_errors):
                if endpoint not in wanted:
                    del self.bind_errors[endpoint]
            for endpoint, (name, pick, frontend) in wanted.items():
                admit = (lambda client, target, f=frontend: self.admit(f, client, target))
                listener = self.listeners.get(endpoint)
                if listener is not None:
                    listener.pick, listener.name, listener.admit = pick, name, admit
                    continue
                listener = Listener(*endpoint, pick, name=name, admit=admit,
                                    drop_seconds=self.backend.cloud.options.nsg_drop_seconds)
                try:
                    await listener.start()
                except OSError as err:  # e.g. a port below 1024 without root, or one already taken
                    if self.bind_errors.get(endpoint) != str(err):
                        log.error("load balancer %s: cannot listen on %s:%s: %s", name, *endpoint, err)
                    self.bind_errors[endpoint] = f"{type(err).__name__}: {err.strerror or err}"
                    continue
                self.bind_errors.pop(endpoint, None)
                self.listeners[endpoint] = listener
        self.backend.frontends_maybe_changed()

    def request_reconcile(self) -> None:
        """Schedule a reconcile from sync code (compute's membership_changed, any thread)."""
        if not self.running or self._loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._schedule()
        else:
            self._loop.call_soon_threadsafe(self._schedule)

    def _schedule(self) -> None:
        self._dirty = True
        if self._scheduled is None or self._scheduled.done():
            self._scheduled = asyncio.get_running_loop().create_task(self._reconcile_while_dirty(),
                                                                     name="network-reconcile")

    async def _reconcile_while_dirty(self) -> None:
        while self._dirty and self.running:
            self._dirty = False
            try:
                await self.reconcile()
            except Exception:  # keep the data plane going; the next change reconciles again
                log.exception("network data plane reconcile failed")

    async def first_probes(self, lb: "NetworkResource") -> None:
        """Before a write completes, its rules' members get their first probe (bounded)."""
        self.prober.update(self.probe_targets())
        await self.prober.wait_probed(list(self.probe_targets([lb])), FIRST_PROBE_WAIT)

    async def start(self) -> None:
        self.running = True
        self._loop = asyncio.get_running_loop()
        await self.reconcile()

    async def stop(self) -> None:
        self.running = False
        if self._scheduled is not None:
            self._scheduled.cancel()
            await asyncio.gather(self._scheduled, return_exceptions=True)
        listeners = list(self.listeners.values())
        self.listeners.clear()
        self.bind_errors.clear()
        await asyncio.gather(*(listener.abort() for listener in listeners), return_exceptions=True)
        await self.prober.stop()

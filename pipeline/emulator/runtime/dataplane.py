"""What the load balancers serve: listeners for every rule and inbound NAT port (NAT pools and V2 rules), probes
for every member.

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
from ..network import natrules
from .forwarder import Listener, Target
from .probes import Prober, ProbeSpec

if TYPE_CHECKING:
    from ..network.models import NetworkBackend
    from ..network.resources import NetworkResource
    from .members import Member

log = logging.getLogger(__name__)

FIRST_PROBE_WAIT = 3.0   # seconds a write waits for its new members' first probe before it completes


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
        self.prober = Prober(time_scale=lambda: backend.cloud.options.probe_time_scale)
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

    def pick_nat(self, lb_key: str, kind: str, owner: str, instance_key: str) -> Target | None:
        """The member an inbound NAT port maps to, if its pool (V1) or V2 rule still maps it."""
        lb = self.backend.items.get(lb_key)
        if lb is None or not lb.serving:
            return None
        for m in natrules.mappings(self.backend, lb, lb.serving):
            if m.kind == kind and m.owner.lower() == owner and m.member.instance_key == instance_key:
                return m.member.address, m.backend_port
        return None

    # --- what should run -------------------------------------------------------------------------------
    def desired_listeners(self) -> dict[tuple[str, int], tuple[str, object]]:
        wanted: dict[tuple[str, int], tuple[str, object]] = {}
        for lb in self.backend.load_balancers():
            config, lb_key = lb.serving, key(lb.id)
            if not config:
                continue
            for rule in config["loadBalancingRules"]:
                p = rule["properties"]
                address = self.backend.frontend_address(lb, _name(p["frontendIPConfiguration"]))
                if address and p["protocol"] in ("Tcp", "All"):
                    name = rule["name"].lower()
                    wanted[(address, p["frontendPort"])] = (f"{lb.name}/{rule['name']}",
                                                            lambda k=lb_key, n=name: self.pick_rule(k, n))
            for m in natrules.mappings(self.backend, lb, config):
                address = self.backend.frontend_address(lb, m.frontend)
                if not address or m.protocol == "Udp":
                    continue
                wanted[(address, m.frontend_port)] = (
                    f"{lb.name}/{m.rule}",
                    lambda k=lb_key, kind=m.kind, o=m.owner.lower(), i=m.member.instance_key:
                    self.pick_nat(k, kind, o, i))
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
            for endpoint, (name, pick) in wanted.items():
                listener = self.listeners.get(endpoint)
                if listener is not None:
                    listener.pick, listener.name = pick, name
                    continue
                listener = Listener(*endpoint, pick, name=name)
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

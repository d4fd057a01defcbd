"""Load balancer calls: read it (as REST JSON with its ETag), write it guarded by If-Match, ask rule health."""

from __future__ import annotations

import logging

from pipeline.azure.clients import Clients
from pipeline.azure.errors import azure_call, is_transient_conflict, none_if_missing
from pipeline.azure.writable import writable_load_balancer
from pipeline.facts import BackendHealth
from pipeline.retry import on_throttle, while_busy

log = logging.getLogger(__name__)

INFRA_HINT = "run `invoke infra` to create it, or fix the name in pipeline.toml"


def get_load_balancer(clients: Clients, name: str) -> dict:
    s = clients.settings
    with azure_call(f"reading load balancer {name} in {s.resource_group}", missing=INFRA_HINT):
        return clients.network.load_balancers.get(s.resource_group, name).as_dict()


def find_load_balancer(clients: Clients, name: str) -> dict | None:
    found = none_if_missing(lambda: clients.network.load_balancers.get(clients.settings.resource_group, name))
    return found.as_dict() if found is not None else None


def put_load_balancer(clients: Clients, body: dict, *, if_match: str | None) -> dict:
    """One PUT of the whole load balancer; with `if_match` it fails (412) if anyone changed it since we read.

    `body` may be what was read, changed: only its writable part is sent (pipeline/azure/writable.py)."""
    s = clients.settings
    headers = {"If-Match": if_match} if if_match else {}
    body = writable_load_balancer(body)
    with azure_call(f"updating load balancer {s.load_balancer.name}"):
        # 409 AnotherOperationInProgress: wait it out; If-Match still guards against what that operation changed.
        return while_busy(is_busy=is_transient_conflict)(
            lambda: clients.network.load_balancers.begin_create_or_update(
                s.resource_group, s.load_balancer.name, body, headers=headers).result()).as_dict()


def rule_health(clients: Clients, rule: str) -> list[BackendHealth]:
    s = clients.settings
    with azure_call(f"reading health of rule {rule}", missing=INFRA_HINT):
        # A POST: the SDK does not retry its 429s, so we do, honouring Retry-After.
        result = on_throttle()(lambda: clients.network.load_balancer_load_balancing_rules.begin_health(
            s.resource_group, s.load_balancer.name, rule).result())
    return [BackendHealth(a.ip_address or "", a.network_interface_ip_configuration_id or "",
                          (a.state or "").lower() == "up", a.reason or "")
            for a in (result.load_balancer_backend_addresses or [])]


def public_ip_address(clients: Clients, name: str) -> str:
    s = clients.settings
    with azure_call(f"reading public IP {name}", missing=INFRA_HINT):
        address = clients.network.public_ip_addresses.get(s.resource_group, name).ip_address
    if not address:
        from pipeline.errors import AzureError

        raise AzureError(f"public IP {name} has no address yet; wait for it to be allocated and run again")
    return address


def nat_ports(clients: Clients, *, pool: str, rule: str, ip_configuration_ids: list[str]) -> dict[str, int]:
    """{NIC ip-configuration id (lower-case): frontend port} of inbound NAT rule V2 `rule` for members of
    `pool`, from Azure's port-mapping query (one POST per member; a member without a mapping is left out)."""
    s = clients.settings
    ports: dict[str, int] = {}
    for ip_configuration in ip_configuration_ids:
        with azure_call(f"reading the inbound NAT port mappings of backend pool {pool}", missing=INFRA_HINT):
            # A POST: the SDK does not retry its 429s, so we do, honouring Retry-After.
            result = on_throttle()(lambda ipc=ip_configuration: clients.network.load_balancers
                                   .begin_list_inbound_nat_rule_port_mappings(
                                       s.resource_group, s.load_balancer.name, pool,
                                       {"ipConfiguration": {"id": ipc}}).result())
        for mapping in result.inbound_nat_rule_port_mappings or []:
            if (mapping.inbound_nat_rule_name or "").lower() == rule.lower() and mapping.frontend_port:
                ports[ip_configuration.lower()] = int(mapping.frontend_port)
    return ports

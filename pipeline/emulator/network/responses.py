"""Microsoft.Network requests: parse, call one backend function, shape Azure's reply."""

from __future__ import annotations

from ..core.request import ArmRequest, Reply, listing, no_content, ok
from ..core.errors import NotFound
from ..core.status import result_url
from . import loadbalancer, natrules, nsg as nsgs, vnet, writes
from .resources import NAMESPACE


def _backend(req: ArmRequest):
    return req.cloud.network


def _conditions(req: ArmRequest) -> dict:
    """What a write reads from the request besides names and body: If-Match/If-None-Match and its operation."""
    return {"headers": req.headers, "operation": req.route.operation}


def _put(req: ArmRequest, write, *names: str, render) -> Reply:
    """Parse, let `write` act, start the operation that completes the write; 201 when created, else 200."""
    backend = _backend(req)
    resource, created = write(backend, req.subscription, req.resource_group, *names, req.json(), **_conditions(req))
    op = backend.begin(req, resource)
    return req.cloud.operations.accepted(req, op, status=201 if created else 200, body=render(resource))


def _delete(req: ArmRequest, delete, *names: str, child: bool = False) -> Reply:
    """204 when already gone; else 202 and the operation that deletes the resource (for a child: that updates
    its parent)."""
    backend = _backend(req)
    resource = delete(backend, req.subscription, req.resource_group, *names, **_conditions(req))
    if resource is None:
        return no_content(204)
    op = backend.begin(req, resource) if child else backend.begin_delete(req, resource)
    return req.cloud.operations.accepted(req, op, status=202, location_header=True)


def _lb(req: ArmRequest):
    return _backend(req).require("loadBalancers", req.subscription, req.resource_group, req.load_balancer)


# --- load balancers ---------------------------------------------------------------------------------------
def render_lb(req: ArmRequest):
    return lambda lb: loadbalancer.render(_backend(req), lb)


async def lb_put(req: ArmRequest) -> Reply:
    return _put(req, writes.put_load_balancer, req.load_balancer, render=render_lb(req))


async def lb_get(req: ArmRequest) -> Reply:
    return ok(loadbalancer.render(_backend(req), _lb(req)))


async def lb_update_tags(req: ArmRequest) -> Reply:
    backend = _backend(req)
    lb = writes.update_load_balancer_tags(backend, req.subscription, req.resource_group, req.load_balancer, req.json(),
                                          **_conditions(req))
    return ok(loadbalancer.render(backend, lb))


async def lb_delete(req: ArmRequest) -> Reply:
    return _delete(req, writes.delete_load_balancer, req.load_balancer)


async def lb_list(req: ArmRequest) -> Reply:
    backend = _backend(req)
    return listing([loadbalancer.render(backend, lb) for lb in backend.list("loadBalancers", req.subscription,
                                                                            req.resource_group)])


async def lb_list_all(req: ArmRequest) -> Reply:
    backend = _backend(req)
    return listing([loadbalancer.render(backend, lb) for lb in backend.list("loadBalancers", req.subscription)])


def _child(req: ArmRequest, collection: str, name: str) -> Reply:
    backend = _backend(req)
    lb = _lb(req)
    backend.require_child(lb, collection, name)
    return ok(loadbalancer.render_child(backend, lb, collection, name))


def _children(req: ArmRequest, collection: str) -> Reply:
    return listing(loadbalancer.render(_backend(req), _lb(req))["properties"][collection])


async def pool_get(req: ArmRequest) -> Reply:
    return _child(req, "backendAddressPools", req.pool)


async def pool_list(req: ArmRequest) -> Reply:
    return _children(req, "backendAddressPools")


async def pool_put(req: ArmRequest) -> Reply:
    backend = _backend(req)
    return _put(req, writes.put_backend_pool, req.load_balancer, req.pool,
                render=lambda lb: loadbalancer.render_child(backend, lb, "backendAddressPools", req.pool))


async def pool_delete(req: ArmRequest) -> Reply:
    return _delete(req, writes.delete_backend_pool, req.load_balancer, req.pool, child=True)


async def rule_get(req: ArmRequest) -> Reply:
    return _child(req, "loadBalancingRules", req.rule)


async def rule_list(req: ArmRequest) -> Reply:
    return _children(req, "loadBalancingRules")


async def probe_get(req: ArmRequest) -> Reply:
    return _child(req, "probes", req.probe)


async def probe_list(req: ArmRequest) -> Reply:
    return _children(req, "probes")


async def frontend_get(req: ArmRequest) -> Reply:
    return _child(req, "frontendIPConfigurations", req.frontend)


async def frontend_list(req: ArmRequest) -> Reply:
    return _children(req, "frontendIPConfigurations")


async def nat_rule_list(req: ArmRequest) -> Reply:
    return _children(req, "inboundNatRules")


def _render_nat_rule(req: ArmRequest, lb) -> dict:
    """Stored V1/V2 rules and the ones Azure derives from NAT pools read alike: 404 NotFound when neither."""
    found = loadbalancer.render_child(_backend(req), lb, "inboundNatRules", req.nat_rule)
    if found is None:
        raise NotFound(f"{lb.type}/inboundNatRules '{req.nat_rule}' of load balancer '{lb.name}' was not found.")
    return found


async def nat_rule_get(req: ArmRequest) -> Reply:
    return ok(_render_nat_rule(req, _lb(req)))


async def nat_rule_put(req: ArmRequest) -> Reply:
    return _put(req, writes.put_nat_rule, req.load_balancer, req.nat_rule,
                render=lambda lb: _render_nat_rule(req, lb))


async def nat_rule_delete(req: ArmRequest) -> Reply:
    return _delete(req, writes.delete_nat_rule, req.load_balancer, req.nat_rule, child=True)


async def nat_port_mappings(req: ArmRequest) -> Reply:
    """POST .../backendAddressPools/{pool}/queryInboundNatRulePortMapping: 202 + Location; the result (the
    backend address's V2 port mappings) is read from Location, as for rule health."""
    backend = _backend(req)
    lb = _lb(req)
    pool = backend.require_child(lb, "backendAddressPools", req.pool)["name"]
    body = req.json()
    result = natrules.port_mappings(backend, lb, pool, body)   # bad input fails now, not in the poll

    async def work() -> dict:
        return result

    op = req.cloud.operations.start(req, namespace=NAMESPACE, location=lb.location, work=work)
    base = f"{req.base_url}/subscriptions/{req.subscription}/providers/{NAMESPACE}/locations/{op.location}"
    return Reply(202, None, {"Location": f"{base}/operationResults/{op.id}?api-version={req.api_version}",
                             **req.cloud.operations.poll_headers()})


async def rule_health(req: ArmRequest) -> Reply:
    """POST .../loadBalancingRules/{rule}/health: 202 + Location; the result is read from Location."""
    backend = _backend(req)
    lb = _lb(req)
    backend.require_child(lb, "loadBalancingRules", req.rule)

    async def work() -> dict:
        return backend.rule_health(lb, req.rule)

    op = req.cloud.operations.start(req, namespace=NAMESPACE, location=lb.location, work=work)
    return Reply(202, None, {"Location": result_url(req, op), **req.cloud.operations.poll_headers()})


# --- public IPs -------------------------------------------------------------------------------------------
def _pip(req: ArmRequest):
    return _backend(req).require("publicIPAddresses", req.subscription, req.resource_group, req.public_ip)


async def pip_put(req: ArmRequest) -> Reply:
    backend = _backend(req)
    return _put(req, writes.put_public_ip, req.public_ip, render=lambda pip: vnet.render_public_ip(backend, pip))


async def pip_get(req: ArmRequest) -> Reply:
    return ok(vnet.render_public_ip(_backend(req), _pip(req)))


async def pip_delete(req: ArmRequest) -> Reply:
    return _delete(req, writes.delete_public_ip, req.public_ip)


async def pip_list(req: ArmRequest) -> Reply:
    backend = _backend(req)
    return listing([vnet.render_public_ip(backend, p)
                    for p in backend.list("publicIPAddresses", req.subscription, req.resource_group)])


async def pip_list_all(req: ArmRequest) -> Reply:
    backend = _backend(req)
    return listing([vnet.render_public_ip(backend, p) for p in backend.list("publicIPAddresses", req.subscription)])


# --- virtual networks and subnets -------------------------------------------------------------------------
def _vnet(req: ArmRequest):
    return _backend(req).require("virtualNetworks", req.subscription, req.resource_group, req.virtual_network)


async def vnet_put(req: ArmRequest) -> Reply:
    backend = _backend(req)
    return _put(req, writes.put_virtual_network, req.virtual_network, render=lambda n: vnet.render_vnet(backend, n))


async def vnet_get(req: ArmRequest) -> Reply:
    return ok(vnet.render_vnet(_backend(req), _vnet(req)))


async def vnet_delete(req: ArmRequest) -> Reply:
    return _delete(req, writes.delete_virtual_network, req.virtual_network)


async def vnet_list(req: ArmRequest) -> Reply:
    backend = _backend(req)
    return listing([vnet.render_vnet(backend, n)
                    for n in backend.list("virtualNetworks", req.subscription, req.resource_group)])


async def vnet_list_all(req: ArmRequest) -> Reply:
    backend = _backend(req)
    return listing([vnet.render_vnet(backend, n) for n in backend.list("virtualNetworks", req.subscription)])


def _render_subnet(req: ArmRequest, network) -> dict:
    backend = _backend(req)
    return vnet.render_subnet(backend, network, backend.require_child(network, "subnets", req.subnet))


async def subnet_put(req: ArmRequest) -> Reply:
    return _put(req, writes.put_subnet, req.virtual_network, req.subnet,
                render=lambda network: _render_subnet(req, network))


async def subnet_get(req: ArmRequest) -> Reply:
    return ok(_render_subnet(req, _vnet(req)))


async def subnet_delete(req: ArmRequest) -> Reply:
    return _delete(req, writes.delete_subnet, req.virtual_network, req.subnet, child=True)


async def subnet_list(req: ArmRequest) -> Reply:
    backend, network = _backend(req), _vnet(req)
    return listing([vnet.render_subnet(backend, network, s) for s in network.properties["subnets"]])


# --- network security groups and their rules ---------------------------------------------------------------
def _nsg(req: ArmRequest):
    return _backend(req).require("networkSecurityGroups", req.subscription, req.resource_group,
                                 req.network_security_group)


def _render_nsg(req: ArmRequest):
    return lambda nsg: nsgs.render(_backend(req), nsg)


async def nsg_put(req: ArmRequest) -> Reply:
    return _put(req, writes.put_network_security_group, req.network_security_group, render=_render_nsg(req))


async def nsg_get(req: ArmRequest) -> Reply:
    return ok(nsgs.render(_backend(req), _nsg(req)))


async def nsg_delete(req: ArmRequest) -> Reply:
    return _delete(req, writes.delete_network_security_group, req.network_security_group)


async def nsg_list(req: ArmRequest) -> Reply:
    backend = _backend(req)
    return listing([nsgs.render(backend, n)
                    for n in backend.list("networkSecurityGroups", req.subscription, req.resource_group)])


async def nsg_list_all(req: ArmRequest) -> Reply:
    backend = _backend(req)
    return listing([nsgs.render(backend, n) for n in backend.list("networkSecurityGroups", req.subscription)])


def _render_security_rule(req: ArmRequest, nsg) -> dict:
    return nsgs.render_rule(nsg, _backend(req).require_child(nsg, "securityRules", req.security_rule))


async def security_rule_put(req: ArmRequest) -> Reply:
    return _put(req, writes.put_security_rule, req.network_security_group, req.security_rule,
                render=lambda nsg: _render_security_rule(req, nsg))


async def security_rule_get(req: ArmRequest) -> Reply:
    return ok(_render_security_rule(req, _nsg(req)))


async def security_rule_delete(req: ArmRequest) -> Reply:
    return _delete(req, writes.delete_security_rule, req.network_security_group, req.security_rule, child=True)


async def security_rule_list(req: ArmRequest) -> Reply:
    nsg = _nsg(req)
    return listing([nsgs.render_rule(nsg, r) for r in nsg.properties["securityRules"]])


async def default_security_rule_get(req: ArmRequest) -> Reply:
    nsg = _nsg(req)
    rule = next((r for r in nsgs.DEFAULT_RULES if r["name"].lower() == req.default_security_rule.lower()), None)
    if rule is None:
        _backend(req).require_child(nsg, "defaultSecurityRules", req.default_security_rule)
    return ok(nsgs.render_rule(nsg, rule, "defaultSecurityRules"))


async def default_security_rule_list(req: ArmRequest) -> Reply:
    nsg = _nsg(req)
    return listing([nsgs.render_rule(nsg, r, "defaultSecurityRules") for r in nsgs.DEFAULT_RULES])

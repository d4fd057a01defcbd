"""Network security groups on the load balancer's data plane, with real TCP: which client addresses get through
a Standard load balancer, which port the groups see, probes from AzureLoadBalancer, and what a refused client
experiences (nothing answered, then a reset)."""

from __future__ import annotations

import http.client
import socket
from dataclasses import replace

import pytest

from tests.emulator.test_loadbalancer_dataplane import BACKEND_PORT, backends, member, set_members, until  # noqa: F401
from tests.emulator.test_network import lb_body, lb_id, public_ip, rule
from tests.fixtures.network import allow_rule, open_subnet

FRONTEND_PORT = 18080
ALLOWED, DENIED = "127.0.0.1", "127.0.0.2"


def ask(address: str, port: int, *, source: str = ALLOWED, timeout: float = 1.0) -> str:
    """GET / from a chosen loopback source address; the body, or raises (timeout, reset, refused)."""
    conn = http.client.HTTPConnection(address, port, timeout=timeout, source_address=(source, 0))
    try:
        conn.request("GET", "/")
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def answered(address: str, port: int, *, source: str = ALLOWED) -> bool:
    try:
        ask(address, port, source=source)
        return True
    except OSError:
        return False


@pytest.fixture
def short_drops(cloud):
    """Refused flows are held 0.5 s before the reset (20 s by default), for the listeners made in the test."""
    options = cloud.cloud.options
    cloud.cloud.options = replace(options, nsg_drop_seconds=0.5)
    yield
    cloud.cloud.options = options


def deploy(arm, cloud, resource_group, backends, *, sources, ports=None, nic_nsg: str = "", subnet_nsg=True):
    """Backends blue-0/blue-1 in a subnet whose group allows TCP from `sources` to `ports`, behind rule 'web'
    (frontend 18080 -> backend 18181) with an Http probe on the backend port."""
    servers = [backends("blue-0"), backends("blue-1")]
    subnet = open_subnet(arm, resource_group, sources=sources, ports=ports) if subnet_nsg else ""
    set_members(cloud, f"{lb_id(arm)}/backendAddressPools/blue",
                [member(arm, s, i, subnet, nic_nsg) for i, s in enumerate(servers)])
    pip = public_ip(arm)
    arm.network.load_balancers.begin_create_or_update(resource_group, "lb", lb_body(
        arm, pip.id, probe_port=BACKEND_PORT,
        rules=[rule(arm, "web", FRONTEND_PORT, "blue", backend_port=BACKEND_PORT)])).result()
    rules = arm.network.load_balancer_load_balancing_rules
    until(lambda: rules.begin_health(resource_group, "lb", "web").result().up == 2)
    return pip.ip_address


def test_one_loopback_source_allowed_another_dropped(arm, cloud, resource_group, backends, short_drops):
    frontend = deploy(arm, cloud, resource_group, backends, sources=[f"{ALLOWED}/32"], ports=[str(BACKEND_PORT)])
    assert ask(frontend, FRONTEND_PORT, source=ALLOWED) in ("blue-0", "blue-1")
    sock = socket.create_connection((frontend, FRONTEND_PORT), timeout=3, source_address=(DENIED, 0))
    try:  # the handshake completes (a userspace proxy cannot drop the SYN) but nothing is ever answered
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        sock.settimeout(0.2)
        with pytest.raises(socket.timeout):
            sock.recv(1024)
        sock.settimeout(3)
        with pytest.raises(ConnectionResetError):  # then the emulator resets it (nsg_drop_seconds)
            while sock.recv(1024):
                pass
    finally:
        sock.close()


def test_the_group_sees_the_backend_port_not_the_frontend_port(arm, cloud, resource_group, backends, short_drops):
    frontend = deploy(arm, cloud, resource_group, backends, sources=["Internet"], ports=[str(FRONTEND_PORT)])
    assert not answered(frontend, FRONTEND_PORT)  # 18080 is open, but the flow arrives on backend port 18181
    arm.network.security_rules.begin_create_or_update(resource_group, "nsg-dp", "backend", allow_rule(
        "backend", 200, source="Internet", ports=[str(BACKEND_PORT)])).result()
    assert answered(frontend, FRONTEND_PORT)  # a rule change applies to the next connection


def test_a_standard_frontend_with_no_group_on_the_path_delivers_nothing(arm, cloud, resource_group, backends,
                                                                      short_drops):
    frontend = deploy(arm, cloud, resource_group, backends, sources=[], subnet_nsg=False)
    assert not answered(frontend, FRONTEND_PORT)
    # probes are not filtered without a group: both members are Up, the flows are still dropped
    health = arm.network.load_balancer_load_balancing_rules.begin_health(resource_group, "lb", "web").result()
    assert health.up == 2


def test_every_group_on_the_path_must_allow(arm, cloud, resource_group, backends, short_drops):
    nic = arm.network.network_security_groups.begin_create_or_update(resource_group, "nsg-nic", {
        "location": "westeurope", "properties": {"securityRules": [
            allow_rule("deny-internet", 100, source="Internet", access="Deny")]}}).result()
    frontend = deploy(arm, cloud, resource_group, backends, sources=["*"], nic_nsg=nic.id)
    assert not answered(frontend, FRONTEND_PORT)  # the subnet allows, the NIC denies
    arm.network.security_rules.begin_create_or_update(resource_group, "nsg-nic", "deny-internet", allow_rule(
        "deny-internet", 100, source=f"{ALLOWED}/32")).result()
    assert answered(frontend, FRONTEND_PORT, source=ALLOWED)
    assert not answered(frontend, FRONTEND_PORT, source=DENIED)  # the NIC's DenyAllInBound default


def test_probes_come_from_azure_load_balancer(arm, cloud, resource_group, backends, short_drops):
    # only one client address is allowed, yet both members are probed Up: AllowAzureLoadBalancerInBound
    deploy(arm, cloud, resource_group, backends, sources=[f"{ALLOWED}/32"], ports=[str(BACKEND_PORT)])
    rules = arm.network.load_balancer_load_balancing_rules
    assert rules.begin_health(resource_group, "lb", "web").result().up == 2
    deny = allow_rule("deny-probes", 4000, source="AzureLoadBalancer", access="Deny")
    arm.network.security_rules.begin_create_or_update(resource_group, "nsg-dp", "deny-probes", deny).result()
    until(lambda: rules.begin_health(resource_group, "lb", "web").result().down == 2)
    health = rules.begin_health(resource_group, "lb", "web").result()
    assert all("timed out" in a.reason for a in health.load_balancer_backend_addresses)


def test_a_flow_is_evaluated_once_per_group_version_not_per_connection(arm, cloud, resource_group, backends):
    frontend = deploy(arm, cloud, resource_group, backends, sources=["Internet"], ports=[str(BACKEND_PORT)])
    dataplane = cloud.cloud.network.dataplane
    ask(frontend, FRONTEND_PORT)
    before = dataplane.nsg_evaluations
    answers = {ask(frontend, FRONTEND_PORT) for _ in range(10)}
    assert answers == {"blue-0", "blue-1"}
    assert dataplane.nsg_evaluations - before <= 2  # one decision per (client address, backend), cached
    arm.network.security_rules.begin_create_or_update(resource_group, "nsg-dp", "more", allow_rule(
        "more", 300, source="10.0.0.0/8")).result()
    ask(frontend, FRONTEND_PORT)
    assert dataplane.nsg_evaluations > before  # a new version of the group is evaluated afresh


def test_nat_pool_ports_are_filtered_on_their_backend_port(arm, cloud, resource_group, backends, short_drops):
    servers = [backends(f"vm-{i}", port=2222) for i in range(2)]
    subnet = open_subnet(arm, resource_group, sources=[f"{ALLOWED}/32"], ports=["2222"])
    set_members(cloud, f"{lb_id(arm)}/inboundNatPools/ssh", [member(arm, s, i, subnet) for i, s in enumerate(servers)])
    pip = public_ip(arm)
    arm.network.load_balancers.begin_create_or_update(resource_group, "lb", lb_body(arm, pip.id, nat=True)).result()
    assert ask(pip.ip_address, 50001, source=ALLOWED) == "vm-1"
    assert not answered(pip.ip_address, 50001, source=DENIED)

"""The load balancer's data plane for real: tiny HTTP servers on their own loopback addresses are pool
members (through the test-only `network.extra_members` hook, until compute provides instances), and real
HTTP requests go through the rule's frontend."""

from __future__ import annotations

import http.server
import os
import socket
import threading
import urllib.error
import urllib.request

import pytest

from pipeline.azure.writable import writable_load_balancer
from pipeline.emulator.runtime.members import Member
from tests.emulator.test_network import lb_body, lb_id, public_ip, rule
from tests.fixtures.fakes import wait_until as until
from tests.fixtures.network import open_subnet

BACKEND_PORT = 18181


class Backend:
    """An HTTP server answering its own name on / and 200 (or 503 when made unhealthy) on /health."""

    def __init__(self, name: str, address: str, port: int = BACKEND_PORT):
        self.name, self.address, self.port, self.healthy = name, address, port, True
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                ok = self.path != "/health" or outer.healthy
                body = outer.name.encode() if ok else b"sick"
                self.send_response(200 if ok else 503)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer((address, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def backends(cloud):
    made: list[Backend] = []

    def make(name: str, port: int = BACKEND_PORT) -> Backend:
        made.append(Backend(name, cloud.cloud.addresses.instances.allocate(), port))
        return made[-1]

    yield make
    for backend in made:
        backend.close()


def member(arm, backend: Backend, index: int, subnet_id: str = "", nsg_id: str = "") -> Member:
    """A pool member in `subnet_id` (whose network security group lets flows in; without one a Standard load
    balancer delivers nothing)."""
    vmss = f"/subscriptions/{arm.subscription_id}/resourceGroups/rg-test/providers/Microsoft.Compute/" \
           "virtualMachineScaleSets/web"
    return Member(f"{vmss}/virtualMachines/{index}/networkInterfaces/nic/ipConfigurations/ip", backend.address,
                  f"rg-test/web/{index}", True, subnet_id=subnet_id, nsg_id=nsg_id)


def set_members(cloud, resource_id: str, members: list[Member]) -> None:
    """TEST-ONLY hook: what compute's pool_members/nat_members will answer, set on the emulator's loop."""
    async def apply():
        cloud.cloud.network.extra_members[resource_id.lower()] = members
        cloud.cloud.network.membership_changed()
        await cloud.cloud.network.dataplane.reconcile()

    cloud.call(apply())


def get(address: str, port: int, timeout: float = 2.0) -> str:
    with urllib.request.urlopen(f"http://{address}:{port}/", timeout=timeout) as response:
        return response.read().decode()


@pytest.fixture
def web(arm, cloud, resource_group, backends):
    """An LB whose rule 'web' (port 18080) sends to pool blue (two servers); green has one more server."""
    blue = [backends("blue-0"), backends("blue-1")]
    green = [backends("green-0")]
    pip = public_ip(arm)
    subnet = open_subnet(arm, resource_group)
    set_members(cloud, f"{lb_id(arm)}/backendAddressPools/blue",
                [member(arm, b, i, subnet) for i, b in enumerate(blue)])
    set_members(cloud, f"{lb_id(arm)}/backendAddressPools/green", [member(arm, green[0], 10, subnet)])
    lb = arm.network.load_balancers.begin_create_or_update(
        resource_group, "lb", lb_body(arm, pip.id, probe_port=BACKEND_PORT,
                                      rules=[rule(arm, "web", 18080, "blue", backend_port=BACKEND_PORT)])).result()
    return {"lb": lb, "address": pip.ip_address, "blue": blue, "green": green}


def test_requests_through_the_frontend_spread_over_the_members(arm, web, resource_group):
    answers = [get(web["address"], 18080) for _ in range(8)]
    assert set(answers) == {"blue-0", "blue-1"}
    pool = arm.network.load_balancer_backend_address_pools.get(resource_group, "lb", "blue")
    assert len(pool.backend_ip_configurations) == 2
    health = arm.network.load_balancer_load_balancing_rules.begin_health(resource_group, "lb", "web").result()
    assert health.up == 2 and health.down == 0
    assert {a.state for a in health.load_balancer_backend_addresses} == {"Up"}
    assert {a.ip_address for a in health.load_balancer_backend_addresses} == {b.address for b in web["blue"]}


def test_an_unhealthy_member_is_taken_out(arm, cloud, web, resource_group):
    web["blue"][1].healthy = False
    rules = arm.network.load_balancer_load_balancing_rules
    until(lambda: rules.begin_health(resource_group, "lb", "web").result().down == 1)
    assert {get(web["address"], 18080) for _ in range(6)} == {"blue-0"}
    health = rules.begin_health(resource_group, "lb", "web").result()
    down = next(a for a in health.load_balancer_backend_addresses if a.state == "Down")
    assert down.ip_address == web["blue"][1].address and "503" in down.reason
    web["blue"][0].healthy = False
    until(lambda: rules.begin_health(resource_group, "lb", "web").result().up == 0)
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        get(web["address"], 18080)  # no healthy member: the connection is closed at once
    web["blue"][1].healthy = True
    until(lambda: rules.begin_health(resource_group, "lb", "web").result().up == 1)
    assert {get(web["address"], 18080) for _ in range(4)} == {"blue-1"}


def test_switching_the_pool_in_one_put_under_traffic(arm, web, resource_group):
    failures, answers, stop = [], [], threading.Event()

    def traffic():
        while not stop.is_set():
            try:
                answers.append(get(web["address"], 18080))
            except OSError as err:
                failures.append(err)

    thread = threading.Thread(target=traffic, daemon=True)
    thread.start()
    try:
        until(lambda: len(answers) > 5)
        body = writable_load_balancer(web["lb"].as_dict())  # a PUT carries back only what may be written
        body["properties"]["loadBalancingRules"] = [rule(arm, "web", 18080, "green", backend_port=BACKEND_PORT)]
        arm.network.load_balancers.begin_create_or_update(resource_group, "lb", body).result()
        switched = len(answers)
        until(lambda: len(answers) > switched + 5)
    finally:
        stop.set()
        thread.join(10)
    assert failures == []
    assert set(answers[switched + 1:]) == {"green-0"}  # the request in flight at the switch may be either
    assert {"blue-0", "blue-1"} <= set(answers[:switched])


def test_removing_the_rule_closes_its_listener(arm, cloud, web, resource_group):
    body = writable_load_balancer(web["lb"].as_dict())
    body["properties"]["loadBalancingRules"] = []
    arm.network.load_balancers.begin_create_or_update(resource_group, "lb", body).result()
    with pytest.raises(OSError):
        socket.create_connection((web["address"], 18080), timeout=2).close()
    assert cloud.cloud.network.frontends() == []


def test_nat_pool_ports_reach_their_instance(arm, cloud, resource_group, backends):
    servers = [backends(f"vm-{i}", port=2222) for i in range(3)]
    pip = public_ip(arm)
    nat_pool = f"{lb_id(arm)}/inboundNatPools/ssh"
    subnet = open_subnet(arm, resource_group)
    set_members(cloud, nat_pool, [member(arm, s, i, subnet) for i, s in enumerate(servers)])
    arm.network.load_balancers.begin_create_or_update(resource_group, "lb", lb_body(arm, pip.id, nat=True)).result()
    assert [get(pip.ip_address, 50000 + i) for i in range(3)] == ["vm-0", "vm-1", "vm-2"]
    set_members(cloud, nat_pool, [member(arm, servers[0], 0, subnet), member(arm, servers[2], 2, subnet)])
    assert get(pip.ip_address, 50002) == "vm-2"  # indexes are stable: vm-2 keeps its port
    with pytest.raises(OSError):
        get(pip.ip_address, 50001)
    names = sorted(r.name for r in arm.network.load_balancers.get(resource_group, "lb").inbound_nat_rules)
    assert names == ["ssh.0", "ssh.2"]


def test_a_privileged_frontend_port_is_reported_not_fatal(arm, cloud, resource_group):
    pip = public_ip(arm)
    lb = arm.network.load_balancers.begin_create_or_update(
        resource_group, "lb", lb_body(arm, pip.id, port=80)).result()
    assert lb.provisioning_state == "Succeeded"
    [frontend] = cloud.cloud.network.frontends()
    assert frontend["port"] == 80 and frontend["address"] == pip.ip_address
    if os.geteuid() == 0:
        assert frontend["listening"] is True
    else:
        assert frontend["listening"] is False and "PermissionError" in frontend["error"]


def test_load_balancers_and_addresses_survive_a_restart(tmp_path, backends):
    from pipeline.emulator.server import ThreadedEmulator
    from tests.fixtures.localcloud import build_clients, emulator_options

    options = emulator_options(tmp_path)
    with ThreadedEmulator(options) as emu:
        arm = build_clients(emu)
        arm.resources.resource_groups.create_or_update("rg-test", {"location": "westeurope"})
        subnet = open_subnet(arm, "rg-test")
        pip = public_ip(arm)
        lb = arm.network.load_balancers.begin_create_or_update("rg-test", "lb", lb_body(
            arm, pip.id, rules=[rule(arm, "web", 18090, "blue", backend_port=BACKEND_PORT, probe=None)])).result()
        info_before = emu.cloud.network.frontends()
    server = Backend("blue-0", "127.0.0.1", BACKEND_PORT + 1)
    try:
        with ThreadedEmulator(options) as emu:
            arm = build_clients(emu)
            again = arm.network.load_balancers.get("rg-test", "lb")
            assert again.etag == lb.etag and again.provisioning_state == "Succeeded"
            assert arm.network.public_ip_addresses.get("rg-test", "pip").ip_address == pip.ip_address
            assert emu.cloud.network.frontends() == info_before and info_before[0]["listening"]
            assert emu.cloud.addresses.frontends.allocate() != pip.ip_address  # the address was re-claimed
            body = writable_load_balancer(again.as_dict())
            body["properties"]["loadBalancingRules"] = [rule(arm, "web", 18090, "blue",
                                                             backend_port=BACKEND_PORT + 1, probe=None)]
            arm.network.load_balancers.begin_create_or_update("rg-test", "lb", body).result()
            set_members(emu, f"{lb_id(arm)}/backendAddressPools/blue",
                        [Member("/x/ipConfigurations/ip", server.address, "rg-test/web/0", True,
                                subnet_id=subnet)])
            assert get(pip.ip_address, 18090) == "blue-0"
    finally:
        server.close()

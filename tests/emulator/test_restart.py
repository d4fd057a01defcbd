"""Persistence across a restart, and no orphan instance processes however the emulator stops.

- In-process (ThreadedEmulator) on one state directory: a whole serving set-up (group, vnet, public IP, load
  balancer with rule and probe, image, scale set of 2 running the app) survives a stop and start: the
  resources read back through the SDK, the instances run again (new processes, same addresses) and answer,
  and the load balancer frontend forwards again. While stopped, no instance process is left.
- Foreground `python -m pipeline.emulator`: stopped with SIGTERM, then (after coming back on the same state)
  with SIGKILL, it leaves no instance process behind (PR_SET_PDEATHSIG covers SIGKILL).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.emulator.server import ThreadedEmulator
from tests.fixtures.images import app_version, http_get, vmss_body, wait_until
from tests.fixtures.localcloud import StaticToken, build_clients, emulator_options
from tests.fixtures.network import nsg_body

RG = "rg-restart"
LOCATION = "westeurope"
FRONTEND_PORT = 18080


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:   # a zombie (exited, not yet reaped by its parent) is not running
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def own_block(options, offset: int) -> int:
    """A loopback block apart from the session emulator's (and the other restart tests')."""
    block = options.loopback_block
    return block - offset if block - offset >= 20 else block + offset


def build_world(arm, image_uri: str) -> None:
    """Group, vnet, public IP, load balancer (rule + probe), image and a scale set of 2 in the pool."""
    sub = arm.subscription_id
    arm.resources.resource_groups.create_or_update(RG, {"location": LOCATION})
    # a Standard load balancer delivers nothing unless a network security group on the path allows it
    nsg = arm.network.network_security_groups.begin_create_or_update(RG, "nsg", nsg_body(["Internet"], ["8080"])
                                                                     ).result()
    vnet = arm.network.virtual_networks.begin_create_or_update(RG, "vnet", {"location": LOCATION, "properties": {
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
        "subnets": [{"name": "default", "properties": {"addressPrefix": "10.0.0.0/24",
                                                       "networkSecurityGroup": {"id": nsg.id}}}]}}).result()
    pip = arm.network.public_ip_addresses.begin_create_or_update(RG, "pip", {
        "location": LOCATION, "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}}).result()
    lb = f"/subscriptions/{sub}/resourceGroups/{RG}/providers/Microsoft.Network/loadBalancers/lb"
    arm.network.load_balancers.begin_create_or_update(RG, "lb", {"location": LOCATION, "sku": {"name": "Standard"},
                                                                 "properties": {
        "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": pip.id}}}],
        "backendAddressPools": [{"name": "web"}],
        "probes": [{"name": "health", "properties": {"protocol": "Http", "port": 8080, "requestPath": "/health",
                                                     "intervalInSeconds": 5, "probeThreshold": 1}}],
        "loadBalancingRules": [{"name": "http", "properties": {
            "frontendIPConfiguration": {"id": f"{lb}/frontendIPConfigurations/fe"},
            "backendAddressPool": {"id": f"{lb}/backendAddressPools/web"}, "probe": {"id": f"{lb}/probes/health"},
            "protocol": "Tcp", "frontendPort": FRONTEND_PORT, "backendPort": 8080}}]}}).result()
    image = arm.compute.images.begin_create_or_update(RG, "img", {"location": LOCATION, "properties": {
        "storageProfile": {"osDisk": {"osType": "Linux", "osState": "Generalized", "blobUri": image_uri}}}}).result()
    arm.compute.virtual_machine_scale_sets.begin_create_or_update(RG, "web", vmss_body(
        image.id, capacity=2, overprovision=False, subnet=vnet.subnets[0].id, pools=[f"{lb}/backendAddressPools/web"],
        location=LOCATION)).result()


def served_through(frontend: dict) -> set[str]:
    """Instance ids that answered through the frontend (a few connections, round-robin)."""
    seen = set()
    for _ in range(6):
        reply = http_get(frontend["address"], frontend["port"], "/version")
        if reply and reply[0] == 200:
            seen.add(json.loads(reply[1])["instance_id"])
    return seen


def test_everything_survives_a_restart(tmp_path, azurite, local_image):
    options = emulator_options(tmp_path / "state", blob_connection_string=azurite.connection_string)
    options = replace(options, loopback_block=own_block(options, 30))
    image_uri = local_image("4.0.0")
    with ThreadedEmulator(options) as emu:
        arm = build_clients(emu)
        build_world(arm, image_uri)
        before = {i["instance_id"]: i for i in emu.cloud.compute.describe_instances()}
        assert len(before) == 2 and all(alive(i["pid"]) for i in before.values())
        [frontend] = emu.cloud.network.frontends()
        assert wait_until(lambda: served_through(frontend) == set(before), what="both instances behind the LB")
        lb_before = arm.network.load_balancers.get(RG, "lb")
    assert wait_until(lambda: not any(alive(i["pid"]) for i in before.values()), timeout=10,
                      what="instance processes gone after stop")
    assert http_get(frontend["address"], frontend["port"], "/version", timeout=1) is None

    with ThreadedEmulator(options) as emu:
        arm = build_clients(emu)
        assert arm.resources.resource_groups.get(RG).location == LOCATION
        assert arm.network.virtual_networks.get(RG, "vnet").subnets[0].name == "default"
        assert arm.network.public_ip_addresses.get(RG, "pip").ip_address == frontend["address"]
        lb_after = arm.network.load_balancers.get(RG, "lb")
        for part in ("frontend_ip_configurations", "backend_address_pools", "load_balancing_rules", "probes"):
            assert [c.name for c in getattr(lb_after, part)] == [c.name for c in getattr(lb_before, part)]
        assert lb_after.provisioning_state == "Succeeded"
        assert len(lb_after.backend_address_pools[0].backend_ip_configurations) == 2
        assert arm.compute.images.get(RG, "img").provisioning_state == "Succeeded"
        ss = arm.compute.virtual_machine_scale_sets.get(RG, "web")
        assert ss.sku.capacity == 2 and ss.provisioning_state == "Succeeded"
        vms = {v.instance_id: v for v in arm.compute.virtual_machine_scale_set_vms.list(RG, "web",
                                                                                          expand="instanceView")}
        assert sorted(vms) == sorted(before)
        assert all(v.instance_view.statuses[1].code == "PowerState/running" for v in vms.values())
        after = {i["instance_id"]: i for i in emu.cloud.compute.describe_instances()}
        for instance_id, info in after.items():
            assert alive(info["pid"]) and info["pid"] != before[instance_id]["pid"]
            assert info["address"] == before[instance_id]["address"]
            assert wait_until(lambda: app_version(info["address"]), what="app answers")["instance_id"] == instance_id
        [frontend_after] = emu.cloud.network.frontends()
        assert (frontend_after["address"], frontend_after["port"]) == (frontend["address"], frontend["port"])
        assert wait_until(lambda: served_through(frontend_after) == set(before), what="the LB forwards again")
        pids = [i["pid"] for i in after.values()]
    assert wait_until(lambda: not any(alive(p) for p in pids), timeout=10, what="instance processes gone")


# --- the foreground process -----------------------------------------------------------------------------------------
class Foreground:
    """`python -m pipeline.emulator` in its own process, on a state directory."""

    def __init__(self, tmp: Path, azurite, block: int):
        self.state, self.cloud_file, self.block = tmp / "state", tmp / "cloud.json", block
        self.env = {**os.environ, "EMULATOR_BLOB_CONNECTION_STRING": azurite.connection_string}
        self.log = tmp / "emulator.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> dict:
        if self.cloud_file.exists():
            self.cloud_file.unlink()
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pipeline.emulator", "--state-dir", str(self.state), "--cloud-file",
                 str(self.cloud_file), "--port", "0", "--loopback-block", str(self.block), "--poll-ms", "20",
                 "--provisioning-seconds", "0.05", "--probe-time-scale", "0.05", "--log-level", "WARNING"],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[2])
        wait_until(lambda: self.cloud_file.exists() or self.proc.poll() is not None, timeout=30,
                   what="the connection file")
        assert self.proc.poll() is None, self.log.read_text()[-2000:]
        return json.loads(self.cloud_file.read_text())

    def stop(self, sig: int) -> None:
        self.proc.send_signal(sig)
        self.proc.wait(timeout=30)


def sdk_for(info: dict):
    from azure.mgmt.compute import ComputeManagementClient
    from azure.mgmt.resource.resources import ResourceManagementClient

    common = dict(base_url=info["arm_endpoint"], credential_scopes=["https://management.azure.com/.default"],
                  connection_verify=info["ca_file"], polling_interval=0.05)
    credential = StaticToken(info["token"])
    return (ResourceManagementClient(credential, info["subscription_id"], **common),
            ComputeManagementClient(credential, info["subscription_id"], **common))


def instance_pids(info: dict) -> list[int]:
    import ssl
    import urllib.request

    request = urllib.request.Request(info["control_endpoint"] + "/info",
                                     headers={"Authorization": f"Bearer {info['token']}"})
    context = ssl.create_default_context(cafile=info["ca_file"])
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        return [i["pid"] for i in json.loads(response.read())["instances"]]


def test_foreground_leaves_no_orphans_on_sigterm_or_sigkill(tmp_path, azurite, local_image):
    options = emulator_options(tmp_path)
    foreground = Foreground(tmp_path, azurite, own_block(options, 40))
    try:
        info = foreground.start()
        resources, compute = sdk_for(info)
        resources.resource_groups.create_or_update(RG, {"location": LOCATION})
        image = compute.images.begin_create_or_update(RG, "img", {"location": LOCATION, "properties": {
            "storageProfile": {"osDisk": {"osType": "Linux", "osState": "Generalized",
                                          "blobUri": local_image("5.0.0")}}}}).result()
        compute.virtual_machine_scale_sets.begin_create_or_update(RG, "web", vmss_body(
            image.id, capacity=2, overprovision=False, location=LOCATION)).result()
        first = instance_pids(info)
        assert len(first) == 2 and all(alive(p) for p in first)

        foreground.stop(signal.SIGTERM)
        assert wait_until(lambda: not any(alive(p) for p in first), timeout=15, what="no orphans after SIGTERM")

        info = foreground.start()   # same state: the instances come back as new processes
        second = wait_until(lambda: (pids := instance_pids(info)) and all(alive(p) for p in pids) and pids,
                            timeout=30, what="instances back")
        assert len(second) == 2 and not set(second) & set(first)

        foreground.stop(signal.SIGKILL)
        assert wait_until(lambda: not any(alive(p) for p in second), timeout=15, what="no orphans after SIGKILL")
    finally:
        if foreground.proc is not None and foreground.proc.poll() is None:
            foreground.proc.kill()
            foreground.proc.wait(timeout=10)

"""Benchmark of the local cloud itself. Prints:

1. time from a scale-set PUT to all instances provisioned, and to all healthy behind the load balancer, for
   1, 10 and 50 instances (probe interval 5 s scaled by the emulator's default probe_time_scale);
2. forwarding in the same run, a new TCP connection per request (as clients of an LB make): straight to an
   instance; through a Basic load balancer with no network security group on the path; through a Standard load
   balancer with network security groups on the subnet AND the NIC (evaluated once per connection, cached per
   group version); requests per second, p50/p99 latency, and the ratios (NSG path vs direct, vs no NSG);
3. GET requests per second the ARM endpoint serves to the real SDK (4 threads).

Run: .venv/bin/python benchmarks/local_cloud.py [--sizes 1,10,50] [--requests 3000]
(the forwarding figures alone: --sizes "" )
"""

from __future__ import annotations

import argparse
import http.client
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from _harness import Stopwatch, local_cloud, percentile

from tests.fixtures.images import build_image, vmss_body  # noqa: E402

RG = "rg-bench"
LOCATION = "westeurope"


def nsg(arm, name: str) -> str:
    """A network security group that lets the Internet reach port 8080 (the rules a real one would hold)."""
    return arm.network.network_security_groups.begin_create_or_update(RG, name, {
        "location": LOCATION, "properties": {"securityRules": [
            {"name": f"allow-office-{i}", "properties": {
                "protocol": "Tcp", "access": "Allow", "direction": "Inbound", "priority": 100 + i,
                "sourceAddressPrefix": f"198.51.{i}.0/24", "sourcePortRange": "*",
                "destinationAddressPrefix": "*", "destinationPortRange": "22"}} for i in range(8)] + [
            {"name": "allow-web", "properties": {
                "protocol": "Tcp", "access": "Allow", "direction": "Inbound", "priority": 1000,
                "sourceAddressPrefix": "Internet", "sourcePortRange": "*", "destinationAddressPrefix": "*",
                "destinationPortRange": "8080"}}]}}).result().id


def load_balancer(arm, name: str, *, sku: str, public_ip: str) -> tuple[str, object]:
    """A load balancer with one rule, frontend 8080 -> backend pool "pool" on 8080, probed on /health."""
    lb_id = f"/subscriptions/{arm.subscription_id}/resourceGroups/{RG}/providers/Microsoft.Network/loadBalancers/{name}"
    lb = arm.network.load_balancers.begin_create_or_update(RG, name, {
        "location": LOCATION, "sku": {"name": sku}, "properties": {
            "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": public_ip}}}],
            "backendAddressPools": [{"name": "pool"}],
            "probes": [{"name": "health", "properties": {"protocol": "Http", "port": 8080, "requestPath": "/health",
                                                         "intervalInSeconds": 5, "numberOfProbes": 1}}],
            "loadBalancingRules": [{"name": "web", "properties": {
                "frontendIPConfiguration": {"id": f"{lb_id}/frontendIPConfigurations/fe"},
                "backendAddressPool": {"id": f"{lb_id}/backendAddressPools/pool"},
                "probe": {"id": f"{lb_id}/probes/health"},
                "protocol": "Tcp", "frontendPort": 8080, "backendPort": 8080}}]}}).result()
    return lb_id, lb


def basic_lb(arm, subnet_plain: str) -> dict:
    """A Basic load balancer (open without a network security group) for the no-NSG baseline."""
    pip = arm.network.public_ip_addresses.begin_create_or_update(RG, "pip-basic", {
        "location": LOCATION, "sku": {"name": "Basic"}, "properties": {"publicIPAllocationMethod": "Static"}}).result()
    lb_id, _ = load_balancer(arm, "lb-basic", sku="Basic", public_ip=pip.id)
    return {"pool": f"{lb_id}/backendAddressPools/pool", "frontend": pip.ip_address, "subnet": subnet_plain}


def setup(arm, blob_connection_string: str) -> dict:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(blob_connection_string)
    container = service.get_container_client("images")
    container.create_container()
    blob = container.get_blob_client("bench.vhd")
    blob.upload_blob(build_image("1.0.0"), overwrite=True)
    arm.resources.resource_groups.create_or_update(RG, {"location": LOCATION})
    image = arm.compute.images.begin_create_or_update(RG, "img", {"location": LOCATION, "properties": {
        "storageProfile": {"osDisk": {"osType": "Linux", "osState": "Generalized", "blobUri": blob.url}}}}).result()
    subnet_nsg, nic_nsg = nsg(arm, "nsg-subnet"), nsg(arm, "nsg-nic")
    vnet = arm.network.virtual_networks.begin_create_or_update(RG, "vnet", {"location": LOCATION, "properties": {
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
        "subnets": [{"name": "default", "properties": {"addressPrefix": "10.0.0.0/24",
                                                       "networkSecurityGroup": {"id": subnet_nsg}}},
                    {"name": "plain", "properties": {"addressPrefix": "10.0.1.0/24"}}]}}).result()
    pip = arm.network.public_ip_addresses.begin_create_or_update(RG, "pip", {
        "location": LOCATION, "sku": {"name": "Standard"},
        "properties": {"publicIPAllocationMethod": "Static"}}).result()
    lb_id, lb = load_balancer(arm, "lb", sku="Standard", public_ip=pip.id)
    return {"image": image.id, "subnet": vnet.subnets[0].id, "pool": f"{lb_id}/backendAddressPools/pool",
            "frontend": pip.ip_address, "lb": lb, "nic_nsg": nic_nsg,
            "basic": basic_lb(arm, vnet.subnets[1].id)}


def time_to_healthy(arm, env: dict, size: int, *, name: str | None = None, lb: str = "lb") -> tuple[float, float]:
    """A scale set of `size` in the Standard LB's pool (subnet and NIC groups on its path), or with lb="lb-basic"
    in the Basic LB's pool in the subnet without a group."""
    name = name or f"ss{size}"
    watch = Stopwatch()
    basic = lb == "lb-basic"
    body = vmss_body(env["image"], capacity=size, subnet=env["basic"]["subnet"] if basic else env["subnet"],
                     pools=[env["basic"]["pool"] if basic else env["pool"]], health_port=8080)
    if not basic:
        nic = body["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]
        nic["properties"]["networkSecurityGroup"] = {"id": env["nic_nsg"]}
    arm.compute.virtual_machine_scale_sets.begin_create_or_update(RG, name, body).result()
    provisioned = watch.seconds
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        health = arm.network.load_balancer_load_balancing_rules.begin_health(RG, lb, "web").result()
        if (health.up or 0) >= size:
            return provisioned, watch.seconds
        time.sleep(0.1)
    raise RuntimeError(f"{size} instances were not healthy within 300 s")


def delete(arm, size: int) -> None:
    arm.compute.virtual_machine_scale_sets.begin_delete(RG, f"ss{size}").result()


def hammer(host: str, port: int, requests: int, workers: int = 8) -> tuple[float, list[float], int]:
    """(requests per second, latencies, failures): one new connection per request, `workers` at a time."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()

    def one(_):
        nonlocal failures
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection(host, port, timeout=5)
            conn.request("GET", "/version")
            conn.getresponse().read()
            conn.close()
            with lock:
                latencies.append(time.perf_counter() - started)
        except OSError:
            with lock:
                failures += 1

    watch = Stopwatch()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(requests)))
    return requests / watch.seconds, latencies, failures


def interleaved(targets: dict[str, str], requests: int, rounds: int = 3) -> dict[str, tuple[float, list, int]]:
    """Each target in turn, `rounds` times, so a busy moment of a shared machine hits them alike; pooled."""
    pooled: dict[str, tuple[float, list, int]] = {k: (0.0, [], 0) for k in targets}
    for _ in range(rounds):
        for key, host in targets.items():
            rps, latencies, failures = hammer(host, 8080, requests // rounds)
            seconds, lat, fail = pooled[key]
            pooled[key] = (seconds + (requests // rounds) / rps, lat + latencies, fail + failures)
    return {k: ((requests // rounds) * rounds / seconds, lat, fail) for k, (seconds, lat, fail) in pooled.items()}


def decision_cost(rounds: int = 20000) -> tuple[float, float]:
    """Microseconds per NSG decision, in-process: evaluated (two groups of 9 rules + Azure's defaults, the flow
    matching the last own rule) and served from the per-connection cache (a dict lookup)."""
    from pipeline.emulator.network.nsg import DEFAULT_RULES
    from pipeline.emulator.runtime.nsgeval import Flow, inbound_rules, path_verdict

    rules = [{"name": f"r{i}", "properties": {
        "protocol": "Tcp", "access": "Allow", "direction": "Inbound", "priority": 100 + i, "sourcePortRange": "*",
        "sourceAddressPrefix": f"198.51.{i}.0/24" if i < 8 else "Internet", "destinationAddressPrefix": "*",
        "destinationPortRange": "22" if i < 8 else "8080"}} for i in range(9)]
    groups = [("subnet", inbound_rules(rules, DEFAULT_RULES)), ("nic", inbound_rules(rules, DEFAULT_RULES))]
    flow = Flow("127.0.0.1", 40000, frozenset({"Internet"}), "127.61.0.2", 8080, ("10.0.0.0/24",))
    watch = Stopwatch()
    for _ in range(rounds):
        path_verdict(groups, flow, open_without_groups=False)
    evaluated = watch.seconds / rounds * 1e6
    cache = {(("lb", True, True), "127.0.0.1", ("127.61.0.2", 8080)): True}
    key = (("lb", True, True), "127.0.0.1", ("127.61.0.2", 8080))
    watch = Stopwatch()
    for _ in range(rounds):
        cache.get(key)
    return evaluated, watch.seconds / rounds * 1e6


def arm_gets(arm, seconds: float = 5.0, threads: int = 4) -> float:
    count = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def loop():
        nonlocal count
        while time.monotonic() < stop:
            arm.network.load_balancers.get(RG, "lb")
            with lock:
                count += 1

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    with local_cloud() as cloud:
        arm = cloud.arm
        env = setup(arm, cloud.info["blob_connection_string"])
        timing = cloud.control("GET", "/info")["timing"]
        print("1. scale-set PUT -> all instances provisioned / healthy behind the load balancer")
        print(f"   (probe every 5 s x probe_time_scale {timing['probe_time_scale']}; "
              f"provisioning_seconds {timing['provisioning_seconds']})")
        for size in [int(s) for s in args.sizes.split(",") if s]:
            provisioned, healthy = time_to_healthy(arm, env, size)
            print(f"   {size:3d} instances: provisioned {provisioned:6.2f} s, healthy {healthy:6.2f} s", flush=True)
            delete(arm, size)
        time_to_healthy(arm, env, 2)  # the fleets the forwarding measurement uses
        time_to_healthy(arm, env, 2, name="plain2", lb="lb-basic")
        instance = next(i for i in cloud.control("GET", "/info")["instances"] if i["vm_scale_set"].lower() == "ss2")
        address = instance["address"]
        print(f"2. forwarding, {args.requests} requests per path (3 interleaved rounds), 8 concurrent, new "
              f"connection each")
        hammer(env["frontend"], 8080, 200)  # warm-up: first decisions, connection paths
        targets = {"direct": address, "plain": env["basic"]["frontend"], "nsg": env["frontend"]}
        runs = interleaved(targets, args.requests)
        labels = {"direct": "direct to an instance             ",
                  "plain": "Basic LB rule, no NSG on the path ",
                  "nsg": "Standard LB rule, NSG subnet + NIC"}
        for key, (rps, lat, fail) in runs.items():
            print(f"   {labels[key]}: {rps:7.0f} req/s  p50 {percentile(lat, 50) * 1000:6.2f} ms  "
                  f"p99 {percentile(lat, 99) * 1000:6.2f} ms  failed {fail}")
        for base, what in (("direct", "direct"), ("plain", "no NSG")):
            rps, lat, _ = runs["nsg"]
            base_rps, base_lat, _ = runs[base]
            print(f"   ratio NSG path / {what}: throughput {rps / base_rps:.2f}, "
                  f"p50 latency {percentile(lat, 50) / percentile(base_lat, 50):.2f}, "
                  f"p99 latency {percentile(lat, 99) / percentile(base_lat, 99):.2f}")
        evaluated, cached = decision_cost()
        print(f"   one NSG decision (2 groups x 9 rules + defaults): evaluated {evaluated:.1f} us, cached "
              f"{cached:.2f} us; made once per connection, never per packet")
        print(f"3. ARM endpoint: {arm_gets(arm):.0f} GET load balancer requests/s (real SDK, 4 threads)")


if __name__ == "__main__":
    main()

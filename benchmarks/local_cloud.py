"""Benchmark of the local cloud itself. Prints:

1. time from a scale-set PUT to all instances provisioned, and to all healthy behind the load balancer, for
   1, 10 and 50 instances (probe interval 5 s scaled by the emulator's default probe_time_scale);
2. forwarding through a load-balancing rule versus straight to an instance, in the same run: requests per
   second, p50/p99 latency, and their ratio (a new TCP connection per request, as clients of an LB make);
3. GET requests per second the ARM endpoint serves to the real SDK (4 threads).

Run: .venv/bin/python benchmarks/local_cloud.py [--sizes 1,10,50] [--requests 3000]
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
    vnet = arm.network.virtual_networks.begin_create_or_update(RG, "vnet", {"location": LOCATION, "properties": {
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
        "subnets": [{"name": "default", "properties": {"addressPrefix": "10.0.0.0/24"}}]}}).result()
    pip = arm.network.public_ip_addresses.begin_create_or_update(RG, "pip", {
        "location": LOCATION, "sku": {"name": "Standard"},
        "properties": {"publicIPAllocationMethod": "Static"}}).result()
    lb_id = f"/subscriptions/{arm.subscription_id}/resourceGroups/{RG}/providers/Microsoft.Network/loadBalancers/lb"
    lb = arm.network.load_balancers.begin_create_or_update(RG, "lb", {
        "location": LOCATION, "sku": {"name": "Standard"}, "properties": {
            "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": pip.id}}}],
            "backendAddressPools": [{"name": "pool"}],
            "probes": [{"name": "health", "properties": {"protocol": "Http", "port": 8080, "requestPath": "/health",
                                                         "intervalInSeconds": 5, "numberOfProbes": 1}}],
            "loadBalancingRules": [{"name": "web", "properties": {
                "frontendIPConfiguration": {"id": f"{lb_id}/frontendIPConfigurations/fe"},
                "backendAddressPool": {"id": f"{lb_id}/backendAddressPools/pool"},
                "probe": {"id": f"{lb_id}/probes/health"},
                "protocol": "Tcp", "frontendPort": 8080, "backendPort": 8080}}]}}).result()
    return {"image": image.id, "subnet": vnet.subnets[0].id, "pool": f"{lb_id}/backendAddressPools/pool",
            "frontend": pip.ip_address, "lb": lb}


def time_to_healthy(arm, env: dict, size: int) -> tuple[float, float]:
    name = f"ss{size}"
    watch = Stopwatch()
    arm.compute.virtual_machine_scale_sets.begin_create_or_update(RG, name, vmss_body(
        env["image"], capacity=size, subnet=env["subnet"], pools=[env["pool"]], health_port=8080)).result()
    provisioned = watch.seconds
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        health = arm.network.load_balancer_load_balancing_rules.begin_health(RG, "lb", "web").result()
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
        for size in [int(s) for s in args.sizes.split(",")]:
            provisioned, healthy = time_to_healthy(arm, env, size)
            print(f"   {size:3d} instances: provisioned {provisioned:6.2f} s, healthy {healthy:6.2f} s", flush=True)
            delete(arm, size)
        time_to_healthy(arm, env, 2)  # the fleet the forwarding measurement uses
        instance = next(i for i in cloud.control("GET", "/info")["instances"] if i["vm_scale_set"].lower() == "ss2")
        address = instance["address"]
        print(f"2. forwarding, {args.requests} requests, 8 concurrent, new connection each")
        direct_rps, direct_lat, direct_fail = hammer(address, 8080, args.requests)
        lb_rps, lb_lat, lb_fail = hammer(env["frontend"], 8080, args.requests)
        for label, rps, lat, fail in (("direct to an instance", direct_rps, direct_lat, direct_fail),
                                      ("through the LB rule  ", lb_rps, lb_lat, lb_fail)):
            print(f"   {label}: {rps:7.0f} req/s  p50 {percentile(lat, 50) * 1000:6.2f} ms  "
                  f"p99 {percentile(lat, 99) * 1000:6.2f} ms  failed {fail}")
        print(f"   ratio LB/direct: throughput {lb_rps / direct_rps:.2f}, "
              f"p50 latency {percentile(lb_lat, 50) / percentile(direct_lat, 50):.2f}, "
              f"p99 latency {percentile(lb_lat, 99) / percentile(direct_lat, 99):.2f}")
        print(f"3. ARM endpoint: {arm_gets(arm):.0f} GET load balancer requests/s (real SDK, 4 threads)")


if __name__ == "__main__":
    main()

"""A fleet is one scale set per release, on one color's backend pool: its ARM body, built purely."""

from __future__ import annotations

from datetime import datetime

from .config import Settings
from .errors import NotReady
from .ids import Ids

ADMIN_USER = "azureops"
# Application Health extension, Rich Health States (typeHandlerVersion 2.x): the app answers its probe path with
# {"ApplicationHealthState": "Healthy"|"Unhealthy"}; an instance reads Initializing until it is healthy or the
# grace period ends. Azure's maximum interval is 60 s; the grace period covers a slow first boot.
HEALTH_EXTENSION_VERSION = "2.0"
HEALTH_GRACE_PERIOD_S = 600
# What the pipeline needs from a Uniform scale set (Flexible ones have none of it).
UNIFORM_NEEDS = ("scale-set VM instance views", "manualupgrade of chosen instances")


def security_profile(security_type: str) -> dict:
    """The scale set's securityProfile for `fleet.security_type`. Standard is sent explicitly too: when it is
    absent, Azure's default for Gen2 images is becoming TrustedLaunch."""
    if security_type == "TrustedLaunch":
        return {"securityType": "TrustedLaunch", "uefiSettings": {"secureBootEnabled": True, "vTpmEnabled": True}}
    return {"securityType": "Standard"}


def orchestration_mode(scale_set: dict) -> str:
    return str((scale_set.get("properties") or {}).get("orchestrationMode") or "Uniform")


def require_uniform(scale_set: dict) -> None:
    """A fleet found in Flexible mode cannot be released or rolled out: say what the pipeline needs."""
    if orchestration_mode(scale_set).lower() != "uniform":
        raise NotReady(f"scale set {scale_set.get('name')} uses {orchestration_mode(scale_set)} orchestration; the "
                       f"pipeline needs Uniform ({', '.join(UNIFORM_NEEDS)}): recreate it as Uniform (`invoke "
                       f"release` stages a new Uniform fleet) or leave it out of this environment")


def model_ssh_key(scale_set: dict | None) -> str | None:
    """The admin key of an existing fleet's model, so converging it sends the same key back."""
    profile = ((scale_set or {}).get("properties") or {}).get("virtualMachineProfile") or {}
    keys = (((profile.get("osProfile") or {}).get("linuxConfiguration") or {}).get("ssh") or {}).get("publicKeys")
    return keys[0].get("keyData") if keys else None


def scale_set_body(s: Settings, ids: Ids, *, name: str, color: str, image_version: str, capacity: int,
                   created_at: datetime, ssh_public_key: str) -> dict:
    """`ssh_public_key`: the configured key (settings) or a fresh one per fleet (pipeline/sshkeys.py)."""
    lb = s.load_balancer
    image_id = ids.gallery_image_version(s.image.gallery, s.image.definition, image_version)
    return {
        "location": s.location,
        "sku": {"name": s.vm_size, "tier": "Standard", "capacity": capacity},
        "tags": {"app": s.app, "environment": s.environment, "color": color, "image-version": image_version,
                 "fleet": name, "created-at": created_at.isoformat(), "managed-by": "bluegreen-pipeline"},
        "properties": {
            "orchestrationMode": "Uniform",
            "upgradePolicy": {"mode": "Manual"},
            "overprovision": True,
            "singlePlacementGroup": True,
            "virtualMachineProfile": {
                "osProfile": {
                    "computerNamePrefix": name[:9].rstrip("-") or "vm",
                    "adminUsername": ADMIN_USER,
                    "linuxConfiguration": {"disablePasswordAuthentication": True, "ssh": {"publicKeys": [{
                        "path": f"/home/{ADMIN_USER}/.ssh/authorized_keys",
                        "keyData": ssh_public_key}]}},
                },
                "securityProfile": security_profile(s.fleet.security_type),
                "storageProfile": {
                    "imageReference": {"id": image_id},
                    "osDisk": {"createOption": "FromImage", "caching": "ReadWrite",
                               "managedDisk": {"storageAccountType": "Standard_LRS"}},
                },
                "networkProfile": {"networkInterfaceConfigurations": [{
                    "name": "nic", "properties": {"primary": True, "ipConfigurations": [{
                        "name": "ipconfig", "properties": {
                            "subnet": {"id": ids.subnet(s.network.vnet, s.network.subnet)},
                            # Per-instance ports: the color's inbound NAT rule V2 on this pool.
                            "loadBalancerBackendAddressPools": [
                                {"id": ids.lb_child(lb.name, "backendAddressPools", lb.backend_pools.for_color(color))}],
                        }}]}}]},
                "extensionProfile": {"extensions": [{
                    "name": "HealthExtension", "properties": {
                        "publisher": "Microsoft.ManagedServices", "type": "ApplicationHealthLinux",
                        "typeHandlerVersion": HEALTH_EXTENSION_VERSION, "autoUpgradeMinorVersion": True,
                        "settings": {"protocol": "http", "port": lb.probe.port, "requestPath": lb.probe.path,
                                     "intervalInSeconds": min(60, max(5, int(lb.probe.interval.total_seconds()))),
                                     "numberOfProbes": lb.probe.threshold,
                                     "gracePeriod": HEALTH_GRACE_PERIOD_S}}}]},
                "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
            },
        },
    }

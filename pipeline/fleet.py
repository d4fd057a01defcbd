"""A fleet is one scale set per release, on one color's backend pool: its ARM body, built purely."""

from __future__ import annotations

from datetime import datetime

from .config import Settings
from .ids import Ids

ADMIN_USER = "azureops"
# Password logins are off; this key only satisfies Azure's requirement for one. Set PIPELINE_SSH_PUBLIC_KEY
# (or tasks' --ssh-public-key) to a key of yours to log in through the color's inbound NAT rule.
PLACEHOLDER_SSH_KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJsdWVncmVlbi1waXBlbGluZS1wbGFjZWhvbGRlci1rZXk "
                       "bluegreen-placeholder")


def scale_set_body(s: Settings, ids: Ids, *, name: str, color: str, image_version: str, capacity: int,
                   created_at: datetime, ssh_public_key: str | None = None) -> dict:
    lb = s.load_balancer
    image_id = ids.gallery_image_version(s.image.gallery, s.image.definition, image_version)
    return {
        "location": s.location,
        "sku": {"name": s.vm_size, "tier": "Standard", "capacity": capacity},
        "tags": {"app": s.app, "environment": s.environment, "color": color, "image-version": image_version,
                 "fleet": name, "created-at": created_at.isoformat(), "managed-by": "bluegreen-pipeline"},
        "properties": {
            "upgradePolicy": {"mode": "Manual"},
            "overprovision": True,
            "singlePlacementGroup": True,
            "virtualMachineProfile": {
                "osProfile": {
                    "computerNamePrefix": name[:9].rstrip("-") or "vm",
                    "adminUsername": ADMIN_USER,
                    "linuxConfiguration": {"disablePasswordAuthentication": True, "ssh": {"publicKeys": [{
                        "path": f"/home/{ADMIN_USER}/.ssh/authorized_keys",
                        "keyData": ssh_public_key or PLACEHOLDER_SSH_KEY}]}},
                },
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
                        "typeHandlerVersion": "1.0", "autoUpgradeMinorVersion": True,
                        "settings": {"protocol": "http", "port": lb.probe.port, "requestPath": lb.probe.path}}}]},
                "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
            },
        },
    }

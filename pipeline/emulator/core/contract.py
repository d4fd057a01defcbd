"""The contract guard: every request body checked against the Azure SDK model of its operation.

Azure answers many bodies carrying read-only members (etag, provisioningState, a pool's backendIPConfigurations
...) by ignoring them, and a few by refusing them (network API 2020-05-01 and later: a load balancer PUT that
echoes the NIC members of a pool, see network/loadbalancer.py). A client that sends back what it read is one
API change away from the second case, so the local cloud notes every read-only or unknown member a client
sends, per operation, without refusing it: GET /_emulator/counters lists them under "contract", the log
names them, and tests assert that a client sent none.

Which members exist and which are read-only comes from the installed azure-mgmt-* models (pipeline/azure/
sdkschema.py), not from a list kept here, so a new field or a new operation is checked as soon as its
operationId is mapped below to the model of its body. The guard observes: it never fails a request (an error
in it is logged and the request goes on).
"""

from __future__ import annotations

import importlib
import json
import logging
from collections import Counter
from functools import lru_cache

log = logging.getLogger(__name__)

NETWORK, COMPUTE, RESOURCES = "azure.mgmt.network.models", "azure.mgmt.compute.models", \
    "azure.mgmt.resource.resources.models"

# operationId -> (models package, model of the request body): the `parameters` type of the SDK operation.
BODY_MODELS: dict[str, tuple[str, str]] = {
    # Microsoft.Network
    "LoadBalancers_CreateOrUpdate": (NETWORK, "LoadBalancer"),
    "LoadBalancers_UpdateTags": (NETWORK, "TagsObject"),
    "LoadBalancerBackendAddressPools_CreateOrUpdate": (NETWORK, "BackendAddressPool"),
    "InboundNatRules_CreateOrUpdate": (NETWORK, "InboundNatRule"),
    "PublicIPAddresses_CreateOrUpdate": (NETWORK, "PublicIPAddress"),
    "PublicIPAddresses_UpdateTags": (NETWORK, "TagsObject"),
    "VirtualNetworks_CreateOrUpdate": (NETWORK, "VirtualNetwork"),
    "VirtualNetworks_UpdateTags": (NETWORK, "TagsObject"),
    "Subnets_CreateOrUpdate": (NETWORK, "Subnet"),
    "NetworkSecurityGroups_CreateOrUpdate": (NETWORK, "NetworkSecurityGroup"),
    "NetworkSecurityGroups_UpdateTags": (NETWORK, "TagsObject"),
    "SecurityRules_CreateOrUpdate": (NETWORK, "SecurityRule"),
    # Microsoft.Compute
    "VirtualMachineScaleSets_CreateOrUpdate": (COMPUTE, "VirtualMachineScaleSet"),
    "VirtualMachineScaleSets_Update": (COMPUTE, "VirtualMachineScaleSetUpdate"),
    "VirtualMachineScaleSets_UpdateInstances": (COMPUTE, "VirtualMachineScaleSetVMInstanceRequiredIDs"),
    "VirtualMachineScaleSets_DeleteInstances": (COMPUTE, "VirtualMachineScaleSetVMInstanceRequiredIDs"),
    "VirtualMachineScaleSets_Reimage": (COMPUTE, "VirtualMachineScaleSetReimageParameters"),
    "VirtualMachineScaleSets_ReimageAll": (COMPUTE, "VirtualMachineScaleSetVMInstanceIDs"),
    "VirtualMachineScaleSets_Restart": (COMPUTE, "VirtualMachineScaleSetVMInstanceIDs"),
    "VirtualMachineScaleSets_PowerOff": (COMPUTE, "VirtualMachineScaleSetVMInstanceIDs"),
    "VirtualMachineScaleSets_Start": (COMPUTE, "VirtualMachineScaleSetVMInstanceIDs"),
    "VirtualMachineScaleSetVMs_Update": (COMPUTE, "VirtualMachineScaleSetVM"),
    "VirtualMachineScaleSetVMs_Reimage": (COMPUTE, "VirtualMachineScaleSetVMReimageParameters"),
    "Images_CreateOrUpdate": (COMPUTE, "Image"),
    "Images_Update": (COMPUTE, "ImageUpdate"),
    "Galleries_CreateOrUpdate": (COMPUTE, "Gallery"),
    "Galleries_Update": (COMPUTE, "GalleryUpdate"),
    "GalleryImages_CreateOrUpdate": (COMPUTE, "GalleryImage"),
    "GalleryImages_Update": (COMPUTE, "GalleryImageUpdate"),
    "GalleryImageVersions_CreateOrUpdate": (COMPUTE, "GalleryImageVersion"),
    "GalleryImageVersions_Update": (COMPUTE, "GalleryImageVersionUpdate"),
    # Microsoft.Resources
    "ResourceGroups_CreateOrUpdate": (RESOURCES, "ResourceGroup"),
    "ResourceGroups_Update": (RESOURCES, "ResourceGroupPatchable"),
}


@lru_cache(maxsize=None)
def body_model(operation: str) -> type | None:
    """The SDK model class of `operation`'s request body, or None when it takes none we know."""
    found = BODY_MODELS.get(operation)
    if found is None:
        return None
    package, name = found
    return getattr(importlib.import_module(package), name)


def warm() -> None:
    """Import the SDK models and build their field tables before the first request (server start)."""
    from pipeline.azure.sdkschema import fields

    try:
        for operation in BODY_MODELS:
            model = body_model(operation)
            if model is not None:
                fields(model)
    except Exception:  # noqa: BLE001 - a warm-up failure only costs the first request its speed
        log.exception("could not load the contract guard's SDK models ahead of time")


class ContractGuard:
    """Counts, per operation, the read-only and unknown members clients send: {(operation, kind, path): n}."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, str]] = Counter()

    def check(self, operation: str, method: str, raw_body: bytes) -> list[tuple[str, str]]:
        """Note what `raw_body` carries that `operation`'s model marks read-only or does not know."""
        if method not in ("PUT", "PATCH", "POST") or not raw_body.strip():
            return []
        try:
            model = body_model(operation)
            if model is None:
                return []
            try:
                body = json.loads(raw_body)
            except (UnicodeDecodeError, ValueError):
                return []  # the handler answers Azure's 400 for a body that does not parse
            from pipeline.azure.sdkschema import findings

            found = findings(model, body) if isinstance(body, dict) else []
        except Exception:  # noqa: BLE001 - the guard observes; it must never turn a request into a 500
            log.exception("contract guard failed on a %s body; request served unchecked", operation)
            return []
        for kind, path in found:
            self._counts[(operation, kind, path)] += 1
        if found:
            log.warning("%s body carries %s", operation,
                        ", ".join(f"{kind} {path}" for kind, path in found))
        return found

    def reset(self) -> None:
        self._counts.clear()

    def describe(self) -> list[dict]:
        return [{"operation": o, "kind": k, "path": p, "count": n} for (o, k, p), n in sorted(self._counts.items())]

"""The Permissions API: what the caller may do on a resource group (the role the emulator enforces, or `*`)."""

from __future__ import annotations

from ..core.request import ArmRequest, Reply, listing


async def list_for_resource_group(req: ArmRequest) -> Reply:
    req.cloud.resources.get(req.subscription, req.resource_group)   # 404 ResourceGroupNotFound when missing
    return listing(req.cloud.authorizer.permissions())

"""Resource group requests: parse, call the backend, shape the reply."""

from __future__ import annotations

from ..core.request import ArmRequest, Reply, listing, no_content, ok


async def create_or_update(req: ArmRequest) -> Reply:
    group, created = req.cloud.resources.create_or_update(req.subscription, req.resource_group, req.json())
    return ok(group.render(), 201 if created else 200)


async def get(req: ArmRequest) -> Reply:
    return ok(req.cloud.resources.get(req.subscription, req.resource_group).render())


async def check_existence(req: ArmRequest) -> Reply:
    req.cloud.resources.get(req.subscription, req.resource_group)
    return no_content(204)


async def list_groups(req: ArmRequest) -> Reply:
    return listing([g.render() for g in req.cloud.resources.groups.values()])


async def delete(req: ArmRequest) -> Reply:
    cloud = req.cloud
    group = cloud.resources.get(req.subscription, req.resource_group)
    group.provisioning_state = "Deleting"

    async def work() -> None:
        await cloud.resources.delete(req.subscription, req.resource_group)

    op = cloud.operations.start(req, namespace="Microsoft.Resources", location=group.location, work=work)
    return cloud.operations.accepted(req, op, status=202, location_header=True)

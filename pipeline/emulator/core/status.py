"""The operation-status resources every long-running operation gets (Azure-AsyncOperation and Location)."""

from __future__ import annotations

from .errors import NotFound
from .request import ArmRequest, Reply, ok
from .routing import SUB, route

LOCATION = SUB + "/providers/{namespace}/locations/{location}"


async def operation_status(req: ArmRequest) -> Reply:
    op = req.cloud.operations.get(req.operation_id)
    if op is None:
        raise NotFound(f"The operation '{req.operation_id}' was not found.", code="OperationNotFound")
    headers = {} if op.done else req.cloud.operations.poll_headers()
    return ok(op.status_body(), 200, headers)


async def operation_result(req: ArmRequest) -> Reply:
    op = req.cloud.operations.get(req.operation_id)
    if op is None:
        raise NotFound(f"The operation '{req.operation_id}' was not found.", code="OperationNotFound")
    if not op.done:
        return Reply(202, None, {"Location": f"{req.base_url}{req.path}?api-version={req.api_version}",
                                 **req.cloud.operations.poll_headers()})
    if op.status != "Succeeded":  # clients read the failure from the status resource first
        return ok(op.status_body())
    if op.result is None:
        return Reply(204, None)
    return ok(op.result)


def routes():
    return [
        route("GET", LOCATION + "/operations/{operation_id}", "Operations_GetStatus", "any", operation_status),
        route("GET", LOCATION + "/operationResults/{operation_id}", "Operations_GetResult", "any",
              operation_result),
    ]

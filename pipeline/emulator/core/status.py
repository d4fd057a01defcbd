"""The operation-status resources every long-running operation gets (Azure-AsyncOperation and Location), at the
URLs Azure uses, each its own route so that each maps to the RBAC action Azure checks for polling it:

    Microsoft.Compute   .../providers/Microsoft.Compute/locations/{loc}/operations/{id}        status
                        same URL with ?monitor=true (the Location header)                      result
    Microsoft.Network   .../providers/Microsoft.Network/locations/{loc}/operations/{id}        status
                        .../providers/Microsoft.Network/locations/{loc}/operationResults/{id}  result
    resource groups     /subscriptions/{sub}/operationresults/{id}                             result

Azure publishes no operationId for these; the names below are the emulator's own.
"""

from __future__ import annotations

from .errors import NotFound
from .request import ArmRequest, Reply, ok
from .routing import SUB, route

COMPUTE = "Microsoft.Compute"
NETWORK = "Microsoft.Network"
RESOURCES = "Microsoft.Resources"


def location_base(req: ArmRequest, namespace: str, location: str) -> str:
    return f"{req.base_url}/subscriptions/{req.params.get('subscription', 'local')}/providers/{namespace}" \
           f"/locations/{location}"


def status_url(req: ArmRequest, op) -> str:
    """The Azure-AsyncOperation URL of an operation."""
    return f"{location_base(req, op.namespace, op.location)}/operations/{op.id}?api-version={req.api_version}"


def result_url(req: ArmRequest, op) -> str:
    """The Location URL of an operation, shaped as its resource provider shapes it."""
    query = f"api-version={req.api_version}"
    if op.namespace == COMPUTE:
        return f"{location_base(req, COMPUTE, op.location)}/operations/{op.id}?monitor=true&{query}"
    if op.namespace == RESOURCES:
        return f"{req.base_url}/subscriptions/{req.params.get('subscription', 'local')}/operationresults/{op.id}" \
               f"?{query}"
    return f"{location_base(req, op.namespace, op.location)}/operationResults/{op.id}?{query}"


def _operation(req: ArmRequest, namespace: str):
    op = req.cloud.operations.get(req.operation_id)
    if op is None or op.namespace != namespace or \
            (req.params.get("location") and req.location.lower() != op.location):
        raise NotFound(f"The operation '{req.operation_id}' was not found.", code="OperationNotFound")
    return op


def _status(namespace: str):
    async def operation_status(req: ArmRequest) -> Reply:
        if namespace == COMPUTE and req.query.get("monitor", "").lower() == "true":
            return _result_of(req, _operation(req, namespace))
        op = _operation(req, namespace)
        headers = {} if op.done else req.cloud.operations.poll_headers()
        return ok(op.status_body(), 200, headers)

    return operation_status


def _result_of(req: ArmRequest, op) -> Reply:
    if not op.done:
        return Reply(202, None, {"Location": f"{req.base_url}{req.path}?{_query(req)}",
                                 **req.cloud.operations.poll_headers()})
    if op.status != "Succeeded":
        if op.namespace == RESOURCES:   # no status resource to read the failure from: the result is the error
            code = (op.error or {}).get("code", "")
            return Reply(500 if code.startswith("Internal") else 400, {"error": op.error})
        return ok(op.status_body())     # clients read the failure from the status resource first
    if op.result is None:
        return Reply(204, None)
    return ok(op.result)


def _query(req: ArmRequest) -> str:
    return "&".join(f"{k}={v}" for k, v in req.query.items())


def _result(namespace: str):
    async def operation_result(req: ArmRequest) -> Reply:
        return _result_of(req, _operation(req, namespace))

    return operation_result


def routes():
    compute = SUB + f"/providers/{COMPUTE}/locations/{{location}}"
    network = SUB + f"/providers/{NETWORK}/locations/{{location}}"
    return [
        route("GET", compute + "/operations/{operation_id}", "ComputeOperations_GetStatus", "any",
              _status(COMPUTE)),
        route("GET", network + "/operations/{operation_id}", "NetworkOperations_GetStatus", "any",
              _status(NETWORK)),
        route("GET", network + "/operationResults/{operation_id}", "NetworkOperations_GetResult", "any",
              _result(NETWORK)),
        route("GET", SUB + "/operationresults/{operation_id}", "SubscriptionOperations_GetResult", "any",
              _result(RESOURCES)),
    ]

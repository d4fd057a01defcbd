"""Microsoft.Authorization routes, each named by Azure's operationId."""

from ..core.routing import RG, route
from . import responses as r


def routes():
    return [
        route("GET", RG + "/providers/Microsoft.Authorization/permissions", "Permissions_ListForResourceGroup",
              "authorization", r.list_for_resource_group),
    ]

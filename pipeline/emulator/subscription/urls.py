"""Subscription-level routes, each named by Azure's operationId."""

from ..core.routing import SUB, route
from . import responses as r


def routes():
    return [
        route("GET", SUB, "Subscriptions_Get", "subscriptions", r.get_subscription),
        route("GET", SUB + "/providers", "Providers_List", "resources", r.list_providers),
        route("GET", SUB + "/providers/{namespace}", "Providers_Get", "resources", r.get_provider),
        route("GET", SUB + "/providers/Microsoft.Compute/skus", "ResourceSkus_List", "skus", r.list_skus),
        route("GET", SUB + "/providers/Microsoft.Compute/locations/{location}/usages", "Usage_List", "compute",
              r.list_usages),
    ]

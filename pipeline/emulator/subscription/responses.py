"""Subscription-level requests: parse, call the backend, shape the reply."""

from __future__ import annotations

import re

from ..core.errors import ArmError
from ..core.request import ArmRequest, Reply, listing, ok

# ResourceSkus_List supports one filter: "location eq 'westus'" (the spec: "Only location filter is supported").
_LOCATION_FILTER = re.compile(r"^\s*location\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)


async def get_subscription(req: ArmRequest) -> Reply:
    return ok(req.cloud.subscription.render())


async def list_providers(req: ArmRequest) -> Reply:
    return listing(req.cloud.subscription.providers())


async def get_provider(req: ArmRequest) -> Reply:
    return ok(req.cloud.subscription.provider(req.namespace))


async def list_skus(req: ArmRequest) -> Reply:
    text = req.query.get("$filter")
    location = None
    if text is not None:
        found = _LOCATION_FILTER.match(text)
        if not found:
            raise ArmError(f"The filter '{text}' is not supported; only \"location eq '<location>'\" is.",
                           code="InvalidFilter")
        location = found.group(1)
    return listing(req.cloud.subscription.skus(location))


async def list_usages(req: ArmRequest) -> Reply:
    subscription = req.cloud.subscription
    if not subscription.knows_region(req.location):
        raise ArmError(f"No registered resource provider found for location '{req.location}' and API version "
                       f"'{req.api_version}' for type 'locations/usages'.", code="NoRegisteredProviderFound")
    return listing(subscription.usages(req.location))

"""Case-insensitive routes from ARM path templates to handlers, each named by Azure's operationId.

A service's `urls.py` lists its routes; the front door matches a request against all of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Awaitable, Callable

# api-versions each family accepts: the SDK's own first, then the versions of the official examples.
API_VERSIONS: dict[str, frozenset[str]] = {
    "resources": frozenset({"2025-04-01", "2025-03-01", "2024-11-01", "2024-03-01", "2022-09-01", "2021-04-01"}),
    "compute": frozenset({"2026-04-01", "2025-11-01", "2025-04-01", "2024-11-01", "2024-07-01", "2024-03-01"}),
    "gallery": frozenset({"2026-03-03", "2025-03-03", "2024-03-03", "2023-07-03"}),
    "network": frozenset({"2026-03-01", "2026-01-01", "2025-07-01", "2025-05-01", "2025-03-01", "2024-07-01",
                          "2024-05-01", "2024-03-01"}),
    # Scale-set VM network interfaces are served on Microsoft.Compute paths at an old network version.
    "vmss-nic": frozenset({"2018-10-01", "2017-03-30", "2026-03-01", "2026-01-01"}),
    # Subscription reads (azure-mgmt-resource-subscriptions 1.0.0) and resource SKUs (azure-mgmt-compute 39).
    "subscriptions": frozenset({"2022-12-01", "2021-01-01", "2020-01-01", "2016-06-01"}),
    "skus": frozenset({"2021-07-01", "2019-04-01", "2017-09-01"}),
    # azure-mgmt-authorization 4.0.0 reads permissions at 2022-04-01.
    "authorization": frozenset({"2022-04-01", "2018-07-01", "2018-01-01-preview", "2015-07-01"}),
}
# Operation-status resources answer at the api-version of the call that started them.
API_VERSIONS["any"] = frozenset().union(*API_VERSIONS.values())

SUB = "/subscriptions/{subscription}"
RG = SUB + "/resourceGroups/{resource_group}"
COMPUTE = RG + "/providers/Microsoft.Compute"
NETWORK = RG + "/providers/Microsoft.Network"

Handler = Callable[["ArmRequest"], Awaitable["Reply"]]  # noqa: F821 (defined in core.request)


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    operation: str          # Azure's operationId, e.g. "LoadBalancers_CreateOrUpdate"
    family: str             # which API_VERSIONS set applies
    handler: Handler
    pattern: re.Pattern

    @property
    def name_param(self) -> str | None:
        """The path parameter naming the resource this route addresses (its last one)."""
        found = re.findall(r"\{(\w+)\}", self.template)
        return found[-1] if found else None

    @property
    def is_write(self) -> bool:
        return self.method in ("PUT", "PATCH", "POST", "DELETE")


def route(method: str, template: str, operation: str, family: str, handler: Handler) -> Route:
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return Route(method, template, operation, family, handler, re.compile(f"^{regex}/?$", re.IGNORECASE))


class Router:
    def __init__(self, routes: list[Route]):
        self._routes = routes

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(self._routes)

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, path params, path_known): path_known tells 405 from 404 when no method matches."""
        path_known = False
        for candidate in self._routes:
            found = candidate.pattern.match(path)
            if not found:
                continue
            path_known = True
            if candidate.method == method:
                return candidate, found.groupdict(), True
        return None, {}, path_known

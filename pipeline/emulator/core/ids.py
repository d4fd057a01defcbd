"""Azure resource ids: building them, parsing them, and comparing them as Azure does (case-insensitively)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PROVIDER_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/(?P<ns>[^/]+)/(?P<rest>.+)$",
    re.IGNORECASE,
)


def key(value: str) -> str:
    """The lookup key for a name or id: Azure names are case-insensitive but case-preserving."""
    return value.lower()


@dataclass(frozen=True)
class ResourceId:
    subscription: str
    resource_group: str
    namespace: str
    types: tuple[str, ...]
    names: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.names[-1]

    @property
    def type(self) -> str:
        return "/".join((self.namespace, *self.types))

    def __str__(self) -> str:
        parts = "/".join(f"{t}/{n}" for t, n in zip(self.types, self.names))
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/{self.namespace}/{parts}")

    def parent(self) -> ResourceId:
        return ResourceId(self.subscription, self.resource_group, self.namespace,
                          self.types[:-1], self.names[:-1])


def parse(resource_id: str) -> ResourceId | None:
    """Parse an ARM id; None when it is not one (callers turn that into InvalidResourceReference)."""
    match = _PROVIDER_ID.match(resource_id or "")
    if not match:
        return None
    segments = match["rest"].split("/")
    if len(segments) % 2:
        return None
    return ResourceId(match["sub"], match["rg"], match["ns"], tuple(segments[0::2]), tuple(segments[1::2]))


def build(sub: str, rg: str, namespace: str, *pairs: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{namespace}/" + "/".join(pairs)


def same(a: str | None, b: str | None) -> bool:
    return (a or "").lower().rstrip("/") == (b or "").lower().rstrip("/")

"""The shape every Microsoft.Network resource shares: ids, ETags, provisioning state, preconditions.

A resource keeps what the client sent (cleaned, with Azure's defaults filled in) in `properties`; ids, ETags,
provisioning states and back-references are added when it is rendered, never stored from input. Children
(pools, rules, subnets ...) carry their parent's ETag, as in Azure, where one write changes them all.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import asdict, dataclass, field

from ..core.errors import AnotherOperationInProgress, PreconditionFailed

NAMESPACE = "Microsoft.Network"


def new_etag() -> str:
    return f'W/"{uuid.uuid4()}"'


@dataclass
class NetworkResource:
    kind: str                       # "loadBalancers" | "publicIPAddresses" | "virtualNetworks"
    subscription: str
    resource_group: str
    name: str
    location: str
    properties: dict
    tags: dict = field(default_factory=dict)
    sku: dict | None = None
    zones: list | None = None
    extended_location: dict | None = None
    etag: str = field(default_factory=new_etag)
    provisioning_state: str = "Succeeded"
    resource_guid: str = field(default_factory=lambda: str(uuid.uuid4()))
    # Load balancers: the properties the data plane serves. A write is served once its operation completes.
    serving: dict | None = None
    # Loopback addresses this resource holds: {"": ip} for a public IP, {frontend name (lower): ip} for an LB.
    addresses: dict = field(default_factory=dict)
    operation_url: str | None = None  # status URL of the write in progress (AnotherOperationInProgress)

    @property
    def type(self) -> str:
        return f"{NAMESPACE}/{self.kind}"

    @property
    def id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/"
                f"{NAMESPACE}/{self.kind}/{self.name}")

    def child_id(self, collection: str, name: str) -> str:
        return f"{self.id}/{collection}/{name}"

    @property
    def busy(self) -> bool:
        return self.provisioning_state in ("Updating", "Deleting")

    def envelope(self, properties: dict) -> dict:
        """The top-level reply: Azure's field order, then `properties` as rendered by the caller."""
        body = {"name": self.name, "id": self.id, "etag": self.etag, "type": self.type, "location": self.location}
        if self.tags:
            body["tags"] = self.tags
        if self.sku is not None:
            body["sku"] = self.sku
        if self.zones:
            body["zones"] = self.zones
        if self.extended_location:
            body["extendedLocation"] = self.extended_location
        body["properties"] = {"provisioningState": self.provisioning_state, "resourceGuid": self.resource_guid,
                              **properties}
        return body

    def child(self, collection: str, stored: dict, extra: dict | None = None) -> dict:
        """A rendered child: id, etag, type and provisioningState filled in, back-references in `extra`."""
        body = {"name": stored["name"], "id": self.child_id(collection, stored["name"]), "etag": self.etag,
                "type": f"{self.type}/{collection}"}
        if stored.get("zones"):
            body["zones"] = stored["zones"]
        props = {"provisioningState": self.child_state, **copy.deepcopy(stored["properties"])}
        props.update({k: v for k, v in (extra or {}).items() if v not in (None, [])})
        body["properties"] = props
        return body

    @property
    def child_state(self) -> str:
        return "Deleting" if self.provisioning_state == "Deleting" else self.provisioning_state

    def touch(self, state: str = "Updating") -> None:
        self.etag = new_etag()
        self.provisioning_state = state

    def dump(self) -> dict:
        return asdict(self)

    @classmethod
    def load(cls, data: dict) -> "NetworkResource":
        resource = cls(**data)
        if resource.busy:  # the operation did not survive the restart: it finished as far as anyone can tell
            resource.provisioning_state = "Succeeded"
        resource.operation_url = None
        if resource.kind == "loadBalancers":
            resource.serving = copy.deepcopy(resource.properties)
        return resource


def find(children: list[dict], name: str) -> dict | None:
    return next((c for c in children if c["name"].lower() == name.lower()), None)


def check_preconditions(headers: dict[str, str], etag: str | None, what: str) -> None:
    """If-Match (a stale ETag, or any ETag on a missing resource, is 412) and If-None-Match: *."""
    if_match = headers.get("if-match")
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None and if_none_match.strip() == "*" and etag is not None:
        raise PreconditionFailed(f"Precondition failed: {what} already exists and the request carries "
                                 f"If-None-Match: *.")
    if if_match is not None:
        wanted = if_match.strip()
        if etag is None:
            raise PreconditionFailed(f"Precondition failed: {what} does not exist, so no ETag can match "
                                     f"If-Match {wanted}.")
        if wanted != "*" and wanted not in (etag, etag.removeprefix("W/")):
            raise PreconditionFailed(f"Precondition failed: the ETag {wanted} in If-Match does not match the "
                                     f"current ETag {etag} of {what}.")


def check_idle(resource: NetworkResource, operation: str) -> None:
    if resource.busy:
        raise AnotherOperationInProgress(
            f"Operation '{operation}' on {resource.id} failed because another operation on this or a dependent "
            f"resource is in progress. To retrieve status of the operation use uri: {resource.operation_url}.")

"""What a handler receives (`ArmRequest`) and returns (`Reply`): thin wrappers, no behaviour."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import InvalidRequestContent

if TYPE_CHECKING:
    from ..cloud import Cloud
    from .routing import Route


@dataclass
class ArmRequest:
    cloud: "Cloud"
    route: "Route"
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]           # keys lower-cased
    headers: dict[str, str]         # keys lower-cased
    raw_body: bytes
    base_url: str                   # https://host:port, for operation URLs that point back here
    api_version: str
    extra_delay: float = 0.0        # from a "slow" fault: added to the operation this request starts
    fail_provisioning: dict | None = None  # from a "fail_provisioning" fault
    _json: Any = field(default=None, repr=False)

    def __getattr__(self, name: str) -> str:
        # Path parameters read as attributes: req.resource_group, req.load_balancer ...
        params = self.__dict__.get("params") or {}
        if name in params:
            return params[name]
        raise AttributeError(name)

    def json(self) -> dict:
        if self._json is None:
            if not self.raw_body.strip():
                raise InvalidRequestContent("The request content was invalid and could not be deserialized: "
                                            "the request body is empty.")
            try:
                self._json = json.loads(self.raw_body)
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise InvalidRequestContent(
                    f"The request content was invalid and could not be deserialized: {err}.") from None
            if not isinstance(self._json, dict):
                raise InvalidRequestContent("The request content was invalid and could not be deserialized: "
                                            "expected a JSON object.")
            if self.method in ("PUT", "PATCH") and self.route.family != "network":   # network checks its own
                check_envelope(self._json)
        return self._json

    def json_or_empty(self) -> dict:
        return self.json() if self.raw_body.strip() else {}


# The resource envelope ARM deserializes before a provider sees the request: JSON type per member.
ENVELOPE = {"location": (str, "String"), "tags": (dict, "Dictionary`2"), "sku": (dict, "Sku"),
            "properties": (dict, "Properties"), "zones": (list, "String[]"), "identity": (dict, "Identity"),
            "plan": (dict, "Plan"), "extendedLocation": (dict, "ExtendedLocation")}


def _wrong_type(value: Any, type_name: str, path: str) -> InvalidRequestContent:
    return InvalidRequestContent(f"The request content was invalid and could not be deserialized: 'Error "
                                 f"converting value {json.dumps(value)[:100]} to type '{type_name}'. Path "
                                 f"'{path}'.'.")


def check_envelope(body: dict) -> None:
    for name, (kind, type_name) in ENVELOPE.items():
        value = body.get(name)
        if value is not None and not isinstance(value, kind):
            raise _wrong_type(value, type_name, name)
    for tag, value in (body.get("tags") or {}).items():
        if value is not None and not isinstance(value, str):
            raise _wrong_type(value, "System.String", f"tags.{tag}")


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, body, dict(headers or {}))


def listing(items: list[dict]) -> Reply:
    return Reply(200, {"value": items})


def no_content(status: int = 204) -> Reply:
    return Reply(status, None)

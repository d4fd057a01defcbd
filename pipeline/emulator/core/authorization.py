"""RBAC enforcement: the action(s) each request needs, checked against the role the emulator enforces.

Off by default (every request allowed, as for an Owner). Started with a role definition (`--role FILE`,
EmulatorOptions.role_file) or given one through the control API (PUT /_emulator/role), the emulator answers
403 AuthorizationFailed to a request whose action the role does not grant, and 403 LinkedAuthorizationFailed
when the request's body references a resource (a subnet, a backend pool, an image version) whose linked action
the role does not grant, with Azure's messages (who, which action, which scope).

What each operation needs comes from pipeline/rbac.py (ARM_ACTIONS, LINKED_ACTIONS): one mapping for the
emulator and the role test. Every check is recorded, enforcing or not (GET /_emulator/authorizations): which
action was checked, how often it was granted or denied, the first request that needed it, and its order
among the first uses.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pipeline.rbac import Role, UnmappedOperation, actions_for, linked_actions, resource_type

from .errors import AuthorizationFailed, InternalError, LinkedAuthorizationFailed

if TYPE_CHECKING:
    from .routing import Route


def scope_of(method: str, path: str) -> str:
    """The scope Azure names in its message: the resource the request addresses (a POST action's parent)."""
    path = path.rstrip("/")
    return path.rsplit("/", 1)[0] if method == "POST" else path


class Authorizer:
    def __init__(self, role: Role | None, *, principal_id: str):
        self.configured = role
        self.role = role
        self.principal_id = principal_id
        self._record: dict[str, dict] = {}

    @property
    def enforcing(self) -> bool:
        return self.role is not None

    def set_role(self, role: Role | None) -> None:
        self.role = role

    def reset(self) -> None:
        """Back to the role the emulator was started with; forget the record."""
        self.role = self.configured
        self._record.clear()

    def clear_record(self) -> None:
        self._record.clear()

    def describe(self) -> list[dict]:
        return [dict(entry, action=action) for action, entry in sorted(self._record.items())]

    def _decide(self, action: str, method: str, route: "Route", scope: str) -> bool:
        granted = self.role is None or self.role.allows(action)
        entry = self._record.setdefault(action, {"order": len(self._record), "granted": 0, "denied": 0, "first": {
            "method": method, "operation": route.operation, "scope": scope}})
        entry["granted" if granted else "denied"] += 1
        return granted

    def check(self, route: "Route", method: str, path: str, raw_body: bytes) -> None:
        """Raise AuthorizationFailed / LinkedAuthorizationFailed when the role does not grant what this needs."""
        scope = scope_of(method, path)
        try:
            needed = sorted(actions_for(method, route.operation))
        except UnmappedOperation as err:   # tests/ci/test_rbac.py catches this before it ships
            if not self.enforcing:
                return
            raise InternalError(f"The local cloud cannot authorize {method} {route.operation}: {err.args[0]}.")
        for action in needed:
            if not self._decide(action, method, route, scope):
                raise AuthorizationFailed(
                    f"The client '{self.principal_id}' with object id '{self.principal_id}' does not have "
                    f"authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. "
                    f"If access was recently granted, please refresh your credentials.")
        if method not in ("PUT", "PATCH") or not raw_body.strip():
            return
        try:
            body = json.loads(raw_body)
        except (UnicodeDecodeError, ValueError):
            return  # the handler answers the malformed body
        typed = resource_type(path)
        if typed is None or not isinstance(body, dict):
            return
        for action, scopes in sorted(linked_actions(body, typed[1]).items()):
            if not self._decide(action, method, route, scopes[0]):
                primary = needed[0] if needed else route.operation
                raise LinkedAuthorizationFailed(
                    f"The client '{self.principal_id}' with object id '{self.principal_id}' has permission to "
                    f"perform action '{primary}' on scope '{scope}'; however, it does not have permission to "
                    f"perform action(s) '{action}' on the linked scope(s) '{', '.join(scopes)}' "
                    f"or the linked scope(s) are invalid.")

    def permissions(self) -> list[dict]:
        """The Permissions API's answer: the enforced role, or everything when enforcement is off."""
        if self.role is None:
            return [{"actions": ["*"], "notActions": [], "dataActions": ["*"], "notDataActions": []}]
        role = self.role
        return [{"actions": list(role.actions), "notActions": list(role.not_actions),
                 "dataActions": list(role.data_actions), "notDataActions": list(role.not_data_actions)}]

"""ARM errors as Azure spells them: `{"error": {"code": ..., "message": ...}}` with the HTTP status.

Handlers raise these; the front door renders them. Codes are Azure's own, so clients and tests can
match on them exactly as they would against Azure.
"""

from __future__ import annotations


class ArmError(Exception):
    status = 400
    code = "BadRequest"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 headers: dict[str, str] | None = None, details: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.headers = headers or {}
        self.details = details or []

    def body(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class InvalidParameter(ArmError):
    code = "InvalidParameter"


class InvalidRequestContent(ArmError):
    code = "InvalidRequestContent"


class InvalidResourceReference(ArmError):
    code = "InvalidResourceReference"


class MissingApiVersion(ArmError):
    code = "MissingApiVersionParameter"


class UnsupportedApiVersion(ArmError):
    code = "NoRegisteredProviderFound"


class ResourceNotFound(ArmError):
    status = 404
    code = "ResourceNotFound"


class ResourceGroupNotFound(ArmError):
    status = 404
    code = "ResourceGroupNotFound"


class NotFound(ArmError):
    """A child resource (pool, rule, probe, instance) that is missing: Azure answers 404 NotFound."""

    status = 404
    code = "NotFound"


class Conflict(ArmError):
    status = 409
    code = "Conflict"


class AnotherOperationInProgress(ArmError):
    status = 409
    code = "AnotherOperationInProgress"


class OperationNotAllowed(ArmError):
    status = 409
    code = "OperationNotAllowed"


class InUse(ArmError):
    status = 400


class PreconditionFailed(ArmError):
    status = 412
    code = "PreconditionFailed"


class AuthenticationFailed(ArmError):
    status = 401
    code = "AuthenticationFailed"


class Throttled(ArmError):
    status = 429
    code = "TooManyRequests"


class InternalError(ArmError):
    status = 500
    code = "InternalServerError"


class PatchResourceNotFound(ArmError):
    """A PATCH of a resource that does not exist: ARM answers 404 PatchResourceNotFound, not ResourceNotFound."""

    status = 404
    code = "PatchResourceNotFound"


class AuthorizationFailed(ArmError):
    """RBAC refused the caller: 403 with who, which action and which scope in the message."""

    status = 403
    code = "AuthorizationFailed"


class LinkedAuthorizationFailed(AuthorizationFailed):
    """RBAC refused an action on a resource the request body references (a subnet to join, an image to read)."""

    code = "LinkedAuthorizationFailed"

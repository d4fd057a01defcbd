"""Turning SDK exceptions into the pipeline's one-line errors (AzureError, ResourceMissing, Throttled,
PreconditionFailed). Nothing above pipeline/azure/ sees an SDK exception."""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from pipeline.errors import AzureError, PreconditionFailed, ResourceMissing, Throttled

T = TypeVar("T")


def code_of(err: BaseException) -> str:
    error = getattr(err, "error", None)
    return getattr(error, "code", None) or ""


def status_of(err: BaseException) -> int | None:
    return getattr(err, "status_code", None)


def message_of(err: BaseException) -> str:
    error = getattr(err, "error", None)
    text = getattr(error, "message", None) or getattr(err, "message", None) or str(err)
    return " ".join(str(text).split())[:300]


_DENIED = re.compile(r"perform action '(?P<action>[^']+)' over scope '(?P<scope>[^']+)'")
_LINKED = re.compile(r"perform action\(s\) '(?P<action>[^']+)' on the linked scope\(s\) '(?P<scope>[^']+)'")


def authorization_message(what: str, err: BaseException) -> str | None:
    """One line for Azure's 403 AuthorizationFailed / LinkedAuthorizationFailed: which action the pipeline's
    identity lacks, on which scope, and what to do; None for any other error."""
    code = code_of(err)
    if status_of(err) != 403 or code not in ("AuthorizationFailed", "LinkedAuthorizationFailed"):
        return None
    error = getattr(err, "error", None)
    text = str(getattr(error, "message", None) or err)
    found = (_LINKED if code == "LinkedAuthorizationFailed" else _DENIED).search(text)
    if not found:
        return f"{what}: 403 {code}: {message_of(err)}"
    return (f"{what}: 403 {code}: the pipeline's identity may not perform {found['action']} on {found['scope']}; "
            f"give it the role in deploy/azure-role.json on the resource group (or add the action to the role) "
            f"and run the step again")


@contextmanager
def azure_call(what: str, *, missing: str | None = None) -> Iterator[None]:
    """Wrap SDK calls: `what` says what we were doing; `missing` says what to do when it is a 404."""
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    try:
        yield
    except HttpResponseError as err:
        status = status_of(err)
        if status == 404 and missing:
            raise ResourceMissing(f"{what}: not found ({code_of(err) or 'NotFound'}); {missing}") from err
        if status == 412:
            code = code_of(err) or "PreconditionFailed"
            raise PreconditionFailed(f"{what}: it changed since it was read (412 {code}, ETag mismatch); nothing "
                                     f"was written: run the step again") from err
        denied = authorization_message(what, err)
        if denied:
            raise AzureError(denied) from err
        if status == 429:
            raise Throttled(f"{what}: Azure is throttling requests (429) and retries ran out; wait a few minutes "
                            f"and run the step again") from err
        raise AzureError(f"{what}: {status} {code_of(err)}: {message_of(err)}") from err
    except (ServiceRequestError, ServiceResponseError) as err:
        raise AzureError(f"{what}: could not reach Azure ({type(err).__name__}); check the network, or for the "
                         f"local cloud run `invoke local.up`") from err


def none_if_missing(call: Callable[[], T]) -> T | None:
    """The call's result, or None when Azure answers 404: the `find` flavour of a `get` (other errors raise)."""
    from azure.core.exceptions import HttpResponseError

    try:
        return call()
    except HttpResponseError as err:
        if is_not_found(err):
            return None
        raise


def is_not_found(err: BaseException) -> bool:
    return status_of(err) == 404


# 409 codes that mean "another operation is in progress; try again when it ends". Compute answers a concurrent
# write with 409 Conflict ("The request failed due to conflict with a concurrent request"), Network with 409
# AnotherOperationInProgress. Every other 409 (PropertyChangeNotAllowed, OperationNotAllowed, ...) is permanent:
# retrying cannot help, so it fails at once with Azure's message.
TRANSIENT_CONFLICT_CODES = frozenset({"conflict", "anotheroperationinprogress", "operationpreempted",
                                      "retryableerror"})


def is_transient_conflict(err: BaseException) -> bool:
    return status_of(err) == 409 and code_of(err).lower() in TRANSIENT_CONFLICT_CODES

"""The one aiohttp handler every ARM request goes through.

Order, as Azure applies it: read the whole body (an early error must not corrupt the keep-alive stream),
authenticate, route, check the api-version, authorize (RBAC: core/authorization.py), note what the body carries
that its SDK model marks read-only or does not know (core/contract.py), inject faults, call the handler, page a
list (core/paging.py), then add the headers every ARM reply carries (request ids, rate-limit counts) and count
the request.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING

from aiohttp import web

from .errors import (ArmError, AuthenticationFailed, InternalError, MissingApiVersion, ResourceNotFound,
                     Throttled, UnsupportedApiVersion)
from . import names, paging
from .request import ArmRequest, Reply
from .routing import API_VERSIONS

if TYPE_CHECKING:
    from ..cloud import Cloud

log = logging.getLogger(__name__)

CLOUD_KEY = web.AppKey("cloud", object)
MAX_BODY = 4 * 1024 * 1024           # ARM refuses request bodies over 4 MB
MAX_DRAIN = 256 * 1024 * 1024        # beyond this an oversized body is not read to its end: the connection closes


async def read_body(request: web.Request) -> tuple[bytes, int]:
    """(body, size). The whole body is read even when it is too large, so the answer (413) leaves the keep-alive
    stream intact; only the first MAX_BODY bytes are kept."""
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(256 * 1024):
        size += len(chunk)
        if size <= MAX_BODY:
            chunks.append(chunk)
        elif size > MAX_DRAIN:
            break
    return b"".join(chunks), size


def too_large(size: int) -> ArmError:
    return ArmError(f"The request content length {size} exceeds the maximum allowed size of {MAX_BODY} bytes.",
                    code="RequestEntityTooLarge", status=413)


class RateLimits:
    """Azure's hourly per-subscription budget, reported (not enforced) in x-ms-ratelimit-remaining-* headers."""

    def __init__(self) -> None:
        self.window, self.reads, self.writes = time.monotonic(), 0, 0

    def headers(self, is_write: bool) -> dict[str, str]:
        if time.monotonic() - self.window > 3600:
            self.window, self.reads, self.writes = time.monotonic(), 0, 0
        if is_write:
            self.writes += 1
            return {"x-ms-ratelimit-remaining-subscription-writes": str(max(0, 1199 - self.writes))}
        self.reads += 1
        return {"x-ms-ratelimit-remaining-subscription-reads": str(max(0, 11999 - self.reads))}


def authenticate(headers: dict[str, str], token: str) -> None:
    scheme, _, presented = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        raise AuthenticationFailed("Authentication failed. The 'Authorization' header is missing.",
                                   headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if not hmac.compare_digest(presented.strip().encode(), token.encode()):
        raise AuthenticationFailed("Authentication failed. The access token is invalid.",
                                   code="InvalidAuthenticationToken",
                                   headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def check_api_version(query: dict[str, str], family: str, path: str) -> str:
    version = query.get("api-version")
    if not version:
        raise MissingApiVersion("The api-version query parameter (?api-version=) is required for all requests.")
    if version not in API_VERSIONS[family]:
        supported = ", ".join(sorted(API_VERSIONS[family], reverse=True))
        raise UnsupportedApiVersion(
            f"No registered resource provider found for path '{path}' and API version '{version}'. "
            f"The supported api-versions are '{supported}'.")
    return version


def render(reply: Reply) -> web.Response:
    if reply.body is None:
        return web.Response(status=reply.status, headers=reply.headers)
    return web.Response(status=reply.status, headers=reply.headers, body=json.dumps(reply.body).encode(),
                        content_type="application/json")


def render_error(err: ArmError) -> web.Response:
    return render(Reply(err.status, err.body(), dict(err.headers)))


async def _control(cloud: "Cloud", request: web.Request, raw_body: bytes, headers: dict[str, str],
                   query: dict[str, str]) -> web.Response:
    """The /_emulator/ API: token required (except health), no api-version, not counted."""
    from .routing import Router

    try:
        route, params, path_known = Router(cloud.control_routes).match(request.method, request.path)
        if route is None:
            raise ResourceNotFound(f"No control route {request.method} {request.path}.", code="NotFound")
        if route.operation != "Control_Health":
            authenticate(headers, cloud.options.token)
        req = ArmRequest(cloud=cloud, route=route, method=request.method, path=request.path, params=params,
                         query=query, headers=headers, raw_body=raw_body,
                         base_url=f"{request.scheme}://{request.host}", api_version="")
        return render(await route.handler(req))
    except ArmError as err:
        return render_error(err)


def make_handler(cloud: "Cloud"):

    async def handle(request: web.Request) -> web.StreamResponse:
        request_id = str(uuid.uuid4())
        raw_body, size = await read_body(request)
        path = request.path
        method = request.method
        operation = "Unknown"
        route = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = {k.lower(): v for k, v in request.query.items()}
        if path.startswith("/_emulator/") and size <= MAX_BODY:
            return await _control(cloud, request, raw_body, headers, query)
        try:
            if size > MAX_BODY:
                raise too_large(size)
            authenticate(headers, cloud.options.token)
            route, params, path_known = cloud.router.match(method, path)
            if route is None:
                if path_known:
                    raise ArmError(f"The requested method '{method}' is not allowed for '{path}'.",
                                   code="MethodNotAllowed", status=405)
                raise ResourceNotFound(f"The resource type could not be found for path '{path}'.",
                                       code="InvalidResourceType")
            operation = route.operation
            subscription = params.get("subscription")
            if subscription and subscription.lower() != cloud.options.subscription_id.lower():
                raise ResourceNotFound(f"The subscription '{subscription}' could not be found.",
                                       code="SubscriptionNotFound")
            api_version = check_api_version(query, route.family, path)
            cloud.authorizer.check(route, method, path, raw_body)
            if method == "PUT":
                names.check(params, route.name_param)
            cloud.counters.contract.check(operation, method, raw_body)
            req = ArmRequest(cloud=cloud, route=route, method=method, path=path, params=params, query=query,
                             headers=headers, raw_body=raw_body, base_url=f"{request.scheme}://{request.host}",
                             api_version=api_version)
            fault = cloud.faults.take(method, operation, path)
            if fault is not None:
                if fault.kind == "reset":
                    cloud.counters.count(method, operation, 0)
                    if request.transport is not None:
                        request.transport.abort()
                    raise asyncio.CancelledError()
                if fault.kind == "throttle":
                    raise Throttled(f"The request was throttled (injected fault); retry after "
                                    f"{fault.retry_after} seconds.", code=fault.code or "TooManyRequests",
                                    headers={"Retry-After": str(fault.retry_after)})
                if fault.kind == "error":
                    raise ArmError("An injected fault failed this request.",
                                   code=fault.code or "InternalServerError", status=fault.status)
                if fault.kind == "slow":
                    req.extra_delay = fault.delay
                if fault.kind == "fail_provisioning":
                    req.fail_provisioning = {"code": fault.code or "ProvisioningFailed"}
            reply = await route.handler(req)
            if method == "GET" and paging.is_listing(operation, reply):
                reply = paging.page(reply, url=f"{req.base_url}{path}", query=query,
                                    page_size=cloud.options.page_size)
            if req.extra_delay:  # a slow fault no long-running operation took up: slow the reply itself
                await asyncio.sleep(req.extra_delay)
            response = render(reply)
            if route.is_write and response.status < 400:
                cloud.changed()
        except ArmError as err:
            response = render_error(err)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("unhandled error in %s %s", method, path)
            response = render_error(InternalError("The server encountered an internal error; see the "
                                                  "emulator log.", code="InternalServerError"))
        if size > MAX_DRAIN:
            response.force_close()
        response.headers["x-ms-request-id"] = request_id
        response.headers["x-ms-correlation-request-id"] = headers.get("x-ms-client-request-id", request_id)
        response.headers.update(cloud.rate_limits.headers(route.is_write if route else method != "GET"))
        cloud.counters.count(method, operation, response.status)
        return response

    return handle

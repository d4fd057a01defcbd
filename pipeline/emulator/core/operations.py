"""Long-running operations: each is an asyncio task with an ARM operation-status resource.

A handler that starts slow work calls `Operations.start(...)` and returns `accepted(...)`: the reply carries
`Azure-AsyncOperation` (and `Location` for POST/DELETE) pointing back at this emulator, plus the poll delay.
Clients poll the URLs Azure uses (core/status.py): `.../locations/{loc}/operations/{id}` for status, and the
Location URL (compute: the same with `monitor=true`; network: `.../operationResults/{id}`) for a result.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from .errors import ArmError
from .request import Reply

if TYPE_CHECKING:
    from .request import ArmRequest

log = logging.getLogger(__name__)


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass
class Operation:
    id: str
    namespace: str
    location: str
    name: str
    status: str = "InProgress"
    start_time: str = field(default_factory=utcnow)
    end_time: str | None = None
    error: dict | None = None
    result: Any = None
    task: asyncio.Task | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.status != "InProgress"

    def status_body(self) -> dict:
        body: dict[str, Any] = {"name": self.id, "status": self.status, "startTime": self.start_time}
        if self.end_time:
            body["endTime"] = self.end_time
        if self.error:
            body["error"] = self.error
        return body


class Operations:
    def __init__(self, *, poll_ms: int):
        self.poll_ms = poll_ms
        self._ops: dict[str, Operation] = {}

    def start(self, req: "ArmRequest", *, namespace: str, location: str,
              work: Callable[[], Awaitable[Any]],
              on_failed: Callable[[ArmError], None] | None = None) -> Operation:
        """Run `work` in the background as operation `req.route.operation`.

        Faults set on the request apply here: `slow` delays the work, `fail_provisioning` fails it.
        `on_failed` lets the owner mark its resource Failed.
        """
        # Operation URLs name the region as Azure spells it in paths: "West US" -> "westus" (a space would
        # make the Azure-AsyncOperation URL invalid for clients that use it verbatim).
        region = "".join((location or "local").split()).lower()
        op = Operation(id=str(uuid.uuid4()), namespace=namespace, location=region,
                       name=req.route.operation)
        delay, failure = req.extra_delay, req.fail_provisioning
        req.extra_delay = 0.0  # consumed by the operation, not the reply

        async def run() -> None:
            try:
                if delay:
                    await asyncio.sleep(delay)
                if failure:
                    raise ArmError(failure.get("message", "Provisioning failed (injected fault)."),
                                   code=failure.get("code", "ProvisioningFailed"), status=200)
                op.result = await work()
                op.status = "Succeeded"
            except ArmError as err:
                op.status, op.error = "Failed", err.body()["error"]
                if on_failed:
                    on_failed(err)
            except asyncio.CancelledError:
                op.status, op.error = "Canceled", {"code": "Canceled", "message": "The operation was canceled."}
                raise
            except Exception as err:  # an emulator bug: report it as Azure would, keep serving
                log.exception("operation %s (%s) crashed", op.id, op.name)
                op.status = "Failed"
                op.error = {"code": "InternalServerError", "message": f"{type(err).__name__}: {err}"}
                if on_failed:
                    on_failed(ArmError(str(err), code="InternalServerError"))
            finally:
                op.end_time = utcnow()

        op.task = asyncio.get_running_loop().create_task(run(), name=f"op-{op.name}-{op.id}")
        self._ops[op.id] = op
        return op

    def get(self, op_id: str) -> Operation | None:
        return self._ops.get(op_id)

    def poll_headers(self) -> dict[str, str]:
        """The poll delay, as Azure sends it: Retry-After in whole seconds, and the same in milliseconds.

        azure-core reads Retry-After first and treats 0 as "none": it then polls at the client's
        polling_interval (30 s by default; the pipeline's local clients and the tests set a short one), never
        at retry-after-ms. So below half a second Retry-After reads 0 and the client's interval rules."""
        seconds = int(self.poll_ms / 1000 + 0.5)
        return {"Retry-After": str(seconds), "retry-after-ms": str(self.poll_ms),
                "x-ms-retry-after-ms": str(self.poll_ms)}

    def accepted(self, req: "ArmRequest", op: Operation, *, status: int, body: Any = None,
                 location_header: bool = False) -> Reply:
        from .status import result_url, status_url

        headers = {**self.poll_headers()}
        if op.namespace != "Microsoft.Resources":   # a resource group delete answers with Location only
            headers["Azure-AsyncOperation"] = status_url(req, op)
        if location_header:
            headers["Location"] = result_url(req, op)
        return Reply(status, body, headers)

    async def cancel_all(self) -> None:
        tasks = [op.task for op in self._ops.values() if op.task and not op.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._ops.clear()

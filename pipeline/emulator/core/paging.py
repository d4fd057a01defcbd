"""Paged lists: every List operation answers at most `page_size` items and a `nextLink` to the rest.

ARM lists are pageable (`{"value": [...], "nextLink": "..."}`) and clients must follow nextLink until it is
absent; the SDK pagers do. Azure's page sizes vary by service and are large, so a client that reads only the
first page works until a list grows. The local cloud pages every list at `EmulatorOptions.page_size` (small
in tests) so that pagers are exercised, and honours `$top` as a cap on the items returned in all.
The continuation is `$skiptoken` (opaque to clients: they follow nextLink verbatim).
"""

from __future__ import annotations

from urllib.parse import urlencode

from .errors import InvalidParameter
from .request import Reply


def _non_negative(query: dict[str, str], name: str, *, low: int) -> int | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if number < low:
        raise InvalidParameter(f"The value '{value}' of query parameter '{name}' is not valid: an integer of at "
                               f"least {low} is expected.")
    return number


def is_listing(operation: str, reply: Reply) -> bool:
    body = reply.body
    return ("_List" in operation and reply.status == 200 and isinstance(body, dict)
            and isinstance(body.get("value"), list) and "nextLink" not in body)


def page(reply: Reply, *, url: str, query: dict[str, str], page_size: int) -> Reply:
    """One page of a list reply; `url` is scheme://host/path of the request, `query` its (lower-cased) query."""
    items = reply.body["value"]
    top = _non_negative(query, "$top", low=1)
    start = _non_negative(query, "$skiptoken", low=0) or 0
    end_all = len(items) if top is None else min(len(items), top)
    end = min(end_all, start + max(1, page_size))
    body = {**reply.body, "value": items[start:end]}
    if end < end_all:
        rest = {k: v for k, v in query.items() if k != "$skiptoken"}
        body["nextLink"] = f"{url}?{urlencode({**rest, '$skiptoken': str(end)}, safe='$/,:')}"
    return Reply(reply.status, body, reply.headers)

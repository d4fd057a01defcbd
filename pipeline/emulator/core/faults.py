"""Fault injection: rules that match requests and make them fail the ways Azure fails.

Kinds: `throttle` (429 + Retry-After), `error` (a status, 500 by default), `reset` (the connection is dropped
before any reply), `slow` (the operation or reply is delayed), `fail_provisioning` (the long-running
operation ends Failed). A rule fires on a share of matching requests (`rate`) and/or a number of times
(`count`, one-shot when 1). Matching: method, Azure operationId, and a substring of the request path.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import asdict, dataclass, field

KINDS = ("throttle", "error", "reset", "slow", "fail_provisioning")


@dataclass
class FaultRule:
    kind: str
    operation: str | None = None      # e.g. "VirtualMachineScaleSets_ManualUpgrade"; None matches all
    method: str | None = None
    resource: str | None = None       # case-insensitive substring of the path, e.g. a scale set's name
    rate: float = 1.0
    count: int | None = None          # fires at most this many times; None: no limit
    retry_after: int = 1              # throttle: seconds
    status: int = 500                 # error: HTTP status
    code: str | None = None           # error / fail_provisioning: the ARM error code
    delay: float = 2.0                # slow: seconds
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    fired: int = 0

    def matches(self, method: str, operation: str, path: str) -> bool:
        return ((self.method is None or self.method.upper() == method)
                and (self.operation is None or self.operation.lower() == operation.lower())
                and (self.resource is None or self.resource.lower() in path.lower())
                and (self.count is None or self.fired < self.count))


def rule_from_json(data: dict) -> FaultRule:
    allowed = set(FaultRule.__dataclass_fields__) - {"id", "fired"}
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"unknown fault fields: {sorted(unknown)}; allowed: {sorted(allowed)}")
    rule = FaultRule(**data)
    if rule.kind not in KINDS:
        raise ValueError(f"unknown fault kind {rule.kind!r}; use one of {', '.join(KINDS)}")
    if not 0.0 <= rule.rate <= 1.0:
        raise ValueError("rate must be between 0 and 1")
    return rule


class Faults:
    def __init__(self, *, seed: int | None = None):
        self.rules: list[FaultRule] = []
        self._random = random.Random(seed)

    def add(self, rule: FaultRule) -> FaultRule:
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def remove(self, rule_id: str) -> bool:
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.id != rule_id]
        return len(self.rules) != before

    def take(self, method: str, operation: str, path: str) -> FaultRule | None:
        """The first matching rule that fires for this request (counting it), or None."""
        for rule in self.rules:
            if rule.matches(method, operation, path) and self._random.random() < rule.rate:
                rule.fired += 1
                return rule
        return None

    def describe(self) -> list[dict]:
        return [asdict(r) for r in self.rules]

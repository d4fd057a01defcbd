"""Per-operation request counters (method, Azure operationId, status) that tests and benchmarks read, and the
contract guard's counts of read-only or unknown members sent per operation (core/contract.py)."""

from __future__ import annotations

from collections import Counter

from .contract import ContractGuard


class Counters:
    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, int]] = Counter()
        self.contract = ContractGuard()

    def count(self, method: str, operation: str, status: int) -> None:
        self._counts[(method, operation, status)] += 1

    def reset(self) -> None:
        self._counts.clear()
        self.contract.reset()

    def describe(self) -> list[dict]:
        return [{"method": m, "operation": o, "status": s, "count": n}
                for (m, o, s), n in sorted(self._counts.items())]

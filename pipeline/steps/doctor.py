"""`invoke doctor`: read-only checks of a subscription and environment before a first release (and in CI before
bake). Reads facts (pipeline/azure/doctor.py, pipeline/bake/installed.py), decides (pipeline/doctor/checks.py),
reports every check with PASS / WARN / FAIL and a one-line fix; exit code 13 when one FAILs."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from pipeline.azure import doctor as reader
from pipeline.bake.installed import packer_facts
from pipeline.doctor.checks import FAIL, PASS, WARN, Check, run_checks
from pipeline.doctor.wanted import wanted
from pipeline.errors import ConfigError, DoctorFailed
from pipeline.steps.context import Context

log = logging.getLogger(__name__)

ROLE = Path(__file__).resolve().parents[2] / "deploy" / "azure-role.json"


@dataclass(frozen=True)
class DoctorResult:
    environment: str
    subscription_id: str
    resource_group: str
    checks: tuple[Check, ...]

    def count(self, status: str) -> int:
        return sum(1 for c in self.checks if c.status == status)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status == FAIL)

    @property
    def exit_code(self) -> int:
        return DoctorFailed.exit_code if self.failed else 0

    @property
    def failure(self) -> str:
        names = ", ".join(c.name for c in self.failed)
        return f"doctor: {len(self.failed)} check(s) fail ({names}); apply each fix and run `invoke doctor` again"

    @property
    def summary(self) -> str:
        return f"doctor {self.environment}: {self.count(PASS)} PASS, {self.count(WARN)} WARN, {self.count(FAIL)} FAIL"

    def lines(self) -> list[str]:
        width = max(len(c.name) for c in self.checks)
        out = [f"doctor: environment {self.environment}, subscription {self.subscription_id}, "
               f"resource group {self.resource_group}"]
        for c in self.checks:
            out.append(f"  {c.status:4}  {c.name:{width}}  {c.summary}")
            if c.fix and c.status != PASS:
                out.append(f"        {'':{width}}  fix: {c.fix}")
        out.append(self.summary)
        return out

    def to_json(self) -> dict:
        return {"step": "doctor", "environment": self.environment, "subscription_id": self.subscription_id,
                "resource_group": self.resource_group, "ok": not self.failed,
                "counts": {s: self.count(s) for s in (PASS, WARN, FAIL)},
                "checks": [c.to_json() for c in self.checks]}


def role_actions(path: Path = ROLE) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(Actions, DataActions) of the pipeline's role file."""
    try:
        role = json.loads(path.read_text())
        return tuple(role["Actions"]), tuple(role.get("DataActions", ()))
    except (OSError, ValueError, KeyError) as err:
        raise ConfigError(f"{path}: cannot read the role's Actions ({type(err).__name__}); restore the file from "
                          f"git") from err


def doctor(ctx: Context, *, packer: str = "packer", role: Path = ROLE) -> DoctorResult:
    s, c = ctx.settings, ctx.clients
    actions, data_actions = role_actions(role)
    want = wanted(s, role_actions=actions, role_data_actions=data_actions)
    facts = reader.read_facts(c, packer=packer_facts(packer))
    return DoctorResult(s.environment, c.subscription_id, s.resource_group, run_checks(facts, want))

"""The whole exception tree of the pipeline, and the exit code each maps to.

    PipelineError                      1  anything else the pipeline reports
    ├── ConfigError (ValueError)       2  pipeline.toml, environment variables or flags are wrong
    ├── TemplateError (ValueError)     2  a Packer template or its variables are wrong
    ├── AzureError                     3  an Azure (or local cloud) call failed
    │   ├── ResourceMissing (LookupError)  4  a resource the step needs does not exist
    │   └── Throttled                  3  Azure kept answering 429 after our retries
    ├── BakeError                      5  Packer failed or produced no artifact
    ├── FleetUnhealthy                 6  instances did not become healthy in time
    ├── SmokeFailed                    7  a smoke check failed
    ├── LockHeld                       8  another release holds the environment's lock
    ├── StateMismatch                  9  the load balancer does not match the release ledger
    ├── VerificationFailed            10  promote verification failed; traffic was swapped back
    ├── NotReady                      11  a precondition is unmet (nothing staged, nothing to roll back to)
    ├── RolloutHalted                 12  an in-place rollout stopped at its health gate
    └── DoctorFailed                  13  `invoke doctor` found a check that fails

Every message is one line that says what went wrong and what to do; `details` may add lines under it
(which instances, the tail of their boot log). The CLI layer
(`tasks.py`) is the only place that turns these into an exit code.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base class: a failure the user can act on. `str(err)` is the one-line message."""

    exit_code = 1

    def __init__(self, message: str, *, details: tuple[str, ...] | list[str] = ()):
        super().__init__(message)
        self.details = tuple(details)  # extra lines (per-instance reasons, log tails) shown under the message


class ConfigError(PipelineError, ValueError):
    exit_code = 2


class TemplateError(PipelineError, ValueError):
    exit_code = 2


class AzureError(PipelineError):
    exit_code = 3


class ResourceMissing(AzureError, LookupError):
    exit_code = 4


class Throttled(AzureError):
    exit_code = 3


class BakeError(PipelineError):
    exit_code = 5


class FleetUnhealthy(PipelineError):
    exit_code = 6


class SmokeFailed(PipelineError):
    exit_code = 7


class LockHeld(PipelineError):
    exit_code = 8


class StateMismatch(PipelineError):
    exit_code = 9


class VerificationFailed(PipelineError):
    exit_code = 10


class NotReady(PipelineError):
    exit_code = 11


class RolloutHalted(PipelineError):
    exit_code = 12


class DoctorFailed(PipelineError):
    """Not raised: `invoke doctor` prints every check, then exits with this code when one FAILs."""

    exit_code = 13

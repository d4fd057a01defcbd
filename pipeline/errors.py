"""The whole exception tree of the pipeline, and the exit code each maps to.

    PipelineError                      1  anything else the pipeline reports
    ├── ConfigError (ValueError)       2  pipeline.toml, environment variables or flags are wrong
    ├── TemplateError (ValueError)     2  a Packer template or its variables are wrong
    ├── RecordError (ValueError)       2  a release record file is not one this code reads
    ├── AzureError                     3  an Azure (or local cloud) call failed
    │   ├── ResourceMissing (LookupError)  4  a resource the step needs does not exist
    │   ├── Throttled                  3  Azure kept answering 429 after our retries
    │   └── LeaseTaken                 3  another holder leases the blob (lock.py turns it into LockHeld)
    ├── BakeError                      5  Packer failed or produced no artifact
    ├── FleetUnhealthy                 6  instances did not become healthy in time
    ├── SmokeFailed                    7  a smoke check failed
    ├── LockHeld                       8  another release holds the environment's lock
    ├── StateMismatch                  9  the load balancer does not match the release ledger
    │   └── PreconditionFailed         9  an ETag-guarded write lost: it changed since we read it
    │       └── ConcurrentUpdate       9  a conditional blob write lost (changed, or already exists)
    ├── VerificationFailed            10  promote verification failed; traffic was swapped back
    ├── NotReady                      11  a precondition is unmet (nothing staged, nothing to roll back to)
    ├── RolloutHalted                 12  an in-place rollout stopped at its health gate
    └── DoctorFailed                  13  `invoke doctor` found a check that fails

Every message is one line that says what went wrong and what to do; `details` may add lines under it
(which instances, the tail of their boot log). `pipeline/cli.py` `run` (what every task in tasks.py calls)
is the only place that turns these into an exit code. pipeline/azure/ raises only these: no SDK exception
reaches the steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


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


class LeaseTaken(AzureError):
    """Another holder has a lease on the blob. `metadata` is the blob's metadata (the holder's note).
    (Not also a BlockingIOError, which it resembles: `except OSError` around I/O would swallow it.)"""

    def __init__(self, message: str, *, metadata: Mapping[str, str] = MappingProxyType({}),
                 details: tuple[str, ...] | list[str] = ()) -> None:
        super().__init__(message, details=details)
        self.metadata = dict(metadata)


class RecordError(PipelineError, ValueError):
    """The JSON is not a release record this code understands."""

    exit_code = 2


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


class PreconditionFailed(StateMismatch):
    """Azure (or blob storage) answered 412: the resource changed since we read its ETag, so nothing was written.
    pipeline/azure/ raises it wherever a guarded write loses; re-running the step re-reads and decides again."""


class ConcurrentUpdate(PreconditionFailed):
    """A conditional blob write lost: the blob changed (412) or already exists (create-only). Re-read and retry."""


class VerificationFailed(PipelineError):
    exit_code = 10


class NotReady(PipelineError):
    exit_code = 11


class RolloutHalted(PipelineError):
    exit_code = 12


class DoctorFailed(PipelineError):
    """Not raised: `invoke doctor` prints every check, then exits with this code when one FAILs."""

    exit_code = 13

"""Where an image came from: the provenance tags every published gallery image version carries.

    tags = provenance_tags(fingerprint=fp, app_version="1.4.0", packer_run_uuid=run, git_commit=git_commit(),
                           baked_by=ctx.who, baked_at=ctx.now())

Tag keys (Azure tag names allow '-'; values are cut to Azure's 256 characters):
    git-commit        `git rev-parse HEAD`, "+dirty" when tracked files differ from it, "unknown" outside git
    packer-run-uuid   the Packer run that built the image (its manifest's last_run_uuid)
    fingerprint       pipeline.bake.fingerprint of the inputs: how a later bake finds an identical image
    app-version       the app version baked in
    baked-by          who ran the bake (user@host, or the CI job)
    baked-at          when it was published (ISO 8601 UTC, seconds)
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger(__name__)

#: Every key a fully published version carries; a version missing some was interrupted before tagging.
PROVENANCE_KEYS = ("git-commit", "packer-run-uuid", "fingerprint", "app-version", "baked-by", "baked-at")
UNKNOWN = "unknown"
TAG_VALUE_MAX = 256
_GIT_TIMEOUT_S = 20


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=_GIT_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as err:
        log.debug("git %s failed: %s", " ".join(args), err)
        return None
    if done.returncode != 0:
        log.debug("git %s exited %d: %s", " ".join(args), done.returncode, done.stderr.strip()[:200])
        return None
    return done.stdout.strip()


def git_commit(cwd: Path | str = ".") -> str:
    """HEAD's commit, "+dirty" appended when tracked files have changes (as `git describe --dirty`: untracked
    files do not count), "unknown" when `cwd` is not in a git work tree or git is missing."""
    head = _git(["rev-parse", "--verify", "HEAD"], Path(cwd))
    if not head:
        return UNKNOWN
    status = _git(["status", "--porcelain", "--untracked-files=no"], Path(cwd))
    return f"{head}+dirty" if status else head


def _tag_value(value: object) -> str:
    text = str(value)
    return text if len(text) <= TAG_VALUE_MAX else text[: TAG_VALUE_MAX - 3] + "..."


def provenance_tags(
    *,
    fingerprint: str,
    app_version: str,
    packer_run_uuid: str | None,
    git_commit: str,
    baked_by: str,
    baked_at: datetime,
) -> dict[str, str]:
    """The provenance tags (pure). `baked_at` must be timezone-aware; it is written in UTC."""
    if baked_at.tzinfo is None:
        raise ValueError("baked_at must be timezone-aware")
    values = {
        "git-commit": git_commit or UNKNOWN,
        "packer-run-uuid": packer_run_uuid or UNKNOWN,
        "fingerprint": fingerprint,
        "app-version": app_version,
        "baked-by": baked_by or UNKNOWN,
        "baked-at": baked_at.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    return {key: _tag_value(values[key]) for key in PROVENANCE_KEYS}


def missing_provenance(tags: Mapping[str, str]) -> tuple[str, ...]:
    """Provenance keys a version's tags lack (pure)."""
    return tuple(key for key in PROVENANCE_KEYS if not tags.get(key))


def completed_tags(existing: Mapping[str, str], provenance: Mapping[str, str]) -> dict[str, str]:
    """`existing` tags with the missing provenance keys filled in; present values are kept (pure)."""
    merged = dict(existing)
    for key, value in provenance.items():
        if not merged.get(key):
            merged[key] = value
    return merged

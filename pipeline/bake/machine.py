"""Pure parsing of Packer's -machine-readable output and of the manifest post-processor's file.

A machine-readable line is `timestamp,target,type,data...`; commas inside data are written as
`%!(PACKER_COMMA)` and newlines as a literal `\\n`. The manifest APPENDS one entry per build and
run, so the build of this run is found through `last_run_uuid`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from pipeline.errors import BakeError

# Error lines that only summarise an earlier, more useful one.
_SUMMARY_PREFIXES = ("Build '", "Some builds didn't complete", "--> ", "Builds finished")


@dataclass(frozen=True)
class MachineLine:
    timestamp: int
    target: str
    type: str
    data: tuple[str, ...]

    @property
    def ui_text(self) -> str | None:
        """Human text of a `ui` line (say/message/error), else None."""
        if self.type == "ui" and len(self.data) >= 2:
            return ",".join(self.data[1:])
        return None

    @property
    def is_error(self) -> bool:
        return (self.type == "ui" and self.data[:1] == ("error",)) or self.type == "error"


@dataclass(frozen=True)
class Artifact:
    target: str
    index: int
    builder_id: str = ""
    id: str = ""
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class ManifestBuild:
    run_uuid: str
    name: str
    builder_type: str
    artifact_id: str
    files: tuple[str, ...]
    custom_data: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def unescape(text: str) -> str:
    return text.replace("%!(PACKER_COMMA)", ",").replace("\\n", "\n").replace("\\r", "\r")


def parse_line(line: str) -> MachineLine | None:
    """Parse one machine-readable line; None for anything else (e.g. a plugin's stray output)."""
    parts = line.rstrip("\r\n").split(",")
    if len(parts) < 3 or not parts[0].isdigit():
        return None
    return MachineLine(
        timestamp=int(parts[0]), target=parts[1], type=parts[2], data=tuple(unescape(p) for p in parts[3:])
    )


def artifacts(lines: Iterable[MachineLine], *, target: str) -> tuple[Artifact, ...]:
    """Artifacts reported for `target` (e.g. "app.null.local"), in index order."""
    found: dict[int, dict] = {}
    for line in lines:
        if line.target != target or line.type != "artifact" or len(line.data) < 2 or not line.data[0].isdigit():
            continue
        entry = found.setdefault(int(line.data[0]), {"files": []})
        key, rest = line.data[1], line.data[2:]
        if key == "builder-id" and rest:
            entry["builder_id"] = rest[0]
        elif key == "id" and rest:
            entry["id"] = rest[0]
        elif key == "file" and len(rest) >= 2:
            entry["files"].append(rest[1])
    return tuple(
        Artifact(target=target, index=index, builder_id=entry.get("builder_id", ""), id=entry.get("id", ""),
                 files=tuple(entry["files"]))
        for index, entry in sorted(found.items())
    )


def last_error(lines: Iterable[MachineLine]) -> str | None:
    """The most useful error, first line only: the last ui error that is not a summary (that is
    usually the provisioner's own message), else Packer's per-build error, else any error."""
    ui_useful = build_error = any_error = None
    for line in lines:
        if not line.is_error:
            continue
        text = (line.ui_text if line.type == "ui" else ",".join(line.data)) or ""
        first = next((part.strip() for part in text.splitlines() if part.strip()), "")
        first = first.removeprefix("==> ").strip()
        if not first:
            continue
        any_error = first
        if line.type == "error":
            build_error = first
        elif not first.startswith(_SUMMARY_PREFIXES):
            ui_useful = first
    return ui_useful or build_error or any_error


def select_build(manifest: Mapping, *, builder_type: str, name: str) -> ManifestBuild:
    """The entry of the last run for source `builder_type.name`; BakeError when there is none."""
    run_uuid = manifest.get("last_run_uuid")
    builds = manifest.get("builds")
    if not run_uuid or not isinstance(builds, list):
        raise BakeError("the Packer manifest has no last_run_uuid or builds; check the manifest post-processor")
    for build in reversed(builds):
        if (
            isinstance(build, dict)
            and build.get("packer_run_uuid") == run_uuid
            and build.get("builder_type") == builder_type
            and (build.get("name") == name or str(build.get("name", "")).endswith(f".{name}"))
        ):
            return ManifestBuild(
                run_uuid=run_uuid,
                name=name,
                builder_type=builder_type,
                artifact_id=str(build.get("artifact_id") or ""),
                files=tuple(str(f.get("name")) for f in build.get("files") or () if isinstance(f, dict)),
                custom_data=MappingProxyType(dict(build.get("custom_data") or {})),
            )
    raise BakeError(
        f"the Packer manifest has no {builder_type}.{name} build for run {run_uuid}; "
        "check that the build selector matches a source"
    )

"""Run `packer build` for one source of a named build and return what it made.

Non-secret variables go on the command line as `-var`; secrets ONLY through PKR_VAR_* environment
variables. Every output line is redacted (machine-readable output does not mask sensitive
variables) before it reaches the log or the progress callback.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from pipeline.bake import machine
from pipeline.bake.templates import TemplateSummary, check_templates
from pipeline.errors import BakeError, TemplateError
from pipeline.redact import Redactor

log = logging.getLogger(__name__)

MANIFEST_NAME = "packer-manifest.json"


@dataclass(frozen=True)
class PackerResult:
    """One successful build. `artifact_id` is the managed image id on Azure and the image tarball
    path locally (the null builder has no id); `files` are the artifact's files."""

    run_uuid: str
    selector: str
    artifact_id: str
    files: tuple[str, ...]
    custom_data: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    manifest: Path | None = None


def format_var(value: object) -> str:
    """A -var value: strings as they are, everything else as JSON (which HCL also reads)."""
    return value if isinstance(value, str) else json.dumps(value)


def build_command(*, packer: str, template_dir: Path, selector: str, variables: Mapping[str, object]) -> list[str]:
    """The argv for a build; `variables` must not hold secrets (pure)."""
    argv = [packer, "build", "-machine-readable", "-color=false", f"-only={selector}"]
    for name in sorted(variables):
        argv += ["-var", f"{name}={format_var(variables[name])}"]
    return [*argv, str(template_dir)]


def secret_environment(secrets: Mapping[str, object]) -> dict[str, str]:
    return {f"PKR_VAR_{name}": format_var(value) for name, value in secrets.items()}


def split_secrets(
    summary: TemplateSummary, *, variables: Mapping[str, object], secrets: Mapping[str, object]
) -> None:
    """Refuse a sensitive variable passed as a plain variable: it would end up on a command line."""
    leaked = sorted(set(variables) & summary.sensitive)
    if leaked:
        raise TemplateError(
            f"variables {', '.join(leaked)} are sensitive; pass them in secrets= so they go through PKR_VAR_*"
        )
    both = sorted(set(variables) & set(secrets))
    if both:
        raise TemplateError(f"variables {', '.join(both)} are given both as variables and as secrets; give each once")


def _read_manifest(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise BakeError(f"cannot read the Packer manifest {path} ({err}); delete it and bake again") from err


def run_packer(
    template_dir: Path | str,
    *,
    build: str,
    source: str,
    output_dir: Path | str,
    variables: Mapping[str, object],
    secrets: Mapping[str, object] = MappingProxyType({}),
    packer: str = "packer",
    progress: Callable[[str], None] | None = None,
    redactor: Redactor | None = None,
    cwd: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
) -> PackerResult:
    """Build `build.source` (e.g. build="app", source="null.local") and return its manifest entry.

    `output_dir` is passed as the template's output_dir variable; the manifest is read from
    `<output_dir>/packer-manifest.json`. `progress` gets each redacted human-readable line.
    Raises TemplateError before Packer runs, BakeError when it fails or makes nothing.
    """
    template_dir = Path(template_dir).resolve()
    output_dir = Path(output_dir).resolve()
    base_env = dict(os.environ if environ is None else environ)
    all_vars = {**variables, "output_dir": str(output_dir)}
    summary = check_templates(template_dir, build=build, source=source, variables={**all_vars, **secrets},
                              environ=base_env)
    split_secrets(summary, variables=all_vars, secrets=secrets)
    redactor = (redactor or Redactor()).with_secrets(*(format_var(v) for v in secrets.values()))

    selector = summary.selector(source)
    builder_type, name = source.split(".", 1)
    manifest_path = output_dir / MANIFEST_NAME
    previous_run = _read_manifest(manifest_path).get("last_run_uuid")
    output_dir.mkdir(parents=True, exist_ok=True)

    argv = build_command(packer=packer, template_dir=template_dir, selector=selector, variables=all_vars)
    env = {**base_env, **secret_environment(secrets), "CHECKPOINT_DISABLE": "1"}
    log.info("packer build %s (run in %s)", selector, cwd or os.getcwd())
    lines = _stream(argv, env=env, cwd=cwd, redactor=redactor, progress=progress)

    code = lines.returncode
    if code != 0:
        reason = machine.last_error(lines.parsed) or f"packer exited with code {code}"
        raise BakeError(f"packer build {selector} failed: {reason}; see the Packer output above")
    made = machine.artifacts(lines.parsed, target=selector)
    manifest = _read_manifest(manifest_path)
    if not made or manifest.get("last_run_uuid") in (None, previous_run):
        raise BakeError(f"packer build {selector} produced no artifact; check that the template builds this source")
    entry = machine.select_build(manifest, builder_type=builder_type, name=name)
    files = entry.files or tuple(f for artifact in made for f in artifact.files)
    result = PackerResult(
        run_uuid=entry.run_uuid,
        selector=selector,
        artifact_id=entry.artifact_id or (files[0] if files else ""),
        files=files,
        custom_data=entry.custom_data,
        manifest=manifest_path,
    )
    log.info("packer build %s made %s (run %s)", selector, result.artifact_id, result.run_uuid)
    return result


def packer_init(template_dir: Path | str, *, packer: str = "packer",
                progress: Callable[[str], None] | None = None) -> None:
    """`packer init`: install the plugins the templates' required_plugins pin (packer/azure). Needs Packer >= 1.7."""
    argv = [packer, "init", str(Path(template_dir).resolve())]
    lines = _stream(argv, env={**os.environ, "CHECKPOINT_DISABLE": "1"}, cwd=None, redactor=Redactor(),
                    progress=progress)
    if lines.returncode != 0:
        raise BakeError(f"packer init {template_dir} failed (exit {lines.returncode}): the Azure build needs Packer "
                        ">= 1.10 with network access to install the pinned azure plugin; see packer/README.md")


@dataclass
class _Output:
    parsed: list[machine.MachineLine]
    returncode: int


def _stream(
    argv: list[str],
    *,
    env: Mapping[str, str],
    cwd: Path | str | None,
    redactor: Redactor,
    progress: Callable[[str], None] | None,
) -> _Output:
    """Run Packer, redacting and parsing each line as it arrives."""
    parsed: list[machine.MachineLine] = []
    try:
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(env), cwd=cwd, text=True, encoding="utf-8", errors="replace", bufsize=1,
        )
    except FileNotFoundError as err:
        raise BakeError(f"packer not found ({argv[0]}); install Packer >= 1.6.6 or pass packer=<path>") from err
    with proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = machine.parse_line(redactor.redact(raw))
            text = redactor.redact(line.ui_text if line and line.ui_text is not None else raw.rstrip("\n"))
            if line is not None:
                parsed.append(line)
                if line.type != "ui":
                    log.debug("packer: %s", ",".join((line.target, line.type, *line.data)))
                    continue
            text = text.strip()
            if text:
                (log.warning if line is not None and line.is_error else log.info)("packer: %s", text)
                if progress is not None:
                    progress(text)
    return _Output(parsed=parsed, returncode=proc.returncode)

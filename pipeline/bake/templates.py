"""Read a Packer HCL2 template directory and catch mistakes before Packer runs.

Packer 1.6.6 builds nothing (and exits 0) for an `-only` selector that matches no source, and
reports unset variables only after start-up; these checks fail fast with one-line messages.
Parsing is pure apart from reading the files.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import hcl2
from lark.exceptions import LarkError, UnexpectedInput

from pipeline import naming
from pipeline.errors import ConfigError, TemplateError

log = logging.getLogger(__name__)

_OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False)

#: Template variables whose value must satisfy an Azure naming rule (empty means "not used").
NAME_RULES = {
    "image_version": naming.check_gallery_image_version,
    "managed_image_name": naming.check_managed_image_name,
    "image_definition": naming.check_image_definition_name,
    "gallery_name": naming.check_gallery_name,
    "resource_group": naming.check_resource_group_name,
}


@dataclass(frozen=True)
class TemplateVariable:
    name: str
    file: str
    has_default: bool
    default: object = None
    sensitive: bool = False


@dataclass(frozen=True)
class TemplateSummary:
    """What a template directory declares; `sources` are "type.name" strings used by the build."""

    template_dir: Path
    build_name: str
    sources: tuple[str, ...]
    variables: Mapping[str, TemplateVariable]
    files: tuple[str, ...]

    @property
    def sensitive(self) -> frozenset[str]:
        return frozenset(name for name, var in self.variables.items() if var.sensitive)

    @property
    def required(self) -> frozenset[str]:
        return frozenset(name for name, var in self.variables.items() if not var.has_default)

    def selector(self, source: str) -> str:
        """The `-only` value for a source of this build: "app.null.local"."""
        return f"{self.build_name}.{source}"


def parse_file(path: Path) -> dict:
    """Parse one .pkr.hcl file; a syntax error becomes a TemplateError naming the file and line."""
    try:
        with path.open(encoding="utf-8") as handle:
            return hcl2.load(handle, serialization_options=_OPTIONS)
    except UnexpectedInput as err:
        raise TemplateError(
            f"{path}:{err.line}:{err.column}: HCL syntax error (the line may be approximate); fix the "
            f"syntax there, `packer validate -syntax-only {path.parent}` shows details"
        ) from err
    except (LarkError, ValueError, UnicodeDecodeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TemplateError(f"{path}: cannot parse HCL ({first}); fix the file") from err


def _blocks(doc: dict, kind: str) -> list[dict]:
    return [block for block in doc.get(kind, []) if isinstance(block, dict)]


def _build_sources(build: dict) -> list[str]:
    names = [ref.removeprefix("source.") for ref in build.get("sources", []) if isinstance(ref, str)]
    for nested in build.get("source", []):  # source "type.name" { ... } inside the build block
        names.extend(key for key in nested if not key.startswith("__"))
    return names


def summarize(template_dir: Path, docs: Mapping[str, dict], *, build: str) -> TemplateSummary:
    """Merge parsed files (name -> document) into one summary; pure."""
    variables: dict[str, TemplateVariable] = {}
    declared_sources: set[str] = set()
    builds: dict[str, list[str]] = {}
    for file, doc in sorted(docs.items()):
        for block in _blocks(doc, "variable"):
            for name, body in block.items():
                if name.startswith("__"):
                    continue
                if name in variables:
                    raise TemplateError(
                        f"variable {name!r} is declared in both {variables[name].file} and {file}; keep one"
                    )
                body = body if isinstance(body, dict) else {}
                variables[name] = TemplateVariable(
                    name=name,
                    file=file,
                    has_default="default" in body,
                    default=body.get("default"),
                    sensitive=body.get("sensitive") is True,
                )
        for block in _blocks(doc, "source"):
            for kind, named in block.items():
                if isinstance(named, dict):
                    declared_sources.update(f"{kind}.{name}" for name in named if not name.startswith("__"))
        for block in _blocks(doc, "build"):
            builds.setdefault(str(block.get("name", "")), []).extend(_build_sources(block))

    if build not in builds:
        found = ", ".join(repr(name) for name in sorted(builds)) or "none"
        raise TemplateError(
            f"no build named {build!r} in {template_dir} (builds: {found}); add build {{ name = \"{build}\" }}"
        )
    for ref in builds[build]:
        if ref not in declared_sources:
            raise TemplateError(f"build {build!r} uses source {ref!r}, which no file in {template_dir} declares")
    return TemplateSummary(
        template_dir=template_dir,
        build_name=build,
        sources=tuple(builds[build]),
        variables=MappingProxyType(variables),
        files=tuple(sorted(docs)),
    )


def load_templates(template_dir: Path | str, *, build: str) -> TemplateSummary:
    """Parse every *.pkr.hcl file in `template_dir` and summarize build `build`."""
    template_dir = Path(template_dir)
    files = sorted(template_dir.glob("*.pkr.hcl"))
    if not files:
        raise TemplateError(f"no *.pkr.hcl files in {template_dir}; point the bake at the packer/ directory")
    return summarize(template_dir, {path.name: parse_file(path) for path in files}, build=build)


def resolve_values(
    summary: TemplateSummary, *, variables: Mapping[str, object], environ: Mapping[str, str]
) -> dict[str, object]:
    """The value each variable will have, as far as it is known without evaluating HCL; pure."""
    values: dict[str, object] = {}
    for name, var in summary.variables.items():
        if name in variables:
            values[name] = variables[name]
        elif f"PKR_VAR_{name}" in environ:
            values[name] = environ[f"PKR_VAR_{name}"]
        elif var.has_default and not (isinstance(var.default, str) and "${" in var.default):
            values[name] = var.default
    return values


def check_values(summary: TemplateSummary, *, source: str, values: Mapping[str, object], given: set[str]) -> None:
    """Source selected, no unknown or missing variables, Azure names valid; pure."""
    if source not in summary.sources:
        raise TemplateError(
            f"build {summary.build_name!r} has no source {source!r} (it has {', '.join(summary.sources)}); "
            "Packer would build nothing, pick one of those"
        )
    unknown = sorted(given - set(summary.variables))
    if unknown:
        raise TemplateError(
            f"variables {', '.join(unknown)} are not declared in {summary.template_dir}; "
            "remove them or declare them in variables.pkr.hcl"
        )
    missing = sorted(name for name in summary.required if name not in values)
    if missing:
        hint = ", ".join(f"PKR_VAR_{name}" for name in missing)
        raise TemplateError(f"variables {', '.join(missing)} have no default and no value; pass them (or set {hint})")
    for name, rule in NAME_RULES.items():
        value = values.get(name)
        if name in summary.variables and isinstance(value, str) and value != "":
            try:
                rule(value)
            except ConfigError as err:
                raise TemplateError(f"variable {name}: {err}") from err


def check_templates(
    template_dir: Path | str,
    *,
    build: str,
    source: str,
    variables: Mapping[str, object],
    environ: Mapping[str, str] | None = None,
) -> TemplateSummary:
    """Parse the templates and check them against the variables a build will get.

    `source` is "type.name" ("null.local"); `variables` are the values that will be passed
    (secrets included: only their presence is checked); `environ` defaults to os.environ and
    supplies PKR_VAR_* values. Raises TemplateError; returns the frozen summary.
    """
    summary = load_templates(template_dir, build=build)
    environ = os.environ if environ is None else environ
    values = resolve_values(summary, variables=variables, environ=environ)
    check_values(summary, source=source, values=values, given=set(variables))
    log.debug("templates in %s ok for %s", summary.template_dir, summary.selector(source))
    return summary

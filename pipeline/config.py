"""The one frozen `Settings` object: pipeline.toml + environment variables + flags, validated once.

    settings = load_settings()                                   # default environment, ./pipeline.toml
    settings = load_settings(environment="azure-example", overrides={"capacity.default": "4"})

Which environment: the `environment` argument, else `PIPELINE_ENV`, else the file's `default_environment`.
Overrides (strings, converted to the key's type), applied in this order, the later winning:
  1. environment variables `PIPELINE__SECTION__KEY=value`, e.g. `PIPELINE__LOAD_BALANCER__PROBE__PORT=9090`
  2. `overrides={"load_balancer.probe.port": "9090"}` (the tasks' `--set KEY=VALUE` flags)
Only scalar keys and lists of strings (comma-separated) can be overridden; `smoke` cannot.

Every problem raises ConfigError with one line naming the file, the key and what to do. The field names of
the dataclasses below ARE the keys in pipeline.toml (one table per nested dataclass).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from pipeline import naming, regions
from pipeline.errors import ConfigError

__all__ = [
    "Capacity",
    "Fleet",
    "Image",
    "LoadBalancer",
    "NatRule",
    "Network",
    "Pools",
    "Probe",
    "Rule",
    "Settings",
    "SmokeCheck",
    "Storage",
    "TargetRegion",
    "Timeouts",
    "load_settings",
    "parse_duration",
]

LOCAL_SUBSCRIPTION = "from local cloud"
LOCAL_STORAGE_ACCOUNT = "local"
DEFAULT_LOCAL_CLOUD_FILE = Path(".pipeline/local/cloud.json")
ENV_PREFIX = "PIPELINE__"
LOCAL_STAGING_SOURCES = ("127.0.0.0/8",)  # the local cloud's clients are loopback addresses
# Service tags a network security group rule may name as a source (Azure's spelling; "*" is any source).
SOURCE_TAGS = ("*", "Internet", "VirtualNetwork", "AzureLoadBalancer", "AzureCloud", "AzureFrontDoor.Backend",
               "AzureTrafficManager", "GatewayManager")


# ---------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Pools:
    blue: str
    green: str

    def for_color(self, color: str) -> str:
        return self.by_color()[color]

    def by_color(self) -> dict[str, str]:
        return {"blue": self.blue, "green": self.green}


@dataclass(frozen=True)
class Probe:
    name: str
    path: str
    port: int
    interval: timedelta
    threshold: int


@dataclass(frozen=True)
class Rule:
    name: str
    frontend_port: int
    backend_port: int


@dataclass(frozen=True)
class NatRule:
    """An inbound NAT rule V2 on one color's backend pool: each instance gets a frontend port of the range."""

    name: str
    frontend_port_start: int
    frontend_port_end: int
    backend_port: int

    @property
    def size(self) -> int:
        return self.frontend_port_end - self.frontend_port_start + 1


@dataclass(frozen=True)
class NatRules:
    blue: NatRule
    green: NatRule

    def for_color(self, color: str) -> NatRule:
        return {"blue": self.blue, "green": self.green}[color]


@dataclass(frozen=True)
class LoadBalancer:
    name: str
    frontend: str
    backend_pools: Pools
    probe: Probe
    production_rule: Rule
    staging_rule: Rule
    nat_rules: NatRules  # per-instance access (inbound NAT rules V2); NAT pools (V1) retire 30 September 2027


@dataclass(frozen=True)
class Network:
    vnet: str
    vnet_prefixes: tuple[str, ...]
    subnet: str
    subnet_prefixes: tuple[str, ...]
    # The network security group `invoke infra` keeps on the app subnet ("" = "<subnet>-nsg"). It opens the
    # production rule's backend port to `allow_production_from`, and the staging rule's and the per-instance
    # (NAT) backend ports to `allow_staging_from` only: CIDR prefixes or service tags (Internet, VirtualNetwork).
    nsg: str = ""
    allow_production_from: tuple[str, ...] = ("Internet",)
    allow_staging_from: tuple[str, ...] = ()  # required on Azure (no default open to the Internet); local: loopback

    @property
    def nsg_name(self) -> str:
        return self.nsg or f"{self.subnet}-nsg"


@dataclass(frozen=True)
class TargetRegion:
    """Where a gallery image version is replicated: `[[environments.X.image.target_regions]]`."""

    name: str
    replicas: int = 1
    storage_account_type: str = "Standard_LRS"


@dataclass(frozen=True)
class Image:
    gallery: str
    definition: str
    publisher: str
    offer: str
    sku: str  # names the base image the version is built from (Packer's image_sku), e.g. "ubuntu-22_04-lts-gen2"
    target_regions: tuple[TargetRegion, ...] = ()  # empty: the environment's location, 1 replica, Standard_LRS

    def replication(self, location: str) -> tuple[TargetRegion, ...]:
        """The target regions a version is published to: the configured ones, else the environment's region."""
        return self.target_regions or (TargetRegion(name=location),)


@dataclass(frozen=True)
class Storage:
    account: str  # "local" = the local cloud's Azurite account
    ledger_container: str
    packages_container: str

    @property
    def is_local(self) -> bool:
        return self.account == LOCAL_STORAGE_ACCOUNT


@dataclass(frozen=True)
class Capacity:
    default: int
    minimum: int


@dataclass(frozen=True)
class Timeouts:
    stage_health: timedelta
    promote_verify: timedelta


@dataclass(frozen=True)
class SmokeCheck:
    name: str
    path: str
    expect_status: int
    body_contains: str  # may contain "{version}"
    latency_ms: int

    def expected_body(self, version: str) -> str:
        """`body_contains` with `{version}` replaced by the image version under test."""
        return self.body_contains.replace("{version}", version)


SECURITY_TYPES = ("TrustedLaunch", "Standard")
AZURE_MIN_POLL = timedelta(seconds=10)   # listing scale-set VMs with instanceView is throttled hard on Azure
DEFAULT_POLL = {"local": timedelta(seconds=1), "azure": timedelta(seconds=15)}


@dataclass(frozen=True)
class Fleet:
    """`[environments.NAME.fleet]`: every key is optional (the defaults below)."""

    ssh_public_key: str | None = None  # an OpenSSH public key or a path to a .pub file; none: fresh key per fleet
    security_type: str = "TrustedLaunch"  # "TrustedLaunch" (Gen2 images) or "Standard"
    instance_poll_interval: timedelta | None = None  # instance-view polling; default 1s local, 15s azure (>= 10s)

    @property
    def poll_interval_s(self) -> float:
        return (self.instance_poll_interval or DEFAULT_POLL["local"]).total_seconds()


@dataclass(frozen=True)
class Cutover:
    """`[environments.NAME.cutover]`, optional: promote and rollback sample production's /version from `lead`
    before the swap (the chart's first bucket shows the state it started from) until `tail` after verification
    (verification's own rounds already show the settled state, so the tail is short)."""

    lead: timedelta = timedelta(milliseconds=250)
    tail: timedelta = timedelta(milliseconds=250)


@dataclass(frozen=True)
class Settings:
    cloud: str  # "local" or "azure"
    subscription_id: str | None  # None for local: read it from the local cloud file
    resource_group: str
    location: str
    app: str
    vm_size: str
    keep_warm: timedelta
    keep_image_versions: int
    capacity: Capacity
    timeouts: Timeouts
    load_balancer: LoadBalancer
    network: Network
    image: Image
    storage: Storage
    smoke: tuple[SmokeCheck, ...]
    fleet: Fleet = dataclasses.field(default_factory=Fleet)  # optional table
    cutover: Cutover = dataclasses.field(default_factory=Cutover)  # optional table
    # Not from the environment table: where the settings came from.
    environment: str = ""
    config_path: Path = Path("pipeline.toml")
    local_cloud_file: Path | None = None  # set for local environments only

    @property
    def is_local(self) -> bool:
        return self.cloud == "local"

    @property
    def staging_sources(self) -> tuple[str, ...]:
        """Who may reach the staging and per-instance ports: the setting, or loopback on the local cloud."""
        return self.network.allow_staging_from or (LOCAL_STAGING_SOURCES if self.is_local else ())


# Fields of Settings that are not keys of an environment table.
_META_FIELDS = frozenset({"environment", "config_path", "local_cloud_file"})


# ---------------------------------------------------------------------------------------------- loading


def load_settings(
    *,
    environment: str | None = None,
    path: Path = Path("pipeline.toml"),
    environ: Mapping[str, str] = os.environ,
    overrides: Mapping[str, str] = types.MappingProxyType({}),
) -> Settings:
    """Read, override and validate one environment of `path`. Raises ConfigError."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            doc = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found; run from the repository root or pass the config path") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err}); fix the syntax") from err

    envs = doc.get("environments")
    if not isinstance(envs, dict) or not envs:
        raise ConfigError(f"{path}: no [environments.NAME] tables; add at least one environment")
    name = environment or environ.get("PIPELINE_ENV") or doc.get("default_environment")
    if not name:
        raise ConfigError(f"{path}: no environment chosen; set default_environment, PIPELINE_ENV or --env")
    if name not in envs:
        known = ", ".join(sorted(envs))
        raise ConfigError(f"{path}: unknown environment {name!r} (known: {known}); pick one of those or add it")
    raw = envs[name]
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: environments.{name} must be a table; write it as [environments.{name}]")

    loader = _Loader(path=path, prefix=f"environments.{name}")
    _refuse_nat_pools(raw, loader)
    raw = _apply_overrides(raw, environ=environ, overrides=overrides, loader=loader)
    values = loader.build(Settings, raw, key_prefix="")
    settings = Settings(**values, environment=name, config_path=path)
    _validate(settings, loader)
    settings = dataclasses.replace(settings, fleet=_resolve_fleet(settings, loader))
    if settings.is_local:
        cloud_file = environ.get("PIPELINE_LOCAL_CLOUD")
        cloud_path = Path(cloud_file) if cloud_file else path.parent / DEFAULT_LOCAL_CLOUD_FILE
        settings = dataclasses.replace(settings, subscription_id=None, local_cloud_file=cloud_path.absolute())
    return settings


def _refuse_nat_pools(raw: Mapping[str, Any], loader: "_Loader") -> None:
    """The NAT-pool (V1) tables of older pipeline.toml files: one line saying how to move to NAT rules V2."""
    lb = raw.get("load_balancer")
    if isinstance(lb, dict) and "nat_pools" in lb:
        raise loader.error(
            "load_balancer.nat_pools",
            "configures inbound NAT pools, which Azure retires on 30 September 2027",
            "rename the tables to load_balancer.nat_rules (same keys) with port ranges disjoint from the old pools', "
            "then run `invoke infra` to migrate (README: Per-instance access)",
        )


def parse_duration(text: str) -> timedelta:
    """"500ms", "30s", "5m", "2h", "1d", "1h30m" -> timedelta. Raises ValueError."""
    if not isinstance(text, str) or not _DURATION_RE.fullmatch(text.strip()):
        raise ValueError(f"{text!r} is not a duration like '30s', '5m', '2h' or '1h30m'")
    total = timedelta()
    for number, unit in _DURATION_PART_RE.findall(text.strip()):
        total += float(number) * _UNITS[unit]
    if total <= timedelta():
        raise ValueError(f"{text!r} must be longer than zero")
    return total


_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
}
_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION_RE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")


class _Loader:
    """Builds nested frozen dataclasses from TOML tables, checking keys and types against the fields."""

    def __init__(self, *, path: Path, prefix: str) -> None:
        self.path = path
        self.prefix = prefix
        self.sources: dict[str, str] = {}  # dotted key -> "PIPELINE__X" / "--set x" when overridden

    def error(self, key: str, problem: str, fix: str) -> ConfigError:
        source = self.sources.get(key)
        where = f" (set by {source})" if source else ""
        return ConfigError(f"{self.path}: {self.prefix}.{key} {problem}{where}; {fix}")

    def build(self, cls: type, raw: Mapping[str, Any], *, key_prefix: str) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        fields = [f for f in dataclasses.fields(cls) if not (cls is Settings and f.name in _META_FIELDS)]
        names = {f.name for f in fields}
        for extra in sorted(set(raw) - names):
            raise self.error(
                key_prefix + extra, "is not a known key", f"remove it or check the spelling (known: {', '.join(sorted(names))})"
            )
        values = {}
        for f in fields:
            key = key_prefix + f.name
            if f.name not in raw and f.default is not dataclasses.MISSING:
                values[f.name] = f.default  # an optional key (its default is documented on the field)
                continue
            if f.name not in raw:
                if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                    continue  # optional: the dataclass default applies
                raise self.error(key, "is missing", f"add it to [{(self.prefix + '.' + key_prefix).rstrip('.')}]")
            values[f.name] = self.convert(hints[f.name], raw[f.name], key)
        return values

    def convert(self, hint: Any, value: Any, key: str) -> Any:
        origin = typing.get_origin(hint)
        if origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint) and str not in typing.get_args(hint):
            (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]  # Optional[X]: convert as X
            origin = typing.get_origin(hint)
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise self.error(key, f"must be a table, got {_show(value)}", f"write it as [{self.prefix}.{key}]")
            return hint(**self.build(hint, value, key_prefix=key + "."))
        if origin is tuple:
            (item,) = {a for a in typing.get_args(hint) if a is not Ellipsis}
            if not isinstance(value, list):
                raise self.error(key, f"must be a list, got {_show(value)}", "write it as [ ... ]")
            if dataclasses.is_dataclass(item) and not value:
                raise self.error(key, "is empty", f"add at least one [[{self.prefix}.{key}]] entry")
            return tuple(self.convert(item, v, f"{key}[{i}]") for i, v in enumerate(value))
        if hint is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.error(key, f"must be an integer, got {_show(value)}", "write a whole number without quotes")
            return value
        if hint is timedelta:
            try:
                return parse_duration(value)
            except ValueError as err:
                raise self.error(key, f"is not a valid duration: {err}", 'write e.g. "30s", "5m" or "2h"') from None
        if hint is str or (origin in (typing.Union, types.UnionType) and str in typing.get_args(hint)):
            if not isinstance(value, str) or not value.strip():
                raise self.error(key, f"must be a non-empty string, got {_show(value)}", "write it in quotes")
            return value
        raise AssertionError(f"config field {key} has an unsupported type {hint!r}")  # a bug in this module


def _show(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"[:60]


def _apply_overrides(
    raw: dict[str, Any], *, environ: Mapping[str, str], overrides: Mapping[str, str], loader: _Loader
) -> dict[str, Any]:
    """Return a copy of `raw` with PIPELINE__A__B variables, then dotted `overrides`, applied."""
    raw = _deep_copy(raw)
    pending: list[tuple[str, str, str]] = []
    for var, value in sorted(environ.items()):
        if var.startswith(ENV_PREFIX) and len(var) > len(ENV_PREFIX):
            key = ".".join(part.lower() for part in var[len(ENV_PREFIX):].split("__"))
            pending.append((key, value, var))
    for key, value in overrides.items():
        pending.append((key, value, f"--set {key}"))

    for key, value, source in pending:
        loader.sources[key] = source
        _set_override(raw, key, value, loader)
    return raw


def _set_override(raw: dict[str, Any], key: str, text: str, loader: _Loader) -> None:
    parts = key.split(".")
    hint: Any = Settings
    table = raw
    for i, part in enumerate(parts):
        fields = {f.name: f for f in dataclasses.fields(hint)} if dataclasses.is_dataclass(hint) else {}
        if hint is Settings:
            fields = {n: f for n, f in fields.items() if n not in _META_FIELDS}
        if part not in fields:
            raise loader.error(key, "is not a known key", "check the override's spelling against pipeline.toml")
        hint = typing.get_type_hints(hint)[part]
        if i < len(parts) - 1:
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                raise loader.error(".".join(parts[: i + 1]), "must be a table", "fix pipeline.toml")
    last = parts[-1]
    if dataclasses.is_dataclass(hint) or (typing.get_origin(hint) is tuple and typing.get_args(hint)[0] is not str):
        raise loader.error(key, "cannot be overridden as a whole", "override one of its scalar keys, or edit pipeline.toml")
    if hint is int:
        try:
            table[last] = int(text)
        except ValueError:
            raise loader.error(key, f"must be an integer, got {text!r}", "pass a whole number") from None
    elif typing.get_origin(hint) is tuple:
        table[last] = [item.strip() for item in text.split(",") if item.strip()]
    else:
        table[last] = text


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------- validation
# Azure's naming rules, checked before any call is made: pipeline/naming.py's checks where it has one,
# simple patterns here for the rest (network resources, storage, app, location, size).

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_NAME_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "network": (re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?"), "1-80 letters, digits, '-', '_', '.'; starting with a letter or digit, not ending in '-' or '.'"),
    "storage_account": (re.compile(r"[a-z0-9]{3,24}"), "3-24 lowercase letters and digits"),
    "container": (re.compile(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]"), "3-63 lowercase letters, digits and single '-', starting and ending with a letter or digit"),
    "app": (re.compile(r"[a-z][a-z0-9-]{0,22}[a-z0-9]|[a-z]"), "1-24 lowercase letters, digits and '-', starting with a letter (it prefixes scale set names)"),
    "location": (re.compile(r"[a-z0-9]{2,40}"), "an Azure region name like 'westeurope'"),
    "vm_size": (re.compile(r"[A-Za-z0-9_]{2,64}"), "a size like 'Standard_B2s'"),
}


def _validate_target_regions(s: Settings, loader: _Loader) -> None:
    """image.target_regions: known regions, each once, the environment's own region among them (Azure refuses a
    version whose target regions lack its location), a replica count and storage type Azure accepts."""
    if not s.is_local:
        known = s.location in regions.AZURE_REGIONS
        if not known:
            raise loader.error("location", f"is not an Azure region ({s.location!r})",
                               "use a name from `az account list-locations --query [].name`, e.g. 'westeurope'")
    seen: set[str] = set()
    for i, target in enumerate(s.image.target_regions):
        key = f"image.target_regions[{i}]"
        if target.name not in regions.AZURE_REGIONS:
            raise loader.error(f"{key}.name", f"is not an Azure region ({target.name!r})",
                               "use a name from `az account list-locations --query [].name`, e.g. 'northeurope'")
        if target.name in seen:
            raise loader.error(f"{key}.name", f"repeats {target.name!r}", "list each region once")
        seen.add(target.name)
        if not 1 <= target.replicas <= regions.MAX_REPLICAS_PER_REGION:
            raise loader.error(f"{key}.replicas", f"is {target.replicas}",
                               f"use 1-{regions.MAX_REPLICAS_PER_REGION} replicas")
        if target.storage_account_type not in regions.REPLICA_STORAGE_TYPES:
            raise loader.error(f"{key}.storage_account_type", f"is {target.storage_account_type!r}",
                               f"use one of {', '.join(regions.REPLICA_STORAGE_TYPES)}")
    types = {t.storage_account_type for t in s.image.target_regions}
    if len(types) > 1:
        raise loader.error("image.target_regions", f"mixes storage types ({', '.join(sorted(types))})",
                           "use one storage_account_type for every region (Packer's azure plugin publishes a version "
                           "with one, and Azure never lets it change)")
    if s.image.target_regions and s.location not in seen:
        raise loader.error("image.target_regions", f"does not hold the environment's location {s.location!r}",
                           f"add [[...image.target_regions]] name = {s.location!r} (Azure requires it)")


def _validate(s: Settings, loader: _Loader) -> None:
    def name(key: str, value: str, rule: str) -> None:
        pattern, text = _NAME_RULES[rule]
        if not pattern.fullmatch(value):
            raise loader.error(key, f"is not a valid name ({value!r})", f"use {text}")

    def check(ok: bool, key: str, problem: str, fix: str) -> None:
        if not ok:
            raise loader.error(key, problem, fix)

    check(s.cloud in ("local", "azure"), "cloud", f"must be 'local' or 'azure', got {s.cloud!r}", "set one of those")
    if s.is_local:
        check(
            s.subscription_id == LOCAL_SUBSCRIPTION,
            "subscription_id",
            f"must be {LOCAL_SUBSCRIPTION!r} for a local environment",
            "the local cloud file provides it",
        )
    else:
        check(
            bool(_GUID.fullmatch(s.subscription_id or "")),
            "subscription_id",
            f"must be a subscription GUID, got {s.subscription_id!r}",
            "set it here or with PIPELINE__SUBSCRIPTION_ID",
        )
        check(not s.storage.is_local, "storage.account", "is 'local' in an Azure environment", "name a storage account")

    def shared(key: str, value: str, checker) -> None:  # the rules in pipeline/naming.py
        try:
            checker(value)
        except ConfigError as err:
            raise loader.error(key, f"is not valid: {err}", "change the value") from None

    shared("resource_group", s.resource_group, naming.check_resource_group_name)
    name("location", s.location, "location")
    name("app", s.app, "app")
    name("vm_size", s.vm_size, "vm_size")
    lb = s.load_balancer
    for key, value in [
        ("load_balancer.name", lb.name),
        ("load_balancer.frontend", lb.frontend),
        ("load_balancer.backend_pools.blue", lb.backend_pools.blue),
        ("load_balancer.backend_pools.green", lb.backend_pools.green),
        ("load_balancer.probe.name", lb.probe.name),
        ("load_balancer.production_rule.name", lb.production_rule.name),
        ("load_balancer.staging_rule.name", lb.staging_rule.name),
        ("load_balancer.nat_rules.blue.name", lb.nat_rules.blue.name),
        ("load_balancer.nat_rules.green.name", lb.nat_rules.green.name),
        ("network.vnet", s.network.vnet),
        ("network.subnet", s.network.subnet),
        ("network.nsg", s.network.nsg_name),
    ]:
        name(key, value, "network")
    check(lb.backend_pools.blue != lb.backend_pools.green, "load_balancer.backend_pools", "names the same pool twice", "give blue and green different pools")
    check(lb.production_rule.name != lb.staging_rule.name, "load_balancer.staging_rule.name", "equals the production rule's name", "give the rules different names")
    shared("image.gallery", s.image.gallery, naming.check_gallery_name)
    shared("image.definition", s.image.definition, naming.check_image_definition_name)
    _validate_target_regions(s, loader)
    if not s.storage.is_local:
        name("storage.account", s.storage.account, "storage_account")
    name("storage.ledger_container", s.storage.ledger_container, "container")
    name("storage.packages_container", s.storage.packages_container, "container")

    min_port = 1024 if s.is_local else 1  # the local load balancer binds loopback addresses as a normal user
    ports = [
        ("load_balancer.probe.port", lb.probe.port, 1),
        ("load_balancer.production_rule.frontend_port", lb.production_rule.frontend_port, min_port),
        ("load_balancer.production_rule.backend_port", lb.production_rule.backend_port, 1),
        ("load_balancer.staging_rule.frontend_port", lb.staging_rule.frontend_port, min_port),
        ("load_balancer.staging_rule.backend_port", lb.staging_rule.backend_port, 1),
    ]
    for color in ("blue", "green"):
        nat = lb.nat_rules.for_color(color)
        ports += [
            (f"load_balancer.nat_rules.{color}.frontend_port_start", nat.frontend_port_start, min_port),
            (f"load_balancer.nat_rules.{color}.frontend_port_end", nat.frontend_port_end, min_port),
            (f"load_balancer.nat_rules.{color}.backend_port", nat.backend_port, 1),
        ]
        check(nat.frontend_port_start <= nat.frontend_port_end, f"load_balancer.nat_rules.{color}.frontend_port_end", "is below frontend_port_start", "swap them")
        # Azure blocks a scale-out the range has no ports for; overprovisioning briefly adds instances too.
        check(
            nat.size >= 2 * s.capacity.default,
            f"load_balancer.nat_rules.{color}.frontend_port_end",
            f"leaves {nat.size} ports, fewer than twice capacity.default ({s.capacity.default}) as overprovisioning needs",
            f"make the range at least {2 * s.capacity.default} ports",
        )
        for rule in (lb.production_rule, lb.staging_rule):
            check(
                not nat.frontend_port_start <= rule.frontend_port <= nat.frontend_port_end,
                f"load_balancer.nat_rules.{color}.frontend_port_start",
                f"range {nat.frontend_port_start}-{nat.frontend_port_end} contains {rule.name}'s frontend port {rule.frontend_port}",
                "move the range or the rule's port",
            )
    for key, port, low in ports:
        check(low <= port <= 65535, key, f"is {port}, outside {low}-65535", f"pick a port in {low}-65535" + (" (local binds loopback)" if low > 1 else ""))
    check(lb.production_rule.frontend_port != lb.staging_rule.frontend_port, "load_balancer.staging_rule.frontend_port", "equals the production rule's frontend port", "use a different port")
    blue, green = lb.nat_rules.blue, lb.nat_rules.green
    check(lb.nat_rules.blue.name.lower() != lb.nat_rules.green.name.lower(), "load_balancer.nat_rules.green.name", "equals the blue rule's name", "give each color its own NAT rule")
    check(
        blue.frontend_port_end < green.frontend_port_start or green.frontend_port_end < blue.frontend_port_start,
        "load_balancer.nat_rules.green.frontend_port_start",
        "overlaps the blue NAT rule's port range",
        "give the colors disjoint ranges",
    )
    check(lb.probe.path.startswith("/"), "load_balancer.probe.path", f"must start with '/', got {lb.probe.path!r}", "write e.g. '/health'")
    check(lb.probe.threshold >= 1, "load_balancer.probe.threshold", "must be at least 1", "set 1 or more")

    for key, prefixes in [("network.vnet_prefixes", s.network.vnet_prefixes), ("network.subnet_prefixes", s.network.subnet_prefixes)]:
        check(bool(prefixes), key, "is empty", "add a CIDR prefix like '10.0.0.0/16'")
        for p in prefixes:
            try:
                ipaddress.ip_network(p)
            except ValueError:
                raise loader.error(key, f"has an invalid CIDR prefix {p!r}", "write e.g. '10.0.0.0/16'") from None

    _validate_nsg(s, check)

    check(s.capacity.minimum >= 1, "capacity.minimum", "must be at least 1", "set 1 or more")
    check(s.capacity.default >= s.capacity.minimum, "capacity.default", f"({s.capacity.default}) is below capacity.minimum ({s.capacity.minimum})", "raise it or lower the minimum")
    check(s.keep_image_versions >= 1, "keep_image_versions", "must be at least 1 (the live image)", "set 1 or more")

    seen: set[str] = set()
    for i, smoke in enumerate(s.smoke):
        key = f"smoke[{i}]"
        check(smoke.name not in seen, f"{key}.name", f"repeats {smoke.name!r}", "give each smoke check its own name")
        seen.add(smoke.name)
        check(smoke.path.startswith("/"), f"{key}.path", f"must start with '/', got {smoke.path!r}", "write e.g. '/health'")
        check(100 <= smoke.expect_status <= 599, f"{key}.expect_status", f"is {smoke.expect_status}, not an HTTP status", "use e.g. 200")
        check(smoke.latency_ms >= 1, f"{key}.latency_ms", "must be at least 1", "give a budget in milliseconds")


def _resolve_fleet(s: Settings, loader: _Loader) -> Fleet:
    """Check the fleet table; the SSH key setting becomes the key line itself (read from its file if a path)."""
    from pipeline import sshkeys

    f = s.fleet
    if f.security_type not in SECURITY_TYPES:
        raise loader.error("fleet.security_type", f"is {f.security_type!r}, not a security type the pipeline knows",
                           f"use one of {', '.join(SECURITY_TYPES)}")
    key = f.ssh_public_key
    if key is not None:
        try:
            key = sshkeys.read_public_key(key, base=s.config_path.parent)
        except ValueError as err:
            raise loader.error("fleet.ssh_public_key", str(err),
                               "give an OpenSSH public key (ssh-ed25519, ssh-rsa of 2048+ bits or ecdsa-sha2) or "
                               "the path of its .pub file, or remove the key to get a fresh one per fleet") from None
    interval = f.instance_poll_interval or DEFAULT_POLL[s.cloud]
    if not s.is_local and interval < AZURE_MIN_POLL:
        raise loader.error("fleet.instance_poll_interval", f"is {interval.total_seconds():g}s, below Azure's "
                           f"{AZURE_MIN_POLL.total_seconds():g}s (listing instance views is throttled hard)",
                           f"set {AZURE_MIN_POLL.total_seconds():g}s or more")
    return dataclasses.replace(f, ssh_public_key=key, instance_poll_interval=interval)


def source_problem(value: str) -> str | None:
    """Why `value` is not a network security group source (a CIDR prefix, an address or a service tag)."""
    if value in SOURCE_TAGS or re.fullmatch(r"AzureCloud\.[a-z0-9]+", value):
        return None
    if value.lower() in {t.lower() for t in SOURCE_TAGS}:
        return f"{value!r} is spelled differently from the service tag Azure knows"
    try:
        ipaddress.ip_network(value, strict=True)
        return None
    except ValueError as err:
        return f"{value!r} is neither a CIDR prefix nor a known service tag ({err})"


def _validate_nsg(s: Settings, check) -> None:
    """Sources must be prefixes or tags; staging must be closed on its own port (an NSG sees backend ports)."""
    net, lb = s.network, s.load_balancer
    check(bool(net.allow_production_from), "network.allow_production_from", "is empty",
          'name who may reach production, e.g. ["Internet"]')
    check(bool(s.staging_sources), "network.allow_staging_from",
          "is missing: an Azure environment must say who may reach the staging and per-instance ports",
          'list CIDR prefixes or service tags, e.g. ["203.0.113.0/24"] or ["VirtualNetwork"] (no default opens them '
          "to the Internet)")
    for key, sources in (("network.allow_production_from", net.allow_production_from),
                         ("network.allow_staging_from", net.allow_staging_from)):
        for value in sources:
            problem = source_problem(value)
            check(problem is None, key, f"has an invalid source: {problem}",
                  f"write a CIDR prefix like '203.0.113.0/24' or one of {', '.join(SOURCE_TAGS)}")
    production = lb.production_rule.backend_port
    for key, port in [("load_balancer.staging_rule.backend_port", lb.staging_rule.backend_port),
                      ("load_balancer.nat_rules.blue.backend_port", lb.nat_rules.blue.backend_port),
                      ("load_balancer.nat_rules.green.backend_port", lb.nat_rules.green.backend_port)]:
        check(port != production, key, f"is {port}, the production rule's backend port",
              "use a port of its own (e.g. 8081, on which the app also listens): a network security group sees "
              "backend ports, so a shared port would open staging to everyone production is open to")

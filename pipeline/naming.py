"""Azure naming rules as pure functions, shared by every part of the pipeline.

Each `check_*` function returns the name unchanged when Azure would accept it and raises
ConfigError otherwise. Rules follow "Naming rules and restrictions for Azure resources"
(Microsoft.Compute); where Azure is looser than we are, the docstring says so.

`fleet_name` and `image_version_from_app_version` derive names that always pass the checks.
"""

from __future__ import annotations

import hashlib
import re

from pipeline.errors import ConfigError

INT32_MAX = 2**31 - 1

_IMAGE_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_MANAGED_IMAGE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$")
_IMAGE_DEFINITION = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$")
_GALLERY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VMSS = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
_RESOURCE_GROUP = re.compile(r"^[\w().-]*[\w()-]$")

# "1.4.0", "v1.4", "1.4.0+build.7", "1.4.0-3-g1a2b3c4", "1.4.0-3-g1a2b3c4-dirty", "1.5.0-rc.1"
_APP_VERSION = re.compile(
    r"^v?(?P<major>\d+)(?:\.(?P<minor>\d+))?(?:\.(?P<patch>\d+))?"
    r"(?:-(?P<commits>\d+)-g(?P<sha>[0-9a-f]{4,40}))?"
    r"(?P<dirty>-dirty)?"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?"
    r"(?:\+(?P<meta>[0-9A-Za-z.-]+))?$"
)

#: Development builds are encoded in the patch field: (PATCH + 1) * DEV_BUILDS + build.
DEV_BUILDS = 1000


def _check_length(kind: str, name: str, maximum: int) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= maximum:
        raise ConfigError(f"{kind} {name!r} must be 1-{maximum} characters long; choose a shorter name")


def check_gallery_image_version(version: str) -> str:
    """Gallery image version: MAJOR.MINOR.PATCH, each a 32-bit integer (digits only)."""
    match = _IMAGE_VERSION.match(version) if isinstance(version, str) else None
    if not match:
        raise ConfigError(f"image version {version!r} must be MAJOR.MINOR.PATCH with digits only, e.g. 1.4.0")
    if any(int(part) > INT32_MAX for part in match.groups()):
        raise ConfigError(f"image version {version!r} has a part above {INT32_MAX}; use smaller numbers")
    return version


def check_managed_image_name(name: str) -> str:
    """Managed image: 1-80 alphanumerics, '_', '.', '-'; starts alphanumeric, ends alphanumeric or '_'."""
    _check_length("managed image name", name, 80)
    if not _MANAGED_IMAGE.match(name):
        raise ConfigError(
            f"managed image name {name!r} may hold only letters, digits, '_', '.', '-', must start with a "
            "letter or digit and end with a letter, digit or '_'; rename it"
        )
    return name


def check_image_definition_name(name: str) -> str:
    """Gallery image definition: 1-80 alphanumerics, '_', '-', '.'; starts and ends alphanumeric."""
    _check_length("image definition name", name, 80)
    if not _IMAGE_DEFINITION.match(name):
        raise ConfigError(
            f"image definition name {name!r} may hold only letters, digits, '_', '-', '.' and must start "
            "and end with a letter or digit; rename it"
        )
    return name


def check_gallery_name(name: str) -> str:
    """Azure Compute Gallery: 1-80 alphanumerics, '_', '.'; starts and ends alphanumeric (no '-')."""
    _check_length("gallery name", name, 80)
    if not _GALLERY.match(name):
        raise ConfigError(
            f"gallery name {name!r} may hold only letters, digits, '_' and '.' (no '-') and must start "
            "and end with a letter or digit; rename it"
        )
    return name


def check_vmss_name(name: str) -> str:
    """Scale set (Linux): 1-64 letters, digits and '-'; Azure forbids '_' and '.' and a trailing '-'.

    Stricter than Azure in one way: we also require a letter or digit first, so the name can be
    reused as the computer-name prefix.
    """
    _check_length("scale set name", name, 64)
    if not _VMSS.match(name):
        raise ConfigError(
            f"scale set name {name!r} may hold only letters, digits and '-' and must start and end "
            "with a letter or digit; rename it"
        )
    return name


def check_resource_group_name(name: str) -> str:
    """Resource group: 1-90 letters, digits, '_', '(', ')', '-', '.'; must not end with '.'."""
    _check_length("resource group name", name, 90)
    if not _RESOURCE_GROUP.match(name):
        raise ConfigError(
            f"resource group name {name!r} may hold only letters, digits, '_', '(', ')', '-', '.' and "
            "must not end with '.'; rename it"
        )
    return name


def _slug(text: str) -> str:
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", text.lower())).strip("-")


def fleet_name(app: str, environment: str, image_version: str) -> str:
    """Scale set name for one image version of an app in an environment: "web-local-1-4-0".

    Deterministic; lower-case; too-long names are cut and suffixed with a short hash of the
    full name so that different inputs still give different names.
    """
    check_gallery_image_version(image_version)
    app_slug, env_slug = _slug(app), _slug(environment)
    if not app_slug or not env_slug:
        raise ConfigError(f"app {app!r} and environment {environment!r} need at least one letter or digit each")
    name = f"{app_slug}-{env_slug}-{image_version.replace('.', '-')}"
    if len(name) > 64:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[:55].rstrip('-')}-{digest}"
    return check_vmss_name(name)


def image_version_from_app_version(app_version: str, *, build_number: int | None = None) -> str:
    """Turn an app version into a gallery image version (MAJOR.MINOR.PATCH: the gallery takes three numbers).

    A tagged release keeps its number: "1.4.2" -> "1.4.2", "v1.4" -> "1.4.0" ("+meta" is ignored), so the
    image, the fleet name and the app's /version agree. A development build between releases carries its
    build in PATCH as (PATCH+1)*1000 + build: git describe "1.4.2-3-g1a2b3c4" -> "1.4.3003"; a pre-release
    or dirty tree needs the CI `build_number`: ("1.5.0-rc.1", build_number=7) -> "1.5.1007"; a release ignores
    it: ("1.4.0", build_number=7) -> "1.4.0", so CI may always pass its build number. Development
    images therefore never collide with a release's image (whose PATCH stays below 1000).
    """
    match = _APP_VERSION.match(app_version.strip()) if isinstance(app_version, str) else None
    if not match:
        raise ConfigError(
            f"app version {app_version!r} is not MAJOR[.MINOR[.PATCH]] (optionally from git describe); "
            "tag the release like 1.4.0"
        )
    major, minor, patch = (int(match.group(part) or 0) for part in ("major", "minor", "patch"))
    build = int(match.group("commits") or 0)
    if match.group("pre") or match.group("dirty"):
        if build_number is None:
            raise ConfigError(
                f"app version {app_version!r} is a pre-release or dirty build; pass the CI build number "
                "(build_number=) to give its image a unique version"
            )
    development = bool(match.group("commits") or match.group("pre") or match.group("dirty"))
    if development and build_number is not None:
        build = build_number
    if not development:  # a tagged release keeps its number, whatever CI's build number is
        if patch >= DEV_BUILDS:
            raise ConfigError(f"app version {app_version!r}: a release's patch number must be below {DEV_BUILDS} "
                              "(larger ones are reserved for development builds); bump the minor version")
        return check_gallery_image_version(f"{major}.{minor}.{patch}")
    if not 0 <= build < DEV_BUILDS:
        raise ConfigError(
            f"build number {build} of app version {app_version!r} must be 0-{DEV_BUILDS - 1}; tag a new release"
        )
    return check_gallery_image_version(f"{major}.{minor}.{(patch + 1) * DEV_BUILDS + build}")

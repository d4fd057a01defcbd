"""Azure naming rules (pipeline/naming.py)."""

from __future__ import annotations

import pytest

from pipeline import naming
from pipeline.errors import ConfigError


@pytest.mark.parametrize("version", ["0.0.1", "1.4.0", "2147483647.0.0"])
def test_valid_gallery_versions(version):
    assert naming.check_gallery_image_version(version) == version


@pytest.mark.parametrize("version", ["1.4", "1.4.0.0", "v1.4.0", "1.4.0-rc.1", "1.-4.0", "2147483648.0.0", "", " 1.4.0"])
def test_invalid_gallery_versions(version):
    with pytest.raises(ConfigError):
        naming.check_gallery_image_version(version)


def test_managed_image_rules():
    assert naming.check_managed_image_name("app-1-4-0") == "app-1-4-0"
    assert naming.check_managed_image_name("a_") == "a_"
    assert naming.check_managed_image_name("a" * 80)
    for bad in ["", "a" * 81, "_a", "a-", "a.", "a b", "a/b"]:
        with pytest.raises(ConfigError):
            naming.check_managed_image_name(bad)


def test_image_definition_and_gallery_rules():
    assert naming.check_image_definition_name("app-ubuntu-2204")
    assert naming.check_gallery_name("pipeline_gallery.v1")
    for bad in ["a_", "-a", "a b"]:
        with pytest.raises(ConfigError):
            naming.check_image_definition_name(bad)
    for bad in ["has-dash", "_a", "a."]:
        with pytest.raises(ConfigError):
            naming.check_gallery_name(bad)


def test_vmss_rules():
    assert naming.check_vmss_name("web-local-1-4-0")
    assert naming.check_vmss_name("a" * 64)
    for bad in ["", "a" * 65, "a_b", "a.b", "a-", "-a"]:
        with pytest.raises(ConfigError):
            naming.check_vmss_name(bad)


def test_resource_group_rules():
    assert naming.check_resource_group_name("rg-pipeline(images)_1.a")
    for bad in ["", "rg.", "r g", "a" * 91]:
        with pytest.raises(ConfigError):
            naming.check_resource_group_name(bad)


def test_fleet_name_is_deterministic_and_valid():
    assert naming.fleet_name("web", "local", "1.4.0") == "web-local-1-4-0"
    assert naming.fleet_name("Web App", "Prod_EU", "1.4.2003") == "web-app-prod-eu-1-4-2003"
    long_a = naming.fleet_name("x" * 70, "prod", "1.2.3")
    long_b = naming.fleet_name("x" * 71, "prod", "1.2.3")
    assert len(long_a) <= 64 and len(long_b) <= 64
    assert long_a != long_b
    assert naming.check_vmss_name(long_a) == long_a
    with pytest.raises(ConfigError):
        naming.fleet_name("web", "local", "1.4")
    with pytest.raises(ConfigError):
        naming.fleet_name("---", "local", "1.4.0")


@pytest.mark.parametrize(
    ("app_version", "build_number", "expected"),
    [
        ("1.4.0", None, "1.4.0"),
        ("v1.4", None, "1.4.0"),
        ("2", None, "2.0.0"),
        ("1.4.0+ci.9", None, "1.4.0"),
        ("1.4.2", None, "1.4.2"),
        ("1.4.2-3-g1a2b3c4", None, "1.4.3003"),
        ("1.4.0-12-g1a2b3c4d", None, "1.4.1012"),
        ("1.5.0-rc.1", 7, "1.5.1007"),
        ("1.4.2-3-g1a2b3c4-dirty", 42, "1.4.3042"),
        ("1.4.0", 7, "1.4.0"),
        ("1.4.2-3-g1a2b3c4", 42, "1.4.3042"),
    ],
)
def test_image_version_from_app_version(app_version, build_number, expected):
    assert naming.image_version_from_app_version(app_version, build_number=build_number) == expected


def test_release_and_development_image_versions_never_collide():
    versions = ["1.4.0", "1.4.0-1-gabcdef0", "1.4.0-999-gabcdef0", "1.4.1", "1.4.1-1-gabcdef0", "1.5.0"]
    images = [naming.image_version_from_app_version(v) for v in versions]
    assert len(set(images)) == len(images)
    assert images[3] == "1.4.1" and images[4] == "1.4.2001"


@pytest.mark.parametrize(("app_version", "build_number"), [("1.5.0-rc.1", None), ("main", None), ("1.4.0-rc.1", 1000), ("1.4.0-1000-gabcdef0", None)])
def test_image_version_refusals(app_version, build_number):
    with pytest.raises(ConfigError):
        naming.image_version_from_app_version(app_version, build_number=build_number)

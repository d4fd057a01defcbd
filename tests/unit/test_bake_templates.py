"""Template checks that run before Packer: parse errors, selectors, variables, Azure names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.bake.templates import check_templates, load_templates
from pipeline.errors import TemplateError

PACKER_DIR = Path(__file__).resolve().parents[2] / "packer"
AZURE_DIR = PACKER_DIR / "azure"
GOOD_VARS = {"app_version": "1.4.0", "image_version": "1.4.0", "app_package_url": "https://x/y?sig=s"}


@pytest.fixture()
def template_dir(tmp_path: Path) -> Path:
    target = tmp_path / "packer"
    shutil.copytree(PACKER_DIR, target, ignore=shutil.ignore_patterns("__pycache__", "output"))
    return target


def test_real_templates_summary():
    summary = check_templates(PACKER_DIR, build="app", source="null.local", variables=GOOD_VARS, environ={})
    assert summary.build_name == "app"
    assert set(summary.sources) == {"null.local"}
    assert summary.selector("null.local") == "app.null.local"
    assert summary.required == {"app_version", "image_version", "app_package_url"}
    assert summary.sensitive == {"app_package_url"}
    assert summary.files == ("build.pkr.hcl", "inputs.pkr.hcl", "sources.pkr.hcl", "variables.pkr.hcl")
    with pytest.raises(TypeError):
        summary.variables["x"] = None  # frozen


def test_the_azure_build_is_its_own_directory_with_the_same_selector():
    summary = check_templates(AZURE_DIR, build="app", source="azure-arm.ubuntu", variables=GOOD_VARS, environ={})
    assert summary.selector("azure-arm.ubuntu") == "app.azure-arm.ubuntu" and summary.sources == ("azure-arm.ubuntu",)
    assert {"app_package_url", "client_secret", "oidc_request_token", "oidc_request_url"} <= summary.sensitive
    assert summary.files == ("auth.pkr.hcl", "build.pkr.hcl", "inputs.pkr.hcl", "plugins.pkr.hcl",
                             "sources.pkr.hcl", "variables.pkr.hcl")
    with pytest.raises(TemplateError, match="no source 'null.local'"):
        check_templates(AZURE_DIR, build="app", source="null.local", variables=GOOD_VARS, environ={})


def test_the_shared_inputs_are_declared_alike_in_both_directories():
    assert (AZURE_DIR / "inputs.pkr.hcl").resolve() == (PACKER_DIR / "inputs.pkr.hcl").resolve(), "one file, linked"
    local, azure = load_templates(PACKER_DIR, build="app"), load_templates(AZURE_DIR, build="app")
    shared = set(local.variables) & set(azure.variables)
    assert set(local.variables) <= set(azure.variables), "packer/azure lacks a variable the bake passes to packer/"
    for name in shared:
        a, b = local.variables[name], azure.variables[name]
        assert (a.has_default, a.default, a.sensitive) == (b.has_default, b.default, b.sensitive), name


def test_syntax_error_names_file_and_line(template_dir: Path):
    (template_dir / "broken.pkr.hcl").write_text('variable "x" {\n  type = string\n  default = \n}\n')
    with pytest.raises(TemplateError) as err:
        load_templates(template_dir, build="app")
    message = str(err.value)
    assert "broken.pkr.hcl:" in message
    assert ":3:" in message or ":4:" in message
    assert "\n" not in message


def test_unknown_source_is_refused_before_packer_builds_nothing():
    with pytest.raises(TemplateError, match="no source 'null.other'.*build nothing"):
        check_templates(PACKER_DIR, build="app", source="null.other", variables=GOOD_VARS, environ={})


def test_unknown_build_name():
    with pytest.raises(TemplateError, match="no build named 'web'.*'app'"):
        check_templates(PACKER_DIR, build="web", source="null.local", variables=GOOD_VARS, environ={})


def test_build_referring_to_undeclared_source(template_dir: Path):
    build = template_dir / "build.pkr.hcl"
    build.write_text(build.read_text().replace('"source.null.local",', '"source.null.local",\n    "source.null.ghost",'))
    with pytest.raises(TemplateError, match="'null.ghost'"):
        load_templates(template_dir, build="app")


def test_missing_variable_is_named_with_its_env_hint():
    variables = {k: v for k, v in GOOD_VARS.items() if k != "app_package_url"}
    with pytest.raises(TemplateError, match="app_package_url.*PKR_VAR_app_package_url"):
        check_templates(PACKER_DIR, build="app", source="null.local", variables=variables, environ={})


def test_variable_from_pkr_var_environment_counts():
    variables = {k: v for k, v in GOOD_VARS.items() if k != "app_package_url"}
    summary = check_templates(
        PACKER_DIR, build="app", source="null.local", variables=variables,
        environ={"PKR_VAR_app_package_url": "file:///tmp/app.tar.gz"},
    )
    assert summary.build_name == "app"


def test_undeclared_variable_is_refused():
    with pytest.raises(TemplateError, match="colour.*not declared"):
        check_templates(PACKER_DIR, build="app", source="null.local", variables={**GOOD_VARS, "colour": "x"}, environ={})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("image_version", "1.4"),
        ("image_version", "1.4.0-rc1"),
        ("image_version", "1.4.99999999999"),
        ("image_definition", "has space"),
        ("gallery_name", "has-dash"),
    ],
)
def test_bad_azure_names_are_refused(name: str, value: str):
    with pytest.raises(TemplateError, match=f"variable {name}"):
        check_templates(PACKER_DIR, build="app", source="null.local", variables={**GOOD_VARS, name: value}, environ={})


def test_duplicate_variable_across_files(template_dir: Path):
    (template_dir / "extra.pkr.hcl").write_text('variable "location" {\n  type = string\n  default = "x"\n}\n')
    with pytest.raises(TemplateError, match="location.*declared in both"):
        load_templates(template_dir, build="app")


def test_empty_directory(tmp_path: Path):
    with pytest.raises(TemplateError, match="no \\*.pkr.hcl files"):
        load_templates(tmp_path, build="app")


def test_an_azure_bakes_fingerprint_covers_the_shared_script_and_app():
    from pipeline.bake.fingerprint import input_files

    files = {path.as_posix() for path in input_files(AZURE_DIR)}
    assert {"scripts/install-app.sh", "app/server.py", "plugins.pkr.hcl", "auth.pkr.hcl"} <= files
    assert (AZURE_DIR / "scripts").resolve() == (PACKER_DIR / "scripts").resolve()

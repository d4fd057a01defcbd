"""Packer's Azure credentials without secrets in CI: the mode packer/azure/auth.pkr.hcl picks for each CI's
environment, checked by running Packer itself on that file, and what the Jenkinsfile and the workflow hand it.

Packer 1.6.6 (the only Packer here) evaluates auth.pkr.hcl's HCL exactly as a current Packer does, through a null
build that prints the chosen mode; it cannot load the azure plugin 2.x that packer/azure pins, so the azure-arm
arguments are checked for their structure, and fully with `packer validate` when a Packer >= 1.10 with the plugin
is on the PATH (PACKER_CURRENT names it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest

from pipeline.bake.credentials import AZURE_CLI, CLIENT_SECRET, FEDERATED_JWT, OIDC, packer_auth, secret_values
from pipeline.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
AZURE_DIR = REPO / "packer" / "azure"
JENKINSFILE = REPO / "Jenkinsfile"
WORKFLOW = REPO / ".github" / "workflows" / "release.yml"
OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False)
needs_packer = pytest.mark.skipif(shutil.which("packer") is None, reason="packer is not installed")

PROBE = '''
source "null" "probe" { communicator = "none" }
build {
  sources = ["source.null.probe"]
  provisioner "shell-local" {
    inline = ["echo AUTH=[${local.auth_mode}] CLIENT=[${local.auth_client_id}] TENANT=[${local.auth_tenant_id}] JWT=[${local.auth_client_jwt}]"]
  }
}
'''
TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6IndpIn0.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl"  # no x5t: a federated JWT


def probe(tmp_path: Path, environ: dict[str, str]) -> dict[str, str]:
    """Run Packer on auth.pkr.hcl + inputs.pkr.hcl + variables.pkr.hcl with `environ` only; what the auth locals came out as."""
    work = tmp_path / "probe"
    work.mkdir(exist_ok=True)
    for name in ("auth.pkr.hcl", "inputs.pkr.hcl", "variables.pkr.hcl"):
        shutil.copy(AZURE_DIR / name, work / name)
    (work / "probe.pkr.hcl").write_text(PROBE)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CHECKPOINT_DISABLE": "1",
           "PKR_VAR_app_package_url": "https://x.blob.core.windows.net/p/a.tar.gz?sig=x", **environ}
    done = subprocess.run(["packer", "build", "-machine-readable", "-var", "app_version=1.0.0", "-var",
                           "image_version=1.0.0", str(work)], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"AUTH=\[(.*?)\] CLIENT=\[(.*?)\] TENANT=\[(.*?)\] JWT=\[(.*?)\]", done.stdout)
    assert found, done.stdout
    return dict(zip(("mode", "client_id", "tenant_id", "client_jwt"), found.groups()))


def modes(tmp_path: Path) -> dict[str, dict[str, str]]:
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(TOKEN + "\n")
    return {
        # GitHub Actions: the runner's OIDC request variables, ids from the bake step's env
        OIDC: {"ACTIONS_ID_TOKEN_REQUEST_URL": "https://pipelines.actions.example/idtoken?api-version=2.0",
               "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-request-token-123456", "ARM_CLIENT_ID": "app-id",
               "ARM_TENANT_ID": "tenant-id", "ARM_SUBSCRIPTION_ID": "sub-id"},
        # Jenkins on AKS with workload identity: what the webhook injects, nothing bound by Jenkins
        FEDERATED_JWT: {"AZURE_FEDERATED_TOKEN_FILE": str(token_file), "AZURE_CLIENT_ID": "wi-client",
                        "AZURE_TENANT_ID": "wi-tenant", "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com/"},
        # Jenkins with a bound service principal
        CLIENT_SECRET: {"ARM_CLIENT_ID": "sp-client", "ARM_CLIENT_SECRET": "sp-secret-value-987",
                        "ARM_TENANT_ID": "sp-tenant", "ARM_SUBSCRIPTION_ID": "sub-id"},
        AZURE_CLI: {},
    }


@needs_packer
@pytest.mark.parametrize("mode", [OIDC, FEDERATED_JWT, CLIENT_SECRET, AZURE_CLI])
def test_packer_picks_each_mode_from_its_ci_environment_as_the_pipeline_predicts(tmp_path, mode):
    environ = modes(tmp_path)[mode]
    got = probe(tmp_path, environ)
    assert got["mode"] == mode == packer_auth(environ).mode
    expected_client = {OIDC: "app-id", FEDERATED_JWT: "wi-client", CLIENT_SECRET: "sp-client", AZURE_CLI: ""}[mode]
    assert got["client_id"] == expected_client
    assert got["client_jwt"] == (TOKEN if mode == FEDERATED_JWT else "")
    if mode == FEDERATED_JWT:
        assert got["tenant_id"] == "wi-tenant"


@needs_packer
def test_the_runner_oidc_variables_win_over_a_stray_token_file(tmp_path):
    both = {**modes(tmp_path)[OIDC], "AZURE_FEDERATED_TOKEN_FILE": modes(tmp_path)[FEDERATED_JWT][
        "AZURE_FEDERATED_TOKEN_FILE"]}
    assert probe(tmp_path, both)["mode"] == OIDC == packer_auth(both).mode


def _source() -> dict:
    doc = hcl2.load((AZURE_DIR / "sources.pkr.hcl").open(), serialization_options=OPTIONS)
    (block,) = [b for b in doc["source"] if "azure-arm" in b]
    return block["azure-arm"]["ubuntu"]


def test_each_credential_argument_is_set_only_in_its_mode():
    source = _source()
    gated = {"client_secret": CLIENT_SECRET, "client_jwt": FEDERATED_JWT, "oidc_request_url": OIDC,
             "oidc_request_token": OIDC}
    for argument, mode in gated.items():
        expression = str(source[argument])
        assert f'local.auth_mode == "{mode}"' in expression and expression.rstrip("}").endswith("null"), argument
    assert 'local.auth_mode == "azure-cli"' in str(source["use_azure_cli_auth"])
    auth = (AZURE_DIR / "auth.pkr.hcl").read_text()
    for name in ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "AZURE_FEDERATED_TOKEN_FILE"):
        assert f'env("{name}")' in auth, f"{name} is not read from the environment"
    variables = hcl2.load((AZURE_DIR / "auth.pkr.hcl").open(), serialization_options=OPTIONS)["variable"]
    sensitive = {name for block in variables for name, body in block.items() if body.get("sensitive") is True}
    assert {"oidc_request_url", "oidc_request_token"} <= sensitive


def test_the_azure_source_publishes_straight_to_the_gallery_with_target_regions():
    source = _source()
    assert not [key for key in source if key.startswith("managed_image")], "a managed image would be left behind"
    (destination,) = source["shared_image_gallery_destination"] if isinstance(
        source["shared_image_gallery_destination"], list) else [source["shared_image_gallery_destination"]]
    assert "replication_regions" not in destination
    dynamic = destination["dynamic"]
    dynamic = dynamic[0] if isinstance(dynamic, list) else dynamic
    content = dynamic["target_region"]["content"]
    content = content[0] if isinstance(content, list) else content
    assert set(content) == {"name", "replicas"}
    assert "var.target_regions[0].storage_account_type" in str(destination["storage_account_type"])
    assert source["image_sku"] == "${var.base_image.sku}"


def test_the_plugin_is_pinned_and_the_definition_sku_names_the_base_image():
    doc = hcl2.load((AZURE_DIR / "plugins.pkr.hcl").open(), serialization_options=OPTIONS)
    (packer,) = doc["packer"]
    plugins = packer["required_plugins"]
    plugins = plugins[0] if isinstance(plugins, list) else plugins
    azure = plugins["azure"]
    assert azure["source"] == "github.com/hashicorp/azure"
    assert re.fullmatch(r"= \d+\.\d+\.\d+", azure["version"]), "pin one exact plugin version"
    variables = hcl2.load((AZURE_DIR / "variables.pkr.hcl").open(), serialization_options=OPTIONS)["variable"]
    (base,) = [block["base_image"] for block in variables if "base_image" in block]
    from pipeline.config import load_settings

    s = load_settings(path=REPO / "pipeline.toml", environment="azure-example", environ={})
    assert base["default"]["sku"] in s.image.sku, "the image definition's sku must name the base image"


@pytest.mark.skipif(not os.environ.get("PACKER_CURRENT"), reason="set PACKER_CURRENT to a Packer >= 1.10 with the "
                                                                  "azure plugin to validate packer/azure fully")
@pytest.mark.parametrize("mode", [OIDC, FEDERATED_JWT, CLIENT_SECRET])
def test_a_current_packer_validates_each_mode(tmp_path, mode):
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", str(tmp_path)), "CHECKPOINT_DISABLE": "1",
           "PKR_VAR_app_package_url": "https://x/y?sig=x", **modes(tmp_path)[mode]}
    done = subprocess.run([os.environ["PACKER_CURRENT"], "validate", "-var", "app_version=1.0.0", "-var",
                           "image_version=1.0.0", "-var", "subscription_id=00000000-0000-0000-0000-000000000000",
                           "-var", 'target_regions=[{"name":"westeurope","replicas":1,"storage_account_type":'
                           '"Standard_LRS"}]', str(AZURE_DIR)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


# --- the pipeline's own check ------------------------------------------------------------------------------------
def test_a_mode_without_a_client_id_is_one_line_naming_the_variable(tmp_path):
    environ = {k: v for k, v in modes(tmp_path)[OIDC].items() if k != "ARM_CLIENT_ID"}
    with pytest.raises(ConfigError) as err:
        packer_auth(environ)
    assert "\n" not in str(err.value) and "ARM_CLIENT_ID" in str(err.value) and "GitHub Actions OIDC" in str(err.value)
    with pytest.raises(ConfigError, match="not a file"):
        packer_auth({"AZURE_FEDERATED_TOKEN_FILE": str(tmp_path / "gone"), "AZURE_CLIENT_ID": "c"})


def test_the_token_and_secrets_are_redacted_not_just_hidden(tmp_path):
    for mode, environ in modes(tmp_path).items():
        values = secret_values(packer_auth(environ), environ)
        expected = {OIDC: ("runner-request-token-123456",), FEDERATED_JWT: (TOKEN,),
                    CLIENT_SECRET: ("sp-secret-value-987",), AZURE_CLI: ()}[mode]
        assert values == expected, mode


# --- what the CI files hand Packer -------------------------------------------------------------------------------
def _bake_step_env(workflow: str) -> dict[str, str]:
    job = workflow[workflow.index("\n  bake:\n"):]
    step = job[job.index("      - name: Bake\n"):]
    step = step[:step.index("\n      - name:", 1)]
    block = re.search(r"\n        env:\n((?:          [A-Z_]+: .*\n)+)", step + "\n")
    assert block, "the Azure bake step sets no env for Packer"
    return dict(re.findall(r"          ([A-Z_]+): (.*)", block.group(1)))


@needs_packer
def test_the_workflow_hands_packer_oidc_and_no_secret(tmp_path):
    text = WORKFLOW.read_text()
    assert re.search(r"^permissions:\n  id-token: write\n", text, re.MULTILINE), "the runner sets no OIDC variables"
    env = _bake_step_env(text)
    assert env == {"ARM_CLIENT_ID": "${{ vars.AZURE_CLIENT_ID }}", "ARM_TENANT_ID": "${{ vars.AZURE_TENANT_ID }}",
                   "ARM_SUBSCRIPTION_ID": "${{ vars.AZURE_SUBSCRIPTION_ID }}"}
    assert "secrets." not in text and "ARM_CLIENT_SECRET" not in text
    given = {name: f"value-of-{name.lower()}" for name in env}
    runner = {"ACTIONS_ID_TOKEN_REQUEST_URL": "https://runner.example/idtoken",
              "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-token-abcdef"}   # what id-token: write makes the runner set
    got = probe(tmp_path, {**given, **runner})
    assert got["mode"] == OIDC and got["client_id"] == "value-of-arm_client_id"


def _azure_helper(text: str) -> str:
    return text[text.index("void azure(Closure body)"):]


@needs_packer
def test_the_jenkinsfile_hands_packer_workload_identity_untouched_or_a_bound_principal(tmp_path):
    text = JENKINSFILE.read_text()
    helper = _azure_helper(text)
    # workload identity: nothing is bound, so Packer sees the webhook's AZURE_* variables and the token file
    assert re.search(r"if \(params\.ENVIRONMENT == 'local' \|\| env\.AZURE_FEDERATED_TOKEN_FILE\) \{\s*body\(\)\s*"
                     r"return", helper), helper
    bake = text[text.index("stage('Bake')"):text.index("stage('Stage')")]
    assert "azure {" in bake and "AZURE_FEDERATED_TOKEN_FILE" not in bake.replace("// ", "")
    wi = modes(tmp_path)[FEDERATED_JWT]
    assert probe(tmp_path, wi)["mode"] == FEDERATED_JWT
    # a service principal: the ARM_* variables Packer reads are bound from the Jenkins credential
    bound = dict(re.findall(r"(\w+Variable): '(\w+)'", helper))
    arm = {v for v in re.findall(r"Variable: '(ARM_\w+)'", helper)}
    assert arm == {"ARM_SUBSCRIPTION_ID", "ARM_CLIENT_ID", "ARM_CLIENT_SECRET", "ARM_TENANT_ID"}, bound
    principal = {name: f"bound-{name.lower()}-value" for name in arm | {"AZURE_CLIENT_ID", "AZURE_TENANT_ID"}}
    assert probe(tmp_path, principal)["mode"] == CLIENT_SECRET

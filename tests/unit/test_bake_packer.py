"""Machine-readable parsing, manifest selection by run uuid, and the packer command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.bake import machine
from pipeline.bake.packer import build_command, secret_environment, split_secrets
from pipeline.bake.templates import load_templates
from pipeline.errors import BakeError, TemplateError

PACKER_DIR = Path(__file__).resolve().parents[2] / "packer"

SUCCESS = """\
1795662638,,ui,say,==> app.null.local: Running local shell script: /work/main/packer/scripts/install-app.sh
1795662638,,ui,message,    app.null.local: install-app: installed app 1.0.0 in /tmp/out/staging/1.0.0/opt/app
1795662638,app.null.local,artifact-count,2
1795662638,app.null.local,artifact,0,builder-id,fnoeding.null
1795662638,app.null.local,artifact,0,id,Null
1795662638,app.null.local,artifact,0,files-count,0
1795662638,app.null.local,artifact,0,end
1795662638,app.null.local,artifact,1,builder-id,packer.post-processor.artifice
1795662638,app.null.local,artifact,1,id,
1795662638,app.null.local,artifact,1,string,Created artifact from files: /tmp/out/1.0.0.tar.gz
1795662638,app.null.local,artifact,1,files-count,1
1795662638,app.null.local,artifact,1,file,0,/tmp/out/1.0.0.tar.gz
1795662638,app.null.local,artifact,1,end
"""

FAILURE = """\
1795662641,,ui,message,    app.null.local: install-app: downloading app package for version 1.0.0
1795662641,,ui,error,==> app.null.local: install-app: app package sha256 is abc%!(PACKER_COMMA) expected def; fix it
1795662641,,ui,error,Build 'app.null.local' errored after 50 milliseconds: Script exited with non-zero exit status: 1
1795662641,,error-count,1
1795662641,,ui,error,\\n==> Some builds didn't complete successfully and had errors:
1795662641,app.null.local,error,Script exited with non-zero exit status: 1
1795662641,,ui,error,--> app.null.local: Script exited with non-zero exit status: 1
"""


def parse(text: str) -> list[machine.MachineLine]:
    return [line for raw in text.splitlines() if (line := machine.parse_line(raw)) is not None]


def test_parse_line_unescapes_commas_and_newlines():
    line = machine.parse_line("1795662641,,ui,error,Error: a%!(PACKER_COMMA) b\\n\\nmore\n")
    assert line == machine.MachineLine(1795662641, "", "ui", ("error", "Error: a, b\n\nmore"))
    assert line.is_error and line.ui_text == "Error: a, b\n\nmore"


@pytest.mark.parametrize("raw", ["", "plain text, not packer", "abc,x,ui,say,hi", "12,only-two"])
def test_non_machine_lines_are_ignored(raw):
    assert machine.parse_line(raw) is None


def test_artifacts_for_target():
    found = machine.artifacts(parse(SUCCESS), target="app.null.local")
    assert [a.builder_id for a in found] == ["fnoeding.null", "packer.post-processor.artifice"]
    assert found[0].id == "Null" and found[0].files == ()
    assert found[1].files == ("/tmp/out/1.0.0.tar.gz",)
    assert machine.artifacts(parse(SUCCESS), target="app.azure-arm.ubuntu") == ()


def test_last_error_prefers_the_provisioner_message():
    assert machine.last_error(parse(FAILURE)) == "app.null.local: install-app: app package sha256 is abc, expected def; fix it"
    assert machine.last_error(parse(SUCCESS)) is None


def test_last_error_falls_back_to_the_build_error_and_first_line():
    lines = parse(FAILURE.replace("1795662641,,ui,error,==> app.null.local: install-app", "1795662641,,ui,say,x"))
    assert machine.last_error(lines) == "Script exited with non-zero exit status: 1"
    config = parse('1,,ui,error,Error: Unset variable "image_version"\\n\\nA used variable must be set\\n')
    assert machine.last_error(config) == 'Error: Unset variable "image_version"'


def manifest_with_runs() -> dict:
    def entry(run: str, name: str, kind: str, version: str) -> dict:
        return {
            "name": name, "builder_type": kind, "build_time": 1, "packer_run_uuid": run,
            "artifact_id": "", "files": [{"name": f"/out/{version}.tar.gz", "size": 10}],
            "custom_data": {"app_version": version, "image_version": version, "fingerprint": run},
        }

    return {
        "builds": [
            entry("run-1", "local", "null", "1.0.0"),
            entry("run-2", "local", "null", "1.1.0"),
            entry("run-2", "ubuntu", "azure-arm", "9.9.9"),
            entry("run-3", "local", "null", "1.2.0"),
        ],
        "last_run_uuid": "run-2",
    }


def test_select_build_uses_last_run_uuid_not_the_last_entry():
    build = machine.select_build(manifest_with_runs(), builder_type="null", name="local")
    assert build.run_uuid == "run-2"
    assert build.files == ("/out/1.1.0.tar.gz",)
    assert build.custom_data["image_version"] == "1.1.0"


def test_select_build_missing_source_or_run():
    with pytest.raises(BakeError, match="no null.other build for run run-2"):
        machine.select_build(manifest_with_runs(), builder_type="null", name="other")
    with pytest.raises(BakeError, match="last_run_uuid"):
        machine.select_build({"builds": []}, builder_type="null", name="local")


def test_build_command_has_no_secrets_and_selects_the_named_build():
    argv = build_command(
        packer="packer", template_dir=Path("/t"), selector="app.null.local",
        variables={"image_version": "1.4.0", "replication_regions": ["a", "b"], "tags": {"k": "v"}},
    )
    assert argv[:5] == ["packer", "build", "-machine-readable", "-color=false", "-only=app.null.local"]
    assert "image_version=1.4.0" in argv and 'replication_regions=["a", "b"]' in argv
    assert 'tags={"k": "v"}' in argv
    assert argv[-1] == "/t"


def test_secrets_go_to_pkr_var_environment_only():
    assert secret_environment({"app_package_url": "https://x?sig=s"}) == {"PKR_VAR_app_package_url": "https://x?sig=s"}
    summary = load_templates(PACKER_DIR, build="app")
    with pytest.raises(TemplateError, match="app_package_url are sensitive.*secrets="):
        split_secrets(summary, variables={"app_package_url": "https://x"}, secrets={})
    with pytest.raises(TemplateError, match="both"):
        split_secrets(summary, variables={"app_version": "1"}, secrets={"app_version": "1"})
    split_secrets(summary, variables={"app_version": "1"}, secrets={"app_package_url": "x"})

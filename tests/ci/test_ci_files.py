"""The Jenkinsfile and the GitHub workflow call only tasks and flags that tasks.py has, in the release's order.

No Jenkins server or GitHub runner is available here: the linters (test_lint.py) catch syntax, these tests catch
what the linters cannot (a renamed task or flag, a stage out of order, an unguarded rollback).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
JENKINSFILE = REPO / "Jenkinsfile"
WORKFLOW = REPO / ".github" / "workflows" / "release.yml"

# `.venv/bin/invoke <task> ...flags...` up to the end of the command: a redirect, a pipe, `;`, `&&`, the end of a
# Groovy string, or the next YAML list item / key.
CALL = re.compile(r"\.venv/bin/invoke\s+(?P<task>[\w.-]+)(?P<rest>.*?)(?=[>;|']|&&|\n\s*(?:- |[\w-]+:|\})|\Z)",
                  re.DOTALL)
FLAG = re.compile(r"(?<![\w-])--(?P<flag>[a-z][a-z0-9-]*)")


def invoke_calls(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """[(task, (flag, ...))] for every `.venv/bin/invoke` command in a Jenkinsfile or workflow."""
    text = text.replace("\\\n", " ")
    return [(m["task"], tuple(FLAG.findall(m["rest"]))) for m in CALL.finditer(text)]


def task_flags() -> dict[str, set[str]]:
    """{dotted task name: {long flag names}} from tasks.py's collection, as `invoke --help <task>` shows them."""
    import tasks

    out = {}
    for name in tasks.ns.task_names:
        out[name] = {arg.names[0] for arg in tasks.ns[name].get_arguments()}
    return out


def test_the_extractor_reads_multi_line_commands():
    text = ("sh '''.venv/bin/invoke bake --env \"$E\" ${V:+--app-version \"$V\"} \\\n"
            "      --build-number \"$N\" --json > out.json'''\n"
            "        run: >-\n          .venv/bin/invoke stage --image-version \"$X\"\n          --json\n"
            "      - name: next\n        run: .venv/bin/invoke status || true\n")
    assert invoke_calls(text) == [("bake", ("env", "app-version", "build-number", "json")),
                                  ("stage", ("image-version", "json")), ("status", ())]


@pytest.mark.parametrize("path", [JENKINSFILE, WORKFLOW], ids=["Jenkinsfile", "release.yml"])
def test_every_invoke_call_names_a_real_task_and_real_flags(path):
    calls = invoke_calls(path.read_text())
    known = task_flags()
    assert calls, f"{path.name} calls no invoke task"
    problems = []
    for task, flags in calls:
        if task not in known:
            problems.append(f"invoke {task}: no such task (tasks: {', '.join(sorted(known))})")
            continue
        problems += [f"invoke {task} --{flag}: no such flag (flags: {', '.join(sorted(known[task]))})"
                     for flag in flags if flag not in known[task]]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", [JENKINSFILE, WORKFLOW], ids=["Jenkinsfile", "release.yml"])
def test_both_run_the_release_tasks_in_order(path):
    tasks_called = [task for task, _ in invoke_calls(path.read_text())]
    order = ["bake", "stage", "smoke", "promote", "verify"]
    firsts = [tasks_called.index(t) for t in order]
    assert firsts == sorted(firsts), f"{path.name} runs {tasks_called}"
    assert "rollback" in tasks_called


@pytest.mark.parametrize("path", [JENKINSFILE, WORKFLOW], ids=["Jenkinsfile", "release.yml"])
def test_both_run_doctor_before_bake(path):
    tasks_called = [task for task, _ in invoke_calls(path.read_text())]
    assert "doctor" in tasks_called, f"{path.name} never runs invoke doctor"
    assert tasks_called.index("doctor") < tasks_called.index("bake"), f"{path.name} runs {tasks_called}"


# --- Jenkinsfile ------------------------------------------------------------------------------------------------
def jenkins_stages(text: str) -> list[str]:
    return re.findall(r"^\s*stage\('([^']+)'\)", text, re.MULTILINE)


def stage_body(text: str, name: str) -> str:
    """The text of one stage block (up to the next stage or the end of `stages`)."""
    start = text.index(f"stage('{name}')")
    following = [text.index(f"stage('{s}')", start + 1) for s in jenkins_stages(text)
                 if text.find(f"stage('{s}')", start + 1) != -1]
    end = min(following + [text.index("\n    post {", start)])
    return text[start:end]


def test_jenkins_stages_are_the_release_steps_in_order():
    stages = jenkins_stages(JENKINSFILE.read_text())
    wanted = ["Setup", "Bake", "Stage", "Smoke", "Approve", "Promote", "Verify"]
    assert [s for s in stages if s in wanted] == wanted, stages


def test_jenkins_doctor_is_a_stage_before_bake_that_every_environment_runs():
    text = JENKINSFILE.read_text()
    stages = jenkins_stages(text)
    assert stages.index("Doctor") < stages.index("Bake"), stages
    body = stage_body(text, "Doctor")
    assert "invoke doctor --env" in body and not re.search(r"\bwhen\s*\{", body), body


def test_jenkins_approval_is_restricted_to_a_group_and_skipped_for_local():
    body = stage_body(JENKINSFILE.read_text(), "Approve")
    assert re.search(r"input\s*\{[^}]*submitter\s+'release-managers'", body, re.DOTALL), body
    assert "beforeInput true" in body and "'local'" in body


def test_jenkins_bake_is_skipped_for_a_given_image_version():
    body = stage_body(JENKINSFILE.read_text(), "Bake")
    assert "when" in body and "params.IMAGE_VERSION" in body


def test_jenkins_every_stage_has_a_timeout_and_the_release_is_locked():
    text = JENKINSFILE.read_text()
    for name in jenkins_stages(text):
        assert "timeout(time:" in stage_body(text, name), f"stage {name} has no timeout"
    assert "disableConcurrentBuilds()" in text
    assert 'lock(resource: "release-${params.ENVIRONMENT}")' in text


def test_jenkins_rolls_back_only_after_this_run_promoted():
    text = JENKINSFILE.read_text()
    promote = stage_body(text, "Promote")
    assert re.search(r"success\s*\{\s*(//[^\n]*\n\s*)?script\s*\{\s*env\.PROMOTED = 'true'", promote), promote
    failure = text[text.index("failure {"):]
    guard = failure.index("if (env.PROMOTED == 'true')")
    assert guard < failure.index("invoke rollback")
    # an `environment {}` variable could not be changed by the Promote stage: PROMOTED must not be declared there
    assert not re.search(r"environment\s*\{[^}]*PROMOTED", text)


def test_jenkins_reports_and_artifacts():
    text = JENKINSFILE.read_text()
    smoke = stage_body(text, "Smoke")
    assert re.search(r"post\s*\{\s*always\s*\{\s*junit[^\n]*\.pipeline/reports/smoke\.xml", smoke), smoke
    for pattern in (".pipeline/records/*.json", ".pipeline/bake/**/packer-manifest.json", ".pipeline/reports/*.html"):
        assert pattern in text, f"archiveArtifacts misses {pattern}"


def test_jenkins_secrets_are_bound_not_interpolated():
    text = JENKINSFILE.read_text()
    assert "azureServicePrincipal(" in text
    for variable in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"):
        assert f"'{variable}'" in text
    # sh steps are single-quoted: the shell expands variables, Groovy never puts a secret in a command line
    assert not re.search(r'\bsh\s+"', text) and not re.search(r'\bsh\s+"""', text)
    assert "echo $AZURE" not in text and "echo ${AZURE" not in text


# --- GitHub workflow --------------------------------------------------------------------------------------------
def workflow_job(text: str, name: str) -> str:
    start = text.index(f"\n  {name}:\n")
    nxt = re.search(r"\n  [\w-]+:\n", text[start + 1:])
    return text[start:start + 1 + nxt.start()] if nxt else text[start:]


def test_workflow_permissions_concurrency_and_inputs():
    text = WORKFLOW.read_text()
    assert re.search(r"^permissions:\n  id-token: write\n  contents: read\n", text, re.MULTILINE)
    assert "group: release-${{ inputs.environment || 'local' }}" in text
    for name in ("environment", "image_version", "app_version"):
        assert re.search(rf"^      {name}:\n", text, re.MULTILINE), f"workflow_dispatch input {name} missing"
    assert re.search(r"^  push:\n    branches: \[main\]", text, re.MULTILINE)


def test_workflow_jobs_chain_and_promote_needs_reviewers():
    text = WORKFLOW.read_text()
    assert "needs: bake" in workflow_job(text, "stage")
    assert "needs: stage" in workflow_job(text, "smoke")
    promote = workflow_job(text, "promote")
    assert "needs: smoke" in promote and "environment: production-like" in promote
    assert re.search(r"if: failure\(\) && steps\.promote\.outcome == 'success'\n\s*run: \.venv/bin/invoke rollback",
                     promote)


def test_workflow_runs_doctor_before_bake_in_the_local_and_the_bake_jobs():
    text = WORKFLOW.read_text()
    for job in ("local", "bake"):
        body = workflow_job(text, job)
        doctor = body.index(".venv/bin/invoke doctor")
        assert doctor < body.index(".venv/bin/invoke bake"), job
        assert "if:" not in body[body.rindex("- name:", 0, doctor):doctor], f"{job}: doctor must always run"
    bake = workflow_job(text, "bake")
    assert bake.index("uses: azure/login") < bake.index("invoke doctor"), "doctor needs the Azure login"


def test_workflow_logs_in_with_oidc_and_no_stored_secret():
    text = WORKFLOW.read_text()
    assert "secrets." not in text
    logins = re.findall(r"uses: azure/login@v\d+\n\s+with:\n((?:\s+[\w-]+: .*\n)+)", text)
    assert len(logins) == 4, "bake, stage, smoke and promote each log in"
    for block in logins:
        assert "client-id: ${{ vars.AZURE_CLIENT_ID }}" in block
        assert "tenant-id: ${{ vars.AZURE_TENANT_ID }}" in block
        assert "subscription-id: ${{ vars.AZURE_SUBSCRIPTION_ID }}" in block


def test_workflow_uploads_the_artifacts_and_writes_a_summary():
    text = WORKFLOW.read_text()
    for pattern in (".pipeline/records/*.json", ".pipeline/bake/**/packer-manifest.json", ".pipeline/reports/*.html",
                    ".pipeline/reports/smoke.xml"):
        assert pattern in text, f"no upload of {pattern}"
    assert text.count('>> "$GITHUB_STEP_SUMMARY"') >= 2

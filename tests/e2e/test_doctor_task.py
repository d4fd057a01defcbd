"""`invoke doctor` as a user and CI run it: against a fresh local cloud before `invoke infra` (exit 13, every
check printed with its fix, one `error:` line) and after it (exit 0); `--json` gives the checks with
`"step": "doctor"`; it leaves no release record and changes nothing."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import local_cloud

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with local_cloud(tmp_path_factory.mktemp("e2e-doctor")) as cloud:
        yield cloud


def test_doctor_fails_before_infra_and_passes_after(cloud):
    before = cloud.invoke("doctor", "--json")
    line = before.failed(13, r"^error: doctor: \d+ check\(s\) fail \(.*load-balancer.*\); apply each fix")
    data = before.json()
    assert data["step"] == "doctor" and data["ok"] is False and data["environment"] == "local"
    checks = {c["name"]: c for c in data["checks"]}
    assert checks["load-balancer"]["status"] == "FAIL" and "invoke infra" in checks["load-balancer"]["fix"]
    assert checks["credential"]["status"] == "PASS" and checks["packer"]["status"] == "PASS"
    assert "load-balancer" in line
    assert not cloud.records(), "doctor is read-only: no release record"

    cloud.invoke("infra").ok()
    after = cloud.invoke("doctor")
    assert after.code == 0, str(after)
    assert "Traceback" not in after.stderr
    assert " FAIL " not in after.stdout and after.stdout.rstrip().splitlines()[-1].endswith("0 FAIL"), str(after)


def test_doctor_rejects_bad_configuration_with_exit_2(cloud):
    cloud.invoke("doctor", "--set", "capacity.default=abc").failed(2, r"capacity\.default must be an integer")

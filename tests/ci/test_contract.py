"""The whole lifecycle sends Azure only what it may write: no read-only or unknown member in any request body.

The lifecycle is the role test's (tests/ci/test_role.py `counted_run`: infra, releases, a failed release,
rollback, rollout, retire) against the local cloud, whose contract guard (pipeline/emulator/core/contract.py)
checks every body against the Azure SDK model of its operation and counts what the model marks read-only or
does not know. On Azure, a load balancer PUT that carries back a pool's NIC members is refused (400
DuplicateIpConfigurationReferenceOnBackendAddressPool); other read-only members are ignored today and may not
be tomorrow. pipeline/azure/writable.py is what keeps the load-balancer writes clean.
"""

from __future__ import annotations

import shutil

import pytest

from tests.ci.test_role import control, counted_run, pipeline_fixtures, workdir  # noqa: F401 - fixtures

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("packer") is None, reason="packer is not installed (make setup)")]


def test_the_lifecycle_sends_no_read_only_or_unknown_property(counted_run, cloud):  # noqa: F811
    writes = {(row["method"], row["operation"]) for row in counted_run if row["method"] in ("PUT", "PATCH", "POST")}
    assert ("PUT", "LoadBalancers_CreateOrUpdate") in writes  # the swaps and the staging pointer were written
    contract = control(cloud, "GET", "counters")["contract"]
    assert contract == [], "bodies carried what Azure computes or does not know:\n" + "\n".join(
        f"  {c['operation']}: {c['kind']} {c['path']} (x{c['count']})" for c in contract)

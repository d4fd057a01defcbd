"""Smoke decisions (pure) and the JUnit XML they produce; one real HTTP round trip on loopback."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from pipeline.smoke import Check, Outcome, Target, evaluate, junit_report, run_checks, summary
from tests.fixtures.fakes import serve_http


def test_version_is_substituted_in_path_and_body():
    check = Check("version", "/version?v={version}", body_contains='"version": "{version}"').for_version("1.2.3")
    assert check.path == "/version?v=1.2.3" and check.body_contains == '"version": "1.2.3"'


@pytest.mark.parametrize("status,body,seconds,error,expected", [
    (200, "ok 1.2.3", 0.01, None, None),
    (503, "", 0.01, None, "status 503, expected 200"),
    (200, "ok 1.0.0", 0.01, None, "body does not contain '1.2.3'"),
    (200, "ok 1.2.3", 0.9, None, "took 900 ms, budget 500 ms"),
    (None, "", 0.0, "ConnectionRefusedError", "request failed: ConnectionRefusedError"),
])
def test_evaluate(status, body, seconds, error, expected):
    check = Check("c", "/", body_contains="1.2.3", latency_ms=500)
    assert evaluate(check, status=status, body=body, seconds=seconds, error=error) == expected


def test_junit_report_counts_failures_and_names_the_target():
    target = Target("instance 3", "http://127.0.0.1:1")
    outcomes = [Outcome(target, Check("health", "/health"), 200, 0.01, None),
                Outcome(target, Check("version", "/version"), 500, 0.02, "status 500, expected 200")]
    root = ET.fromstring(junit_report(outcomes, suite="smoke"))
    suite = root.find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    failed = [c for c in suite.findall("testcase") if c.find("failure") is not None]
    assert failed[0].get("classname") == "smoke.instance 3"
    assert "status 500" in failed[0].find("failure").get("message")
    assert summary(outcomes).startswith("1 of 2 smoke checks failed, first: version on instance 3")


def test_run_checks_against_a_real_server_and_a_dead_port():
    with serve_http(lambda path: (200 if path == "/health" else 404, b"healthy 2.0.0", {})) as base:
        good = Target("good", base)
        with __import__("socket").socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = Target("dead", f"http://127.0.0.1:{s.getsockname()[1]}")
        outcomes = run_checks([Check("health", "/health", body_contains="{version}")], [good, dead],
                              version="2.0.0", timeout_s=2)
    by_target = {o.target.name: o for o in outcomes}
    assert by_target["good"].passed
    assert by_target["dead"].failure.startswith("request failed")

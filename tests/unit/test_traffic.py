"""Traffic sampling during a cut-over: the pure arithmetic, and one real sampler against a loopback server whose
answer switches version mid-run (no sleeps: the server switches after a number of requests)."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager

import pytest

from pipeline import traffic
from pipeline.traffic import FAILED, Sample
from tests.fixtures.fakes import serve_http


def s(t, version=None, *, instance="i0", status=200, error=None):
    if version is None and error is None:
        error = "ConnectionRefusedError"
    return Sample(t, version, instance if version else None, status if version else None, error)


def test_parse_reads_version_and_instance():
    body = json.dumps({"version": "1.3.0", "instance_id": "2", "computer_name": "vm2"})
    assert traffic.parse(t_offset_s=1.5, status=200, body=body, error=None) == Sample(1.5, "1.3.0", "2", 200, None)


@pytest.mark.parametrize("status,body,error,expected_error", [
    (None, "", "TimeoutError: timed out", "TimeoutError: timed out"),
    (502, "bad gateway", None, "HTTP 502"),
    (200, "<html>", None, "answer is not JSON"),
    (200, '{"name": "x"}', None, "answer has no version"),
])
def test_parse_failures_are_samples_not_exceptions(status, body, error, expected_error):
    sample = traffic.parse(t_offset_s=0.0, status=status, body=body, error=error)
    assert not sample.ok and sample.version is None and sample.error == expected_error


def test_failures_counts_errors_and_bad_statuses():
    samples = [s(0.0, "1"), s(0.1), Sample(0.2, None, None, 503, "HTTP 503"), s(0.3, "2")]
    assert traffic.failures(samples) == 2


def test_shares_over_time_buckets_add_up_and_keep_empty_buckets():
    samples = [s(0.0, "1"), s(0.2, "1"), s(0.6, "1"), s(0.7, "2"), s(0.8), s(0.9, "2"), s(2.1, "2")]
    shares = traffic.shares_over_time(samples, bucket_s=0.5)
    assert [t for t, _ in shares] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert shares[0][1] == {"1": 1.0}
    assert shares[1][1] == {"1": 0.25, "2": 0.5, FAILED: 0.25}
    assert shares[2][1] == {} and shares[3][1] == {}
    assert shares[4][1] == {"2": 1.0}
    assert traffic.shares_over_time([], bucket_s=1.0) == []


def test_cutover_is_the_start_of_the_final_run_of_the_new_version():
    samples = [s(0.0, "1"), s(1.0, "1"), s(2.0, "2"), s(2.5, "1"), s(3.0, "2"), s(3.5, "2"), s(4.0, "2")]
    assert traffic.cutover_seconds(samples, version="2", since=1.5) == pytest.approx(1.5)
    assert traffic.cutover_seconds(samples, version="2") == pytest.approx(3.0)


def test_cutover_is_broken_by_a_failure_and_none_when_unfinished():
    assert traffic.cutover_seconds([s(0.0, "1"), s(1.0, "2"), s(2.0), s(3.0, "2")], version="2") == 3.0
    assert traffic.cutover_seconds([s(0.0, "1"), s(1.0, "2"), s(2.0, "1")], version="2") is None
    assert traffic.cutover_seconds([s(0.0, "2")], version="2", since=5.0) is None
    assert traffic.cutover_seconds([], version="2") is None


def test_cutover_when_already_switched_is_the_first_answer_after_since():
    assert traffic.cutover_seconds([s(1.0, "2"), s(1.2, "2")], version="2", since=1.0) == 0.0


def test_summary_counts_versions_instances_and_errors():
    samples = [s(0.0, "1", instance="a"), s(0.5, "1", instance="b"), s(1.0), s(1.5, "2", instance="c"),
               s(2.0, "2", instance="c")]
    out = traffic.summary(samples)
    assert out["requests"] == 5 and out["failures"] == 1 and out["duration_s"] == 2.0
    assert out["versions"]["1"] == {"requests": 2, "first_s": 0.0, "last_s": 0.5}
    assert out["versions"]["2"]["requests"] == 2
    assert out["instances"]["c"] == {"version": "2", "requests": 2}
    assert out["errors"] == {"ConnectionRefusedError": 1}
    assert traffic.versions_in_order(samples) == ["1", "2"]


def test_compact_rows_round_trip():
    sample = Sample(1.23456, "1.3.0", "4", 200, None)
    assert Sample.from_row(json.loads(json.dumps(sample.to_row()))) == Sample(1.235, "1.3.0", "4", 200, None)


def test_sampler_refuses_non_http_urls_and_caps_its_budget():
    with pytest.raises(ValueError):
        traffic.Sampler(url="file:///etc/passwd")
    sampler = traffic.Sampler(url="http://127.0.0.1:1/version", rate_per_s=10_000, threads=64,
                              max_seconds=1e9, max_samples=10**9)
    assert sampler.threads == traffic.MAX_THREADS and sampler.rate_per_s == traffic.MAX_RATE_PER_S
    assert sampler.max_seconds == traffic.MAX_SECONDS and sampler.max_samples == traffic.MAX_SAMPLES


# ---------------------------------------------------------------------------------------------- real HTTP


class SwitchingApp:
    """A /version server on 127.0.0.1 that answers `before` for the first `switch_after` requests, then `after`,
    from two alternating instances per version; calls on_switch once, from the request that switches. With `mix`,
    the next `mix` requests after the switch are a deterministic blend, more and more of them `after` (as
    connections drain from the old pool)."""

    def __init__(self, *, before: str, after: str, switch_after: int, mix: int = 0):
        self.before, self.after, self.switch_after, self.mix = before, after, switch_after, mix
        self.requests = 0
        self.on_switch = lambda: None
        self._lock = threading.Lock()

    def answer(self) -> dict:
        with self._lock:
            self.requests += 1
            n = self.requests
        if n == self.switch_after + 1:
            self.on_switch()
        i = n - self.switch_after                       # 1, 2, ... after the switch
        version = self.before if i <= 0 or (i <= self.mix and (i * 7) % self.mix >= i) else self.after
        prefix = "blue" if version == self.before else "green"
        return {"version": version, "instance_id": f"{prefix}-{n % 2}", "computer_name": f"vm-{prefix}-{n % 2}"}


@contextmanager
def serve(app: SwitchingApp):
    def answer(path: str) -> tuple[int, bytes, dict[str, str]]:
        if path != "/version":
            return 404, b"{}", {"Content-Type": "application/json"}
        return 200, json.dumps(app.answer()).encode(), {"Content-Type": "application/json"}

    with serve_http(answer) as base:
        yield f"{base}/version"


def sample_a_cutover(*, requests: int = 120, switch_after: int = 50, mix: int = 0, rate_per_s: float = 150.0,
                     threads: int = 3) -> tuple[tuple[Sample, ...], float]:
    """Real samples of a switch from 1.2.0 to 1.3.0 and the offset of the switch (also used by the report test)."""
    app = SwitchingApp(before="1.2.0", after="1.3.0", switch_after=switch_after, mix=mix)
    with serve(app) as url:
        sampler = traffic.Sampler(url=url, rate_per_s=rate_per_s, threads=threads, timeout_s=2.0,
                                  max_samples=requests, max_seconds=30.0)
        app.on_switch = lambda: sampler.mark("swap")
        with sampler:
            samples = sampler.wait()    # the sampler stops by itself once its request budget is spent
    (swap,) = [t for label, t in sampler.marks if label == "swap"]
    return samples, swap


def test_sampler_sees_the_switch_with_no_failures():
    samples, swap = sample_a_cutover()
    assert len(samples) == 120
    assert traffic.failures(samples) == 0
    assert traffic.versions_in_order(samples) == ["1.2.0", "1.3.0"]
    # requests sent before the switch answered 1.2.0 (those in flight at the switch may answer either)
    assert all(x.version == "1.2.0" for x in samples if x.t_offset_s < swap - 0.05)
    took = traffic.cutover_seconds(samples, version="1.3.0", since=0.0)
    assert took is not None and took <= swap + 0.05
    assert traffic.cutover_seconds(samples, version="1.3.0", since=swap) is not None
    assert set(traffic.summary(samples)["instances"]) == {"blue-0", "blue-1", "green-0", "green-1"}


def test_a_draining_mix_delays_the_cutover_past_the_switch():
    samples, swap = sample_a_cutover(requests=100, switch_after=40, mix=20)
    versions = [x.version for x in samples]
    assert versions.count("1.2.0") > 40 and traffic.failures(samples) == 0
    took = traffic.cutover_seconds(samples, version="1.3.0", since=swap)
    assert took is not None and took > 0
    after = [x for x in samples if x.t_offset_s >= swap + took]
    assert after and all(x.version == "1.3.0" for x in after)


def test_sampler_holds_its_rate_and_stops_by_itself():
    app = SwitchingApp(before="1", after="1", switch_after=0)
    with serve(app) as url:
        sampler = traffic.Sampler(url=url, rate_per_s=50.0, threads=2, max_samples=10_000, max_seconds=0.5)
        with sampler:
            samples = sampler.wait()
        assert not sampler.running
    # 0.5 s at 50/s: about 25 requests, never a burst beyond the schedule
    assert 15 <= len(samples) <= 26
    assert app.requests == len(samples)


def test_sampler_records_refused_connections_as_failures():
    import socket

    with socket.socket() as probe:      # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with traffic.Sampler(url=f"http://127.0.0.1:{port}/version", rate_per_s=100, max_samples=5) as sampler:
        samples = sampler.wait()
    assert len(samples) == 5 and traffic.failures(samples) == 5
    assert all(x.error and x.status is None for x in samples)

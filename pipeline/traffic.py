"""Traffic during a cut-over: a steady load of GETs against production's /version, and what it saw.

    with traffic.Sampler(url="http://127.20.0.1:8080/version", rate_per_s=20) as sampler:
        ...                                   # promote: the swap happens here
        swapped_at = sampler.mark("swap")     # seconds since the sampler started
    samples = sampler.samples
    traffic.cutover_seconds(samples, version="1.3.0", since=swapped_at)    # 0.4
    traffic.shares_over_time(samples, bucket_s=0.5)  # [(0.0, {"1.2.0": 1.0}), (0.5, {"1.2.0": .6, "1.3.0": .4}), ...]

The sampler only ever requests the one URL it is given, each request on a new connection (as a new client
would arrive, so the load balancer picks a backend for each), from 1-4 threads at a target rate. It is
bounded: it stops by itself after `max_seconds` or `max_samples`, whichever comes first, and both have hard
caps (MAX_SECONDS, MAX_SAMPLES) that no caller can raise. It never raises for network errors: a request
that fails is a Sample with `error` set.

Everything below the Sampler is pure: lists of Samples in, numbers and dicts out.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from pipeline import smoke as checks

log = logging.getLogger(__name__)

MAX_THREADS = 4
MAX_RATE_PER_S = 200.0
MAX_SAMPLES = 20_000
MAX_SECONDS = 900.0
FAILED = "(failed)"   # the key under which shares_over_time counts failed requests (not a version name)

Fetch = Callable[..., "tuple[int | None, str, float, str | None]"]


@dataclass(frozen=True)
class Sample:
    """One request: when it was sent (seconds after the sampler started) and who answered."""

    t_offset_s: float
    version: str | None
    instance: str | None
    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200 and self.version is not None

    def to_row(self) -> list:
        """Compact form for records: [t, version, instance, status, error] (see COMPACT_FIELDS)."""
        return [round(self.t_offset_s, 3), self.version, self.instance, self.status, self.error]

    @classmethod
    def from_row(cls, row: Sequence) -> "Sample":
        t, version, instance, status, error = row
        return cls(float(t), version, instance, status, error)


COMPACT_FIELDS = ("t", "version", "instance", "status", "error")


def parse(*, t_offset_s: float, status: int | None, body: str, error: str | None) -> Sample:
    """A Sample from one /version answer ({"version", "instance_id", ...}); pure."""
    if error:
        return Sample(t_offset_s, None, None, None, error)
    if status != 200:
        return Sample(t_offset_s, None, None, status, f"HTTP {status}")
    try:
        data = json.loads(body)
    except ValueError:
        return Sample(t_offset_s, None, None, status, "answer is not JSON")
    if not isinstance(data, dict) or not isinstance(data.get("version"), str) or not data["version"]:
        return Sample(t_offset_s, None, None, status, "answer has no version")
    instance = data.get("instance_id") or data.get("computer_name") or data.get("hostname")
    return Sample(t_offset_s, data["version"], str(instance) if instance not in (None, "") else None, status, None)


class Sampler:
    """A constant load of GETs against `url` while the `with` block runs (or between start() and stop()).

    rate_per_s is the target for all threads together; a request slower than the interval delays the next
    one (no burst to catch up), so a slow backend shows as fewer samples, not a pile-up of connections.
    """

    def __init__(self, *, url: str, rate_per_s: float = 20.0, threads: int = 2, timeout_s: float = 1.0,
                 max_seconds: float = 120.0, max_samples: int = 5_000, fetch: Fetch = checks.fetch,
                 clock: Callable[[], float] = time.monotonic):
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the sampler needs an http(s) URL, got {url!r}")
        if rate_per_s <= 0 or timeout_s <= 0 or max_seconds <= 0 or max_samples <= 0:
            raise ValueError("rate_per_s, timeout_s, max_seconds and max_samples must be positive")
        self.url = url
        self.rate_per_s = min(float(rate_per_s), MAX_RATE_PER_S)
        self.threads = max(1, min(int(threads), MAX_THREADS))
        self.timeout_s = min(float(timeout_s), 10.0)
        self.max_seconds = min(float(max_seconds), MAX_SECONDS)
        self.max_samples = min(int(max_samples), MAX_SAMPLES)
        self._fetch, self._clock = fetch, clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._samples: list[Sample] = []
        self._marks: list[tuple[str, float]] = []
        self._sent = 0
        self._next_slot = 0.0
        self._started: float | None = None
        self._workers: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> "Sampler":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> "Sampler":
        if self._started is not None:
            raise RuntimeError("a Sampler runs once; make a new one")
        self._started = self._clock()
        self._next_slot = self._started
        log.debug("sampling %s at %.1f/s from %d threads", self.url, self.rate_per_s, self.threads)
        for n in range(self.threads):
            worker = threading.Thread(target=self._run, name=f"traffic-sampler-{n}", daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self) -> tuple[Sample, ...]:
        """Stop sending, wait for requests in flight (at most timeout_s), return the samples in time order."""
        self._stop.set()
        for worker in self._workers:
            worker.join(self.timeout_s + 1.0)
        return self.samples

    def wait(self) -> tuple[Sample, ...]:
        """Block until the sampler stops by itself (max_seconds or max_samples)."""
        for worker in self._workers:
            worker.join()
        return self.samples

    @property
    def running(self) -> bool:
        return any(w.is_alive() for w in self._workers)

    # ------------------------------------------------------------------ readings

    def offset(self) -> float:
        """Seconds since start(): the time base of every Sample and mark."""
        if self._started is None:
            return 0.0
        return self._clock() - self._started

    def mark(self, label: str) -> float:
        """Remember that something happened now (e.g. "swap"); returns its offset in seconds."""
        at = self.offset()
        with self._lock:
            self._marks.append((label, at))
        return at

    @property
    def marks(self) -> tuple[tuple[str, float], ...]:
        with self._lock:
            return tuple(self._marks)

    @property
    def samples(self) -> tuple[Sample, ...]:
        with self._lock:
            return tuple(sorted(self._samples, key=lambda s: s.t_offset_s))

    # ------------------------------------------------------------------ the load

    def _claim_slot(self) -> float | None:
        """The monotonic time at which this thread sends its next request, or None when the budget is spent."""
        with self._lock:
            if self._sent >= self.max_samples:
                return None
            now = self._clock()
            slot = max(self._next_slot, now)            # behind schedule: go now, do not burst to catch up
            if slot - self._started >= self.max_seconds:
                return None
            self._next_slot = slot + 1.0 / self.rate_per_s
            self._sent += 1
            return slot

    def _run(self) -> None:
        while not self._stop.is_set():
            slot = self._claim_slot()
            if slot is None:
                return
            delay = slot - self._clock()
            if delay > 0 and self._stop.wait(delay):    # an Event wait: stop() interrupts it at once
                return
            sent_at = self._clock() - self._started
            status, body, _, error = self._fetch(self.url, timeout_s=self.timeout_s)
            sample = parse(t_offset_s=sent_at, status=status, body=body, error=error)
            with self._lock:
                self._samples.append(sample)


# ---------------------------------------------------------------------------------------------- pure


def _key(sample: Sample) -> str:
    return sample.version if sample.ok else FAILED


def failures(samples: Iterable[Sample]) -> int:
    """Requests that got no /version answer: network errors, non-200 statuses, unreadable bodies."""
    return sum(1 for s in samples if not s.ok)


def versions_in_order(samples: Iterable[Sample]) -> list[str]:
    """Every version that answered, in the order each was first seen."""
    seen: dict[str, None] = {}
    for s in sorted(samples, key=lambda s: s.t_offset_s):
        if s.ok:
            seen.setdefault(s.version, None)
    return list(seen)


def shares_over_time(samples: Iterable[Sample], *, bucket_s: float) -> list[tuple[float, dict[str, float]]]:
    """Per time bucket (its start, from 0), the share of requests each version answered; failed requests count
    under FAILED. Shares in a bucket add up to 1; a bucket with no requests has {} (so time stays continuous)."""
    if bucket_s <= 0:
        raise ValueError("bucket_s must be positive")
    ordered = sorted(samples, key=lambda s: s.t_offset_s)
    if not ordered:
        return []
    count = int(max(0.0, ordered[-1].t_offset_s) // bucket_s) + 1
    buckets: list[dict[str, int]] = [{} for _ in range(count)]
    for s in ordered:
        bucket = buckets[int(max(0.0, s.t_offset_s) // bucket_s)]
        bucket[_key(s)] = bucket.get(_key(s), 0) + 1
    out = []
    for n, bucket in enumerate(buckets):
        total = sum(bucket.values())
        out.append((round(n * bucket_s, 6), {k: v / total for k, v in bucket.items()} if total else {}))
    return out


def cutover_seconds(samples: Iterable[Sample], *, version: str, since: float = 0.0) -> float | None:
    """Seconds from `since` until every later response is `version`: the send time of the first request of the
    final unbroken run of `version` answers. None when the last request was not answered by `version` (no
    cut-over yet) or nothing was sent after `since`. A failed request breaks the run."""
    later = [s for s in sorted(samples, key=lambda s: s.t_offset_s) if s.t_offset_s >= since]
    if not later or _key(later[-1]) != version:
        return None
    first = len(later) - 1
    while first > 0 and _key(later[first - 1]) == version:
        first -= 1
    return max(0.0, later[first].t_offset_s - since)


def summary(samples: Iterable[Sample]) -> dict:
    """Counts for a record or a log line: requests, failures, per version and per instance, first/last seen."""
    ordered = sorted(samples, key=lambda s: s.t_offset_s)
    by_version: dict[str, dict] = {}
    by_instance: dict[str, dict] = {}
    errors: dict[str, int] = {}
    for s in ordered:
        if not s.ok:
            errors[s.error or "unknown"] = errors.get(s.error or "unknown", 0) + 1
            continue
        v = by_version.setdefault(s.version, {"requests": 0, "first_s": s.t_offset_s, "last_s": s.t_offset_s})
        v["requests"] += 1
        v["last_s"] = s.t_offset_s
        if s.instance is not None:
            i = by_instance.setdefault(s.instance, {"version": s.version, "requests": 0})
            i["requests"] += 1
            i["version"] = s.version
    duration = ordered[-1].t_offset_s - ordered[0].t_offset_s if len(ordered) > 1 else 0.0
    return {
        "requests": len(ordered),
        "failures": sum(errors.values()),
        "duration_s": round(duration, 3),
        "rate_per_s": round((len(ordered) - 1) / duration, 2) if duration > 0 else None,
        "versions": {k: {**v, "first_s": round(v["first_s"], 3), "last_s": round(v["last_s"], 3)}
                     for k, v in by_version.items()},
        "instances": by_instance,
        "errors": errors,
    }


def describe(samples: Sequence[Sample], *, version: str, since: float = 0.0) -> str:
    """One line for the log: 412 requests, 0 failed, all on 1.3.0 0.4s after the swap."""
    took = cutover_seconds(samples, version=version, since=since)
    done = f"all on {version} {took:.1f}s after the swap" if took is not None else f"not all on {version} yet"
    return f"{len(samples)} requests, {failures(samples)} failed, {done}"

"""The HTML release report, rendered by a real headless Chromium: a realistic record built through the Recorder,
with real cut-over samples from a loopback /version server that switches version mid-run.

The screenshot is decoded with the standard library (zlib + the PNG row filters) and must not be blank: it must
show the cut-over chart's two version colours and, for a failed release, the failure red.

Chromium comes from `BOOTSTRAP_TEST_TOOLS=1 scripts/bootstrap` (Debian's `chromium`); without it, and without
BOOTSTRAP_TEST_TOOLS set, the Chromium tests are skipped with the reason; with it set, a missing Chromium fails.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline import record as record_model
from pipeline import smoke
from pipeline.errors import SmokeFailed
from pipeline.record import Recorder
from pipeline.report import render_html, write_report
from pipeline.report.template import FAIL, FLEET
from pipeline.steps.promote import SwitchResult
from pipeline.steps.smoke import SmokeResult
from tests.fixtures.fakes import Clocks
from tests.unit.test_traffic import sample_a_cutover

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
SHOTS = Path(os.environ.get("REPORT_SCREENSHOT_DIR", ".pipeline/reports/screenshots"))


# ---------------------------------------------------------------------------------------------- a realistic record


@dataclass(frozen=True)
class Baked:
    app_version: str
    image_version: str

    @property
    def summary(self) -> str:
        return f"baked image 1.3.0 from app {self.app_version} (fingerprint 3f9c2a1e, packer 212s)"

    def to_json(self) -> dict:
        return {"step": "bake", "app_version": self.app_version, "image_version": self.image_version,
                "fingerprint": "3f9c2a1e"}


@dataclass(frozen=True)
class Staged:
    @property
    def summary(self) -> str:
        return "staged vmss-hello-1-3-0 (1.3.0) on green: 3 healthy instances in 38s"

    def to_json(self) -> dict:
        return {"step": "stage", "fleet": "vmss-hello-1-3-0", "color": "green", "image_version": "1.3.0",
                "instances": ["0", "1", "2"]}


def smoke_result(*, failing: bool) -> SmokeResult:
    checks = [smoke.Check("health", "/health"), smoke.Check("version", "/version", body_contains="1.3.0"),
              smoke.Check("home", "/", latency_ms=500)]
    targets = [smoke.Target("staging frontend", "http://127.20.0.1:8081")] + \
        [smoke.Target(f"instance {n}", f"http://127.20.0.1:5000{n}") for n in range(3)]
    outcomes = []
    for t in targets:
        for c in checks:
            bad = failing and t.name == "instance 2" and c.name == "version"
            outcomes.append(smoke.Outcome(t, c, 200, 0.003 + 0.001 * len(outcomes),
                                          "body does not contain '1.3.0'" if bad else None))
    return SmokeResult("vmss-hello-1-3-0", "1.3.0", tuple(outcomes), ".pipeline/reports/smoke.xml")


def succeeded_release() -> dict:
    clocks = Clocks(mono=50.0)
    rec = Recorder(environment="local", task="release", app_version="1.3.0", who="alice@build-7",
                   clock=lambda: clocks.wall, monotonic=lambda: clocks.mono)
    with rec.step("bake") as step:
        clocks.advance(214.0)
        step.result = Baked("1.3.0", "1.3.0")
    with rec.step("stage") as step:
        clocks.advance(38.4)
        step.result = Staged()
    with rec.step("smoke") as step:
        clocks.advance(1.2)
        step.result = smoke_result(failing=False)
    with rec.step("promote") as step:
        samples, swap = sample_a_cutover(requests=240, switch_after=90, mix=36, rate_per_s=80.0)
        clocks.advance(samples[-1].t_offset_s + 0.3)
        step.result = SwitchResult("promote", "vmss-hello-1-3-0", "vmss-hello-1-2-0", "1.3.0", "green", False,
                                   ("production rule -> pool-green",), verify_seconds=1.1)
    rec.add_cutover(samples, version="1.3.0", promoted_at_offset=swap, url="http://127.20.0.1:8080/version")
    return json_round_trip(rec.finish(exit_code=0))


def failed_release() -> dict:
    clocks = Clocks(mono=50.0)
    rec = Recorder(environment="local", task="release", app_version="1.3.0", who="alice@build-8",
                   clock=lambda: clocks.wall, monotonic=lambda: clocks.mono)
    with rec.step("bake") as step:
        clocks.advance(3.1)
        step.result = Baked("1.3.0", "1.3.0")
    with rec.step("stage") as step:
        clocks.advance(41.0)
        step.result = Staged()
    try:
        with rec.step("smoke"):
            clocks.advance(1.4)
            result = smoke_result(failing=True)
            err = SmokeFailed(f"{result.summary}; fix the app and stage a new version",
                              details=["instance 2 http://127.20.0.1:50002/version: body does not contain '1.3.0'"])
            err.result = result
            raise err
    except SmokeFailed as err:
        return json_round_trip(rec.finish(error=err))
    raise AssertionError("smoke should have failed")


def json_round_trip(data: dict) -> dict:
    import json

    return record_model.validate(json.loads(json.dumps(data)))


# ---------------------------------------------------------------------------------------------- the HTML itself


def test_the_page_is_self_contained_and_has_every_part():
    record = succeeded_release()
    html = render_html(record)
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script|<link|src=|url\(|@import|https?://(?!127\.)", html)   # nothing fetched
    assert 'class="badge succeeded"' in html and "SUCCEEDED" in html
    assert 'id="timeline"' in html and html.count('<g class="step') == 4
    assert '<table class="smoke">' in html and html.count('<td class="pass">') == 12
    assert 'id="cutover"' in html and '<svg class="cutover"' in html
    assert 'class="swap"' in html and 'class="done"' in html
    assert "1.2.0 → 1.3.0" in html
    assert 'id="failure"' not in html
    assert html.count('class="req"') == 240         # one tick per sampled request, none failed
    assert FLEET["green"] in html and FLEET["blue"] in html   # promoted to green: 1.3.0 is drawn green


def test_a_failed_release_without_a_cutover_leads_with_the_failure():
    html = render_html(failed_release())
    assert 'class="badge failed"' in html and "FAILED" in html
    failure = html.index('id="failure"')
    assert failure < html.index('id="timeline"')
    assert "Failed in smoke: SmokeFailed" in html and "body does not contain &#x27;1.3.0&#x27;" in html
    assert html.count('<td class="fail">') == 1
    assert "No cut-over: the run stopped before production was switched." in html
    assert '<svg class="cutover"' not in html


def test_a_nearly_empty_record_still_renders():
    html = render_html({"schema": record_model.SCHEMA, "environment": "local", "task": "promote", "steps": []})
    assert "RUNNING" in html and "No steps recorded." in html and "No smoke checks in this run." in html


def test_text_is_escaped():
    record = {**failed_release(), "who": "<script>alert(1)</script>"}
    assert "<script>" not in render_html(record)


# ---------------------------------------------------------------------------------------------- in Chromium


def chromium() -> str:
    for name in (os.environ.get("CHROMIUM"), *CHROMIUM_NAMES):
        found = name and shutil.which(name)
        if found:
            return found
    if os.environ.get("BOOTSTRAP_TEST_TOOLS") == "1":
        pytest.fail("BOOTSTRAP_TEST_TOOLS=1 but no chromium on PATH: run `BOOTSTRAP_TEST_TOOLS=1 scripts/bootstrap`")
    pytest.skip("chromium is not installed (install it with `BOOTSTRAP_TEST_TOOLS=1 scripts/bootstrap`)")


def screenshot(html_file: Path, png: Path, *, profile: Path) -> Path:
    profile.mkdir(parents=True, exist_ok=True)
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", f"--user-data-dir={profile}", f"--screenshot={png}", "--window-size=1280,2000",
               html_file.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert png.is_file() and png.stat().st_size > 0, f"chromium wrote no screenshot:\n{done.stderr[-2000:]}"
    return png


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA, non-interlaced PNG, stdlib only."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, f"unexpected PNG format {header}"
    bpp = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows, previous = [], bytes(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + previous[i]) // 2) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = previous[i], previous[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        previous = rows[-1]
    return width, height, [r if bpp == 3 else bytes(b for n, b in enumerate(r) if n % 4 != 3) for r in rows]


def colour_counts(rows: list[bytes]) -> dict[tuple[int, int, int], int]:
    counts: dict[tuple[int, int, int], int] = {}
    for row in rows[::2]:                       # every other row is plenty
        for i in range(0, len(row), 6):         # every other pixel
            key = (row[i], row[i + 1], row[i + 2])
            counts[key] = counts.get(key, 0) + 1
    return counts


def pixels_near(counts: dict, hex_colour: str, *, tolerance: int = 6) -> int:
    want = tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return sum(n for c, n in counts.items() if all(abs(a - b) <= tolerance for a, b in zip(c, want)))


@pytest.fixture
def shots(tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    return tmp_path


def test_chromium_renders_the_succeeded_release(shots):
    record = succeeded_release()
    page = write_report(record, SHOTS / "release-succeeded.html")
    png = screenshot(page, SHOTS / "release-succeeded.png", profile=shots / "profile")
    width, height, rows = decode_png(png.read_bytes())
    assert (width, height) == (1280, 2000)
    counts = colour_counts(rows)
    assert len(counts) > 50, "the screenshot is (nearly) blank"
    background = max(counts.values())
    assert background < 0.9 * sum(counts.values()), "one colour fills the screenshot"
    # the cut-over chart drew both versions: 1.2.0 on the blue fleet, 1.3.0 on the green one
    assert pixels_near(counts, FLEET["blue"]) > 2_000 and pixels_near(counts, FLEET["green"]) > 2_000
    assert pixels_near(counts, FAIL) < 200          # nothing failed: no failure panel


def test_chromium_renders_the_failed_release(shots):
    page = write_report(failed_release(), SHOTS / "release-failed.html")
    png = screenshot(page, SHOTS / "release-failed.png", profile=shots / "profile")
    _, _, rows = decode_png(png.read_bytes())
    counts = colour_counts(rows)
    assert len(counts) > 50, "the screenshot is (nearly) blank"
    assert pixels_near(counts, FAIL) > 300            # the red of the badge, the failure panel, the failed cell
    assert pixels_near(counts, FLEET["green"]) < 50   # no cut-over chart

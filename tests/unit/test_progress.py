"""Progress output on a fake stream with a hand-driven clock: plain log lines off a terminal, one rewritten line
on one. Nothing sleeps; tick() stands in for the background ticker."""

from __future__ import annotations

import io

from pipeline.progress import Progress
from tests.fixtures.fakes import Clocks


def log_progress(**kwargs):
    clock, stream = Clocks(mono=500.0), io.StringIO()
    return Progress(stream=stream, is_tty=False, interval_s=10, clock=clock.monotonic, **kwargs), clock, stream


def test_off_a_terminal_a_line_is_printed_when_the_message_changes():
    progress, clock, stream = log_progress()
    progress.update("creating vmss-1 (3 instances)")
    clock.advance(2)
    progress.update("creating vmss-1 (3 instances)")        # same: nothing yet
    clock.advance(1.5)
    progress.update("vmss-1: 1/3 healthy")
    assert stream.getvalue().splitlines() == ["[    0.0s] creating vmss-1 (3 instances)",
                                              "[    3.5s] vmss-1: 1/3 healthy"]


def test_off_a_terminal_a_repeated_message_is_printed_again_every_interval():
    progress, clock, stream = log_progress()
    progress.update("waiting for packer")
    for _ in range(25):                                   # a poll every second for 25 s
        clock.advance(1)
        progress.update("waiting for packer")
    assert stream.getvalue().splitlines() == ["[    0.0s] waiting for packer",
                                              "[   10.0s] waiting for packer (still, 10s)",
                                              "[   20.0s] waiting for packer (still, 20s)"]


def test_tick_reminds_of_a_stale_message_without_an_update():
    progress, clock, stream = log_progress()
    progress.tick()                                       # nothing to say yet
    progress.update("bake: building")
    clock.advance(9)
    progress.tick()
    clock.advance(1)
    progress.tick()
    assert stream.getvalue().splitlines()[-1] == "[   10.0s] bake: building (still, 10s)"


def test_line_is_always_printed_and_messages_become_one_line():
    progress, clock, stream = log_progress()
    progress.line("== bake")
    progress.line("== bake")
    progress("multi\nline   message")                     # the callable form is update()
    assert stream.getvalue().splitlines() == ["[    0.0s] == bake", "[    0.0s] == bake",
                                              "[    0.0s] multi line message"]


def test_no_terminal_control_codes_in_a_log():
    progress, clock, stream = log_progress()
    for n in range(3):
        progress.update(f"step {n}")
        clock.advance(11)
        progress.tick()
    progress.close()
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()


def test_on_a_terminal_the_live_line_is_rewritten_and_left_behind_when_the_message_changes():
    clock, stream = Clocks(mono=500.0), io.StringIO()
    progress = Progress(stream=stream, is_tty=True, clock=clock.monotonic, width=80)
    progress.update("vmss-1: 0/3 healthy")
    clock.advance(4)
    progress.tick()
    clock.advance(3)
    progress.update("vmss-1: 3/3 healthy")
    progress.close()
    out = stream.getvalue()
    frames = out.split("\r\x1b[2K")[1:]
    assert frames[0].startswith("[    0.0s] vmss-1: 0/3 healthy") and frames[0].endswith(" 0s")
    assert frames[1].startswith("[    4.0s] vmss-1: 0/3 healthy") and frames[1].endswith(" 4s")
    assert frames[2] == "[    7.0s] vmss-1: 0/3 healthy (7s)\n"          # kept above, with the time it took
    assert frames[-1] == "[    7.0s] vmss-1: 3/3 healthy\n"              # close() leaves the last one in place
    assert out.endswith("\n") and out.count("\n") == 2


def test_on_a_terminal_the_live_line_fits_the_width_and_lines_go_above_it():
    clock, stream = Clocks(mono=500.0), io.StringIO()
    progress = Progress(stream=stream, is_tty=True, clock=clock.monotonic, width=40)
    progress.update("x" * 200)
    progress.line("an event")
    frames = stream.getvalue().split("\r\x1b[2K")[1:]
    assert all(len(f) < 40 for f in frames if not f.endswith("\n"))
    assert frames[1] == "[    0.0s] an event\n" and frames[2].startswith("[    0.0s] xxx")


def test_the_with_block_runs_and_stops_a_ticker():
    progress, clock, stream = log_progress(tick_s=0.01)
    with progress as p:
        p.update("working")
        assert progress._ticker.is_alive()
    assert not progress._ticker.is_alive()


def test_a_closed_stream_does_not_raise():
    stream = io.StringIO()
    progress = Progress(stream=stream, is_tty=False)
    stream.close()
    progress.update("still fine")
    progress.line("still fine")


def test_is_tty_is_detected_from_the_stream():
    assert Progress(stream=io.StringIO()).is_tty is False

    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert Progress(stream=Tty()).is_tty is True

"""Progress for long waits (bake, provisioning, health) that reads well on a terminal and in a CI log.

    with Progress() as progress:                  # stderr; a terminal or not is detected
        bake(ctx, ..., progress=progress)         # a Progress is a `progress: Callable[[str], None]`
        progress.line("bake done")                # always printed, on its own line

`update(message)`, which is also what calling the object does (`__call__ = update`), reports the current state:

- on a terminal, the latest message is the one live line at the bottom, rewritten in place with the time spent
  on it (`[  41.2s] stage: 2/3 healthy  / 12s`). A different message leaves the previous one above it, with the
  time it took, so nothing a step says scrolls away unseen; repeating the same message only refreshes the line.
- elsewhere (Jenkins, GitHub Actions, a pipe), plain lines `[  41.2s] message`, printed when the message
  changes, and when the same message is repeated after `interval_s` as `... (still, 20s)`: a log that shows
  it is alive without one line per poll.

`[  41.2s]` is the time since the Progress was made, as in pipeline.cli.progress. Inside a `with` block a
background ticker refreshes the live line every second on a terminal and repeats a stale message every
`interval_s` elsewhere, so a silent wait (Packer building, a fleet booting) still shows its elapsed time.
Without `with`, nothing runs in the background: output happens only when update(), line() or tick() is called.
The clock is injectable (`clock=`); tests drive `tick()` by hand.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from typing import Callable, TextIO

SPINNER = "|/-\\"


class Progress:
    def __init__(self, *, stream: TextIO | None = None, is_tty: bool | None = None, interval_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic, width: int | None = None, tick_s: float = 1.0):
        self.stream = stream if stream is not None else sys.stderr
        if is_tty is None:
            isatty = getattr(self.stream, "isatty", None)
            is_tty = bool(isatty()) if callable(isatty) else False
        self.is_tty = is_tty
        self.interval_s = interval_s
        self._clock = clock
        self._width = width
        self._tick_s = tick_s
        self._started = clock()
        self._lock = threading.RLock()
        self._message: str | None = None     # the current update() message
        self._since = self._started           # when it became current
        self._printed_at = self._started      # when it was last printed (non-terminal)
        self._live = False                    # a live line is on screen (terminal)
        self._frame = 0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # ------------------------------------------------------------------ the API

    def update(self, message: str) -> None:
        """The current state of a long wait (see the module docstring for what is printed when)."""
        message = " ".join(str(message).split())      # one line, always
        with self._lock:
            now = self._clock()
            if message != self._message:
                if self.is_tty and self._live and self._message is not None:
                    self._write("\r\x1b[2K" + self._stamp(now) + self._message + self._took(now) + "\n")
                    self._live = False
                self._message, self._since, self._printed_at = message, now, now
                if not self.is_tty:
                    self._write(self._stamp(now) + message + "\n")
            elif not self.is_tty:
                self._remind(now)
            if self.is_tty:
                self._paint(now)

    __call__ = update

    def line(self, message: str) -> None:
        """Always printed on its own line (an event, a result); on a terminal the live line stays below it."""
        with self._lock:
            now = self._clock()
            if self.is_tty:
                self._write("\r\x1b[2K" + self._stamp(now) + str(message) + "\n")
                self._live = False
                if self._message is not None:
                    self._paint(now)
            else:
                self._write(self._stamp(now) + str(message) + "\n")

    def tick(self) -> None:
        """Time passed: refresh the live line (terminal) or repeat a stale message after interval_s (log)."""
        with self._lock:
            if self._message is None:
                return
            now = self._clock()
            if self.is_tty:
                self._paint(now)
            else:
                self._remind(now)

    def close(self) -> None:
        """Stop the ticker; on a terminal, leave the live line in place as a finished line."""
        self._stop.set()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join(2.0)
        with self._lock:
            if self.is_tty and self._live and self._message is not None:
                now = self._clock()
                self._write("\r\x1b[2K" + self._stamp(now) + self._message + self._took(now) + "\n")
                self._live = False

    def __enter__(self) -> "Progress":
        every = self._tick_s if self.is_tty else max(self._tick_s, self.interval_s / 2)
        self._ticker = threading.Thread(target=self._tick_until_closed, args=(every,), name="progress-ticker",
                                        daemon=True)
        self._ticker.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def elapsed(self) -> float:
        return self._clock() - self._started

    # ------------------------------------------------------------------ drawing

    def _tick_until_closed(self, every: float) -> None:
        while not self._stop.wait(every):     # an Event wait: close() ends it at once
            self.tick()

    def _stamp(self, now: float) -> str:
        return f"[{now - self._started:7.1f}s] "

    def _took(self, now: float) -> str:
        spent = now - self._since
        return f" ({spent:.0f}s)" if spent >= 1 else ""

    def _remind(self, now: float) -> None:
        if self._message is not None and now - self._printed_at >= self.interval_s:
            self._write(f"{self._stamp(now)}{self._message} (still, {now - self._since:.0f}s)\n")
            self._printed_at = now

    def _paint(self, now: float) -> None:
        spent = now - self._since
        self._frame = (self._frame + 1) % len(SPINNER)
        tail = f"  {SPINNER[self._frame]} {spent:.0f}s"
        width = self._width or shutil.get_terminal_size(fallback=(100, 24)).columns
        head = self._stamp(now) + (self._message or "")
        room = max(10, width - 1 - len(tail))
        if len(head) > room:
            head = head[:room - 1] + "…"
        self._write("\r\x1b[2K" + head + tail)
        self._live = True

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):     # a closed pipe or stream must not fail the release
            pass

"""Throttled progress lines for long transfers: one line every few seconds, never one per chunk."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

_MIB = 1024 * 1024


def format_bytes(size: int) -> str:
    """``1.5 MiB``-style size for log lines."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover - loop always returns


class ProgressReporter:
    """Logs how far a byte stream got: position, percent when the total is known, and throughput.

    ``advance`` is cheap (one clock read); a line is logged at most every ``interval`` seconds.
    ``seek`` moves the position without counting bytes (resume or restart); ``finish`` logs the last line.
    """

    def __init__(
        self,
        log: logging.Logger,
        description: str = "report",
        *,
        interval: float = 5.0,
        total: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.description = description
        self.interval = interval
        self.total = total
        self.position = 0
        self.moved = 0
        self._clock = clock
        self._started = clock()
        self._next_line = self._started + interval

    def advance(self, nbytes: int) -> None:
        """Count ``nbytes`` more received bytes and log a line when the interval has passed."""
        self.position += nbytes
        self.moved += nbytes
        now = self._clock()
        if now >= self._next_line:
            self._next_line = now + self.interval
            self.log.info("%s: %s", self.description, self.describe(now))

    def seek(self, position: int) -> None:
        """Set the position after a resume (same offset) or a restart (0)."""
        self.position = position

    def finish(self, written: int | None = None) -> None:
        """Log the final line; ``written`` is what reached the destination when it differs (compression)."""
        line = self.describe(self._clock(), final=True)
        if written is not None and written != self.position:
            line += f", {format_bytes(written)} written"
        self.log.info("%s: %s", self.description, line)

    @property
    def elapsed(self) -> float:
        """Seconds since the reporter started."""
        return max(self._clock() - self._started, 0.0)

    def describe(self, now: float, *, final: bool = False) -> str:
        """``12.0 MiB of 40.0 MiB (30.0%) at 5.2 MiB/s``."""
        elapsed = max(now - self._started, 1e-9)
        text = f"{'done, ' if final else ''}{format_bytes(self.position)}"
        if self.total:
            text += f" of {format_bytes(self.total)} ({100.0 * self.position / self.total:.1f}%)"
        return f"{text} at {self.moved / _MIB / elapsed:.2f} MiB/s in {elapsed:.1f} s"

"""Progress lines for long work: done / total, rate and ETA, at most every few seconds."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("adagrpo.progress")


class Progress:
    def __init__(
        self, label: str, total: int | None = None, unit: str = "rows", every_s: float = 5.0
    ):
        self.label, self.total, self.unit, self.every_s = label, total, unit, every_s
        self.done = 0
        self.started = self._last = time.perf_counter()

    def advance(self, amount: int) -> None:
        self.done += amount
        now = time.perf_counter()
        if now - self._last >= self.every_s:
            self._last = now
            log.info(self._line(now))

    def finish(self) -> float:
        """Log the final line and return the rate in units per second."""
        now = time.perf_counter()
        log.info(self._line(now))
        return self.rate(now)

    def rate(self, now: float | None = None) -> float:
        elapsed = (now or time.perf_counter()) - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def _line(self, now: float) -> str:
        rate = self.rate(now)
        line = f"{self.label}: {self.done:,} {self.unit}"
        if self.total:
            line += f" / {self.total:,} ({100 * self.done / self.total:.0f}%)"
            if rate > 0:
                line += f", ETA {(self.total - self.done) / rate:.0f}s"
        return f"{line}, {rate:,.0f} {self.unit}/s"

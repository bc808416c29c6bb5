"""Progress of long work: a bar redrawn in place on a terminal, one line per unit otherwise
(cron mail, journald and CI logs would fill with carriage returns)."""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

__all__ = ["Progress"]

logger = logging.getLogger("safer")
_WIDTH = 30


class Progress:
    """``step(line)`` after each of ``total`` units; ``done()`` at the end."""

    def __init__(self, total: int, what: str, stream: TextIO | None = None) -> None:
        self.total, self.what = total, what
        self.stream = stream or sys.stderr
        self.count = 0
        self.started = time.perf_counter()
        self.tty = self.stream.isatty()

    def step(self, line: str) -> None:
        self.count += 1
        if not self.tty:
            logger.info("%s [%d/%d]", line, self.count, self.total)
            return
        filled = _WIDTH * self.count // max(self.total, 1)
        elapsed = time.perf_counter() - self.started
        bar = "#" * filled + "." * (_WIDTH - filled)
        self.stream.write(
            f"\r{self.what} [{bar}] {self.count}/{self.total}  {elapsed:,.0f}s  {line[:60]:<60}"
        )
        self.stream.flush()

    def done(self, summary: str) -> None:
        if self.tty:
            self.stream.write("\n")
        logger.info("%s", summary)

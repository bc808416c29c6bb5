"""A stop request (SIGTERM, SIGINT) noted, not acted on mid-unit: the run checks between units.

Each file of a source is loaded in one transaction, so stopping between files leaves every
table consistent; what was not done is done by the next run.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

__all__ = ["clear", "install", "request", "requested"]

logger = logging.getLogger(__name__)
_STOP = threading.Event()


def install() -> None:
    """Note SIGTERM and SIGINT instead of dying; a second SIGINT still interrupts at once."""
    signal.signal(signal.SIGTERM, _handle)
    signal.signal(signal.SIGINT, _handle)


def _handle(signum: int, frame: FrameType | None) -> None:
    if _STOP.is_set() and signum == signal.SIGINT:
        raise KeyboardInterrupt
    logger.warning(
        "%s received: finishing the current unit, then stopping", signal.Signals(signum).name
    )
    _STOP.set()


def request() -> None:
    _STOP.set()


def requested() -> bool:
    return _STOP.is_set()


def clear() -> None:
    _STOP.clear()

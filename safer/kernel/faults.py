"""Kill points: places in a run where the crash tests (``tests/test_crash.py``) SIGKILL it.

``point(name)`` does nothing unless ``SAFER_KILL_AT`` is set to ``name`` or ``name:N``; then,
the first (or the N-th) time the process reaches that point, it flushes its output, writes one
line to standard error and kills itself with SIGKILL: no ``finally``, no ``atexit``, no
``COMMIT``, as when the machine's OOM killer or an operator's ``kill -9`` stops a run. With
``SAFER_FAULTS_LOG=FILE`` every point reached is appended to FILE instead, so a test can prove
each documented point is still on the path a run takes. The variables are read once, at import:
in production a point costs one global lookup.

The points, in the order a run reaches them (``POINTS``; a test fails if one is not reached):

- ``download.written``: a file is fully fetched (HTTP or a local folder), not yet renamed into
  ``landing/`` (``pipelines/landing.py``).
- ``batch.staged``: the file is staged in its own DuckDB file, before its checks
  (``safer/app/batch.py``).
- ``batch.checked``: the checks have run, before the batch is promoted or quarantined.
- ``promote.deleted``: inside the promote transaction, the period's old rows deleted and the
  new ones not yet inserted (``pipelines/police_uk.py``, ``pipelines/call_handling.py``):
  proves the rollback.
- ``promote.recorded``: inside the promote transaction (``safer/app/promotion.py``), rows,
  ledger and ``source_periods`` written, not yet committed.
- ``promote.committed``: the promotion committed, before the staged file is removed and the
  next file is fetched.
- ``evaluations.store``: an indicator's evaluations computed, not yet stored
  (``indicators/measure.py``).
- ``digest.rendered``: a recipient's digest built and rendered, not yet stored
  (``alerts/deliver.py``).
- ``digest.stored``: a recipient's digest stored (outbox, ledger, ``.eml``), before the next
  recipient's is built and before any is sent.
- ``smtp.sending``: ``sending`` committed for an attempt, before the message goes to SMTP.
- ``smtp.accepted``: the SMTP server accepted the message, before ``sent`` is recorded.
- ``run.finishing``: everything done, before the run's row is closed (``safer/app/job.py``).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections import Counter
from typing import Final

__all__ = ["POINTS", "point"]

POINTS: Final = (
    "download.written",
    "batch.staged",
    "batch.checked",
    "promote.deleted",
    "promote.recorded",
    "promote.committed",
    "evaluations.store",
    "digest.rendered",
    "digest.stored",
    "smtp.sending",
    "smtp.accepted",
    "run.finishing",
)


def _armed(spec: str) -> tuple[str, int] | None:
    """``name`` or ``name:N`` as (name, N); None when unset. An unknown name is refused, so a
    test that misspells one fails loudly instead of never killing."""
    if not spec:
        return None
    name, _, count = spec.partition(":")
    if name not in POINTS:
        raise ValueError(f"SAFER_KILL_AT={spec!r}: no such kill point (known: {', '.join(POINTS)})")
    times = int(count) if count else 1
    if times < 1:
        raise ValueError(f"SAFER_KILL_AT={spec!r}: N counts from 1")
    return name, times


_KILL: Final = _armed(os.environ.get("SAFER_KILL_AT", ""))
_LOG: Final = os.environ.get("SAFER_FAULTS_LOG") or None
_ACTIVE: Final = _KILL is not None or _LOG is not None
_reached: Counter[str] = Counter()


def point(name: str) -> None:
    """A place where a run may be killed; a no-op unless a crash test armed it."""
    if _ACTIVE:
        _reach(name)


def _reach(name: str) -> None:
    _reached[name] += 1
    if _LOG is not None:
        with open(_LOG, "a", encoding="utf-8") as out:
            out.write(f"{name}\n")
    if _KILL is not None and _KILL == (name, _reached[name]):
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stdout.flush()
        sys.stderr.write(f"safer.faults: SIGKILL at {name}:{_reached[name]}\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)

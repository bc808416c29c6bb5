"""One run at a time: an exclusive lock on ``{data_dir}/safer.lock``.

The lock is an ``flock`` on the file, so the kernel releases it the moment its holder dies, even
by SIGKILL: a killed run can never block the next one. The file also records who holds the lock
(pid, host, command, start time), so a second run can say who it is waiting on, and the next run
after a killed one can say what it cleared. A run that finds the lock held does nothing and exits
with ``ExitCode.BUSY``; the scheduler skips that firing the same way.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from safer.kernel.errors import SaferError

__all__ = ["Busy", "Holder", "LOCK_NAME", "held_by", "run_lock"]

logger = logging.getLogger(__name__)

LOCK_NAME = "safer.lock"


class Busy(SaferError):
    """Another run holds the lock; nothing was done."""


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    command: str
    started_at: str

    @property
    def alive(self) -> bool:
        """Whether the holder is a live process on this host (another host: assume it is)."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} ({self.command}, since {self.started_at})"


@contextmanager
def run_lock(data_dir: Path, command: str, now: dt.datetime) -> Iterator[Holder]:
    """Hold the lock for the ``with`` block; raises Busy naming the holder if it is taken."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    handle = path.open("a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(handle)
            who = holder.describe() if holder else "another process"
            raise Busy(
                f"{path}: another safer run holds the lock ({who}); nothing was done"
            ) from None
        _clear_stale(path, handle)
        me = Holder(os.getpid(), socket.gethostname(), command, now.isoformat(timespec="seconds"))
        _write(handle, me)
        try:
            yield me
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
    finally:
        handle.close()  # closing the descriptor releases the flock


def held_by(data_dir: Path) -> Holder | None:
    """Who holds the lock now, or None when nobody does (for ``safer status``)."""
    path = data_dir / LOCK_NAME
    if not path.exists():
        return None
    with path.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(handle)
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return None


def _clear_stale(path: Path, handle: IO[str]) -> None:
    """The lock was free, so whoever the file names is gone: say so, once."""
    stale = _read(handle)
    if stale is not None:
        state = "is not running" if not stale.alive else "no longer holds it"
        logger.warning(
            "%s: cleared a stale lock left by %s, which %s (it was stopped or killed "
            "mid-run; the ledger shows what it finished)",
            path,
            stale.describe(),
            state,
        )


def _read(handle: IO[str]) -> Holder | None:
    handle.seek(0)
    text = handle.read().strip()
    if not text:
        return None
    try:
        data: Any = json.loads(text)
        return Holder(int(data["pid"]), str(data["host"]), str(data["command"]), str(data["at"]))
    except (ValueError, KeyError, TypeError):
        return None


def _write(handle: IO[str], holder: Holder) -> None:
    handle.seek(0)
    handle.truncate()
    record = {
        "pid": holder.pid,
        "host": holder.host,
        "command": holder.command,
        "at": holder.started_at,
    }
    handle.write(json.dumps(record))
    handle.flush()
    os.fsync(handle.fileno())

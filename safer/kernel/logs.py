"""Logging for the ``safer`` command: human lines on a terminal, JSON lines otherwise (cron mail,
journald, a container's log driver), and never a secret.

Configured only here, once per process; every module logs through ``logging.getLogger``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Callable, Iterable
from typing import TextIO

__all__ = ["configure_logging", "printable", "redact", "reset_logging"]

_HUMAN = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "[redacted]"


class _JsonLines(logging.Formatter):
    """One JSON object per line: time (UTC, ISO), level, logger, message, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _redacting_factory(secrets: tuple[str, ...]) -> Callable[..., logging.LogRecord]:
    """A record factory that strips every secret from a record as it is made, before any
    handler (a test's, journald's, ours) sees it: the message, its arguments, its traceback."""
    current = logging.getLogRecordFactory()
    make = getattr(current, "safer_inner", current)  # configured again: wrap the original once

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make(*args, **kwargs)
        if not secrets:
            return record
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, None
        record.msg, record.args = redact(message, secrets), None
        return record

    factory.safer_inner = make  # type: ignore[attr-defined]
    return factory


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters (a file name from a source can carry
    an escape sequence that rewrites the operator's screen) shown as ``\\x1b``, ``\\n``."""
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted, not when it was made, so a
    stream replaced since (by a test harness, a daemon's redirect) is never written after it
    closed."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        """The stream is always the current standard error."""


def _quiet_gx(record: logging.LogRecord) -> bool:
    """GX logs every expectation's defaults at INFO; only its warnings matter to an operator."""
    return record.levelno >= logging.WARNING or not record.name.startswith("great_expectations")


def configure_logging(
    stream: TextIO | None = None, *, json_lines: bool | None = None, secrets: Iterable[str] = ()
) -> None:
    """Log INFO and above to ``stream`` (standard error); JSON unless it is a terminal."""
    out = stream or sys.stderr
    use_json = not out.isatty() if json_lines is None else json_lines
    handler: logging.Handler = _Stderr() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(_JsonLines() if use_json else logging.Formatter(_HUMAN))
    handler.addFilter(_quiet_gx)
    logging.setLogRecordFactory(_redacting_factory(tuple(s for s in secrets if s)))
    root = logging.getLogger()
    global _INSTALLED
    if _INSTALLED is not None:
        root.removeHandler(_INSTALLED)  # ours only: a test harness's handlers stay
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    _INSTALLED = handler


_INSTALLED: logging.Handler | None = None


def reset_logging() -> None:
    """Undo ``configure_logging`` (for tests that call ``main`` in-process)."""
    global _INSTALLED
    if _INSTALLED is not None:
        logging.getLogger().removeHandler(_INSTALLED)
        _INSTALLED = None
    factory = logging.getLogRecordFactory()
    logging.setLogRecordFactory(getattr(factory, "safer_inner", factory))

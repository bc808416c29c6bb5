"""Errors safer raises, mapped from third-party errors at each boundary.

SaferError
├── ConfigError        a config, catalogue or plan file is invalid (names file and key)
├── FetchError         a source could not be fetched; ``transient`` says if a retry may help
├── LoadError          a landed file could not be staged or promoted (names file, row, field)
├── LocalFault         our own files could not be written or read (a full, read-only or failing
│                      disk): the job's fault, never the source's, so never a quarantine
├── CheckError         the check engine itself failed (not a data failure)
├── QuarantineError    an operator's quarantine command was refused (unknown, released, stale)
├── SendError          a digest could not be handed to SMTP; ``transient`` as for FetchError
└── DigestError        a ``safer digest`` command was refused (unknown run or recipient)
"""

from __future__ import annotations

__all__ = [
    "CheckError",
    "ConfigError",
    "DigestError",
    "FetchError",
    "LoadError",
    "LocalFault",
    "QuarantineError",
    "SaferError",
    "SendError",
]


class SaferError(Exception):
    """Base of every error safer raises on purpose."""


class ConfigError(SaferError):
    """A configuration, catalogue or plan file is invalid."""


class FetchError(SaferError):
    """A source could not be fetched."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class LoadError(SaferError):
    """A landed file could not be staged or promoted."""


class LocalFault(SaferError):
    """Writing or reading our own files failed (ENOSPC, EROFS, EIO): not what the source sent."""


class CheckError(SaferError):
    """The check engine failed to evaluate a suite (distinct from data failing a check)."""


class QuarantineError(SaferError):
    """A quarantined batch cannot be shown or released as asked; nothing was changed."""


class SendError(SaferError):
    """A digest could not be delivered over SMTP."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class DigestError(SaferError):
    """A ``safer digest`` preview or resend cannot be done as asked; nothing was sent."""

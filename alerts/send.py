"""The one module that speaks SMTP: hand one message to the configured server.

Failures are classified by whether a later attempt may succeed: a 4xx reply, a timeout, a
dropped connection or a server that is down is temporary (retried, then left pending); a 5xx
reply is permanent (a refused login too: retrying a wrong password only risks a lockout). Once
the server has accepted the message, a failure while saying goodbye is not a failure: the
message is delivered. The password is never logged or put in an error message.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from safer.config import SmtpConfig
from safer.errors import SendError

__all__ = ["send_message"]


def send_message(config: SmtpConfig, password: str | None, message: EmailMessage) -> None:
    """Send ``message``; raises SendError (``transient`` when a later attempt may succeed)."""
    where = f"SMTP {config.host}:{config.port}"
    try:
        smtp = _connect(config)
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"{where}: cannot connect: {_describe(exc)}", transient=True) from exc
    try:
        refused = _hand_over(smtp, config, password, message)
    except smtplib.SMTPAuthenticationError as exc:
        raise SendError(
            f"{where}: login refused for {config.user}: {exc.smtp_code}",
            transient=_temporary(exc.smtp_code),
        ) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise SendError(
            f"{where}: recipient refused: {_codes(exc.recipients)}",
            transient=all(_temporary(code) for code, _ in exc.recipients.values()),
        ) from exc
    except smtplib.SMTPResponseException as exc:
        raise SendError(
            f"{where}: {exc.smtp_code} {_text(exc.smtp_error)}",
            transient=_temporary(exc.smtp_code),
        ) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"{where}: {_describe(exc)}", transient=True) from exc
    finally:
        _close(smtp)
    if refused:
        raise SendError(f"{where}: some recipients refused: {_codes(refused)}", transient=False)


def _hand_over(
    smtp: smtplib.SMTP, config: SmtpConfig, password: str | None, message: EmailMessage
) -> dict[str, tuple[int, bytes]]:
    if config.security == "starttls":
        smtp.starttls(context=ssl.create_default_context())
    if config.user:
        smtp.login(config.user, password or "")
    return smtp.send_message(message)


def _close(smtp: smtplib.SMTP) -> None:
    """QUIT, tolerating a server that drops or stalls: what it accepted stays accepted."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    if config.security == "ssl":
        return smtplib.SMTP_SSL(
            config.host,
            config.port,
            timeout=config.timeout_seconds,
            context=ssl.create_default_context(),
        )
    return smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)


def _temporary(code: int) -> bool:
    return 400 <= code < 500


def _text(error: bytes | str) -> str:
    return error.decode(errors="replace") if isinstance(error, bytes) else str(error)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _codes(recipients: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(f"{address} ({code})" for address, (code, _) in recipients.items())

"""The one module that speaks SMTP: hand one message to the configured server.

Failures are classified: a 4xx reply, a timeout or a dropped connection is temporary (the digest
stays pending and is retried); a 5xx reply or a refused login is permanent. The password is
never logged or put in an error message.
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
        with _connect(config) as smtp:
            if config.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if config.user:
                smtp.login(config.user, password or "")
            refused = smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise SendError(
            f"{where}: login refused for {config.user}: {exc.smtp_code}", transient=False
        ) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise SendError(
            f"{where}: recipient refused: {_codes(exc.recipients)}",
            transient=_all_temporary(exc.recipients),
        ) from exc
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        raise SendError(
            f"{where}: {exc.smtp_code} {text}", transient=400 <= exc.smtp_code < 500
        ) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"{where}: {type(exc).__name__}: {exc}", transient=True) from exc
    if refused:
        raise SendError(f"{where}: some recipients refused: {_codes(refused)}", transient=False)


def _connect(config: SmtpConfig) -> smtplib.SMTP:
    if config.security == "ssl":
        return smtplib.SMTP_SSL(
            config.host,
            config.port,
            timeout=config.timeout_seconds,
            context=ssl.create_default_context(),
        )
    return smtplib.SMTP(config.host, config.port, timeout=config.timeout_seconds)


def _codes(recipients: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(f"{address} ({code})" for address, (code, _) in recipients.items())


def _all_temporary(recipients: dict[str, tuple[int, bytes]]) -> bool:
    return all(400 <= code < 500 for code, _ in recipients.values())

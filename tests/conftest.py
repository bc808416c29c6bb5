"""Shared fixtures: real data files, a fixed clock, config files and a real SMTP server."""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import os
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
STREET = ROOT / "data" / "police-uk" / "street"


def street_bytes(month: str) -> bytes:
    """The real published street CSV for ``month`` (Cheshire), as bytes."""
    return gzip.decompress((STREET / f"{month}-cheshire-street.csv.gz").read_bytes())


@pytest.fixture(autouse=True)
def _logging_as_found() -> Iterator[None]:
    """A test that runs ``main`` in-process leaves no log handler behind for the next."""
    yield
    from safer.kernel.logs import reset_logging

    reset_logging()


@pytest.fixture
def clock() -> Callable[[], dt.datetime]:
    """A fixed clock that ticks one second per reading: the only thing tests mock."""
    start = dt.datetime(2026, 1, 15, 6, 0, tzinfo=dt.UTC)
    ticks = itertools.count()
    return lambda: start + dt.timedelta(seconds=next(ticks))


def write_config(
    folder: Path,
    base_url: str,
    months: list[str],
    *,
    smtp_port: int | None = None,
    extra: str = "",
    street: bool = True,
    revisit_months: int = 3,
) -> Path:
    """A safer.toml in ``folder`` with two recipients; SMTP only when a port is given."""
    months_toml = ", ".join(f'"{m}"' for m in months)
    text = f"""
[database]
path = "safer.duckdb"

[paths]
data_dir = "var"
outbox_dir = "outbox"

[force]
id = "cheshire"
pfa_code = "E23000006"
name = "Cheshire Constabulary"

[sources.police_uk_street]
enabled = {str(street).lower()}
base_url = "{base_url}"
months = [{months_toml}]
min_rows = 100
retries = 2
backoff_seconds = 0
revisit_months = {revisit_months}

[[recipients]]
name = "Performance lead"
email = "lead@example.org"

[[recipients]]
name = "Halton CSP"
email = "halton@example.org"
areas = ["E22000023"]
{extra}
"""
    if smtp_port is not None:
        text += f"""
[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
sender = "safer@example.org"
timeout_seconds = 5
backoff_seconds = 0
"""
    path = folder / "safer.toml"
    path.write_text(text, encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class _Collector:
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        content = envelope.content  # type: ignore[attr-defined]
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list[EmailMessage]]]:
    """A real aiosmtpd server on loopback; yields its port and the messages it received."""
    collector = _Collector()
    port = free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, collector.messages
    finally:
        controller.stop()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Skip interpreter teardown once GX was imported, as ``safer`` itself does.

    GX's dependencies leave DuckDB's nanobind objects alive at exit, and nanobind then prints
    pages of "leaked instance" lines that bury the test summary (gx-duckdb-probe.md).
    """
    if "great_expectations" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(config._safer_exitstatus))  # type: ignore[attr-defined]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config._safer_exitstatus = exitstatus  # type: ignore[attr-defined]


def _missing_tool(reason: str) -> None:
    """Skip for a missing browser or linter, or fail where CI says it must be there."""
    if os.environ.get("SAFER_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (SAFER_REQUIRE_BROWSER=1: .ci/run installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Headless Chromium's path, for tools/browser.py: skips without it, fails if
    SAFER_REQUIRE_BROWSER=1."""
    from tools.browser import find_chromium

    found = find_chromium()
    if found is None:
        _missing_tool("Chromium not found: apt-get install chromium, or set SAFER_CHROMIUM")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def email_linter() -> None:
    """The caniemail linter (tools/email_lint.py, run by Node.js): skips without it, fails if
    SAFER_REQUIRE_BROWSER=1."""
    from tools.email_lint import available

    missing = available()
    if missing is not None:
        _missing_tool(missing)

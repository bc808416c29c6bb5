"""Source faults, injected by real loopback servers: every one is retried or refused with a clear
error, leaves no partial file, and the other sources are still processed.

pytest-httpserver answers the faults HTTP can express (statuses, headers, redirects, bodies);
``RawServer``, a socket server in a thread, does what no well-behaved server would: reset the
connection or stall mid-body, cut a body short, send garbage as gzip. Local-folder sources get
their own faults (a corrupt or truncated ``.csv.gz``, a gzip bomb). No test really sleeps:
``download`` takes a ``sleep`` and these tests record what it was asked to wait; the pipeline
tests configure ``backoff_seconds = 0``.

``FAULTS`` lists the distinct faults; ``test_it_injects_every_listed_fault`` keeps the list and
the tests in step.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from safer.app.sync import sync_all
from safer.indicators.measure import outcome_labels
from safer.kernel.config import Settings, load_config
from safer.kernel.errors import FetchError
from safer.pipelines.areas import force_areas, load_forces, load_lookup
from safer.pipelines.http import FetchPolicy, download, get_json
from safer.pipelines.landing import land
from safer.pipelines.source import BatchOutcome
from safer.store.db import connect
from tests.conftest import ROOT, street_bytes, write_config

Clock = Callable[[], dt.datetime]
CSV = b"Crime ID,Month,Reported by,Crime type\nabc,2025-06,Cheshire Constabulary,Burglary\n" * 200
POLICY = FetchPolicy(timeout_seconds=2.0, retries=2, backoff_seconds=1.5, max_bytes=1 << 20)
AS_OF = dt.date(2026, 1, 15)

FAULTS = {
    "connection_refused": "nothing listens on the port",
    "timeout_before_headers": "the server accepts and never answers",
    "timeout_mid_body": "the server stalls half-way through the body",
    "reset_mid_body": "the server resets the connection half-way through the body",
    "reset_before_headers": "the server resets the connection before answering",
    "http_429_retry_after": "429 Too Many Requests with Retry-After",
    "http_5xx_storm": "503 on every attempt",
    "truncated_content_length": "a body shorter than its Content-Length",
    "truncated_chunked": "a chunked body without its last chunk",
    "truncated_unframed": "a body cut short with no length to tell (connection close)",
    "html_content_type": "an HTML page served where a CSV was asked for",
    "html_body_as_csv": "an HTML error page labelled text/csv",
    "json_body_as_csv": "a JSON error body where a CSV was asked for",
    "html_for_json": "an HTML page where the API's JSON was asked for",
    "redirect_other_host": "a redirect to another host",
    "redirect_other_port": "a redirect to another port of the same host",
    "redirect_loop": "redirects that never end",
    "redirect_same_host": "a redirect within the same host (followed)",
    "over_size_cap": "a body over max_bytes",
    "gzip_bomb_http": "a small gzip body that decodes to more than max_bytes",
    "gzip_garbage_http": "Content-Encoding gzip over bytes that are not gzip",
    "gzip_garbage_local": "a local .csv.gz that is not gzip",
    "gzip_truncated_local": "a local .csv.gz cut short",
    "gzip_bomb_local": "a local .csv.gz that decompresses to more than max_bytes",
}
INJECTED: set[str] = set()


def injects(*faults: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark a test as injecting ``faults`` (each must be in FAULTS)."""
    for fault in faults:
        assert fault in FAULTS, fault
    INJECTED.update(faults)
    return lambda test: test


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "landing" / "2025-06-cheshire-street.csv.download"


def nothing_left(dest: Path) -> bool:
    """Neither the file nor its partial download is there."""
    return not dest.exists() and not dest.with_name(dest.name + ".part").exists()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- a raw server for what HTTP servers will not do ------------------------------------------

Reply = Callable[[socket.socket], None]


class RawServer:
    """A loopback server handling successive connections with ``replies`` (the last one
    repeats); each reply gets the connection once the request headers are read."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = replies
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(0.2)
        self.port: int = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/2025-06-cheshire-street.csv"
        self.served = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        self.listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            reply = self.replies[min(self.served, len(self.replies) - 1)]
            self.served += 1
            # Each connection in its own thread: a stalled reply must not hold up the retry.
            threading.Thread(target=self._answer, args=(conn, reply), daemon=True).start()

    def _answer(self, conn: socket.socket, reply: Reply) -> None:
        # The client giving up on a fault (a timeout, its own reset) is what the fault is for;
        # the test asserts what the client saw, so the server side's error is of no interest.
        with conn, contextlib.suppress(OSError):
            conn.settimeout(5.0)
            request = b""
            while b"\r\n\r\n" not in request:
                data = conn.recv(4096)
                if not data:
                    break
                request += data
            reply(conn)


def head(extra: str = "", length: int | None = None) -> bytes:
    lines = "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nConnection: close\r\n" + extra
    if length is not None:
        lines += f"Content-Length: {length}\r\n"
    return (lines + "\r\n").encode()


def complete(conn: socket.socket) -> None:
    conn.sendall(head(length=len(CSV)) + CSV)


def reset(conn: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer sees a TCP RST, not an orderly end."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def reset_mid_body(conn: socket.socket) -> None:
    conn.sendall(head(length=len(CSV)) + CSV[: len(CSV) // 2])
    time.sleep(0.05)
    reset(conn)


def reset_before_headers(conn: socket.socket) -> None:
    reset(conn)


def stall_mid_body(conn: socket.socket) -> None:
    conn.sendall(head(length=len(CSV)) + CSV[: len(CSV) // 2])
    time.sleep(0.8)  # longer than the client's read timeout (0.5 s in these tests)


def truncated_chunked(conn: socket.socket) -> None:
    chunk = CSV[:100]
    conn.sendall(head("Transfer-Encoding: chunked\r\n") + f"{len(chunk):x}\r\n".encode() + chunk)


def gzip_garbage(conn: socket.socket) -> None:
    body = b"\x1f\x8b\x08\x00 this is not a gzip stream " * 20
    conn.sendall(head("Content-Encoding: gzip\r\n", len(body)) + body)


# --- connection faults: retried, no partial file ---------------------------------------------


@injects("connection_refused")
def test_it_retries_a_refused_connection_then_fails_transiently(dest: Path, sleeps: Sleeps) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(FetchError) as caught:
        download(f"http://127.0.0.1:{port}/x.csv", dest, POLICY, sleep=sleeps)

    assert caught.value.transient
    assert "connection failed" in str(caught.value) and "3 attempts" in str(caught.value)
    assert sleeps.waits == [1.5, 3.0]
    assert nothing_left(dest)


@injects("timeout_before_headers")
def test_it_retries_a_server_that_never_answers(dest: Path, sleeps: Sleeps) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # the kernel completes the connection; nobody ever answers
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/x.csv"
        policy = FetchPolicy(timeout_seconds=0.2, retries=1, backoff_seconds=0.5)

        with pytest.raises(FetchError) as caught:
            download(url, dest, policy, sleep=sleeps)

    assert caught.value.transient and "ReadTimeout" in str(caught.value)
    assert sleeps.waits == [0.5]
    assert nothing_left(dest)


@pytest.mark.parametrize(
    ("fault", "reply"),
    [
        ("reset_mid_body", reset_mid_body),
        ("reset_before_headers", reset_before_headers),
        ("timeout_mid_body", stall_mid_body),
        ("truncated_chunked", truncated_chunked),
        ("gzip_garbage_http", gzip_garbage),
    ],
)
@injects("reset_mid_body", "reset_before_headers", "timeout_mid_body", "truncated_chunked")
@injects("gzip_garbage_http")
def test_a_broken_body_is_retried_and_the_next_good_one_lands_whole(
    fault: str, reply: Reply, dest: Path, sleeps: Sleeps
) -> None:
    policy = FetchPolicy(timeout_seconds=0.5, retries=2, backoff_seconds=1.5)
    with RawServer(reply, complete) as server:
        got = download(server.url, dest, policy, sleep=sleeps)

    assert server.served == 2, fault
    assert got.status == "ok" and got.sha256 == sha(CSV)
    assert dest.read_bytes() == CSV  # the whole body, never the broken one's half
    assert not dest.with_name(dest.name + ".part").exists()
    assert sleeps.waits == [1.5]


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (reset_mid_body, "body interrupted"),
        (stall_mid_body, "body interrupted"),
        (truncated_chunked, "body interrupted"),
        (gzip_garbage, "body does not decode as its Content-Encoding 'gzip' says"),
    ],
)
def test_a_body_broken_every_time_is_a_clear_transient_error_leaving_nothing(
    reply: Reply, says: str, dest: Path, sleeps: Sleeps
) -> None:
    policy = FetchPolicy(timeout_seconds=0.5, retries=1, backoff_seconds=0)
    with RawServer(reply) as server:
        with pytest.raises(FetchError) as caught:
            download(server.url, dest, policy, sleep=sleeps)

    assert server.served == 2
    assert caught.value.transient
    assert says in str(caught.value) and server.url in str(caught.value)
    assert nothing_left(dest)


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (reset_mid_body, "body interrupted"),
        (truncated_chunked, "body interrupted"),
        (gzip_garbage, "does not decode as its Content-Encoding 'gzip' says"),
    ],
)
def test_the_api_client_retries_a_broken_body_too(reply: Reply, says: str, sleeps: Sleeps) -> None:
    policy = FetchPolicy(timeout_seconds=0.5, retries=1, backoff_seconds=0)
    with RawServer(reply) as server:
        with pytest.raises(FetchError) as caught:
            get_json(server.url, policy, sleep=sleeps)

    assert server.served == 2 and caught.value.transient
    assert says in str(caught.value)


# --- statuses, types and sizes ---------------------------------------------------------------


@injects("http_429_retry_after")
def test_429_waits_as_long_as_retry_after_says(
    httpserver: HTTPServer, dest: Path, sleeps: Sleeps
) -> None:
    httpserver.expect_ordered_request("/x.csv").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "12"}
    )
    httpserver.expect_ordered_request("/x.csv").respond_with_data(CSV, content_type="text/csv")

    got = download(httpserver.url_for("/x.csv"), dest, POLICY, sleep=sleeps)

    assert got.status == "ok" and dest.read_bytes() == CSV
    assert sleeps.waits == [12.0]


@injects("truncated_content_length")
def test_a_body_shorter_than_its_length_is_retried(dest: Path, sleeps: Sleeps) -> None:
    def short(conn: socket.socket) -> None:
        conn.sendall(head(length=len(CSV) + 500) + CSV)

    with RawServer(short, complete) as server:
        got = download(server.url, dest, POLICY, sleep=sleeps)

    assert server.served == 2 and dest.read_bytes() == CSV and got.sha256 == sha(CSV)


@pytest.mark.parametrize(
    ("content_type", "body", "says"),
    [
        ("text/html; charset=utf-8", b"<html><body>Down for maintenance</body></html>", "HTML"),
        ("text/csv", b"  <!DOCTYPE html><html><p>Error 500</p></html>", "markup"),
        (
            "application/xml",
            b'<?xml version="1.0"?><Error><Code>NoSuchKey</Code></Error>',
            "markup",
        ),
    ],
)
@injects("html_content_type", "html_body_as_csv")
def test_an_error_page_instead_of_the_file_is_refused_at_once(
    httpserver: HTTPServer, dest: Path, sleeps: Sleeps, content_type: str, body: bytes, says: str
) -> None:
    httpserver.expect_request("/x.csv").respond_with_data(body, content_type=content_type)

    with pytest.raises(FetchError) as caught:
        download(httpserver.url_for("/x.csv"), dest, POLICY, sleep=sleeps)

    assert not caught.value.transient and says in str(caught.value)
    assert "CSV" in str(caught.value)
    assert len(httpserver.log) == 1 and sleeps.waits == []
    assert nothing_left(dest)


@injects("html_for_json")
def test_an_html_page_for_the_api_is_refused_naming_the_url(
    httpserver: HTTPServer, sleeps: Sleeps
) -> None:
    httpserver.expect_request("/api/crime-last-updated").respond_with_data(
        "<html>Service Unavailable</html>", content_type="text/html"
    )
    url = httpserver.url_for("/api/crime-last-updated")

    with pytest.raises(FetchError) as caught:
        get_json(url, POLICY, sleep=sleeps)

    assert not caught.value.transient
    assert url in str(caught.value) and "HTML" in str(caught.value)


@injects("over_size_cap", "gzip_bomb_http")
@pytest.mark.parametrize("encoded", [False, True])
def test_a_body_over_the_cap_is_refused_even_when_it_arrives_gzipped_and_small(
    httpserver: HTTPServer, dest: Path, sleeps: Sleeps, encoded: bool
) -> None:
    decoded = b"a,b\n" + b"0,0\n" * 300_000  # 1.2 MB: over the 1 MiB cap
    body = gzip.compress(decoded) if encoded else decoded
    headers = {"Content-Encoding": "gzip"} if encoded else {}
    assert len(body) < 20_000 if encoded else len(body) > POLICY.max_bytes
    httpserver.expect_request("/x.csv").respond_with_data(
        body, content_type="text/csv", headers=headers
    )

    with pytest.raises(FetchError) as caught:
        download(httpserver.url_for("/x.csv"), dest, POLICY, sleep=sleeps)

    assert not caught.value.transient and "1,048,576-byte cap" in str(caught.value)
    assert nothing_left(dest)


# --- redirects ---------------------------------------------------------------------------------


@pytest.fixture
def other_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


@injects("redirect_other_host", "redirect_other_port")
@pytest.mark.parametrize("where", ["host", "port"])
def test_a_redirect_off_the_configured_site_is_refused_naming_both_urls(
    httpserver: HTTPServer, other_server: HTTPServer, dest: Path, sleeps: Sleeps, where: str
) -> None:
    other_server.expect_request("/stolen.csv").respond_with_data(CSV, content_type="text/csv")
    target = other_server.url_for("/stolen.csv")
    if where == "host":  # the same server by another name: only the host differs
        own = httpserver.url_for("/stolen.csv")
        other = ("localhost", "127.0.0.1") if "localhost" in own else ("127.0.0.1", "localhost")
        target = own.replace(*other)
        httpserver.expect_request("/stolen.csv").respond_with_data(CSV, content_type="text/csv")
    httpserver.expect_request("/x.csv").respond_with_data(
        "", status=302, headers={"Location": target}
    )
    url = httpserver.url_for("/x.csv")

    with pytest.raises(FetchError) as caught:
        download(url, dest, POLICY, etag='"v1"', sleep=sleeps)

    message = str(caught.value)
    assert not caught.value.transient
    assert url in message and target in message and "refused a redirect" in message
    assert other_server.log == [] and [r.path for r, _ in httpserver.log] == ["/x.csv"]
    assert nothing_left(dest)


@injects("redirect_same_host")
def test_a_redirect_within_the_site_is_followed(
    httpserver: HTTPServer, dest: Path, sleeps: Sleeps
) -> None:
    httpserver.expect_request("/x.csv").respond_with_data(
        "", status=301, headers={"Location": "/moved/x.csv"}
    )
    httpserver.expect_request("/moved/x.csv").respond_with_data(CSV, content_type="text/csv")

    got = download(httpserver.url_for("/x.csv"), dest, POLICY, sleep=sleeps)

    assert got.status == "ok" and dest.read_bytes() == CSV


@injects("redirect_loop")
def test_a_redirect_loop_is_refused(httpserver: HTTPServer, dest: Path, sleeps: Sleeps) -> None:
    httpserver.expect_request("/x.csv").respond_with_data(
        "", status=307, headers={"Location": "/x.csv"}
    )

    with pytest.raises(FetchError) as caught:
        download(httpserver.url_for("/x.csv"), dest, POLICY, sleep=sleeps)

    assert not caught.value.transient and "more than 5 redirects" in str(caught.value)
    assert len(httpserver.log) == 6
    assert nothing_left(dest)


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        ("https://data.police.uk/data/x.csv", "https://data.police.uk/other/x.csv", True),
        ("https://data.police.uk/data/x.csv", "https://DATA.police.uk:443/x.csv", True),
        ("http://data.police.uk/x.csv", "https://data.police.uk/x.csv", True),
        ("https://data.police.uk/x.csv", "http://data.police.uk/x.csv", False),
        ("https://data.police.uk/x.csv", "https://evil.example/x.csv", False),
        ("https://data.police.uk/x.csv", "https://data.police.uk.evil.example/x.csv", False),
        ("https://data.police.uk/x.csv", "https://data.police.uk:8443/x.csv", False),
        ("https://data.police.uk/x.csv", "ftp://data.police.uk/x.csv", False),
        ("https://data.police.uk/x.csv", "https://data.police.uk:bad/x.csv", False),
    ],
)
def test_only_same_site_redirects_count_as_same_site(
    source: str, target: str, allowed: bool
) -> None:
    from safer.pipelines.http import _same_site

    assert _same_site(source, target) is allowed


# --- local folders ---------------------------------------------------------------------------


@injects("gzip_garbage_local", "gzip_truncated_local", "gzip_bomb_local")
@pytest.mark.parametrize("kind", ["garbage", "truncated", "bomb"])
def test_a_broken_local_gzip_is_a_clear_error_leaving_nothing_behind(
    tmp_path: Path, kind: str
) -> None:
    folder = tmp_path / "published"
    folder.mkdir()
    good = gzip.compress(CSV)
    data = {
        "garbage": b"\x1f\x8b\x08\x00" + b"not gzip at all" * 10,
        "truncated": good[: len(good) // 2],
        "bomb": gzip.compress(b"0" * (2 * POLICY.max_bytes)),  # 2 MiB from a few KB
    }[kind]
    (folder / "2025-06-cheshire-street.csv.gz").write_bytes(data)
    landing = tmp_path / "var" / "landing"

    with pytest.raises(FetchError) as caught:
        land(str(folder), "2025-06/2025-06-cheshire-street.csv", landing, POLICY)

    assert "2025-06-cheshire-street.csv.gz" in str(caught.value)
    assert not caught.value.transient
    assert list(landing.iterdir()) == []  # no partial copy


# --- the pipeline: a faulty source fails alone, clearly; the others load ---------------------


@injects("http_5xx_storm")
def test_each_faulty_source_fails_clearly_and_the_others_still_load(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    """Street: a 503 storm (its second month is not tried: unreachable); outcomes: a redirect
    to another host; stop-and-search: gzip garbage, every time. Call handling, from a folder,
    loads."""
    base = httpserver.url_for("/data")
    httpserver.expect_request("/data/2025-05/2025-05-cheshire-street.csv").respond_with_data(
        "busy", status=503
    )
    httpserver.expect_request("/data/2025-01/2025-01-cheshire-outcomes.csv").respond_with_data(
        "", status=302, headers={"Location": "http://evil.example/outcomes.csv"}
    )

    def garbage(request: Request) -> Response:
        return Response(b"\x1f\x8b garbage" * 50, headers={"Content-Encoding": "gzip"})

    httpserver.expect_request(
        "/data/2025-01/2025-01-cheshire-stop-and-search.csv"
    ).respond_with_handler(garbage)
    returns = tmp_path / "returns"
    returns.mkdir()
    example = ROOT / "data/examples/call-handling/call-handling-EXAMPLE-2025-06.csv"
    (returns / "june.csv").write_bytes(example.read_bytes())
    extra = (
        f'\n[sources.police_uk_outcomes]\nbase_url = "{base}"\nmonths = ["2025-01"]\n'
        "retries = 1\nbackoff_seconds = 0\n"
        f'\n[sources.police_uk_stop_search]\nbase_url = "{base}"\nmonths = ["2025-01"]\n'
        "retries = 1\nbackoff_seconds = 0\n"
        f'\n[sources.call_handling]\nlocation = "{returns}"\n'
    )
    settings = load_config(write_config(tmp_path, base, ["2025-05:2025-06"], extra=extra))

    outcomes = {(o.source, o.slot): o for o in _sync_all(settings, clock)}

    street = outcomes[("police_uk_street", "2025-05")]
    assert street.outcome == "failed" and street.unreachable
    assert "HTTP 503 (gave up after 3 attempts)" in street.message
    assert ("police_uk_street", "2025-06") not in outcomes  # left for a later run
    redirected = outcomes[("police_uk_outcomes", "2025-01")]
    assert redirected.outcome == "failed" and not redirected.unreachable
    assert "http://evil.example/outcomes.csv" in redirected.message
    searches = outcomes[("police_uk_stop_search", "2025-01")]
    assert searches.outcome == "failed"
    assert "does not decode as its Content-Encoding 'gzip' says" in searches.message
    assert outcomes[("call_handling", "june.csv")].outcome == "loaded"
    with connect(settings.database.path) as db:
        assert db.scalar("SELECT count(*) FROM call_handling") == 1
        assert db.scalar("SELECT count(*) FROM police_street") == 0
        failed = db.rows("SELECT source, error FROM load_ledger WHERE status = 'failed'")
    assert {source for source, _ in failed} == {
        "police_uk_street",
        "police_uk_outcomes",
        "police_uk_stop_search",
    }
    assert list((tmp_path / "var" / "landing").rglob("*.part")) == []


@injects("truncated_unframed", "json_body_as_csv")
@pytest.mark.parametrize("kind", ["truncated", "json"])
def test_a_body_no_transport_check_can_catch_is_quarantined_not_loaded(
    tmp_path: Path, clock: Clock, kind: str
) -> None:
    """A body cut short with nothing to say so (HTTP/1.0 style: close ends it), or a JSON error
    served as the CSV, reaches the checks, which quarantine it naming file and line."""
    month = street_bytes("2025-06")
    body = month[: len(month) // 2] if kind == "truncated" else b'{"error": "rate limited"}\n'

    def unframed(conn: socket.socket) -> None:
        conn.sendall(head() + body)  # no Content-Length, no chunking: the close ends it

    with RawServer(unframed) as server:
        base = server.url.rsplit("/", 1)[0]
        settings = load_config(write_config(tmp_path, base, ["2025-06"]))
        [outcome] = _sync_all(settings, clock)

    assert outcome.outcome == "quarantined", outcome.message
    assert "2025-06-cheshire-street" in outcome.message
    if kind == "truncated":
        assert "parses_as_csv" in outcome.message and re.search(r"line \d+", outcome.message)
    else:
        assert "columns_as_published" in outcome.message and "missing 'Crime ID'" in (
            outcome.message
        )
    with connect(settings.database.path) as db:
        assert db.scalar("SELECT count(*) FROM police_street") == 0


def _sync_all(settings: Settings, clock: Clock) -> list[BatchOutcome]:
    with connect(settings.database.path) as db:
        load_lookup(db)
        load_forces(db)
        force_areas(db, settings.force.pfa_code)
        return sync_all(db, settings, "run-1", AS_OF, clock, outcome_labels())


def test_it_injects_every_listed_fault() -> None:
    """The figure reported for issue 9: every listed fault has a test that injects it."""
    assert set(FAULTS) == INJECTED, set(FAULTS) ^ INJECTED
    assert len(FAULTS) == 24

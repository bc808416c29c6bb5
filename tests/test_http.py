"""pipelines.http.download against real loopback servers (pytest-httpserver and raw sockets).

No test really sleeps: ``download`` takes a ``sleep`` callable and these tests pass a recorder.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from safer.kernel.errors import FetchError
from safer.pipelines.http import USER_AGENT, Downloaded, FetchPolicy, download

CSV = b"Crime ID,Month,Reported by,Crime type\nabc,2025-06,Cheshire Constabulary,Burglary\n"
BACKOFF = 1.5
POLICY = FetchPolicy(timeout_seconds=5.0, retries=3, backoff_seconds=BACKOFF, max_bytes=1 << 20)


class SleepRecorder:
    """Stands in for ``time.sleep``: records each requested wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "landing" / "2025-06-cheshire-street.csv"


def part_of(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def assert_nothing_written(path: Path) -> None:
    assert not path.exists()
    assert not part_of(path).exists()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- success and retries ---------------------------------------------------------------------


def test_plain_200_writes_file_with_hash_size_and_validators(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder
) -> None:
    body = CSV * 3000  # ~230 KB: several 64 KiB chunks
    httpserver.expect_request("/street.csv").respond_with_data(
        body,
        content_type="text/csv",
        headers={"ETag": '"v7"', "Last-Modified": "Wed, 02 Jul 2025 10:00:00 GMT"},
    )

    result = download(httpserver.url_for("/street.csv"), dest, POLICY, sleep=sleeps)

    assert result == Downloaded(
        status="ok",
        sha256=sha256(body),
        size=len(body),
        etag='"v7"',
        last_modified="Wed, 02 Jul 2025 10:00:00 GMT",
    )
    assert dest.read_bytes() == body  # parent folders were created
    assert not part_of(dest).exists()
    assert sleeps.waits == []
    assert len(httpserver.log) == 1


def test_request_sends_user_agent_and_no_conditional_headers_by_default(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder
) -> None:
    httpserver.expect_request("/street.csv").respond_with_data(CSV, content_type="text/csv")

    download(httpserver.url_for("/street.csv"), dest, POLICY, sleep=sleeps)

    request, _ = httpserver.log[0]
    assert request.headers["User-Agent"] == USER_AGENT
    assert "If-None-Match" not in request.headers
    assert "If-Modified-Since" not in request.headers


def test_503_then_200_is_retried_with_backoff_and_file_is_correct(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder
) -> None:
    httpserver.expect_ordered_request("/street.csv").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/street.csv").respond_with_data(CSV, content_type="text/csv")

    result = download(httpserver.url_for("/street.csv"), dest, POLICY, sleep=sleeps)

    httpserver.check_assertions()
    assert result.status == "ok"
    assert result.sha256 == sha256(CSV)
    assert result.size == len(CSV)
    assert dest.read_bytes() == CSV
    assert not part_of(dest).exists()
    assert sleeps.waits == [BACKOFF]
    assert len(httpserver.log) == 2


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_every_retryable_status_is_retried(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder, status: int
) -> None:
    httpserver.expect_ordered_request("/street.csv").respond_with_data("", status=status)
    httpserver.expect_ordered_request("/street.csv").respond_with_data(CSV, content_type="text/csv")

    result = download(httpserver.url_for("/street.csv"), dest, POLICY, sleep=sleeps)

    assert result.status == "ok"
    assert dest.read_bytes() == CSV
    assert sleeps.waits == [BACKOFF]


def test_backoff_doubles_between_attempts(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder
) -> None:
    for _ in range(3):
        httpserver.expect_ordered_request("/street.csv").respond_with_data("", status=502)
    httpserver.expect_ordered_request("/street.csv").respond_with_data(CSV, content_type="text/csv")

    result = download(httpserver.url_for("/street.csv"), dest, POLICY, sleep=sleeps)

    assert result.status == "ok"
    assert sleeps.waits == [BACKOFF, BACKOFF * 2, BACKOFF * 4]
    assert len(httpserver.log) == 4


def test_retry_after_seconds_is_honoured(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder
) -> None:
    httpserver.expect_ordered_request("/street.csv").respond_with_data(
        "", status=429, headers={"Retry-After": "7"}
    )
    httpserver.expect_ordered_request("/street.csv").respond_with_data(
        "", status=503, headers={"Retry-After": "0"}
    )
    httpserver.expect_ordered_request("/street.csv").respond_with_data(CSV, content_type="text/csv")

    result = download(httpserver.url_for("/street.csv"), dest, POLICY, sleep=sleeps)

    assert result.status == "ok"
    # "0" is a real answer (retry now), not a missing header that falls back to backoff.
    assert sleeps.waits == [7.0, 0.0]


def test_retry_after_is_capped_at_five_minutes_and_never_negative(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder
) -> None:
    httpserver.expect_ordered_request("/street.csv").respond_with_data(
        "", status=503, headers={"Retry-After": "86400"}
    )
    httpserver.expect_ordered_request("/street.csv").respond_with_data(
        "", status=503, headers={"Retry-After": "-30"}
    )
    httpserver.expect_ordered_request("/street.csv").respond_with_data(CSV, content_type="text/csv")

    download(httpserver.url_for("/street.csv"), dest, POLICY, sleep=sleeps)

    assert sleeps.waits == [300.0, 0.0]


def test_retry_after_http_date_is_converted_to_a_wait(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder
) -> None:
    now = dt.datetime.now(dt.UTC)
    future = email.utils.format_datetime(now + dt.timedelta(seconds=120), usegmt=True)
    past = email.utils.format_datetime(now - dt.timedelta(hours=1), usegmt=True)
    httpserver.expect_ordered_request("/street.csv").respond_with_data(
        "", status=503, headers={"Retry-After": future}
    )
    httpserver.expect_ordered_request("/street.csv").respond_with_data(
        "", status=503, headers={"Retry-After": past}
    )
    httpserver.expect_ordered_request("/street.csv").respond_with_data(CSV, content_type="text/csv")

    result = download(httpserver.url_for("/street.csv"), dest, POLICY, sleep=sleeps)

    assert result.status == "ok"
    first, second = sleeps.waits
    assert 60.0 < first <= 121.0  # about two minutes; far from both backoff and the cap
    assert second == 0.0


@pytest.mark.parametrize("value", ["soon", "nan"])
def test_unusable_retry_after_falls_back_to_backoff(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder, value: str
) -> None:
    # A server's nonsense Retry-After must not crash the fetch with a non-FetchError (or hand
    # time.sleep a NaN, which raises ValueError): it should be ignored like a missing header.
    httpserver.expect_ordered_request("/street.csv").respond_with_data(
        "", status=503, headers={"Retry-After": value}
    )
    httpserver.expect_ordered_request("/street.csv").respond_with_data(CSV, content_type="text/csv")

    result = download(httpserver.url_for("/street.csv"), dest, POLICY, sleep=sleeps)

    assert result.status == "ok"
    assert sleeps.waits == [BACKOFF]


def test_retries_exhausted_raises_transient_fetch_error(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder
) -> None:
    httpserver.expect_request("/street.csv").respond_with_data("down", status=503)
    policy = FetchPolicy(timeout_seconds=5.0, retries=2, backoff_seconds=BACKOFF)

    with pytest.raises(FetchError) as caught:
        download(httpserver.url_for("/street.csv"), dest, policy, sleep=sleeps)

    assert caught.value.transient is True
    message = str(caught.value)
    assert "HTTP 503" in message
    assert "3 attempts" in message
    assert httpserver.url_for("/street.csv") in message
    assert len(httpserver.log) == 3  # one try plus two retries
    assert sleeps.waits == [BACKOFF, BACKOFF * 2]  # no pointless wait after the last try
    assert_nothing_written(dest)


def test_zero_retries_means_a_single_attempt(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder
) -> None:
    httpserver.expect_request("/street.csv").respond_with_data("", status=500)
    policy = FetchPolicy(timeout_seconds=5.0, retries=0, backoff_seconds=BACKOFF)

    with pytest.raises(FetchError) as caught:
        download(httpserver.url_for("/street.csv"), dest, policy, sleep=sleeps)

    assert caught.value.transient is True
    assert len(httpserver.log) == 1
    assert sleeps.waits == []


# --- 404, other statuses and conditional GET -------------------------------------------------


def test_404_is_not_found_and_writes_nothing(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder
) -> None:
    httpserver.expect_request("/street.csv").respond_with_data("no such month", status=404)

    result = download(httpserver.url_for("/street.csv"), dest, POLICY, sleep=sleeps)

    assert result == Downloaded(status="not_found")
    assert_nothing_written(dest)
    assert not dest.parent.exists()
    assert sleeps.waits == []
    assert len(httpserver.log) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 410])
def test_other_client_errors_are_permanent_without_retry(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder, status: int
) -> None:
    httpserver.expect_request("/street.csv").respond_with_data("nope", status=status)

    with pytest.raises(FetchError) as caught:
        download(httpserver.url_for("/street.csv"), dest, POLICY, sleep=sleeps)

    assert caught.value.transient is False
    assert f"HTTP {status}" in str(caught.value)
    assert len(httpserver.log) == 1
    assert sleeps.waits == []
    assert_nothing_written(dest)


def test_conditional_get_sends_validators_and_304_is_not_modified(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder
) -> None:
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"previous download\n")
    since = "Wed, 02 Jul 2025 10:00:00 GMT"
    httpserver.expect_request(
        "/street.csv", headers={"If-None-Match": '"v7"', "If-Modified-Since": since}
    ).respond_with_data("", status=304, headers={"ETag": '"v7"'})

    result = download(
        httpserver.url_for("/street.csv"),
        dest,
        POLICY,
        etag='"v7"',
        last_modified=since,
        sleep=sleeps,
    )

    httpserver.check_assertions()
    assert result.status == "not_modified"
    assert result.etag == '"v7"'
    assert result.sha256 is None
    request, _ = httpserver.log[0]
    assert request.headers["If-None-Match"] == '"v7"'
    assert request.headers["If-Modified-Since"] == since
    assert dest.read_bytes() == b"previous download\n"  # untouched
    assert not part_of(dest).exists()
    assert sleeps.waits == []


def test_conditional_get_with_changed_etag_downloads_the_new_body(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder
) -> None:
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"old\n")
    httpserver.expect_request("/street.csv", headers={"If-None-Match": '"v1"'}).respond_with_data(
        CSV, content_type="text/csv", headers={"ETag": '"v2"'}
    )

    result = download(httpserver.url_for("/street.csv"), dest, POLICY, etag='"v1"', sleep=sleeps)

    assert result.status == "ok"
    assert result.etag == '"v2"'
    assert dest.read_bytes() == CSV


# --- wrong content ---------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/xhtml+xml"])
def test_html_content_type_is_a_permanent_error_saying_html(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder, content_type: str
) -> None:
    httpserver.expect_request("/street.csv").respond_with_data(
        "<html><body>Service unavailable</body></html>", content_type=content_type
    )

    with pytest.raises(FetchError) as caught:
        download(httpserver.url_for("/street.csv"), dest, POLICY, sleep=sleeps)

    assert caught.value.transient is False
    assert "HTML" in str(caught.value)
    assert "CSV" in str(caught.value)
    assert len(httpserver.log) == 1  # permanent: not retried
    assert sleeps.waits == []
    assert_nothing_written(dest)


@pytest.mark.parametrize(
    "body", [b"<!DOCTYPE html><html>oops</html>", b"\n  \t<?xml version='1.0'?><Error/>"]
)
def test_markup_body_with_csv_content_type_is_a_permanent_error(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder, body: bytes
) -> None:
    httpserver.expect_request("/street.csv").respond_with_data(body, content_type="text/csv")

    with pytest.raises(FetchError) as caught:
        download(httpserver.url_for("/street.csv"), dest, POLICY, sleep=sleeps)

    assert caught.value.transient is False
    assert "markup" in str(caught.value)
    assert len(httpserver.log) == 1
    assert sleeps.waits == []
    assert_nothing_written(dest)


def test_angle_bracket_later_in_a_csv_is_fine(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder
) -> None:
    body = b"Crime ID,Context\nabc,<5 metres from the station>\n"
    httpserver.expect_request("/street.csv").respond_with_data(body, content_type="text/csv")

    result = download(httpserver.url_for("/street.csv"), dest, POLICY, sleep=sleeps)

    assert result.status == "ok"
    assert dest.read_bytes() == body


# --- size cap --------------------------------------------------------------------------------


def _cap_policy(max_bytes: int) -> FetchPolicy:
    return FetchPolicy(timeout_seconds=5.0, retries=3, backoff_seconds=BACKOFF, max_bytes=max_bytes)


def test_size_cap_exceeded_raises_and_leaves_neither_dest_nor_part(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder
) -> None:
    body = b"a,b\n" + b"1,2\n" * 2000  # 8,004 bytes
    httpserver.expect_request("/street.csv").respond_with_data(body, content_type="text/csv")

    with pytest.raises(FetchError) as caught:
        download(httpserver.url_for("/street.csv"), dest, _cap_policy(1000), sleep=sleeps)

    assert caught.value.transient is False
    assert "cap" in str(caught.value)
    assert "1,000" in str(caught.value)
    assert len(httpserver.log) == 1
    assert sleeps.waits == []
    assert_nothing_written(dest)


def test_size_cap_holds_for_a_streamed_body_without_content_length(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"a,b\n"
        for _ in range(50):
            yield b"1,2\n" * 500  # 2,000 bytes each; 100 KB in all

    httpserver.expect_request("/street.csv").respond_with_response(
        Response(chunks(), mimetype="text/csv")
    )

    with pytest.raises(FetchError) as caught:
        download(httpserver.url_for("/street.csv"), dest, _cap_policy(10_000), sleep=sleeps)

    assert caught.value.transient is False
    assert "cap" in str(caught.value)
    assert_nothing_written(dest)


def test_body_of_exactly_the_cap_is_accepted(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder
) -> None:
    body = b"a,b\n" + b"1,2\n" * 249  # exactly 1,000 bytes
    assert len(body) == 1000
    httpserver.expect_request("/street.csv").respond_with_data(body, content_type="text/csv")

    result = download(httpserver.url_for("/street.csv"), dest, _cap_policy(1000), sleep=sleeps)

    assert result.status == "ok"
    assert result.size == 1000
    assert dest.read_bytes() == body


def test_failed_download_keeps_the_previous_file(
    httpserver: HTTPServer, dest: Path, sleeps: SleepRecorder
) -> None:
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"last month's good copy\n")
    httpserver.expect_request("/street.csv").respond_with_data(
        b"a,b\n" + b"1,2\n" * 2000, content_type="text/csv"
    )

    with pytest.raises(FetchError):
        download(httpserver.url_for("/street.csv"), dest, _cap_policy(1000), sleep=sleeps)

    assert dest.read_bytes() == b"last month's good copy\n"
    assert not part_of(dest).exists()


# --- connection-level failures ---------------------------------------------------------------


@pytest.fixture
def closed_port() -> int:
    """A loopback port that was just free and now has no listener: connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_connection_refused_is_retried_then_transient_fetch_error(
    closed_port: int, dest: Path, sleeps: SleepRecorder
) -> None:
    policy = FetchPolicy(timeout_seconds=2.0, retries=2, backoff_seconds=BACKOFF)

    with pytest.raises(FetchError) as caught:
        download(f"http://127.0.0.1:{closed_port}/street.csv", dest, policy, sleep=sleeps)

    assert caught.value.transient is True
    assert "connection failed" in str(caught.value)
    assert "3 attempts" in str(caught.value)
    assert sleeps.waits == [BACKOFF, BACKOFF * 2]
    assert_nothing_written(dest)


def test_read_timeout_is_retried_then_transient_fetch_error(
    dest: Path, sleeps: SleepRecorder
) -> None:
    # A listener that never accepts: the connection completes in the kernel backlog and the
    # request is sent, but no response ever comes.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        policy = FetchPolicy(timeout_seconds=0.1, retries=1, backoff_seconds=BACKOFF)

        with pytest.raises(FetchError) as caught:
            download(f"http://127.0.0.1:{port}/street.csv", dest, policy, sleep=sleeps)

    assert caught.value.transient is True
    assert "Timeout" in str(caught.value)
    assert sleeps.waits == [BACKOFF]
    assert_nothing_written(dest)


def test_malformed_url_is_a_permanent_error(dest: Path, sleeps: SleepRecorder) -> None:
    with pytest.raises(FetchError) as caught:
        download("not a url at all", dest, POLICY, sleep=sleeps)

    assert caught.value.transient is False
    assert "request failed" in str(caught.value)
    assert sleeps.waits == []


class ScriptedServer:
    """A raw loopback HTTP server answering each successive connection with canned bytes."""

    def __init__(self, replies: list[bytes]) -> None:
        self._replies = replies
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._listener.settimeout(5.0)
        self.port: int = self._listener.getsockname()[1]
        self.served = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(timeout=5.0)
        self._listener.close()

    def _serve(self) -> None:
        for reply in self._replies:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5.0)
                request = b""
                while b"\r\n\r\n" not in request:
                    data = conn.recv(4096)
                    if not data:
                        break
                    request += data
                conn.sendall(reply)
                self.served += 1


def test_body_cut_short_is_retried_and_part_file_removed(dest: Path, sleeps: SleepRecorder) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nConnection: close\r\n"
    truncated = head + b"Content-Length: 5000\r\n\r\n" + CSV  # promises far more than it sends
    complete = head + f"Content-Length: {len(CSV)}\r\n\r\n".encode() + CSV

    with ScriptedServer([truncated, complete]) as server:
        result = download(f"http://127.0.0.1:{server.port}/street.csv", dest, POLICY, sleep=sleeps)

    assert server.served == 2
    assert result.status == "ok"
    assert result.sha256 == sha256(CSV)
    assert dest.read_bytes() == CSV
    assert not part_of(dest).exists()
    assert sleeps.waits == [BACKOFF]


def test_body_cut_short_every_time_gives_transient_error_and_no_files(
    dest: Path, sleeps: SleepRecorder
) -> None:
    truncated = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nConnection: close\r\n"
        b"Content-Length: 5000\r\n\r\n" + CSV
    )
    policy = FetchPolicy(timeout_seconds=5.0, retries=1, backoff_seconds=BACKOFF)

    with ScriptedServer([truncated, truncated]) as server:
        with pytest.raises(FetchError) as caught:
            download(f"http://127.0.0.1:{server.port}/street.csv", dest, policy, sleep=sleeps)

    assert caught.value.transient is True
    assert "body interrupted" in str(caught.value)
    assert_nothing_written(dest)

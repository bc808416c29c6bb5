"""The one module that speaks HTTP: bounded, retried, conditional downloads to a file.

``download`` streams a body to disk while hashing it, so a file is never held in memory and
the size cap holds even for a server that lies about Content-Length.

Redirects are followed only within the site asked (same host and port, never from https down to
http): requests would follow one anywhere, so a compromised or misconfigured publisher could
send safer's requests, and its conditional-GET validators, to a host nobody configured. A body
whose Content-Encoding does not decode (gzip garbage) is treated like a body cut short: retried,
then a transient FetchError, since a corrupted transfer through a proxy is usually a one-off and
a server that always sends garbage costs only the bounded retries.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from safer.kernel.errors import FetchError, LocalFault

__all__ = ["Downloaded", "FetchPolicy", "RateLimiter", "download", "get_json"]

logger = logging.getLogger(__name__)

USER_AGENT = "safer/0.1 (community-safety indicator monitor)"
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_MAX_RETRY_AFTER = 300.0
_CHUNK = 1 << 16
_MAX_JSON = 4 * 1024 * 1024
_REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class FetchPolicy:
    timeout_seconds: float = 120.0
    retries: int = 3
    backoff_seconds: float = 2.0
    max_bytes: int = 200 * 1024 * 1024


@dataclass(frozen=True)
class Downloaded:
    status: Literal["ok", "not_modified", "not_found"]
    sha256: str | None = None
    size: int = 0
    etag: str | None = None
    last_modified: str | None = None


def download(
    url: str,
    dest: Path,
    policy: FetchPolicy,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    expect: str = "csv",
    sleep: Callable[[float], None] = time.sleep,
) -> Downloaded:
    """Fetch ``url`` into ``dest``. 404 gives ``not_found``; 304 gives ``not_modified``.

    Raises FetchError (``transient`` when retrying later may help) after the retries are spent,
    or at once for a permanent failure such as an HTML page where a CSV was expected.
    """
    headers = {"User-Agent": USER_AGENT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return _retrying(url, policy, lambda: _attempt(url, dest, policy, headers, expect), sleep)


def get_json(
    url: str,
    policy: FetchPolicy,
    limiter: RateLimiter | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """GET ``url`` and parse its JSON body, retried like ``download``; at most ``limiter``'s
    rate. Raises FetchError for a body that is not JSON (an HTML error page, say), too big, or
    a status other than 200."""
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}

    def attempt() -> Any:
        if limiter is not None:
            limiter.wait()
        return _json_attempt(url, policy, headers)

    return _retrying(url, policy, attempt, sleep)


T = TypeVar("T")


def _retrying(
    url: str, policy: FetchPolicy, attempt: Callable[[], T], sleep: Callable[[float], None]
) -> T:
    """``attempt`` until it succeeds, retrying transient failures with backoff (or the server's
    Retry-After) up to ``policy.retries`` times."""
    tries = 0
    while True:
        try:
            return attempt()
        except _Retry as retry:
            tries += 1
            if tries > policy.retries:
                raise FetchError(
                    f"{url}: {retry.reason} (gave up after {tries} attempts)", transient=True
                ) from None
            wait = (
                retry.after
                if retry.after is not None
                else policy.backoff_seconds * 2 ** (tries - 1)
            )
            logger.warning("%s: %s; retry %d in %.1fs", url, retry.reason, tries, wait)
            sleep(wait)


class RateLimiter:
    """At most ``per_second`` calls a second: ``wait`` sleeps until the next call is allowed."""

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0

    def wait(self) -> None:
        now = self._clock()
        if now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


def _get(url: str, headers: dict[str, str], timeout: float) -> requests.Response:
    """GET ``url`` (streamed), following at most ``_MAX_REDIRECTS`` redirects, each only to the
    same site (``_same_site``); raises FetchError naming both URLs for any other redirect."""
    current = url
    for _ in range(_MAX_REDIRECTS + 1):
        response = requests.get(
            current, headers=headers, timeout=timeout, stream=True, allow_redirects=False
        )
        if response.status_code not in _REDIRECT_STATUS:
            return response
        location = response.headers.get("Location")
        status = response.status_code
        response.close()
        if not location:
            raise FetchError(f"{url}: HTTP {status} redirect without a Location", transient=False)
        target = urljoin(current, location)
        if not _same_site(current, target):
            raise FetchError(
                f"{url}: refused a redirect (HTTP {status}) from {current} to {target}: only "
                "redirects within the same host, and never from https to http, are followed",
                transient=False,
            )
        current = target
    raise FetchError(f"{url}: more than {_MAX_REDIRECTS} redirects; refused", transient=False)


def _same_site(source: str, target: str) -> bool:
    """Whether a redirect from ``source`` to ``target`` stays on the configured site: the same
    host and port and scheme, or the same host moving from http up to https on its default
    port."""
    old, new = urlsplit(source), urlsplit(target)
    if (
        new.scheme not in _DEFAULT_PORTS
        or (old.hostname or "").lower() != (new.hostname or "").lower()
    ):
        return False
    try:
        old_port = old.port or _DEFAULT_PORTS.get(old.scheme)
        new_port = new.port or _DEFAULT_PORTS[new.scheme]
    except ValueError:  # a port that is not a number
        return False
    if old.scheme == new.scheme:
        return old_port == new_port
    return (old.scheme, new.scheme) == ("http", "https") and new_port == 443


def _body_failure(exc: BaseException, response: requests.Response) -> _Retry:
    """A body that broke off (reset, timeout, cut short) or does not decode, as a retry whose
    reason says which."""
    decode = (requests.exceptions.ContentDecodingError, urllib3.exceptions.DecodeError)
    if isinstance(exc, decode):
        encoding = response.headers.get("Content-Encoding", "")
        return _Retry(f"body does not decode as its Content-Encoding {encoding!r} says: {exc}")
    return _Retry(f"body interrupted: {type(exc).__name__}")


def _json_attempt(url: str, policy: FetchPolicy, headers: dict[str, str]) -> Any:
    try:
        response = _get(url, headers, policy.timeout_seconds)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise _Retry(f"connection failed: {type(exc).__name__}") from exc
    except requests.RequestException as exc:
        raise FetchError(f"{url}: request failed: {exc}", transient=False) from exc
    with response:
        if response.status_code in _RETRY_STATUS:
            raise _Retry(f"HTTP {response.status_code}", _retry_after(response))
        if response.status_code != 200:
            raise FetchError(f"{url}: HTTP {response.status_code}", transient=False)
        _refuse_wrong_type(url, response, "json")
        try:
            body = response.raw.read(_MAX_JSON + 1, decode_content=True)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise _body_failure(exc, response) from exc
    if len(body) > _MAX_JSON:
        raise FetchError(f"{url}: JSON body exceeds the {_MAX_JSON:,}-byte cap", transient=False)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise FetchError(
            f"{url}: expected JSON but the body is not ({exc}); starts {body[:40]!r}",
            transient=False,
        ) from exc


class _Retry(Exception):
    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after = after


def _attempt(
    url: str, dest: Path, policy: FetchPolicy, headers: dict[str, str], expect: str
) -> Downloaded:
    try:
        response = _get(url, headers, policy.timeout_seconds)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise _Retry(f"connection failed: {type(exc).__name__}") from exc
    except requests.RequestException as exc:
        raise FetchError(f"{url}: request failed: {exc}", transient=False) from exc
    with response:
        if response.status_code == 404:
            return Downloaded(status="not_found")
        if response.status_code == 304:
            return Downloaded(status="not_modified", etag=etag_of(response))
        if response.status_code in _RETRY_STATUS:
            raise _Retry(f"HTTP {response.status_code}", _retry_after(response))
        if response.status_code != 200:
            raise FetchError(f"{url}: HTTP {response.status_code}", transient=False)
        _refuse_wrong_type(url, response, expect)
        sha, size = _stream(url, response, dest, policy.max_bytes, expect)
    return Downloaded(
        status="ok",
        sha256=sha,
        size=size,
        etag=etag_of(response),
        last_modified=response.headers.get("Last-Modified"),
    )


def etag_of(response: requests.Response) -> str | None:
    return response.headers.get("ETag")


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None  # unusable: fall back to our own backoff
        seconds = parsed.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


def _refuse_wrong_type(url: str, response: requests.Response, expect: str) -> None:
    content_type = response.headers.get("Content-Type", "").lower()
    if "html" in content_type:
        raise FetchError(
            f"{url}: expected a {expect.upper()} file but the server sent an HTML page "
            f"(Content-Type {content_type!r}); the source may be down or the URL wrong",
            transient=False,
        )


def _stream(
    url: str, response: requests.Response, dest: Path, max_bytes: int, expect: str
) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    partial = dest.with_suffix(dest.suffix + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with partial.open("wb") as out:
            for chunk in response.iter_content(_CHUNK):
                if size == 0 and chunk.lstrip()[:1] == b"<":
                    raise FetchError(
                        f"{url}: expected a {expect.upper()} file but the body is markup "
                        f"(starts {chunk.lstrip()[:40]!r}); the source may have sent an error page",
                        transient=False,
                    )
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(
                        f"{url}: body exceeds the {max_bytes:,}-byte cap", transient=False
                    )
                digest.update(chunk)
                out.write(chunk)
    except requests.RequestException as exc:  # an OSError too: before the next clause
        partial.unlink(missing_ok=True)
        raise _body_failure(exc, response) from exc
    except OSError as exc:  # writing our copy (a full disk): ours to mend, not the source's
        partial.unlink(missing_ok=True)
        raise LocalFault(f"{partial}: cannot be written: {exc.strerror or exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(dest)
    return digest.hexdigest(), size

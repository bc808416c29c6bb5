"""A small HTTP server laid out like data.police.uk, for the demo and tests.

``/{YYYY-MM}/{name}`` serves ``{folder}/{name}.gz`` from the first folder holding it: gzip-encoded
when the client accepts it (as requests does), with an ETag so conditional GETs get 304; a file
kept as is (``{folder}/{name}``, e.g. DEFRA's workbook) is served at ``/files/{name}``. The API's
``/api/crime-last-updated`` and ``/api/crimes-street-dates`` answer from ``Published``, which the
demo moves on between runs as data.police.uk would publish.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import mimetypes
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["Published", "serve"]

_MONTH = re.compile(r"^(\d{4}-\d{2})-")


@dataclass
class Published:
    """What the API says has been published: the last update and the newest month."""

    last_updated: str = "2025-12-31"
    newest: str = "9999-12"
    stop_search_forces: tuple[str, ...] = ("cheshire",)
    requests: list[str] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    def __init__(self, folders: Sequence[Path], published: Published, *args: object) -> None:
        self.folders = folders
        self.published = published
        super().__init__(*args)  # type: ignore[arg-type]

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
        self.published.requests.append(self.path)
        if self.path.startswith("/api/"):
            self._api(self.path.removeprefix("/api/"))
            return
        name = self.path.rsplit("/", 1)[-1]
        if self.path.startswith("/files/"):
            self._file(next((f / name for f in self.folders if (f / name).is_file()), None))
            return
        source = next(
            (f / f"{name}.gz" for f in self.folders if (f / f"{name}.gz").is_file()), None
        )
        if "/" not in self.path.strip("/") or source is None or not self._published(name):
            self.send_error(404, "Not Found")
            return
        self._gzipped(source)

    def _published(self, name: str) -> bool:
        found = _MONTH.match(name)
        return found is None or found.group(1) <= self.published.newest

    def _api(self, method: str) -> None:
        if method == "crime-last-updated":
            body: object = {"date": self.published.last_updated}
        elif method == "crimes-street-dates":
            months = sorted(
                {
                    m.group(1)
                    for f in self.folders
                    for p in f.iterdir()
                    if (m := _MONTH.match(p.name))
                },
                reverse=True,
            )
            body = [
                {"date": m, "stop-and-search": list(self.published.stop_search_forces)}
                for m in months
                if m <= self.published.newest
            ]
        else:
            self.send_error(404, "Not Found")
            return
        self._send(json.dumps(body).encode(), "application/json", None)

    def _gzipped(self, source: Path) -> None:
        packed = source.read_bytes()
        etag = f'W/"{hashlib.sha256(packed).hexdigest()[:32]}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        gzip_ok = "gzip" in self.headers.get("Accept-Encoding", "")
        body = packed if gzip_ok else gzip.decompress(packed)
        self._send(body, "text/csv; charset=utf-8", etag, "gzip" if gzip_ok else None)

    def _file(self, source: Path | None) -> None:
        if source is None:
            self.send_error(404, "Not Found")
            return
        body = source.read_bytes()
        kind = mimetypes.guess_type(source.name)[0] or "application/octet-stream"
        self._send(body, kind, f'"{hashlib.sha256(body).hexdigest()[:32]}"')

    def _send(self, body: bytes, kind: str, etag: str | None, encoding: str | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if etag:
            self.send_header("ETag", etag)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
        """Quiet: the job logs each file it fetches."""


@contextmanager
def serve(
    *folders: Path, published: Published | None = None, host: str = "127.0.0.1", port: int = 0
) -> Iterator[str]:
    """Serve ``folders`` in a background thread; yields the base URL."""
    state = published or Published()
    server = ThreadingHTTPServer((host, port), partial(_Handler, folders, state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

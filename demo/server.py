"""A small HTTP server laid out like data.police.uk's monthly files, for the demo and tests.

``/{YYYY-MM}/{YYYY-MM}-{force}-street.csv`` is served from ``{folder}/{name}.gz``: gzip-encoded
when the client accepts it (as requests does), with an ETag so conditional GETs get 304.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["serve"]


class _Handler(BaseHTTPRequestHandler):
    def __init__(self, folder: Path, *args: object) -> None:
        self.folder = folder
        super().__init__(*args)  # type: ignore[arg-type]

    def do_GET(self) -> None:  # noqa: N802 - the http.server hook name
        name = self.path.rsplit("/", 1)[-1]
        source = self.folder / f"{name}.gz"
        if "/" not in self.path.strip("/") or not source.is_file():
            self.send_error(404, "Not Found")
            return
        packed = source.read_bytes()
        etag = f'W/"{hashlib.sha256(packed).hexdigest()[:32]}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        gzip_ok = "gzip" in self.headers.get("Accept-Encoding", "")
        body = packed if gzip_ok else gzip.decompress(packed)
        self.send_response(200)
        self.send_header("Content-Type", "text/csv; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        if gzip_ok:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
        """Quiet: the job logs each month it fetches."""


@contextmanager
def serve(folder: Path, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``folder`` in a background thread; yields the base URL."""
    server = ThreadingHTTPServer((host, port), partial(_Handler, folder))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

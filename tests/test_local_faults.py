"""Faults on this machine are the job's, never the source's (issue 15).

A full disk while a month is downloaded or staged fails the unit as a job error, leaves nothing
behind, and the next run fetches the month whole: nothing is quarantined, and no conditional GET
is sent against a batch that was never promoted. The disk is a real one: a small tmpfs (when the
test may mount one) or ``/dev/full``, which fails every write with ENOSPC.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from safer.app.batch import sync_source
from safer.indicators.measure import outcome_labels
from safer.kernel.config import Settings, load_config
from safer.pipelines.areas import force_areas, load_forces, load_lookup
from safer.pipelines.police_uk import STREET as STREET_FILES
from safer.pipelines.source import BatchOutcome, SourceContext
from safer.store.db import connect
from tests.conftest import ROOT, street_bytes, write_config

Clock = Callable[[], dt.datetime]
JUNE = "2025-06"
PATH = f"/{JUNE}/{JUNE}-cheshire-street.csv"
AS_OF = dt.date(2025, 7, 20)


def _sync(settings: Settings, clock: Clock) -> BatchOutcome:
    with connect(settings.database.path) as db:
        load_lookup(db)
        load_forces(db)
        force_areas(db, settings.force.pfa_code)
        ctx = SourceContext(settings, "run-test", AS_OF, clock, outcome_labels())
        [outcome] = sync_source(db, STREET_FILES, ctx)
    return outcome


def _kept(settings: Settings) -> dict[str, int]:
    with connect(settings.database.path) as db:
        return {
            status: int(n)
            for status, n in db.rows("SELECT status, count(*) FROM load_ledger GROUP BY 1")
        } | {"quarantine": int(db.scalar("SELECT count(*) FROM quarantine"))}


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


class _Recorder:
    """Serves the month with an ETag, answering 304 to a matching If-None-Match, and records
    each request's validators."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.sent: list[str | None] = []

    def __call__(self, request: Request) -> Response:
        self.sent.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        return Response(self.body, content_type="text/csv", headers={"ETag": '"v1"'})


@contextlib.contextmanager
def _tmpfs(where: Path, options: str) -> Iterator[Path]:
    """A tmpfs of its own mounted at ``where`` (root with CAP_SYS_ADMIN only): skipped where it
    cannot be mounted, failed instead under SAFER_REQUIRE_TMPFS=1 (.ci/run runs as root)."""
    where.mkdir(exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        reason = f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}"
        if os.environ.get("SAFER_REQUIRE_TMPFS") == "1":
            pytest.fail(f"{reason} (SAFER_REQUIRE_TMPFS=1)")
        pytest.skip(reason)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """``tmp_path/var`` on a 64 MB tmpfs of its own."""
    with _tmpfs(tmp_path / "var", "size=64m") as var:
        yield var


def test_a_full_disk_while_staging_fails_the_unit_and_the_next_run_fetches_it_whole(
    tmp_path: Path, small_disk: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    body = street_bytes(JUNE)
    server = _Recorder(body)
    httpserver.expect_request(PATH).respond_with_handler(server)
    settings = load_config(write_config(tmp_path, httpserver.url_for(""), [JUNE]))
    # Leave room for the download and not for its staged copy.
    filler = small_disk / "filler"
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    filler.write_bytes(b"\0" * (free - len(body) - 256 * 1024))

    full = _sync(settings, clock)

    assert full.outcome == "failed"
    assert "a fault on this machine, not in the file" in full.message
    assert "No space left on device" in full.message
    assert "next run fetches the file again" in full.message
    assert _kept(settings) == {"failed": 1, "quarantine": 0}
    assert _files(small_disk / "staging") == []
    assert _files(small_disk / "landing") == []

    filler.unlink()  # the operator frees the disk
    mended = _sync(settings, clock)

    assert mended.outcome == "loaded", mended.message
    assert server.sent == [None, None]  # no conditional GET against a month never promoted
    assert _kept(settings) == {"failed": 1, "loaded": 1, "quarantine": 0}
    assert _sync(settings, clock).outcome == "unchanged"
    assert server.sent[-1] == '"v1"'  # the batch in use is the one validated


def test_a_download_the_disk_refuses_is_a_job_error_not_a_quarantine(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    server = _Recorder(street_bytes(JUNE))
    httpserver.expect_request(PATH).respond_with_handler(server)
    settings = load_config(write_config(tmp_path, httpserver.url_for(""), [JUNE]))
    landing = settings.paths.data_dir / "landing" / "police_uk_street" / JUNE
    landing.mkdir(parents=True)
    # Every write to /dev/full fails with ENOSPC, as a full disk's do.
    (landing / f"{JUNE}-cheshire-street.csv.download.part").symlink_to("/dev/full")

    full = _sync(settings, clock)

    assert full.outcome == "failed"
    assert "No space left on device" in full.message
    assert _kept(settings) == {"failed": 1, "quarantine": 0}
    assert _files(landing) == []
    assert _sync(settings, clock).outcome == "loaded"


def test_a_quarantined_month_is_fetched_whole_not_validated_against_its_etag(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    bad = street_bytes(JUNE).replace(b",2025-06,", b",2025-05,", 3)
    server = _Recorder(bad)
    httpserver.expect_request(PATH).respond_with_handler(server)
    settings = load_config(write_config(tmp_path, httpserver.url_for(""), [JUNE]))
    assert _sync(settings, clock).outcome == "quarantined"

    again = _sync(settings, clock)

    assert server.sent == [None, None]
    assert (again.outcome, again.message) == ("quarantined", "unchanged since it was quarantined")
    server.body = street_bytes(JUNE)  # the publisher corrects it, keeping the ETag
    assert _sync(settings, clock).outcome == "loaded"


def test_a_read_only_data_folder_is_one_line_naming_it_not_a_traceback(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/unused", ["2025-01"])
    var = tmp_path / "var"  # data_dir = "var" in the config
    with _tmpfs(var, "ro,size=1m"):
        done = subprocess.run(
            [sys.executable, "-m", "safer", "run", "--config", str(config)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    errors = [json.loads(x)["message"] for x in done.stderr.splitlines() if '"ERROR"' in x]
    assert len(errors) == 1 and str(var) in errors[0], errors
    assert "Read-only file system" in errors[0], errors

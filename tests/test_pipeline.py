"""The street pipeline against a real loopback HTTP server and real DuckDB files."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from safer.app.batch import sync_source
from safer.indicators.measure import outcome_labels
from safer.kernel.config import Settings, load_config
from safer.pipelines.areas import force_areas, load_forces, load_lookup
from safer.pipelines.police_uk import STREET as STREET_FILES
from safer.pipelines.source import BatchOutcome, SourceContext
from safer.store.db import Database, connect
from tests.conftest import STREET, street_bytes, write_config

Clock = Callable[[], dt.datetime]
JUNE = "2025-06"
AS_OF = dt.date(2025, 7, 20)
PATH = f"/{JUNE}/{JUNE}-cheshire-street.csv"


def _settings(tmp_path: Path, base_url: str, months: list[str] | None = None) -> Settings:
    return load_config(write_config(tmp_path, base_url, months or [JUNE]))


def _sync(settings: Settings, clock: Clock, as_of: dt.date = AS_OF) -> list[BatchOutcome]:
    with connect(settings.database.path) as db:
        load_lookup(db)
        load_forces(db)
        force_areas(db, settings.force.pfa_code)
        ctx = SourceContext(settings, "run-test", as_of, clock, outcome_labels())
        return sync_source(db, STREET_FILES, ctx)


def _db(settings: Settings) -> Database:
    return connect(settings.database.path)


def _published_rows(month: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(street_bytes(month).decode("utf-8-sig"))))


def test_it_loads_a_published_month_and_records_it(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    body = street_bytes(JUNE)
    httpserver.expect_request(PATH).respond_with_data(body, content_type="text/csv")
    settings = _settings(tmp_path, httpserver.url_for(""))

    [outcome] = _sync(settings, clock)

    assert outcome.outcome == "loaded"
    with _db(settings) as db:
        rows = db.scalar("SELECT count(*) FROM police_street WHERE period = DATE '2025-06-01'")
        ledger = db.dicts("SELECT * FROM load_ledger")
    assert rows == len(_published_rows(JUNE)) == 7323
    [entry] = ledger
    assert entry["status"] == "loaded"
    assert entry["rows"] == 7323
    assert entry["url"].endswith(PATH)
    assert Path(entry["file_path"]).read_bytes() == body  # the raw file is kept as landed
    assert entry["batch_id"].endswith(entry["content_hash"][:12])


def test_it_counts_rows_outside_the_forces_areas_without_dropping_them(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    httpserver.expect_request(PATH).respond_with_data(street_bytes(JUNE), content_type="text/csv")
    settings = _settings(tmp_path, httpserver.url_for(""))
    _sync(settings, clock)
    cheshire = {"Cheshire East", "Cheshire West and Chester", "Halton", "Warrington"}
    outside = sum(1 for r in _published_rows(JUNE) if r["LSOA name"][:-5].strip() not in cheshire)
    with _db(settings) as db:
        stored = db.scalar("SELECT count(*) FROM police_street WHERE csp_code IS NULL")
        ledger = db.scalar("SELECT outside_area_rows FROM load_ledger")
    assert outside > 0
    assert stored == ledger == outside


def test_it_retries_a_503_and_then_loads(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_data("busy", status=503)
    httpserver.expect_ordered_request(PATH).respond_with_data(
        street_bytes(JUNE), content_type="text/csv"
    )
    settings = _settings(tmp_path, httpserver.url_for(""))

    [outcome] = _sync(settings, clock)

    assert outcome.outcome == "loaded"
    assert len(httpserver.log) == 2


def test_a_month_not_published_yet_is_not_a_failure(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    httpserver.expect_request(PATH).respond_with_data("Not Found", status=404)
    settings = _settings(tmp_path, httpserver.url_for(""))

    [outcome] = _sync(settings, clock)

    assert outcome.outcome == "not_yet_available"
    with _db(settings) as db:
        assert db.scalar("SELECT count(*) FROM load_ledger") == 0


def test_an_html_page_instead_of_the_csv_fails_clearly(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    httpserver.expect_request(PATH).respond_with_data(
        "<html><body>Service unavailable</body></html>", content_type="text/html"
    )
    settings = _settings(tmp_path, httpserver.url_for(""))

    [outcome] = _sync(settings, clock)

    assert outcome.outcome == "failed"
    assert "HTML" in outcome.message and PATH in outcome.message
    with _db(settings) as db:
        [(status, error)] = db.rows("SELECT status, error FROM load_ledger")
        assert db.scalar("SELECT count(*) FROM police_street") == 0
    assert status == "failed" and "HTML" in error


def test_a_truncated_file_is_quarantined_naming_file_line_and_check(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    body = street_bytes(JUNE)
    cut = body[: len(body) // 2]
    cut = cut[: cut.rfind(b"\n") + 40]  # stop part-way through a row, as a dropped download does
    httpserver.expect_request(PATH).respond_with_data(cut, content_type="text/csv")
    settings = _settings(tmp_path, httpserver.url_for(""))

    [outcome] = _sync(settings, clock)

    assert outcome.outcome == "quarantined"
    assert "parses_as_csv" in outcome.message and f"{JUNE}-cheshire-street" in outcome.message
    with _db(settings) as db:
        [(check, message, sample, file_path)] = db.rows(
            "SELECT check_id, message, sample, file_path FROM quarantine"
        )
        assert db.scalar("SELECT count(*) FROM police_street") == 0
    last_line = cut.count(b"\n") + 1
    assert check == "parses_as_csv"
    assert json.loads(sample)[0]["line"] == last_line
    assert "1 failing" in message
    assert Path(file_path).is_file()


def test_a_second_sync_changes_nothing(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    httpserver.expect_request(PATH).respond_with_data(street_bytes(JUNE), content_type="text/csv")
    settings = _settings(tmp_path, httpserver.url_for(""))
    _sync(settings, clock)
    with _db(settings) as db:
        before = db.rows("SELECT * FROM police_street ORDER BY record_no")

    [outcome] = _sync(settings, clock)

    assert outcome.outcome == "unchanged"
    with _db(settings) as db:
        assert db.rows("SELECT * FROM police_street ORDER BY record_no") == before
        assert db.scalar("SELECT count(*) FROM load_ledger") == 1


def test_a_revised_month_replaces_the_old_rows_and_is_recorded_as_a_revision(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    body = street_bytes(JUNE)
    lines = body.splitlines(keepends=True)
    revised = b"".join(lines[:-50])  # the force withdrew 50 records
    httpserver.expect_ordered_request(PATH).respond_with_data(body, content_type="text/csv")
    httpserver.expect_ordered_request(PATH).respond_with_data(revised, content_type="text/csv")
    settings = _settings(tmp_path, httpserver.url_for(""))
    [first] = _sync(settings, clock)

    [second] = _sync(settings, clock)

    assert second.outcome == "revised"
    with _db(settings) as db:
        assert db.scalar("SELECT count(*) FROM police_street") == 7323 - 50
        assert db.scalar("SELECT count(DISTINCT batch_id) FROM police_street") == 1
        revision_of = db.scalar("SELECT revision_of FROM load_ledger WHERE status = 'revised'")
    assert revision_of == first.batch_id


def test_a_bad_revision_is_quarantined_and_the_previous_good_data_stays(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    body = street_bytes(JUNE)
    bad = body.replace(b",2025-06,", b",2025-05,", 3)  # three rows claim another month
    httpserver.expect_ordered_request(PATH).respond_with_data(body, content_type="text/csv")
    httpserver.expect_ordered_request(PATH).respond_with_data(bad, content_type="text/csv")
    settings = _settings(tmp_path, httpserver.url_for(""))
    [first] = _sync(settings, clock)

    [second] = _sync(settings, clock)

    assert second.outcome == "quarantined"
    assert "month_is_file_month" in second.message
    with _db(settings) as db:
        assert db.scalar("SELECT DISTINCT batch_id FROM police_street") == first.batch_id
        assert db.scalar("SELECT count(*) FROM police_street") == 7323
        [(sample,)] = db.rows(
            "SELECT sample FROM quarantine WHERE check_id = 'month_is_file_month'"
        )
    assert [row["Month"] for row in json.loads(sample)] == ["2025-05"] * 3


def test_a_local_folder_of_gzipped_months_works_as_a_source(tmp_path: Path, clock: Clock) -> None:
    settings = _settings(tmp_path, str(STREET), ["2025-05:2025-06"])

    outcomes = _sync(settings, clock)

    assert [o.outcome for o in outcomes] == ["loaded", "loaded"]
    with _db(settings) as db:
        assert db.scalar("SELECT count(*) FROM police_street") == 6940 + 7323


@pytest.mark.parametrize("revisit", [0, 1])
def test_only_recent_loaded_months_are_revisited(
    tmp_path: Path, clock: Clock, revisit: int
) -> None:
    settings = _settings(tmp_path, str(STREET), ["2025-04:2025-06"])
    settings = settings.model_copy(
        update={
            "sources": settings.sources.model_copy(
                update={
                    "police_uk_street": settings.sources.police_uk_street.model_copy(
                        update={"revisit_months": revisit}
                    )
                }
            )
        }
    )
    _sync(settings, clock)

    again = _sync(settings, clock)

    expected = [6] if revisit == 0 else [5, 6]
    assert [o.period.month for o in again] == expected


def _with_asb_rows_twice(body: bytes) -> bytes:
    """The month republished with every ASB row twice (ASB has no Crime ID to repeat)."""
    lines = body.splitlines(keepends=True)
    asb = [line for line in lines[1:] if b",Anti-social behaviour," in line]
    return b"".join([*lines, *asb])


def _publish_then_double_asb(httpserver: HTTPServer) -> None:
    """June as published, then republished with its ASB rows twice."""
    body = street_bytes(JUNE)
    httpserver.expect_ordered_request(PATH).respond_with_data(body, content_type="text/csv")
    doubled = _with_asb_rows_twice(body)
    httpserver.expect_ordered_request(PATH).respond_with_data(doubled, content_type="text/csv")


def _asb_rows(settings: Settings) -> int:
    with _db(settings) as db:
        return int(
            db.scalar(
                "SELECT count(*) FROM police_street WHERE crime_type = 'Anti-social behaviour'"
            )
        )


def test_a_revision_that_moves_the_month_too_far_is_held_and_the_version_in_use_stays(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    _publish_then_double_asb(httpserver)
    settings = _settings(tmp_path, httpserver.url_for(""))
    [first] = _sync(settings, clock)
    before = _asb_rows(settings)

    [second] = _sync(settings, clock)

    assert (first.outcome, second.outcome) == ("loaded", "quarantined")
    assert "revision_within_tolerance" in second.message
    assert f"asb_in_use {before}" in second.message and f"asb_now {2 * before}" in second.message
    assert _asb_rows(settings) == before
    with _db(settings) as db:
        assert db.scalar("SELECT count(DISTINCT batch_id) FROM police_street") == 1


def test_a_small_revision_is_loaded_and_the_tolerance_is_the_operators(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    _publish_then_double_asb(httpserver)
    config = write_config(tmp_path, httpserver.url_for(""), [JUNE])
    text = config.read_text().replace("min_rows = 100", "min_rows = 100\nrevision_tolerance = 1.5")
    config.write_text(text)
    settings = load_config(config)
    _sync(settings, clock)

    [second] = _sync(settings, clock)

    assert second.outcome == "revised", second.message


def test_a_month_whose_rows_lie_mostly_in_another_force_is_held_back(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    rows = _published_rows(JUNE)
    for row in rows[: len(rows) * 3 // 4]:
        row["LSOA name"] = "Manchester 001A"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    httpserver.expect_request(PATH).respond_with_data(
        out.getvalue().encode(), content_type="text/csv"
    )
    settings = _settings(tmp_path, httpserver.url_for(""))

    [outcome] = _sync(settings, clock)

    assert outcome.outcome == "quarantined", outcome.message
    assert "rows_mostly_in_force" in outcome.message
    with _db(settings) as db:
        assert db.scalar("SELECT count(*) FROM police_street") == 0

"""The outcomes and stop-and-search files, and the API asked before any download: real files
(or the marked example outcomes) over a real loopback HTTP server."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from safer.app.sync import sync_all
from safer.indicators.definitions import load_catalogue
from safer.indicators.measure import load_outcome_groups, measure, outcome_labels
from safer.kernel.config import Settings, load_config
from safer.pipelines.areas import force_areas, load_forces, load_lookup
from safer.pipelines.http import RateLimiter
from safer.pipelines.police_uk_outcomes import OUTCOMES
from safer.pipelines.police_uk_stop_search import STOP_SEARCH
from safer.pipelines.source import BatchOutcome
from safer.store.db import connect
from tests.conftest import ROOT, write_config

Clock = Callable[[], dt.datetime]
SEARCHES = ROOT / "data" / "police-uk" / "stop-and-search"
OUTCOME_FILES = ROOT / "data" / "examples" / "police-uk-outcomes"
FORCE = "E23000006"


def _bytes(folder: Path, name: str) -> bytes:
    return gzip.decompress((folder / f"{name}.gz").read_bytes())


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def _settings(tmp_path: Path, base_url: str, extra: str) -> Settings:
    return load_config(write_config(tmp_path, base_url, ["2025-01"], extra=extra, street=False))


def _sync(settings: Settings, clock: Clock, as_of: dt.date) -> list[BatchOutcome]:
    with connect(settings.database.path) as db:
        load_lookup(db)
        load_forces(db)
        force_areas(db, FORCE)
        load_outcome_groups(db)
        return sync_all(db, settings, "run-1", as_of, clock, outcome_labels())


def _source_table(base_url: str, name: str, months: str) -> str:
    return (
        f'\n[sources.{name}]\nbase_url = "{base_url}"\nmonths = ["{months}"]\n'
        "retries = 0\nbackoff_seconds = 0\n"
    )


def test_real_stop_and_search_months_load_and_give_the_force_figures(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    for month in ("2018-10", "2018-11", "2018-12"):
        name = f"{month}-cheshire-stop-and-search.csv"
        httpserver.expect_request(f"/{month}/{name}").respond_with_data(
            _bytes(SEARCHES, name), content_type="text/csv"
        )
    extra = _source_table(httpserver.url_for(""), "police_uk_stop_search", "2018-10:2018-12")
    settings = _settings(tmp_path, httpserver.url_for(""), extra)

    outcomes = _sync(settings, clock, dt.date(2019, 1, 20))

    assert [(o.slot, o.outcome) for o in outcomes] == [
        ("2018-10", "loaded"),
        ("2018-11", "loaded"),
        ("2018-12", "loaded"),
    ]
    rows = [
        row
        for month in ("10", "11", "12")
        for row in _rows(_bytes(SEARCHES, f"2018-{month}-cheshire-stop-and-search.csv"))
    ]
    catalogue = load_catalogue()
    with connect(settings.database.path) as db:
        count = measure(db, catalogue.get("stop_search_count"), FORCE, STOP_SEARCH)
        finds = measure(db, catalogue.get("stop_search_find_rate"), FORCE, STOP_SEARCH)
        arrests = measure(db, catalogue.get("stop_search_arrest_rate"), FORCE, STOP_SEARCH)
    q3 = (FORCE, dt.date(2018, 10, 1))
    assert count.periods[q3].value == len(rows) == 592
    linked = sum(r["Outcome linked to object of search"] == "True" for r in rows)
    assert finds.periods[q3].numerator == linked and finds.periods[q3].denominator == len(rows)
    assert arrests.periods[q3].numerator == sum(r["Outcome"] == "Arrest" for r in rows)
    assert list(count.periods) == [q3], "force-wide: no partnership figures"


@pytest.mark.parametrize(
    ("field", "value", "check"),
    [
        ("Type", "Horse search", "type_known"),
        ("Date", "2018-11-30T23:00:00+00:00", "date_in_file_month"),
        ("Outcome linked to object of search", "Yes", "outcome_linked_to_true_or_false"),
    ],
)
def test_a_bad_stop_and_search_row_quarantines_the_month_naming_the_row(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock, field: str, value: str, check: str
) -> None:
    name = "2018-12-cheshire-stop-and-search.csv"
    rows = _rows(_bytes(SEARCHES, name))
    rows[4][field] = value
    out = io.StringIO()
    writer = csv.DictWriter(out, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    httpserver.expect_request(f"/2018-12/{name}").respond_with_data(
        out.getvalue(), content_type="text/csv"
    )
    extra = _source_table(httpserver.url_for(""), "police_uk_stop_search", "2018-12")
    settings = _settings(tmp_path, httpserver.url_for(""), extra)

    [outcome] = _sync(settings, clock, dt.date(2019, 1, 20))

    assert outcome.outcome == "quarantined"
    assert check in outcome.message and "record_no 5" in outcome.message, outcome.message


def test_outcomes_by_month_recorded_map_old_and_new_labels(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    name = "2025-06-cheshire-outcomes.csv"
    rows = _rows(_bytes(OUTCOME_FILES, name))
    # The pre-2014 wording and today's, and a label without its article, must all count as
    # positive: "Offender sentenced as part of another case" was renamed "Suspect charged as
    # part of another case"; "Offender given caution" is "Offender given a caution".
    renamed = [r for r in rows if r["Outcome type"] == "Suspect charged as part of another case"]
    for row in renamed[::2]:
        row["Outcome type"] = "Offender sentenced as part of another case"
    cautions = [r for r in rows if r["Outcome type"] == "Offender given a caution"]
    for row in cautions[::2]:
        row["Outcome type"] = "Offender given caution"
    out = io.StringIO()
    writer = csv.DictWriter(out, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    httpserver.expect_request(f"/2025-06/{name}").respond_with_data(
        out.getvalue(), content_type="text/csv"
    )
    extra = _source_table(httpserver.url_for(""), "police_uk_outcomes", "2025-06")
    settings = _settings(tmp_path, httpserver.url_for(""), extra)

    [outcome] = _sync(settings, clock, dt.date(2025, 7, 31))

    assert outcome.outcome == "loaded", outcome.message
    positive = _positive_labels()
    csps = ("Cheshire East ", "Cheshire West and Chester ", "Halton ", "Warrington ")
    inside = [r for r in rows if r["LSOA name"].startswith(csps)]
    crimes: dict[str, bool] = {}
    for r in inside:
        if r["Outcome type"] in ("Under investigation", "Status update unavailable"):
            continue
        crimes[r["Crime ID"]] = crimes.get(r["Crime ID"], False) or r["Outcome type"] in positive
    with connect(settings.database.path) as db:
        share = measure(db, load_catalogue().get("outcomes_positive_share"), FORCE, OUTCOMES)
    june = share.series[(FORCE, dt.date(2025, 6, 1))]
    assert (june.numerator, june.denominator) == (sum(crimes.values()), len(crimes))
    assert renamed and cautions and sum(crimes.values()) > 0


def _positive_labels() -> set[str]:
    text = (ROOT / "indicators" / "data" / "outcome_groups.csv").read_text(encoding="utf-8")
    labels = {r["label"] for r in csv.DictReader(io.StringIO(text)) if r["positive"] == "true"}
    return labels | {"Offender given caution"}


def _api(httpserver: HTTPServer, last: str, months: list[str]) -> None:
    httpserver.expect_request("/api/crime-last-updated").respond_with_json({"date": last})
    httpserver.expect_request("/api/crimes-street-dates").respond_with_json(
        [{"date": m, "stop-and-search": ["cheshire", "kent"]} for m in months]
    )


def test_the_api_says_which_months_exist_and_an_idle_run_downloads_nothing(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    _api(httpserver, "2018-12-01", ["2018-11", "2018-10"])
    for month in ("2018-10", "2018-11"):
        name = f"{month}-cheshire-stop-and-search.csv"
        httpserver.expect_request(f"/{month}/{name}").respond_with_data(
            _bytes(SEARCHES, name), content_type="text/csv"
        )
    extra = _source_table(httpserver.url_for(""), "police_uk_stop_search", "2018-10:")
    extra += f'\n[sources.police_uk_api]\nbase_url = "{httpserver.url_for("/api")}"\n'
    settings = _settings(tmp_path, httpserver.url_for(""), extra)

    first = _sync(settings, clock, dt.date(2019, 1, 20))

    assert [(o.source, o.outcome) for o in first] == [
        ("police_uk_api", "checked"),
        ("police_uk_stop_search", "loaded"),
        ("police_uk_stop_search", "loaded"),
    ], "2018-12 is wanted but not published: not even asked for"
    asked = [request.path for request, _ in httpserver.log]
    assert "/2018-12/2018-12-cheshire-stop-and-search.csv" not in asked
    httpserver.clear_log()

    second = _sync(settings, clock, dt.date(2019, 1, 21))

    assert [(o.source, o.outcome) for o in second] == [("police_uk_api", "checked")]
    assert "nothing new" in second[0].message
    assert [request.path for request, _ in httpserver.log] == ["/api/crime-last-updated"]


def test_an_api_that_answers_oddly_falls_back_to_trying_every_month(
    tmp_path: Path, httpserver: HTTPServer, clock: Clock
) -> None:
    httpserver.expect_request("/api/crime-last-updated").respond_with_data(
        "<html>Service unavailable</html>", content_type="text/html"
    )
    name = "2018-10-cheshire-stop-and-search.csv"
    httpserver.expect_request(f"/2018-10/{name}").respond_with_data(
        _bytes(SEARCHES, name), content_type="text/csv"
    )
    extra = _source_table(httpserver.url_for(""), "police_uk_stop_search", "2018-10")
    extra += f'\n[sources.police_uk_api]\nbase_url = "{httpserver.url_for("/api")}"\n'
    extra += "retries = 0\n"
    settings = _settings(tmp_path, httpserver.url_for(""), extra)

    api, loaded = _sync(settings, clock, dt.date(2018, 11, 20))

    assert api.outcome == "unavailable" and "HTML page" in api.message
    assert loaded.outcome == "loaded"


def test_the_rate_limiter_spaces_requests_at_most_15_a_second() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(15, clock=lambda: now[0], sleep=sleep)
    for _ in range(31):
        limiter.wait()

    assert len(slept) == 30 and all(s == pytest.approx(1 / 15) for s in slept)
    assert now[0] - 100.0 == pytest.approx(2.0), "31 requests take 2 seconds"

"""The whole job as a user runs it: real HTTP source, real DuckDB file, real SMTP server, CLI."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from demo.server import serve
from safer.app import commands
from safer.app.inputs import inputs_fingerprint
from safer.app.job import ExitCode, RunReport, run
from safer.app.sources import active_catalogue
from safer.indicators.definitions import load_catalogue, load_plans
from safer.kernel.config import load_config
from safer.kernel.periods import quarter_label
from safer.scheduler import main
from safer.store.db import connect
from tests.conftest import ROOT, STREET, write_config

Clock = Callable[[], dt.datetime]
# Two complete quarters a year apart: 2023/24 Q4 (Jan–Mar 2024) and 2024/25 Q4 (Jan–Mar 2025).
MONTHS = ["2024-01:2024-03", "2025-01:2025-03"]
AS_OF = dt.date(2025, 4, 15)
STATE_TABLES = (
    "police_street",
    "source_periods",
    "load_ledger",
    "check_results",
    "quarantine",
    "observations",
    "evaluations",
    "notifications",
    "outbox",
)
ONS = ROOT / "pipelines" / "data" / "lad_csp_pfa_2017.csv"


@pytest.fixture
def source(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A data.police.uk-like HTTP server over a copy of the bundled months (editable)."""
    folder = tmp_path / "published"
    folder.mkdir()
    for path in STREET.glob("202[45]-0[1-3]-*.gz"):
        (folder / path.name).write_bytes(path.read_bytes())
    with serve(folder) as base_url:
        yield base_url, folder


def _state(db_path: Path) -> dict[str, list[tuple[object, ...]]]:
    with connect(db_path) as db:
        return {t: db.rows(f"SELECT * FROM {t} ORDER BY ALL") for t in STATE_TABLES}


def _text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def test_it_emails_one_digest_per_recipient_and_a_second_run_sends_nothing(
    tmp_path: Path,
    source: tuple[str, Path],
    smtp_server: tuple[int, list[EmailMessage]],
    clock: Clock,
) -> None:
    port, received = smtp_server
    settings = load_config(write_config(tmp_path, source[0], MONTHS, smtp_port=port))

    first = run(settings, AS_OF, clock)

    assert first.exit_code is ExitCode.OK
    assert sorted(m["To"] for m in received) == [
        "Halton CSP <halton@example.org>",
        "Performance lead <lead@example.org>",
    ]
    lead = next(m for m in received if "lead@" in m["To"])
    text = _text_part(lead)
    # Halton: 259 ASB incidents / 131,543 residents (mid-2024) against 398 / 129,587 (mid-2023)
    # a year before, −35.9%; the other three CSPs: 1,204 / 1,008,341 against 1,957 / 989,908,
    # −39.6%. Halton's rate fell less than the rest of the force's: slightly off track, and
    # the first quarter judged (there is no 2022/23 Q4 to measure 2023/24 Q4's change on).
    assert lead["Subject"] == "Community safety 2024/25 Q4, Cheshire: 2 newly off track"
    assert (
        "- NEWLY OFF TRACK: ASB incidents per 1,000 residents, Halton, 2024/25 Q4: fell 35.9% on "
        "the same quarter last year; the rest of the force fell 39.6% — worse than plan, within "
        "the 5-point tolerance" in text
    )
    assert "- Cheshire: 1,463 | −37.9% | last year 2,355 | ON TRACK†" in text
    halton = _text_part(next(m for m in received if "halton@" in m["To"]))
    assert "- Halton: 1.97; Force 1.28 | −35.9% | rest of force −39.6%; level 1.19 | " in halton
    assert "Warrington" not in halton
    state = _state(settings.database.path)

    second = run(settings, AS_OF, clock)

    assert second.exit_code is ExitCode.OK
    assert len(received) == 2
    assert second.delivery.stored == ()
    after = _state(settings.database.path)
    for table in STATE_TABLES:
        for a, b in zip(state[table], after[table], strict=True):
            assert a == b, table
    assert {o.outcome for o in second.batches} == {"unchanged"}


def test_export_equals_an_independent_count_over_the_raw_files(
    tmp_path: Path, source: tuple[str, Path], clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, source[0], MONTHS)
    run(load_config(config), AS_OF, clock)
    out = tmp_path / "observations.csv"

    assert main(["export", "--config", str(config), "--out", str(out)]) == 0

    with out.open(encoding="utf-8") as handle:
        exported = {
            (r["area_code"], r["period"]): int(float(r["value"]))
            for r in csv.DictReader(handle)
            if r["indicator"] == "asb_incidents"
        }
    assert exported == _independent_asb_counts(source[1])


def _independent_asb_counts(folder: Path) -> dict[tuple[str, str], int]:
    """ASB rows per CSP and quarter, straight from the raw files with the csv module only."""
    with ONS.open(encoding="utf-8-sig") as handle:
        lookup = {
            r["LAD17NM"]: r["CSP17CD"]
            for r in csv.DictReader(handle)
            if r["PFA17CD"] == "E23000006"
        }
    counts: Counter[tuple[str, str]] = Counter()
    for path in folder.glob("*.csv.gz"):
        text = gzip.decompress(path.read_bytes()).decode("utf-8-sig")
        for row in csv.DictReader(io.StringIO(text)):
            if row["Crime type"] != "Anti-social behaviour":
                continue
            csp = lookup.get(re.sub(r"\s+\d{3}[A-Z]$", "", row["LSOA name"]))
            if csp is None:
                continue
            month = dt.date.fromisoformat(row["Month"] + "-01")
            counts[(csp, quarter_label(month))] += 1
            counts[("E23000006", quarter_label(month))] += 1
    return dict(counts)


def test_outcome_rates_and_rates_per_head_equal_an_independent_count_over_the_raw_files(
    tmp_path: Path, source: tuple[str, Path], clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 16: the positive-outcome rate leaves crimes still awaiting an outcome out of both
    numerator and denominator and counts them; ASB per 1,000 divides by the mid-year estimate
    of the quarter's own financial year (mid-2023 for 2023/24, mid-2024 for 2024/25). Both
    recounted from the raw files and the bundled CSVs with the csv module only."""
    config = write_config(tmp_path, source[0], MONTHS)
    run(load_config(config), AS_OF, clock)
    out = tmp_path / "observations.csv"
    assert main(["export", "--config", str(config), "--out", str(out)]) == 0
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))

    outcomes = _independent_outcome_counts(source[1])
    exported = {
        (r["area_code"], r["period"]): (
            int(float(r["numerator"])),
            int(float(r["denominator"])),
            int(float(r["pending"])),
        )
        for r in rows
        if r["indicator"] == "positive_outcome_rate"
    }
    assert exported == outcomes
    assert outcomes[("E23000006", "2023/24 Q4")][2] > 3000, "2024's files hold pending crimes"
    residents = {
        (r["area_code"], r["period"]): (float(r["denominator"]), r["denominator_note"])
        for r in rows
        if r["indicator"] == "asb_per_1000"
    }
    halton = _independent_residents("E06000006")
    assert residents[("E22000023", "2023/24 Q4")] == (halton[2023] / 1000, "mid-2023 population")
    assert residents[("E22000023", "2024/25 Q4")] == (halton[2024] / 1000, "mid-2024 population")


def _independent_outcome_counts(folder: Path) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(positive, with an outcome, awaiting one) per CSP and quarter, from the raw files."""
    groups = ROOT / "indicators" / "data" / "outcome_groups.csv"
    with groups.open(encoding="utf-8") as handle:
        mapping = {r["label"]: r for r in csv.DictReader(handle)}
    with ONS.open(encoding="utf-8-sig") as handle:
        lookup = {
            r["LAD17NM"]: r["CSP17CD"]
            for r in csv.DictReader(handle)
            if r["PFA17CD"] == "E23000006"
        }
    counts: dict[tuple[str, str], list[int]] = {}
    for path in folder.glob("*.csv.gz"):
        text = gzip.decompress(path.read_bytes()).decode("utf-8-sig")
        for row in csv.DictReader(io.StringIO(text)):
            if row["Crime type"] == "Anti-social behaviour":
                continue
            csp = lookup.get(re.sub(r"\s+\d{3}[A-Z]$", "", row["LSOA name"]))
            if csp is None:
                continue
            group = mapping.get(row["Last outcome category"])
            waiting = group is not None and group["group"] in ("pending", "unknown")
            positive = group is not None and group["positive"] == "true"
            quarter = quarter_label(dt.date.fromisoformat(row["Month"] + "-01"))
            for area in (csp, "E23000006"):
                found = counts.setdefault((area, quarter), [0, 0, 0])
                found[0] += positive
                found[1] += not waiting
                found[2] += waiting
    return {key: (a, b, c) for key, (a, b, c) in counts.items()}


def _independent_residents(la_code: str) -> dict[int, int]:
    """An authority's bundled estimates by mid-year; the later file wins."""
    found: dict[int, int] = {}
    for name in ("la_population.csv", "ons_mid_year_population.csv"):
        with (ROOT / "indicators" / "data" / name).open(encoding="utf-8") as handle:
            for r in csv.DictReader(handle):
                if r["la_code"] == la_code:
                    found[int(r["mid_year"])] = int(r["population"])
    return found


def test_a_corrupted_month_is_quarantined_and_its_figures_withheld(
    tmp_path: Path,
    source: tuple[str, Path],
    smtp_server: tuple[int, list[EmailMessage]],
    clock: Clock,
) -> None:
    base_url, folder = source
    february = folder / "2025-02-cheshire-street.csv.gz"
    text = gzip.decompress(february.read_bytes()).decode("utf-8")
    february.write_bytes(
        gzip.compress(text.replace("Anti-social behaviour", "Antisocial", 5).encode())
    )
    port, received = smtp_server
    settings = load_config(write_config(tmp_path, base_url, MONTHS, smtp_port=port))

    report = run(settings, AS_OF, clock)

    assert report.exit_code is ExitCode.CHECKS_FAILED
    [bad] = [m for m in report.batches if m.outcome == "quarantined"]
    assert "2025-02-cheshire-street" in bad.message and "crime_type_known" in bad.message
    lead = next(m for m in received if "lead@" in m["To"])
    assert lead["Subject"] == "Community safety 2024/25 Q4, Cheshire: 1 newly withheld"
    body = _text_part(lead)
    # Every figure the month feeds is held back for one reason: one line says so.
    assert (
        "- NEWLY WITHHELD: ASB incidents, Positive-outcome rate and Crimes closed with no "
        "suspect identified, all 5 areas; ASB incidents per 1,000 residents, 4 areas, 2024/25 "
        "Q4: the Feb 2025 file failed its data checks." in body
    )
    assert "- All 5 areas: withheld | – | – | WITHHELD" in body
    assert "crime_type_known" not in body, "check ids are the operator's, not the officer's"
    with connect(settings.database.path) as db:
        statuses = db.rows(
            "SELECT DISTINCT status FROM evaluations WHERE period_start = DATE '2025-01-01'"
        )
    assert statuses == [("withheld",)]


def test_a_run_with_a_failing_source_exits_1_and_still_sends_the_digest(
    tmp_path: Path, smtp_server: tuple[int, list[EmailMessage]], clock: Clock
) -> None:
    port, received = smtp_server
    settings = load_config(
        write_config(tmp_path, "http://127.0.0.1:9/nothing-listens", ["2025-01"], smtp_port=port)
    )

    report = run(settings, AS_OF, clock)

    assert report.exit_code is ExitCode.JOB_ERROR
    assert [m.outcome for m in report.batches] == ["failed"]
    with connect(settings.database.path) as db:
        assert db.scalar("SELECT status FROM load_ledger") == "failed"


def test_an_smtp_failure_keeps_the_digest_pending_and_exits_4(
    tmp_path: Path, source: tuple[str, Path], clock: Clock
) -> None:
    from tests.conftest import free_port

    settings = load_config(
        write_config(tmp_path, source[0], ["2025-01:2025-03"], smtp_port=free_port())
    )

    report = run(settings, AS_OF, clock)

    assert report.exit_code is ExitCode.DIGEST_NOT_SENT
    with connect(settings.database.path) as db:
        rows = db.rows("SELECT status, attempts FROM outbox ORDER BY ALL")
    # The first digest used its retries (retries = 2); the second then got one attempt.
    assert rows == [("pending", 1), ("pending", 3)]
    assert all(s.eml_path.is_file() for s in report.delivery.stored)


def test_the_cli_reports_config_errors_with_file_and_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "safer.toml"
    config.write_text('[force]\nid = "Cheshire Police"\npfa_code = "X1"\n', encoding="utf-8")

    code = main(["run", "--config", str(config)])

    assert code == 1
    assert f"{config}: force.id:" in caplog.text
    assert f"{config}: force.pfa_code:" in caplog.text
    assert f"{config}: force.name: Field required" in caplog.text


def test_a_run_with_nothing_new_does_not_import_great_expectations(
    tmp_path: Path, source: tuple[str, Path], clock: Clock
) -> None:
    config = write_config(tmp_path, source[0], ["2025-01"])
    run(load_config(config), AS_OF, clock)
    probe = (
        "import sys, scheduler; "
        f"code = scheduler.main(['run', '--config', {str(config)!r}, '--as-of', '{AS_OF}']); "
        "print(code, 'great_expectations' in sys.modules)"
    )

    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert done.stdout.split()[-2:] == ["0", "False"], done.stderr


def test_a_partnership_missing_from_a_month_withholds_its_quarter_with_the_reason(
    tmp_path: Path,
    source: tuple[str, Path],
    smtp_server: tuple[int, list[EmailMessage]],
    clock: Clock,
) -> None:
    base_url, folder = source
    february = folder / "2025-02-cheshire-street.csv.gz"
    lines = gzip.decompress(february.read_bytes()).decode("utf-8").splitlines(keepends=True)
    kept = [line for line in lines if ",Halton 0" not in line]
    assert len(kept) < len(lines) - 100, "the file had Halton rows to remove"
    february.write_bytes(gzip.compress("".join(kept).encode()))
    port, received = smtp_server
    settings = load_config(write_config(tmp_path, base_url, MONTHS, smtp_port=port))

    report = run(settings, AS_OF, clock)

    assert report.exit_code is ExitCode.CHECKS_FAILED
    assert {m.outcome for m in report.batches} == {"loaded"}, "every file passed its own checks"
    lead = next(m for m in received if "lead@" in m["To"])
    assert lead["Subject"] == "Community safety 2024/25 Q4, Cheshire: 1 newly withheld"
    body = _text_part(lead)
    assert (
        "- data.police.uk street file: figures for Feb 2025 are withheld until the data is fixed"
        " (the 2025-02 source file has no rows for Halton)." in body
    )
    assert "4 areas, 2024/25 Q4: a data check failed: the 2025-02 source file has no rows" in body
    with connect(settings.database.path) as db:
        assert db.rows("SELECT check_id, success FROM check_log WHERE NOT success") == [
            ("areas_present", False)
        ]


def test_an_overdue_release_is_reported_as_missing_data(
    tmp_path: Path,
    source: tuple[str, Path],
    smtp_server: tuple[int, list[EmailMessage]],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base_url, folder = source
    (folder / "2025-02-cheshire-street.csv.gz").unlink()
    port, received = smtp_server
    settings = load_config(write_config(tmp_path, base_url, MONTHS, smtp_port=port))

    report = run(settings, AS_OF, clock)  # 15 April: February was due by 31 March, grace 14 days

    assert report.exit_code is ExitCode.OK
    missing = (
        "Data missing: the data.police.uk street file for 2025-02 was due by 31 Mar 2025 and is"
        " 15 days overdue; 2024/25 Q4 figures stay incomplete until it arrives."
    )
    lead = next(m for m in received if "lead@" in m["To"])
    text = _text_part(lead)
    assert "- data.police.uk street file: Feb 2025 overdue (due by 31 Mar 2025)." in text
    # 2024/25 Q4 is incomplete without February: the latest whole quarter is shown.
    assert lead["Subject"].startswith("Community safety 2023/24 Q4, Cheshire")
    assert missing in caplog.text, "the operator's log says so too"
    # With a longer grace, the same gap is only "not yet published".
    (tmp_path / "relaxed").mkdir()
    extra = "release_grace_days = 30\n"
    text = write_config(tmp_path / "relaxed", base_url, MONTHS).read_text(encoding="utf-8")
    config = tmp_path / "relaxed" / "safer.toml"
    config.write_text(text.replace("backoff_seconds = 0\n", "backoff_seconds = 0\n" + extra))
    later = run(load_config(config), AS_OF, clock)
    assert later.exit_code is ExitCode.OK
    with connect(tmp_path / "relaxed" / "safer.duckdb") as db:
        assert db.rows("SELECT unit FROM run_units WHERE outcome = 'overdue'") == []


def test_an_implausible_change_is_a_warning_beside_the_figure(
    tmp_path: Path,
    source: tuple[str, Path],
    smtp_server: tuple[int, list[EmailMessage]],
    clock: Clock,
) -> None:
    port, received = smtp_server
    # ASB fell 37.9% (2,355 → 1,463): implausible only under a strict 1.5× ratio.
    extra = "[checks]\nplausible_ratio = 1.5\n"
    settings = load_config(write_config(tmp_path, source[0], MONTHS, smtp_port=port, extra=extra))

    report = run(settings, AS_OF, clock)

    assert report.exit_code is ExitCode.OK
    body = _text_part(next(m for m in received if "lead@" in m["To"]))
    # Too few months for a chart: the warning sits on the figure's own line.
    line = next(x for x in body.splitlines() if x.startswith("- Cheshire: 1,463 | "))
    assert line.endswith(
        "DATA WARNING: Cheshire, 2024/25 Q4: 1,463 is far from the same quarter last year"
        " (2,355); check the source."
    )


def test_a_route_to_an_unknown_priority_is_refused_before_any_work(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    extra = '[[recipients]]\nname = "Typo"\nemail = "t@example.org"\npriorities = ["reduce_crim"]\n'
    config = write_config(tmp_path, "http://127.0.0.1:9/unused", ["2025-01"], extra=extra)

    assert main(["run", "--config", str(config)]) == 1

    assert "recipients.2.priorities: 'reduce_crim' is neither a plan priority" in caplog.text
    assert not (tmp_path / "safer.duckdb").exists(), "refused before opening the database"


def test_a_scheduled_source_job_only_loads_and_the_digest_job_evaluates_and_sends(
    tmp_path: Path,
    source: tuple[str, Path],
    smtp_server: tuple[int, list[EmailMessage]],
    monkeypatch: pytest.MonkeyPatch,
    clock: Clock,
) -> None:
    """``[schedule] sources`` fetch and load; ``digest`` evaluates and sends (README)."""
    port, received = smtp_server
    settings = load_config(write_config(tmp_path, source[0], MONTHS, smtp_port=port))
    monkeypatch.setattr(commands, "now", clock)

    assert commands.run_command(settings, AS_OF, "source", "police_uk_street") == 0

    with connect(settings.database.path) as db:
        assert db.scalar("SELECT count(*) FROM source_periods") == 6
        assert db.scalar("SELECT count(*) FROM observations") == 0
        assert db.scalar("SELECT count(*) FROM evaluations") == 0
        assert db.scalar("SELECT count(*) FROM outbox") == 0
    assert received == []

    assert commands.run_command(settings, AS_OF, "digest") == 0

    with connect(settings.database.path) as db:
        assert db.scalar("SELECT count(*) FROM evaluations") > 0
        assert db.scalar("SELECT count(*) FROM load_ledger") == 6, "the digest job fetched nothing"
    assert sorted(m["To"] for m in received) == [
        "Halton CSP <halton@example.org>",
        "Performance lead <lead@example.org>",
    ]


def test_reference_data_loaded_from_a_changed_file_makes_the_next_run_assess_again(
    tmp_path: Path, source: tuple[str, Path], clock: Clock
) -> None:
    """An edited outcome mapping (or population, or ONS lookup) changes figures though no
    source and no .py file changed: the run must not say "nothing changed"."""
    settings = load_config(write_config(tmp_path, source[0], ["2025-01"]))
    run(settings, AS_OF, clock)
    catalogue = active_catalogue(load_catalogue(settings.indicators.catalogue_dir), settings)
    plans = load_plans(settings.indicators.plans_dir, catalogue)
    with connect(settings.database.path) as db:
        # The database as an older mapping file would have left it: its recorded hash, and
        # the last assessed run's inputs computed with it.
        db.execute(
            "UPDATE reference_data SET sha256 = 'an older file' WHERE name = 'outcome_groups.csv'"
        )
        db.execute(
            "UPDATE runs SET inputs = ?", [inputs_fingerprint(db, settings, catalogue, plans)]
        )

    reloaded = run(settings, AS_OF, clock)
    again = run(settings, AS_OF, clock)

    with connect(settings.database.path) as db:
        assess = {
            run_id: db.rows(
                "SELECT outcome FROM run_units WHERE run_id = ? AND unit = 'assess'", [run_id]
            )
            for run_id in (reloaded.run_id, again.run_id)
        }
    assert assess[reloaded.run_id] == [], "the mapping was reloaded: every figure recomputed"
    assert assess[again.run_id] == [("unchanged",)], "and then nothing changed"


def test_export_to_a_missing_folder_is_one_line_naming_the_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9/unused", ["2025-01"])
    out = tmp_path / "missing" / "dir" / "x.csv"

    assert main(["export", "--config", str(config), "--out", str(out)]) == 1

    assert f"{out}: cannot write the export: No such file or directory" in caplog.text
    assert "Traceback" not in caplog.text + capsys.readouterr().err
    assert not out.parent.exists()


def test_another_forces_file_for_the_same_month_lends_no_warning_to_this_forces_figures(
    tmp_path: Path, source: tuple[str, Path], clock: Clock
) -> None:
    """A national database holds every force's file for a month; the warnings shown beside
    this force's figures come from its own files alone."""
    settings = load_config(write_config(tmp_path, source[0], ["2025-01"]))
    run(settings, AS_OF, clock)
    with connect(settings.database.path) as db:
        # Another force's January, loaded later (as `safer backfill --forces all` would).
        db.execute(
            "INSERT INTO load_ledger BY NAME SELECT * REPLACE ('merseyside-2025-01' AS batch_id, "
            "'merseyside' AS force_id, finished_at + INTERVAL 1 HOUR AS finished_at) "
            "FROM load_ledger WHERE source = 'police_uk_street'"
        )
        db.execute(
            "INSERT INTO check_results VALUES ('merseyside-2025-01', 'police_street', "
            "'lsoa_known', 'warning', false, NULL, 1, 'has a Merseyside row out of place')"
        )

    run(settings, AS_OF, clock)

    with connect(settings.database.path) as db:
        shown = db.rows("SELECT DISTINCT data_warning FROM evaluations")
    assert shown and not any("Merseyside" in str(warning) for (warning,) in shown), shown


def _html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def _republish(path: Path, removed: int, relocated: int = 0, area: str = "Cheshire East") -> None:
    """``path`` republished as data.police.uk does: the first ``removed`` of ``area``'s ASB
    rows taken out and the next ``relocated`` moved to an LSOA outside the force."""
    lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines(keepends=True)
    asb = [n for n, line in enumerate(lines) if ",Anti-social behaviour," in line]
    east = [n for n in asb if f",{area} " in lines[n]]
    gone, moved = set(east[:removed]), set(east[removed : removed + relocated])
    assert len(gone) + len(moved) == removed + relocated, "the month had the rows to change"
    kept = [
        line.replace(f",{area} ", ",Manchester ") if n in moved else line
        for n, line in enumerate(lines)
        if n not in gone
    ]
    path.write_bytes(gzip.compress("".join(kept).encode("utf-8")))


def _touch_location(path: Path) -> None:
    """``path`` republished with one row's Location reworded: no figure changes."""
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    assert "On or near " in text
    path.write_bytes(gzip.compress(text.replace("On or near ", "On/near ", 1).encode("utf-8")))


def _changed(report: RunReport) -> list[tuple[str, str]]:
    return [(b.slot, b.outcome) for b in report.batches if b.outcome != "unchanged"]


def test_a_sent_figure_revised_at_source_is_told_once_in_one_line(
    tmp_path: Path,
    source: tuple[str, Path],
    smtp_server: tuple[int, list[EmailMessage]],
    clock: Clock,
) -> None:
    """Issue 15: force ASB 2024/25 Q4 was sent as 1,463; March 2025 is republished with 95 of
    its ASB rows removed or moved out of the force: the lead's next digest says so in one line,
    and the run after, which assesses again, does not say it again."""
    base_url, folder = source
    port, received = smtp_server
    settings = load_config(write_config(tmp_path, base_url, MONTHS, smtp_port=port))
    run(settings, AS_OF, clock)
    assert "- Cheshire: 1,463 | " in _text_part(next(m for m in received if "lead@" in m["To"]))
    _republish(folder / "2025-03-cheshire-street.csv.gz", removed=80, relocated=15)

    second = run(settings, AS_OF, clock)

    assert second.exit_code is ExitCode.OK
    assert _changed(second) == [("2025-03", "revised")]
    notice, halton = (
        next(m for m in received[2:] if who in m["To"]) for who in ("lead@", "halton@")
    )
    assert len(received) == 4
    print(_text_part(notice)[:3000])
    print(_text_part(halton)[:2000])
    # Three of the revised figures changed their status too: the subject counts those moves.
    assert notice["Subject"] == (
        "Community safety 2024/25 Q4, Cheshire: 1 newly off track, 2 worse while off track, "
        "7 revised"
    )
    text, html = _text_part(notice), _html_part(notice)
    line = (
        "ASB incidents, Cheshire, 2024/25 Q4: 1,463 → 1,368 "
        "(data.police.uk street file for Mar 2025 republished)."
    )
    assert [x for x in text.splitlines() if "1,463" in x] == [f"- REVISED: {line}"]
    assert text.index("REVISED SINCE YOUR LAST DIGEST") < text.index("AT A GLANCE")
    assert "- REVISED: ASB incidents, Cheshire East, 2024/25 Q4: 459 → 364 (" in text
    assert "1.09 per 1,000 → 0.86 per 1,000 (" in text, "formatted as the digest formats it"
    assert "- Cheshire: 1,368 | " in text
    assert html.count("1,463") == 1 and f"<strong>Revised</strong>: {line}" in html
    assert html.index("Revised since your last digest") < html.index("At a glance")
    # Halton's own ASB did not change, but the force's figure beside it and the rest of the
    # force it was compared with did: a partnership's officer is told of both.
    # Folded onto its own line, as RFC 5322 allows; Python's parser keeps the folding space.
    assert halton["Subject"].strip() == (
        "Community safety 2024/25 Q4, Halton: 1 worse while off track, 3 revised"
    )
    # Halton is judged on its change against the rest of the force's, which fell further once
    # March lost 95 of Cheshire East's incidents: said once, with the status it moved to.
    assert [x for x in _text_part(halton).splitlines() if x.startswith("- REVISED")] == [
        f"- REVISED: {line}",
        "- REVISED: ASB incidents per 1,000 residents, Cheshire, 2024/25 Q4: 1.28 per 1,000 → "
        "1.20 per 1,000 (data.police.uk street file for Mar 2025 republished).",
        "- REVISED: ASB incidents per 1,000 residents, Halton, 2024/25 Q4: rest of force "
        "−39.6% → −44.4% (data.police.uk street file for Mar 2025 republished). Now off track; "
        "it was slightly off track when last sent.",
    ]
    assert "- Halton: 259; Force 1,368 | " in _text_part(halton)
    _touch_location(folder / "2025-01-cheshire-street.csv.gz")

    third = run(settings, AS_OF, clock)

    assert _changed(third) == [("2025-01", "revised")]
    with connect(settings.database.path) as db:
        skipped = db.rows(
            "SELECT outcome FROM run_units WHERE run_id = ? AND unit = 'assess'", [third.run_id]
        )
    assert skipped == [], "the run assessed the figures again"
    assert third.delivery.stored == () and len(received) == 4, "told once, not again"


def test_a_revised_figure_last_year_that_a_change_was_measured_on_is_told(
    tmp_path: Path,
    source: tuple[str, Path],
    smtp_server: tuple[int, list[EmailMessage]],
    clock: Clock,
) -> None:
    """Halton was sent "259 | −34.9% | last year 398": when March 2024 is republished with 20
    of Halton's ASB rows removed, last year's figure is told as revised (the change it was
    sent was measured on it), and the row now reads the change on the new figure."""
    base_url, folder = source
    port, received = smtp_server
    # March 2024 is 12 months before the newest month: revisited only when asked.
    config = write_config(tmp_path, base_url, MONTHS, smtp_port=port, revisit_months=12)
    settings = load_config(config)
    run(settings, AS_OF, clock)
    first = _text_part(next(m for m in received if "halton@" in m["To"]))
    assert "- Halton: 259; Force 1,463 | −34.9% | last year 398 | " in first
    _republish(folder / "2024-03-cheshire-street.csv.gz", removed=20, area="Halton")

    second = run(settings, AS_OF, clock)

    assert _changed(second) == [("2024-03", "revised")]
    halton = next(m for m in received[2:] if "halton@" in m["To"])
    text = _text_part(halton)
    assert (
        "- REVISED: ASB incidents, Halton, 2023/24 Q4: 398 → 378 (data.police.uk street file "
        "for Mar 2024 republished)." in text.splitlines()
    )
    assert "- Halton: 259; Force 1,463 | −31.5% | last year 378 | " in text


def test_a_revision_held_for_review_then_released_is_told_against_the_figure_sent_before(
    tmp_path: Path,
    source: tuple[str, Path],
    smtp_server: tuple[int, list[EmailMessage]],
    monkeypatch: pytest.MonkeyPatch,
    clock: Clock,
) -> None:
    """A republished March that moves its ASB count by a third is held for review (the quarter
    withheld); once an operator releases it, the figure last sent as a number (1,463) is the
    one the notice compares with, and the release is said on the same line."""
    base_url, folder = source
    port, received = smtp_server
    config = write_config(tmp_path, base_url, MONTHS, smtp_port=port)
    settings = load_config(config)
    monkeypatch.setattr(commands, "now", clock)
    run(settings, AS_OF, clock)
    _republish(folder / "2025-03-cheshire-street.csv.gz", removed=200)
    held = run(settings, AS_OF, clock)
    [batch] = [b for b in held.batches if b.outcome == "quarantined"]
    assert "revision_within_tolerance" in batch.message
    assert not any("REVISED" in _text_part(m) for m in received), "withheld, not revised"

    assert main(["quarantine", "release", batch.batch_id, "--config", str(config)]) == 0
    released = run(settings, AS_OF, clock)

    assert released.exit_code is ExitCode.OK
    lead, halton = (next(m for m in received[4:] if who in m["To"]) for who in ("lead@", "halton@"))
    text = _text_part(lead)
    assert [x for x in text.splitlines() if "ASB incidents, Cheshire, " in x] == [
        "- REVISED: ASB incidents, Cheshire, 2024/25 Q4: 1,463 → 1,263 (data.police.uk street "
        "file for Mar 2025 released after review). Now on track; it was withheld when last sent."
    ]
    # Halton's own figures came back as they were sent: released, and not revised; the
    # force's beside them was revised, and is told.
    text = _text_part(halton)
    assert "- RELEASED: ASB incidents, Halton, 2024/25 Q4: its data now pass" in text
    revised = [x for x in text.splitlines() if x.startswith("- REVISED")]
    assert revised and not any(", Halton, " in x and "rest of force" not in x for x in revised)
    assert "- REVISED: ASB incidents, Cheshire, 2024/25 Q4: 1,463 → 1,263 (" in text

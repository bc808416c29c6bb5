"""What the database holds, measured, checked and judged: the indicators' evaluations and the
digest's data notes (withheld figures, missing releases, warnings, exclusions).

Writes only derived tables (observations, evaluations, flags, run units), so
``safer digest --preview`` runs it on a throwaway copy of the database.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from safer.alerts.notes import DataNote
from safer.app.sources import SOURCES, configured
from safer.checks.cross_source import SUITE, CrossSourceLimits
from safer.checks.gate import GateInput, GateOutcome, check_figures
from safer.checks.models import DataFlag, Severity
from safer.indicators.changes import format_value
from safer.indicators.definitions import Catalogue, Indicator, Plan
from safer.indicators.evaluate import Context, Evaluation, Measured, Status, evaluate
from safer.indicators.flags import flag_effects
from safer.indicators.measure import measure, store_evaluations, withheld_quarters
from safer.indicators.spc import SpcRules
from safer.kernel.clock import Clock
from safer.kernel.config import Settings
from safer.kernel.periods import Grain, parse_month, period_label
from safer.pipelines.freshness import Missing, overdue
from safer.pipelines.source import BatchOutcome, Source
from safer.store.db import Database, DatabaseError

__all__ = ["Assessment", "assess", "record_unit"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assessment:
    evaluations: tuple[Evaluation, ...]
    notes: tuple[DataNote, ...]
    gate: GateOutcome


def assess(
    db: Database,
    settings: Settings,
    catalogue: Catalogue,
    plans: tuple[Plan, ...],
    run_id: str,
    as_of: dt.date,
    clock: Clock,
    area_names: Mapping[str, str],
    batches: Sequence[BatchOutcome] = (),
) -> Assessment:
    """Measure, check and evaluate what the database holds; the digest's data notes too.

    Writes only derived tables (observations, evaluations, flags, run units), so
    ``safer digest --preview`` runs it on a throwaway copy of the database.
    """
    # Measure first so the cross-source checks see this run's figures, then evaluate with
    # their flags.
    measured = _measure_all(db, settings, catalogue, run_id)
    gate = _gate(db, settings, catalogue, area_names, run_id, clock())
    evaluations = _evaluate_all(db, settings, measured, plans, run_id, gate)
    missing = report_missing(db, settings, run_id, as_of, clock(), catalogue)
    notes = _data_notes(db, settings, batches, gate, missing)
    return Assessment(tuple(evaluations), tuple(notes), gate)


def report_missing(
    db: Database,
    settings: Settings,
    run_id: str,
    as_of: dt.date,
    now: dt.datetime,
    catalogue: Catalogue | None = None,
) -> list[Missing]:
    """Releases overdue on ``as_of``: logged, recorded as units and raised to the operator
    (each once); returns them for the digest's notes."""
    from safer.alerts.operator import raise_alert
    from safer.indicators.definitions import load_catalogue

    found = _missing(
        db, settings, catalogue or load_catalogue(settings.indicators.catalogue_dir), as_of
    )
    for item in found:
        logger.warning("%s", item.sentence)
        record_unit(
            db, run_id, f"freshness {item.source} {item.period_name}", "overdue", item.sentence
        )
        key = f"missing:{item.source}:{item.period}:{item.area or '*'}"
        raise_alert(db, key, "data_missing", f"[safer] {item.sentence[:120]}", item.sentence, now)
    return found


def _evaluate_all(
    db: Database,
    settings: Settings,
    measured_all: Mapping[Indicator, Measured],
    plans: tuple[Plan, ...],
    run_id: str,
    gate: GateOutcome,
) -> list[Evaluation]:
    flags = (*gate.flags, *_batch_warnings(db, settings.force.id))
    found: list[Evaluation] = []
    for indicator, measured in measured_all.items():
        held = withheld_quarters(db, indicator.source, indicator.evaluated_grain, settings.force.id)
        withheld, warnings = flag_effects(indicator, flags, held)
        context = Context(
            plans=plans,
            force_code=settings.force.pfa_code,
            withheld=withheld,
            spc_rules=SpcRules(**settings.indicators.spc.model_dump()),
            warnings=warnings,
            pending_margin=settings.indicators.pending_margin_points / 100,
            ghosts=_ghosts(settings),
        )
        evaluations = evaluate(indicator, measured, context)
        changed = store_evaluations(db, indicator.id, evaluations, run_id)
        counts = {s: sum(1 for e in evaluations if e.status is s) for s in Status}
        summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
        logger.info("indicator %s: %s; %d changed", indicator.id, summary or "no figures", changed)
        record_unit(
            db, run_id, f"indicator {indicator.id}", "evaluated", f"{summary}; {changed} changed"
        )
        found += evaluations
    return found


def _measure_all(
    db: Database, settings: Settings, catalogue: Catalogue, run_id: str
) -> dict[Indicator, Measured]:
    """Every indicator with a source, measured; one broken query does not stop the others."""
    found = {}
    for indicator in catalogue.indicators:
        if indicator.sql is None:
            record_unit(
                db, run_id, f"indicator {indicator.id}", "no_source", indicator.source_label
            )
            continue
        try:
            found[indicator] = measure(
                db, indicator, settings.force.pfa_code, SOURCES[indicator.source]
            )
        except DatabaseError as exc:
            logger.error("indicator %s: query failed: %s", indicator.id, exc)
            record_unit(db, run_id, f"indicator {indicator.id}", "failed", str(exc))
    return found


def _gate(
    db: Database,
    settings: Settings,
    catalogue: Catalogue,
    area_names: Mapping[str, str],
    run_id: str,
    now: dt.datetime,
) -> GateOutcome:
    """The cross-source checks over what was measured (skipped when nothing changed)."""
    measured = {i.id: i for i in catalogue.indicators if i.sql is not None}
    limits = CrossSourceLimits(
        plausible_ratio=settings.checks.plausible_ratio,
        far_from_limits=settings.checks.far_from_limits,
        minimum_points=settings.indicators.spc.minimum_points,
    )
    given = GateInput(
        pfa_code=settings.force.pfa_code,
        units={i: ind.unit for i, ind in measured.items()},
        limits=limits,
        area_names=area_names,
        fmt=lambda indicator, value: format_value(measured[indicator], value),
        staging_dir=settings.paths.data_dir / "staging",
        located=tuple(
            (s.id, s.table) for s in configured(settings) if s.area_level == "csp" and s.zero_fill
        ),
    )
    gate = check_figures(db, given, run_id, now)
    record_unit(db, run_id, f"checks {SUITE}", gate.outcome, gate.message)
    return gate


def _batch_warnings(db: Database, force_id: str) -> list[DataFlag]:
    """Warning-level failures of the force's batches in use, shown beside every figure they
    feed. Only the force's: a national database holds every force's files for the same slot
    (a row without a force predates migration 008 and is the configured force's)."""
    rows = db.rows(
        "WITH in_use AS (SELECT source, coalesce(released_batch, batch_id) AS batch_id, periods "
        # A withdrawn file's latest row has no check results: its warnings go with it.
        "FROM load_ledger WHERE status IN ('loaded', 'revised', 'released', 'withdrawn') "
        "AND coalesce(force_id, $1) = $1 "
        "QUALIFY row_number() OVER (PARTITION BY source, slot ORDER BY finished_at DESC) = 1) "
        "SELECT DISTINCT u.source, unnest(u.periods) AS period, c.check_id, c.message, "
        "c.unexpected_count FROM in_use u JOIN check_results c USING (batch_id) "
        "WHERE c.severity = 'warning' AND NOT c.success ORDER BY ALL",
        [force_id],
    )
    return [
        DataFlag(
            check_id,
            Severity.WARNING,
            period,
            f"the {_file_of(source, period)}: {_in_words(message, count)}",
            source=source,
        )
        for source, period, check_id, message, count in rows
    ]


def _in_words(message: str, count: int | None) -> str:
    """'13 rows fail the check that every search has an Outcome', from a check's message
    ('failed: every search has an Outcome (13 failing); e.g. record_no 10, Outcome None'):
    the rule, how many rows break it and the text values of the first (a mistyped name in a
    return), without the row numbers and empty cells an operator reads."""
    rule, _, sample = message.removeprefix("failed: ").partition("; e.g. ")
    example = _example(sample)
    if count is not None:
        rule = rule.split(f" ({count:,} failing)", 1)[0]
        rows = f"{count:,} row{' fails' if count == 1 else 's fail'}"
        return f"{rows} the check that {rule}{example}"
    rule, _, found = rule.partition("; found ")
    return f"fails the check that {rule}" + (f" (found {found})" if found else "") + example


def _example(sample: str) -> str:
    """The quoted text values of the first sample row: "(e.g. 'E22000354', 'Chesire East')"."""
    first = sample.split("; ", 1)[0]
    values = list(dict.fromkeys(re.findall(r"'(?:[^'\\]|\\.)*'", first)))[:3]
    return f" (e.g. {', '.join(values)})" if values else ""


def _file_of(source: str, period: dt.date) -> str:
    found = SOURCES.get(source)
    if found is None or found.grain == "month":
        return f"{period_label(period, 'month')} file"
    return f"{found.label} for {period_label(period, found.grain)}"


def _missing(
    db: Database, settings: Settings, catalogue: Catalogue, as_of: dt.date
) -> list[Missing]:
    """Every configured source's expected periods, neither in use nor quarantined, whose
    release is overdue."""
    found: list[Missing] = []
    for source in configured(settings):
        cfg = source.config(settings)
        assert cfg is not None
        present = {
            row[0]
            for row in db.rows(
                "SELECT period FROM source_periods WHERE source = $1 UNION "
                "SELECT unnest(periods) FROM load_ledger l JOIN quarantine q USING (batch_id) "
                "WHERE l.source = $1 AND q.released_at IS NULL "
                # another force's quarantined month (a national backfill) is not this one's
                "AND coalesce(l.force_id, $2) = $2",
                [source.id, settings.force.id],
            )
        }
        found += overdue(
            source.label,
            source.expected(db, settings, as_of),
            present,
            as_of,
            cfg.release_grace_days,
            functools.partial(source.due, settings),
            source.grain,
            source.id,
        )
        if source.area_level == "csp" and not source.zero_fill:
            grace = cfg.release_grace_days
            found += _partnerships_missing(db, settings, catalogue, source, as_of, grace)
    return found


def _partnerships_missing(
    db: Database,
    settings: Settings,
    catalogue: Catalogue,
    source: Source,
    as_of: dt.date,
    grace: int,
) -> list[Missing]:
    """A return each partnership sends: a partnership with no figures for a period the others
    reported, once that period's return is overdue. (A whole-force file with no rows for a
    partnership is a data error instead: the ``areas_present`` check.)"""
    rows = db.rows(
        """
        WITH mine AS (
            SELECT o.area_code, o.period_start FROM observations o
            JOIN areas a ON a.area_code = o.area_code AND a.area_type = 'csp'
            WHERE o.indicator_id IN (SELECT unnest(?::VARCHAR[]))
              AND o.grain IN ('quarter', 'year')
        ), periods AS (SELECT DISTINCT period_start FROM mine)
        SELECT p.period_start, a.area_name, a.area_code
        FROM periods p CROSS JOIN areas a
        WHERE a.area_type = 'csp' AND a.pfa_code = ?
          AND NOT EXISTS (SELECT 1 FROM mine m WHERE m.area_code = a.area_code
                                                AND m.period_start = p.period_start)
        ORDER BY 1, 2
        """,
        [[i.id for i in catalogue.indicators if i.source == source.id], settings.force.pfa_code],
    )
    found = []
    for period, area, code in rows:
        due = source.due(settings, period)
        late = (as_of - due).days
        if late > grace:
            found.append(
                Missing(source.label, period, due, late, source.grain, source.id, area, code)
            )
    return found


def _data_notes(
    db: Database,
    settings: Settings,
    batches: Sequence[BatchOutcome],
    gate: GateOutcome,
    missing: Sequence[Missing],
) -> list[DataNote]:
    """The digest's caveats, for officers: standing notes, withheld periods, missing releases,
    failed checks and months not yet published. Operator detail (rows outside the force, check
    ids) is logged instead (``_log_outside``) and shown by ``safer status``."""
    notes = []
    for source in configured(settings):
        cfg = source.config(settings)
        if cfg is not None and cfg.note:
            notes.append(DataNote(source.label, "about", cfg.note, source_id=source.id))
        grain: Grain = "year" if source.grain == "year" else "quarter"
        held = withheld_quarters(db, source.id, grain, settings.force.id)
        notes += [
            DataNote(source.label, "withheld", period_label(start, grain), reason)
            for start, reason in held.items()
        ]
    notes += [_missing_note(item) for item in missing]
    notes += [_flag_note(f) for f in gate.flags if f.severity is Severity.ERROR]
    if gate.outcome == "broken":
        notes.append(
            DataNote(
                "",
                "unchecked",
                "the checks across sources could not run this time; the figures are shown "
                "without them and the operator has been told",
            )
        )
    _log_outside(db, settings)
    late = {(m.source, m.period) for m in missing}
    notes += [
        DataNote(SOURCES[b.source].label, "unpublished", b.slot)
        for b in batches
        if b.outcome == "not_yet_available" and (b.source, b.period) not in late
    ]
    return notes


def _flag_note(flag: DataFlag) -> DataNote:
    """A cross-source check that withholds a figure, for the officers of its area."""
    found = SOURCES.get(flag.source or "")
    source = found.label if found is not None else ""
    period = period_label(flag.period, "month")
    return DataNote(source, "withheld", period, flag.sentence, area=flag.area_code)


def _missing_note(item: Missing) -> DataNote:
    """'DEFRA fly-tipping release: 2022/23 overdue (due by 25 Jan 2024)'; a partnership's
    missing return is a note for that partnership's officers (and the force's)."""
    when = f"{item.period:%b %Y}" if item.grain == "month" else item.period_name
    due = f"{item.due:%-d %b %Y}"
    if item.area is None:
        return DataNote(item.label, "missing", when, due)
    return DataNote(item.label, "missing", f"{item.area}'s {when}", due, area=item.area_code)


def _log_outside(db: Database, settings: Settings) -> None:
    """Rows located outside the force's partnerships, per source that locates its rows: the
    operator's to review (``safer status`` shows them too), not an officer's."""
    for source in configured(settings):
        if source.area_level != "csp" or not source.zero_fill:
            continue
        outside = db.scalar(
            "SELECT sum(outside_area_rows) FROM source_periods WHERE source = ?", [source.id]
        )
        if outside:
            logger.info(
                "%s: %s rows located outside the force's Community Safety Partnerships (or with "
                "no location) are excluded from every figure",
                source.id,
                f"{int(outside):,}",
            )


def record_unit(db: Database, run_id: str, unit: str, outcome: str, message: str) -> None:
    """One unit of work's outcome, for ``safer status`` and the operator."""
    db.execute("INSERT INTO run_units VALUES (?, ?, ?, ?)", [run_id, unit, outcome, message])


def _ghosts(settings: Settings) -> dict[tuple[str, str], frozenset[dt.date]]:
    """``[[indicators.ghosts]]`` by indicator and area (``*``: every area)."""
    found: dict[tuple[str, str], set[dt.date]] = defaultdict(set)
    for ghost in settings.indicators.ghosts:
        found[(ghost.indicator, ghost.area or "*")].add(parse_month(ghost.month))
    return {key: frozenset(months) for key, months in found.items()}

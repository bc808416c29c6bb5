"""``safer status``: the last runs, each source's health, what is scheduled next, quarantined
batches and emails not yet sent, for a person or (``--json``) a monitoring tool.

A run holds DuckDB's write lock while it works, which keeps every other process out of the file,
so each run also leaves a snapshot (``{data_dir}/status.json``) of what status would say; during a
run, status shows that snapshot and who holds the run lock. ``--check`` makes it a health check:
exit 0 when healthy, 1 with the reasons otherwise.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from safer.alerts.operator import pending_alerts
from safer.app.conditions import Condition, conditions
from safer.app.lock import held_by
from safer.app.quarantine import list_batches
from safer.app.sources import configured
from safer.kernel.config import Settings
from safer.pipelines.health import source_health
from safer.store.db import Database

__all__ = ["collect", "recheck", "render", "snapshot_path", "write_snapshot"]

SNAPSHOT = "status.json"


def snapshot_path(settings: Settings) -> Path:
    return settings.paths.data_dir / SNAPSHOT


def collect(
    db: Database,
    settings: Settings,
    now: dt.datetime,
    known: Sequence[Condition] | None = None,
) -> dict[str, Any]:
    """Everything status reports, as plain JSON-ready values; ``known`` are the conditions a
    run has just found (so its snapshot does not read every table again)."""
    runs = db.dicts(
        "SELECT run_id, as_of, started_at, finished_at, exit_code, status, summary FROM runs "
        "ORDER BY started_at DESC LIMIT 10"
    )
    found: dict[str, Any] = {
        "checked_at": now,
        "runs": runs,
        "sources": _sources(db, settings),
        "schedule": next_runs(settings.schedule.job_store),
        "quarantined": [
            {"batch_id": b.batch_id, "source": b.source, "period": b.period, "slot": b.slot}
            for b in list_batches(db)
        ],
        "pending_digests": db.dicts(
            "SELECT digest_id, email, status, attempts, last_error FROM outbox "
            "WHERE status IN ('pending', 'sending', 'failed') ORDER BY created_at"
        ),
        "pending_alerts": [
            {"alert": key, "subject": subject, "created_at": created}
            for key, subject, created in pending_alerts(db)
        ],
    }
    # What keeps the job from its work (safer.conditions), kept in the snapshot too.
    held = conditions(db, settings, now) if known is None else known
    found["conditions"] = [c.text for c in held]
    found["problems"] = _problems(found, settings, now)
    found["healthy"] = not found["problems"]
    plain: dict[str, Any] = _plain(found)
    return plain


def _sources(db: Database, settings: Settings) -> list[dict[str, Any]]:
    health = source_health(db)
    periods = {
        source: (count, newest, int(outside or 0))
        for source, count, newest, outside in db.rows(
            "SELECT source, count(*), max(period), sum(outside_area_rows) FROM source_periods "
            "GROUP BY source"
        )
    }
    found = []
    for source in configured(settings):
        mine = health.get(source.id)
        count, newest, outside = periods.get(source.id, (0, None, 0))
        found.append(
            {
                "source": source.id,
                "periods_in_use": count,
                "newest_period": newest,
                # Rows placed outside the force's partnerships (or with no location): excluded
                # from every figure, and the operator's to review, not the officers'.
                "outside_area_rows": outside,
                "consecutive_failures": mine.consecutive_failures if mine else 0,
                "last_success_at": mine.last_success_at if mine else None,
                "last_failure_at": mine.last_failure_at if mine else None,
                "last_error": mine.last_error if mine else None,
                "next_attempt_at": mine.next_attempt_at if mine else None,
            }
        )
    return found


def next_runs(job_store: Path) -> list[dict[str, Any]]:
    """The scheduler's jobs and when each fires next, read from its SQLite job store."""
    if not job_store.is_file():
        return []
    try:
        with sqlite3.connect(f"file:{job_store}?mode=ro", uri=True) as con:
            rows = con.execute(
                "SELECT id, next_run_time FROM apscheduler_jobs ORDER BY next_run_time"
            ).fetchall()
    except sqlite3.Error:
        return []
    return [
        {"job": job, "next_run_at": dt.datetime.fromtimestamp(when, dt.UTC) if when else None}
        for job, when in rows
    ]


def recheck(found: dict[str, Any], settings: Settings, now: dt.datetime) -> dict[str, Any]:
    """A snapshot's problems judged again at ``now``: a run holding the database for hours (or
    hung) must not hide that no run has succeeded within the window since the snapshot."""
    problems = _problems(found, settings, now)
    return {**found, "problems": problems, "healthy": not problems}


def _problems(found: dict[str, Any], settings: Settings, now: dt.datetime) -> list[str]:
    """What needs attention in ``found``, from ``collect`` or from a snapshot (plain values)."""
    problems = []
    runs = found["runs"]
    if runs and runs[0]["exit_code"] == 1:
        problems.append(f"the last run ({runs[0]['run_id']}) failed")
    ok = [r for r in runs if r["exit_code"] in (0, 3, 4) and r["finished_at"]]
    window = dt.timedelta(hours=settings.operator.expected_run_hours)
    if not ok:
        problems.append("no run has succeeded yet")
    elif now - (finished := _moment(ok[0]["finished_at"])) > window:
        problems.append(f"no successful run since {finished:%Y-%m-%d %H:%M %Z}")
    for source in found["sources"]:
        if source["consecutive_failures"] >= settings.operator.failures_in_a_row:
            problems.append(
                f"{source['source']} has failed {source['consecutive_failures']} runs in a row"
            )
    return problems + list(found.get("conditions", []))


def _moment(value: dt.datetime | str) -> dt.datetime:
    """A time from the database, or as a snapshot holds it (ISO text, ``_plain``)."""
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def write_snapshot(found: dict[str, Any], path: Path) -> None:
    """Atomically, so a status read during a write sees the old snapshot or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    temp.write_text(json.dumps(found, indent=2, default=str), encoding="utf-8")
    temp.replace(path)


def read_snapshot(settings: Settings) -> dict[str, Any] | None:
    path = snapshot_path(settings)
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def in_progress(settings: Settings) -> str | None:
    holder = held_by(settings.paths.data_dir)
    return holder.describe() if holder else None


def render(found: dict[str, Any]) -> list[str]:
    """The report as lines for a terminal."""
    verdict = "healthy" if found["healthy"] else "NEEDS ATTENTION"
    lines = [f"safer status at {found['checked_at']}: {verdict}"]
    lines += [f"  problem: {p}" for p in found["problems"]]
    if found.get("running"):
        lines.append(f"  a run is in progress: {found['running']} (figures as of its start)")
    lines += ["", "last runs"]
    for r in found["runs"][:5]:
        lines.append(
            f"  {r['run_id']}  as of {r['as_of']}  exit {r['exit_code']}  "
            f"{r['status'] or 'running or killed'}  {r['summary'] or ''}".rstrip()
        )
    lines += ["", "sources"]
    for s in found["sources"]:
        state = "ok" if not s["consecutive_failures"] else f"{s['consecutive_failures']} failures"
        lines.append(
            f"  {s['source']}: {s['periods_in_use']} periods in use, newest "
            f"{s['newest_period'] or '-'}; {state}"
            + (
                f"; {s['outside_area_rows']:,} rows outside the force"
                if s.get("outside_area_rows")
                else ""
            )
            + (f"; next try {s['next_attempt_at']}" if s["next_attempt_at"] else "")
            + (f"; last error: {s['last_error']}" if s["consecutive_failures"] else "")
        )
    lines += ["", "scheduled"] + (
        [f"  {j['job']}: next at {j['next_run_at']}" for j in found["schedule"]]
        or ["  nothing (no `safer schedule` job store yet)"]
    )
    lines += ["", f"quarantined batches: {len(found['quarantined'])}"]
    lines += [f"  {q['batch_id']}" for q in found["quarantined"]]
    lines += [f"emails not sent: {len(found['pending_digests'])} digests"]
    lines += [
        f"  {d['digest_id']} to {d['email']}: {d['status']}" for d in found["pending_digests"]
    ]
    lines += [f"operator alerts not sent: {len(found['pending_alerts'])}"]
    lines += [f"  {a['subject']}" for a in found["pending_alerts"]]
    return lines


def _plain(value: Any) -> Any:
    """Dates and times as ISO text, so the report is the same in JSON and on a terminal."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value

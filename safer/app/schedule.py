"""``safer schedule``: a long-running APScheduler 3.x process firing the job on cron triggers.

Triggers come from ``[schedule]`` in Europe/London time, so a 07:00 run stays at 07:00 across the
March and October clock changes. Jobs live in a persistent SQLite job store, so runs missed while
the process was down are caught up once at start (coalesced; no misfire grace limit), and a
firing that finds another run holding the lock is skipped, not queued.

APScheduler's trap (gx-duckdb-probe.md §9): ``add_job(..., replace_existing=True)`` at start-up
overwrites the stored next run time and silently drops every missed run. Jobs are therefore added
once, inside ``start()`` (``EVENT_SCHEDULER_STARTED``), and kept when they exist; a job whose
trigger the config changed is rescheduled on purpose, and one the config no longer has removed.
Job functions are referenced by name (``safer.app.schedule:fire``), as the store pickles jobs; a
stored job naming the function as releases before 0.2 did (``safer.schedule:fire``) is loaded
through ``safer.schedule`` and moved to the new name at start.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safer.kernel.clock import LONDON
from safer.kernel.config import Settings

__all__ = [
    "LONDON",
    "ScheduledJob",
    "build_scheduler",
    "finish_firings",
    "fire",
    "planned_jobs",
    "schedule_command",
]

logger = logging.getLogger(__name__)

TARGET = "safer.app.schedule:fire"
CHECK_CRON = "17 * * * *"
"""The hourly self-check: no successful run within the expected window is reported."""


@dataclass(frozen=True)
class ScheduledJob:
    id: str
    cron: str
    kind: str
    """run (everything) | source (one source's fetch and load) | digest | check."""
    source: str | None = None


def planned_jobs(settings: Settings) -> list[ScheduledJob]:
    """The jobs ``[schedule]`` asks for, plus the hourly self-check."""
    schedule = settings.schedule
    jobs = []
    if schedule.run:
        jobs.append(ScheduledJob("run", schedule.run, "run"))
    for source, cron in sorted(schedule.sources.items()):
        jobs.append(ScheduledJob(f"source:{source}", cron, "source", source))
    if schedule.digest:
        jobs.append(ScheduledJob("digest", schedule.digest, "digest"))
    jobs.append(ScheduledJob("check", CHECK_CRON, "check"))
    return jobs


def build_scheduler(
    settings: Settings, config_path: Path, *, blocking: bool = True, target: str = TARGET
) -> Any:
    """A scheduler on the config's job store whose jobs are put in place when it starts."""
    from apscheduler.events import EVENT_SCHEDULER_STARTED
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    store = settings.schedule.job_store
    store.parent.mkdir(parents=True, exist_ok=True)
    kind = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = kind(
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{store}")},
        job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        timezone=LONDON,
    )
    jobs = planned_jobs(settings)
    scheduler.add_listener(
        _ensure_jobs(scheduler, jobs, str(config_path.resolve()), target),
        EVENT_SCHEDULER_STARTED,
    )
    return scheduler


def _ensure_jobs(
    scheduler: Any, jobs: list[ScheduledJob], config: str, target: str
) -> Callable[[Any], None]:
    from apscheduler.jobstores.base import ConflictingIdError
    from apscheduler.triggers.cron import CronTrigger

    def ensure(_event: Any) -> None:
        wanted = {job.id for job in jobs}
        for stored in scheduler.get_jobs():
            if stored.id not in wanted:
                logger.info("schedule: removing %s (no longer in the config)", stored.id)
                scheduler.remove_job(stored.id)
        for job in jobs:
            trigger = CronTrigger.from_crontab(job.cron, timezone=LONDON)
            try:
                scheduler.add_job(
                    target,
                    trigger,
                    args=[config, job.kind, job.source],
                    id=job.id,
                    name=f"safer {job.id}",
                    replace_existing=False,
                )
                logger.info("schedule: %s at %r (Europe/London)", job.id, job.cron)
            except ConflictingIdError:
                _keep_or_reschedule(scheduler, job, trigger, config, target)

    return ensure


def _keep_or_reschedule(
    scheduler: Any, job: ScheduledJob, trigger: Any, config: str, target: str
) -> None:
    """Keep a stored job, and its stored next run time, so a missed run is caught up; unless
    the config changed it."""
    stored = scheduler.get_job(job.id)
    if stored.func_ref != target:
        # A store from before 0.2 names the function's old place: rename it, keep its run time.
        scheduler.modify_job(job.id, func=target)
    if str(stored.trigger) == str(trigger) and list(stored.args) == [config, job.kind, job.source]:
        logger.info("schedule: %s kept, next at %s", job.id, stored.next_run_time)
        return
    logger.info("schedule: %s changed to %r; rescheduled", job.id, job.cron)
    scheduler.modify_job(job.id, func=target, args=[config, job.kind, job.source])
    scheduler.reschedule_job(job.id, trigger=trigger)


class _Firings:
    """The firings under way in this process, so a stopping scheduler can let them finish
    (the process may end with ``os._exit``, which would kill a job thread mid-run)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._running = 0
        self._closed = False

    @contextmanager
    def starting(self) -> Iterator[bool]:
        """Hold a firing's place while it runs; yields False once the scheduler is stopping
        (a firing still queued then is not started)."""
        with self._changed:
            if self._closed:
                allowed = False
            else:
                allowed = True
                self._running += 1
        try:
            yield allowed
        finally:
            if allowed:
                with self._changed:
                    self._running -= 1
                    self._changed.notify_all()

    def close_and_wait(self) -> None:
        """Start no more firings, and return once those under way have finished."""
        with self._changed:
            self._closed = True
            self._changed.wait_for(lambda: self._running == 0)


_FIRINGS = _Firings()


def finish_firings() -> None:
    """Called once the scheduler is shut down: wait for the job under way (README: "the job
    under way finishes first"); it stops at its next unit, as a stopped ``safer run`` does."""
    _FIRINGS.close_and_wait()


def fire(config: str, kind: str, source: str | None) -> None:
    """One scheduled firing; never raises (a failure is logged, recorded and alerted by the run
    itself), so the scheduler goes on to the next."""
    from safer.app.commands import run_once

    with _FIRINGS.starting() as allowed:
        if not allowed:
            logger.info("schedule: %s %s not started: stopping", kind, source or "")
            return
        try:
            run_once(Path(config), kind, source)
        except Exception:  # noqa: BLE001 - the scheduler must outlive any one run
            logger.exception("schedule: %s %s failed", kind, source or "")


def next_fire(cron: str, after: dt.datetime) -> dt.datetime:
    """When ``cron`` next fires after ``after``, in Europe/London (for tests and ``status``)."""
    from apscheduler.triggers.cron import CronTrigger

    found: dt.datetime = CronTrigger.from_crontab(cron, timezone=LONDON).get_next_fire_time(
        None, after
    )
    return found


def schedule_command(settings: Settings, config: Path) -> int:
    """Run the scheduler until SIGTERM or SIGINT; the job under way finishes first (it stops
    at its next unit, as a stopped ``safer run`` does), and only then does the process end."""
    import signal
    import threading

    from safer.kernel import stopping

    scheduler = build_scheduler(settings, config)
    asked = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if asked.is_set():  # the scheduler is already shut down: only waiting for the job
            if signum == signal.SIGINT:
                raise KeyboardInterrupt  # a second SIGINT interrupts at once
            logger.warning("%s received again: still finishing the job under way", name)
            return
        asked.set()
        logger.warning("%s received: stopping the scheduler after the current job", name)
        stopping.request()
        # Not wait=True: this runs in the main thread, inside the scheduler's loop.
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("schedule: starting (job store %s)", settings.schedule.job_store)
    scheduler.start()
    # shutdown(wait=False) returned at once; the job thread is still running, and the process
    # may leave by os._exit (scheduler._exit), which would kill it mid-run.
    finish_firings()
    logger.info("schedule: stopped")
    return 0

"""data.police.uk's API, asked before any monthly file is downloaded: is anything new, and which
months exist?

``crime-last-updated`` (``{"date": "2025-12-01"}``) changes when data.police.uk publishes; while
it equals the value recorded after the last complete sync, nothing upstream has changed, so the
run downloads nothing and does not even ask for the month list (one request in all).
Otherwise ``crimes-street-dates`` lists the published months, newest first, each with the forces
whose stop-and-search data it holds (``[{"date": "2025-12", "stop-and-search": [...]}]``); only
those months are fetched. Requests stay under the API's limit of 15 a second
(domain-research.md §3).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from safer.kernel.clock import Clock
from safer.kernel.config import PoliceUkApiConfig, Settings
from safer.kernel.errors import FetchError
from safer.kernel.periods import parse_month
from safer.pipelines.http import FetchPolicy, RateLimiter, get_json
from safer.store.db import Database

__all__ = ["SOURCE", "Availability", "ask_api", "record_api"]

SOURCE = "police_uk_api"
_LAST_UPDATED = "crime-last-updated"
_DATES = "crimes-street-dates"
# The monthly files whose months the API lists: stop and search has its own list per force.
_STREET_LIKE = ("police_uk_street", "police_uk_outcomes")


@dataclass(frozen=True)
class Availability:
    last_updated: str
    months: frozenset[dt.date]
    """Months with street (and outcomes) files."""
    stop_search: frozenset[dt.date]
    """Months with stop-and-search data for this force."""
    unchanged: bool
    """``crime-last-updated`` equals the value recorded after the last complete sync."""
    requests: int
    dates_json: str

    def by_source(self) -> dict[str, frozenset[dt.date]]:
        found = dict.fromkeys(_STREET_LIKE, self.months)
        found["police_uk_stop_search"] = self.stop_search
        return found

    @property
    def newest(self) -> dt.date | None:
        return max(self.months, default=None)


def ask_api(db: Database, settings: Settings) -> Availability:
    """What the API says now; raises FetchError when it cannot be asked or answers oddly."""
    cfg = settings.sources.police_uk_api
    assert cfg is not None and cfg.enabled
    policy = FetchPolicy(cfg.timeout_seconds, cfg.retries, cfg.backoff_seconds)
    limiter = RateLimiter(cfg.requests_per_second)
    base = cfg.base_url.rstrip("/")
    last = _last_updated(get_json(f"{base}/{_LAST_UPDATED}", policy, limiter), base)
    stored = _stored(db)
    if stored.get(_LAST_UPDATED) == last and _DATES in stored:
        return _availability(settings, last, stored[_DATES], unchanged=True, requests=1)
    dates = get_json(f"{base}/{_DATES}", policy, limiter)
    text = json.dumps(dates, sort_keys=True)
    _months(dates, f"{base}/{_DATES}", settings.force.id)  # refuse an odd answer now
    return _availability(settings, last, text, unchanged=False, requests=2)


def record_api(db: Database, found: Availability, clock: Clock) -> None:
    """Remember what the API said, once every monthly file it lists is up to date."""
    now = clock()
    with db.transaction():
        for key, value in ((_LAST_UPDATED, found.last_updated), (_DATES, found.dates_json)):
            db.execute("INSERT OR REPLACE INTO api_state VALUES (?, ?, ?)", [key, value, now])


def _stored(db: Database) -> Mapping[str, str]:
    return dict(db.rows("SELECT key, value FROM api_state"))


def _last_updated(body: Any, base: str) -> str:
    date = body.get("date") if isinstance(body, dict) else None
    try:
        return dt.date.fromisoformat(str(date)[:10]).isoformat()
    except ValueError:
        raise FetchError(
            f'{base}/{_LAST_UPDATED}: expected {{"date": "YYYY-MM-DD"}}, got {body!r:.80}',
            transient=False,
        ) from None


def _months(body: Any, url: str, force: str) -> tuple[frozenset[dt.date], frozenset[dt.date]]:
    if not isinstance(body, list):
        raise FetchError(f"{url}: expected a list of months, got {body!r:.80}", transient=False)
    months, searches = set(), set()
    for item in body:
        try:
            month = parse_month(str(item["date"]))
        except (TypeError, KeyError, ValueError):
            raise FetchError(
                f'{url}: expected {{"date": "YYYY-MM", ...}} items, got {item!r:.80}',
                transient=False,
            ) from None
        months.add(month)
        if force in (item.get("stop-and-search") or ()):
            searches.add(month)
    return frozenset(months), frozenset(searches)


def _availability(
    settings: Settings, last: str, dates_json: str, *, unchanged: bool, requests: int
) -> Availability:
    months, searches = _months(json.loads(dates_json), _DATES, settings.force.id)
    return Availability(last, months, searches, unchanged, requests, dates_json)


def configured_api(settings: Settings) -> PoliceUkApiConfig | None:
    cfg = settings.sources.police_uk_api
    return cfg if cfg is not None and cfg.enabled else None

"""The one configuration file (``safer.toml``), validated on load.

Every error names the file and the key path, and all errors are reported at once. The SMTP
password never comes from the file: only from ``SAFER_SMTP_PASSWORD`` or the file named by
``SAFER_SMTP_PASSWORD_FILE``.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from safer.kernel.errors import ConfigError
from safer.kernel.periods import add_months, months_between, parse_month
from safer.kernel.spc_conventions import (
    CONVENTIONS,
    Conflict,
    Convention,
    SpcRules,
    convention_defaults,
)

__all__ = [
    "CallHandlingConfig",
    "ChecksConfig",
    "DigestConfig",
    "CouncilEnforcementConfig",
    "DatabaseConfig",
    "DefraFlytippingConfig",
    "FetchConfig",
    "ForceConfig",
    "OperatorConfig",
    "PoliceUkApiConfig",
    "PoliceUkMonthlyConfig",
    "PoliceUkOutcomesConfig",
    "PoliceUkStopSearchConfig",
    "PoliceUkStreetConfig",
    "ReturnConfig",
    "Recipient",
    "ScheduleConfig",
    "Settings",
    "SmtpConfig",
    "format_validation_error",
    "load_config",
    "smtp_password",
]

PASSWORD_ENV = "SAFER_SMTP_PASSWORD"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DatabaseConfig(_Frozen):
    path: Path = Path("var/safer.duckdb")
    memory_limit: Annotated[
        str, Field(pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")
    ] = "1GB"
    """DuckDB's memory limit (its own default is 80% of the machine's): a national backfill
    stays well under 2 GB, and DuckDB spills to disk beside the database rather than fail."""


class PathsConfig(_Frozen):
    data_dir: Path = Path("var")
    outbox_dir: Path = Path("outbox")


class ForceConfig(_Frozen):
    id: Annotated[str, Field(pattern=r"^[a-z0-9-]+$")]
    """The data.police.uk force slug, as in ``2025-06-cheshire-street.csv``."""
    pfa_code: Annotated[str, Field(pattern=r"^[EW]23\d{6}$|^W15\d{6}$")]
    """ONS police force area code; the force's CSPs come from the bundled ONS lookup."""
    name: str


class FetchConfig(_Frozen):
    """What every source shares: how it is fetched and when a missing release is reported."""

    enabled: bool = True
    """``false`` keeps the settings but turns the source off (its indicators: no source)."""
    note: str | None = None
    """A sentence every digest prints among its data notes, e.g. that the files are examples."""
    timeout_seconds: Annotated[float, Field(gt=0)] = 120.0
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    """Further attempts on 429, 5xx and connection errors, with backoff."""
    backoff_seconds: Annotated[float, Field(ge=0)] = 2.0
    max_bytes: Annotated[int, Field(gt=0)] = 200 * 1024 * 1024
    release_grace_days: Annotated[int, Field(ge=0, le=365)] = 14
    """Days after a release is due before a period still missing is reported as missing data."""


class PoliceUkMonthlyConfig(FetchConfig):
    """A data.police.uk monthly file per force: street, outcomes or stop and search."""

    base_url: str = "https://data.police.uk/data"
    """A URL laid out like ``{base}/{YYYY-MM}/{YYYY-MM}-{force}-street.csv``, or a local folder."""
    months: tuple[str, ...] = ("2025-01:",)
    """Ranges ``FROM:TO``, ``FROM:`` (up to the month before the run) or a single ``YYYY-MM``."""
    revisit_months: Annotated[int, Field(ge=0, le=36)] = 3
    """Loaded months this close to the newest are re-checked (conditional GET) for revisions."""
    min_rows: Annotated[int, Field(ge=0)] = 100
    """A month with fewer rows is implausible for a force (an error: quarantined)."""
    max_rows: Annotated[int, Field(gt=0)] = 2_000_000

    @field_validator("months")
    @classmethod
    def _ranges_parse(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            _parse_range(item)
        return value

    def wanted_months(self, as_of: dt.date) -> list[dt.date]:
        """Every configured month up to the month before ``as_of``, oldest first."""
        latest = add_months(as_of.replace(day=1), -1)
        wanted: set[dt.date] = set()
        for item in self.months:
            first, last = _parse_range(item)
            wanted.update(months_between(first, min(last or latest, latest)))
        return sorted(wanted)


class PoliceUkStreetConfig(PoliceUkMonthlyConfig):
    """The street-level crime and ASB file (``{month}-{force}-street.csv``)."""

    revision_tolerance: Annotated[float, Field(gt=0, le=10)] = 0.2
    """A republished month whose rows or ASB rows move by more than this share against the
    version in use is held for review (quarantined; the version in use stays)."""


class PoliceUkOutcomesConfig(PoliceUkMonthlyConfig):
    """The outcomes file (``{month}-{force}-outcomes.csv``): outcomes by month recorded."""


class PoliceUkStopSearchConfig(PoliceUkMonthlyConfig):
    """The stop-and-search file (``{month}-{force}-stop-and-search.csv``)."""

    min_rows: Annotated[int, Field(ge=0)] = 1


class PoliceUkApiConfig(_Frozen):
    """data.police.uk's API, asked before any monthly file is downloaded whether anything is new
    (``crime-last-updated``) and which months exist (``crimes-street-dates``)."""

    enabled: bool = True
    base_url: str = "https://data.police.uk/api"
    requests_per_second: Annotated[float, Field(gt=0, le=15)] = 15.0
    """The API allows 15 requests a second (burst 30); never more."""
    timeout_seconds: Annotated[float, Field(gt=0)] = 60.0
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    backoff_seconds: Annotated[float, Field(ge=0)] = 2.0


class DefraFlytippingConfig(FetchConfig):
    """DEFRA's fly-tipping incidents and actions by local authority: one workbook (``.xlsx``,
    sheets ``LA_actions`` and ``LA_incidents``) or, for later releases, CSV files."""

    location: str
    """The published file's URL, or a local path to it."""
    max_bytes: Annotated[int, Field(gt=0)] = 50 * 1024 * 1024
    release_due_days: Annotated[int, Field(ge=0, le=730)] = 300
    """Days after a financial year ends (31 March) by which DEFRA's figures for it are due."""
    release_grace_days: Annotated[int, Field(ge=0, le=365)] = 60


class ReturnConfig(FetchConfig):
    """A return the project defines (templates/returns/): files dropped into a folder, or
    published under a URL."""

    location: str
    """A local folder (every ``*.csv`` and ``*.xlsx`` in it is read), or a base URL."""
    files: tuple[str, ...] = ()
    """With a URL: the file names to fetch under it. Ignored for a folder."""
    max_bytes: Annotated[int, Field(gt=0)] = 20 * 1024 * 1024
    release_due_days: Annotated[int, Field(ge=0, le=365)] = 30
    """Days after a period ends by which its return is due."""
    release_grace_days: Annotated[int, Field(ge=0, le=365)] = 7


class CouncilEnforcementConfig(ReturnConfig):
    """The quarterly council enforcement return (templates/returns/council-enforcement-v1)."""


class CallHandlingConfig(ReturnConfig):
    """The monthly 999/101 call-handling return (templates/returns/call-handling-v1)."""

    release_due_days: Annotated[int, Field(ge=0, le=365)] = 20


def _parse_range(text: str) -> tuple[dt.date, dt.date | None]:
    first, sep, last = text.partition(":")
    start = parse_month(first)
    if not sep:
        return start, start
    end = parse_month(last) if last.strip() else None
    if end is not None and end < start:
        raise ValueError(f"range {text!r} ends before it starts")
    return start, end


class SourcesConfig(_Frozen):
    """Every source; only the street file is on without being configured."""

    police_uk_street: PoliceUkStreetConfig | None = PoliceUkStreetConfig()
    police_uk_outcomes: PoliceUkOutcomesConfig | None = None
    police_uk_stop_search: PoliceUkStopSearchConfig | None = None
    police_uk_api: PoliceUkApiConfig | None = None
    defra_flytipping: DefraFlytippingConfig | None = None
    council_enforcement: CouncilEnforcementConfig | None = None
    call_handling: CallHandlingConfig | None = None

    def resolve(self, fix: Callable[[str], str]) -> SourcesConfig:
        """Every local path made absolute with ``fix``; URLs are left alone."""
        update: dict[str, object] = {}
        for name in type(self).model_fields:
            cfg = getattr(self, name)
            for key in ("base_url", "location"):
                if cfg is not None and isinstance(getattr(cfg, key, None), str):
                    cfg = cfg.model_copy(update={key: fix(getattr(cfg, key))})
            update[name] = cfg
        return self.model_copy(update=update)


class SpcConfig(_Frozen):
    """Statistical process control rules (domain-research.md §1; docs/spc-conventions.md).

    ``convention`` names the published implementation the charts reproduce and sets the
    defaults of the other fields; a field given explicitly overrides it, unless that
    implementation cannot take the value (NHSRplotthedots' 7-point runs, say), which is refused
    naming the field: the digest names the convention, so it must be true of the chart.
    """

    convention: Convention = "nhse-sql-2.6"
    shift_points: Annotated[int, Field(ge=6, le=8)] = 6
    trend_points: Annotated[int, Field(ge=6, le=8)] = 6
    two_of_three: bool = True
    screen_moving_ranges: bool = False
    minimum_points: Annotated[int, Field(ge=2)] = 13
    """Non-ghosted points the whole chart needs before limits, signals and icons are shown:
    13 in NHSE's SQL v2.6 (@SettingMinimumPoints) and the MDC single chart tool; 2 (none) in
    NHSRplotthedots, which draws trial limits."""
    baseline_points: Annotated[int, Field(ge=2)] | None = None
    conflict: Conflict = "concern"
    """How a point that is both improvement and concern is shown: NHSE's per-metric
    [MetricConflictRule] ('concern' or 'improvement'); the MDC tool shows improvement,
    NHSRplotthedots ranks the rules ('precedence')."""

    @model_validator(mode="before")
    @classmethod
    def _convention_defaults(cls, data: Any) -> Any:
        # A field left out takes the convention's value, not the class default (NHSE's).
        if isinstance(data, dict) and data.get("convention", "nhse-sql-2.6") in CONVENTIONS:
            return {**convention_defaults(data.get("convention", "nhse-sql-2.6")), **data}
        return data

    @model_validator(mode="after")
    def _fits_convention(self) -> SpcConfig:
        try:
            SpcRules(**self.model_dump())
        except ValueError as exc:
            raise ValueError(str(exc).removeprefix("SpcRules.")) from exc
        return self


class GhostConfig(_Frozen):
    """A point shown on its chart but left out of every SPC calculation (NHS England's SQL
    [GhostFlag]): a month known to be wrong at source, a recording change."""

    indicator: Annotated[str, Field(min_length=1)]
    month: str
    """``YYYY-MM``: the point's month (or its quarter's or year's first month)."""
    area: str | None = None
    """An area code; every area when left out."""
    reason: Annotated[str, Field(min_length=1)]
    """Why, in words: kept with the configuration for whoever reads the chart next."""

    @field_validator("month")
    @classmethod
    def _month(cls, value: str) -> str:
        parse_month(value)
        return value


class IndicatorsConfig(_Frozen):
    plans_dir: Path | None = None
    """A folder of plan files; the bundled Cheshire plans when omitted."""
    catalogue_dir: Path | None = None
    """A folder of catalogue YAML files; the bundled catalogue when omitted."""
    population_file: Path | None = None
    """A CSV of resident population per local authority and mid-year estimate
    (``la_code,la_name,mid_year,population,source``), replacing the bundled estimates: e.g.
    ONS's latest release (indicators/population.py)."""
    pending_margin_points: Annotated[float, Field(ge=0, le=100)] = 5.0
    """An outcome rate is not compared with another period when the shares of their crimes
    still awaiting an outcome differ by more than this many percentage points."""
    spc: SpcConfig = SpcConfig()
    ghosts: tuple[GhostConfig, ...] = ()
    """Points to ghost (``[[indicators.ghosts]]``): the SQL convention only."""

    @model_validator(mode="after")
    def _ghosts_need_the_sql(self) -> IndicatorsConfig:
        if self.ghosts and self.spc.convention != "nhse-sql-2.6":
            raise ValueError(
                f"ghosts: ghosted points are an NHS England SQL feature; "
                f"{self.spc.convention} has none"
            )
        return self


class ChecksConfig(_Frozen):
    """Plausibility thresholds for the cross-source checks (warnings shown beside figures)."""

    plausible_ratio: Annotated[float, Field(gt=1)] = 3.0
    """A quarter more than this many times the same quarter last year, or less than its
    reciprocal, is flagged."""
    far_from_limits: Annotated[float, Field(ge=1)] = 2.0
    """A month further from its mean than this multiple of the SPC process-limit distance is
    flagged (beyond the limits alone is special cause, not suspect data)."""


class DigestConfig(_Frozen):
    """What the digest shows as current."""

    stale_after_days: Annotated[int, Field(ge=0, le=3650)] = 365
    """A source whose latest period's release was due longer ago than this (against the run's
    ``--as-of``) has no current data: its figures are named in one line ("no data since
    February 2019"), not shown beside this quarter's."""


class Recipient(_Frozen):
    name: str
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]
    areas: tuple[str, ...] = ("all",)
    """Area codes (CSP codes, the PFA code) this person gets; ``all`` for every area."""
    priorities: tuple[str, ...] = ("all",)
    """Plan priority ids (``reduce_crime``) or indicator families (``asb``, ``enforcement``,
    ``outcomes``, ``call_handling``) this person gets; ``all`` for everything. Families keep a
    route working when a new plan renames its priorities."""

    def wants(self, area_code: str) -> bool:
        return "all" in self.areas or area_code in self.areas

    def wants_any(self, topics: Iterable[str]) -> bool:
        """Whether any of an indicator's priority and family is one this person follows."""
        return "all" in self.priorities or not set(topics).isdisjoint(self.priorities)


class OperatorConfig(_Frozen):
    """Who is told when the job itself needs attention, and when."""

    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")] | None = None
    """The operator's address; without it alerts are logged and kept, not emailed."""
    failures_in_a_row: Annotated[int, Field(ge=1, le=100)] = 3
    """A source failing this many runs in a row is reported (once per streak)."""
    expected_run_hours: Annotated[float, Field(gt=0, le=24 * 62)] = 26.0
    """No successful run within this many hours is reported (checked at each start and hourly
    by ``safer schedule``); 26 suits a daily run."""
    source_backoff_minutes: Annotated[float, Field(ge=0, le=24 * 60)] = 30.0
    """After a source fails, it is not tried again for this long, doubling with each failure
    in a row up to a day; 0 tries it at every run."""
    undelivered_hours: Annotated[float, Field(gt=0, le=24 * 31)] = 24.0
    """A digest still waiting to be sent this long after it was stored (the SMTP server down,
    or refusing it for now) is reported: ``status --check`` fails and the operator is told."""


_CRON = r"^\S+( \S+){4}$"


class ScheduleConfig(_Frozen):
    """When ``safer schedule`` runs what, as crontab expressions in Europe/London time."""

    run: Annotated[str, Field(pattern=_CRON)] | None = "0 7 * * *"
    """The whole job (every source, checks, indicators, digests); None to schedule by part."""
    sources: dict[str, Annotated[str, Field(pattern=_CRON)]] = {}
    """Per source id: when to fetch and load that source alone."""
    digest: Annotated[str, Field(pattern=_CRON)] | None = None
    """When to evaluate and send digests without fetching."""
    job_store: Path = Path("var/schedule.sqlite")
    """APScheduler's job store, so that runs missed while it was down are caught up (once)."""

    @field_validator("run", "digest")
    @classmethod
    def _cron_parses(cls, value: str | None) -> str | None:
        if value is not None:
            _check_cron(value)
        return value

    @field_validator("sources")
    @classmethod
    def _crons_parse(cls, value: dict[str, str]) -> dict[str, str]:
        for cron in value.values():
            _check_cron(cron)
        return value


def _check_cron(text: str) -> None:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(text, timezone="Europe/London")
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a crontab expression: {exc}") from exc


class SmtpConfig(_Frozen):
    host: str
    port: Annotated[int, Field(gt=0, lt=65536)] = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    user: str | None = None
    sender: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    """Further attempts within a run after a temporary failure (4xx, timeout, server down);
    a digest still not sent stays pending for the next run."""
    backoff_seconds: Annotated[float, Field(ge=0, le=600)] = 5.0
    """The wait before the first retry, doubling for each one after."""


class Settings(_Frozen):
    database: DatabaseConfig = DatabaseConfig()
    paths: PathsConfig = PathsConfig()
    force: ForceConfig
    sources: SourcesConfig = SourcesConfig()
    indicators: IndicatorsConfig = IndicatorsConfig()
    checks: ChecksConfig = ChecksConfig()
    digest: DigestConfig = DigestConfig()
    recipients: tuple[Recipient, ...] = ()
    smtp: SmtpConfig | None = None
    operator: OperatorConfig = OperatorConfig()
    schedule: ScheduleConfig = ScheduleConfig()

    def resolve(self, base: Path) -> Settings:
        """Make relative paths relative to the config file's folder, not the working dir."""

        def fix(path: Path) -> Path:
            return path if path.is_absolute() else base / path

        def fix_location(text: str) -> str:
            return text if "://" in text else str(fix(Path(text)))

        plans = self.indicators.plans_dir
        catalogue = self.indicators.catalogue_dir
        population = self.indicators.population_file
        return self.model_copy(
            update={
                "database": self.database.model_copy(update={"path": fix(self.database.path)}),
                "paths": PathsConfig(
                    data_dir=fix(self.paths.data_dir), outbox_dir=fix(self.paths.outbox_dir)
                ),
                "sources": self.sources.resolve(fix_location),
                "schedule": self.schedule.model_copy(
                    update={"job_store": fix(self.schedule.job_store)}
                ),
                "indicators": self.indicators.model_copy(
                    update={
                        "plans_dir": fix(plans) if plans else None,
                        "catalogue_dir": fix(catalogue) if catalogue else None,
                        "population_file": fix(population) if population else None,
                    }
                ),
            }
        )


def format_validation_error(source: str, error: ValidationError) -> str:
    """One line per problem: ``file: key.path: message``."""
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"{source}: {key}: {item['msg']}")
    return "\n".join(lines)


def load_config(path: Path) -> Settings:
    """Read and validate ``path``; raises ConfigError naming the file and every bad key."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: config file not found") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    _refuse_password_in_file(path, raw)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(str(path), exc)) from exc
    return settings.resolve(path.resolve().parent)


def _refuse_password_in_file(path: Path, raw: Mapping[str, object]) -> None:
    smtp = raw.get("smtp")
    if isinstance(smtp, Mapping) and "password" in smtp:
        raise ConfigError(
            f"{path}: smtp.password: secrets are not read from the config file; "
            f"set {PASSWORD_ENV} or {PASSWORD_ENV}_FILE instead"
        )


def smtp_password(env: Mapping[str, str] | None = None) -> str | None:
    """The SMTP password from the environment, or from the file ``*_FILE`` names."""
    env = os.environ if env is None else env
    if env.get(PASSWORD_ENV):
        return env[PASSWORD_ENV]
    file_name = env.get(f"{PASSWORD_ENV}_FILE")
    if not file_name:
        return None
    try:
        return Path(file_name).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{PASSWORD_ENV}_FILE: cannot read {file_name}: {exc}") from exc

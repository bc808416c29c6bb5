"""The indicator catalogue and the plans' targets: YAML files parsed into frozen models.

Errors name the file and the key path, all at once, and a target naming an indicator the
catalogue does not define is an error, not a silently empty row.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from safer.kernel.config import format_validation_error
from safer.kernel.errors import ConfigError
from safer.kernel.periods import Grain

__all__ = [
    "Catalogue",
    "Document",
    "Indicator",
    "Origin",
    "Plan",
    "Priority",
    "PublicationStatus",
    "Quotation",
    "RestOfForce",
    "RestOfForceChange",
    "Target",
    "load_catalogue",
    "load_plans",
    "plan_for",
]

_ID = r"^[a-z][a-z0-9_]*$"
Unit = Literal["count", "rate", "per_1000", "ratio", "seconds"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Indicator(_Frozen):
    id: Annotated[str, Field(pattern=_ID)]
    name: str
    family: Literal["asb", "enforcement", "outcomes", "call_handling"]
    priority: str
    """The plan priority it usually sits under (plans may place it elsewhere)."""
    unit: Unit
    """``rate`` is a proportion shown as a percentage; ``per_1000`` is per 1,000 residents;
    ``ratio`` is one count per another that may exceed 1 (actions per incident); ``seconds`` is
    a mean time (total seconds over calls)."""
    polarity: Literal["higher_is_better", "lower_is_better", "neutral"]
    grain: Grain
    """The grain the source publishes: SPC runs on it; months are judged as quarters."""
    source: str
    """The source whose loaded periods define the indicator's periods (``source_periods``)."""
    source_label: str
    tables: tuple[str, ...] = ()
    basis: str
    """One sentence saying what is counted, for the digest."""
    denominator: Literal["flow", "stock"] = "flow"
    """``flow`` denominators add up over months (crimes); ``stock`` ones are averaged
    (residents)."""
    areas: tuple[Literal["force", "csp"], ...] = ("force", "csp")
    sql: str | None = None
    """Returns area_code (a CSP; ignored for a force-wide source), period (the first day of the
    month, quarter or financial year), numerator, denominator; None: no source exists yet."""

    @property
    def has_denominator(self) -> bool:
        """Rates, rates per head and mean times are a numerator over a denominator."""
        return self.unit != "count"

    @property
    def evaluated_grain(self) -> Grain:
        """The periods judged: quarters (monthly figures roll up into them), or years."""
        return "year" if self.grain == "year" else "quarter"

    @model_validator(mode="after")
    def _counts_have_no_denominator(self) -> Indicator:
        if self.unit in ("count", "seconds") and self.denominator == "stock":
            raise ValueError("a count or a time has no stock denominator")
        return self


class Catalogue(_Frozen):
    indicators: tuple[Indicator, ...]

    def get(self, indicator_id: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.id == indicator_id:
                return indicator
        raise KeyError(indicator_id)


Origin = Literal["published", "national_standard", "local_reading"]
"""Where a target's level comes from: the plan publishes it; a national standard the plan does
not restate (the Home Office's 999 standard); or a local reading of an aim the plan states
without a number. The digest says which beside every judgement, so a reader never takes a
local reading for the Commissioner's published target."""


def _iso(value: object) -> object:
    """An unquoted YAML date (``2025-02-04``) read as its ISO text."""
    return value.isoformat() if isinstance(value, dt.date) else value


PartialDate = Annotated[
    str,
    BeforeValidator(_iso),
    Field(pattern=r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$"),
]
"""A date as precise as the document gives it: ``2024``, ``2024-11`` or ``2024-11-28``."""


def _date_words(date: str) -> str:
    """``2025-02-04`` as '4 February 2025'; ``2024-11`` as 'November 2024'."""
    year, *rest = (int(part) for part in date.split("-"))
    month = [calendar.month_name[rest[0]]] if rest else []
    return " ".join([*(str(day) for day in rest[1:]), *month, str(year)])


class Document(_Frozen):
    """A published document a plan's words are taken from, named so a reader can find it."""

    id: Annotated[str, Field(pattern=_ID)]
    title: Annotated[str, Field(min_length=1)]
    date: PartialDate
    url: Annotated[str, Field(pattern=r"^https?://")]
    seed: str | None = None
    """The bundled plain-text copy in ``../shared/seeds`` (e.g. ``004_9b129bad56a42a16.txt``),
    which ``tests/test_plan_quotes.py`` checks every verbatim quotation against."""


class Quotation(_Frozen):
    """Words from one of the plan's documents: ``verbatim`` (its exact words, printed in
    quotation marks) or not (safer's paraphrase, never printed in quotation marks)."""

    text: Annotated[str, Field(min_length=1)]
    document: str
    """The ``id`` of one of the plan's ``documents``."""
    verbatim: bool
    """No default: whoever adds words says whether they are the document's own."""
    where: str | None = None
    """Where in the document: a section, heading or page."""


class PublicationStatus(_Frozen):
    """What the plan had published by a date, in safer's words, and the words that show it."""

    as_of: PartialDate
    state: str
    quotes: tuple[Quotation, ...] = ()


class _TargetBase(_Frozen):
    indicator: str
    source_text: str
    """Where the target comes from, in safer's words: the aim it reads and, where marked, how
    safer reads it. The plan's own words are in ``quotes``, never in here."""
    quotes: tuple[Quotation, ...] = ()
    origin: Origin = "local_reading"
    """Unstated, a target is a local reading: the weaker claim is the honest default."""
    source_url: str | None = None
    amber_tolerance: Annotated[float, Field(ge=0)] = 0.0
    """How far short of the target is still amber rather than red."""
    tolerance_unit: Literal["percent", "points", "value"] = "percent"
    """``percent`` of the comparator, percentage ``points`` for rates, or the indicator's unit."""


class Threshold(_TargetBase):
    form: Literal["threshold"]
    at_least: float | None = None
    at_most: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Threshold:
        if (self.at_least is None) == (self.at_most is None):
            raise ValueError("give exactly one of at_least or at_most")
        return self


class SamePeriodLastYear(_TargetBase):
    form: Literal["same_period_last_year"]


class BaselineChange(_TargetBase):
    form: Literal["baseline_change"]
    baseline_year: Annotated[int, Field(ge=2000, le=2100)]
    """The financial year the baseline quarter falls in, by its first year (2019 = 2019/20)."""
    change_percent: float
    """The aimed-for change on the same quarter of the baseline year, e.g. -10 for 10% fewer."""


class RestOfForce(_TargetBase):
    form: Literal["rest_of_force"]


class RestOfForceChange(_TargetBase):
    """The area's change on the same period last year against the rest of the force's change
    over the same year: what the partnerships report ("fell 13.6% against 12.3% for the
    force"). A standing difference between places does not colour it; a movement does. The
    tolerance is in points of change (percentage points of a percentage change, or of a
    rate's change in points)."""

    form: Literal["rest_of_force_change"]
    tolerance_unit: Literal["percent", "points", "value"] = "points"

    @model_validator(mode="after")
    def _in_points(self) -> RestOfForceChange:
        if self.tolerance_unit != "points":
            raise ValueError("the tolerance of a change against the rest of the force is in points")
        return self


class National(_TargetBase):
    form: Literal["national"]
    value: float
    """The national figure, in the indicator's unit (a rate as a proportion, 0–1)."""
    as_at: str
    """Which national figure and period, e.g. 'England and Wales, year to March 2024'."""


class Monitor(_TargetBase):
    form: Literal["monitor"]


Target = Annotated[
    Threshold
    | SamePeriodLastYear
    | BaselineChange
    | RestOfForce
    | RestOfForceChange
    | National
    | Monitor,
    Field(discriminator="form"),
]


class Priority(_Frozen):
    id: str
    name: str
    quote: Quotation | None = None
    targets: tuple[Target, ...]


class Plan(_Frozen):
    id: str
    name: str
    effective_from: dt.date
    effective_to: dt.date | None = None
    source_url: str | None = None
    quote: Quotation | None = None
    """The plan's overarching aim or core principle, above its priorities."""
    documents: tuple[Document, ...] = ()
    """Every document the plan's quotations come from."""
    publication: tuple[PublicationStatus, ...] = ()
    """What the plan had published as of each date its file relies on."""
    priorities: tuple[Priority, ...]

    def quotations(self) -> Iterator[tuple[str, Quotation]]:
        """Every quotation in the plan, with its key path (``priorities.0.quote``)."""
        if self.quote is not None:
            yield "quote", self.quote
        for s_index, status in enumerate(self.publication):
            for q_index, q in enumerate(status.quotes):
                yield f"publication.{s_index}.quotes.{q_index}", q
        for p_index, priority in enumerate(self.priorities):
            if priority.quote is not None:
                yield f"priorities.{p_index}.quote", priority.quote
            for t_index, target in enumerate(priority.targets):
                for q_index, q in enumerate(target.quotes):
                    yield f"priorities.{p_index}.targets.{t_index}.quotes.{q_index}", q

    def document(self, document_id: str) -> Document:
        """The named document; raises KeyError for one the plan does not list."""
        for document in self.documents:
            if document.id == document_id:
                return document
        raise KeyError(document_id)

    def cite(self, quotation: Quotation) -> str:
        """The words as printed: verbatim ones in quotation marks, a paraphrase without."""
        document = self.document(quotation.document)
        source = f"{document.title}, {_date_words(document.date)}"
        if quotation.verbatim:
            return f"\u201c{quotation.text}\u201d ({source})"
        return f"{quotation.text} (paraphrase of {source})"

    def targets(self) -> Iterable[tuple[Priority, Target]]:
        for priority in self.priorities:
            for target in priority.targets:
                yield priority, target

    def target_for(self, indicator_id: str) -> Target | None:
        return next((t for _, t in self.targets() if t.indicator == indicator_id), None)

    def priority_of(self, indicator_id: str) -> Priority | None:
        return next((p for p, t in self.targets() if t.indicator == indicator_id), None)

    def covers(self, day: dt.date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )


def plan_for(plans: Iterable[Plan], day: dt.date) -> Plan | None:
    """The plan in force on ``day``: the latest-starting plan that covers it."""
    covering = [p for p in plans if p.covers(day)]
    return max(covering, key=lambda p: p.effective_from, default=None)


def _read_yaml(name: str, text: str) -> object:
    try:
        # libyaml's loader where PyYAML was built with it: several times faster.
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{name}: {where}not valid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: not valid YAML: {exc}") from exc


def _files(folder: Path | None, package_dir: str) -> list[tuple[str, str]]:
    """(name, text) of each YAML file in ``folder``, or in the bundled package folder."""
    if folder is not None:
        if not folder.is_dir():
            raise ConfigError(f"{folder}: not a folder of YAML files")
        return [(str(p), p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.yaml"))]
    bundled = resources.files("safer.indicators") / package_dir
    return [
        (f"indicators/{package_dir}/{entry.name}", entry.read_text(encoding="utf-8"))
        for entry in sorted(bundled.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yaml")
    ]


def load_catalogue(folder: Path | None = None) -> Catalogue:
    """Every indicator in the folder's YAML files; raises ConfigError listing every problem."""
    problems: list[str] = []
    indicators: list[Indicator] = []
    for name, text in _files(folder, "catalogue"):
        try:
            indicators += Catalogue.model_validate(_read_yaml(name, text)).indicators
        except ValidationError as exc:
            problems.append(format_validation_error(name, exc))
    ids = [i.id for i in indicators]
    problems += [f"indicator {i!r} is defined twice" for i in sorted(set(ids)) if ids.count(i) > 1]
    if problems:
        raise ConfigError("\n".join(problems))
    return Catalogue(indicators=tuple(indicators))


def load_plans(folder: Path | None, catalogue: Catalogue) -> tuple[Plan, ...]:
    """Every plan in the folder (the bundled Cheshire plans by default), checked together."""
    problems: list[str] = []
    plans: list[Plan] = []
    for name, text in _files(folder, "plans"):
        try:
            plan = Plan.model_validate(_read_yaml(name, text))
        except ValidationError as exc:
            problems.append(format_validation_error(name, exc))
            continue
        problems += _check_plan(name, plan, catalogue)
        plans.append(plan)
    if not plans and not problems:
        problems.append(f"{folder}: no plan files (*.yaml)")
    if problems:
        raise ConfigError("\n".join(problems))
    return tuple(sorted(plans, key=lambda p: p.effective_from))


def _check_plan(name: str, plan: Plan, catalogue: Catalogue) -> list[str]:
    known = {i.id: i for i in catalogue.indicators}
    problems = []
    for p_index, priority in enumerate(plan.priorities):
        for t_index, target in enumerate(priority.targets):
            key = f"{name}: priorities.{p_index}.targets.{t_index}"
            indicator = known.get(target.indicator)
            if indicator is None:
                problems.append(f"{key}.indicator: {target.indicator!r} is not in the catalogue")
            elif target.form == "rest_of_force" and indicator.unit == "count":
                problems.append(
                    f"{key}.form: a count cannot be compared with the rest of the force"
                )
    if plan.effective_to is not None and plan.effective_to < plan.effective_from:
        problems.append(f"{name}: effective_to: ends before it starts")
    return problems + _check_documents(name, plan)


def _check_documents(name: str, plan: Plan) -> list[str]:
    """Each quotation names a document the plan lists, and each document is listed once."""
    ids = [d.id for d in plan.documents]
    problems = [
        f"{name}: documents: {i!r} is listed twice" for i in sorted(set(ids)) if ids.count(i) > 1
    ]
    for key, quotation in plan.quotations():
        if quotation.document not in ids:
            problems.append(f"{name}: {key}.document: {quotation.document!r} is not in documents")
    return problems

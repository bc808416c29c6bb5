"""The indicator catalogue and the plan's targets: YAML files parsed into frozen models.

Errors name the file and the key path, all at once, and a target naming an indicator the
catalogue does not define is an error, not a silently empty row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from safer.config import format_validation_error
from safer.errors import ConfigError

__all__ = [
    "Catalogue",
    "Indicator",
    "Plan",
    "Priority",
    "Target",
    "load_catalogue",
    "load_plan",
]

_ID = r"^[a-z][a-z0-9_]*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Indicator(_Frozen):
    id: Annotated[str, Field(pattern=_ID)]
    name: str
    family: Literal["asb", "enforcement", "outcomes", "call_handling"]
    priority: str
    unit: Literal["count", "rate"]
    polarity: Literal["higher_is_better", "lower_is_better", "neutral"]
    source: str
    source_label: str
    basis: str
    """One sentence saying what is counted, for the digest."""
    sql: str
    """Returns area_code (a CSP), month, numerator, denominator (NULL for counts)."""


class Catalogue(_Frozen):
    indicators: tuple[Indicator, ...]

    def get(self, indicator_id: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.id == indicator_id:
                return indicator
        raise KeyError(indicator_id)


class Target(_Frozen):
    indicator: str
    form: Literal["same_quarter_last_year"]
    amber_tolerance: Annotated[float, Field(ge=0)]
    """How far worse than the comparator is still amber rather than red."""
    tolerance_unit: Literal["percent", "points"]
    """``percent`` of the comparator, or percentage ``points`` for rates."""
    source_text: str


class Priority(_Frozen):
    id: str
    name: str
    targets: tuple[Target, ...]


class Plan(_Frozen):
    id: str
    name: str
    effective_from: dt.date
    effective_to: dt.date | None = None
    priorities: tuple[Priority, ...]

    def targets(self) -> Iterable[tuple[Priority, Target]]:
        for priority in self.priorities:
            for target in priority.targets:
                yield priority, target


def _read_yaml(name: str, text: str) -> object:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: not valid YAML: {exc}") from exc


def _files(folder: Path | None, package_dir: str) -> list[tuple[str, str]]:
    """(name, text) of each YAML file in ``folder``, or in the bundled package folder."""
    if folder is not None:
        if not folder.is_dir():
            raise ConfigError(f"{folder}: not a folder of catalogue files")
        return [(str(p), p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.yaml"))]
    bundled: Traversable = resources.files("indicators") / package_dir
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
    problems += [
        f"indicator id {i!r} is defined twice" for i in sorted(set(ids)) if ids.count(i) > 1
    ]
    if problems:
        raise ConfigError("\n".join(problems))
    return Catalogue(indicators=tuple(indicators))


def load_plan(path: Path | None, catalogue: Catalogue) -> Plan:
    """The plan file (the bundled Cheshire plan by default), checked against the catalogue."""
    if path is None:
        name = "indicators/plans/cheshire.yaml"
        text = (resources.files("indicators") / "plans" / "cheshire.yaml").read_text("utf-8")
    else:
        name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the plan file: {exc}") from exc
    try:
        plan = Plan.model_validate(_read_yaml(name, text))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(name, exc)) from exc
    known = {i.id for i in catalogue.indicators}
    unknown = [
        f"{name}: priorities.{p_index}.targets.{t_index}.indicator: {t.indicator!r} is not in "
        "the catalogue"
        for p_index, p in enumerate(plan.priorities)
        for t_index, t in enumerate(p.targets)
        if t.indicator not in known
    ]
    if unknown:
        raise ConfigError("\n".join(unknown))
    return plan

"""The catalogue and plan files: the bundled ones all load, and bad ones fail precisely."""

from __future__ import annotations

import datetime as dt
import importlib
import shutil
from pathlib import Path

import pytest

from safer.indicators.definitions import load_catalogue, load_plans, plan_for
from safer.kernel.config import Settings
from safer.kernel.errors import ConfigError
from tests.conftest import ROOT

CATALOGUE_DIR = ROOT / "indicators" / "catalogue"
PLANS_DIR = ROOT / "indicators" / "plans"
REQUIRED = {
    "asb_incidents",
    "asb_per_1000",
    "positive_outcome_rate",
    "no_suspect_share",
    "flytipping_warning_letters",
    "flytipping_fixed_penalty_notices",
    "flytipping_prosecutions",
    "calls_999_within_10s",
    "calls_999_average_answer",
    "calls_101_average_wait",
    "calls_101_abandonment",
}


def test_the_bundled_catalogue_covers_all_four_families_and_every_required_indicator() -> None:
    catalogue = load_catalogue(CATALOGUE_DIR)
    assert {i.id for i in catalogue.indicators} >= REQUIRED
    assert {i.family for i in catalogue.indicators} == {
        "asb",
        "enforcement",
        "outcomes",
        "call_handling",
    }
    assert load_catalogue() == catalogue, "the packaged copy is the repository's"


def test_the_bundled_plans_load_and_hand_over_without_a_gap() -> None:
    plans = load_plans(PLANS_DIR, load_catalogue())
    assert [p.id for p in plans] == ["cheshire-pcp-2021-24", "cheshire-pcp-2024-28"]
    first, second = plans
    assert first.effective_to is not None
    assert second.effective_from == first.effective_to + dt.timedelta(days=1)
    assert plan_for(plans, dt.date(2024, 5, 8)) == first
    assert plan_for(plans, dt.date(2024, 5, 9)) == second
    assert plan_for(plans, dt.date(2021, 1, 1)) is None
    for plan in plans:
        for priority in plan.priorities:
            for target in priority.targets:
                assert target.source_text, f"{plan.id} {target.indicator}: cites its source"


def test_999_target_is_the_national_standard() -> None:
    plan = plan_for(load_plans(None, load_catalogue()), dt.date(2025, 6, 1))
    assert plan is not None
    target = plan.target_for("calls_999_within_10s")
    assert target is not None and target.form == "threshold"
    assert target.at_least == 0.9 and "90%" in target.source_text


def _copy(tmp_path: Path, source: Path) -> Path:
    folder = tmp_path / source.name
    shutil.copytree(source, folder)
    return folder


def test_a_bad_catalogue_names_every_problem_with_file_and_key_path(tmp_path: Path) -> None:
    folder = _copy(tmp_path, CATALOGUE_DIR)
    path = folder / "police_uk.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("unit: count", "unit: tally", 1).replace("grain: month", "grian: month", 1)
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_catalogue(folder)

    lines = str(caught.value).splitlines()
    assert (
        f"{path}: indicators.0.unit: Input should be 'count', 'rate', 'per_1000', 'ratio' or "
        "'seconds'" in (lines)
    )
    assert f"{path}: indicators.0.grian: Extra inputs are not permitted" in lines
    assert f"{path}: indicators.0.grain: Field required" in lines


def test_unparseable_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    folder = _copy(tmp_path, CATALOGUE_DIR)
    path = folder / "call_handling.yaml"
    path.write_text("indicators:\n  - id: x\n   name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_catalogue(folder)
    # The wording after the position is libyaml's (or PyYAML's, without libyaml).
    assert str(caught.value).startswith(f"{path}: line 3, column 4: not valid YAML: ")


def test_a_duplicate_indicator_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path, CATALOGUE_DIR)
    shutil.copy(folder / "defra_flytipping.yaml", folder / "enforcement-copy.yaml")
    with pytest.raises(ConfigError, match="'flytipping_prosecutions' is defined twice"):
        load_catalogue(folder)


def test_a_bad_plan_names_the_target_and_what_is_wrong(tmp_path: Path) -> None:
    folder = _copy(tmp_path, PLANS_DIR)
    path = folder / "cheshire-2024-28.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("indicator: asb_per_1000", "indicator: asb_per_10000")
    text = text.replace("form: same_period_last_year", "form: rest_of_force", 1)
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_plans(folder, load_catalogue())

    assert str(caught.value).splitlines() == [
        f"{path}: priorities.0.targets.0.form: a count cannot be compared with the rest of the"
        " force",
        f"{path}: priorities.0.targets.1.indicator: 'asb_per_10000' is not in the catalogue",
    ]


def test_a_target_with_two_bounds_is_refused_by_the_schema(tmp_path: Path) -> None:
    folder = _copy(tmp_path, PLANS_DIR)
    path = folder / "cheshire-2024-28.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("at_least: 0.9", "at_least: 0.9\n        at_most: 0.95"))
    with pytest.raises(ConfigError) as caught:
        load_plans(folder, load_catalogue())
    assert str(caught.value) == (
        f"{path}: priorities.0.targets.3.threshold: Value error, give exactly one of at_least"
        " or at_most"
    )


def test_every_source_an_indicator_reads_has_a_suite_and_a_due_date() -> None:
    from safer.app.sources import SOURCES, SUITES

    read = {i.source for i in load_catalogue().indicators if i.sql is not None}
    assert read <= set(SOURCES), f"sources without checks: {sorted(read - set(SOURCES))}"
    settings = Settings.model_validate(
        {"force": {"id": "cheshire", "pfa_code": "E23000006", "name": "Cheshire"}}
    )
    for source in SOURCES.values():
        module = importlib.import_module(f"safer.checks.{source.suite}")
        assert module.__doc__, f"{source.id}: checks/{source.suite}.py documents its suite"
        assert callable(SUITES.get(source.id)), f"{source.id} is registered with its suite"
        period = dt.date(2025, 1, 1)
        assert source.due(settings, period) > period, f"{source.id} says when a period is due"

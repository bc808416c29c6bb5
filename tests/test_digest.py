"""Building and rendering digests: pure, with fragment checks and one golden file per part.

Regenerate the golden files after an intended change with ``SAFER_UPDATE_GOLDEN=1 make test``
and review the diff.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from alerts.deliver import reporting_evaluations
from alerts.digest import build_digest
from alerts.render import render_digest
from indicators.definitions import load_catalogue, load_plans
from indicators.evaluate import Evaluation, Status
from indicators.spc import SpcRules, describe, spc
from pipelines.sources import active_catalogue
from safer.config import Recipient, Settings
from safer.periods import add_months

GOLDEN = Path(__file__).parent / "golden"
# As a deployment with only the street file configured sees it: every other indicator says
# which source would give it figures.
CATALOGUE = active_catalogue(
    load_catalogue(),
    Settings.model_validate({"force": {"id": "cheshire", "pfa_code": "E23000006", "name": "C"}}),
)
PLANS = load_plans(None, CATALOGUE)
AREAS = {
    "E23000006": "Cheshire",
    "E22000354": "Cheshire East",
    "E22000023": "Halton",
}
Q3, Q4 = dt.date(2025, 10, 1), dt.date(2026, 1, 1)
LEAD = Recipient(name="Performance lead", email="lead@example.org")
HALTON = Recipient(name="Halton CSP", email="halton@example.org", areas=("E22000023",))


# Monthly figures Apr to Dec 2025 as multiples of a third of the quarter: common cause.
COMMON = (1.02, 0.97, 1.05, 0.99, 1.01, 0.95, 1.03, 0.98, 1.0)


def _e(
    indicator: str,
    area: str,
    start: dt.date,
    status: Status,
    value: float,
    monthly: tuple[float, ...] = COMMON,
) -> Evaluation:
    """An evaluation whose SPC fields come from the real engine on Apr 2025 onwards."""
    dates = [add_months(dt.date(2025, 4, 1), i) for i in range(len(monthly))]
    result = spc(
        [value / 3 * f for f in monthly],
        direction="decrease",
        rules=SpcRules(minimum_points=9),
        dates=dates,
    )
    return Evaluation(
        indicator,
        area,
        start,
        status,
        f"reason {status}",
        value,
        previous_quarter=value * 1.1,
        last_year=value * 0.9,
        spc_variation=result.variation,
        spc_text=f"SPC on monthly figures {dates[0]:%b %Y} to {dates[-1]:%b %Y}: "
        + describe(result, lambda x: f"{x:,.0f}"),
        spc_points=result.points,
    )


EVALUATIONS = [
    _e("asb_incidents", "E23000006", Q3, Status.RED, 1650),
    _e("asb_incidents", "E22000354", Q3, Status.AMBER, 480),
    # Halton's latest month falls below the lower process limit: special cause improvement.
    _e("asb_incidents", "E22000023", Q3, Status.GREEN, 250, (*COMMON[:-1], 0.6)),
    _e("asb_incidents", "E23000006", Q4, Status.INCOMPLETE, 520),
    _e("asb_incidents", "E22000354", Q4, Status.INCOMPLETE, 160),
    _e("asb_incidents", "E22000023", Q4, Status.INCOMPLETE, 80),
    _e("positive_outcome_rate", "E23000006", Q3, Status.WITHHELD, 0.21),
    _e("positive_outcome_rate", "E22000354", Q3, Status.WITHHELD, 0.2),
    _e("positive_outcome_rate", "E22000023", Q3, Status.WITHHELD, 0.22),
]
NOTES = ["Withheld: the 2025-11 file (x.csv) failed its checks (month_is_file_month)."]


def _digest(recipient: Recipient = LEAD, notified: dict | None = None):  # type: ignore[no-untyped-def,type-arg]
    return build_digest(recipient, CATALOGUE, PLANS, AREAS, EVALUATIONS, notified or {}, NOTES)


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("SAFER_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"differs from {path}; see module docstring"


def test_the_subject_gives_the_period_and_what_needs_attention() -> None:
    digest = _digest()
    assert digest is not None
    assert digest.subject == "Community safety indicators 2025/26 Q4 — 2 off track, 3 withheld"


def test_the_text_part_carries_every_fact_and_matches_the_golden_file() -> None:
    digest = _digest()
    assert digest is not None
    text = render_digest(digest).text
    assert "- NEWLY OFF TRACK: ASB incidents, Cheshire, 2025/26 Q3: 1,650. Reason red." in text
    assert "- WITHHELD: Positive-outcome rate, Halton, 2025/26 Q3. Reason withheld." in text
    assert "22.0%" not in text, "a withheld figure is never shown as a number"
    assert NOTES[0] in text
    assert (
        "- Halton, 2025/26 Q4: 80 (vs previous quarter −9.1%; vs same quarter last year +11.1%)"
        " — QUARTER INCOMPLETE: reason incomplete. SPC on monthly figures Apr 2025 to Dec 2025:"
        " common cause variation; monthly mean 27 and process limits 23 to 30;"
        " latest month 27 (Dec 2025)." in text
    )
    assert (
        "- Not shown: no source configured: the force's call-handling return, 999 measures as"
        " police.uk publishes them (add [sources.call_handling] to safer.toml)." in text
    )
    _golden("digest.txt", text)


def test_the_html_part_is_built_for_outlook_and_matches_the_golden_file() -> None:
    digest = _digest()
    assert digest is not None
    html = render_digest(digest).html
    assert 'width="640"' in html and "max-width:640px" in html
    assert "<script" not in html.lower() and "<style" not in html.lower()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "no external resources"
    assert "Reason red." in html and "1,650" in html
    _golden("digest.html", html)


def test_html_escapes_text_from_data() -> None:
    evaluation = Evaluation("asb_incidents", "E23000006", Q3, Status.RED, "<b>bold</b> & co", 1)
    digest = build_digest(LEAD, CATALOGUE, PLANS, AREAS, [evaluation], {}, [])
    assert digest is not None
    rendered = render_digest(digest)
    text, html = rendered.text, rendered.html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in html
    assert "<b>bold</b> & co" in text


def test_a_data_warning_is_shown_beside_its_figure_in_both_parts() -> None:
    warned = replace(
        _e("asb_incidents", "E22000023", Q3, Status.GREEN, 250),
        data_warning="Halton, Dec 2025: 45 lies far outside the SPC limits",
    )
    held = replace(
        _e("positive_outcome_rate", "E22000023", Q3, Status.WITHHELD, 0.22),
        data_warning="never shown for a withheld figure",
    )
    digest = build_digest(LEAD, CATALOGUE, PLANS, AREAS, [warned, held], {}, [])
    assert digest is not None
    rendered = render_digest(digest)
    text, html = rendered.text, rendered.html
    line = next(x for x in text.splitlines() if x.startswith("- Halton, 2025/26 Q3: 250"))
    assert line.endswith("DATA WARNING: Halton, Dec 2025: 45 lies far outside the SPC limits.")
    assert "<strong>Data warning:</strong> Halton, Dec 2025: 45 lies far outside" in html
    assert "never shown" not in text and "never shown" not in html


def test_a_recipient_gets_only_their_areas() -> None:
    digest = _digest(HALTON)
    assert digest is not None
    areas = {item.area for s in digest.sections for b in s.blocks for item in b.rows}
    assert areas == {"Halton"}


def test_nothing_new_means_no_digest_and_changes_are_named() -> None:
    first = _digest()
    assert first is not None
    told: dict[tuple[str, str, dt.date], set[str]] = {}
    for indicator, area, start, status in first.new_keys:
        told.setdefault((indicator, area, start), set()).add(status)
    assert _digest(notified=told) is None
    told[("asb_incidents", "E23000006", Q3)] = {"amber"}
    told[("asb_incidents", "E22000023", Q3)] = {"red"}
    digest = _digest(notified=told)
    assert digest is not None
    kinds = {(m.kind, m.item.area) for m in digest.movements}
    assert kinds == {("worsened", "Cheshire"), ("back on track", "Halton")}


def test_reporting_keeps_the_latest_and_the_latest_judged_quarter() -> None:
    older = _e("asb_incidents", "E23000006", dt.date(2025, 7, 1), Status.GREEN, 1)
    kept = reporting_evaluations([older, *EVALUATIONS])
    assert older not in kept
    assert {e.period_start for e in kept} == {Q3, Q4}


@pytest.mark.parametrize("template", ["digest.txt.j2", "digest.html.j2"])
def test_templates_refuse_undefined_names(template: str) -> None:
    from jinja2 import UndefinedError

    from alerts.render import _environment

    with pytest.raises(UndefinedError):
        _environment().get_template(template).render()


def test_a_recipient_following_one_priority_gets_only_its_indicators() -> None:
    listen = Recipient(name="Victims lead", email="v@example.org", priorities=("listen",))
    found = [
        _e("asb_incidents", "E23000006", Q3, Status.RED, 1650),
        _e("no_suspect_share", "E23000006", Q3, Status.NOT_EVALUATED, 0.27),
    ]
    digest = build_digest(listen, CATALOGUE, PLANS, AREAS, found, {}, [])
    assert digest is not None
    assert [s.priority for s in digest.sections] == ["Listen to the public"]
    assert [b.name for s in digest.sections for b in s.blocks] == [
        "Crimes closed with no suspect identified",
        "Positive outcomes among outcomes recorded",
    ]
    assert digest.subject.endswith("— 0 off track"), "the ASB figure is not theirs to count"
    by_family = Recipient(name="ASB", email="a@example.org", priorities=("asb",))
    asb = build_digest(by_family, CATALOGUE, PLANS, AREAS, found, {}, [])
    assert asb is not None and asb.subject.endswith("— 1 off track")


def test_hostile_area_and_indicator_names_are_escaped_in_html() -> None:
    hostile = {**AREAS, "E23000006": '<img src="https://evil.example/x.png">Cheshire & Co'}
    catalogue = CATALOGUE.model_copy(
        update={
            "indicators": tuple(
                i.model_copy(update={"name": "<script>alert(1)</script>ASB"})
                if i.id == "asb_incidents"
                else i
                for i in CATALOGUE.indicators
            )
        }
    )
    found = [_e("asb_incidents", "E23000006", Q3, Status.RED, 1650)]
    digest = build_digest(LEAD, catalogue, PLANS, hostile, found, {}, [])
    assert digest is not None
    rendered = render_digest(digest)
    text, html = rendered.text, rendered.html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;ASB" in html
    assert 'src="https://evil' not in html and "Cheshire &amp; Co" in html
    assert "<script>alert(1)</script>ASB" in text, "the plain text part is not HTML"


def test_a_new_special_cause_signal_is_told_once_even_when_the_status_holds() -> None:
    steady = _e("asb_incidents", "E22000023", Q3, Status.GREEN, 250)
    told = {("asb_incidents", "E22000023", Q3): {"green"}}
    assert build_digest(LEAD, CATALOGUE, PLANS, AREAS, [steady], told, []) is None
    signalled = replace(steady, spc_variation="concern_high")
    digest = build_digest(LEAD, CATALOGUE, PLANS, AREAS, [signalled], told, [])
    assert digest is not None
    assert [m.kind for m in digest.movements] == ["special cause: concern"]
    assert digest.new_keys == (("asb_incidents", "E22000023", Q3, "spc:concern_high"),)
    told[("asb_incidents", "E22000023", Q3)].add("spc:concern_high")
    assert build_digest(LEAD, CATALOGUE, PLANS, AREAS, [signalled], told, []) is None


def test_the_date_header_is_in_uk_time() -> None:
    from alerts.outbox import _message

    digest = _digest()
    assert digest is not None
    summer = dt.datetime(2025, 7, 1, 5, 30, tzinfo=dt.UTC)
    message = _message(
        "abc", "safer@example.org", "Lead", "l@example.org", render_digest(digest), summer
    )
    assert message["Date"] == "Tue, 01 Jul 2025 06:30:00 +0100"

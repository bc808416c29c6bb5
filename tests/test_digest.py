"""Building and rendering digests: pure, with fragment checks and one golden file per part.

Regenerate the golden files after an intended change with ``SAFER_UPDATE_GOLDEN=1 make test``
and review the diff.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from safer.alerts.digest import Told, build_digest
from safer.alerts.model import Digest
from safer.alerts.notes import DataNote
from safer.alerts.render import render_digest
from safer.alerts.revisions import NOTHING_SENT, Sent, SentRecord, SourceEvent, revision_kind
from safer.app.sources import active_catalogue
from safer.indicators.definitions import load_catalogue, load_plans
from safer.indicators.evaluate import Evaluation, Status
from safer.indicators.spc import SpcRules, describe, spc
from safer.kernel.config import Recipient, Settings
from safer.kernel.periods import add_months

GOLDEN = Path(__file__).parent / "golden"
# As a deployment with only the street file configured sees it: every other indicator says
# which source would give it figures.
CATALOGUE = active_catalogue(
    load_catalogue(),
    Settings.model_validate({"force": {"id": "cheshire", "pfa_code": "E23000006", "name": "C"}}),
)
PLANS = load_plans(None, CATALOGUE)
FULL = load_catalogue()
"""Every source configured: no indicator is "not measured"."""
PLAN = "cheshire-pcp-2024-28"
FORCE = "E23000006"
AREAS = {FORCE: "Cheshire", "E22000354": "Cheshire East", "E22000023": "Halton"}
Q = [dt.date(2024, 10, 1), dt.date(2025, 1, 1), dt.date(2025, 4, 1), dt.date(2025, 7, 1)]
Q3 = dt.date(2025, 10, 1)
LEAD = Recipient(name="Performance lead", email="lead@example.org")
HALTON = Recipient(name="Halton CSP", email="halton@example.org", areas=("E22000023", FORCE))

# Monthly figures as multiples of a third of the quarter: common cause.
COMMON = (1.02, 0.97, 1.05, 0.99, 1.01, 0.95, 1.03, 0.98, 1.0, 1.01, 0.99, 1.02)
FORMS = {
    "asb_incidents": "same_period_last_year",
    "asb_per_1000": "rest_of_force",
    "positive_outcome_rate": "same_period_last_year",
    "calls_999_within_10s": "threshold",
}


def _e(
    indicator: str,
    area: str,
    start: dt.date,
    status: Status,
    value: float,
    monthly: tuple[float, ...] = COMMON,
    **fields: object,
) -> Evaluation:
    """An evaluation whose SPC fields come from the real engine on the 12 months to the
    quarter's end."""
    first = add_months(start, 3 - len(monthly))
    dates = [add_months(first, i) for i in range(len(monthly))]
    result = spc(
        [value / 3 * f for f in monthly],
        direction="decrease",
        rules=SpcRules(minimum_points=9),
        dates=dates,
    )
    base = Evaluation(
        indicator,
        area,
        start,
        status,
        f"reason {status}",
        value,
        previous_quarter=value * 1.1,
        last_year=value * 0.9,
        plan_id=PLAN,
        target_form=FORMS.get(indicator, "monitor"),
        spc_variation=result.variation,
        spc_assurance=result.assurance,
        spc_text=f"SPC on monthly figures {dates[0]:%b %Y} to {dates[-1]:%b %Y}: "
        + describe(result, lambda x: f"{x:,.0f}"),
        spc_points=result.points,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


EVALUATIONS = [
    _e("asb_incidents", FORCE, Q[3], Status.GREEN, 1700),
    _e("asb_incidents", FORCE, Q3, Status.RED, 1650),
    _e("asb_incidents", "E22000354", Q3, Status.AMBER, 480),
    # Halton's latest month falls below the lower process limit: special cause improvement.
    _e("asb_incidents", "E22000023", Q3, Status.GREEN, 250, (*COMMON[:-1], 0.6)),
    _e("asb_incidents", "E22000023", add_months(Q3, 3), Status.INCOMPLETE, 80),
    _e("positive_outcome_rate", FORCE, Q3, Status.WITHHELD, 0.21),
    _e("positive_outcome_rate", "E22000354", Q3, Status.WITHHELD, 0.2),
    _e("positive_outcome_rate", "E22000023", Q3, Status.WITHHELD, 0.22),
    _e("no_suspect_share", "E22000023", Q3, Status.NOT_EVALUATED, 0.27),
]
NOTES = [
    DataNote("data.police.uk street file", "withheld", "2025/26 Q3", "the Nov 2025 file failed"),
    DataNote("council return", "about", "EXAMPLE returns, not real data"),
    DataNote("call-handling return", "about", "EXAMPLE returns, not real data"),
]


def _digest(
    recipient: Recipient = LEAD,
    told: Told | None = None,
    found: Sequence[Evaluation] = EVALUATIONS,
    notes: Sequence[DataNote] = NOTES,
    stale: dict[str, str] | None = None,
    sent: SentRecord = NOTHING_SENT,
) -> Digest:
    digest = build_digest(
        recipient, CATALOGUE, PLANS, AREAS, found, told or {}, notes, FORCE, stale, sent
    )
    assert digest is not None
    return digest


def _told(*digests: Digest) -> dict[tuple[str, str, dt.date], list[str]]:
    """What a recipient has been told after ``digests``, as the outbox records it: in the order
    sent, a status sent again moving to the end."""
    told: dict[tuple[str, str, dt.date], list[str]] = {}
    for digest in digests:
        for indicator, area, start, status in digest.new_keys:
            said = told.setdefault((indicator, area, start), [])
            if status in said:
                said.remove(status)
            said.append(status)
    return told


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("SAFER_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"differs from {path}; see module docstring"


def test_the_subject_names_the_period_the_areas_and_what_moved() -> None:
    digest = _digest()
    assert digest.subject == (
        "Community safety 2025/26 Q3, Cheshire: 2 newly off track, 1 newly withheld, "
        "1 special cause improvement"
    )
    assert _digest(HALTON).subject.startswith("Community safety 2025/26 Q3, Halton: ")


def test_one_indicator_walked_through_four_quarters_is_worded_by_its_history() -> None:
    """On, off, off, on: newly off track once, then still off track, then back on track."""
    statuses = [Status.GREEN, Status.RED, Status.RED, Status.GREEN]
    values = [1.30, 2.01, 2.20, 1.40]
    history = [
        _e("asb_per_1000", "E22000023", q, s, v, reason=f"{v:.2f} per 1,000 against 1.60")
        for q, s, v in zip(Q, statuses, values, strict=True)
    ]
    sent: list[Digest] = []
    lines = []
    for n in range(1, 5):
        digest = _digest(HALTON, _told(*sent), history[:n], notes=[])
        sent.append(digest)
        lines.append([f"{m.kind.value}: {m.text}" for m in digest.movements])
        assert [r.period for r in digest.rows] == [history[n - 1].period_label]
    origin = "(local reading of the plan's aim, not a published target)"
    assert lines[0] == []
    assert lines[1] == [
        "Newly off track: ASB incidents per 1,000 residents, Halton, 2024/25 Q4: "
        f"2.01 per 1,000 against 1.60 {origin}. On track in 2024/25 Q3 (1.30 per 1,000)."
    ]
    assert lines[2] == [
        "Still off track: ASB incidents per 1,000 residents, Halton, 2025/26 Q1, "
        f"2nd quarter running: 2.20 per 1,000 against 1.60 {origin}."
    ]
    assert lines[3] == [
        "Back on track: ASB incidents per 1,000 residents, Halton, 2025/26 Q2: "
        f"1.40 per 1,000 against 1.60 {origin}, after 2 quarters off track "
        "(2.20 per 1,000 in 2025/26 Q1)."
    ]
    assert [r.streak for d in sent for r in d.rows] == [
        "first judged quarter",
        "new this quarter",
        "2 quarters running",
        "new this quarter",
    ]
    text = render_digest(sent[2]).text
    assert "- STILL OFF TRACK: ASB incidents per 1,000 residents, Halton, 2025/26 Q1" in text
    assert "OFF TRACK†, 2 quarters running" in text
    told = _told(*sent)
    assert build_digest(HALTON, CATALOGUE, PLANS, AREAS, history, told, [], FORCE) is None


def test_a_told_quarter_is_not_news_again_and_a_new_one_is() -> None:
    first = _digest(HALTON, {}, EVALUATIONS)
    assert (
        build_digest(HALTON, CATALOGUE, PLANS, AREAS, EVALUATIONS, _told(first), [], FORCE) is None
    )
    later = [*EVALUATIONS, _e("asb_incidents", "E22000023", add_months(Q3, 3), Status.GREEN, 240)]
    digest = _digest(HALTON, _told(first), later, notes=[])
    assert [r.period for r in digest.rows if r.indicator_id == "asb_incidents"] == ["2025/26 Q4"]


def test_worse_and_better_while_off_track_come_from_amber_and_red() -> None:
    amber_red = [
        _e("asb_incidents", FORCE, Q[2], Status.AMBER, 1500),
        _e("asb_incidents", FORCE, Q[3], Status.RED, 1600),
    ]
    assert [m.kind.value for m in _digest(found=amber_red, notes=[]).movements] == [
        "Worse while off track"
    ]
    red_amber = [
        replace(amber_red[0], status=Status.RED),
        replace(amber_red[1], status=Status.AMBER),
    ]
    assert [m.kind.value for m in _digest(found=red_amber, notes=[]).movements] == [
        "Better while off track"
    ]


def _walk(recipient: Recipient, *stages: Sequence[Evaluation]) -> list[list[str]]:
    """The movement lines of successive digests, each sent before the next is built."""
    sent: list[Digest] = []
    lines = []
    for found in stages:
        digest = build_digest(recipient, CATALOGUE, PLANS, AREAS, found, _told(*sent), [], FORCE)
        lines.append([f"{m.kind.value}: {m.text}" for m in digest.movements] if digest else [])
        sent += [digest] if digest else []
    return lines


def _rate(start: dt.date, status: Status, value: float, **fields: object) -> Evaluation:
    fields.setdefault("reason", f"{value:.2f} per 1,000 against 1.60")
    return _e("asb_per_1000", "E22000023", start, status, value, **fields)


ORIGIN = "(local reading of the plan's aim, not a published target)"


def test_a_figure_revised_back_to_a_status_already_sent_is_news_again() -> None:
    """Red when sent, revised to green, revised back to red: three digests, each worded
    against what the quarter was last sent as."""
    red, green = _rate(Q[3], Status.RED, 2.0), _rate(Q[3], Status.GREEN, 1.5)
    lines = _walk(HALTON, [red], [green], [red])
    assert lines[1] == [
        "Back on track: ASB incidents per 1,000 residents, Halton, 2025/26 Q2: 1.50 per 1,000 "
        f"against 1.60 {ORIGIN}. Revised: it was off track when last sent."
    ]
    assert lines[2] == [
        "Newly off track: ASB incidents per 1,000 residents, Halton, 2025/26 Q2: 2.00 per 1,000 "
        f"against 1.60 {ORIGIN}. Revised: it was on track when last sent."
    ]


def test_off_track_after_a_gap_is_off_track_again_not_still_or_newly() -> None:
    history = [_rate(Q[0], Status.RED, 2.0), _rate(Q[2], Status.RED, 2.1)]
    assert _walk(HALTON, history)[0] == [
        "Still off track: ASB incidents per 1,000 residents, Halton, 2025/26 Q1, off track "
        f"again: 2.10 per 1,000 against 1.60 {ORIGIN}. Last judged in 2024/25 Q3 "
        "(2.00 per 1,000), off track then too."
    ]
    (row,) = _digest(HALTON, found=history, notes=[]).rows
    assert row.streak == "again (last judged 2024/25 Q3)", "not 'new', not a run"


def test_worse_while_the_figure_improved_says_the_figure_improved() -> None:
    # Slightly off track at 1.96, off track at 1.59: the rest of the force's change on last
    # year (what the plan compares with) fell further, from −10% to −25%.
    history = [
        _rate(Q[2], Status.AMBER, 1.96, comparator=-10.0),
        _rate(Q[3], Status.RED, 1.59, comparator=-25.0),
    ]
    (line,) = _walk(HALTON, history)[0]
    assert line.startswith("Worse while off track: ")
    assert line.endswith(
        "Slightly off track in 2025/26 Q1 (1.96 per 1,000). The figure itself fell 18.9%, "
        "but the rest of the force's change moved further (−10.0% to −25.0%)."
    )
    rising = [_rate(Q[2], Status.AMBER, 1.50), _rate(Q[3], Status.RED, 1.70)]
    assert _walk(HALTON, rising)[0][0].endswith("(1.50 per 1,000)."), "no caveat when it agrees"


def test_a_release_that_is_also_back_on_track_is_one_line() -> None:
    history = [_rate(Q[2], Status.RED, 2.0), _rate(Q[3], Status.WITHHELD, 1.5)]
    released = [history[0], replace(history[1], status=Status.GREEN)]
    lines = _walk(HALTON, history, released)
    assert [line.split(":")[0] for line in lines[1]] == ["Back on track"]
    assert lines[1][0].endswith("Its data now pass their checks: it was withheld when last sent.")


def test_a_figure_withheld_quarter_after_quarter_is_newly_withheld_once() -> None:
    held = [_rate(q, Status.WITHHELD, 2.0, reason="withheld: the file failed") for q in Q[2:]]
    lines = _walk(HALTON, held[:1], held)
    assert lines[0] == [
        "Newly withheld: ASB incidents per 1,000 residents, Halton, 2025/26 Q1: the file failed."
    ]
    assert lines[1] == [
        "Still withheld: ASB incidents per 1,000 residents, Halton, 2025/26 Q2: still withheld, "
        "the file failed."
    ]


def test_figures_withheld_together_are_named_with_their_own_areas() -> None:
    why = "withheld: the file failed"
    found = [
        _e("asb_per_1000", "E22000023", Q3, Status.WITHHELD, 2.0, reason=why),
        _e("positive_outcome_rate", "E22000354", Q3, Status.WITHHELD, 0.2, reason=why),
    ]
    (line,) = _digest(LEAD, found=found, notes=[]).movements
    assert line.text == (
        "ASB incidents per 1,000 residents, Halton; Positive-outcome rate, Cheshire East, "
        "2025/26 Q3: the file failed."
    )


def test_a_recipient_routed_by_priority_keeps_history_from_before_the_plan_named_it() -> None:
    # 2024/25 Q1 fell under the 2021-24 plan, where the indicator sat under another priority.
    reduce = Recipient(name="Crime lead", email="c@example.org", priorities=("reduce_crime",))
    earlier = _rate(dt.date(2024, 4, 1), Status.RED, 2.0, plan_id="cheshire-pcp-2021-24")
    history = [earlier, _rate(dt.date(2024, 7, 1), Status.RED, 2.1)]
    (line,) = _walk(reduce, history)[0]
    assert line.startswith("Still off track: ") and "2nd quarter running" in line


def test_movements_are_ordered_by_severity_then_the_recipients_areas() -> None:
    digest = _digest()
    kinds = [(m.kind.value, AREAS[m.area_code]) for m in digest.movements]
    assert kinds == [
        ("Newly off track", "Cheshire"),
        ("Newly off track", "Cheshire East"),
        ("Newly withheld", "Cheshire"),
        ("Special cause improvement", "Halton"),
    ]
    held = next(m for m in digest.movements if m.kind.value == "Newly withheld")
    assert (
        held.text
        == "Positive-outcome rate, Cheshire, Cheshire East and Halton, 2025/26 Q3: reason withheld."
    )
    assert digest.groups[0].indicator_id == "asb_incidents", "what is off track comes first"


def test_a_withheld_figure_is_never_a_number_and_its_release_is_told() -> None:
    first = _digest()
    text = render_digest(first).text
    assert "22.0%" not in text and "21.0%" not in text
    assert "- Cheshire, Cheshire East and Halton: withheld | – | – | WITHHELD" in text
    released = [
        replace(e, status=Status.GREEN) if e.status is Status.WITHHELD else e for e in EVALUATIONS
    ]
    digest = _digest(LEAD, _told(first), released, notes=[])
    assert [(m.kind.value, AREAS[m.area_code]) for m in digest.movements][:3] == [
        ("Released", "Cheshire"),
        ("Released", "Cheshire East"),
        ("Released", "Halton"),
    ]
    assert "its data now pass their checks: 22.0%, on track." in render_digest(digest).text


def test_a_new_special_cause_signal_is_told_once_and_not_again_while_it_lasts() -> None:
    steady = _e("asb_incidents", "E22000023", Q[3], Status.GREEN, 250)
    told = {("asb_incidents", "E22000023", Q[3]): ["green"]}
    assert build_digest(LEAD, CATALOGUE, PLANS, AREAS, [steady], told, [], FORCE) is None
    signalled = replace(steady, spc_variation="concern_high")
    digest = _digest(LEAD, told, [signalled], notes=[])
    assert [m.kind.value for m in digest.movements] == ["Special cause concern"]
    assert digest.new_keys == (("asb_incidents", "E22000023", Q[3], "spc:concern_high"),)
    next_quarter = replace(signalled, period_start=Q3, status=Status.GREEN)
    lasting = _digest(LEAD, _told(digest) | told, [signalled, next_quarter], notes=[])
    assert [m.kind.value for m in lasting.movements] == [], "the same signal, a quarter on"


def test_a_series_with_no_current_data_is_one_line_not_a_row() -> None:
    old = _e("stop_search_find_rate", FORCE, dt.date(2018, 10, 1), Status.NOT_EVALUATED, 0.3)
    found = [*EVALUATIONS, old]
    stale = {"stop_search_find_rate": ("data.police.uk stop-and-search file", "February 2019")}
    digest = build_digest(LEAD, FULL, PLANS, AREAS, found, {}, [], FORCE, stale)
    assert digest is not None
    assert "stop_search_find_rate" not in {m.indicator_id for m in digest.monitored}
    assert digest.stale == (
        "data.police.uk stop-and-search file: no data since February 2019 "
        "(Stop and search find rate).",
    )
    assert "file: no data since February 2019" in render_digest(digest).text


def test_monitoring_only_figures_fold_into_the_appendix() -> None:
    digest = _digest(HALTON)
    assert [m.indicator_id for m in digest.monitored] == ["no_suspect_share"]
    html = render_digest(digest).html
    assert html.index('id="appendix"') < html.index("Crimes closed with no suspect identified")
    assert html.index("data-summary-row") < html.index('id="appendix"')


def test_a_partnership_officer_sees_the_force_as_context_not_as_rows() -> None:
    digest = _digest(HALTON)
    assert {r.area for r in digest.rows} == {"Halton"}
    assert [r.context for r in digest.rows if r.indicator_id == "asb_incidents"] == ["Force 1,650"]


def test_every_judgement_says_where_its_target_comes_from() -> None:
    digest = _digest()
    rendered = render_digest(digest)
    assert "† Local reading of the plan's aim, not a published target." in rendered.text
    assert all(
        m.text.endswith(
            ("(local reading of the plan's aim, not a published target).", "quarter judged.")
        )
        or "local reading" in m.text
        for m in digest.movements
        if m.kind.off_track
    )
    assert 'Off track</strong><span style="color:#555555;">†</span>' in rendered.html


def test_data_notes_are_merged_per_source_for_officers() -> None:
    notes = _digest().notes
    assert notes == (
        "Council return and call-handling return: EXAMPLE returns, not real data.",
        "data.police.uk street file: figures for 2025/26 Q3 are withheld until the data is "
        "fixed (the Nov 2025 file failed).",
    )


def test_a_data_warning_is_shown_beside_its_figure_in_both_parts() -> None:
    warned = _e(
        "asb_incidents",
        "E22000023",
        Q3,
        Status.GREEN,
        250,
        data_warning="Halton, Dec 2025: 45 lies far outside the SPC limits",
    )
    held = _e(
        "positive_outcome_rate",
        "E22000023",
        Q3,
        Status.WITHHELD,
        0.22,
        data_warning="never shown for a withheld figure",
    )
    rendered = render_digest(_digest(found=[warned, held], notes=[]))
    text, html = rendered.text, rendered.html
    assert "DATA WARNING: Halton, Dec 2025: 45 lies far outside the SPC limits." in text
    assert "<strong>Data warning:</strong> Halton, Dec 2025: 45 lies far outside" in html
    assert "never shown" not in text and "never shown" not in html


def test_the_text_part_carries_the_same_facts_in_the_same_order_and_matches_golden() -> None:
    rendered = render_digest(_digest())
    text = rendered.text
    order = ["AT A GLANCE", "WHAT MOVED", "CHARTS", "DATA NOTES", "ALSO MONITORED", "HOW THESE"]
    assert [text.index(h) for h in order] == sorted(text.index(h) for h in order)
    html_order = [
        f">{h}" for h in ("At a glance", "What moved", "Charts<", "Data notes", "Also mon")
    ]
    html_order.append(">How these")
    assert [rendered.html.index(h) for h in html_order] == sorted(
        rendered.html.index(h) for h in html_order
    )
    _golden("digest.txt", text)


def test_the_html_part_is_built_for_every_client_and_matches_the_golden_file() -> None:
    rendered = render_digest(_digest())
    html = rendered.html
    assert "max-width:640px" in html and "<!--[if mso]>" in html
    for forbidden in ("<script", "<style", "white-space", "border-radius", "@media", "float:"):
        assert forbidden not in html.lower()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "no external resources"
    assert html.count("data-summary-row") == 4, "three ASB rows, one for every withheld figure"
    _golden("digest.html", html)


def test_charts_and_icons_are_only_for_summary_rows() -> None:
    digest = _digest()
    assert len(digest.charts) == len([r for r in digest.rows if r.status is not Status.WITHHELD])
    rendered = render_digest(digest)
    cids = {image.cid for image in rendered.images}
    assert cids == {c.cid for c in digest.charts} | {i.cid for i in digest.icons}
    for cid in cids:
        assert f'src="cid:{cid}"' in rendered.html


def test_a_section_heading_appears_only_with_content() -> None:
    only = [_e("asb_incidents", FORCE, Q3, Status.GREEN, 1650)]
    digest = build_digest(LEAD, FULL, PLANS, AREAS, only, {}, [], FORCE)
    assert digest is not None
    rendered = render_digest(digest)
    assert "What moved" not in rendered.html and "Data notes" not in rendered.html
    assert "Also monitored" not in rendered.html
    assert "WHAT MOVED" not in rendered.text and "DATA NOTES" not in rendered.text


def test_html_escapes_text_from_data() -> None:
    evaluation = _e("asb_incidents", FORCE, Q3, Status.RED, 1, reason="<b>bold</b> & co")
    rendered = render_digest(_digest(found=[evaluation], notes=[]))
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in rendered.html
    assert "<b>bold</b> & co" in rendered.text


@pytest.mark.parametrize("template", ["digest.txt.j2", "digest.html.j2"])
def test_templates_refuse_undefined_names(template: str) -> None:
    from jinja2 import UndefinedError

    from safer.alerts.render import _environment

    with pytest.raises(UndefinedError):
        _environment().get_template(template).render()


def test_a_recipient_following_one_priority_gets_only_its_indicators() -> None:
    listen = Recipient(name="Victims lead", email="v@example.org", priorities=("listen",))
    found = [
        _e("asb_incidents", FORCE, Q3, Status.RED, 1650),
        _e("no_suspect_share", FORCE, Q3, Status.NOT_EVALUATED, 0.27),
    ]
    digest = _digest(listen, found=found, notes=[])
    assert digest.groups == ()
    assert [m.indicator_id for m in digest.monitored] == ["no_suspect_share"]
    assert digest.subject.endswith(": nothing off track"), "the ASB figure is not theirs"
    by_family = Recipient(name="ASB", email="a@example.org", priorities=("asb",))
    assert _digest(by_family, found=found, notes=[]).subject.endswith(": 1 newly off track")


def test_hostile_area_and_indicator_names_are_escaped_in_html() -> None:
    hostile = {**AREAS, FORCE: '<img src="https://evil.example/x.png">Cheshire & Co'}
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
    found = [_e("asb_incidents", FORCE, Q3, Status.RED, 1650)]
    digest = build_digest(LEAD, catalogue, PLANS, hostile, found, {}, [], FORCE)
    assert digest is not None
    rendered = render_digest(digest)
    text, html = rendered.text, rendered.html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;ASB" in html
    assert 'src="https://evil' not in html and "Cheshire &amp; Co" in html
    assert "<script>alert(1)</script>ASB" in text, "the plain text part is not HTML"


def test_the_message_is_marked_automatic_and_dated_in_uk_time() -> None:
    from safer.alerts.outbox import _message

    summer = dt.datetime(2025, 7, 1, 5, 30, tzinfo=dt.UTC)
    message = _message(
        "abc", "safer@example.org", "Lead", "l@example.org", render_digest(_digest()), summer
    )
    assert message["Date"] == "Tue, 01 Jul 2025 06:30:00 +0100"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Auto-Response-Suppress"] == "All"


def test_the_ledger_keeps_what_the_digest_showed_and_every_area_a_row_stands_for() -> None:
    from safer.alerts.delivery_ledger import COLUMNS, ledger_rows

    digest = _digest()
    rows = [dict(zip(COLUMNS, r, strict=True)) for r in ledger_rows(digest, EVALUATIONS, PLANS)]
    held = [r for r in rows if r["indicator_id"] == "positive_outcome_rate"]
    assert sorted(str(r["area_code"]) for r in held) == sorted(AREAS), "one row per area"
    assert {r["indicator"] for r in held} == {"Positive-outcome rate"}, "the name, not the id"
    assert all(r["value_number"] is None for r in held), "a withheld figure is never a number"
    east = next(
        r for r in rows if (r["indicator_id"], r["area_code"]) == ("asb_incidents", "E22000354")
    )
    assert east["movement"] == "Newly off track"
    assert east["vs_last_quarter"] == "−9.1%" and east["reason"] == "reason amber"


def test_figures_from_a_source_with_a_standing_note_are_marked_beside_them() -> None:
    example = DataNote(
        "call-handling return", "about", "EXAMPLE returns, not real data", source_id="call_handling"
    )
    found = [
        _e("calls_999_within_10s", FORCE, Q3, Status.GREEN, 0.91),
        _e("asb_incidents", FORCE, Q3, Status.RED, 1650),
    ]
    digest = build_digest(LEAD, FULL, PLANS, AREAS, found, {}, [example], FORCE)
    assert digest is not None
    marks = {g.indicator_id: g.note_mark for g in digest.groups}
    assert marks == {"calls_999_within_10s": "§", "asb_incidents": ""}
    assert "§ Call-handling return: EXAMPLE returns, not real data." in digest.footnotes
    assert not any("EXAMPLE" in note for note in digest.notes), "said once, beside the figures"
    text = render_digest(digest).text
    assert "999 calls answered within 10 seconds§ — Target" in text


def test_a_stopped_source_is_one_line_not_also_a_list_of_overdue_releases() -> None:
    overdue = DataNote("data.police.uk stop-and-search file", "missing", "Mar 2019", "1 May 2019")
    found = [
        *EVALUATIONS,
        _e("stop_search_find_rate", FORCE, dt.date(2018, 10, 1), Status.NOT_EVALUATED, 0.3),
    ]
    stale = {"stop_search_find_rate": ("data.police.uk stop-and-search file", "February 2019")}
    digest = build_digest(LEAD, FULL, PLANS, AREAS, found, {}, [overdue], FORCE, stale)
    assert digest is not None
    assert digest.stale == (
        "data.police.uk stop-and-search file: no data since February 2019 (Stop and search find "
        "rate).",
    )
    assert not any("overdue" in note for note in digest.notes)


def test_a_comparison_with_a_period_that_is_not_the_one_before_says_last_judged() -> None:
    history = [_rate(Q[0], Status.AMBER, 1.70), _rate(Q[2], Status.RED, 2.10)]
    (line,) = _walk(HALTON, history)[0]
    assert line.startswith("Worse while off track: ")
    assert line.endswith("Last judged in 2024/25 Q3 (1.70 per 1,000), slightly off track then.")


# --- revision notices: a figure sent before that has changed since ---------------------------

SENT_AT = dt.datetime(2026, 1, 15, 6, 0, tzinfo=dt.UTC)
REPUBLISHED = SourceEvent(
    "police_uk_street",
    "police_street",
    "data.police.uk street file",
    "month",
    "revised",
    (dt.date(2025, 11, 1),),
    SENT_AT + dt.timedelta(days=30),
)


def _sent(
    figures: dict[tuple[str, str, dt.date], float | None], *events: SourceEvent
) -> SentRecord:
    return SentRecord({key: Sent(v, "earlier", SENT_AT) for key, v in figures.items()}, events)


@pytest.mark.parametrize(
    ("indicator", "was", "now", "kind"),
    [
        ("asb_incidents", 1463.0, 1463.0000001, None),  # float noise
        ("asb_incidents", 1463.4, 1462.6, None),  # 1,463 either way
        ("asb_incidents", 1463.0, 1368.0, "Revised"),
        ("positive_outcome_rate", 0.2181, 0.2184, None),  # 21.8% either way
        ("positive_outcome_rate", 0.2181, 0.2186, "Revised"),  # 21.8% → 21.9%
        ("asb_per_1000", 2.014, 2.006, None),
        ("asb_per_1000", 2.014, 2.016, "Revised"),  # 2.01 → 2.02
        ("asb_incidents", 50.0, None, "Withdrawn"),
        ("asb_incidents", None, 50.0, "Restored"),  # said "no figure", now one again
        ("asb_incidents", None, None, None),
    ],
)
def test_a_revision_is_a_change_the_digest_would_show(
    indicator: str, was: float | None, now: float | None, kind: str | None
) -> None:
    assert revision_kind(FULL.get(indicator), was, now) == kind


def test_a_figure_changed_since_it_was_sent_is_one_line_then_not_again() -> None:
    from safer.alerts.delivery_ledger import COLUMNS, WITHDRAWN, ledger_rows

    sent = _sent(
        {
            ("asb_incidents", FORCE, Q3): 1700.0,  # 1,650 now
            ("asb_incidents", "E22000354", Q3): 480.2,  # 480 now: the same as printed
            ("asb_incidents", "E22000023", Q[2]): 240.0,  # no figure now
            ("positive_outcome_rate", FORCE, Q3): 0.25,  # withheld now: "what moved" says so
            ("calls_999_within_10s", FORCE, Q3): 0.91,  # not measured: could not tell
        },
        REPUBLISHED,
    )
    first = _digest(LEAD, {}, EVALUATIONS, sent=sent)
    assert [f"{r.kind}: {r.text}" for r in first.revisions] == [
        "Revised: ASB incidents, Cheshire, 2025/26 Q3: 1,700 → 1,650 (data.police.uk street "
        "file for Nov 2025 republished).",
        "Withdrawn: ASB incidents, Halton, 2025/26 Q1: 240 → no figure (withdrawn at source).",
    ]
    assert first.subject.endswith(", 2 revised")
    rendered = render_digest(first)
    text, html = rendered.text, rendered.html
    assert text.index("REVISED SINCE YOUR LAST DIGEST") < text.index("AT A GLANCE")
    assert "\n- WITHDRAWN: ASB incidents, Halton, 2025/26 Q1: 240 → no figure (" in text
    assert html.index(">Revised since your last digest<") < html.index(">At a glance<")
    assert html.count("data-revision") == 2
    east = Recipient(name="East", email="e@example.org", areas=("E22000354",))
    assert _digest(east, {}, EVALUATIONS, sent=sent).revisions == (), "not their figures"
    # The digest records what it said; built from that record, nothing is news again.
    rows = [dict(zip(COLUMNS, r, strict=True)) for r in ledger_rows(first, EVALUATIONS, PLANS)]
    withdrawn = [r for r in rows if r["status"] == WITHDRAWN]
    assert [(r["section"], r["value"], r["value_number"]) for r in withdrawn] == [
        ("revised", "no figure", None)
    ]
    recorded = {
        (r["indicator_id"], r["area_code"], r["period_start"]): r["value_number"]
        for r in rows
        if r["indicator_id"] and (r["value_number"] is not None or r["status"] == WITHDRAWN)
    }
    assert recorded[("asb_incidents", FORCE, Q3)] == 1650
    later = SentRecord(
        {**sent.figures, **{k: Sent(v, "first", SENT_AT) for k, v in recorded.items()}},
        sent.events,
    )
    assert (
        build_digest(
            LEAD, CATALOGUE, PLANS, AREAS, EVALUATIONS, _told(first), NOTES, FORCE, None, later
        )
        is None
    )


def test_a_revision_that_also_moves_the_status_is_said_in_one_line() -> None:
    red, green = _rate(Q[3], Status.RED, 2.0), _rate(Q[3], Status.GREEN, 1.5)
    first = _digest(HALTON, {}, [red], notes=[])
    sent = _sent({("asb_per_1000", "E22000023", Q[3]): 2.0})

    digest = _digest(HALTON, _told(first), [green], notes=[], sent=sent)

    assert digest.movements == (), "not also 'back on track' under what moved"
    assert [f"{r.kind}: {r.text}" for r in digest.revisions] == [
        "Revised: ASB incidents per 1,000 residents, Halton, 2025/26 Q2: 2.00 per 1,000 → "
        "1.50 per 1,000 (revised at source). Now on track; it was off track when last sent."
    ]
    assert digest.subject.endswith("Halton: 1 back on track, 1 revised")


def test_a_figure_whose_return_was_removed_names_the_file_as_it_can_be_printed() -> None:
    removed = SourceEvent(
        "council_enforcement",
        "council_enforcement",
        "council enforcement return",
        "quarter",
        "withdrawn",
        (Q[3],),
        SENT_AT + dt.timedelta(days=1),
        name="halton-q2\x1b[2J.csv",
    )
    now = _e("asb_formal_powers", "E22000023", Q3, Status.NOT_EVALUATED, 30)
    sent = _sent({("asb_formal_powers", "E22000023", Q[3]): 50.0}, removed)

    digest = build_digest(HALTON, FULL, PLANS, AREAS, [now], {}, [], FORCE, None, sent)

    assert digest is not None
    assert [r.text for r in digest.revisions] == [
        "ASB formal powers used by councils, Halton, 2025/26 Q2: 50 → no figure (council "
        "enforcement return halton-q2\\x1b[2J.csv removed)."
    ]

"""Digest charts: the PNG itself, and how the email carries it (cid: parts, alt text, preview)."""

from __future__ import annotations

import base64
import datetime as dt
import io
import re
import subprocess
import sys
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from PIL import Image

from alerts.charts import HEIGHT, SCALE, SIGNAL_COLOURS, WIDTH, Chart, render_chart
from alerts.digest import build_digest
from alerts.outbox import store_digest
from alerts.render import render_digest
from indicators.evaluate import Status
from indicators.spc import Direction, SpcPoint, SpcRules, spc
from pipelines.db import connect
from tests.conftest import ROOT
from tests.test_digest import AREAS, CATALOGUE, EVALUATIONS, LEAD, PLANS, Q3, _e

STEADY = [100.0, 96, 104, 99, 102, 95, 103, 98, 101, 97, 100, 99]


def _points(values: list[float], direction: Direction = "decrease") -> tuple[SpcPoint, ...]:
    dates = [dt.date(2025 + (i // 12), i % 12 + 1, 1) for i in range(len(values))]
    rules = SpcRules(minimum_points=12)
    return spc(values, direction=direction, rules=rules, dates=dates).points


def _decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image.convert("RGB")


def _count(image: Image.Image, colour: tuple[int, int, int], left: int, right: int) -> int:
    """Pixels exactly ``colour`` in the columns [left, right)."""
    return sum(
        1
        for x in range(left, right)
        for y in range(image.height)
        if image.getpixel((x, y)) == colour
    )


def test_it_draws_a_png_of_the_declared_size() -> None:
    png = render_chart(_points(STEADY))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (WIDTH * SCALE, HEIGHT * SCALE)
    assert len(png) < 8_000, "small enough for dozens in one email"


@pytest.mark.parametrize(
    ("values", "direction", "signal"),
    [
        ([*STEADY, 60], "decrease", "improvement"),
        ([*STEADY, 140], "decrease", "concern"),
        ([*STEADY, 140], "neutral", "neutral_high"),
        ([*STEADY, 100], "decrease", "common_cause"),
    ],
)
def test_the_latest_point_is_marked_at_the_right_in_its_signal_colour(
    values: list[float], direction: Direction, signal: str
) -> None:
    points = _points(values, direction)
    assert points[-1].signal == signal
    image = _decode(render_chart(points))
    colour = SIGNAL_COLOURS[signal]
    edge = image.width - 24  # the last 12 CSS pixels, where the latest point sits
    assert _count(image, colour, edge, image.width) >= 40, "a filled marker, not stray pixels"
    assert _count(image, colour, 0, edge) == 0, "earlier points are common cause"


def test_special_cause_points_before_the_latest_are_coloured_too() -> None:
    points = _points([*STEADY, 60, 62, 58, 100])
    assert [p.signal for p in points[-4:-1]] == ["improvement"] * 3
    image = _decode(render_chart(points))
    assert _count(image, SIGNAL_COLOURS["improvement"], 0, image.width - 24) > 0


def test_the_same_points_give_the_same_bytes_in_any_process() -> None:
    points = _points([*STEADY, 60])
    png = render_chart(points)
    assert render_chart(points) == png
    code = (
        "import sys, datetime as dt\n"
        "from indicators.spc import SpcRules, spc\n"
        "from alerts.charts import render_chart\n"
        f"values = {[*STEADY, 60]!r}\n"
        "dates = [dt.date(2025 + i // 12, i % 12 + 1, 1) for i in range(len(values))]\n"
        "r = spc(values, direction='decrease', rules=SpcRules(minimum_points=12), dates=dates)\n"
        "sys.stdout.buffer.write(render_chart(r.points))\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    ).stdout
    assert other == png


@pytest.mark.parametrize(
    "values", [[5.0], [3.0, 3.0, 3.0], [0.0, 0.0], [10.0, 12, 9, 11], [*STEADY, 1e6]]
)
def test_it_draws_short_flat_and_extreme_series(values: list[float]) -> None:
    image = _decode(render_chart(_points(values)))
    assert image.size == (WIDTH * SCALE, HEIGHT * SCALE)
    assert _count(image, SIGNAL_COLOURS[_points(values)[-1].signal], 0, image.width) >= 40


def test_it_refuses_no_points() -> None:
    with pytest.raises(ValueError, match="at least one point"):
        render_chart(())


def test_identical_charts_share_one_content_id() -> None:
    points = _points(STEADY)
    assert Chart(points, "a").cid == Chart(points, "b").cid != Chart(_points([1.0, 2]), "a").cid
    assert re.fullmatch(r"chart-[0-9a-f]{16}@safer", Chart(points, "a").cid)


def test_every_shown_figure_has_a_chart_with_its_facts_in_words() -> None:
    digest = build_digest(LEAD, CATALOGUE, PLANS, AREAS, EVALUATIONS, {}, [])
    assert digest is not None
    rows = [row for s in digest.sections for b in s.blocks for row in b.rows]
    shown = [row for row in rows if row.status != "withheld"]
    assert shown and all(row.chart is not None for row in shown)
    assert all(row.chart is None for row in rows if row.status == "withheld"), (
        "a withheld figure's months are not drawn either"
    )
    halton = next(r for r in shown if r.area == "Halton" and r.period_start == Q3)
    assert halton.chart is not None
    assert halton.chart.alt == (
        "ASB incidents, Halton, Apr 2025 to Dec 2025: monthly values with mean 80 and process"
        " limits 58 to 101; latest 50 (Dec 2025), special cause: improvement"
    )


def test_a_series_too_short_for_limits_says_so_in_the_alt_text() -> None:
    short = _e("asb_incidents", "E22000023", Q3, Status.GREEN, 250, (1.0, 1.1, 0.9))
    digest = build_digest(LEAD, CATALOGUE, PLANS, AREAS, [short], {}, [])
    assert digest is not None
    (chart,) = digest.charts
    assert chart.alt == (
        "ASB incidents, Halton, Apr 2025 to Jun 2025: monthly values (too few months for"
        " process limits); latest 75 (Jun 2025)"
    )
    assert "latest month 75 (Jun 2025)" in render_digest(digest).text


def _stored(tmp_path: Path) -> tuple[EmailMessage, str, str]:
    digest = build_digest(LEAD, CATALOGUE, PLANS, AREAS, EVALUATIONS, {}, [])
    assert digest is not None
    rendered = render_digest(digest)
    now = dt.datetime(2026, 1, 15, 6, 0, tzinfo=dt.UTC)
    with connect(None) as db:
        stored = store_digest(db, digest, rendered, tmp_path, "safer@example.org", now, "written")
    message = message_from_bytes(stored.eml_path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message, rendered.html, stored.html_path.read_text(encoding="utf-8")


def test_the_email_carries_each_chart_as_an_inline_part_named_by_the_html(
    tmp_path: Path,
) -> None:
    message, _, _ = _stored(tmp_path)
    assert message.get_content_type() == "multipart/alternative"
    text, related = message.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html_part, *images = related.iter_parts()
    assert html_part.get_content_type() == "text/html"
    html = html_part.get_content()
    referenced = re.findall(r'src="cid:([^"]+)"', html)
    cids = [str(part["Content-ID"]).strip("<>") for part in images]
    assert set(referenced) == set(cids) and len(cids) == len(set(cids)) == 6
    for part in images:
        assert part.get_content_type() == "image/png"
        assert part.get_content_disposition() == "inline"
        png = part.get_content()
        assert Image.open(io.BytesIO(png)).size == (WIDTH * SCALE, HEIGHT * SCALE)
    for tag in re.findall(r"<img [^>]*>", html):
        assert re.search(r'alt="[^"]{40,}"', tag), tag
        assert f'width="{WIDTH}"' in tag and f'height="{HEIGHT}"' in tag
    lowered = html.lower()
    assert "<svg" not in lowered and "<script" not in lowered and "data:" not in lowered
    assert not re.search(r"""src=["']?(https?:)?//""", html), "no external images"


def test_the_outbox_preview_shows_the_same_charts_without_cid(tmp_path: Path) -> None:
    message, html, preview = _stored(tmp_path)
    assert "cid:" not in preview
    inlined = re.findall(r'src="data:image/png;base64,([^"]+)"', preview)
    assert len(inlined) == html.count('src="cid:')
    pngs = {
        str(part["Content-ID"]).strip("<>"): part.get_content()
        for part in message.walk()
        if part.get_content_type() == "image/png"
    }
    assert {base64.b64decode(data) for data in inlined} == set(pngs.values())
    assert re.sub(r'src="data:[^"]+"', "", preview) == re.sub(r'src="cid:[^"]+"', "", html)


def test_a_range_names_its_unit_once() -> None:
    rate = _e("asb_per_1000", "E22000023", Q3, Status.GREEN, 0.9)
    digest = build_digest(LEAD, CATALOGUE, PLANS, AREAS, [rate], {}, [])
    assert digest is not None
    (chart,) = digest.charts
    assert re.search(
        r"mean 0\.30 per 1,000 and process limits 0\.\d\d to 0\.\d\d per 1,000;", chart.alt
    )

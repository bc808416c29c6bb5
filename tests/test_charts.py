"""Charts and icons as images: pure functions from points (or a name) to PNG bytes.

The digest's use of them (cid: parts, alt text, the preview) is tested with the digest.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import math
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image, features

from safer.alerts import charts, icons
from safer.alerts.charts import HEIGHT, SCALE, SIGNAL_COLOURS, WIDTH, Chart, render_chart
from safer.alerts.icons import Icon, assurance_icon, variation_icon
from safer.indicators.spc import Direction, SpcPoint, SpcRules, spc
from tests.conftest import ROOT

STEADY = [100.0, 96, 104, 99, 102, 95, 103, 98, 101, 97, 100, 99]
# A count whose moving ranges put the lower process limit near -31: it must be drawn at 0.
SPIKY = [12.0, 40, 8, 35, 15, 50, 5, 30, 22, 10, 45, 18, 9, 38, 14, 28, 12, 35, 8, 12, 18, 26]
RISING = [*SPIKY, 33, 41]  # the last six rise: a trend, concern when lower is better

TARGET = (0xDE, 0x1B, 0x1B)  # NHSRplotthedots' target colour
MEAN = (0x00, 0x00, 0x00)  # its mean line
LIMIT = (0xA6, 0xA6, 0xA6)  # its limits (and value line, and common-cause points)
TEXT = (0x21, 0x2B, 0x32)  # the labels' near-black


def _points(values: list[float], direction: Direction = "decrease") -> tuple[SpcPoint, ...]:
    dates = [dt.date(2025 + (i // 12), i % 12 + 1, 1) for i in range(len(values))]
    rules = SpcRules(minimum_points=12)
    return spc(values, direction=direction, rules=rules, dates=dates).points


def _chart(values: list[float], direction: Direction = "decrease", **fields: Any) -> Chart:
    points = _points(values, direction)
    labels = {"first_label": "Jan 2025", "last_label": "Dec 2026", "latest_label": "84"}
    return Chart(points, "alt", **{**labels, **fields})


def _decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def _rgb(chart: Chart) -> Image.Image:
    return _decode(render_chart(chart)).convert("RGB")


def _pixels(
    image: Image.Image, colour: tuple[int, ...], box: tuple[int, int, int, int] | None = None
) -> int:
    """How many pixels are exactly ``colour`` (in ``box``, left/top/right/bottom)."""
    part = image.crop(box) if box else image
    return dict((c, n) for n, c in part.getcolors(part.width * part.height) or []).get(colour, 0)


def _where(image: Image.Image, colour: tuple[int, ...]) -> Iterator[tuple[int, int]]:
    width = image.width
    for i, pixel in enumerate(image.get_flattened_data()):
        if pixel == colour:
            yield i % width, i // width


# --- charts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(WIDTH, HEIGHT), (400, 120), (330, 110)])
def test_it_draws_a_small_palette_png_at_twice_the_displayed_size(width: int, height: int) -> None:
    png = render_chart(
        _chart(RISING, target=30.0, target_label="target 30", width=width, height=height)
    )
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = _decode(png)
    assert (image.format, image.mode) == ("PNG", "P")
    assert image.size == (width * SCALE, height * SCALE)
    assert len(png) < 15_000, "small enough for a dozen in one email"
    white = _pixels(image.convert("RGB"), (255, 255, 255))
    assert white > 0.8 * image.width * image.height, "the palette keeps white exactly white"


def test_it_refuses_no_points() -> None:
    with pytest.raises(ValueError, match="at least one point"):
        render_chart(Chart((), "a", "", "", ""))


def test_the_same_chart_gives_the_same_bytes_in_any_process() -> None:
    chart = _chart(RISING, target=30.0, target_label="target 30")
    png = render_chart(chart)
    charts._render.cache_clear()
    assert render_chart(chart) == png, "drawn again, not only cached"
    code = (
        "import sys\n"
        "from tests.test_charts import RISING, _chart\n"
        "from safer.alerts.charts import render_chart\n"
        "from safer.alerts.icons import variation_icon\n"
        "sys.stdout.buffer.write(render_chart(_chart(RISING, target=30.0,"
        " target_label='target 30')))\n"
        "sys.stdout.buffer.write(variation_icon('concern_high').png)\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    ).stdout
    icon = variation_icon("concern_high")
    assert icon is not None
    assert other == png + icon.png


def test_identical_charts_share_one_content_id_and_anything_drawn_changes_it() -> None:
    chart = _chart(STEADY)
    assert dataclasses.replace(chart, alt="other words").cid == chart.cid
    assert re.fullmatch(r"chart-[0-9a-f]{16}@safer", chart.cid)
    assert chart.filename == f"{chart.cid.removesuffix('@safer')}.png"
    changes: list[dict[str, Any]] = [
        {"points": _points([*STEADY, 60])},
        {"first_label": "Feb 2025"},
        {"last_label": "Nov 2026"},
        {"latest_label": "85"},
        {"target": 90.0},
        {"target": 90.0, "target_label": "target 90"},
        {"floor": None},
        {"ceiling": 200.0},
        {"width": 400},
        {"height": 120},
    ]
    cids = {dataclasses.replace(chart, **change).cid for change in changes}
    assert len(cids | {chart.cid}) == len(changes) + 1


def _rows(image: Image.Image, colour: tuple[int, int, int]) -> list[float]:
    """The middle row of each horizontal line in ``colour`` covering over a third of the width
    (the limit grey: the dashed limits; black: the mean), top first."""
    rows = [
        y
        for y in range(image.height)
        if _pixels(image, colour, (0, y, image.width, y + 1)) > image.width / 3
    ]
    lines: list[list[int]] = []
    for y in rows:
        if lines and y - lines[-1][-1] == 1:
            lines[-1].append(y)
        else:
            lines.append([y])
    return [sum(line) / len(line) for line in lines]


def test_a_limit_below_the_floor_is_drawn_at_the_floor_never_below() -> None:
    chart = _chart(SPIKY)
    mean, upper, lower = chart.points[0].mean, chart.points[0].upper, chart.points[0].lower
    assert mean is not None and upper is not None and lower is not None and lower < -20
    at_zero = tuple(dataclasses.replace(p, lower=0.0) for p in chart.points)
    # Exactly the chart whose lower limit is 0: the line, and the y range it sets.
    assert render_chart(chart) == render_chart(dataclasses.replace(chart, points=at_zero))
    # Measured on the image: the lower limit sits as far under the mean as 0 is, not -31.
    for floor, expected in [(0.0, (mean - 0) / (upper - mean)), (None, 1.0)]:
        image = _rgb(dataclasses.replace(chart, floor=floor))
        (top, bottom), (middle,) = _rows(image, LIMIT), _rows(image, MEAN)
        assert (bottom - middle) / (middle - top) == pytest.approx(expected, abs=0.05), floor
        assert bottom < image.height - 2 * 13 * SCALE, "above the period labels"


def test_a_limit_above_the_ceiling_is_drawn_at_the_ceiling() -> None:
    values = [0.9, 0.99, 0.85, 1.0, 0.88, 0.97, 0.86, 1.0, 0.9, 0.99, 0.87, 0.98, 0.93]
    chart = _chart(values, "increase", ceiling=1.0, latest_label="93.0%")
    assert chart.points[0].upper is not None and chart.points[0].upper > 1.0
    at_one = tuple(dataclasses.replace(p, upper=1.0) for p in chart.points)
    assert render_chart(chart) == render_chart(dataclasses.replace(chart, points=at_one))
    assert render_chart(chart) != render_chart(dataclasses.replace(chart, ceiling=None))


@pytest.mark.parametrize(
    ("target", "label"),
    [(None, ""), (30.0, "target 30"), (30.0, ""), (500.0, "target 500"), (-50.0, "target -50")],
)
def test_the_target_line_is_drawn_when_there_is_a_target_even_outside_the_data(
    target: float | None, label: str
) -> None:
    image = _rgb(_chart(RISING, target=target, target_label=label, floor=None))
    count = _pixels(image, TARGET)
    if target is None:
        assert count == 0
    else:
        # The dashed line covers about 2/3 of the plot's width, 3 px thick: over 1,500 pixels.
        assert count > 1_500
        labelled = _pixels(_rgb(_chart(RISING, target=target, floor=None)), TARGET)
        assert (count > labelled + 50) is bool(label), "the label is written in the same red"


@pytest.mark.parametrize(
    ("values", "direction", "signal"),
    [
        ([*STEADY, 60], "decrease", "improvement"),
        ([*STEADY, 140], "decrease", "concern"),
        ([*STEADY, 140], "neutral", "neutral_high"),
        ([*STEADY, 60], "neutral", "neutral_low"),
        (RISING, "decrease", "concern"),
        (RISING, "increase", "improvement"),
    ],
)
def test_special_cause_points_are_drawn_in_their_signal_colour(
    values: list[float], direction: Direction, signal: str
) -> None:
    points = _points(values, direction)
    assert points[-1].signal == signal
    image = _rgb(_chart(values, direction, target=90.0, target_label="target 90"))
    specials = {p.signal for p in points} - {"common_cause"}
    for other in {"improvement", "concern", "neutral_high"} - specials:
        if SIGNAL_COLOURS[other] != SIGNAL_COLOURS[signal]:
            assert _pixels(image, SIGNAL_COLOURS[other]) == 0, other
    # Every special point is a filled dot (r 3.5 px at 2x: ~130 pixels), the latest larger.
    assert _pixels(image, SIGNAL_COLOURS[signal]) >= 100 * sum(p.signal == signal for p in points)


def test_a_common_cause_chart_has_no_signal_colours() -> None:
    image = _rgb(_chart([*STEADY, 100], target=90.0, target_label="target 90"))
    for signal in ("improvement", "concern", "neutral_high"):
        assert _pixels(image, SIGNAL_COLOURS[signal]) == 0
    assert _pixels(image, SIGNAL_COLOURS["common_cause"]) > 1_000


def _clusters(xs: list[int]) -> list[list[int]]:
    """Runs of x positions with no gap over 3 px: one per dot along a line."""
    runs: list[list[int]] = []
    for x in sorted(xs):
        if runs and x - runs[-1][-1] <= 3:
            runs[-1].append(x)
        else:
            runs.append([x])
    return runs


def test_the_latest_point_is_marked_larger_with_a_dark_ring() -> None:
    image = _rgb(_chart(RISING))
    dots = _clusters([x for x, _ in _where(image, SIGNAL_COLOURS["concern"])])
    assert len(dots) == 6, "the six points of the trend"
    *earlier, latest = (len(dot) for dot in dots)
    assert latest > 1.5 * max(earlier)
    left, right = dots[-1][0], dots[-1][-1]
    above_axis_labels = image.height - 16 * SCALE
    ring = [
        x for x, y in _where(image, TEXT) if left - 6 <= x <= right + 6 and y < above_axis_labels
    ]
    assert len(ring) > 50


def test_the_latest_value_is_written_beside_the_latest_point() -> None:
    chart = _chart(RISING, latest_label="1,234")
    image = _rgb(chart)
    marker = [(x, y) for x, y in _where(image, SIGNAL_COLOURS["concern"]) if x > image.width / 2]
    marker_x = max(x for x, _ in marker)
    head = [y for x, y in marker if x > marker_x - 20]  # the latest point's disc
    marker_y = sum(head) / len(head)
    above_axis_labels = image.height - 16 * SCALE
    text = [(x, y) for x, y in _where(image, TEXT) if x > marker_x + 8 and y < above_axis_labels]
    assert len(text) > 100
    assert max(x for x, _ in text) < image.width, "inside the image"
    latest_rows = [y for _, y in text]
    middle = (min(latest_rows) + max(latest_rows)) / 2
    assert abs(middle - marker_y) < 40, "level with its point, near enough"


@pytest.mark.parametrize(("first", "last"), [("Jan 2025", "Dec 2026"), ("", "Dec 2026"), ("", "")])
def test_the_first_and_last_periods_are_written_under_the_axis(first: str, last: str) -> None:
    image = _rgb(_chart(RISING, first_label=first, last_label=last))
    band = 16 * SCALE  # the bottom 16 CSS px hold the period labels and nothing else
    bottom = image.height - band
    left = _pixels(image, TEXT, (0, bottom, 70 * SCALE, image.height))
    right = _pixels(image, TEXT, (image.width - 70 * SCALE, bottom, image.width, image.height))
    assert (left > 100) is bool(first) and (left == 0) is (not first)
    assert (right > 100) is bool(last) and (right == 0) is (not last)


@pytest.mark.parametrize(
    ("name", "values", "fields", "mean_shown"),
    [
        ("one point", [84.0], {}, False),
        ("two points", [84.0, 90.0], {}, False),
        ("flat", [5.0] * 14, {}, None),
        ("all zero", [0.0] * 14, {}, None),
        ("too few for limits", [10.0, 12, 9, 11], {}, False),
        (
            "no floor, negatives",
            [-5.0, 3, -8, 2, 0, -1, 4, -6, 1, 2, -3, 5, -2],
            {"floor": None},
            True,
        ),
        (
            "proportion",
            [0.91, 0.95, 0.93, 0.99, 1.0, 0.97, 0.92, 0.96, 0.94, 0.98, 0.95, 1.0],
            {"ceiling": 1.0, "target": 0.9},
            True,
        ),
        ("a value past the floor", [-2.0, 3, 4, 5], {"floor": 0.0}, False),
        ("floor equals ceiling", [1.0, 1.0], {"floor": 1.0, "ceiling": 1.0}, None),
        ("target far away", STEADY, {"target": 1e6, "target_label": "target 1,000,000"}, None),
        ("huge spike", [*STEADY, 1e6], {}, True),
    ],
)
def test_it_draws_awkward_series(
    name: str, values: list[float], fields: dict[str, Any], mean_shown: bool | None
) -> None:
    """``mean_shown`` None: the values hide the mean (a flat or squashed series)."""
    image = _rgb(_chart(values, **fields))
    assert image.size == (WIDTH * SCALE, HEIGHT * SCALE), name
    if mean_shown is not None:
        assert (_pixels(image, MEAN) > 0) is mean_shown, "a mean only where there are limits"
        assert bool(_rows(image, LIMIT)) is mean_shown, "and limits only then"
    assert _pixels(image, TEXT) > 0


def test_recalculated_limits_are_drawn_per_partition_with_a_break() -> None:
    values = [*STEADY, *[v - 40 for v in STEADY]]
    dates = [dt.date(2024 + (i // 12), i % 12 + 1, 1) for i in range(len(values))]
    rules = SpcRules(minimum_points=12)
    points = spc(values, direction="decrease", rules=rules, recalculate_at=[12], dates=dates).points
    assert points[0].mean != points[-1].mean
    image = _rgb(Chart(points, "alt", "Jan 2024", "Dec 2025", "59"))
    mean_rows = {y for _, y in _where(image, MEAN)}
    assert len(mean_rows) >= 2 and max(mean_rows) - min(mean_rows) > 20, "two mean lines"
    middle = image.width // 2
    columns = {x for x, _ in _where(image, MEAN)}
    assert not {middle - 2, middle - 1, middle, middle + 1} <= columns, "broken between them"


def test_it_says_so_when_pillow_has_no_freetype(monkeypatch: pytest.MonkeyPatch) -> None:
    charts._font.cache_clear()
    charts._render.cache_clear()
    monkeypatch.setattr(features, "check_module", lambda name: False)
    try:
        with pytest.raises(RuntimeError, match="FreeType"):
            render_chart(_chart([1.0, 2.0, 3.0]))
    finally:
        charts._font.cache_clear()


# --- icons --------------------------------------------------------------------------------------

VARIATIONS = [
    "common_cause",
    "improvement_high",
    "improvement_low",
    "concern_high",
    "concern_low",
    "neither_high",
    "neither_low",
]
ASSURANCES = ["consistent_pass", "consistent_fail", "hit_and_miss"]
BLUE, ORANGE, PURPLE = (0x00, 0x72, 0xC6), (0xFF, 0x66, 0x00), (0x80, 0x00, 0xC0)
GREY, MARK = (0xBF, 0xBF, 0xBF), (0x7F, 0x7F, 0x7F)  # the ring, and the dots and lines


def _all_icons() -> list[Icon]:
    found = [variation_icon(v) for v in VARIATIONS] + [assurance_icon(a) for a in ASSURANCES]
    assert all(found)
    return [i for i in found if i is not None]


@pytest.mark.parametrize(
    ("icon", "name", "alt"),
    [
        (variation_icon("common_cause"), "variation-common-cause", "Variation: common cause"),
        (
            variation_icon("concern_high"),
            "variation-concern-high",
            "Variation: special cause concern, high",
        ),
        (
            variation_icon("improvement_low"),
            "variation-improvement-low",
            "Variation: special cause improvement, low",
        ),
        (
            variation_icon("neither_high"),
            "variation-neither-high",
            "Variation: special cause, neither improvement nor concern, high",
        ),
        (
            assurance_icon("consistent_pass"),
            "assurance-consistent-pass",
            "Assurance: consistently passes the target",
        ),
        (
            assurance_icon("hit_and_miss"),
            "assurance-hit-and-miss",
            "Assurance: hit and miss against the target",
        ),
    ],
)
def test_an_icon_is_named_and_says_what_it_shows(icon: Icon | None, name: str, alt: str) -> None:
    assert icon is not None
    assert icon.name == name and icon.alt.startswith(alt)
    assert icon.cid == f"icon-{name}@safer" and icon.filename == f"{name}.png"
    assert (icon.width, icon.height) == (24, 24)


@pytest.mark.parametrize("icon", _all_icons(), ids=lambda i: i.name)
def test_each_icon_is_a_small_round_palette_png_at_twice_its_size(icon: Icon) -> None:
    image = _decode(icon.png)
    assert (image.format, image.mode, image.size) == ("PNG", "P", (48, 48))
    assert len(icon.png) < 1_500
    alpha = image.convert("RGBA").getchannel("A")
    assert all(alpha.getpixel(corner) == 0 for corner in [(0, 0), (47, 0), (0, 47), (47, 47)])
    assert alpha.getpixel((24, 4)) == 255, "the ring is opaque"


def test_every_icon_is_different_and_drawn_the_same_every_time() -> None:
    pngs = [i.png for i in _all_icons()]
    assert len(set(pngs)) == len(pngs)
    icons._render.cache_clear()
    assert [i.png for i in _all_icons()] == pngs


@pytest.mark.parametrize("variation", ["not_enough_data", "not_read", "", "improvement"])
def test_no_variation_icon_without_a_variation(variation: str) -> None:
    assert variation_icon(variation) is None


@pytest.mark.parametrize("assurance", ["no_target", "not_enough_data", "not_read", "pass"])
def test_no_assurance_icon_without_an_assurance(assurance: str) -> None:
    assert assurance_icon(assurance) is None


def _near(image: Image.Image, colour: tuple[int, int, int]) -> list[tuple[int, int]]:
    """The opaque pixels exactly ``colour`` (the icons' palettes keep their inks exact)."""
    return list(_where(image.convert("RGBA"), (*colour, 255)))


@pytest.mark.parametrize(
    ("icon", "colour", "high"),
    [
        (variation_icon("improvement_high"), BLUE, True),
        (variation_icon("improvement_low"), BLUE, False),
        (variation_icon("concern_high"), ORANGE, True),
        (variation_icon("concern_low"), ORANGE, False),
        (variation_icon("neither_high"), PURPLE, None),
        (variation_icon("neither_low"), PURPLE, None),
        (variation_icon("common_cause"), GREY, None),
        (assurance_icon("consistent_pass"), BLUE, None),
        (assurance_icon("consistent_fail"), ORANGE, None),
        (assurance_icon("hit_and_miss"), GREY, None),
    ],
)
def test_an_icon_is_ringed_in_its_colour_and_its_mark_sits_high_or_low(
    icon: Icon | None, colour: tuple[int, int, int], high: bool | None
) -> None:
    assert icon is not None
    image = _decode(icon.png)
    coloured = _near(image, colour)
    assert len(coloured) > 300, "a ring 4 px wide round a 48 px circle"
    if high is not None:
        # Inside the ring: the letter on the left, the last two dots on the right (x > 27 px);
        # both above the middle for "high", below for "low".
        inside = [(x, y) for x, y in coloured if math.dist((x + 0.5, y + 0.5), (24, 24)) < 17]
        letter = [y for x, y in inside if x < 27]
        dots = [y for x, y in inside if x >= 27]
        greys = [y for x, y in _near(image, MARK) if 12 < x < 27]  # the three grey dots
        assert letter and dots and greys
        assert (_mean(letter) < 24) is high
        assert (_mean(dots) < _mean(greys)) is high


def _mean(values: list[int]) -> float:
    return sum(values) / len(values)


@pytest.mark.parametrize(("variation", "rising"), [("neither_high", True), ("neither_low", False)])
def test_a_neither_icon_is_an_arrow_up_or_down_to_the_right(variation: str, rising: bool) -> None:
    icon = variation_icon(variation)
    assert icon is not None
    arrow = [
        (x, y)
        for x, y in _near(_decode(icon.png), PURPLE)
        if math.dist((x + 0.5, y + 0.5), (24, 24)) < 17
    ]
    assert len(arrow) > 100
    mx, my = (sum(c) / len(arrow) for c in zip(*arrow, strict=True))
    covariance = sum((x - mx) * (y - my) for x, y in arrow)
    assert (covariance < 0) is rising, "y grows downwards: rising to the right is negative"

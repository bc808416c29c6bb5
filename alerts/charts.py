"""SPC charts for the digest: pure functions from a row's points to PNG bytes.

A chart is drawn in the Making Data Count style: the values as a grey line with small dots,
special-cause points in their signal colour and the latest point marked large; per partition
(each recalculation of the limits) the mean as a solid line and the process limits dashed; an
optional target as a dashed red line. Text is kept to what a reader needs without a y axis: the
first and last periods under the x axis, the latest value beside the latest point and the
target's label beside its line.

The PNG is 2x its displayed size, so it stays sharp on high-density screens, and it is drawn at
4x and reduced by exact 2x2 averaging for smooth lines and text. The text uses Pillow's bundled
FreeType font and the colours are snapped to a fixed palette, so the same chart gives the same
bytes on every machine with this Pillow (no timestamp or random state in the file).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont, features

from safer.alerts.spc_words import clamp
from safer.indicators.spc import SpcPoint

__all__ = ["HEIGHT", "SCALE", "SIGNAL_COLOURS", "WIDTH", "Chart", "render_chart"]

WIDTH, HEIGHT = 560, 170
"""Displayed size in CSS pixels (the <img> width and height)."""
SCALE = 2
"""PNG pixels per CSS pixel."""
_SUPERSAMPLE = 2  # drawn at SCALE x this, then averaged down: Pillow draws no anti-aliasing
_K = SCALE * _SUPERSAMPLE

Rgb = tuple[int, int, int]

# NHSRplotthedots' defaults, R/ptd_spc_colours.R (nhs-r-community/NHSRplotthedots, commit
# 24745e75): common_cause/value_line/upl/lpl #a6a6a6, improvement #00b0f0, neutral #490092,
# concern #e46c0a, mean_line #000000, target #de1b1b.
SIGNAL_COLOURS: dict[str, Rgb] = {
    "common_cause": (0xA6, 0xA6, 0xA6),
    "improvement": (0x00, 0xB0, 0xF0),
    "concern": (0xE4, 0x6C, 0x0A),
    "neutral_high": (0x49, 0x00, 0x92),
    "neutral_low": (0x49, 0x00, 0x92),
}
_VALUE_LINE = (0xA6, 0xA6, 0xA6)
_LIMIT_LINE = (0xA6, 0xA6, 0xA6)
_MEAN_LINE = (0x00, 0x00, 0x00)
_TARGET_LINE = (0xDE, 0x1B, 0x1B)
_TEXT = (0x21, 0x2B, 0x32)  # near-black, softer than the mean line so labels don't shout
_AXIS = (0xD8, 0xDD, 0xE0)  # a light rule the period labels hang from
_BACKGROUND = (0xFF, 0xFF, 0xFF)

# Sizes in CSS pixels. Text at 12-14 px stays readable when a phone shrinks 560 px to ~330.
_LABEL_SIZE, _LATEST_SIZE = 13.0, 15.0
_PAD_TOP, _PAD_LEFT, _AXIS_GAP, _LABEL_GAP = 9.0, 8.0, 7.0, 4.0
_LINE, _THIN = 2.0, 1.5  # the value line; the mean, limit and target lines
_DOT, _SPECIAL_DOT, _LATEST_DOT = 2.5, 3.5, 5.5  # radii
_LIMIT_DASH, _TARGET_DASH = (4.0, 3.0), (9.0, 4.0)  # the target's longer dash tells it apart
_TARGET_LABEL_PLACES = 8  # steps along the target line tried for its label


@dataclass(frozen=True)
class Chart:
    """One row's chart: the points it draws, its labels, and the same facts in words (alt)."""

    points: tuple[SpcPoint, ...]
    alt: str
    first_label: str
    last_label: str
    latest_label: str
    target: float | None = None
    target_label: str = ""
    floor: float | None = 0.0
    ceiling: float | None = None
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def cid(self) -> str:
        """A Content-ID from everything drawn (not the alt): identical charts share one image."""
        drawn = (
            tuple((p.value, p.mean, p.upper, p.lower, p.signal) for p in self.points),
            self.first_label,
            self.last_label,
            self.latest_label,
            self.target,
            self.target_label,
            self.floor,
            self.ceiling,
            self.width,
            self.height,
        )
        digest = hashlib.sha256(repr(drawn).encode()).hexdigest()[:16]
        return f"chart-{digest}@safer"

    @property
    def filename(self) -> str:
        return f"{self.cid.split('@', 1)[0]}.png"


def render_chart(chart: Chart) -> bytes:
    """The chart as PNG bytes, (width x height) x SCALE; raises ValueError when it has no
    points or no room to plot."""
    if not chart.points:
        raise ValueError("a chart needs at least one point")
    # The alt is not drawn: charts differing only in words share one cached drawing.
    return _render(dataclasses.replace(chart, alt=""))


@functools.lru_cache(maxsize=4096)
def _render(chart: Chart) -> bytes:
    """Drawn once per distinct chart: a force's chart appears in every digest for its areas."""
    image = Image.new("RGB", (chart.width * _K, chart.height * _K), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    frame = _Frame.of(chart, draw)
    _draw_partitions(draw, frame, chart)
    if chart.target is not None:
        y = frame.y(chart.target)
        # The whole plot's width (even for one point): the target is a level, not a series.
        _dashed(draw, frame.left, frame.right, y, _TARGET_LINE, _TARGET_DASH)
    _draw_values(draw, frame, chart.points)
    _draw_axis(draw, frame, chart)
    _draw_latest_label(draw, frame, chart)
    if chart.target is not None and chart.target_label:
        _draw_target_label(image, draw, frame, chart.target, chart.target_label)
    return _png(image.reduce(_SUPERSAMPLE))


@functools.cache
def _font(css_size: float) -> ImageFont.FreeTypeFont:
    """Pillow's bundled font at ``css_size``, in supersampled pixels."""
    if not features.check_module("freetype2"):
        # Without FreeType, load_default() returns a fixed-size bitmap font and ignores size.
        raise RuntimeError("Pillow was built without FreeType; charts need it for their labels")
    font = ImageFont.load_default(size=css_size * _K)
    assert isinstance(font, ImageFont.FreeTypeFont)  # guaranteed when FreeType is present
    return font


class _Frame:
    """The plot area and the mapping from point index and value to supersampled pixels."""

    def __init__(
        self, box: tuple[float, float, float, float], low: float, high: float, n: int
    ) -> None:
        self.left, self.top, self.right, self.bottom = box
        self.low, self.high, self.n = low, high, n

    @classmethod
    def of(cls, chart: Chart, draw: ImageDraw.ImageDraw) -> _Frame:
        # The right gutter holds the latest value, so the label never sits on the lines.
        latest = draw.textlength(chart.latest_label, font=_font(_LATEST_SIZE))
        gutter = latest + (_LATEST_DOT + 2 * _LABEL_GAP) * _K
        label_height = _LABEL_SIZE * 1.2 + _LABEL_GAP
        box = (
            _PAD_LEFT * _K,
            _PAD_TOP * _K,
            chart.width * _K - gutter,
            (chart.height - label_height - _AXIS_GAP) * _K,
        )
        if box[2] - box[0] < 8 * _K or box[3] - box[1] < 8 * _K:
            raise ValueError(f"a {chart.width}x{chart.height} chart has no room to plot")
        return cls(box, *_value_range(chart), len(chart.points))

    def x(self, i: int) -> float:
        if self.n == 1:  # a lone point sits where the latest point always sits
            return self.right
        return self.left + i * (self.right - self.left) / (self.n - 1)

    def y(self, value: float) -> float:
        share = (self.high - value) / (self.high - self.low)
        return self.top + share * (self.bottom - self.top)


def _value_range(chart: Chart) -> tuple[float, float]:
    """The values, lines and target, with a little headroom that never crosses floor/ceiling."""
    levels = [p.value for p in chart.points]
    levels += [_clamp(v, chart) for p in chart.points for v in _lines(p) if v is not None]
    if chart.target is not None:
        levels.append(chart.target)
    low, high = min(levels), max(levels)
    pad = (high - low) * 0.04 or abs(high) * 0.1 or 1.0  # a flat series sits mid-height
    bottom, top = low - pad, high + pad
    # A value beyond the floor/ceiling is bad data, but it is drawn, not hidden: no clipping.
    if chart.floor is not None:
        bottom = max(bottom, min(chart.floor, low))
    if chart.ceiling is not None:
        top = min(top, max(chart.ceiling, high))
    if top <= bottom:  # only when floor == ceiling == every value
        top = bottom + 1.0
    return bottom, top


def _lines(point: SpcPoint) -> tuple[float | None, float | None, float | None]:
    return point.mean, point.upper, point.lower


def _clamp(value: float, chart: Chart) -> float:
    """Limits beyond what the measure can take (a negative count) are drawn at the bound."""
    return clamp(value, chart.floor, chart.ceiling)


def _partitions(points: Sequence[SpcPoint]) -> Iterator[tuple[int, int]]:
    """(first, last) indexes of each run of points sharing a mean and limits."""
    start = 0
    for i in range(1, len(points) + 1):
        if i == len(points) or _lines(points[i]) != _lines(points[start]):
            yield start, i - 1
            start = i


def _draw_partitions(draw: ImageDraw.ImageDraw, frame: _Frame, chart: Chart) -> None:
    """Each partition's process limits (dashed) and mean (solid), broken between partitions."""
    for first, last in _partitions(chart.points):
        mean, upper, lower = _lines(chart.points[first])
        x0, x1 = frame.x(first), frame.x(last)
        for limit in (upper, lower):
            if limit is not None:
                y = frame.y(_clamp(limit, chart))
                _dashed(draw, x0, x1, y, _LIMIT_LINE, _LIMIT_DASH)
        if mean is not None:
            y = frame.y(_clamp(mean, chart))
            draw.line([(x0, y), (x1, y)], fill=_MEAN_LINE, width=round(_THIN * _K))


def _dashed(
    draw: ImageDraw.ImageDraw,
    x0: float,
    x1: float,
    y: float,
    colour: Rgb,
    pattern: tuple[float, float],
) -> None:
    dash, gap = pattern[0] * _K, pattern[1] * _K
    x = min(x0, x1 - dash)  # one point still shows one dash, leading up to it
    while x < x1:
        draw.line([(x, y), (min(x + dash, x1), y)], fill=colour, width=round(_THIN * _K))
        x += dash + gap


def _draw_values(draw: ImageDraw.ImageDraw, frame: _Frame, points: Sequence[SpcPoint]) -> None:
    xy = [(frame.x(i), frame.y(p.value)) for i, p in enumerate(points)]
    if len(xy) > 1:
        draw.line(xy, fill=_VALUE_LINE, width=round(_LINE * _K), joint="curve")
    for (x, y), point in zip(xy[:-1], points[:-1], strict=True):
        special = point.signal != "common_cause"
        _dot(draw, x, y, _SPECIAL_DOT if special else _DOT, SIGNAL_COLOURS[point.signal])
    x, y = xy[-1]
    _dot(draw, x, y, _LATEST_DOT, _TEXT)  # a dark ring: the latest point stands out in any colour
    _dot(draw, x, y, _LATEST_DOT - 1.25, SIGNAL_COLOURS[points[-1].signal])


def _dot(draw: ImageDraw.ImageDraw, x: float, y: float, radius: float, colour: Rgb) -> None:
    r = radius * _K
    draw.ellipse([(x - r, y - r), (x + r, y + r)], fill=colour)


def _draw_axis(draw: ImageDraw.ImageDraw, frame: _Frame, chart: Chart) -> None:
    """A light rule under the plot with the first and last periods under their points."""
    y = frame.bottom + _AXIS_GAP * _K
    x0, x1 = frame.x(0), frame.x(frame.n - 1)
    draw.line([(x0, y), (x1, y)], fill=_AXIS, width=_K)
    font = _font(_LABEL_SIZE)
    label_y = y + _LABEL_GAP * _K
    width = float(chart.width * _K)
    last_left = width
    if chart.last_label:
        last_left = _text(draw, x1, label_y, chart.last_label, font, width)
    if chart.first_label and frame.n > 1:
        length = draw.textlength(chart.first_label, font=font)
        right = max(x0 - length / 2, 1.0 * _K) + length  # as _text places it
        if right + _LABEL_GAP * _K < last_left:  # the two would collide on a narrow chart
            _text(draw, x0, label_y, chart.first_label, font, width)


def _text(
    draw: ImageDraw.ImageDraw,
    centre: float,
    top: float,
    text: str,
    font: ImageFont.FreeTypeFont,
    width: float,
) -> float:
    """Draws ``text`` centred under ``centre`` but inside the image; returns its left edge."""
    length = draw.textlength(text, font=font)
    left = min(max(centre - length / 2, 1.0 * _K), width - length - 1.0 * _K)
    draw.text((left, top), text, font=font, fill=_TEXT, anchor="la")
    return left


def _draw_latest_label(draw: ImageDraw.ImageDraw, frame: _Frame, chart: Chart) -> None:
    """The latest value in the gutter right of its point, kept between the top and the axis."""
    font = _font(_LATEST_SIZE)
    x = frame.x(frame.n - 1) + (_LATEST_DOT + _LABEL_GAP) * _K
    half = _LATEST_SIZE * _K * 0.6
    y = min(max(frame.y(chart.points[-1].value), half), frame.bottom + _AXIS_GAP * _K - half)
    # A stroke in the fill colour: the bundled font has no bold, and the value is the headline.
    draw.text(
        (x, y),
        chart.latest_label,
        font=font,
        fill=_TEXT,
        anchor="lm",
        stroke_width=_K // 2,
        stroke_fill=_TEXT,
    )


def _draw_target_label(
    image: Image.Image, draw: ImageDraw.ImageDraw, frame: _Frame, target: float, label: str
) -> None:
    """The target's label just above or below its line, where it covers the least of what is
    already drawn, with a white halo so the lines it still crosses don't cut the letters."""
    font = _font(_LABEL_SIZE)
    length = draw.textlength(label, font=font)
    height = _LABEL_SIZE * _K
    gap = 2.5 * _K
    y = frame.y(target)
    # From the right end (next to the latest value) leftwards; ties keep that order.
    right = max(frame.x(frame.n - 1) - length, 1.0 * _K)
    step = (right - frame.left) / _TARGET_LABEL_PLACES
    lefts = [right - i * step for i in range(_TARGET_LABEL_PLACES + 1)] if step > 0 else [right]
    boxes = [
        (left, top, left + length, top + height)
        for left in lefts
        for top in (y - gap - height, y + gap)
        if top >= 0 and top + height <= frame.bottom + _AXIS_GAP * _K
    ]
    if boxes:
        box = min(boxes, key=lambda b: _ink(image, b))
        draw.text(
            (box[0], box[1] + height / 2),
            label,
            font=font,
            fill=_TARGET_LINE,
            anchor="lm",
            stroke_width=_K,
            stroke_fill=_BACKGROUND,
        )


def _ink(image: Image.Image, box: tuple[float, float, float, float]) -> int:
    """How many pixels in ``box`` are not background."""
    left, top, right, bottom = (round(v) for v in _grow(box, 2.0 * _K))
    crop = image.crop((left, top, right, bottom)).convert("L")
    return crop.width * crop.height - crop.histogram()[255]


def _grow(box: tuple[float, float, float, float], by: float) -> tuple[float, float, float, float]:
    return box[0] - by, box[1] - by, box[2] + by, box[3] + by


def _png(image: Image.Image) -> bytes:
    """Snapped to a fixed palette (the chart's colours and their blends with white) and saved:
    a quarter of the RGB size, and the exact MDC colours survive for readers and tests."""
    out = io.BytesIO()
    image.quantize(palette=_palette(), dither=Image.Dither.NONE).save(
        out, format="PNG", optimize=True
    )
    return out.getvalue()


@functools.cache
def _palette() -> Image.Image:
    palette = Image.new("P", (1, 1))
    palette.putpalette([c for colour in _palette_colours() for c in colour])
    return palette


def _palette_colours() -> list[Rgb]:
    """White, the inks, then their blends with white (the anti-aliased edges), skipping blends
    within 8 levels of a colour already in: Pillow's nearest-colour lookup works in coarse
    cells, and two entries that close could swap (white came out as #fafbfb)."""
    inks = [*SIGNAL_COLOURS.values(), _VALUE_LINE, _MEAN_LINE, _TARGET_LINE, _TEXT, _AXIS]
    colours = [_BACKGROUND, *dict.fromkeys(inks)]
    for ink in dict.fromkeys(inks):
        for step in range(1, 8):
            blend = _blend(ink, step / 8)
            if all(max(abs(a - b) for a, b in zip(blend, c, strict=True)) >= 8 for c in colours):
                colours.append(blend)
    return colours


def _blend(ink: Rgb, share: float) -> Rgb:
    r, g, b = (round(c * share + 255 * (1 - share)) for c in ink)
    return r, g, b

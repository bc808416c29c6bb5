"""Small SPC charts for the digest: pure functions from monthly points to PNG bytes.

A chart is drawn in the Making Data Count style with no text inside (the row and the alt text
carry the facts): the monthly values as a grey line, the mean as a solid line, the process limits
dashed, special-cause points coloured and the latest point marked large. Colours are NHS
England's (as in NHSRplotthedots): blue improvement, orange concern, purple neither, grey common
cause. The PNG is 2x its displayed size, so it stays sharp on high-density screens, and it is
drawn at 4x and reduced by exact 2x2 averaging for smooth lines. The same points always give the
same bytes (no timestamp or random state in the file).
"""

from __future__ import annotations

import functools
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

from indicators.spc import SpcPoint

__all__ = ["HEIGHT", "SCALE", "SIGNAL_COLOURS", "WIDTH", "Chart", "render_chart"]

WIDTH, HEIGHT = 200, 60
"""Displayed size in CSS pixels (the <img> width and height)."""
SCALE = 2
"""PNG pixels per CSS pixel."""
_SUPERSAMPLE = 2  # drawn at SCALE x this, then averaged down: Pillow draws no anti-aliasing
_PAD_LEFT, _PAD_RIGHT, _PAD_Y = 4.0, 7.0, 6.0  # room for the latest point's marker

SIGNAL_COLOURS: dict[str, tuple[int, int, int]] = {
    "common_cause": (0xA6, 0xA6, 0xA6),
    "improvement": (0x00, 0xB0, 0xF0),
    "concern": (0xE4, 0x6C, 0x0A),
    "neutral_high": (0x49, 0x00, 0x92),
    "neutral_low": (0x49, 0x00, 0x92),
}
_BACKGROUND = (0xFF, 0xFF, 0xFF)
_VALUE_LINE = (0x7B, 0x7D, 0x7D)
_MEAN_LINE = (0x33, 0x33, 0x33)
_LIMIT_LINE = (0x9A, 0x9A, 0x9A)
_LATEST_OUTLINE = (0x33, 0x33, 0x33)


@dataclass(frozen=True)
class Chart:
    """One row's chart: the points it draws and the same facts in words for its alt text."""

    points: tuple[SpcPoint, ...]
    alt: str
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def cid(self) -> str:
        """A Content-ID from what is drawn: identical charts in one digest share one image."""
        digest = hashlib.sha256(repr(self.points).encode()).hexdigest()[:16]
        return f"chart-{digest}@safer"

    @property
    def filename(self) -> str:
        return f"{self.cid.split('@', 1)[0]}.png"


def render_chart(points: Sequence[SpcPoint]) -> bytes:
    """The chart of ``points`` (oldest first) as PNG bytes; raises ValueError when empty."""
    if not points:
        raise ValueError("a chart needs at least one point")
    return _render(tuple(points))


@functools.lru_cache(maxsize=4096)
def _render(points: tuple[SpcPoint, ...]) -> bytes:
    """Drawn once per distinct chart: a force's chart appears in every digest for its areas
    (13 ms each; 357 digests of a national run share a few hundred charts)."""
    k = SCALE * _SUPERSAMPLE
    image = Image.new("RGB", (WIDTH * k, HEIGHT * k), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    frame = _Frame(points, k)
    _draw_limits(draw, frame, points, k)
    xy = [(frame.x(i), frame.y(p.value)) for i, p in enumerate(points)]
    if len(xy) > 1:
        draw.line(xy, fill=_VALUE_LINE, width=round(1.25 * k), joint="curve")
    for (x, y), point in zip(xy[:-1], points[:-1], strict=True):
        if point.signal != "common_cause":
            _dot(draw, x, y, 1.9 * k, SIGNAL_COLOURS[point.signal])
    x, y = xy[-1]
    _dot(draw, x, y, 4.0 * k, _LATEST_OUTLINE)
    _dot(draw, x, y, 3.2 * k, SIGNAL_COLOURS[points[-1].signal])
    small = image.reduce(_SUPERSAMPLE)
    out = io.BytesIO()
    # zlib level 6: the same size as optimize=True (about 3.9 kB) in a third of the time.
    small.save(out, format="PNG", compress_level=6)
    return out.getvalue()


class _Frame:
    """Maps point index and value to pixel coordinates in the supersampled image."""

    def __init__(self, points: Sequence[SpcPoint], k: int) -> None:
        levels = [p.value for p in points] + [
            v for p in points for v in (p.mean, p.upper, p.lower) if v is not None
        ]
        low, high = min(levels), max(levels)
        if high == low:  # a flat series sits in the middle
            spread = abs(high) * 0.1 or 1.0
            low, high = low - spread, high + spread
        self.low, self.high, self.k, self.n = low, high, k, len(points)

    def x(self, i: int) -> float:
        span = WIDTH - _PAD_LEFT - _PAD_RIGHT
        step = span / (self.n - 1) if self.n > 1 else 0.0
        left = _PAD_LEFT if self.n > 1 else _PAD_LEFT + span
        return (left + i * step) * self.k

    def y(self, value: float) -> float:
        span = HEIGHT - 2 * _PAD_Y
        return (_PAD_Y + (self.high - value) / (self.high - self.low) * span) * self.k


def _draw_limits(
    draw: ImageDraw.ImageDraw, frame: _Frame, points: Sequence[SpcPoint], k: int
) -> None:
    """Each run of points sharing limits gets its mean (solid) and process limits (dashed)."""
    start = 0
    for i in range(1, len(points) + 1):
        if i < len(points) and _limits(points[i]) == _limits(points[start]):
            continue
        mean, upper, lower = _limits(points[start])
        x0, x1 = frame.x(start), frame.x(i - 1)
        if mean is not None:
            draw.line([(x0, frame.y(mean)), (x1, frame.y(mean))], fill=_MEAN_LINE, width=k)
        for limit in (upper, lower):
            if limit is not None:
                _dashed(draw, x0, x1, frame.y(limit), k)
        start = i


def _limits(point: SpcPoint) -> tuple[float | None, float | None, float | None]:
    return point.mean, point.upper, point.lower


def _dashed(draw: ImageDraw.ImageDraw, x0: float, x1: float, y: float, k: int) -> None:
    dash, gap = 3.0 * k, 2.0 * k
    x = x0
    while x < x1:
        draw.line([(x, y), (min(x + dash, x1), y)], fill=_LIMIT_LINE, width=k)
        x += dash + gap


def _dot(
    draw: ImageDraw.ImageDraw, x: float, y: float, r: float, colour: tuple[int, int, int]
) -> None:
    draw.ellipse([(x - r, y - r), (x + r, y + r)], fill=colour)

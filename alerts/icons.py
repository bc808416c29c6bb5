"""Making Data Count's variation and assurance icons, drawn here as small PNGs for the digest.

The designs follow NHS England's icon set (nhsengland/making-data-count ``Icons/*.png``, also in
NHSRplotthedots ``inst/icons/{variation,assurance}/*.svg``): a ringed circle in the meaning's
colour. Variation icons hold a run of five dots whose last two are coloured and moved high or
low, with "H" or "L"; common cause is all grey and zigzag; "neither" (no good direction) is a
purple arrow. Assurance icons hold a grey line of values and a dashed target line: "P" with the
target under the values (pass), "F" with it above (fail), "?" with it through them (hit and
miss). Each icon's alt text says the same in words, so colour is never the only carrier.

Drawn at 4x and reduced (Pillow draws no anti-aliasing), transparent outside the circle, and
saved as a palette PNG of the icon's exact colours: the same icon always gives the same bytes.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont, features

__all__ = ["Icon", "assurance_icon", "variation_icon"]

SCALE = 2
"""PNG pixels per CSS pixel, as for the charts."""
_SUPERSAMPLE = 4

Rgb = tuple[int, int, int]
Rgba = tuple[int, int, int, int]

# The icon set's own colours, read from the PNGs in nhsengland/making-data-count Icons/ and the
# strokes of the NHSRplotthedots SVGs. They are darker than the chart points' (#00b0f0,
# #e46c0a), which keeps the letters legible at 24 px.
_BLUE = (0x00, 0x72, 0xC6)
_ORANGE = (0xFF, 0x66, 0x00)
_PURPLE = (0x80, 0x00, 0xC0)
_RING_GREY = (0xBF, 0xBF, 0xBF)
_MARK_GREY = (0x7F, 0x7F, 0x7F)
_WHITE = (0xFF, 0xFF, 0xFF)

# Geometry as shares of the icon's side. The ring is thicker than MDC's (0.053) so it survives
# being shown at 24 px; the dots' x positions and heights follow the MDC layout.
_RING = 0.085
_RADIUS = 0.5 - 0.01  # one per cent margin keeps the anti-aliased edge inside the image
_DOT = 0.06
_DOTS_X = (0.26, 0.38, 0.5, 0.62, 0.74)
_LETTER = 0.36  # font size; the cap height is about 0.7 of it


@dataclass(frozen=True)
class Icon:
    """One icon: its name (the file and Content-ID), and its meaning in words (alt)."""

    name: str
    alt: str
    width: int = 24
    height: int = 24

    @property
    def cid(self) -> str:
        return f"icon-{self.name}@safer"

    @property
    def filename(self) -> str:
        return f"{self.name}.png"

    @property
    def png(self) -> bytes:
        """The icon as PNG bytes, (width x height) x 2; drawn once per process."""
        return _render(self.name, self.width * SCALE, self.height * SCALE)


_VARIATION_ALT = {
    "common_cause": "Variation: common cause, no significant change",
    "improvement_high": "Variation: special cause improvement, high",
    "improvement_low": "Variation: special cause improvement, low",
    "concern_high": "Variation: special cause concern, high",
    "concern_low": "Variation: special cause concern, low",
    "neither_high": "Variation: special cause, neither improvement nor concern, high",
    "neither_low": "Variation: special cause, neither improvement nor concern, low",
}
# Written so that the part after "Assurance: " also reads as a sentence on its own.
_ASSURANCE_ALT = {
    "consistent_pass": "Assurance: consistently passes the target",
    "consistent_fail": "Assurance: consistently fails the target",
    "hit_and_miss": "Assurance: hit and miss against the target",
}


def variation_icon(variation: str) -> Icon | None:
    """The icon for an SPC variation; None when there is none (not_enough_data, unknown)."""
    alt = _VARIATION_ALT.get(variation)
    return None if alt is None else Icon(_name("variation", variation), alt)


def assurance_icon(assurance: str) -> Icon | None:
    """The icon for an SPC assurance; None when there is none (no_target, not_enough_data)."""
    alt = _ASSURANCE_ALT.get(assurance)
    return None if alt is None else Icon(_name("assurance", assurance), alt)


def _name(kind: str, value: str) -> str:
    return f"{kind}-{value.replace('_', '-')}"


class _Pen:
    """Draws in shares of the icon's side on a supersampled canvas."""

    def __init__(self, draw: ImageDraw.ImageDraw, side: int) -> None:
        self.draw, self.side = draw, side
        self.inks: dict[Rgb, None] = {_WHITE: None}  # every colour used, for the palette

    def ink(self, colour: Rgb) -> Rgb:
        self.inks[colour] = None
        return colour

    def px(self, share: float) -> float:
        return share * self.side

    def ring(self, colour: Rgb) -> None:
        r = self.px(_RADIUS)
        c = self.px(0.5)
        box = [(c - r, c - r), (c + r, c + r)]
        self.draw.ellipse(box, fill=_WHITE, outline=self.ink(colour), width=round(self.px(_RING)))

    def dot(self, x: float, y: float, colour: Rgb) -> None:
        r = self.px(_DOT)
        self.draw.ellipse(
            [(self.px(x) - r, self.px(y) - r), (self.px(x) + r, self.px(y) + r)], self.ink(colour)
        )

    def line(self, xy: list[tuple[float, float]], colour: Rgb, width: float) -> None:
        points = [(self.px(x), self.px(y)) for x, y in xy]
        self.draw.line(points, fill=self.ink(colour), width=round(self.px(width)), joint="curve")

    def dashed(self, x0: float, x1: float, y: float, colour: Rgb) -> None:
        dash, gap = 0.09, 0.045
        x = x0
        while x < x1:
            self.line([(x, y), (min(x + dash, x1), y)], colour, 0.045)
            x += dash + gap

    def letter(self, text: str, x: float, y: float, colour: Rgb) -> None:
        """``text`` centred on (x, y), thickened: the bundled font has no bold."""
        font = _font(self.px(_LETTER))
        self.draw.text(
            (self.px(x), self.px(y)),
            text,
            font=font,
            fill=self.ink(colour),
            anchor="mm",
            stroke_width=round(self.px(0.018)),
            stroke_fill=colour,
        )

    def polygon(self, xy: list[tuple[float, float]], colour: Rgb) -> None:
        self.draw.polygon([(self.px(x), self.px(y)) for x, y in xy], fill=self.ink(colour))


def _run(pen: _Pen, heights: tuple[float, ...], colours: tuple[Rgb, ...]) -> None:
    """Five dots joined by a line, each in its colour."""
    xy = list(zip(_DOTS_X, heights, strict=True))
    pen.line(xy, _MARK_GREY if len(set(colours)) > 1 else colours[0], 0.035)
    for (x, y), colour in zip(xy, colours, strict=True):
        pen.dot(x, y, colour)


def _special(colour: Rgb, high: bool) -> Callable[[_Pen], None]:
    """An improvement or concern icon: three grey dots, then two coloured ones, high or low."""

    def draw(pen: _Pen) -> None:
        pen.ring(colour)
        greys, last = (_MARK_GREY,) * 3, (colour,) * 2
        if high:
            pen.letter("H", 0.4, 0.32, colour)
            _run(pen, (0.62, 0.67, 0.62, 0.46, 0.5), greys + last)
        else:
            pen.letter("L", 0.4, 0.68, colour)
            _run(pen, (0.38, 0.33, 0.38, 0.54, 0.5), greys + last)

    return draw


def _common_cause(pen: _Pen) -> None:
    pen.ring(_RING_GREY)
    _run(pen, (0.52, 0.62, 0.4, 0.6, 0.52), (_MARK_GREY,) * 5)


def _neither(high: bool) -> Callable[[_Pen], None]:
    """A purple arrow pointing up or down to the right, as MDC draws "neither"."""

    def draw(pen: _Pen) -> None:
        pen.ring(_PURPLE)
        pen.polygon(_arrow(high), _PURPLE)

    return draw


def _arrow(high: bool) -> list[tuple[float, float]]:
    """A diagonal arrow through the centre: the shaft's tail, the head's barbs and its tip."""
    ux = math.sqrt(0.5)
    uy = -ux if high else ux  # up the image is towards y = 0
    nx, ny = -uy, ux  # unit normal to the arrow
    tail, tip, head, shaft, barb = -0.25, 0.25, 0.15, 0.055, 0.15

    def at(along: float, across: float) -> tuple[float, float]:
        return 0.5 + along * ux + across * nx, 0.5 + along * uy + across * ny

    neck = tip - head
    return [
        at(tail, shaft),
        at(neck, shaft),
        at(neck, barb),
        at(tip, 0.0),
        at(neck, -barb),
        at(neck, -shaft),
        at(tail, -shaft),
    ]


_WAVE = [(0.2, 0.0), (0.3, -0.05), (0.4, -0.04), (0.5, 0.04), (0.58, 0.03), (0.64, -0.03)]
_WAVE += [(0.68, 0.04), (0.8, 0.02)]


def _assurance(colour: Rgb, letter: str, target: float, values: float) -> Callable[[_Pen], None]:
    """A letter, a grey line of values at height ``values`` and a dashed target at ``target``."""

    def draw(pen: _Pen) -> None:
        pen.ring(colour)
        pen.letter(letter, 0.5, 0.3, colour if colour != _RING_GREY else _MARK_GREY)
        pen.line([(x, values + dy) for x, dy in _WAVE], _MARK_GREY, 0.05)
        half = math.sqrt(max(_RADIUS**2 - (target - 0.5) ** 2, 0.0)) - _RING / 2
        pen.dashed(0.5 - half, 0.5 + half, target, colour)

    return draw


_DESIGNS: dict[str, Callable[[_Pen], None]] = {
    "variation-common-cause": _common_cause,
    "variation-improvement-high": _special(_BLUE, high=True),
    "variation-improvement-low": _special(_BLUE, high=False),
    "variation-concern-high": _special(_ORANGE, high=True),
    "variation-concern-low": _special(_ORANGE, high=False),
    "variation-neither-high": _neither(high=True),
    "variation-neither-low": _neither(high=False),
    "assurance-consistent-pass": _assurance(_BLUE, "P", target=0.74, values=0.6),
    "assurance-consistent-fail": _assurance(_ORANGE, "F", target=0.52, values=0.68),
    "assurance-hit-and-miss": _assurance(_RING_GREY, "?", target=0.64, values=0.64),
}


@functools.lru_cache(maxsize=64)
def _render(name: str, width: int, height: int) -> bytes:
    side = min(width, height) * _SUPERSAMPLE
    canvas = Image.new("RGBA", (width * _SUPERSAMPLE, height * _SUPERSAMPLE), (*_WHITE, 0))
    pen = _Pen(ImageDraw.Draw(canvas), side)
    _DESIGNS[name](pen)
    # reduce() weights colours by alpha, so the ring's soft outer edge keeps the ring's colour.
    image = _to_palette(canvas.reduce(_SUPERSAMPLE), list(pen.inks))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _to_palette(image: Image.Image, inks: list[Rgb]) -> Image.Image:
    """Each pixel snapped to the nearest of: transparent, each ink fading out (the outer edge)
    and each ink blended with white (edges inside). Pillow's RGBA quantisers shift colours and
    left the ring 1/255 transparent; an icon has few enough pixels to do it here, exactly."""
    entries: list[Rgba] = [(0, 0, 0, 0)]
    entries += [(*ink, round(255 * k / 8)) for ink in inks for k in range(1, 8)]
    entries += [(*_blend(ink, k / 8), 255) for ink in inks for k in range(1, 9)]
    entries = [*dict.fromkeys(entries)]
    found: dict[Rgba, int] = {}
    data = bytearray()
    for pixel in image.get_flattened_data():
        assert isinstance(pixel, tuple) and len(pixel) == 4  # an RGBA image
        colour: Rgba = (pixel[0], pixel[1], pixel[2], pixel[3])
        if colour not in found:
            found[colour] = min(range(len(entries)), key=lambda i: _distance(colour, entries[i]))
        data.append(found[colour])
    indexed = Image.frombytes("P", image.size, bytes(data))
    indexed.putpalette([c for entry in entries for c in entry[:3]])
    indexed.info["transparency"] = bytes(entry[3] for entry in entries)
    return indexed


def _distance(a: Rgba, b: Rgba) -> int:
    """How different two colours look on white, plus how different their opacity is (so an
    icon on a tinted background keeps a clean edge)."""
    on_white = sum(
        (_over_white(x, a[3]) - _over_white(y, b[3])) ** 2
        for x, y in zip(a[:3], b[:3], strict=True)
    )
    return on_white + (a[3] - b[3]) ** 2


def _over_white(channel: int, alpha: int) -> int:
    return (channel * alpha + 255 * (255 - alpha)) // 255


def _blend(ink: Rgb, share: float) -> Rgb:
    r, g, b = (round(c * share + 255 * (1 - share)) for c in ink)
    return r, g, b


@functools.cache
def _font(size: float) -> ImageFont.FreeTypeFont:
    if not features.check_module("freetype2"):
        raise RuntimeError("Pillow was built without FreeType; icons need it for their letters")
    font = ImageFont.load_default(size=size)
    assert isinstance(font, ImageFont.FreeTypeFont)  # guaranteed when FreeType is present
    return font

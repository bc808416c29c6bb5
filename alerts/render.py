"""Render a digest to its subject, plain-text and HTML parts and chart images: pure, no I/O.

StrictUndefined turns a template typo into an error rather than a blank in an officer's email.
The HTML refers to each chart as ``cid:`` (the email carries the PNGs as related parts);
:func:`preview_html` swaps those for data: URIs in the copy written for a browser only, as mail
clients block data: images.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from safer.alerts.charts import render_chart
from safer.alerts.model import Digest
from safer.alerts.words import capital

__all__ = ["InlineImage", "Rendered", "preview_html", "render_digest"]


@dataclass(frozen=True)
class InlineImage:
    """A PNG the HTML part shows as ``cid:{cid}``."""

    cid: str
    filename: str
    png: bytes


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    images: tuple[InlineImage, ...] = ()


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("safer.alerts", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["capitalize_first"] = capital
    return env


def render_digest(digest: Digest) -> Rendered:
    """The subject, text and HTML parts of ``digest`` and one PNG per distinct chart and icon."""
    env = _environment()
    images = tuple(InlineImage(c.cid, c.filename, render_chart(c)) for c in digest.charts) + tuple(
        InlineImage(i.cid, i.filename, i.png) for i in digest.icons
    )
    text = env.get_template("digest.txt.j2").render(digest=digest)
    html = env.get_template("digest.html.j2").render(digest=digest)
    return Rendered(digest.subject, text, html, images)


def preview_html(rendered: Rendered) -> str:
    """The HTML part with its images inlined as data: URIs, for opening in a browser."""
    html = rendered.html
    for image in rendered.images:
        data = base64.b64encode(image.png).decode("ascii")
        html = html.replace(f'src="cid:{image.cid}"', f'src="data:image/png;base64,{data}"')
    return html

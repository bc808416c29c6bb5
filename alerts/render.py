"""Render a digest to its subject, plain-text and HTML parts: pure, templates only.

StrictUndefined turns a template typo into an error rather than a blank in an officer's email.
"""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from alerts.digest import Digest

__all__ = ["render_digest"]


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("alerts", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["capitalize_first"] = _capitalize_first
    return env


def _capitalize_first(text: str) -> str:
    """Capitalise only the first letter: ``capitalize`` would lower-case 'Cheshire East'."""
    return text[:1].upper() + text[1:]


def render_digest(digest: Digest) -> tuple[str, str, str]:
    """(subject, text, html) for ``digest``."""
    env = _environment()
    text = env.get_template("digest.txt.j2").render(digest=digest)
    html = env.get_template("digest.html.j2").render(digest=digest)
    return digest.subject, text, html

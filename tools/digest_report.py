"""Measure the digests in an outbox as an officer receives them: length, size, layout, Outlook.

    .venv/bin/python -m tools.digest_report [OUTBOX_DIR] [--json]

``OUTBOX_DIR`` defaults to ``var/demo/outbox`` (``make demo`` fills it). Each ``*.eml`` there is a
digest, except resends (``...-rN.eml``); the ``.html`` beside it, of the same stem, is the same
HTML with its images inlined as ``data:`` URIs, so it opens in a browser. One row per digest:

- ``to``, ``subject``: the message's To and Subject headers;
- ``words``: words a reader meets before the appendix (the element with ``id="appendix"``; all
  words if there is none), laid out 640 px wide;
- ``rows``: elements with a ``data-summary-row`` attribute in the HTML (the summary's rows);
- ``html bytes``: the size of the decoded text/html part of the .eml; Gmail clips a message
  whose HTML passes about 102 KB (marked ``!``);
- ``images``: image/* parts of the .eml;
- ``height``: the document's height at 640 px, in CSS px;
- ``over 375`` / ``over 640``: whether anything runs past the right edge, or clips or scrolls
  sideways, at 375 px (a phone) and 640 px (a desktop reading pane);
- ``off-track seen``: whether the first element with ``data-off-track`` starts on the first
  screen (its top < 800 px, at 640x800), ``none`` if there is no such element;
- ``outlook``: caniemail errors for outlook.windows in the .eml's HTML part (every occurrence).

Layout columns need Chromium (``tools/browser.py``) and the last column the email linter
(``tools/email_lint.py``); without them those columns read ``n/a``. ``--json`` prints the same
as a JSON list, with the overflowing elements and the distinct linter errors spelled out.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from tools import email_lint
from tools.browser import Browser, find_chromium

DEFAULT_OUTBOX = Path("var/demo/outbox")
RESEND = re.compile(r"-r\d+$")
WIDE, NARROW, SCREEN = 640, 375, 800
GMAIL_CLIP = 102 * 1024
LINT_CLIENT = "outlook.windows"
OFF_TRACK = "[data-off-track]"


@dataclass(frozen=True)
class DigestMeasure:
    """One digest as received. Layout fields are None when it was not measured (``measured``
    is False: no Chromium, or no .html beside the .eml); ``lint_errors`` is None when the email
    linter is not installed. ``off_track_top`` is None when nothing has ``data-off-track``."""

    stem: str
    recipient: str
    subject: str
    summary_rows: int
    html_bytes: int
    images: int
    measured: bool
    words_before_appendix: int | None
    height_640: int | None
    overflow_375: tuple[str, ...] | None
    overflow_640: tuple[str, ...] | None
    off_track_top: float | None
    lint_errors: tuple[str, ...] | None

    @property
    def off_track_on_first_screen(self) -> bool | None:
        """True/False for where the first off-track element starts; None if there is none."""
        if self.off_track_top is None:
            return None
        return self.off_track_top < SCREEN


def find_digests(outbox: Path) -> list[Path]:
    """The digests' .eml files in ``outbox``, by name, resends (``-rN.eml``) left out."""
    return sorted(path for path in outbox.glob("*.eml") if not RESEND.search(path.stem))


class _AttributeCounter(HTMLParser):
    def __init__(self, attribute: str) -> None:
        super().__init__(convert_charrefs=True)
        self.attribute = attribute
        self.count = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if any(name == self.attribute for name, _ in attrs):
            self.count += 1

    handle_startendtag = handle_starttag


def count_attribute(html: str, attribute: str) -> int:
    """How many elements of ``html`` carry ``attribute`` (as ``[attribute]`` would match)."""
    counter = _AttributeCounter(attribute.lower())
    counter.feed(html)
    counter.close()
    return counter.count


def _read_eml(path: Path) -> tuple[EmailMessage, str, int]:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("html",))
    if part is None:
        return message, "", 0
    assert isinstance(part, EmailMessage)
    payload = part.get_payload(decode=True)
    size = len(payload) if isinstance(payload, bytes) else 0
    return message, str(part.get_content()), size


def measure_digests(
    outbox: Path, *, browser: bool = True, linter: bool = True
) -> list[DigestMeasure]:
    """Measure every digest in ``outbox``. Chromium and the linter are used when installed
    (and not turned off here); a missing one leaves its fields None."""
    digests = find_digests(outbox)
    lint = linter and email_lint.available() is None
    chromium = Browser() if browser and digests and find_chromium() is not None else None
    try:
        return [_measure_one(eml, chromium, lint) for eml in digests]
    finally:
        if chromium is not None:
            chromium.close()


def _measure_one(eml: Path, chromium: Browser | None, lint: bool) -> DigestMeasure:
    message, html_part, html_bytes = _read_eml(eml)
    html_file = eml.with_suffix(".html")
    page = html_file.read_text(encoding="utf-8") if html_file.is_file() else html_part
    images = sum(1 for part in message.walk() if part.get_content_maintype() == "image")
    words: int | None = None
    height: int | None = None
    off_track: float | None = None
    narrow: tuple[str, ...] | None = None
    wide: tuple[str, ...] | None = None
    measured = chromium is not None and html_file.is_file()
    if chromium is not None and measured:
        at_640 = chromium.measure(html_file, WIDE, SCREEN, (OFF_TRACK,))
        at_375 = chromium.measure(html_file, NARROW, SCREEN)
        words, height, wide = at_640.words_before_appendix, at_640.height, at_640.overflow
        off_track, narrow = at_640.tops[OFF_TRACK], at_375.overflow
    errors: tuple[str, ...] | None = None
    if lint:
        errors = email_lint.lint(html_part, (LINT_CLIENT,)).errors if html_part else ()
    return DigestMeasure(
        stem=eml.stem,
        recipient=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        summary_rows=count_attribute(page, "data-summary-row"),
        html_bytes=html_bytes,
        images=images,
        measured=measured,
        words_before_appendix=words,
        height_640=height,
        overflow_375=narrow,
        overflow_640=wide,
        off_track_top=off_track,
        lint_errors=errors,
    )


def _yes_no(value: tuple[str, ...] | None) -> str:
    if value is None:
        return "n/a"
    return f"yes ({len(value)})" if value else "no"


def _cells(row: DigestMeasure) -> list[str]:
    na = "n/a"
    if not row.measured:
        seen = na
    elif row.off_track_top is None:
        seen = "none"
    else:
        seen = ("yes" if row.off_track_on_first_screen else "no") + f" ({row.off_track_top:.0f})"
    subject = row.subject if len(row.subject) <= 48 else row.subject[:47] + "…"
    return [
        row.stem,
        row.recipient,
        subject,
        na if row.words_before_appendix is None else f"{row.words_before_appendix:,}",
        str(row.summary_rows),
        f"{row.html_bytes:,}" + ("!" if row.html_bytes > GMAIL_CLIP else ""),
        str(row.images),
        na if row.height_640 is None else f"{row.height_640:,}",
        _yes_no(row.overflow_375),
        _yes_no(row.overflow_640),
        seen,
        na if row.lint_errors is None else str(len(row.lint_errors)),
    ]


HEADERS = [
    "digest",
    "to",
    "subject",
    "words",
    "rows",
    "html bytes",
    "images",
    "height",
    "over 375",
    "over 640",
    "off-track seen",
    "outlook",
]
NUMERIC = {"words", "rows", "html bytes", "images", "height", "outlook"}


def table(rows: Sequence[DigestMeasure]) -> str:
    """The rows as a plain text table, numbers right-aligned."""
    grid = [HEADERS, *(_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in grid) for i in range(len(HEADERS))]
    lines = []
    for line in grid:
        cells = [
            cell.rjust(width) if HEADERS[i] in NUMERIC else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def as_json(rows: Sequence[DigestMeasure]) -> list[dict[str, Any]]:
    """The rows as JSON values; ``lint_errors`` counted, with their distinct messages beside."""
    out = []
    for row in rows:
        item = asdict(row)
        for key in ("overflow_375", "overflow_640"):
            item[key] = None if item[key] is None else list(item[key])
        item["off_track_on_first_screen"] = row.off_track_on_first_screen
        errors = row.lint_errors
        item["lint_errors"] = None if errors is None else len(errors)
        item["lint_error_kinds"] = None if errors is None else sorted(set(errors))
        out.append(item)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.digest_report",
        description="Measure the digests in an outbox (see the module's docstring).",
    )
    parser.add_argument("outbox", type=Path, nargs="?", default=DEFAULT_OUTBOX)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if not args.outbox.is_dir():
        print(f"error: no folder {args.outbox} (make demo writes var/demo/outbox)", file=sys.stderr)
        return 2
    rows = measure_digests(args.outbox)
    if not rows:
        print(f"error: no digests (*.eml) in {args.outbox}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(as_json(rows), indent=2, ensure_ascii=False))
        return 0
    print(table(rows))
    notes = []
    if find_chromium() is None:
        notes.append("layout columns n/a: Chromium not found (apt-get install chromium)")
    missing = email_lint.available()
    if missing is not None:
        notes.append(f"outlook n/a: {missing}")
    notes.append(
        f"! = HTML part over Gmail's ~102 KB clip; off-track seen = top < {SCREEN} px at "
        f"{WIDE}x{SCREEN}; over = overflows sideways; outlook = caniemail errors ({LINT_CLIENT})"
    )
    print("\n".join(notes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

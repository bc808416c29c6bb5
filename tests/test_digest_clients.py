"""What officers receive, as their mail clients show it: the demo's digests, measured.

The demo's real runs (April 2025, then January 2026) write the digests once for this module;
each promise the README makes about them is a test here: size under Gmail's clip, nothing cut
off or scrolling sideways on a phone (headless Chromium), no caniemail errors for Outlook on
Windows, the first off-track item on the first screen, the January Halton digest under 400
words before its appendix, and the plain-text part carrying the same facts in the same order.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from html import unescape
from pathlib import Path

import pytest

from demo.__main__ import run_demo
from tools import email_lint
from tools.browser import Browser
from tools.digest_report import count_attribute

GMAIL_CLIP = 100_000
"""Bytes of HTML: Gmail clips a message's HTML part beyond about 102 KB."""


@pytest.fixture(scope="module")
def outbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("demo")
    run_demo(work)
    return work / "outbox"


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    with Browser(chromium) as found:
        yield found


def _messages(outbox: Path) -> dict[str, EmailMessage]:
    """Each digest by '<recipient> <period>', e.g. 'halton 2025/26 Q3'."""
    found = {}
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        who = "halton" if "halton" in str(message["To"]) else "opcc"
        period = re.search(r"\d{4}/\d\d (Q\d)?", str(message["Subject"]))
        assert period is not None
        found[f"{who} {period.group(0).strip()}"] = message
        message["X-Test-Path"] = str(path)
    return found


def _part(message: EmailMessage, kind: str) -> str:
    part = message.get_body(preferencelist=(kind,))
    assert part is not None
    return str(part.get_content())


def test_the_demo_sends_four_digests(outbox: Path) -> None:
    assert sorted(_messages(outbox)) == [
        "halton 2024/25 Q4",
        "halton 2025/26 Q3",
        "opcc 2024/25 Q4",
        "opcc 2025/26 Q3",
    ]


def test_every_html_part_stays_under_gmails_clip(outbox: Path) -> None:
    for name, message in _messages(outbox).items():
        size = len(_part(message, "html").encode("utf-8"))
        assert size < GMAIL_CLIP, f"{name}: HTML part {size:,} bytes"


def test_every_digest_is_marked_automatic_so_auto_replies_stay_away(outbox: Path) -> None:
    for message in _messages(outbox).values():
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["X-Auto-Response-Suppress"] == "All"


def test_nothing_overflows_at_phone_and_mail_client_widths(outbox: Path, browser: Browser) -> None:
    for path in sorted(outbox.glob("*.html")):
        for width in (375, 640):
            found = browser.measure(path, width)
            assert found.scroll_width <= width, f"{path.name} at {width}px: {found.overflow}"
            assert found.overflow == (), f"{path.name} at {width}px"


def test_the_first_off_track_item_is_on_the_first_screen(outbox: Path, browser: Browser) -> None:
    shown = 0
    for path in sorted(outbox.glob("*.html")):
        if "data-off-track" not in path.read_text(encoding="utf-8"):
            continue  # nothing off track in this one (Halton's January digest)
        found = browser.measure(path, 640, 800, ("[data-off-track]",))
        top = found.tops["[data-off-track]"]
        assert top is not None and top < 800, f"{path.name}: first off-track item at {top}"
        shown += 1
    assert shown >= 2, "the demo's April digests each have an off-track item"


def test_the_january_halton_digest_is_read_in_thirty_seconds(
    outbox: Path, browser: Browser
) -> None:
    message = _messages(outbox)["halton 2025/26 Q3"]
    html = Path(message["X-Test-Path"]).with_suffix(".html")
    found = browser.measure(html, 640)
    assert found.words_before_appendix < 400
    assert count_attribute(html.read_text(encoding="utf-8"), "data-summary-row") <= 12


def test_no_caniemail_errors_for_outlook_on_windows(outbox: Path, email_linter: None) -> None:
    for name, message in _messages(outbox).items():
        errors = email_lint.lint(_part(message, "html"), ("outlook.windows",)).errors
        assert errors == (), f"{name}: {errors[:3]}"


def test_movements_are_told_by_their_history_not_their_quarter(outbox: Path) -> None:
    """Halton's ASB per 1,000 fell less than the rest of the force's in 2024/25 Q4: newly off
    track, worded as change against change (never its standing level). The January digest
    tells the 999 recovery, and the lead's puts what needs attention before good news."""
    april = _part(_messages(outbox)["halton 2024/25 Q4"], "plain")
    assert (
        "- NEWLY OFF TRACK: ASB incidents per 1,000 residents, Halton, 2024/25 Q4: fell 35.9% on "
        "the same quarter last year; the rest of the force fell 39.6% — worse than plan, within "
        "the 5-point tolerance" in april
    )
    text = _part(_messages(outbox)["halton 2025/26 Q3"], "plain")
    assert "NEWLY OFF TRACK" not in text
    assert "- BACK ON TRACK: 999 calls answered within 10 seconds, Cheshire, 2025/26 Q3" in text
    opcc = _part(_messages(outbox)["opcc 2025/26 Q3"], "plain")
    moved = re.findall(r"^- ([A-Z ]+):", opcc.split("WHAT MOVED")[1].split("\n\n")[0], re.M)
    good = [n for n, kind in enumerate(moved) if "IMPROVEMENT" in kind or "BACK ON" in kind]
    bad = [n for n, kind in enumerate(moved) if "CONCERN" in kind or "OFF TRACK" in kind]
    assert bad and good and max(bad) < min(good), moved


def test_old_series_are_not_shown_as_current_and_notes_are_for_officers(outbox: Path) -> None:
    for name, message in _messages(outbox).items():
        text = _part(message, "plain")
        body = text.split("ALSO MONITORED")[0]
        assert "2018/19" not in body and "2021/22" not in body.split("DATA NOTES")[0], name
        assert "no data since February 2019" in text, name
        for internal in ("record_no", "Outcome None", "located outside", "cohort basis"):
            assert internal not in body, f"{name}: {internal!r}"


NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")


def test_the_text_part_carries_the_html_parts_facts_in_the_same_order(outbox: Path) -> None:
    for name, message in _messages(outbox).items():
        text, html = _part(message, "plain"), _part(message, "html")
        body = html.split("<body", 1)[1].split(">", 1)[1]
        visible = unescape(re.sub(r"<[^>]+>", " ", body))
        facts, text_facts = NUMBER.findall(visible), NUMBER.findall(text)
        # Every figure the HTML shows is in the text, in the same order (the text adds the
        # SPC icons' words, so it may carry more).
        position = 0
        for n, fact in enumerate(facts):
            assert fact in text_facts[position:], (
                f"{name}: {fact!r} (figure {n} of the HTML part, after "
                f"{facts[max(0, n - 5) : n]}) missing from the text part, or out of order"
            )
            position = text_facts.index(fact, position) + 1


def test_rows_outside_the_force_are_for_the_operator_not_the_officers(outbox: Path) -> None:
    config = outbox.parent / "safer.toml"
    done = subprocess.run(
        [sys.executable, "-m", "safer", "status", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent.parent,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    sources = {s["source"]: s for s in json.loads(done.stdout)["sources"]}
    assert sources["police_uk_street"]["outside_area_rows"] == 161
    for name, message in _messages(outbox).items():
        assert "outside" not in _part(message, "plain"), name

"""The review harness in tools/: layout measured in real headless Chromium, caniemail's verdicts
from the real Node.js linter, and the digest report built on both. No mocks: each test skips
when its tool is missing, and fails instead where SAFER_REQUIRE_BROWSER=1 (CI)."""

from __future__ import annotations

import base64
import http.server
import json
import struct
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from tools import digest_report
from tools.browser import Browser, BrowserError, find_chromium, measure, screenshot
from tools.email_lint import lint

PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf000000030101001817c3a10000000049454e44ae426082"
)


def page(folder: Path, body: str, *, name: str = "page.html", doctype: bool = True) -> Path:
    head = '<meta charset="utf-8"><meta name="viewport" content="width=device-width">'
    text = f"<html><head>{head}</head><body style='margin:0'>{body}</body></html>"
    path = folder / name
    path.write_text(("<!DOCTYPE html>" if doctype else "") + text, encoding="utf-8")
    return path


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Browser]:
    with Browser(chromium) as shared:
        yield shared


WIDE_TABLE = (
    "<h1>Digest</h1><table id='figures' class='data' style='width:900px'>"
    "<tr><td>Burglary</td><td>42</td></tr></table>"
)
FLUID = (
    "<table role='presentation' width='100%' style='max-width:640px'><tr><td>"
    "<p>Burglary rose by 12% in Halton this quarter.</p>"
    "<img src='data:image/png;base64,{png}' style='width:100%;max-width:600px' alt='chart'>"
    "</td></tr></table>"
)


@pytest.mark.parametrize("doctype", [True, False], ids=["standards", "quirks"])
def test_a_wide_table_overflows_a_phone(browser: Browser, tmp_path: Path, doctype: bool) -> None:
    found = browser.measure(page(tmp_path, WIDE_TABLE, doctype=doctype), 375)
    assert found.width == 375  # the width asked for, not headless Chromium's 500 px minimum
    assert found.scroll_width > 375
    assert len(found.overflow) == 1  # the table only, not its cells
    assert found.overflow[0].startswith('table#figures.data "Burglary')


def test_long_unbroken_text_and_sideways_scrollers_are_reported(
    browser: Browser, tmp_path: Path
) -> None:
    body = (
        "<p id='link'>See https://www.example.org/" + "a" * 120 + "</p>"
        "<div id='scroller' style='overflow-x:auto;width:200px'><div style='width:400px'>x</div>"
        "</div>"
    )
    found = browser.measure(page(tmp_path, body), 375)
    assert [item.split(" ")[0] for item in found.overflow] == ["p#link", "div#scroller"]
    assert "text runs to" in found.overflow[0]
    assert "clips 400px into 200px" in found.overflow[1]


@pytest.mark.parametrize("width", [320, 375, 640])
def test_a_fluid_page_fits(browser: Browser, tmp_path: Path, width: int) -> None:
    png = base64.b64encode(PNG_1X1).decode()
    found = browser.measure(page(tmp_path, FLUID.format(png=png)), width)
    assert (found.width, found.scroll_width, found.overflow) == (width, width, ())


def test_words_count_visible_tokens_before_the_appendix(browser: Browser, tmp_path: Path) -> None:
    body = (
        "<p>Hello, world — 3 apples.</p>"
        "<div style='display:none'>hidden words here</div><script>var ignored = 1;</script>"
        "<table><tr><td>Cell one</td></tr></table>"
        "<div><section id='appendix'><h2>Appendix</h2><p>one two</p></section><p>after it</p></div>"
        "<p>tail</p>"
    )
    found = browser.measure(page(tmp_path, body), 640)
    # "—" has no letter or digit: not a word. Hidden text and scripts are not read.
    assert found.words_before_appendix == 6  # Hello, world 3 apples. Cell one
    assert found.words == 6 + 3 + 2 + 1
    without = browser.measure(page(tmp_path, "<p>just these four words</p>"), 640)
    assert without.words == without.words_before_appendix == 4


def test_tops_of_selectors(browser: Browser, tmp_path: Path) -> None:
    body = "<div style='height:500px'></div><p data-off-track style='margin:0'>Off track</p>"
    found = browser.measure(page(tmp_path, body), 640, 800, ("[data-off-track]", "#missing", "div"))
    assert found.tops == {"[data-off-track]": 500.0, "#missing": None, "div": 0.0}
    assert found.height == 800  # the document is shorter than the viewport
    tall = browser.measure(page(tmp_path, "<div style='height:2345px'></div>"), 640)
    assert tall.height == 2345


def test_an_invalid_selector_is_an_error(browser: Browser, tmp_path: Path) -> None:
    with pytest.raises(BrowserError, match="not a valid selector"):
        browser.measure(page(tmp_path, "<p>x</p>"), 640, 800, ("[[",))


def test_screenshots_are_css_pixels_wide(browser: Browser, tmp_path: Path) -> None:
    # Headless Chromium draws at device scale 1 here: one PNG pixel per CSS pixel.
    html = page(tmp_path, "<div style='height:1234px;background:#c00'></div>")
    assert png_size(browser.screenshot(html, tmp_path / "top.png", 375, 600)) == (375, 600)
    assert png_size(browser.screenshot(html, tmp_path / "whole.png", 375)) == (375, 1234)


def test_one_call_functions_start_their_own_browser(chromium: str, tmp_path: Path) -> None:
    html = page(tmp_path, WIDE_TABLE)
    assert measure(html, 375).scroll_width > 375
    assert png_size(screenshot(html, tmp_path / "shot.png", 640)) == (640, 800)


def test_nothing_is_fetched_from_the_network(browser: Browser, tmp_path: Path) -> None:
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            requests.append(self.path)
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            """Quiet: the test reads ``requests``, not the server's log."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        body = f"<img src='{url}/chart.png'><link rel='stylesheet' href='{url}/a.css'><p>x</p>"
        assert browser.measure(page(tmp_path, body), 640).words == 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert requests == []


def test_no_browser_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFER_CHROMIUM", "/nonexistent/chromium")
    assert find_chromium() is None
    with pytest.raises(BrowserError, match="SAFER_CHROMIUM"):
        Browser()


def test_lint_flags_white_space_for_outlook(email_linter: None) -> None:
    html = (
        "<html><body><table><tr><td style='white-space:nowrap'>12.3%</td></tr></table>"
        "</body></html>"
    )
    result = lint(html)
    assert any("`white-space`" in error for error in result.errors), result.errors


def test_lint_passes_a_plain_table_page(email_linter: None) -> None:
    html = (
        "<!DOCTYPE html><html><body><table role='presentation' width='100%' cellpadding='0'>"
        "<tr><td style='padding:8px;font-family:Arial,sans-serif;color:#222'>Burglary: 42</td>"
        "</tr></table></body></html>"
    )
    assert lint(html).errors == ()
    assert lint(html, ("gmail.*", "apple-mail.*")).errors == ()


def test_lint_rejects_an_unknown_client(email_linter: None) -> None:
    with pytest.raises(RuntimeError, match="no email client matches"):
        lint("<p>x</p>", ("nomail.desktop",))


# -- the digest report ---------------------------------------------------------------------------

DIGEST_HTML = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">
<table role="presentation" width="100%"><tr><td>
<h1>Community safety indicators</h1>
<table><tr data-summary-row><td>Burglary</td><td style="white-space:nowrap">on track</td></tr>
<tr data-summary-row><td>ASB</td><td>off track</td></tr>
<tr data-summary-row><td>Vehicle crime</td><td>on track</td></tr></table>
<div style="height:{gap}px"></div>
<p data-off-track>ASB rose 20% against plan.</p>
<img src="{src}" width="100" height="50" alt="chart">
<div id="appendix"><h2>Appendix</h2><p>Method notes that officers rarely read.</p></div>
</td></tr></table></body></html>"""


def write_digest(folder: Path, stem: str, *, gap: int) -> None:
    message = EmailMessage()
    message["From"] = "safer@example.org"
    message["To"] = "Halton CSP <halton@example.org>"
    message["Subject"] = "Community safety indicators — 1 off track"
    message.set_content("Burglary on track. ASB off track.")
    html = DIGEST_HTML.format(gap=gap, src="cid:chart1")
    message.add_alternative(html, subtype="html")
    html_part = message.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(PNG_1X1, "image", "png", cid="<chart1>")
    (folder / f"{stem}.eml").write_bytes(bytes(message))
    src = "data:image/png;base64," + base64.b64encode(PNG_1X1).decode()
    (folder / f"{stem}.html").write_text(DIGEST_HTML.format(gap=gap, src=src), encoding="utf-8")


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    write_digest(tmp_path, "20260115-halton-aaaa", gap=100)
    write_digest(tmp_path, "20260115-lead-bbbb", gap=2000)
    write_digest(tmp_path, "20260115-lead-bbbb-r1", gap=0)  # a resend: not a digest of its own
    return tmp_path


def test_digest_report_reads_the_messages_without_tools(outbox: Path) -> None:
    rows = digest_report.measure_digests(outbox, browser=False, linter=False)
    assert [row.stem for row in rows] == ["20260115-halton-aaaa", "20260115-lead-bbbb"]
    row = rows[0]
    assert row.recipient == "Halton CSP <halton@example.org>"
    assert row.subject == "Community safety indicators — 1 off track"
    assert row.summary_rows == 3
    assert row.images == 1
    html = DIGEST_HTML.format(gap=100, src="cid:chart1")
    assert row.html_bytes == len(html.encode()) + (not html.endswith("\n"))
    assert (row.measured, row.words_before_appendix, row.lint_errors) == (False, None, None)
    assert "n/a" in digest_report.table(rows)


def test_digest_report_measures_layout_and_outlook(
    chromium: str, email_linter: None, outbox: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    near, far = digest_report.measure_digests(outbox)
    assert near.measured and far.measured
    # Community safety indicators / Burglary on track / ASB off track / Vehicle crime on track /
    # ASB rose 20% against plan.
    assert near.words_before_appendix == 3 + 3 + 3 + 4 + 5
    assert near.overflow_375 == near.overflow_640 == ()
    assert near.off_track_on_first_screen is True
    assert far.off_track_on_first_screen is False
    assert far.off_track_top is not None and far.off_track_top > 2000
    assert near.height_640 == 800  # shorter than the screen: the viewport's height
    assert far.height_640 is not None and far.height_640 > far.off_track_top + 100
    assert near.lint_errors is not None and len(near.lint_errors) == 1  # the white-space

    report = digest_report.as_json([near, far])
    assert json.loads(json.dumps(report)) == report
    assert report[0]["lint_errors"] == 1
    assert report[0]["lint_error_kinds"] == ["`white-space` is not supported by `outlook.windows`"]
    assert report[1]["off_track_on_first_screen"] is False

    assert digest_report.main([str(outbox)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["digest", "to", "subject"]
    # The measured tops, as printed (their pixels move with the browser's fonts).
    assert (
        lines[1].startswith("20260115-halton-aaaa")
        and f"yes ({near.off_track_top:.0f})" in lines[1]
    )
    assert lines[2].startswith("20260115-lead-bbbb") and f"no ({far.off_track_top:.0f})" in lines[2]
    assert len(lines) == 4  # a header, two digests (not the resend), and the legend


def test_digest_report_without_digests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert digest_report.main([str(tmp_path)]) == 1
    assert "no digests" in capsys.readouterr().err

"""Measure and screenshot an HTML file in headless Chromium, with nothing but the standard library.

    .venv/bin/python -m tools.browser measure FILE [--width 375] [--height 800] [--selector S ...]
    .venv/bin/python -m tools.browser screenshot FILE OUT.png [--width 640] [--height H]

From Python: ``measure(path, width)`` and ``screenshot(path, out, width)`` start a browser for one
call (about 0.5-1 s); ``with Browser() as browser:`` keeps one for many calls.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: commands on
the child's fd 3, replies on its fd 4, each JSON message ended by a NUL byte), not through
``--window-size`` with ``--dump-dom``/``--screenshot``: headless Chromium (156 here, old and new
headless alike) never lays a page out narrower than 500 CSS px, whatever ``--window-size`` says,
and ``--screenshot`` at 375 px crops a 500 px layout instead of laying the page out at 375. The
viewport is set with ``Emulation.setDeviceMetricsOverride`` (scale 1, desktop mode: a viewport
``<meta>`` is not applied, so the layout width is exactly the width asked for), with scrollbars
hidden, so ``Measure.width`` is the width asked for and a PNG is ``width`` pixels wide.

Chromium is found by ``find_chromium`` (``SAFER_CHROMIUM``, else ``chromium``, ``chromium-browser``
or ``google-chrome`` on PATH) and started with the flags this machine needs: no sandbox (root), no
GPU, no background networking; and each page's http(s) and websocket requests are blocked
(``Network.setBlockedURLs``), so a page shows only what is in the file (``data:`` URIs) or
beside it (``file:``), as a digest must.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
)
TIMEOUT = 60.0
BLOCKED = ["http://*", "https://*", "ws://*", "wss://*", "ftp://*"]
MAX_OVERFLOW = 20

# Runs in the page once it has loaded: waits for its images to decode and its fonts, then
# measures. Word counts follow innerText (what a reader sees); a word is a whitespace-separated
# token holding a letter or a digit.
_MEASURE_JS = r"""
async (args) => {
  const settle = (promise, ms) =>
    Promise.race([promise.catch(() => null), new Promise((done) => setTimeout(done, ms))]);
  await settle(Promise.all(Array.from(document.images, (img) => img.decode().catch(() => null))),
               5000);
  if (document.fonts) await settle(document.fonts.ready, 2000);
  const root = document.documentElement;
  const body = document.body || root;
  // The scrolling element is <html> in standards mode and <body> in quirks mode (no doctype,
  // as many emails are); its clientWidth is the viewport's width either way.
  const scroller = document.scrollingElement || root;
  const viewport = scroller.clientWidth;
  const countWords = (text) =>
    (text || "").split(/\s+/).filter((word) => /[\p{L}\p{N}]/u.test(word)).length;
  const describe = (el) => {
    let name = el.tagName.toLowerCase();
    if (el.id) name += "#" + el.id;
    const classes = typeof el.className === "string" ? el.className.split(/\s+/) : [];
    for (const cls of classes.filter(Boolean).slice(0, 2)) name += "." + cls;
    const text = (el.innerText || el.textContent || "").replace(/\s+/g, " ").trim().slice(0, 40);
    return text ? `${name} "${text}"` : name;
  };
  // Offenders: elements whose box passes the viewport's right edge, elements that clip or
  // scroll their content sideways, and the parents of text that runs past the right edge (a
  // long URL in a box that fits). Only the outermost are kept, in document order.
  const found = new Map();
  const within = (node) => {
    for (let up = node.parentElement; up; up = up.parentElement) if (found.has(up)) return true;
    return false;
  };
  for (const el of body.querySelectorAll("*")) {
    if (within(el)) continue;
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 && rect.height === 0) continue;
    const right = rect.right + window.scrollX;
    if (right > viewport + 1) {
      found.set(el, `right edge at ${Math.round(right)}px`);
    } else if (getComputedStyle(el).overflowX !== "visible"
               && el.scrollWidth > el.clientWidth + 1) {
      found.set(el, `clips ${el.scrollWidth}px into ${el.clientWidth}px`);
    }
  }
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let text = walker.nextNode(); text; text = walker.nextNode()) {
    const parent = text.parentElement;
    if (!parent || !text.data.trim() || found.has(parent) || within(text)) continue;
    range.selectNodeContents(text);
    const rect = range.getBoundingClientRect();
    const right = rect.right + window.scrollX;
    if (rect.width > 0 && right > viewport + 1) {
      found.set(parent, `text runs to ${Math.round(right)}px`);
    }
  }
  const overflow = [...found]
    .filter(([el]) => !within(el))
    .sort(([a], [b]) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1))
    .slice(0, args.maxOverflow)
    .map(([el, why]) => `${describe(el)}: ${why}`);
  const tops = {};
  for (const selector of args.selectors) {
    const el = document.querySelector(selector);
    tops[selector] = el ? el.getBoundingClientRect().top + window.scrollY : null;
  }
  const result = {
    width: viewport,
    scroll_width: scroller.scrollWidth,
    height: scroller.scrollHeight,
    overflow,
    words: countWords(body.innerText),
    words_before_appendix: null,
    tops,
  };
  // Words before the appendix: hide it and everything after it, read innerText, put it back.
  const appendix = document.getElementById("appendix");
  if (appendix) {
    const undo = [];
    const hide = (node) => {
      if (node.nodeType === Node.ELEMENT_NODE && node.style) {
        const value = node.style.getPropertyValue("display");
        const priority = node.style.getPropertyPriority("display");
        node.style.setProperty("display", "none", "important");
        undo.push(() => node.style.setProperty("display", value, priority));
      } else if (node.nodeType === Node.TEXT_NODE) {
        const data = node.data;
        node.data = "";
        undo.push(() => { node.data = data; });
      }
    };
    hide(appendix);
    for (let node = appendix; node && node !== body && node !== root; node = node.parentNode) {
      for (let next = node.nextSibling; next; next = next.nextSibling) hide(next);
    }
    result.words_before_appendix = countWords(body.innerText);
    undo.reverse().forEach((restore) => restore());
  } else {
    result.words_before_appendix = result.words;
  }
  return result;
}
"""


# The DevTools pipe is the browser's fds 3 (commands) and 4 (replies). subprocess passes
# descriptors on under their own numbers, so this small Python program moves the two pipe ends
# there and becomes Chromium (no preexec_fn, which is unsafe with threads; no /bin/sh, whose
# dash cannot redirect descriptors above 9).
_TRAMPOLINE = """
import fcntl, os, sys
ends = [fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3]]
for fd in sys.argv[1:3]:
    os.close(int(fd))
os.dup2(ends[0], 3)
os.dup2(ends[1], 4)
os.close(ends[0])
os.close(ends[1])
os.execv(sys.argv[3], sys.argv[3:])
"""


class BrowserError(RuntimeError):
    """Chromium could not be found, did not start, or did not answer in time."""


@dataclass(frozen=True)
class Measure:
    """What a reader's viewport of one width sees of a page (all lengths in CSS px).

    ``width`` is the viewport width the page was laid out at (the scrolling element's
    clientWidth: ``document.documentElement`` in standards mode, ``body`` in quirks mode);
    ``scroll_width`` its scrollWidth, more than ``width`` when the page scrolls sideways;
    ``height`` the document's full height (scrollHeight: never less than the viewport's height).
    ``overflow`` describes the outermost elements (at most 20) whose right edge passes the
    viewport by more than 1 px, or that clip or scroll their content sideways (overflow-x not
    visible and scrollWidth > clientWidth): tag#id.class "first 40 characters": why.
    ``words`` counts the words of ``document.body.innerText`` (whitespace-separated tokens with a
    letter or digit); ``words_before_appendix`` those before the element with id="appendix" (all
    of them if there is none). ``tops`` maps each selector asked for to the top of its first
    match, from the document's top, or None when nothing matches.
    """

    width: int
    scroll_width: int
    height: int
    overflow: tuple[str, ...]
    words: int
    words_before_appendix: int
    tops: dict[str, float | None]


def find_chromium() -> str | None:
    """The Chromium to run: ``SAFER_CHROMIUM`` (a path or a command) if set, else the first of
    chromium, chromium-browser and google-chrome on PATH; None if there is none."""
    override = os.environ.get("SAFER_CHROMIUM")
    if override:
        return shutil.which(override)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """One headless Chromium, driven over a DevTools pipe; a context manager.

    Each ``measure``/``screenshot`` opens the file in a new tab of its own, closed afterwards.
    ``timeout`` bounds each call (start-up included); a call that runs past it raises
    BrowserError with the tail of Chromium's stderr.
    """

    def __init__(self, executable: str | None = None, timeout: float = TIMEOUT) -> None:
        found = executable or find_chromium()
        if found is None:
            hint = f" (SAFER_CHROMIUM={os.environ['SAFER_CHROMIUM']!r} is not a program)"
            raise BrowserError(
                "Chromium not found"
                + (hint if os.environ.get("SAFER_CHROMIUM") else "")
                + ": install Debian's chromium (apt-get install chromium) or set SAFER_CHROMIUM"
            )
        self.executable = found
        self.timeout = timeout
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self._closed = False
        self._workdir = Path(tempfile.mkdtemp(prefix="safer-chromium-"))
        self._stderr = (self._workdir / "stderr.log").open("wb")
        to_child_read, self._to_child = os.pipe()
        self._from_child, from_child_write = os.pipe()
        args = [
            *FLAGS,
            "--remote-debugging-pipe",
            f"--user-data-dir={self._workdir / 'profile'}",
            "--window-size=1280,800",
            "about:blank",
        ]
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-S",
                    "-c",
                    _TRAMPOLINE,
                    str(to_child_read),
                    str(from_child_write),
                    self.executable,
                    *args,
                ],
                stdin=subprocess.DEVNULL,
                stdout=self._stderr,
                stderr=self._stderr,
                pass_fds=(to_child_read, from_child_write),
                start_new_session=True,
            )
        except OSError as error:
            self._cleanup()
            raise BrowserError(f"could not start {self.executable}: {error}") from error
        finally:
            os.close(to_child_read)
            os.close(from_child_write)

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    # -- the two things it does ---------------------------------------------------------------

    def measure(
        self, html: Path, width: int, height: int = 800, selectors: Sequence[str] = ()
    ) -> Measure:
        """Lay ``html`` out in a ``width`` x ``height`` viewport and measure it (see Measure)."""
        deadline = time.monotonic() + self.timeout
        with self._page(html, width, height, deadline) as session:
            raw = self._evaluate(session, list(selectors), deadline)
        tops = raw["tops"]
        return Measure(
            width=int(raw["width"]),
            scroll_width=int(raw["scroll_width"]),
            height=int(raw["height"]),
            overflow=tuple(str(item) for item in raw["overflow"]),
            words=int(raw["words"]),
            words_before_appendix=int(raw["words_before_appendix"]),
            tops={s: None if tops[s] is None else float(tops[s]) for s in selectors},
        )

    def screenshot(self, html: Path, out: Path, width: int, height: int | None = None) -> Path:
        """Write a PNG of ``html`` laid out ``width`` CSS px wide (at scale 1, so ``width``
        pixels): ``height`` px of it from the top, or the whole document when None."""
        deadline = time.monotonic() + self.timeout
        with self._page(html, width, height or 800, deadline) as session:
            if height is None:
                height = int(self._evaluate(session, [], deadline)["height"])
            reply = self._call(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
                },
                deadline,
                session,
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(reply["data"]))
        return out

    def close(self) -> None:
        """Close the browser (politely, then by its process group) and remove its profile."""
        if self._closed:
            return
        self._closed = True
        if self._process.poll() is None:
            with contextlib.suppress(BrowserError, OSError):
                self._send("Browser.close", {}, None)
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                # Not yet reaped, so its process group (its own session: the renderers and
                # helpers too) is still this browser's to end.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=5)
        self._cleanup()

    # -- one tab ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _page(self, html: Path, width: int, height: int, deadline: float) -> Iterator[str]:
        path = Path(html).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        if width <= 0 or height <= 0:
            raise ValueError(f"viewport {width}x{height}: both must be positive")
        target = self._call("Target.createTarget", {"url": "about:blank"}, deadline)["targetId"]
        try:
            attached = self._call(
                "Target.attachToTarget", {"targetId": target, "flatten": True}, deadline
            )
            session = str(attached["sessionId"])
            metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
            self._call("Emulation.setDeviceMetricsOverride", metrics, deadline, session)
            self._call("Emulation.setScrollbarsHidden", {"hidden": True}, deadline, session)
            # Nothing leaves the machine: a digest must render from the file alone.
            self._call("Network.enable", {}, deadline, session)
            self._call("Network.setBlockedURLs", {"urls": BLOCKED}, deadline, session)
            self._call("Page.enable", {}, deadline, session)
            self._events.clear()
            navigated = self._call("Page.navigate", {"url": path.as_uri()}, deadline, session)
            if navigated.get("errorText"):
                raise BrowserError(f"could not open {path}: {navigated['errorText']}")
            self._wait_event("Page.loadEventFired", session, deadline)
            yield session
        finally:
            # A page that ran out of time still gets a few seconds to close.
            if self._process.poll() is None:
                with contextlib.suppress(BrowserError):
                    closing = max(deadline, time.monotonic() + 5)
                    self._call("Target.closeTarget", {"targetId": target}, closing)

    def _evaluate(self, session: str, selectors: list[str], deadline: float) -> dict[str, Any]:
        args = json.dumps({"selectors": selectors, "maxOverflow": MAX_OVERFLOW})
        reply = self._call(
            "Runtime.evaluate",
            {
                "expression": f"({_MEASURE_JS})({args})",
                "awaitPromise": True,
                "returnByValue": True,
            },
            deadline,
            session,
        )
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            message = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"measuring failed in the page: {message}")
        value: dict[str, Any] = reply["result"]["value"]
        return value

    # -- the DevTools pipe -----------------------------------------------------------------------

    def _send(self, method: str, params: dict[str, Any], session: str | None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._to_child, data) :]
        except OSError as error:
            raise self._failure(f"Chromium stopped listening ({error})") from error
        return self._next_id

    def _call(
        self, method: str, params: dict[str, Any], deadline: float, session: str | None = None
    ) -> dict[str, Any]:
        wanted = self._send(method, params, session)
        while True:
            message = self._receive(deadline, f"an answer to {method}")
            if message.get("id") == wanted:
                if "error" in message:
                    raise BrowserError(f"{method} failed: {message['error'].get('message')}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self._events.append(message)

    def _wait_event(self, method: str, session: str, deadline: float) -> dict[str, Any]:
        while True:
            for event in self._events:
                if event["method"] == method and event.get("sessionId") == session:
                    self._events.remove(event)
                    return event
            message = self._receive(deadline, method)
            if "method" in message:
                self._events.append(message)

    def _receive(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._failure(f"no {waiting_for} within {self.timeout:g} s")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                code = self._process.poll()
                raise self._failure(
                    f"Chromium exited (code {code}) while waiting for {waiting_for}"
                )
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def _failure(self, what: str) -> BrowserError:
        self._stderr.flush()
        try:
            lines = (self._workdir / "stderr.log").read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        # D-Bus complaints and the Debian wrapper's shell warning come with every start.
        lines = [line for line in lines if "dbus" not in line and "unexpected operator" not in line]
        tail = "\n".join(lines[-15:]) or "(nothing)"
        return BrowserError(f"{what}: {self.executable}\nChromium's stderr, last lines:\n{tail}")

    def _cleanup(self) -> None:
        for fd in (self._to_child, self._from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._stderr.close()
        shutil.rmtree(self._workdir, ignore_errors=True)


def measure(html: Path, width: int, height: int = 800, selectors: Sequence[str] = ()) -> Measure:
    """Measure ``html`` in a ``width`` x ``height`` viewport, in a browser of its own."""
    with Browser() as browser:
        return browser.measure(html, width, height, selectors)


def screenshot(html: Path, out: Path, width: int, height: int | None = None) -> Path:
    """A PNG of ``html`` at ``width`` CSS px (= pixels): the whole page, or ``height`` px of it."""
    with Browser() as browser:
        return browser.screenshot(html, out, width, height)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.browser", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    measuring = commands.add_parser("measure", help="print a Measure as JSON")
    measuring.add_argument("html", type=Path)
    measuring.add_argument("--width", type=int, default=375)
    measuring.add_argument("--height", type=int, default=800)
    measuring.add_argument("--selector", action="append", default=[], dest="selectors")
    shooting = commands.add_parser("screenshot", help="write a PNG")
    shooting.add_argument("html", type=Path)
    shooting.add_argument("out", type=Path, nargs="?")
    shooting.add_argument("--width", type=int, default=640)
    shooting.add_argument("--height", type=int, default=None, help="default: the whole page")
    args = parser.parse_args(argv)
    try:
        if args.command == "measure":
            found = measure(args.html, args.width, args.height, args.selectors)
            print(json.dumps(asdict(found), indent=2))
        else:
            out = args.out or args.html.with_suffix(".png")
            print(f"screenshot: {screenshot(args.html, out, args.width, args.height)}")
    except (BrowserError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

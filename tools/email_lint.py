"""Check an email's HTML against caniemail.com's support data (errors and warnings per client).

    .venv/bin/python -m tools.email_lint FILE.html [CLIENT_GLOB ...]

Runs ``tools/email_lint/lint.mjs`` with Node.js: it feeds the HTML to ``doIUseEmail`` from
``@jsx-email/doiuse-email`` (pinned in ``tools/email_lint/package.json``, locked in its
``package-lock.json``), which reads the inline styles, ``<style>`` sheets and elements against
caniemail's data. Clients are the package's names or globs over them: ``outlook.windows`` (the
default: Outlook 2007-2019 and 365 on Windows, Word's renderer), ``gmail.*``, ``*``.

An error is a feature the client does not support (for outlook.windows, among others:
``white-space``, ``@media``, ``border-radius``, ``overflow``, ``float``, ``opacity``,
``box-sizing``, ``border-spacing``, ``table-layout``, ``overflow-wrap``, ``<abbr>``); a warning
is partial support. ``make test`` installs the package (``npm ci --prefix tools/email_lint``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent / "email_lint"
SCRIPT = HERE / "lint.mjs"
PACKAGE = HERE / "node_modules" / "@jsx-email" / "doiuse-email" / "package.json"
INSTALL = "run `make test` (it installs the linter) or `npm ci --prefix tools/email_lint`"
TIMEOUT = 60.0


class LinterMissing(RuntimeError):
    """Node.js or the linter's packages are not installed."""


@dataclass(frozen=True)
class LintResult:
    """caniemail's verdicts: ``errors`` for unsupported features, ``warnings`` for partial."""

    errors: tuple[str, ...]
    warnings: tuple[str, ...]


def find_node() -> str | None:
    return shutil.which("node")


def available() -> str | None:
    """None when the linter can run; otherwise why not, with the fix."""
    if find_node() is None:
        return f"Node.js (node) is not on PATH: install Node.js 18 or newer, then {INSTALL}"
    if not PACKAGE.is_file():
        return f"the email linter's packages are not installed: {INSTALL}"
    return None


def lint(html: str, clients: Sequence[str] = ("outlook.windows",)) -> LintResult:
    """Lint ``html`` for ``clients`` (names or globs); raise LinterMissing if it can't run."""
    missing = available()
    if missing is not None:
        raise LinterMissing(missing)
    node = find_node()
    assert node is not None
    try:
        done = subprocess.run(
            [node, str(SCRIPT), *clients],
            input=html.encode("utf-8"),
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise RuntimeError(f"the email linter took more than {TIMEOUT:g} s") from error
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"the email linter failed (exit {done.returncode}): {stderr[-2000:]}")
    report = json.loads(done.stdout)
    return LintResult(
        errors=tuple(str(item) for item in report["errors"]),
        warnings=tuple(str(item) for item in report["warnings"]),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    html = Path(args[0]).read_text(encoding="utf-8")
    try:
        result = lint(html, args[1:] or ("outlook.windows",))
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    # The linter reports every occurrence: one line per message, with its count.
    for kind, lines in (("error", result.errors), ("warning", result.warnings)):
        for line, count in Counter(lines).most_common():
            print(f"{kind}: {line}" + (f" (x{count})" if count > 1 else ""))
    print(f"{len(result.errors)} errors, {len(result.warnings)} warnings")
    return 1 if result.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/bin/sh
# Screenshot a rendered digest in headless Chromium: the whole page laid out 700 px wide (the
# width Outlook and Gmail give it), or WIDTH px (WIDTH=375 for a phone).
#   tools/screenshot.sh var/demo/outbox/<digest>.html [out.png]
# Needs Debian's chromium (apt-get install chromium); tools/browser.py drives it with nothing
# but the file itself (no network) and lays the page out at exactly that width.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
python=$root/.venv/bin/python
[ -x "$python" ] || python=python3
html=$(realpath "$1")
out=$(realpath -m "${2:-${1%.html}.png}")
cd "$root"
exec "$python" -m tools.browser screenshot "$html" "$out" --width "${WIDTH:-700}"

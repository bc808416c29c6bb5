#!/bin/sh
# Screenshot a rendered digest in headless Chromium, at the width Outlook and Gmail give it.
#   tools/screenshot.sh var/demo/outbox/<digest>.html [out.png]
# Needs Debian's chromium (apt-get install chromium). The flags keep it off the network: the
# digest must render with nothing but the file itself.
set -eu
html=$(realpath "$1")
out=${2:-${1%.html}.png}
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size=700,3200 \
  --screenshot="$out" "file://$html" 2>/dev/null
echo "screenshot: $out"

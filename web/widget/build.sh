#!/bin/sh
# Bundle the widget and JsSIP into web/static/tugi-widget.js (one IIFE, no module loader needed
# on the shop's page) and copy the licences of everything bundled into web/static/LICENSES/.
#
#   cd web/widget && npm ci && sh build.sh
#
# The built file is committed, so machines that only run Python never need node or npm.
set -eu
cd "$(dirname "$0")"
STATIC=../static
if [ ! -x node_modules/.bin/esbuild ]; then
    echo "build.sh: node_modules is missing; run 'npm ci' in web/widget first" >&2
    exit 1
fi
mkdir -p "$STATIC/LICENSES"
node_modules/.bin/esbuild widget.js \
    --bundle --format=iife --global-name=TugiWidget --platform=browser --target=es2019 \
    --minify --legal-comments=none --charset=utf8 \
    --banner:js="/* Tugi widget (AGPL-3.0-or-later), bundled with JsSIP $(node -p 'require("jssip/package.json").version') (MIT) and its dependencies debug, ms, events, sdp-transform (MIT); licences in LICENSES/. Source: web/widget/widget.js */" \
    --outfile="$STATIC/tugi-widget.js"
cp node_modules/jssip/LICENSE.md "$STATIC/LICENSES/JsSIP.txt"
cp node_modules/debug/LICENSE "$STATIC/LICENSES/debug.txt"
cp node_modules/ms/license.md "$STATIC/LICENSES/ms.txt"
cp node_modules/events/LICENSE "$STATIC/LICENSES/events.txt"
cp node_modules/sdp-transform/LICENSE "$STATIC/LICENSES/sdp-transform.txt"
echo "built $STATIC/tugi-widget.js ($(wc -c < "$STATIC/tugi-widget.js") bytes)"

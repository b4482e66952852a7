#!/bin/sh
# The dashboard in a real browser (registered in ctest as server_e2e_browser).
#   run.sh VIGIL_BINARY SOURCE_DIR WORK_DIR
# Skips (exit 77) only when node or chromium is missing; fails when playwright-core is not
# installed (install it with: npm ci --prefix tests/server/e2e).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null 2>&1; then
  echo "SKIP: node is not installed (apt-get install nodejs)"; exit 77
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "SKIP: /usr/bin/chromium is not installed (apt-get install chromium)"; exit 77
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "FAIL: playwright-core is missing; run: npm ci --prefix $here"; exit 1
fi
exec node "$here/dashboard.test.mjs" "$@"

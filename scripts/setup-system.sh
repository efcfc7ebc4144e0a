#!/usr/bin/env bash
# Installs the Debian packages the test suite needs beyond Node.js: the PostgreSQL client tools used
# by CI, Chromium for the browser test of the archive's index.html (test/archive/index-html.test.ts),
# a Chinese font so the page's Simplified Chinese part can be looked at in its screenshots, and Info-ZIP's zip and unzip, which bench/archive.ts compares archiver with (and checks its output).
# Safe to run repeatedly; skips what is already present.
set -euo pipefail
need=()
command -v pg_isready >/dev/null 2>&1 || need+=(postgresql-client)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] && fc-list :lang=zh | grep -q . || need+=(fonts-noto-cjk)
command -v zip >/dev/null 2>&1 || need+=(zip)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "run as root to install: ${need[*]}" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

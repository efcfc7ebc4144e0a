#!/usr/bin/env bash
# Installs the Debian packages the test suite needs beyond Node.js (none yet beyond the
# PostgreSQL client tools used by CI). Safe to run repeatedly; skips what is already present.
set -euo pipefail
need=()
command -v pg_isready >/dev/null 2>&1 || need+=(postgresql-client)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "run as root to install: ${need[*]}" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

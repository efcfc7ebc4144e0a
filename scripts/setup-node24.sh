#!/usr/bin/env bash
# Installs Node.js 24 (LTS) from the npm registry's `node` package into .tools/node24, outside the
# project's dependencies, and prints the directory to put first on PATH for a run on Node 24.
# Safe to run repeatedly; reinstalls only when the version differs.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${NODE24_VERSION:-24.21.0}"
prefix=.tools/node24
bin="$prefix/node_modules/node/bin"
if [ ! -x "$bin/node" ] || [ "$("$bin/node" --version 2>/dev/null)" != "v$version" ]; then
  rm -rf "$prefix"
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund "node@$version" >&2
fi
echo "$(pwd)/$bin"

#!/usr/bin/env bash
# The whole issue-17 table: builds the single executable, then bench/all.ts measures hactl,
# Patroni 3.0.2 and Patroni 4.0.x side by side (see bench/README.md). Needs root (PostgreSQL runs
# as postgres), etcd, PostgreSQL 15, patroni, scripts/patroni4.sh, hyperfine, vip-manager.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
[ "${SKIP_BUILD:-}" = 1 ] || npm run build >/dev/null
HACTL_TEST_BIN=dist/hactl exec node --import tsx bench/all.ts

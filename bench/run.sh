#!/usr/bin/env bash
# The whole issue-17 table: builds the single executable, then bench/all.ts measures hactl,
# Patroni 3.0.2 and Patroni 4.0.x side by side (see bench/README.md). Needs root (PostgreSQL runs
# as postgres), etcd, PostgreSQL 15, patroni, scripts/patroni4.sh, hyperfine, vip-manager.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
[ "${SKIP_BUILD:-}" = 1 ] || npm run build >/dev/null
# A file just written sits whole in the page cache, and agents started from it then map far more
# of the 110 MB executable (RSS 74 against 55 MB) and used twice the idle CPU (0.255 against
# 0.110 s/min, bench/README.md) of agents started from one whose cache holds only what runs, as
# on a host that installed it from a package. Drop the file's cached pages first.
dd if=dist/hactl iflag=nocache count=0 status=none
HACTL_TEST_BIN=dist/hactl exec node --import tsx bench/all.ts
